package charm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/relations/pgclient"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

// Names of the client-relation records.
const (
	// servedKeyPrefix + relation id ("served:db:5") is the peer app
	// databag key of a ServedRelation (JSON).
	servedKeyPrefix = "served:"
	// unit state key: hash of the pg_hba rules PostgreSQL was last seen
	// running with.
	hbaLoadedKey keys.State = "hba-loaded"
	// clientHBAKey (peer unit databag) is the hash of the client pg_hba
	// rules this unit's PostgreSQL runs with (ClientHBAGate);
	// clientHBAStateKey remembers the value published.
	clientHBAKey      keys.Peer  = "client-hba"
	clientHBAStateKey keys.State = "published-client-hba"
	// unit state key (leader): JSON map of relation id to the
	// fingerprint of the SQL last run for it (serveFingerprint), so a
	// hook that changes nothing about a relation runs none of its SQL.
	servedSQLKey keys.State = "served-sql"
)

// serveFingerprint identifies what Serve did for a relation: the request,
// the password and the primary it ran on. Any change to one runs the SQL
// again.
func serveFingerprint(sv ClientServe, password, primary string) string {
	b, _ := json.Marshal(struct {
		Serve    ClientServe
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

// clientSecretKey is a relation's key in the client-relations secret:
// "db:5" → "db-5" (Juju's key rule allows no colon).
func clientSecretKey(id string) string { return strings.ReplaceAll(id, ":", "-") }

// Target is a PostgreSQL server the charm connects to as the operator.
type Target struct {
	Host     string
	Port     int
	Password string `json:"-"`
}

// ClientDB is the PostgreSQL side of client relations. The real one runs
// clientdb's effects over pgx; harness tests use a fake.
type ClientDB interface {
	// Facts reads the cluster's roles from Patroni and the server's
	// version, grantable roles and available extensions from self.
	Facts(ctx context.Context, api *patroni.Client, member string, self Target) (*DBFacts, error)
	// Serve runs one relation's SQL on the primary.
	Serve(ctx context.Context, primary Target, s ClientServe, password string) error
	// Drifted checks every relation in one read of the catalogs and says,
	// by relation id, why those changed by hand since they were served.
	Drifted(ctx context.Context, primary Target, wants []clientdb.Want) (map[string]string, error)
	// Revoke removes LOGIN from a gone relation's user and ends its sessions.
	Revoke(ctx context.Context, primary Target, user string) error
	// Rotate gives a relation user a new password.
	Rotate(ctx context.Context, primary Target, user, password string) error
	// LoadHBA returns once self's pg_hba.conf holds exactly lines and
	// PostgreSQL has reloaded it; nudge asks Patroni to rewrite the file.
	LoadHBA(ctx context.Context, self Target, lines []string, nudge func(context.Context) error) error
	// WaitRole waits (up to timeout) until role exists on self: a hot
	// standby has replayed the primary's CREATE ROLE. false when it has
	// not in time.
	WaitRole(ctx context.Context, self Target, role string, timeout time.Duration) (bool, error)
}

// readClients fills the snapshot's client-relation part: the live client
// relations (without the one breaking in this hook and without a departing
// unit), the leader's served records, the relation passwords and, when
// PostgreSQL answers, its facts.
func (c *Charm) readClients(ctx context.Context, h *juju.Hook, m *model.Model, s *Snapshot) error {
	ev := h.Event
	for _, ep := range ClientEndpoints {
		if !m.Meta().HasEndpoint(ep) {
			continue
		}
		rels, err := m.Relations(ctx, ep)
		if err != nil {
			return err
		}
		for _, r := range rels {
			if ev.Kind == juju.KindRelationBroken && ev.RelationID == r.ID {
				continue // Juju lists it no more; the fake may
			}
			cr := ClientRelation{ID: r.ID, Endpoint: ep, App: r.RemoteApp, UnitData: map[string]map[string]string{}}
			if app, err := r.RemoteAppData(ctx); err == nil {
				cr.AppData = app.Map()
			} else {
				return err
			}
			for _, u := range r.Units {
				if ev.Kind == juju.KindRelationDeparted && ev.RelationID == r.ID && u == ev.RemoteUnit {
					continue
				}
				bag, err := r.UnitData(ctx, u)
				if err != nil {
					return err
				}
				cr.UnitData[u] = bag.Map()
			}
			if s.Leader {
				if bag, err := r.LocalAppData(ctx); err == nil {
					cr.LocalAppData = bag.Map()
				} else {
					return err
				}
			}
			if ni, err := h.Backend.NetworkGet(ctx, ep, r.ID); err == nil && ni.IngressAddress() != "" {
				cr.Host = ni.IngressAddress()
			} else if s.Address.IsValid() {
				cr.Host = s.Address.String()
			}
			s.Clients = append(s.Clients, cr)
			if s.clientRels == nil {
				s.clientRels = map[string]*model.Relation{}
			}
			s.clientRels[r.ID] = r
		}
	}
	if s.peers == nil {
		return nil
	}
	for k, v := range s.peerApp {
		id, ok := strings.CutPrefix(k, servedKeyPrefix)
		if !ok {
			continue
		}
		var rec ServedRelation
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			h.Log.Warn("ignoring unreadable served record", "relation", id, "err", err)
			continue
		}
		if s.Served == nil {
			s.Served = map[string]ServedRelation{}
		}
		s.Served[id] = rec
	}
	if s.peerApp[string(credentials.ClientSecretIDKey)] == "" {
		// The leader shares the secret's id when it creates it: without
		// an id there is no secret to read (a steady standalone pass
		// saves the secret-get).
		return nil
	}
	var err error
	if s.ClientPasswords, err = readClientPasswords(ctx, s.vault); err != nil {
		return err
	}
	return nil
}

// readClientPasswords reads the client relation users' passwords from the
// vault into a map by relation id; nil when there are none yet.
func readClientPasswords(ctx context.Context, v credentials.Vault) (map[string]string, error) {
	content, err := v.Read(ctx, credentials.ClientUsersDoc)
	if err != nil {
		return nil, fmt.Errorf("reading client relation passwords: %w", err)
	}
	if content == nil {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range content {
		// "db-admin-6" → "db-admin:6": the id is after the last hyphen.
		if i := strings.LastIndexByte(k, '-'); i > 0 {
			out[k[:i]+":"+k[i+1:]] = v
		}
	}
	return out, nil
}

// readFacts asks Patroni and PostgreSQL, when the unit is bootstrapped and
// some client relation needs them. Failure is not an error: relations wait.
func (c *Charm) readFacts(ctx context.Context, h *juju.Hook, s *Snapshot) {
	if len(s.Clients) == 0 && len(s.Served) == 0 {
		return
	}
	if s.Passwords == nil || !s.Address.IsValid() || len(s.Applied) == 0 {
		return
	}
	cfg := pgconf.UnitConfig{App: s.App, Unit: s.Unit, Address: s.Address, Passwords: *s.Passwords}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := c.clientDB().Facts(cctx, c.Workload.Patroni(cfg), pgconf.UnitSlug(s.Unit), s.selfTarget())
	if err != nil {
		h.Log.Debug("client relations wait for PostgreSQL", "err", err)
		return
	}
	s.DB = db
}

func (s Snapshot) port() int {
	if s.Options.ListenPort > 0 {
		return s.Options.ListenPort
	}
	return pgconf.DefaultPostgresPort
}

func (s Snapshot) selfTarget() Target {
	t := Target{Host: s.Address.String(), Port: s.port()}
	if s.Passwords != nil {
		t.Password = s.Passwords.Operator
	}
	return t
}

func (c *Charm) clientDB() ClientDB {
	if c.ClientDB != nil {
		return c.ClientDB
	}
	return PostgresClientDB{}
}

// clientInput is DecideClients' view of the snapshot.
func (s Snapshot) clientInput() ClientInput {
	return ClientInput{Leader: s.Leader, Relations: s.Clients, Served: s.Served,
		Passwords: s.ClientPasswords, DB: s.DB, SecretsAvailable: s.SecretsAvailable}
}

// applyClients runs the client part of a plan after the core steps:
// passwords, SQL on the primary (leader), pg_hba loaded on this unit, then
// every relation's data published in one relation-set each, then the
// records. It returns the statuses of relations refused while applying.
func (c *Charm) applyClients(ctx context.Context, h *juju.Hook, m *model.Model, s Snapshot, plan Plan, ov Overrides, w *keys.Writes) ([]juju.Status, error) {
	cp := plan.Clients
	passwords, dirty, err := relationPasswords(h, s.ClientPasswords, cp, ov.ClientPasswords)
	if err != nil {
		return nil, err
	}
	if dirty && s.Leader {
		if err := writeClientPasswords(ctx, s.vault, passwords); err != nil {
			return nil, err
		}
	}
	if !s.Leader && len(s.servedSQL) > 0 {
		// Fingerprints are a leader's memory of its own SQL: forget them
		// with the leadership, or a later term could skip SQL another
		// leader's changes made necessary again.
		w.SetState(servedSQLKey, "")
	}
	out := clientOutcome{failed: map[string]bool{}}
	if s.Leader && s.DB != nil && s.DB.Primary != "" {
		c.runClientSQL(ctx, h, s, cp, passwords, w, &out)
	}
	gate, err := c.loadClientHBA(ctx, h, s, plan, w)
	if err != nil {
		return out.statuses, err
	}
	c.publishClients(ctx, h, m, s, cp, passwords, gate, &out)
	if s.Leader {
		recordServed(cp.Record, out.failed, w)
	}
	return out.statuses, errors.Join(out.errs...)
}

// clientOutcome collects what applying the client part came to: refusals,
// the relations that failed (nothing more is done for them) and errors.
type clientOutcome struct {
	statuses []juju.Status
	failed   map[string]bool
	errs     []error
}

// relationPasswords is the relation users' passwords after this plan:
// the stored ones, an action's overrides, a new one for each relation
// served without one, none for revoked relations. dirty: they differ
// from the stored ones.
func relationPasswords(h *juju.Hook, stored map[string]string, cp ClientPlan, overrides map[string]string) (map[string]string, bool, error) {
	passwords := maps.Clone(stored)
	if passwords == nil {
		passwords = map[string]string{}
	}
	maps.Copy(passwords, overrides)
	dirty := len(overrides) > 0
	for _, sv := range cp.Serve {
		if passwords[sv.ID] == "" {
			pw, err := postgres.GeneratePassword()
			if err != nil {
				return nil, false, err
			}
			h.Redactor.Register(pw)
			passwords[sv.ID], dirty = pw, true
		}
	}
	for _, rv := range cp.Revoke {
		if _, ok := passwords[rv.ID]; ok {
			delete(passwords, rv.ID)
			dirty = true
		}
	}
	return passwords, dirty, nil
}

// runClientSQL (leader) revokes gone relations' users and serves the
// others on the primary, skipping a relation whose SQL already ran with
// the same fingerprint unless update-status's drift check (one catalog
// read for every relation) found it changed by hand.
func (c *Charm) runClientSQL(ctx context.Context, h *juju.Hook, s Snapshot, cp ClientPlan, passwords map[string]string, w *keys.Writes, out *clientOutcome) {
	db := c.clientDB()
	primary := Target{Host: s.DB.Primary, Port: s.DB.Port, Password: s.Passwords.Operator}
	for _, rv := range cp.Revoke {
		if err := db.Revoke(ctx, primary, rv.Served.User); err != nil {
			out.errs = append(out.errs, fmt.Errorf("revoking %s of %s: %w", rv.Served.User, rv.ID, err))
			continue
		}
		h.Log.Info("revoked relation user", "relation", rv.ID, "user", rv.Served.User)
		if rv.Served.Endpoint == EndpointDatabase {
			removeRelationSecrets(ctx, h, rv.ID)
		}
	}
	drifted := c.driftCheck(ctx, h, s, cp, passwords, primary)
	servedSQL := maps.Clone(s.servedSQL)
	if servedSQL == nil {
		servedSQL = map[string]string{}
	}
	for _, sv := range cp.Serve {
		fp := serveFingerprint(sv, passwords[sv.ID], primary.Host)
		if skipServe(s.servedSQL, drifted, sv.ID, fp) {
			continue
		}
		delete(servedSQL, sv.ID)
		if c.serveOne(ctx, h, primary, sv, passwords[sv.ID], out) {
			servedSQL[sv.ID] = fp
		}
	}
	for id := range servedSQL {
		if !slices.ContainsFunc(s.Clients, func(r ClientRelation) bool { return r.ID == id }) {
			delete(servedSQL, id)
		}
	}
	if !maps.Equal(servedSQL, s.servedSQL) {
		b, _ := json.Marshal(servedSQL)
		w.SetState(servedSQLKey, string(b))
	}
}

// driftCheck runs, in update-status only, one check of every relation
// already served against the catalogs (clientdb.Drifted); the relations
// it reports are served again. If the check fails, every relation is.
func (c *Charm) driftCheck(ctx context.Context, h *juju.Hook, s Snapshot, cp ClientPlan, passwords map[string]string, primary Target) map[string]string {
	if h.Event.Name != "update-status" {
		return nil
	}
	var wants []clientdb.Want
	for _, sv := range cp.Serve {
		if s.servedSQL[sv.ID] != "" {
			wants = append(wants, sv.want(passwords[sv.ID]))
		}
	}
	if len(wants) == 0 {
		return nil
	}
	drifted, err := c.clientDB().Drifted(ctx, primary, wants)
	if err != nil {
		h.Log.Warn("drift check failed: serving every relation again", "err", err)
		drifted = map[string]string{}
		for _, wt := range wants {
			drifted[wt.ID] = "the drift check failed"
		}
	}
	for id, why := range drifted {
		h.Log.Info("relation changed by hand: serving it again", "relation", id, "why", why)
	}
	return drifted
}

// serveOne runs one relation's SQL and sorts its failure: refused (the
// request), waiting (the primary is unreachable) or an error (retried by
// failing the hook). true when it was served.
func (c *Charm) serveOne(ctx context.Context, h *juju.Hook, primary Target, sv ClientServe, password string, out *clientOutcome) bool {
	err := c.clientDB().Serve(ctx, primary, sv, password)
	var unavailable *clientdb.ExtensionUnavailableError
	switch {
	case err == nil:
		h.Log.Debug("served relation", "relation", sv.ID, "reason", sv.Reason)
		return true
	case errors.As(err, &unavailable):
		out.statuses = append(out.statuses, juju.Blocked(sv.ID+": "+unavailable.Error()))
	case unreachable(err):
		// The primary Patroni names is gone (its leader key has not
		// expired yet) or restarting: wait for the next hook (the new
		// primary's role change wakes every unit) instead of failing
		// this one.
		h.Status.Add(juju.Waiting("waiting for the primary to serve " + sv.ID))
		h.Log.Warn("primary unreachable", "relation", sv.ID, "primary", primary.Host, "err", err)
	case refusesRelation(err):
		// The request cannot be served as asked: refuse this relation
		// alone; a failed hook would discard every other relation's
		// data too.
		out.statuses = append(out.statuses, juju.Blocked(sv.ID+": "+err.Error()))
		h.Log.Warn("relation refused", "relation", sv.ID, "err", err)
	default:
		out.errs = append(out.errs, fmt.Errorf("serving %s: %w", sv.ID, err))
	}
	out.failed[sv.ID] = true
	return false
}

// loadClientHBA makes this unit's PostgreSQL run with the rendered pg_hba
// before any client unit is listed as allowed (§A.4), tells the peers
// which client rules it admits, and returns what may be published.
func (c *Charm) loadClientHBA(ctx context.Context, h *juju.Hook, s Snapshot, plan Plan, w *keys.Writes) (ClientHBAGate, error) {
	cp := plan.Clients
	hbaInForce := s.hbaLoaded != ""
	if len(cp.Publish) > 0 || len(cp.Revoke) > 0 || len(cp.HBA) > 0 || s.hbaLoaded != "" {
		var lines []string
		for _, r := range pgconf.HBARules(plan.Config) {
			lines = append(lines, r.String())
		}
		sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		hash := hex.EncodeToString(sum[:])
		if hash != s.hbaLoaded {
			api := c.Workload.Patroni(plan.Config)
			if err := c.clientDB().LoadHBA(ctx, s.selfTarget(), lines, api.Reload); err != nil {
				return ClientHBAGate{}, fmt.Errorf("loading pg_hba: %w", err)
			}
			w.SetState(hbaLoadedKey, hash)
			h.Log.Info("pg_hba loaded", "client-rules", len(cp.HBA))
		}
		hbaInForce = true
	}
	clientHash := clientHBAHash(cp.HBA)
	if hbaInForce && s.peers != nil && clientHash != s.publishedClientHBA {
		// Tell the peers which client rules this unit admits: they
		// publish credentials pointing here only once it does.
		w.SetPeerUnit(clientHBAKey, clientHash)
		w.SetState(clientHBAStateKey, clientHash)
	}
	return s.clientHBAGate(clientHash), nil
}

// publishClients publishes every relation the gate allows; a hot standby
// publishes a db relation only once its user has replicated here (§A.7).
func (c *Charm) publishClients(ctx context.Context, h *juju.Hook, m *model.Model, s Snapshot, cp ClientPlan, passwords map[string]string, gate ClientHBAGate, out *clientOutcome) {
	for _, pub := range cp.Publish {
		if out.failed[pub.ID] {
			continue
		}
		if (pub.Legacy != nil && !gate.Legacy) || (pub.Client != nil && !gate.Database) {
			h.Log.Debug("waiting for the cluster to admit the clients", "relation", pub.ID)
			continue
		}
		if pub.Legacy != nil && s.DB != nil && !s.DB.SelfPrimary {
			ok, err := c.clientDB().WaitRole(ctx, s.selfTarget(), pub.Legacy.User, 10*time.Second)
			if err != nil || !ok {
				h.Log.Info("the relation user has not replicated here yet", "relation", pub.ID, "err", err)
				continue
			}
		}
		if err := c.publish(ctx, h, m, s.clientRels[pub.ID], pub, passwords[pub.ID]); err != nil {
			out.errs = append(out.errs, err)
		}
	}
}

// recordServed writes the leader's served records (nil deletes), but not
// for relations whose SQL failed.
func recordServed(records map[string]*ServedRelation, failed map[string]bool, w *keys.Writes) {
	for id, rec := range records {
		if failed[id] {
			continue
		}
		v := ""
		if rec != nil {
			b, _ := json.Marshal(rec)
			v = string(b)
		}
		w.SetPeerApp(keys.Peer(servedKeyPrefix+id), v)
	}
}

// unreachable says whether err is a failure to reach or keep a
// connection to the server, rather than an answer from it.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P01-57P03: the server is shutting down or starting.
		return strings.HasPrefix(pgErr.Code, "57P")
	}
	return errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}

// refusesRelation says whether a Serve error comes from what the client
// asked (a role that exists but cannot be granted, an extension
// PostgreSQL will not create, a name it rejects) rather than from the
// server being unreachable or failing: the first refuses the relation,
// the second fails the hook so Juju retries it.
func refusesRelation(err error) bool {
	if err == nil {
		return false
	}
	var nameErr *clientdb.NameError
	if errors.Is(err, clientdb.ErrRoleNotGrantable) || errors.Is(err, clientdb.ErrNoSuchRole) || errors.As(err, &nameErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 0A feature not supported, 22 data exception, 42 syntax error
		// or access rule violation, 58 system error (e.g. an
		// extension's library missing): the request, not the server.
		switch pgErr.Code[:2] {
		case "0A", "22", "42", "58":
			return true
		}
	}
	return false
}

// writeClientPasswords stores the passwords in the vault (a secret,
// created on first use, its id shared with the other units), or removes
// them when no relation is left.
func writeClientPasswords(ctx context.Context, v credentials.Vault, passwords map[string]string) error {
	content := map[string]string{}
	for id, pw := range passwords {
		content[clientSecretKey(id)] = pw
	}
	return v.Write(ctx, credentials.ClientUsersDoc, content)
}

// publish writes one relation's data: the unit databag on db and
// db-admin, the application databag and the credential secrets on
// database (leader).
func (c *Charm) publish(ctx context.Context, h *juju.Hook, m *model.Model, rel *model.Relation, pub ClientPublish, password string) error {
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

// PostgresClientDB is the real ClientDB.
type PostgresClientDB struct {
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
}

func (t Target) connect(ctx context.Context, database string) (*pgx.Conn, error) {
	return postgres.Connect(ctx, postgres.ConnConfig{Host: t.Host, Port: uint16(t.Port), User: pgconf.OperatorUser,
		Password: t.Password, Database: database, ConnectTimeout: 5 * time.Second})
}

// Facts implements ClientDB.
func (PostgresClientDB) Facts(ctx context.Context, api *patroni.Client, member string, self Target) (*DBFacts, error) {
	cl, err := api.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster from Patroni: %w", err)
	}
	f := &DBFacts{Port: self.Port, Extensions: map[string]bool{}}
	for _, mb := range cl.Members {
		running := mb.State.Up()
		switch {
		case mb.Role.IsPrimary() && running:
			f.Primary = mb.Host
			f.SelfPrimary = f.SelfPrimary || mb.Name == member
		case (mb.Role == patroni.RoleReplica || mb.Role == patroni.RoleSyncStandby) && running:
			f.Replicas = append(f.Replicas, mb.Host)
			f.SelfReplica = f.SelfReplica || mb.Name == member
		}
	}
	slices.Sort(f.Replicas)
	conn, err := self.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if f.Version, _, err = postgres.ServerVersion(ctx, conn); err != nil {
		return nil, err
	}
	if f.Grantable, err = clientdb.ListGrantableRoles(ctx, conn); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT name FROM pg_available_extensions`)
	if err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	for _, n := range names {
		f.Extensions[n] = true
	}
	return f, nil
}

// Serve implements ClientDB, in clientdb's order. CREATE DATABASE runs
// outside any transaction; the database's own grants and extensions run
// connected to it.
func (PostgresClientDB) Serve(ctx context.Context, primary Target, s ClientServe, password string) error {
	conn, err := primary.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	steps := []func() (bool, error){
		func() (bool, error) { return clientdb.EnsureLoginUser(ctx, conn, s.User, password) },
		func() (bool, error) { return clientdb.EnsureAttributes(ctx, conn, s.User, s.Attributes) },
		func() (bool, error) { return clientdb.EnsureDatabase(ctx, conn, s.Database) },
	}
	for _, st := range steps {
		if _, err := st(); err != nil {
			return err
		}
	}
	dbConn, err := primary.connect(ctx, s.Database)
	if err != nil {
		return err
	}
	defer dbConn.Close(ctx)
	if _, err := clientdb.EnsureDatabaseAccess(ctx, conn, dbConn, s.Database, s.User); err != nil {
		return err
	}
	for _, r := range s.CreateRoles {
		if _, err := clientdb.EnsureRole(ctx, conn, r); err != nil {
			return err
		}
	}
	if _, err := clientdb.GrantRoles(ctx, conn, s.User, s.Roles); err != nil {
		return err
	}
	if _, err := clientdb.EnsureExtensions(ctx, dbConn, s.Extensions); err != nil {
		return err
	}
	if s.Admin {
		if _, err := clientdb.EnsureAdminMembership(ctx, conn, s.User); err != nil {
			return err
		}
	}
	return nil
}

// WaitRole implements ClientDB.
func (d PostgresClientDB) WaitRole(ctx context.Context, self Target, role string, timeout time.Duration) (bool, error) {
	conn, err := self.connect(ctx, "")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var exists bool
	clock.Poll(ctx, clock.Or(d.Clock), timeout, 200*time.Millisecond, func() bool {
		err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, role).Scan(&exists)
		return err != nil || exists
	})
	if err == nil {
		err = ctx.Err()
	}
	return exists, err
}

// Drifted implements ClientDB.
func (PostgresClientDB) Drifted(ctx context.Context, primary Target, wants []clientdb.Want) (map[string]string, error) {
	conn, err := primary.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	return clientdb.Drifted(ctx, conn, wants)
}

// Revoke implements ClientDB.
func (PostgresClientDB) Revoke(ctx context.Context, primary Target, user string) error {
	conn, err := primary.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = clientdb.RevokeAccess(ctx, conn, user)
	return err
}

// Rotate implements ClientDB.
func (PostgresClientDB) Rotate(ctx context.Context, primary Target, user, password string) error {
	conn, err := primary.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = clientdb.RotatePassword(ctx, conn, user, password)
	return err
}

// LoadHBA implements ClientDB. Patroni writes pg_hba.conf from patroni.yml
// when it reloads, in its next loop; the charm waits until the file holds
// exactly lines (asking Patroni once more after 4 s, in case it missed
// the reload), then reloads PostgreSQL itself and waits until a new
// session shows a later pg_conf_load_time(): new sessions are forked by
// the postmaster after it has reloaded pg_hba.conf, so from then on a
// client listed as allowed is admitted.
func (d PostgresClientDB) LoadHBA(ctx context.Context, self Target, lines []string, nudge func(context.Context) error) error {
	clk := clock.Or(d.Clock)
	want := normaliseHBA(lines)
	start := clk.Now()
	var before time.Time
	var err error
	written := clock.Poll(ctx, clk, 45*time.Second, 200*time.Millisecond, func() bool {
		var ok bool
		ok, before, err = hbaFileHolds(ctx, self, want)
		if !ok && nudge != nil && clk.Now().Sub(start) >= 4*time.Second {
			_ = nudge(ctx) // Patroni may have missed the reload
			nudge = nil
		}
		return ok
	})
	if !written {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("pg_hba.conf does not hold the rendered rules after 45 s (last error: %v)", err)
	}
	if err != nil {
		return err
	}
	remaining := 45*time.Second - clk.Now().Sub(start)
	if clock.Poll(ctx, clk, remaining, 50*time.Millisecond, func() bool {
		var at time.Time
		at, err = confLoadTime(ctx, self)
		return err == nil && at.After(before)
	}) {
		return nil
	}
	return fmt.Errorf("PostgreSQL did not reload pg_hba.conf (last error: %v)", err)
}

// hbaFileHolds reports whether self's pg_hba.conf holds want and, when it
// does, asks PostgreSQL to reload it: before is the load time before that
// reload. A non-nil error with ok true means the reload itself failed.
func hbaFileHolds(ctx context.Context, self Target, want []string) (ok bool, before time.Time, err error) {
	conn, err := self.connect(ctx, "")
	if err != nil {
		return false, before, err
	}
	defer conn.Close(ctx)
	var text string
	err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_read_file(pg_catalog.current_setting('hba_file'))`).Scan(&text)
	if err != nil || !slices.Equal(normaliseHBA(strings.Split(text, "\n")), want) {
		return false, before, err
	}
	if err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_conf_load_time()`).Scan(&before); err == nil {
		_, err = conn.Exec(ctx, `SELECT pg_catalog.pg_reload_conf()`)
	}
	return true, before, err
}

// confLoadTime is pg_conf_load_time() in a new session.
func confLoadTime(ctx context.Context, self Target) (time.Time, error) {
	conn, err := self.connect(ctx, "")
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close(ctx)
	var at time.Time
	err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_conf_load_time()`).Scan(&at)
	return at, err
}

