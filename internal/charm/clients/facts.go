package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Keys of the client relations' records.
const (
	// servedKeyPrefix + relation id ("served:db:5") is the peer app
	// databag key of a Served record (JSON).
	servedKeyPrefix = "served:"
	// hbaLoadedKey (unit state): hash of the pg_hba rules PostgreSQL was
	// last seen running with.
	hbaLoadedKey keys.State = "hba-loaded"
	// clientHBAKey (peer unit databag) is the hash of the client pg_hba
	// rules this unit's PostgreSQL runs with (HBAGate);
	// clientHBAStateKey remembers the value published.
	clientHBAKey      keys.Peer  = "client-hba"
	clientHBAStateKey keys.State = "published-client-hba"
	// servedSQLKey (unit state, leader): JSON map of relation id to the
	// fingerprint of the SQL last run for it (serveFingerprint), so a
	// hook that changes nothing about a relation runs none of its SQL.
	servedSQLKey keys.State = "served-sql"
	// publishedKey (unit state): JSON map of relation id to the
	// fingerprint of the data this unit last published on it
	// (publishFingerprint), so a steady hook writes no relation data
	// and reads no secret.
	publishedKey keys.State = "published-data"
)

// ServedSQLKey is the unit-state key of the leader's SQL fingerprints.
const ServedSQLKey = servedSQLKey

// Unit is this unit as the client slice sees it.
type Unit struct {
	Name    string // "postgresql/0"
	Address netip.Addr
	Leader  bool
	// Port is PostgreSQL's port; Operator the operator's password ("" before
	// the system users exist).
	Port     int
	Operator string `json:"-"`
	// Socket is the unit's PostgreSQL socket directory: the charm's
	// sessions with its own PostgreSQL go there, never over TCP, where a
	// process that took the port while PostgreSQL was down would get them.
	Socket string
	// Peers are the other units with their addresses.
	Peers []pgconf.Member
	// SecretsAvailable: the model has Juju secrets (3.0.3+).
	SecretsAvailable bool
}

// Self is this unit's PostgreSQL, reached as the operator through its
// socket directory.
func (u Unit) Self() postgres.Target { return u.operatorAt(u.Address.String(), u.Port) }

// operatorAt is the server at host reached as the operator: this unit's
// own through its socket directory, another unit's (the primary, from
// the leader) over TCP.
func (u Unit) operatorAt(host string, port int) postgres.Target {
	if u.Socket != "" && host == u.Address.String() {
		host = u.Socket
	}
	return postgres.Target{Host: host, Port: port, User: pgconf.OperatorUser, Password: u.Operator}
}

// Facts is the client slice's part of a snapshot: values only.
type Facts struct {
	// Relations are the live client relations (db, db-admin, database).
	Relations []Relation
	// Served are the leader's records of served relations, by id.
	Served map[string]Served
	// Passwords are the relation users' passwords, by relation id.
	Passwords map[string]string `json:"-"`
	// Server is what Patroni and PostgreSQL said; nil when they did not
	// answer or no client relation needs them.
	Server *ServerFacts
	// ServedSQL are the fingerprints of the client SQL last run, by
	// relation id (unit state, leader).
	ServedSQL map[string]string
	// HBALoaded is the hash of the pg_hba rules last seen loaded;
	// PublishedHBA the client rules' hash this unit told its peers, and
	// PeerHBA the hashes the peers published, by unit.
	HBALoaded, PublishedHBA string
	PeerHBA                 map[string]string
	// Published are the fingerprints of the data this unit last
	// published, by relation id (unit state).
	Published map[string]string
}

// Input is Decide's view of the facts.
func (f Facts) Input(leader, secrets bool) Input {
	return Input{Leader: leader, Relations: f.Relations, Served: f.Served, Passwords: f.Passwords,
		DB: f.Server, SecretsAvailable: secrets}
}

// Handles are the live relations the read found, for the apply step.
type Handles struct {
	rels map[string]*model.Relation
}

// ReadState reads what this unit remembers about its client relations.
func ReadState(log *slog.Logger, state map[keys.State]string, f *Facts) {
	f.HBALoaded, f.PublishedHBA = state[hbaLoadedKey], state[clientHBAStateKey]
	for key, dst := range map[keys.State]*map[string]string{servedSQLKey: &f.ServedSQL, publishedKey: &f.Published} {
		if raw := state[key]; raw != "" {
			if err := json.Unmarshal([]byte(raw), dst); err != nil {
				log.Warn("ignoring unreadable unit state", "key", key, "err", err)
			}
		}
	}
}

