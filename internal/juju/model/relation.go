package model

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// Relation is one relation of the local unit.
type Relation struct {
	ID        string   // "db:3"
	Endpoint  string   // "db"
	RemoteApp string   // "pg-client"; the local app for peers
	Units     []string // remote units currently in the relation, sorted
	Peer      bool

	m *Model
}

// Relations lists the relations of an endpoint with their members.
func (m *Model) Relations(ctx context.Context, endpoint string) ([]*Relation, error) {
	if !m.meta.HasEndpoint(endpoint) {
		return nil, fmt.Errorf("listing relations: %w %q", ErrUnknownEndpoint, endpoint)
	}
	ids, err := m.b.RelationIDs(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("listing %s relations: %w", endpoint, err)
	}
	rels := make([]*Relation, 0, len(ids))
	for _, id := range ids {
		r, err := m.Relation(ctx, id)
		if err != nil {
			return nil, err
		}
		rels = append(rels, r)
	}
	return rels, nil
}

// Relation loads a relation by id ("db:3"); in its -broken hook too.
func (m *Model) Relation(ctx context.Context, id string) (*Relation, error) {
	endpoint, _, ok := strings.Cut(id, ":")
	if !ok || !m.meta.HasEndpoint(endpoint) {
		return nil, fmt.Errorf("loading relation %q: %w", id, ErrUnknownEndpoint)
	}
	units, err := m.b.RelationList(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("listing units of %s: %w", id, err)
	}
	r := &Relation{ID: id, Endpoint: endpoint, Units: units, Peer: m.meta.IsPeer(endpoint), m: m}
	switch {
	case r.Peer:
		r.RemoteApp = m.app
	case len(units) > 0:
		// A remote unit's name carries its application: no
		// relation-remote-app call (a process) per relation per hook.
		r.RemoteApp = juju.AppOf(units[0])
	default:
		r.RemoteApp, err = m.b.RelationRemoteApp(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading remote application of %s: %w", id, err)
	}
	return r, nil
}

// EventRelation loads the relation of a relation event; nil for others.
func (m *Model) EventRelation(ctx context.Context, ev juju.Event) (*Relation, error) {
	if !ev.IsRelation() || ev.RelationID == "" {
		return nil, nil
	}
	r, err := m.Relation(ctx, ev.RelationID)
	if err != nil {
		return nil, err
	}
	if r.RemoteApp == "" {
		r.RemoteApp = ev.RemoteApp
	}
	return r, nil
}

// PeerRelation returns the relation of the peer endpoint, or nil before
// Juju has created it (contract §3.2: peer -created runs after install).
func (m *Model) PeerRelation(ctx context.Context, endpoint string) (*Relation, error) {
	if !m.meta.IsPeer(endpoint) {
		return nil, fmt.Errorf("loading peer relation: %w %q (not a peer endpoint)", ErrUnknownEndpoint, endpoint)
	}
	rels, err := m.Relations(ctx, endpoint)
	if err != nil || len(rels) == 0 {
		return nil, err
	}
	return rels[0], nil
}

// Databag is one databag of a relation as read in this dispatch.
type Databag struct {
	// Owner is the unit or application the bag belongs to.
	Owner string
	// App is true for an application bag.
	App bool
	// Local is true for the local unit's or application's bag, the only
	// ones the unit may write.
	Local bool

	rel  *Relation
	data map[string]string
}

// Get returns a value; "" when unset.
func (d *Databag) Get(key string) string { return d.data[key] }

// Lookup returns a value and whether it is set.
func (d *Databag) Lookup(key string) (string, bool) {
	v, ok := d.data[key]
	return v, ok
}

// Map returns a copy of the bag.
func (d *Databag) Map() map[string]string { return maps.Clone(d.data) }

// Update writes changes to a local bag (an empty value deletes the key) and
// updates the copy read here. Remote bags are read-only.
func (d *Databag) Update(ctx context.Context, changes map[string]string) error {
	if !d.Local {
		return fmt.Errorf("writing databag of %s in %s: %w", d.Owner, d.rel.ID, ErrReadOnly)
	}
	var err error
	if d.App {
		err = d.rel.SetLocalAppData(ctx, changes)
	} else {
		err = d.rel.SetLocalUnitData(ctx, changes)
	}
	if err != nil {
		return err
	}
	for k, v := range changes {
		if v == "" {
			delete(d.data, k)
		} else {
			d.data[k] = v
		}
	}
	return nil
}

// UnitData reads a unit's bag: the local unit's or a remote one's.
func (r *Relation) UnitData(ctx context.Context, unit string) (*Databag, error) {
	local := unit == r.m.unit
	if !local && juju.AppOf(unit) != r.RemoteApp {
		return nil, fmt.Errorf("reading databag of %s in %s: %w: not a unit of %s", unit, r.ID, juju.ErrNotFound, r.RemoteApp)
	}
	return r.read(ctx, unit, false, local)
}

// LocalUnitData reads the local unit's bag.
func (r *Relation) LocalUnitData(ctx context.Context) (*Databag, error) {
	return r.read(ctx, r.m.unit, false, true)
}

// LocalAppData reads the local application's bag. A non-leader may read it
// only in a peer relation (contract §4); elsewhere it gets
// juju.ErrPermissionDenied without a tool running.
func (r *Relation) LocalAppData(ctx context.Context) (*Databag, error) {
	if !r.Peer {
		leader, err := r.m.IsLeader(ctx)
		if err != nil {
			return nil, err
		}
		if !leader {
			return nil, fmt.Errorf("reading application databag of %s in %s as a non-leader: %w", r.m.app, r.ID, juju.ErrPermissionDenied)
		}
	}
	return r.read(ctx, r.m.app, true, true)
}

// RemoteAppData reads the remote application's bag (for peers, the local
// application's, readable by every unit).
func (r *Relation) RemoteAppData(ctx context.Context) (*Databag, error) {
	if r.Peer {
		return r.LocalAppData(ctx)
	}
	return r.read(ctx, r.RemoteApp, true, false)
}

func (r *Relation) read(ctx context.Context, owner string, app, local bool) (*Databag, error) {
	data, err := r.m.b.RelationGet(ctx, r.ID, owner, app)
	if err != nil {
		return nil, fmt.Errorf("reading databag of %s in %s: %w", owner, r.ID, err)
	}
	r.m.registerSecretKeys(data)
	return &Databag{Owner: owner, App: app, Local: local, rel: r, data: data}, nil
}

// SetLocalUnitData writes keys of the local unit's bag; an empty value
// deletes.
func (r *Relation) SetLocalUnitData(ctx context.Context, changes map[string]string) error {
	return r.write(ctx, false, changes)
}

// SetLocalAppData writes keys of the local application's bag: leader only,
// refused with juju.ErrNotLeader before any tool runs.
func (r *Relation) SetLocalAppData(ctx context.Context, changes map[string]string) error {
	if err := r.m.requireLeader(ctx, "writing application databag in "+r.ID); err != nil {
		return err
	}
	return r.write(ctx, true, changes)
}

func (r *Relation) write(ctx context.Context, app bool, changes map[string]string) error {
	if len(changes) == 0 {
		return nil
	}
	for k := range changes {
		if strings.TrimSpace(k) == "" || strings.Contains(k, "=") {
			return fmt.Errorf("writing databag in %s: %w %q", r.ID, ErrInvalidKey, k)
		}
	}
	r.m.registerSecretKeys(changes)
	if err := r.m.b.RelationSet(ctx, r.ID, app, changes); err != nil {
		return fmt.Errorf("writing databag in %s: %w", r.ID, err)
	}
	return nil
}