// normaliseHBA drops comments and blank lines and collapses whitespace.
func normaliseHBA(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// rotateRelationPassword is the rotate-relation-password action (leader):
// a new password for the relation's user, stored, set on the primary, and
// republished by a pass in this same dispatch. The old password stops
// working at once; open sessions stay (clientdb.RotatePassword).
func (c *Charm) rotateRelationPassword(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(fmt.Sprint(params["relation-id"]))
	n := relationNumber("x:" + raw[strings.LastIndexByte(raw, ':')+1:])
	if n < 0 {
		return actionFail(ctx, h, fmt.Sprintf("relation-id %q is not a relation id (5 or db:5)", raw))
	}
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		return actionFail(ctx, h, "run rotate-relation-password on the leader unit")
	}
	snap, err := c.snapshot(ctx, h, m, Overrides{})
	if err != nil {
		return err
	}
	var id string
	for _, r := range snap.Clients {
		if relationNumber(r.ID) == n {
			id = r.ID
		}
	}
	rec, served := snap.Served[id]
	switch {
	case id == "":
		return actionFail(ctx, h, fmt.Sprintf("there is no db, db-admin or database relation with id %d", n))
	case !served || snap.ClientPasswords[id] == "":
		return actionFail(ctx, h, fmt.Sprintf("relation %s is not served yet", id))
	case snap.DB == nil || snap.DB.Primary == "":
		return actionFail(ctx, h, "there is no primary to change the password on")
	}
	pw, err := postgres.GeneratePassword()
	if err != nil {
		return err
	}
	h.Redactor.Register(pw)
	// The secret first (committed only if the action succeeds), then the
	// role: if anything after fails, the next pass sets the stored
	// password back on the role (EnsureLoginUser), so the client's
	// credentials never go stale.
	passwords := maps.Clone(snap.ClientPasswords)
	if passwords == nil {
		passwords = map[string]string{}
	}
	passwords[id] = pw
	if err := writeClientPasswords(ctx, snap.vault, passwords); err != nil {
		return err
	}
	primary := Target{Host: snap.DB.Primary, Port: snap.DB.Port, Password: snap.Passwords.Operator}
	if err := c.clientDB().Rotate(ctx, primary, rec.User, pw); err != nil {
		return actionFail(ctx, h, "changing the password: "+err.Error())
	}
	if err := c.pass(ctx, h, m, Overrides{ClientPasswords: map[string]string{id: pw}}); err != nil {
		return fmt.Errorf("republishing %s: %w", id, err)
	}
	h.Log.Info("rotated relation password", "relation", id, "user", rec.User)
	return h.Backend.ActionSet(ctx, map[string]string{"relation-id": id, "user": rec.User, "result": "rotated and republished"})
}

// clientHBAHash identifies a set of client pg_hba rules, the same on every
// unit for the same relations.
func clientHBAHash(rules []pgconf.HBARule) string {
	lines := make([]string, len(rules))
	for i, r := range rules {
		lines[i] = r.String()
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}

// clientHBAGate applies DecideClientHBAGate to the snapshot: Patroni's
// primary and running replicas, by unit.
func (s Snapshot) clientHBAGate(hash string) ClientHBAGate {
	if s.DB == nil {
		return ClientHBAGate{}
	}
	unitAt := map[string]string{s.Address.String(): s.Unit}
	for _, p := range s.Peers {
		unitAt[p.Address.String()] = p.Unit
	}
	primary := unitAt[s.DB.Primary]
	if s.DB.SelfPrimary {
		primary = s.Unit
	}
	var running []string
	for _, r := range s.DB.Replicas {
		u, ok := unitAt[r]
		if !ok {
			// A replica no unit claims (its unit departed, its
			// PostgreSQL still streams) is listed in the read-only
			// endpoints but admits nobody new: it closes the gate.
			u = "?" + r
		}
		if u != s.Unit {
			running = append(running, u)
		}
	}
	return DecideClientHBAGate(s.Unit, primary, running, s.peerClientHBA, hash)
}
