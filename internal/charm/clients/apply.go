package clients

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Env is what Apply acts with.
type Env struct {
	Hook   *juju.Hook
	Model  *model.Model
	DB     Database
	Vault  credentials.Vault
	Writes *keys.Writes
	// Handles are the relations Read found.
	Handles Handles
	// PeerRelation: the peer relation exists (the client rules' hash is
	// published there).
	PeerRelation bool
	// HBA is this unit's whole pg_hba, rendered with the client rules;
	// Nudge asks Patroni to rewrite the file.
	HBA   []string
	Nudge func(context.Context) error
	// Overrides are relation passwords an action set earlier in this
	// dispatch, which secret-get does not return yet.
	Overrides map[string]string `json:"-"`
}

// applier applies one plan.
type applier struct {
	Env
	u Unit
	f Facts
	p Plan
	// passwords are the relation users' passwords after this plan.
	passwords map[string]string
	out       outcome
}

// Apply runs the client part of a plan after the unit's steps: passwords,
// SQL on the primary (leader), pg_hba loaded on this unit, then every
// relation's data published in one relation-set each, then the records.
// It returns the statuses of relations refused while applying.
func Apply(ctx context.Context, env Env, u Unit, f Facts, p Plan) ([]juju.Status, error) {
	a := &applier{Env: env, u: u, f: f, p: p, out: outcome{failed: map[string]bool{}}}
	var dirty bool
	var err error
	a.passwords, dirty, err = relationPasswords(env.Hook, f.Passwords, p, env.Overrides)
	if err != nil {
		return nil, err
	}
	if dirty && u.Leader {
		if err := writePasswords(ctx, env.Vault, a.passwords); err != nil {
			return nil, err
		}
	}
	if !u.Leader && len(f.ServedSQL) > 0 {
		// Fingerprints are a leader's memory of its own SQL: forget them
		// with the leadership, or a later term could skip SQL another
		// leader's changes made necessary again.
		env.Writes.SetState(servedSQLKey, "")
	}
	if u.Leader && f.Server != nil && f.Server.Primary != "" {
		a.runSQL(ctx)
	}
	g, err := a.loadHBA(ctx)
	if err != nil {
		return a.out.statuses, err
	}
	a.publishAll(ctx, g)
	if u.Leader {
		recordServed(p.Record, a.out.failed, env.Writes)
	}
	return a.out.statuses, errors.Join(a.out.errs...)
}

// outcome collects what applying the client part came to: refusals, the
// relations that failed (nothing more is done for them) and errors.
type outcome struct {
	statuses []juju.Status
	failed   map[string]bool
	errs     []error
}

