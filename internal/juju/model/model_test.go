package model_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// counting records which tools ran.
type counting struct {
	juju.Backend
	calls []string
}

func (c *counting) IsLeader(ctx context.Context) (bool, error) {
	c.calls = append(c.calls, "is-leader")
	return c.Backend.IsLeader(ctx)
}

func (c *counting) RelationGet(ctx context.Context, id, target string, app bool) (map[string]string, error) {
	c.calls = append(c.calls, "relation-get "+target)
	return c.Backend.RelationGet(ctx, id, target, app)
}

func (c *counting) RelationSet(ctx context.Context, id string, app bool, data map[string]string) error {
	c.calls = append(c.calls, "relation-set")
	return c.Backend.RelationSet(ctx, id, app, data)
}

func (c *counting) SecretAdd(ctx context.Context, content map[string]string, opts juju.SecretAddOptions) (string, error) {
	c.calls = append(c.calls, "secret-add")
	return c.Backend.SecretAdd(ctx, content, opts)
}

func loadCharm(t *testing.T) *jujutest.Charm {
	t.Helper()
	c, err := jujutest.LoadCharm("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	dbRel = jujutest.Relation{ID: 3, Endpoint: "db", RemoteApp: "pg-client",
		LocalAppData:    map[string]string{"database": "app"},
		RemoteAppData:   map[string]string{"requested": "yes"},
		RemoteUnitsData: map[string]map[string]string{"pg-client/0": {"private-address": "10.0.0.5"}}}
	peerRel = jujutest.Relation{ID: 1, Endpoint: "database-peers",
		LocalAppData:    map[string]string{"secret-id": "secret://x"},
		RemoteUnitsData: map[string]map[string]string{"postgresql/1": {"private-address": "10.0.0.11"}}}
)

func newModel(t *testing.T, leader bool) (*model.Model, *counting, *jujutest.Fake, *juju.Redactor) {
	c := loadCharm(t)
	f := jujutest.NewFake(c, jujutest.State{Leader: leader, Relations: []jujutest.Relation{dbRel, peerRel},
		Storage: []jujutest.Storage{{Name: "pgdata", Index: 0, Location: "/srv/pgdata"}}})
	b := &counting{Backend: f}
	red := &juju.Redactor{}
	return model.New(b, "postgresql/0", c.Meta, model.Options{Redactor: red}), b, f, red
}

func TestDatabagRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		leader    bool
		run       func(m *model.Model) error
		wantErr   error
		wantCalls []string
	}{
		{
			name:   "a non-leader writing the app databag is refused before any tool runs",
			leader: false,
			run: func(m *model.Model) error {
				r, err := m.Relation(ctx, "db:3")
				if err != nil {
					return err
				}
				return r.SetLocalAppData(ctx, map[string]string{"k": "v"})
			},
			wantErr:   juju.ErrNotLeader,
			wantCalls: []string{"is-leader"},
		},
		{
			name:   "a non-leader reading its own app databag in a non-peer relation is refused",
			leader: false,
			run: func(m *model.Model) error {
				r, err := m.Relation(ctx, "db:3")
				if err != nil {
					return err
				}
				_, err = r.LocalAppData(ctx)
				return err
			},
			wantErr:   juju.ErrPermissionDenied,
			wantCalls: []string{"is-leader"},
		},
		{
			name:   "a non-leader reads the peer app databag",
			leader: false,
			run: func(m *model.Model) error {
				r, err := m.PeerRelation(ctx, "database-peers")
				if err != nil {
					return err
				}
				bag, err := r.LocalAppData(ctx)
				if err == nil && bag.Get("secret-id") != "secret://x" {
					return errors.New("wrong peer app data")
				}
				return err
			},
			wantCalls: []string{"relation-get postgresql"},
		},
		{
			name:   "a non-leader writing the peer app databag is still refused",
			leader: false,
			run: func(m *model.Model) error {
				r, _ := m.PeerRelation(ctx, "database-peers")
				bag, err := r.LocalAppData(ctx)
				if err != nil {
					return err
				}
				return bag.Update(ctx, map[string]string{"k": "v"})
			},
			wantErr:   juju.ErrNotLeader,
			wantCalls: []string{"relation-get postgresql", "is-leader"},
		},
		{
			name:   "the leader writes the app databag; leadership is asked once",
			leader: true,
			run: func(m *model.Model) error {
				r, _ := m.Relation(ctx, "db:3")
				bag, err := r.LocalAppData(ctx)
				if err != nil {
					return err
				}
				if err := bag.Update(ctx, map[string]string{"database": "", "user": "u"}); err != nil {
					return err
				}
				if diff := cmp.Diff(map[string]string{"user": "u"}, bag.Map()); diff != "" {
					return errors.New(diff)
				}
				return nil
			},
			wantCalls: []string{"is-leader", "relation-get postgresql", "relation-set"},
		},
		{
			name:   "remote databags are read-only",
			leader: true,
			run: func(m *model.Model) error {
				r, _ := m.Relation(ctx, "db:3")
				bag, err := r.UnitData(ctx, "pg-client/0")
				if err != nil {
					return err
				}
				return bag.Update(ctx, map[string]string{"k": "v"})
			},
			wantErr:   model.ErrReadOnly,
			wantCalls: []string{"relation-get pg-client/0"},
		},
		{
			name:   "a unit of another application is not in the relation",
			leader: true,
			run: func(m *model.Model) error {
				r, _ := m.Relation(ctx, "db:3")
				_, err := r.UnitData(ctx, "other/0")
				return err
			},
			wantErr: juju.ErrNotFound,
		},
		{
			name:    "an endpoint the charm does not declare",
			run:     func(m *model.Model) error { _, err := m.Relations(ctx, "nosuch"); return err },
			wantErr: model.ErrUnknownEndpoint,
		},
		{
			name:   "a non-leader adding an application secret is refused before secret-add",
			leader: false,
			run: func(m *model.Model) error {
				_, err := m.AddSecret(ctx, map[string]string{"operator-password": "p"}, juju.SecretAddOptions{Label: "system-users"})
				return err
			},
			wantErr:   juju.ErrNotLeader,
			wantCalls: []string{"is-leader"},
		},
		{
			name:   "a non-leader may add a unit secret",
			leader: false,
			run: func(m *model.Model) error {
				_, err := m.AddSecret(ctx, map[string]string{"tls-key": "k"}, juju.SecretAddOptions{Owner: juju.SecretOwnerUnit})
				return err
			},
			wantCalls: []string{"secret-add"},
		},
		{
			name:   "secret keys follow Juju's rule",
			leader: true,
			run: func(m *model.Model) error {
				_, err := m.AddSecret(ctx, map[string]string{"Operator_Password": "p"}, juju.SecretAddOptions{})
				return err
			},
			wantErr: model.ErrInvalidKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, b, _, _ := newModel(t, tt.leader)
			err := tt.run(m)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, b.calls); diff != "" {
				t.Errorf("tool calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRelationsAndMembers(t *testing.T) {
	ctx := context.Background()
	m, _, _, _ := newModel(t, false)
	rels, err := m.Relations(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 1 {
		t.Fatalf("relations = %d", len(rels))
	}
	r := rels[0]
	got := []any{r.ID, r.Endpoint, r.RemoteApp, r.Units, r.Peer}
	want := []any{"db:3", "db", "pg-client", []string{"pg-client/0"}, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relation (-want +got):\n%s", diff)
	}
	peer, err := m.PeerRelation(ctx, "database-peers")
	if err != nil || peer.RemoteApp != "postgresql" || !peer.Peer {
		t.Errorf("peer = %+v, %v", peer, err)
	}
	app, err := r.RemoteAppData(ctx)
	if err != nil || app.Get("requested") != "yes" || app.Local {
		t.Errorf("remote app data = %+v, %v", app, err)
	}
}

func TestSecretsAreRegisteredWithTheRedactor(t *testing.T) {
	ctx := context.Background()
	m, _, _, red := newModel(t, true)
	id, err := m.AddSecret(ctx, map[string]string{"operator-password": "generated-password-1234567890ab", "generation": "1",
		"api-token": "tok", "cert": "a-long-value-under-a-plain-key"}, juju.SecretAddOptions{Label: "system-users"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.GetSecret(ctx, "", juju.SecretGetOptions{Label: "system-users"})
	if err != nil || got["operator-password"] != "generated-password-1234567890ab" {
		t.Fatalf("GetSecret = %v, %v", got, err)
	}
	r, _ := m.Relation(ctx, "db:3")
	if err := r.SetLocalAppData(ctx, map[string]string{"password": "client-password-xyz"}); err != nil {
		t.Fatal(err)
	}
	line := red.Redact("id " + id + " pw generated-password-1234567890ab client client-password-xyz")
	if strings.Contains(line, "generated-password") || strings.Contains(line, "client-password") {
		t.Errorf("redacted line leaks: %s", line)
	}
	// A short value under a secret key is hidden, a long one under any
	// key too; a short plain one ("generation": "1") is not, or every
	// "1" in every line would go.
	line = red.Redact("tok a-long-value-under-a-plain-key port 5432 member 1")
	if want := "*** *** port 5432 member 1"; !strings.HasPrefix(line, "***") || !strings.HasSuffix(line, "port 5432 member 1") || strings.Contains(line, "tok ") {
		t.Errorf("redacted %q, want like %q", line, want)
	}
}

func TestConfigAndStorage(t *testing.T) {
	ctx := context.Background()
	m, _, _, _ := newModel(t, false)
	cfg, err := m.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port, ok, err := cfg.Int("listen_port")
	if err != nil || !ok || port != 5432 {
		t.Errorf("listen_port = %d %v %v", port, ok, err)
	}
	locale, err := cfg.String("locale")
	if err != nil || locale != "C.UTF-8" {
		t.Errorf("locale = %q %v", locale, err)
	}
	if _, err := cfg.String("max_connections"); err == nil {
		t.Error("an int read as a string")
	}
	if _, _, err := cfg.Bool("locale"); err == nil {
		t.Error("a string read as a boolean")
	}
	loc, err := m.StorageLocation(ctx, "pgdata")
	if err != nil || loc != "/srv/pgdata" {
		t.Errorf("pgdata = %q %v", loc, err)
	}
	if _, err := m.StorageLocation(ctx, "other"); !errors.Is(err, juju.ErrNotFound) {
		t.Errorf("missing storage err = %v", err)
	}
}
