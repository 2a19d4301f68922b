package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// vault keeps the application's own credentials (the system users'
// passwords, the client relation users' passwords), one document per
// label. On a Juju with secrets (3.0.3+) a document is an
// application-owned secret: the leader reads it by label, the other units
// by the id the leader shares in the peer application databag. On Juju
// 2.9, which has no secrets, it is a JSON value in the peer application
// databag, which only this application's units and the controller read
// (what charms did before secrets).
//
// The leader writes; every unit reads.
type vault struct {
	m       *model.Model
	leader  bool
	secrets bool
	// peers is the peer relation (nil before Juju creates it) and
	// peerApp its application databag as read by the snapshot.
	peers   *model.Relation
	peerApp map[string]string
}

// vaultDoc names one document: its secret label and the peer app
// databag key that shares the secret's id (or, without secrets, holds
// the document itself).
type vaultDoc struct {
	label string
	idKey string
	// description is the secret's description.
	description string
}

var (
	systemUsersDoc = vaultDoc{label: SecretLabel, idKey: secretIDKey,
		description: "PostgreSQL system users (operator, replication, rewind, Patroni API, etcd)"}
	clientUsersDoc = vaultDoc{label: ClientSecretLabel, idKey: clientSecretIDKey,
		description: "PostgreSQL client relation users' passwords"}
)

// errNoPeerRelation: without secrets the vault lives in the peer
// relation, which Juju creates after install.
var errNoPeerRelation = errors.New("the peer relation does not exist yet")

// ready says whether the vault can be written now.
func (v vault) ready() bool { return v.secrets || v.peers != nil }

// shared says whether other units can find the document: its id (or the
// document itself) is in the peer application databag.
func (v vault) shared(d vaultDoc) bool { return v.peerApp[d.idKey] != "" }

// read returns a document; nil when it does not exist yet (or, on a
// non-leader, is not shared yet).
func (v vault) read(ctx context.Context, d vaultDoc) (map[string]string, error) {
	if !v.secrets {
		raw := v.peerApp[d.idKey]
		if raw == "" {
			return nil, nil
		}
		var content map[string]string
		if err := json.Unmarshal([]byte(raw), &content); err != nil {
			return nil, fmt.Errorf("reading %s from the peer relation: %w", d.label, err)
		}
		v.m.HideSecretContent(content)
		return content, nil
	}
	var content map[string]string
	var err error
	if v.leader {
		content, err = v.m.GetSecret(ctx, "", juju.SecretGetOptions{Label: d.label})
	} else {
		id := v.peerApp[d.idKey]
		if id == "" {
			return nil, nil
		}
		content, err = v.m.GetSecret(ctx, id, juju.SecretGetOptions{Label: d.label, Refresh: true})
	}
	if errors.Is(err, juju.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.label, err)
	}
	if v.leader && !v.shared(d) && v.peers != nil {
		// Created before the peer relation existed (install): share
		// the id now, or the other units wait for it forever.
		if err := v.share(ctx, d); err != nil {
			return nil, err
		}
	}
	return content, nil
}

// share writes the secret's id in the peer application databag.
func (v vault) share(ctx context.Context, d vaultDoc) error {
	ids, err := v.m.Backend().SecretInfoGet(ctx, "", d.label)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.label, err)
	}
	for id := range ids {
		if err := v.peers.SetLocalAppData(ctx, map[string]string{d.idKey: id}); err != nil {
			return fmt.Errorf("sharing %s: %w", d.label, err)
		}
		v.peerApp[d.idKey] = id
	}
	return nil
}

// write stores a document (leader): a new secret, a new revision of it,
// or the peer databag value. An empty content removes the document.
func (v vault) write(ctx context.Context, d vaultDoc, content map[string]string) error {
	if !v.secrets {
		if v.peers == nil {
			return fmt.Errorf("storing %s: %w", d.label, errNoPeerRelation)
		}
		value := ""
		if len(content) > 0 {
			b, err := json.Marshal(content)
			if err != nil {
				return err
			}
			value = string(b)
		}
		v.m.HideSecretContent(content)
		if err := v.peers.SetLocalAppData(ctx, map[string]string{d.idKey: value}); err != nil {
			return fmt.Errorf("storing %s in the peer relation: %w", d.label, err)
		}
		if v.peerApp != nil {
			v.peerApp[d.idKey] = value
		}
		return nil
	}
	ids, err := v.m.Backend().SecretInfoGet(ctx, "", d.label)
	if err != nil && !errors.Is(err, juju.ErrNotFound) {
		return fmt.Errorf("reading %s: %w", d.label, err)
	}
	for id := range ids {
		if len(content) == 0 {
			if err := v.m.Backend().SecretRemove(ctx, id, 0); err != nil {
				return err
			}
			return v.setShared(ctx, d, "")
		}
		return v.m.SetSecret(ctx, id, content, juju.SecretSetOptions{})
	}
	if len(content) == 0 {
		return nil
	}
	id, err := v.m.AddSecret(ctx, maps.Clone(content), juju.SecretAddOptions{Label: d.label,
		Owner: juju.SecretOwnerApplication, Description: d.description})
	if err != nil {
		return fmt.Errorf("creating %s: %w", d.label, err)
	}
	return v.setShared(ctx, d, id)
}

// setShared writes the id key when the peer relation exists; read
// shares it later otherwise.
func (v vault) setShared(ctx context.Context, d vaultDoc, id string) error {
	if v.peers == nil {
		return nil
	}
	if err := v.peers.SetLocalAppData(ctx, map[string]string{d.idKey: id}); err != nil {
		return fmt.Errorf("sharing %s: %w", d.label, err)
	}
	if v.peerApp != nil {
		v.peerApp[d.idKey] = id
	}
	return nil
}

// newVault builds the vault of a hook: it reads the peer relation and its
// application databag itself (actions have no snapshot).
func newVault(ctx context.Context, h *juju.Hook, m *model.Model) (vault, error) {
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return vault{}, err
	}
	v := vault{m: m, leader: leader, secrets: juju.HasSecrets(h.Env.Version), peerApp: map[string]string{}}
	if v.peers, err = m.PeerRelation(ctx, PeerEndpoint); err != nil {
		return vault{}, err
	}
	if v.peers != nil {
		bag, err := v.peers.LocalAppData(ctx)
		if err != nil {
			return vault{}, err
		}
		v.peerApp = bag.Map()
	}
	return v, nil
}

// secretRemove handles secret-remove (contract §3.10): no unit tracks
// that revision of a secret this application owns any more (after a
// password rotation), so the owner deletes it; Juju would keep it
// forever otherwise.
func (c *Charm) secretRemove(ctx context.Context, h *juju.Hook) error {
	rev, err := strconv.Atoi(h.Env.SecretRevision)
	if err != nil || h.Env.SecretID == "" {
		h.Log.Warn("secret-remove without a secret revision", "secret", h.Env.SecretID, "revision", h.Env.SecretRevision)
		return nil
	}
	if err := h.Backend.SecretRemove(ctx, h.Env.SecretID, rev); err != nil && !errors.Is(err, juju.ErrNotFound) {
		return fmt.Errorf("removing revision %d of %s: %w", rev, h.Env.SecretID, err)
	}
	h.Log.Info("removed an unused secret revision", "secret", h.Env.SecretID, "label", h.Env.SecretLabel, "revision", rev)
	return nil
}