// relationPasswords is the relation users' passwords after this plan:
// the stored ones, an action's overrides, a new one for each relation
// served without one, none for revoked relations. dirty: they differ
// from the stored ones.
func relationPasswords(h *juju.Hook, stored map[string]string, cp Plan, overrides map[string]string) (map[string]string, bool, error) {
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

// runSQL (leader) revokes gone relations' users and serves the others on
// the primary, skipping a relation whose SQL already ran with the same
// fingerprint unless update-status's drift check (one catalog read for
// every relation) found it changed by hand.
func (a *applier) runSQL(ctx context.Context) {
	h := a.Hook
	primary := a.u.operatorAt(a.f.Server.Primary, a.f.Server.Port)
	for _, rv := range a.p.Revoke {
		if err := a.DB.Revoke(ctx, primary, rv.Served.User); err != nil {
			a.out.errs = append(a.out.errs, fmt.Errorf("revoking %s of %s: %w", rv.Served.User, rv.ID, err))
			continue
		}
		h.Log.Info("revoked relation user", "relation", rv.ID, "user", rv.Served.User)
		if !a.dropCreatedRoles(ctx, primary, rv) {
			// The record stays, so the next hook revokes and cleans
			// up again.
			a.out.failed[rv.ID] = true
			continue
		}
		if rv.Served.Endpoint == EndpointDatabase {
			removeRelationSecrets(ctx, h, rv.ID)
		}
	}
	drifted := a.driftCheck(ctx, primary)
	servedSQL := maps.Clone(a.f.ServedSQL)
	if servedSQL == nil {
		servedSQL = map[string]string{}
	}
	for _, wd := range a.p.Withdraw {
		changed, err := a.DB.Withdraw(ctx, primary, wd.Served.User)
		if err != nil {
			a.out.errs = append(a.out.errs, fmt.Errorf("withdrawing admin attributes of %s: %w", wd.ID, err))
			continue
		}
		if changed {
			h.Log.Info("withdrew admin attributes", "relation", wd.ID, "user", wd.Served.User)
		}
		a.dropCreatedRoles(ctx, primary, wd)
		// Served again in full once its application is allowed back.
		delete(servedSQL, wd.ID)
	}
	for _, sv := range a.p.Serve {
		fp := serveFingerprint(sv, a.passwords[sv.ID], primary.Host)
		// After an upgrade every relation is served again: the new
		// charm may do more for the same request (a grant, a revoke).
		if a.Hook.Event.Name != "upgrade-charm" && skipServe(a.f.ServedSQL, drifted, sv.ID, fp) {
			continue
		}
		delete(servedSQL, sv.ID)
		if a.serveOne(ctx, primary, sv) {
			servedSQL[sv.ID] = fp
		}
	}
	for id := range servedSQL {
		if !slices.ContainsFunc(a.f.Relations, func(r Relation) bool { return r.ID == id }) {
			delete(servedSQL, id)
		}
	}
	if !maps.Equal(servedSQL, a.f.ServedSQL) {
		b, _ := json.Marshal(servedSQL)
		a.Writes.SetState(servedSQLKey, string(b))
	}
}

// dropCreatedRoles drops the roles a relation created while it could
// (after its user was revoked or its admin attributes withdrawn) and
// logs what it dropped and what it left, and why. false when it must be
// tried again (the primary did not answer).
func (a *applier) dropCreatedRoles(ctx context.Context, primary postgres.Target, rv Revoke) bool {
	h := a.Hook
	rep, err := a.DB.DropCreatedRoles(ctx, primary, rv.ID, rv.Keep, rv.Live)
	if err != nil {
		a.out.errs = append(a.out.errs, fmt.Errorf("dropping the roles %s created: %w", rv.ID, err))
		return false
	}
	if len(rep.Dropped) > 0 {
		h.Log.Info("dropped the roles the relation created; their objects now belong to its user",
			"relation", rv.ID, "user", rep.Plan.Owner, "roles", displayNames(rep.Dropped))
	}
	var left, ambiguous []string
	for _, l := range rep.Left {
		why := clientdb.Display(l.Name) + " " + l.Why
		if l.Disarmed {
			why += " (its LOGIN and attributes taken)"
		}
		if l.Ambiguous {
			ambiguous = append(ambiguous, why)
		} else {
			left = append(left, why)
		}
	}
	if len(left) > 0 {
		h.Log.Info("kept roles that appeared while the relation could create roles", "relation", rv.ID, "roles", strings.Join(left, "; "))
	}
	if len(ambiguous) > 0 {
		h.Log.Warn("left roles that cannot be attributed to the relation: drop them by hand if they are its",
			"relation", rv.ID, "roles", strings.Join(ambiguous, "; "))
	}
	return true
}

func displayNames(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = clientdb.Display(n)
	}
	return strings.Join(out, ", ")
}

