package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// Vault keeps the application's own credentials (the system users'
// passwords, the client relation users' passwords), one document per
// label. On a Juju with secrets (3.0.3+) a document is an
// application-owned secret: the leader reads it by label, the other units
// by the id the leader shares in the peer application databag. On Juju
// 2.9, which has no secrets, it is a JSON value in the peer application
// databag, which only this application's units and the controller read
// (what charms did before secrets).
//
// The leader writes; every unit reads.
type Vault struct {
	m       *model.Model
	leader  bool
	secrets bool
	// peers is the peer relation (nil before Juju creates it) and
	// peerApp its application databag as read by the snapshot.
	peers   *model.Relation
	peerApp map[string]string
}

// Doc names one document: its secret label and the peer app
// databag key that shares the secret's id (or, without secrets, holds
// the document itself).
type Doc struct {
	label string
	idKey keys.Peer
	// description is the secret's description.
	description string
}

var (
	SystemUsersDoc = Doc{label: SecretLabel, idKey: SecretIDKey,
		description: "PostgreSQL system users (operator, replication, rewind, Patroni API, etcd)"}
	ClientUsersDoc = Doc{label: ClientSecretLabel, idKey: ClientSecretIDKey,
		description: "PostgreSQL client relation users' passwords"}
)

// errNoPeerRelation: without secrets the vault lives in the peer
// relation, which Juju creates after install.
var errNoPeerRelation = errors.New("the peer relation does not exist yet")

// Ready says whether the vault can be written now.
func (v Vault) Ready() bool { return v.secrets || v.peers != nil }

// Shared says whether other units can find the document: its id (or the
// document itself) is in the peer application databag.
func (v Vault) Shared(d Doc) bool { return v.peerApp[string(d.idKey)] != "" }

// Read returns a document; nil when it does not exist yet (or, on a
// non-leader, is not shared yet).
func (v Vault) Read(ctx context.Context, d Doc) (map[string]string, error) {
	if !v.secrets {
		raw := v.peerApp[string(d.idKey)]
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
		id := v.peerApp[string(d.idKey)]
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
	return content, nil
}

// NeedsSharing says whether the leader must share d's secret id with the
// other units (Share): the secret exists (content is what Read returned)
// but was created before the peer relation existed (install).
func (v Vault) NeedsSharing(d Doc, content map[string]string) bool {
	return v.leader && v.secrets && v.peers != nil && content != nil && !v.Shared(d)
}

// Share writes the secret's id in the peer application databag.
func (v Vault) Share(ctx context.Context, d Doc) error {
	ids, err := v.m.Backend().SecretInfoGet(ctx, "", d.label)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.label, err)
	}
	for id := range ids {
		if err := v.peers.SetLocalAppData(ctx, map[string]string{string(d.idKey): id}); err != nil {
			return fmt.Errorf("sharing %s: %w", d.label, err)
		}
		v.peerApp[string(d.idKey)] = id
	}
	return nil
}

// Write stores a document (leader): a new secret, a new revision of it,
// or the peer databag value. An empty content removes the document.
func (v Vault) Write(ctx context.Context, d Doc, content map[string]string) error {
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
		if err := v.peers.SetLocalAppData(ctx, map[string]string{string(d.idKey): value}); err != nil {
			return fmt.Errorf("storing %s in the peer relation: %w", d.label, err)
		}
		if v.peerApp != nil {
			v.peerApp[string(d.idKey)] = value
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

// SecretID is the id of a document's Juju secret ("" on Juju 2.9, or
// before the leader created it).
func (v Vault) SecretID(ctx context.Context, d Doc) (string, error) {
	if !v.secrets {
		return "", nil
	}
	ids, err := v.m.Backend().SecretInfoGet(ctx, "", d.label)
	if err != nil && !errors.Is(err, juju.ErrNotFound) {
		return "", fmt.Errorf("reading %s: %w", d.label, err)
	}
	for id := range ids {
		return id, nil
	}
	return "", nil
}

// setShared writes the id key when the peer relation exists; read
// shares it later otherwise.
func (v Vault) setShared(ctx context.Context, d Doc, id string) error {
	if v.peers == nil {
		return nil
	}
	if err := v.peers.SetLocalAppData(ctx, map[string]string{string(d.idKey): id}); err != nil {
		return fmt.Errorf("sharing %s: %w", d.label, err)
	}
	if v.peerApp != nil {
		v.peerApp[string(d.idKey)] = id
	}
	return nil
}

// New is the vault of a pass that has read the peer relation (nil
// before Juju creates it) and its application databag.
func New(m *model.Model, leader, secrets bool, peers *model.Relation, peerApp map[string]string) Vault {
	if peerApp == nil {
		peerApp = map[string]string{}
	}
	return Vault{m: m, leader: leader, secrets: secrets, peers: peers, peerApp: peerApp}
}

// Secrets says whether the vault keeps Juju secrets (Juju 3.0.3+).
func (v Vault) Secrets() bool { return v.secrets }

// Open builds the vault of a hook: it reads the peer relation and its
// application databag itself (actions have no snapshot).
func Open(ctx context.Context, h *juju.Hook, m *model.Model) (Vault, error) {
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return Vault{}, err
	}
	v := Vault{m: m, leader: leader, secrets: juju.HasSecrets(h.Env.Version), peerApp: map[string]string{}}
	if v.peers, err = m.PeerRelation(ctx, keys.PeerEndpoint); err != nil {
		return Vault{}, err
	}
	if v.peers != nil {
		bag, err := v.peers.LocalAppData(ctx)
		if err != nil {
			return Vault{}, err
		}
		v.peerApp = bag.Map()
	}
	return v, nil
}

// SecretRemove handles secret-remove (contract §3.10): no unit tracks
// that revision of a secret this application owns any more (after a
// password rotation), so the owner deletes it; Juju would keep it
// forever otherwise.
func SecretRemove(ctx context.Context, h *juju.Hook) error {
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
