package charm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/postgres"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/patroni"
)

// fakeClientDB is a FAKE ClientDB recording what the charm asked for.
type fakeClientDB struct {
	facts     clients.ServerFacts
	serveErr  map[string]error // by user: what Serve returns
	served    []clients.Service
	passes    map[string]string // user → password last set
	revoked   []string
	withdrawn []string
	cleaned   []string // relations whose created roles were dropped
	rotated   []string
	hba       []string
	hbaCalls  int
	// drifted is what Drifted reports (relation id → why), and
	// driftChecks counts its calls and driftWants what they asked.
	drifted     map[string]string
	driftChecks int
	driftWants  []string
}

func (f *fakeClientDB) Drifted(_ context.Context, _ postgres.Target, wants []clientdb.Want) (map[string]string, error) {
	f.driftChecks++
	out := map[string]string{}
	for _, w := range wants {
		f.driftWants = append(f.driftWants, w.ID)
		if why, ok := f.drifted[w.ID]; ok {
			out[w.ID] = why
		}
	}
	return out, nil
}

func (f *fakeClientDB) Facts(context.Context, *patroni.Client, string, postgres.Target) (*clients.ServerFacts, error) {
	facts := f.facts
	return &facts, nil
}

func (f *fakeClientDB) Serve(_ context.Context, _ postgres.Target, s clients.Service, password string) error {
	if err := f.serveErr[s.User]; err != nil {
		return err
	}
	f.served = append(f.served, s)
	if f.passes == nil {
		f.passes = map[string]string{}
	}
	f.passes[s.User] = password
	return nil
}

func (f *fakeClientDB) Revoke(_ context.Context, _ postgres.Target, user string) error {
	f.revoked = append(f.revoked, user)
	return nil
}

func (f *fakeClientDB) Withdraw(_ context.Context, _ postgres.Target, user string) (bool, error) {
	f.withdrawn = append(f.withdrawn, user)
	return true, nil
}

func (f *fakeClientDB) DropCreatedRoles(_ context.Context, _ postgres.Target, relation string, _, _ []string) (clientdb.CreatedRolesReport, error) {
	f.cleaned = append(f.cleaned, relation)
	return clientdb.CreatedRolesReport{}, nil
}

func (f *fakeClientDB) Rotate(_ context.Context, _ postgres.Target, user, password string) error {
	f.rotated = append(f.rotated, user)
	f.passes[user] = password
	return nil
}

func (f *fakeClientDB) WaitRole(context.Context, postgres.Target, string, time.Duration) (bool, error) {
	return true, nil
}

func (f *fakeClientDB) LoadHBA(_ context.Context, _ postgres.Target, lines []string, _ func(context.Context) error) error {
	f.hba, f.hbaCalls = lines, f.hbaCalls+1
	return nil
}

type harness struct {
	t  *testing.T
	ch *jujutest.Charm
	d  *juju.Dispatcher
	db *fakeClientDB
	wl *fakeWorkload
	// clk is the charm's clock: it stands at harnessEpoch and moves only
	// when a wait waits (by the time waited) or a test advances it.
	clk *clock.Fake
}

// harnessEpoch is when the harness's clock starts.
var harnessEpoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const harnessUnit = "postgresql/0"

func newHarness(t *testing.T) (*harness, jujutest.State) {
	t.Helper()
	h, st := newBareHarness(t, "3.6.25")
	st.Relations = []jujutest.Relation{{ID: 0, Endpoint: PeerEndpoint, RemoteApp: "postgresql"}}
	st.Secrets = []jujutest.Secret{{Label: credentials.SecretLabel, Content: withTestCA(t, map[string]string{
		"operator-password": "o", "replication-password": "r", "rewind-password": "w", "patroni-password": "p", "etcd-password": "e"})}}
	// Bootstrap once so the unit has applied parameters.
	st = h.run(st, h.ch.Hook("install"))
	return h, st
}

func (h *harness) run(in jujutest.State, ev juju.Event) jujutest.State {
	h.t.Helper()
	out, err := h.ch.Run(context.Background(), h.d, in, ev)
	if err != nil {
		h.t.Fatalf("%s: %v\nlogs: %v", ev.Name, err, out.Logs)
	}
	return out
}

func (h *harness) relationEvent(st jujutest.State, kind juju.EventKind, key, unit string) juju.Event {
	r, ok := st.RelationByKey(key)
	if !ok {
		h.t.Fatalf("no relation %s", key)
	}
	return h.ch.RelationEvent(kind, r, unit)
}