// driftCheck runs, in update-status only, one check of every relation
// already served against the catalogs (clientdb.Drifted); the relations
// it reports are served again. If the check fails, every relation is.
func (a *applier) driftCheck(ctx context.Context, primary postgres.Target) map[string]string {
	h := a.Hook
	if h.Event.Name != "update-status" {
		return nil
	}
	var wants []clientdb.Want
	for _, sv := range a.p.Serve {
		if a.f.ServedSQL[sv.ID] != "" {
			wants = append(wants, sv.want(a.passwords[sv.ID]))
		}
	}
	if len(wants) == 0 {
		return nil
	}
	drifted, err := a.DB.Drifted(ctx, primary, wants)
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
func (a *applier) serveOne(ctx context.Context, primary postgres.Target, sv Service) bool {
	h := a.Hook
	err := a.DB.Serve(ctx, primary, sv, a.passwords[sv.ID])
	var unavailable *clientdb.ExtensionUnavailableError
	switch {
	case err == nil:
		h.Log.Debug("served relation", "relation", sv.ID, "reason", sv.Reason)
		return true
	case errors.As(err, &unavailable):
		a.out.statuses = append(a.out.statuses, juju.Blocked(sv.ID+": "+unavailable.Error()))
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
		a.out.statuses = append(a.out.statuses, juju.Blocked(sv.ID+": "+err.Error()))
		h.Log.Warn("relation refused", "relation", sv.ID, "err", err)
	default:
		a.out.errs = append(a.out.errs, fmt.Errorf("serving %s: %w", sv.ID, err))
	}
	a.out.failed[sv.ID] = true
	return false
}

// loadHBA makes this unit's PostgreSQL run with the rendered pg_hba
// before any client unit is listed as allowed (§A.4), tells the peers
// which client rules it admits, and returns what may be published.
func (a *applier) loadHBA(ctx context.Context) (HBAGate, error) {
	p, f := a.p, a.f
	inForce := f.HBALoaded != ""
	if len(p.Publish) > 0 || len(p.Revoke) > 0 || len(p.HBA) > 0 || f.HBALoaded != "" {
		sum := sha256.Sum256([]byte(strings.Join(a.HBA, "\n")))
		hash := hex.EncodeToString(sum[:])
		if hash != f.HBALoaded {
			if err := a.DB.LoadHBA(ctx, a.u.Self(), a.HBA, a.Nudge); err != nil {
				return HBAGate{}, fmt.Errorf("loading pg_hba: %w", err)
			}
			a.Writes.SetState(hbaLoadedKey, hash)
			a.Hook.Log.Info("pg_hba loaded", "client-rules", len(p.HBA))
		}
		inForce = true
	}
	clientHash := hbaHash(p.HBA)
	if inForce && a.PeerRelation && clientHash != f.PublishedHBA {
		// Tell the peers which client rules this unit admits: they
		// publish credentials pointing here only once it does.
		a.Writes.SetPeerUnit(clientHBAKey, clientHash)
		a.Writes.SetState(clientHBAStateKey, clientHash)
	}
	return gate(a.u, f, clientHash), nil
}

// publishAll publishes every relation the gate allows, unless it holds
// what would be published already; a hot standby publishes a db relation
// only once its user has replicated here (§A.7).
func (a *applier) publishAll(ctx context.Context, g HBAGate) {
	h := a.Hook
	published := a.keptPublished()
	for _, pub := range a.p.Publish {
		fp := publishFingerprint(pub, a.passwords[pub.ID])
		if a.out.failed[pub.ID] || published[pub.ID] == fp {
			continue
		}
		if (pub.Legacy != nil && !g.Legacy) || (pub.Client != nil && !g.Database) {
			h.Log.Debug("waiting for the cluster to admit the clients", "relation", pub.ID)
			continue
		}
		if pub.Legacy != nil && a.f.Server != nil && !a.f.Server.SelfPrimary {
			ok, err := a.DB.WaitRole(ctx, a.u.Self(), pub.Legacy.User, 10*time.Second)
			if err != nil || !ok {
				h.Log.Info("the relation user has not replicated here yet", "relation", pub.ID, "err", err)
				continue
			}
		}
		if err := publish(ctx, h, a.Model, a.Handles.rels[pub.ID], pub, a.passwords[pub.ID]); err != nil {
			a.out.errs = append(a.out.errs, err)
			continue
		}
		published[pub.ID] = fp
	}
	if !maps.Equal(published, a.f.Published) {
		b, _ := json.Marshal(published)
		a.Writes.SetState(publishedKey, string(b))
	}
}

// keptPublished are the fingerprints still valid: those of live
// relations, none after an upgrade (the charm may render the same inputs
// differently), and those of database relations only while this unit
// leads and not in leader-elected: their application databag is the
// leader's, and another leader may have written it since this unit last
// did (leadership can go and come back without this unit running a hook
// in between).
func (a *applier) keptPublished() map[string]string {
	kept := map[string]string{}
	event := a.Hook.Event.Name
	if event == "upgrade-charm" {
		return kept
	}
	for _, r := range a.f.Relations {
		fp, ok := a.f.Published[r.ID]
		if ok && (r.Endpoint != EndpointDatabase || (a.u.Leader && event != "leader-elected")) {
			kept[r.ID] = fp
		}
	}
	return kept
}

// recordServed writes the leader's served records (nil deletes), but not
// for relations whose SQL failed.
func recordServed(records map[string]*Served, failed map[string]bool, w *keys.Writes) {
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