// ReadPeerUnit reads what a peer published about its client rules.
func ReadPeerUnit(unit string, bag map[string]string, f *Facts) {
	if v := bag[string(clientHBAKey)]; v != "" {
		if f.PeerHBA == nil {
			f.PeerHBA = map[string]string{}
		}
		f.PeerHBA[unit] = v
	}
}

// Read reads the live client relations (without the one breaking in this
// hook and without a departing unit), the leader's served records (peer
// app databag peerApp; nil before the peer relation exists) and the
// relation users' passwords.
func Read(ctx context.Context, h *juju.Hook, m *model.Model, u Unit, peerApp map[string]string, v credentials.Vault, f *Facts) (Handles, error) {
	hs := Handles{rels: map[string]*model.Relation{}}
	for _, ep := range Endpoints {
		if !m.Meta().HasEndpoint(ep) {
			continue
		}
		rels, err := m.Relations(ctx, ep)
		if err != nil {
			return hs, err
		}
		for _, r := range rels {
			if h.Event.Kind == juju.KindRelationBroken && h.Event.RelationID == r.ID {
				continue // Juju lists it no more; the fake may
			}
			cr, err := readRelation(ctx, h, u, ep, r)
			if err != nil {
				return hs, err
			}
			f.Relations = append(f.Relations, cr)
			hs.rels[r.ID] = r
		}
	}
	if peerApp == nil {
		return hs, nil
	}
	f.Served = readServed(h.Log, peerApp)
	if peerApp[string(credentials.ClientSecretIDKey)] == "" {
		// The leader shares the secret's id when it creates it: without
		// an id there is no secret to read (a steady standalone pass
		// saves the secret-get).
		return hs, nil
	}
	var err error
	f.Passwords, err = readPasswords(ctx, v)
	return hs, err
}

// readRelation reads one client relation's databags and this unit's
// ingress address on it.
func readRelation(ctx context.Context, h *juju.Hook, u Unit, ep string, r *model.Relation) (Relation, error) {
	cr := Relation{ID: r.ID, Endpoint: ep, App: r.RemoteApp, UnitData: map[string]map[string]string{}}
	app, err := r.RemoteAppData(ctx)
	if err != nil {
		return cr, err
	}
	cr.AppData = app.Map()
	for _, unit := range r.Units {
		if h.Event.Kind == juju.KindRelationDeparted && h.Event.RelationID == r.ID && unit == h.Event.RemoteUnit {
			continue
		}
		bag, err := r.UnitData(ctx, unit)
		if err != nil {
			return cr, err
		}
		cr.UnitData[unit] = bag.Map()
	}
	if u.Leader && ep == EndpointDatabase {
		// Only database relations publish in the application databag
		// (and read it back to keep their secrets choice).
		bag, err := r.LocalAppData(ctx)
		if err != nil {
			return cr, err
		}
		cr.LocalAppData = bag.Map()
	}
	if ni, err := h.Backend.NetworkGet(ctx, ep, r.ID); err == nil && ni.IngressAddress() != "" {
		cr.Host = ni.IngressAddress()
	} else if u.Address.IsValid() {
		cr.Host = u.Address.String()
	}
	return cr, nil
}

// readServed reads the leader's served records from the peer app databag.
func readServed(log *slog.Logger, peerApp map[string]string) map[string]Served {
	var out map[string]Served
	for k, v := range peerApp {
		id, ok := strings.CutPrefix(k, servedKeyPrefix)
		if !ok {
			continue
		}
		var rec Served
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			log.Warn("ignoring unreadable served record", "relation", id, "err", err)
			continue
		}
		if out == nil {
			out = map[string]Served{}
		}
		out[id] = rec
	}
	return out
}

// readPasswords reads the relation users' passwords from the vault into a
// map by relation id; nil when there are none yet.
func readPasswords(ctx context.Context, v credentials.Vault) (map[string]string, error) {
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

// writePasswords stores the passwords in the vault (a secret, created on
// first use, its id shared with the other units), or removes them when no
// relation is left.
func writePasswords(ctx context.Context, v credentials.Vault, passwords map[string]string) error {
	content := map[string]string{}
	for id, pw := range passwords {
		content[clientSecretKey(id)] = pw
	}
	return v.Write(ctx, credentials.ClientUsersDoc, content)
}

// clientSecretKey is a relation's key in the client-relations secret:
// "db:5" → "db-5" (Juju's key rule allows no colon).
func clientSecretKey(id string) string { return strings.ReplaceAll(id, ":", "-") }