func relationIndex(st jujutest.State, key string) int {
	return slices.IndexFunc(st.Relations, func(r jujutest.Relation) bool { return r.Key() == key })
}

func TestClientRelationsHarness(t *testing.T) {
	t.Run("db joined: one relation-set with every key, allowed after pg_hba loaded, record kept by the leader", func(t *testing.T) {
		h, st := newHarness(t)
		st.Relations = append(st.Relations, jujutest.Relation{ID: 5, Endpoint: "db", RemoteApp: "pg-client",
			RemoteUnitsData: map[string]map[string]string{
				"pg-client/0": with(clientUnit("10.0.0.21"), "database", "app", "roles", "analytics", "extensions", "citext"),
				"pg-client/1": clientUnit("10.0.0.22")}})
		st = h.run(st, h.relationEvent(st, juju.KindRelationJoined, "db:5", "pg-client/0"))
		bag := st.Relations[relationIndex(st, "db:5")].LocalUnitData
		for k, want := range map[string]string{"database": "app", "user": "relation_5_pg_client", "schema_user": "relation_5_pg_client",
			"state": "standalone", "port": "5432", "host": "10.0.0.10", "roles": "analytics", "extensions": "citext",
			"allowed-units": "pg-client/0 pg-client/1", "allowed-subnets": "10.0.0.21/32,10.0.0.22/32", "version": "15.10"} {
			if bag[k] != want {
				t.Errorf("%s = %q, want %q", k, bag[k], want)
			}
		}
		pw := h.db.passes["relation_5_pg_client"]
		if len(pw) < 32 || bag["password"] != pw || !strings.Contains(bag["master"], "password="+pw) {
			t.Errorf("password %q published %q master %q", pw, bag["password"], bag["master"])
		}
		if !slices.Contains(h.db.hba, "host      app          relation_5_pg_client 10.0.0.21/32       scram-sha-256") &&
			!slices.ContainsFunc(h.db.hba, func(l string) bool {
				return strings.Join(strings.Fields(l), " ") == "host app relation_5_pg_client 10.0.0.21/32 scram-sha-256"
			}) {
			t.Errorf("pg_hba loaded: %q", h.db.hba)
		}
		if st.UnitStatus != juju.Active("Primary") {
			t.Errorf("status %v", st.UnitStatus)
		}
		peer := st.Relations[relationIndex(st, PeerEndpoint+":0")].LocalAppData
		if !strings.Contains(peer["served:db:5"], `"user":"relation_5_pg_client"`) || peer[string(credentials.ClientSecretIDKey)] == "" {
			t.Errorf("peer app databag %v", peer)
		}
		if sec, ok := st.SecretByLabel(credentials.ClientSecretLabel); !ok || sec.Content["db-5"] != pw {
			t.Errorf("client secret %+v", sec)
		}

		// Departed: pg-client/1 leaves; the unit drops it from both lists
		// and pg_hba, and the password is unchanged.
		i := relationIndex(st, "db:5")
		delete(st.Relations[i].RemoteUnitsData, "pg-client/1")
		calls := h.db.hbaCalls
		st = h.run(st, h.relationEvent(st, juju.KindRelationDeparted, "db:5", "pg-client/1"))
		bag = st.Relations[i].LocalUnitData
		if bag["allowed-units"] != "pg-client/0" || bag["allowed-subnets"] != "10.0.0.21/32" || bag["password"] != pw {
			t.Errorf("after departed: %v", bag)
		}
		if h.db.hbaCalls != calls+1 || slices.ContainsFunc(h.db.hba, func(l string) bool { return strings.Contains(l, "10.0.0.22") }) {
			t.Errorf("pg_hba after departed (%d loads): %q", h.db.hbaCalls-calls, h.db.hba)
		}

		// A no-op hook reloads nothing.
		calls = h.db.hbaCalls
		st = h.run(st, h.ch.Hook("update-status"))
		if h.db.hbaCalls != calls {
			t.Errorf("update-status reloaded pg_hba")
		}

		// Rotation: a new password on the role and in the databag.
		st2, res, err := h.ch.RunAction(context.Background(), h.d, st, "rotate-relation-password", map[string]any{"relation-id": 5})
		if err != nil || res.Failed {
			t.Fatalf("rotate: %v %+v", err, res)
		}
		newPw := st2.Relations[i].LocalUnitData["password"]
		if newPw == pw || newPw != h.db.passes["relation_5_pg_client"] || !slices.Equal(h.db.rotated, []string{"relation_5_pg_client"}) {
			t.Errorf("rotation: published %q role %q rotated %v", newPw, h.db.passes["relation_5_pg_client"], h.db.rotated)
		}
		if strings.Contains(strings.Join(res.Logs, " "), newPw) || strings.Contains(res.Results["result"], newPw) {
			t.Error("the new password leaked into the action output")
		}

		// Broken: the user is revoked, the record and password forgotten.
		ev := h.relationEvent(st2, juju.KindRelationBroken, "db:5", "")
		st2 = h.run(st2, ev)
		if !slices.Equal(h.db.revoked, []string{"relation_5_pg_client"}) {
			t.Errorf("revoked %v", h.db.revoked)
		}
		peer = st2.Relations[relationIndex(st2, PeerEndpoint+":0")].LocalAppData
		if _, ok := peer["served:db:5"]; ok {
			t.Errorf("record kept after broken: %v", peer)
		}
		if slices.ContainsFunc(h.db.hba, func(l string) bool { return strings.Contains(l, "relation_5") }) {
			t.Errorf("pg_hba after broken: %q", h.db.hba)
		}
	})

	t.Run("bad input refuses only its relation: Blocked names it, no SQL from it, the healthy one is served", func(t *testing.T) {
		h, st := newHarness(t)
		st.Relations = append(st.Relations,
			jujutest.Relation{ID: 5, Endpoint: "db", RemoteApp: "evil", RemoteUnitsData: map[string]map[string]string{
				"evil/0": with(clientUnit("10.0.0.21"), "database", `x"; DROP DATABASE app; --`)}},
			jujutest.Relation{ID: 6, Endpoint: "database", RemoteApp: "bad-roles", RemoteAppData: map[string]string{"database": "app", "extra-user-roles": "nosuchrole"},
				RemoteUnitsData: map[string]map[string]string{"bad-roles/0": clientUnit("10.0.0.22")}},
			jujutest.Relation{ID: 7, Endpoint: "db", RemoteApp: "noext", RemoteUnitsData: map[string]map[string]string{
				"noext/0": with(clientUnit("10.0.0.23"), "extensions", "nosuchext")}},
			jujutest.Relation{ID: 8, Endpoint: "db", RemoteApp: "good", RemoteUnitsData: map[string]map[string]string{
				"good/0": clientUnit("10.0.0.24")}})
		st.StatusHistory = nil
		st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "db:5", "evil/0"))
		if st.UnitStatus.Level != juju.StatusBlocked || !strings.HasPrefix(st.UnitStatus.Message, `db:5: database "x\"; DROP`) ||
			!strings.HasSuffix(st.UnitStatus.Message, "(and 2 more relations refused: database:6, db:7)") {
			t.Errorf("status %v", st.UnitStatus)
		}
		var served []string
		for _, s := range h.db.served {
			served = append(served, s.ID)
		}
		if !slices.Equal(served, []string{"db:8"}) {
			t.Errorf("served %v", served)
		}
		for _, key := range []string{"db:5", "database:6", "db:7"} {
			r := st.Relations[relationIndex(st, key)]
			if len(r.LocalUnitData) != 0 || len(r.LocalAppData) != 0 {
				t.Errorf("%s published %v %v", key, r.LocalUnitData, r.LocalAppData)
			}
		}
		if got := st.Relations[relationIndex(st, "db:8")].LocalUnitData["allowed-units"]; got != "good/0" {
			t.Errorf("healthy relation allowed-units %q", got)
		}
		if len(st.StatusHistory) != 1 {
			t.Errorf("status set %d times: %v", len(st.StatusHistory), st.StatusHistory)
		}
	})

	t.Run("database: app-level changed publishes everything in one hook, credentials in a secret granted to the relation", func(t *testing.T) {
		h, st := newHarness(t)
		st.Relations = append(st.Relations, jujutest.Relation{ID: 7, Endpoint: "database", RemoteApp: "myapp",
			RemoteAppData:   map[string]string{"database": "app", "requested-secrets": `["username", "password", "tls", "tls-ca", "uris"]`},
			RemoteUnitsData: map[string]map[string]string{"myapp/0": clientUnit("10.0.0.31")}})
		st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "database:7", ""))
		bag := st.Relations[relationIndex(st, "database:7")].LocalAppData
		for k, want := range map[string]string{"database": "app", "endpoints": "10.0.0.10:5432", "read-only-endpoints": "10.0.0.10:5432", "version": "15.10"} {
			if bag[k] != want {
				t.Errorf("%s = %q, want %q", k, bag[k], want)
			}
		}
		for _, k := range []string{"username", "password", "uris"} {
			if bag[k] != "" {
				t.Errorf("%s in the databag although requested as a secret", k)
			}
		}
		sec, ok := st.SecretByLabel("database.7.user.secret")
		if !ok || bag["secret-user"] != sec.ID || sec.Content["username"] != "relation_7_myapp" ||
			sec.Content["password"] != h.db.passes["relation_7_myapp"] || !strings.HasPrefix(sec.Content["uris"], "postgresql://relation_7_myapp:") {
			t.Errorf("secret %+v, databag %v", sec, bag)
		}
		if !slices.Equal(sec.Grants["database:7"], []string{"myapp"}) {
			t.Errorf("grants %v", sec.Grants)
		}
		// A second hook changes nothing: same secret revision, same bag.
		rev := sec.Revision
		st = h.run(st, h.ch.Hook("update-status"))
		if sec2, _ := st.SecretByLabel("database.7.user.secret"); sec2.Revision != rev {
			t.Errorf("secret revision moved %d → %d", rev, sec2.Revision)
		}
		// Broken: revoked and the secret removed.
		st = h.run(st, h.relationEvent(st, juju.KindRelationBroken, "database:7", ""))
		if _, ok := st.SecretByLabel("database.7.user.secret"); ok || !slices.Equal(h.db.revoked, []string{"relation_7_myapp"}) {
			t.Errorf("after broken: secret kept %v, revoked %v", ok, h.db.revoked)
		}
		// ... and the roles it created dropped (issue 9 item 5).
		if !slices.Equal(h.db.cleaned, []string{"database:7"}) {
			t.Errorf("created roles dropped for %v, want [database:7]", h.db.cleaned)
		}
	})

	t.Run("database without requested-secrets publishes plain fields; a changed database is refused", func(t *testing.T) {
		h, st := newHarness(t)
		st.Relations = append(st.Relations, jujutest.Relation{ID: 7, Endpoint: "database", RemoteApp: "myapp",
			RemoteAppData:   map[string]string{"database": "app"},
			RemoteUnitsData: map[string]map[string]string{"myapp/0": clientUnit("10.0.0.31")}})
		st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "database:7", ""))
		i := relationIndex(st, "database:7")
		bag := st.Relations[i].LocalAppData
		if bag["username"] != "relation_7_myapp" || bag["password"] == "" || bag["secret-user"] != "" || bag["tls"] != "False" ||
			!strings.HasSuffix(bag["uris"], "@10.0.0.10:5432/app") {
			t.Errorf("databag %v", bag)
		}
		st.Relations[i].RemoteAppData["database"] = "other"
		n := len(h.db.served)
		st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "database:7", ""))
		if st.UnitStatus.Level != juju.StatusBlocked || !strings.HasPrefix(st.UnitStatus.Message, "database:7: requested database changed") {
			t.Errorf("status %v", st.UnitStatus)
		}
		if len(h.db.served) != n || st.Relations[i].LocalAppData["database"] != "app" {
			t.Errorf("served again (%d) or databag changed: %v", len(h.db.served)-n, st.Relations[i].LocalAppData)
		}
	})

	t.Run("a hook that changes nothing about a relation runs none of its SQL; update-status checks every relation at once and serves what drifted; a new request runs it", func(t *testing.T) {
		h, st := newHarness(t)
		st.Relations = append(st.Relations, jujutest.Relation{ID: 5, Endpoint: "db", RemoteApp: "pg-client",
			RemoteUnitsData: map[string]map[string]string{"pg-client/0": with(clientUnit("10.0.0.21"), "database", "app")}})
		changed := func() { st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "db:5", "pg-client/0")) }
		changed()
		if len(h.db.served) != 1 {
			t.Fatalf("first hook served %d times", len(h.db.served))
		}
		changed()
		if len(h.db.served) != 1 {
			t.Errorf("an unchanged relation ran its SQL again (%d)", len(h.db.served))
		}
		st = h.run(st, h.ch.Hook("update-status"))
		if len(h.db.served) != 1 || h.db.driftChecks != 1 || !slices.Equal(h.db.driftWants, []string{"db:5"}) {
			t.Errorf("update-status with nothing changed by hand: served %d times, %d drift checks of %v", len(h.db.served), h.db.driftChecks, h.db.driftWants)
		}
		h.db.drifted = map[string]string{"db:5": `user "relation_5_pg_client" is missing`}
		st = h.run(st, h.ch.Hook("update-status"))
		if len(h.db.served) != 2 {
			t.Errorf("update-status did not re-run the SQL of a relation changed by hand (%d)", len(h.db.served))
		}
		h.db.drifted = nil
		st.Relations[relationIndex(st, "db:5")].RemoteUnitsData["pg-client/0"]["roles"] = "analytics"
		changed()
		if len(h.db.served) != 3 || !slices.Equal(h.db.served[2].Roles, []string{"analytics"}) {
			t.Errorf("a new request was not served: %+v", h.db.served)
		}
		// Leadership gone: the fingerprints go with it.
		st.Leader = false
		st = h.run(st, h.ch.Hook("update-status"))
		if st.StoredState[string(clients.ServedSQLKey)] != "" {
			t.Errorf("a non-leader keeps the served-SQL fingerprints: %q", st.StoredState[string(clients.ServedSQLKey)])
		}
	})

	t.Run("SQL refused for what a client asked blocks that relation only; the hook succeeds and the other is published", func(t *testing.T) {
		h, st := newHarness(t)
		h.db.serveErr = map[string]error{"relation_5_bad": fmt.Errorf("granting role %s: %w: has LOGIN", "admin_user", clientdb.ErrRoleNotGrantable)}
		st.Relations = append(st.Relations,
			jujutest.Relation{ID: 5, Endpoint: "db", RemoteApp: "bad",
				RemoteUnitsData: map[string]map[string]string{"bad/0": with(clientUnit("10.0.0.21"), "database", "app", "roles", "admin_user")}},
			jujutest.Relation{ID: 6, Endpoint: "db", RemoteApp: "good",
				RemoteUnitsData: map[string]map[string]string{"good/0": with(clientUnit("10.0.0.22"), "database", "app")}})
		st = h.run(st, h.relationEvent(st, juju.KindRelationJoined, "db:6", "good/0"))
		if st.UnitStatus.Level != juju.StatusBlocked || !strings.HasPrefix(st.UnitStatus.Message, "db:5: granting role admin_user") {
			t.Errorf("status %v", st.UnitStatus)
		}
		if bag := st.Relations[relationIndex(st, "db:5")].LocalUnitData; bag["password"] != "" || bag["allowed-units"] != "" {
			t.Errorf("the refused relation got data: %v", bag)
		}
		if bag := st.Relations[relationIndex(st, "db:6")].LocalUnitData; bag["allowed-units"] != "good/0" {
			t.Errorf("the healthy relation was not published: %v", bag)
		}
	})

	t.Run("rotate-relation-password refuses bad ids and non-leaders", func(t *testing.T) {
		h, st := newHarness(t)
		for _, p := range []map[string]any{{"relation-id": 42}, {"relation-id": "db:x"}} {
			_, res, err := h.ch.RunAction(context.Background(), h.d, st, "rotate-relation-password", p)
			if err != nil || !res.Failed {
				t.Errorf("%v: %v %+v", p, err, res)
			}
		}
		st.Leader = false
		_, res, err := h.ch.RunAction(context.Background(), h.d, st, "rotate-relation-password", map[string]any{"relation-id": 5})
		if err != nil || !res.Failed || !strings.Contains(res.Message, "leader") {
			t.Errorf("non-leader: %v %+v", err, res)
		}
	})
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// standaloneFacts is a standalone primary's server facts.
func standaloneFacts() *clients.ServerFacts {
	return &clients.ServerFacts{Primary: "10.0.0.10", SelfPrimary: true, Port: 5432, Version: "15.10",
		Roles: &clientdb.RoleGraph{Roles: map[string]*clientdb.RoleInfo{"reporting": {ClientGroup: true}}}, Extensions: map[string]bool{"citext": true, "pg_trgm": true}}
}

// clientUnit is a client unit's databag as Juju fills it.
func clientUnit(addr string) map[string]string {
	return map[string]string{"egress-subnets": addr + "/32", "ingress-address": addr, "private-address": addr}
}
