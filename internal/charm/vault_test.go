package charm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// newBareHarness is a unit before install: no secret, no peer relation.
func newBareHarness(t *testing.T, version string) (*harness, jujutest.State) {
	t.Helper()
	ch, err := jujutest.LoadCharm("../..")
	if err != nil {
		t.Fatal(err)
	}
	db := &fakeClientDB{facts: *standaloneFacts()}
	wl := newFakeWorkload(t, harnessUnit, "10.0.0.10")
	clk := clock.NewFake(harnessEpoch)
	c := &Charm{Workload: wl, ClientDB: db, Clock: clk}
	d := juju.NewDispatcher()
	c.Register(d)
	st := jujutest.State{UnitName: harnessUnit, Leader: true, PrivateAddress: "10.0.0.10", JujuVersion: version,
		Storage: []jujutest.Storage{{Name: "pgdata", Location: t.TempDir()}}}
	return &harness{t: t, ch: ch, d: d, db: db, wl: wl, clk: clk}, st
}

// Juju 2.9 has no secrets (contract §2.2): the passwords live in the peer
// application databag, which Juju creates after install; database
// relations get plain fields.
func TestJuju29KeepsPasswordsInThePeerRelation(t *testing.T) {
	h, st := newBareHarness(t, "2.9.46")
	st = h.run(st, h.ch.Hook("install"))
	if want := juju.Waiting("waiting for the peer relation to store the system users"); st.UnitStatus != want {
		t.Fatalf("after install: %v, want %v", st.UnitStatus, want)
	}
	st.Relations = []jujutest.Relation{{ID: 0, Endpoint: PeerEndpoint, RemoteApp: "postgresql"}}
	st = h.run(st, h.relationEvent(st, juju.KindRelationCreated, PeerEndpoint+":0", ""))
	var doc map[string]string
	if err := json.Unmarshal([]byte(st.Relations[0].LocalAppData[string(credentials.SecretIDKey)]), &doc); err != nil {
		t.Fatalf("no system users in the peer app databag: %v", err)
	}
	operator := doc[userKey("operator")]
	if len(operator) < 32 || len(st.Secrets) != 0 {
		t.Fatalf("operator password of %d characters, %d secrets", len(operator), len(st.Secrets))
	}
	if st.UnitStatus.Level != juju.StatusActive {
		t.Errorf("status %v", st.UnitStatus)
	}

	_, res, err := h.ch.RunAction(context.Background(), h.d, st, "get-password", map[string]any{"username": "operator"})
	if err != nil || res.Failed || res.Results["password"] != operator {
		t.Errorf("get-password: %v %+v", err, res.Failed)
	}
	out, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", map[string]any{"username": "operator"})
	if err != nil || res.Failed {
		t.Fatalf("set-password: %v %+v", err, res)
	}
	json.Unmarshal([]byte(out.Relations[0].LocalAppData[string(credentials.SecretIDKey)]), &doc)
	if doc[userKey("operator")] != res.Results["password"] || h.wl.roles["operator"] != res.Results["password"] {
		t.Errorf("set-password did not store or apply the new password")
	}
	st = out

	st.Relations = append(st.Relations, jujutest.Relation{ID: 7, Endpoint: "database", RemoteApp: "myapp",
		RemoteAppData:   map[string]string{"database": "app", "requested-secrets": `["username", "password"]`},
		RemoteUnitsData: map[string]map[string]string{"myapp/0": clientUnit("10.0.0.31")}})
	st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "database:7", ""))
	bag := st.Relations[relationIndex(st, "database:7")].LocalAppData
	if bag["username"] != "relation_7_myapp" || bag["password"] == "" || bag["secret-user"] != "" {
		t.Errorf("database databag without secrets: %v", bag)
	}
	if !strings.Contains(st.Relations[0].LocalAppData[string(credentials.ClientSecretIDKey)], bag["password"]) {
		t.Errorf("the relation password is not kept in the peer relation")
	}
	for _, l := range st.Logs {
		if strings.Contains(l.Message, operator) || strings.Contains(l.Message, bag["password"]) {
			t.Errorf("a password in the log: %q", l.Message)
		}
	}

	// A second unit reads the passwords from the peer relation: it does
	// not wait for the leader to create them.
	st.UnitName, st.Leader = "postgresql/1", false
	st.StoredState = nil
	st = h.run(st, h.ch.Hook("config-changed"))
	if strings.Contains(st.UnitStatus.Message, "create the system users") {
		t.Errorf("a non-leader does not see the passwords: %v", st.UnitStatus)
	}
}

// A secret created in install, before Juju created the peer relation, is
// shared with the other units as soon as the relation exists.
func TestSecretCreatedBeforeThePeerRelationIsShared(t *testing.T) {
	h, st := newBareHarness(t, "3.6.25")
	st = h.run(st, h.ch.Hook("install"))
	if _, ok := st.SecretByLabel(credentials.SecretLabel); !ok {
		t.Fatal("install created no system-users secret")
	}
	st.Relations = []jujutest.Relation{{ID: 0, Endpoint: PeerEndpoint, RemoteApp: "postgresql"}}
	st = h.run(st, h.relationEvent(st, juju.KindRelationCreated, PeerEndpoint+":0", ""))
	sec, _ := st.SecretByLabel(credentials.SecretLabel)
	if got := st.Relations[0].LocalAppData[string(credentials.SecretIDKey)]; got != sec.ID {
		t.Errorf("shared id %q, want %q", got, sec.ID)
	}
}

// Contract §3.10: when no unit tracks an old revision of a secret the
// application owns, the owner gets secret-remove and deletes it.
func TestSecretRemoveDeletesTheUnusedRevision(t *testing.T) {
	h, st := newHarness(t)
	for i := range st.Secrets {
		if st.Secrets[i].Label == credentials.SecretLabel {
			st.Secrets[i].Revision = 2 // after a rotation
		}
	}
	sec, _ := st.SecretByLabel(credentials.SecretLabel)
	ev := juju.Event{Kind: juju.KindSecretRemove, Name: "secret-remove", SecretID: sec.ID, SecretLabel: credentials.SecretLabel, SecretRevision: "1"}
	out := h.run(st, ev)
	if got, ok := out.SecretByLabel(credentials.SecretLabel); !ok || got.Content["operator-password"] != sec.Content["operator-password"] {
		t.Fatalf("the latest revision went with the old one")
	}
	logged := false
	for _, l := range out.Logs {
		logged = logged || strings.Contains(l.Message, "removed an unused secret revision")
	}
	if !logged {
		t.Errorf("no log of the removal: %v", out.Logs)
	}
}
