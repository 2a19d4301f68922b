package clients

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/relations/pgclient"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

// serveFingerprint identifies what Serve did for a relation: the request,
// the password and the primary it ran on. Any change to one runs the SQL
// again.
func serveFingerprint(sv Service, password, primary string) string {
	b, _ := json.Marshal(struct {
		Serve    Service
		Password string
		Primary  string
	}{sv, password, primary})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// skipServe says whether a relation's SQL can be skipped: it ran with the
// same fingerprint, and (update-status) the drift check found nothing
// changed by hand since, so a user or grant removed by hand comes back
// within one interval.
func skipServe(done map[string]string, drifted map[string]string, id, fingerprint string) bool {
	_, changedByHand := drifted[id]
	return done[id] == fingerprint && !changedByHand
}

// publishFingerprint identifies what publish writes for a relation: what
// is rendered and the password. The same fingerprint as last time means
// the databag and secrets already hold it.
func publishFingerprint(pub Publish, password string) string {
	b, _ := json.Marshal(struct {
		Publish  Publish
		Password string
	}{pub, password})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// publish writes one relation's data: the unit databag on db and
// db-admin, the application databag and the credential secrets on
// database (leader).
func publish(ctx context.Context, h *juju.Hook, m *model.Model, rel *model.Relation, pub Publish, password string) error {
	if rel == nil { // not read by the snapshot
		var err error
		if rel, err = m.Relation(ctx, pub.ID); err != nil {
			return err
		}
	}
	if pub.Legacy != nil {
		data := pgsql.RenderUnitData(*pub.Legacy, pub.Server, pgsql.Credentials{User: pub.Legacy.User, Password: password}, pub.Allowed)
		return rel.SetLocalUnitData(ctx, data)
	}
	req, cred := *pub.Client, pgclient.Credentials{User: pub.Client.User, Password: password}
	if password == "" {
		return nil
	}
	var uris map[pgclient.SecretGroup]string
	if pub.UseSecrets {
		uris = map[pgclient.SecretGroup]string{}
		for g, content := range pgclient.RenderSecrets(req, pub.Cluster, cred, true) {
			uri, err := ensureRelationSecret(ctx, m, h.Env.ModelUUID, pub.ID, g, content)
			if err != nil {
				return err
			}
			uris[g] = uri
		}
	}
	return rel.SetLocalAppData(ctx, pgclient.RenderAppData(req, pub.Cluster, cred, uris))
}

// ensureRelationSecret creates or updates the group's secret (labelled as
// the data_interfaces library does) and grants it to the relation.
func ensureRelationSecret(ctx context.Context, m *model.Model, modelUUID, relID string, g pgclient.SecretGroup, content map[string]string) (string, error) {
	label := g.Label(relID)
	ids, err := m.Backend().SecretInfoGet(ctx, "", label)
	if err != nil && !errors.Is(err, juju.ErrNotFound) {
		return "", fmt.Errorf("reading secret %s: %w", label, err)
	}
	var uri string
	for id := range ids {
		uri = secretURI(modelUUID, id)
	}
	if uri == "" {
		if uri, err = m.AddSecret(ctx, content, juju.SecretAddOptions{Label: label, Owner: juju.SecretOwnerApplication,
			Description: "credentials of relation " + relID}); err != nil {
			return "", err
		}
		if err := m.Backend().SecretGrant(ctx, uri, relID, ""); err != nil {
			return "", fmt.Errorf("granting %s to %s: %w", label, relID, err)
		}
		return uri, nil
	}
	cur, err := m.GetSecret(ctx, uri, juju.SecretGetOptions{Peek: true})
	if err != nil {
		return "", err
	}
	if !maps.Equal(cur, content) {
		if err := m.SetSecret(ctx, uri, content, juju.SecretSetOptions{}); err != nil {
			return "", err
		}
	}
	return uri, nil
}

// secretURI is the full URI of a secret: secret-info-get keys its answer
// by the bare id ("d2fjn1fmp25004or68b0"), while clients expect the
// "secret://<model-uuid>/<id>" secret-add prints (§B.3).
func secretURI(modelUUID, id string) string {
	if strings.HasPrefix(id, "secret:") || modelUUID == "" {
		return id
	}
	return "secret://" + modelUUID + "/" + id
}

// removeRelationSecrets removes a gone relation's credential secrets; a
// failure only leaves a secret nobody can read any more.
func removeRelationSecrets(ctx context.Context, h *juju.Hook, relID string) {
	if !juju.HasSecrets(h.Env.Version) {
		return // published as plain fields
	}
	for _, g := range []pgclient.SecretGroup{pgclient.GroupUser, pgclient.GroupTLS} {
		ids, err := h.Backend.SecretInfoGet(ctx, "", g.Label(relID))
		if err != nil {
			continue
		}
		for id := range ids {
			if err := h.Backend.SecretRemove(ctx, id, 0); err != nil {
				h.Log.Warn("removing relation secret", "relation", relID, "err", err)
			}
		}
	}
}
