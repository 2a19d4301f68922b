package jujutest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

func loadCharm(t *testing.T) *jujutest.Charm {
	t.Helper()
	c, err := jujutest.LoadCharm("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var clientRel = jujutest.Relation{ID: 7, Endpoint: "database", RemoteApp: "app",
	RemoteAppData:   map[string]string{"database": "orders"},
	RemoteUnitsData: map[string]map[string]string{"app/0": {}}}

// publishHandler is a small handler in the charm's shape: read, decide,
// publish once, contribute status.
func publishHandler(ctx context.Context, h *juju.Hook) error {
	m := model.ForHook(h)
	rel, err := m.EventRelation(ctx, h.Event)
	if err != nil {
		return err
	}
	req, err := rel.RemoteAppData(ctx)
	if err != nil {
		return err
	}
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		h.Status.Add(juju.Active(""))
		return nil
	}
	const pw = "Secr3t-password-for-orders-0123"
	h.Log.Info("publishing credentials", "database", req.Get("database"), "password", pw)
	h.Log.Info("dsn postgresql://orders:" + pw + "@10.0.0.10/orders")
	if err := rel.SetLocalAppData(ctx, map[string]string{"username": "relation-7", "password": pw, "database": req.Get("database")}); err != nil {
		return err
	}
	h.Status.Add(juju.Active("Primary"))
	h.Status.Add(juju.Waiting("waiting for nothing"))
	return nil
}

func TestRunPublishesOnceAndNeverLogsSecret(t *testing.T) {
	c := loadCharm(t)
	d := juju.NewDispatcher()
	d.HandleKind(juju.KindRelationChanged, publishHandler)
	in := jujutest.State{Leader: true, Relations: []jujutest.Relation{clientRel}}
	out, err := c.Run(context.Background(), d, in, c.RelationEvent(juju.KindRelationChanged, clientRel, "app/0"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := out.RelationByKey("database:7")
	want := map[string]string{"username": "relation-7", "password": "Secr3t-password-for-orders-0123", "database": "orders"}
	if diff := cmp.Diff(want, got.LocalAppData); diff != "" {
		t.Errorf("local app data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]jujutest.StatusCall{{Status: juju.Waiting("waiting for nothing")}}, out.StatusHistory); diff != "" {
		t.Errorf("status-set calls (-want +got):\n%s", diff)
	}
	if len(out.Logs) != 2 {
		t.Fatalf("logs = %v", out.Logs)
	}
	for _, l := range out.Logs {
		if strings.Contains(l.Message, "Secr3t") {
			t.Errorf("juju-log got the password: %q", l.Message)
		}
	}
	if in.Relations[0].LocalAppData != nil {
		t.Error("Run changed its input state")
	}
}

func TestFailedHookKeepsOnlyImmediateChanges(t *testing.T) {
	c := loadCharm(t)
	d := juju.NewDispatcher()
	boom := errors.New("boom")
	d.HandleHook("config-changed", func(ctx context.Context, h *juju.Hook) error {
		rel := clientRel.Key()
		if err := h.Backend.RelationSet(ctx, rel, false, map[string]string{"k": "v"}); err != nil {
			return err
		}
		if err := h.Backend.StateSet(ctx, map[string]string{"gen": "2"}); err != nil {
			return err
		}
		if err := h.Backend.OpenPort(ctx, juju.TCP(5432)); err != nil {
			return err
		}
		if err := h.Backend.StatusSet(ctx, juju.Maintenance("restarting"), false); err != nil {
			return err
		}
		if err := h.Backend.ApplicationVersionSet(ctx, "15.4"); err != nil {
			return err
		}
		h.Log.Warn("failing")
		return boom
	})
	in := jujutest.State{Relations: []jujutest.Relation{clientRel}, StoredState: map[string]string{"gen": "1"}}
	out, err := c.Run(context.Background(), d, in, c.Hook("config-changed"))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	want := in.Clone()
	want.UnitName = "postgresql/0"
	want.PrivateAddress = "10.0.0.10"
	want.JujuVersion = "3.6.25"
	want.UnitStatus = juju.Maintenance("restarting")
	want.StatusHistory = []jujutest.StatusCall{{Status: juju.Maintenance("restarting")}}
	want.WorkloadVersion = "15.4"
	want.Logs = []jujutest.LogLine{{Level: juju.LogWarning, Message: "failing"}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestRunAction(t *testing.T) {
	c := loadCharm(t)
	d := juju.NewDispatcher()
	d.HandleAction("get-password", func(ctx context.Context, h *juju.Hook) error {
		params, err := h.Backend.ActionGet(ctx)
		if err != nil {
			return err
		}
		if params["username"] != "operator" {
			return h.Backend.ActionFail(ctx, "unknown user")
		}
		return h.Backend.ActionSet(ctx, map[string]string{"password": "pw-0123456789abcdef"})
	})
	_, got, err := c.RunAction(context.Background(), d, jujutest.State{Leader: true}, "get-password", map[string]any{"username": "operator"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jujutest.ActionOutput{Results: map[string]string{"password": "pw-0123456789abcdef"}}, got); diff != "" {
		t.Errorf("action output (-want +got):\n%s", diff)
	}
	_, got, _ = c.RunAction(context.Background(), d, jujutest.State{}, "get-password", map[string]any{"username": "x"})
	if !got.Failed || got.Message != "unknown user" {
		t.Errorf("action output = %+v", got)
	}
}

func TestFakeFollowsJujuRules(t *testing.T) {
	ctx := context.Background()
	c := loadCharm(t)
	f := jujutest.NewFake(c, jujutest.State{Relations: []jujutest.Relation{clientRel}})
	if _, err := f.RelationGet(ctx, "database:7", "postgresql", true); !errors.Is(err, juju.ErrPermissionDenied) {
		t.Errorf("non-leader own app read: %v", err)
	}
	if err := f.RelationSet(ctx, "database:7", true, map[string]string{"k": "v"}); !errors.Is(err, juju.ErrNotLeader) {
		t.Errorf("non-leader app write: %v", err)
	}
	if err := f.StatusSet(ctx, juju.Active(""), true); !errors.Is(err, juju.ErrNotLeader) {
		t.Errorf("non-leader app status: %v", err)
	}
	if err := f.LeaderSet(ctx, map[string]string{"k": "v"}); !errors.Is(err, juju.ErrNotLeader) {
		t.Errorf("non-leader leader-set: %v", err)
	}
	if _, err := f.SecretAdd(ctx, map[string]string{"key-a": "v"}, juju.SecretAddOptions{}); !errors.Is(err, juju.ErrNotLeader) {
		t.Errorf("non-leader app secret: %v", err)
	}
	if _, err := f.RelationGet(ctx, "database:99", "app/0", false); !errors.Is(err, juju.ErrUsage) {
		t.Errorf("unknown relation: %v", err)
	}
	if err := f.ActionLog(ctx, "x"); !errors.Is(err, juju.ErrNotRunningAction) {
		t.Errorf("action-log outside an action: %v", err)
	}
	if err := f.RelationSet(ctx, "database:7", false, map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := f.RelationSet(ctx, "database:7", false, map[string]string{"a": ""}); err != nil {
		t.Fatal(err)
	}
	got, _ := f.RelationGet(ctx, "database:7", "postgresql/0", false)
	if diff := cmp.Diff(map[string]string{"b": "2"}, got); diff != "" {
		t.Errorf("empty value did not delete (-want +got):\n%s", diff)
	}
}

// Contract §2.3: content added in a hook is readable in that hook; a new
// revision set in a hook is committed only when the hook succeeds.
func TestFakeSecretSetIsReadAfterCommitOnly(t *testing.T) {
	ctx := context.Background()
	f := jujutest.NewFake(loadCharm(t), jujutest.State{Leader: true,
		Secrets: []jujutest.Secret{{Label: "old", Content: map[string]string{"password": "one"}}}})
	id := f.Output(false).Secrets[0].ID
	if err := f.SecretSet(ctx, id, map[string]string{"password": "two"}, juju.SecretSetOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.SecretGet(ctx, id, juju.SecretGetOptions{}); got["password"] != "one" {
		t.Errorf("secret-get after an uncommitted secret-set = %v, want the committed revision", got)
	}
	added, err := f.SecretAdd(ctx, map[string]string{"password": "new"}, juju.SecretAddOptions{Label: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.SecretGet(ctx, added, juju.SecretGetOptions{}); got["password"] != "new" {
		t.Errorf("secret added in this hook reads %v", got)
	}
}

func TestCheckRefusesImpossibleInput(t *testing.T) {
	c := loadCharm(t)
	tests := []struct {
		name string
		in   jujutest.State
		ev   juju.Event
	}{
		{"unknown endpoint", jujutest.State{Relations: []jujutest.Relation{{ID: 1, Endpoint: "nosuch", RemoteApp: "x"}}}, c.Hook("install")},
		{"unknown config key", jujutest.State{Config: map[string]any{"nosuch": "x"}}, c.Hook("config-changed")},
		{"config value of the wrong type", jujutest.State{Config: map[string]any{"listen_port": "5432"}}, c.Hook("config-changed")},
		{"remote unit of another app", jujutest.State{Relations: []jujutest.Relation{{ID: 1, Endpoint: "db", RemoteApp: "a",
			RemoteUnitsData: map[string]map[string]string{"b/0": {}}}}}, c.Hook("install")},
		{"peer relation with another app", jujutest.State{Relations: []jujutest.Relation{{ID: 1, Endpoint: "database-peers", RemoteApp: "other"}}}, c.Hook("install")},
		{"duplicate relation id", jujutest.State{Relations: []jujutest.Relation{{ID: 1, Endpoint: "db", RemoteApp: "a"}, {ID: 1, Endpoint: "database", RemoteApp: "b"}}}, c.Hook("install")},
		{"relation event without its relation", jujutest.State{}, c.RelationEvent(juju.KindRelationJoined, clientRel, "app/0")},
		{"remote unit not in the relation", jujutest.State{Relations: []jujutest.Relation{clientRel}}, c.RelationEvent(juju.KindRelationJoined, clientRel, "app/5")},
		{"undeclared action", jujutest.State{}, juju.Event{Kind: juju.KindAction, Name: "nosuch"}},
		{"undeclared storage", jujutest.State{Storage: []jujutest.Storage{{Name: "logs"}}}, c.Hook("install")},
		{"unit of another charm", jujutest.State{UnitName: "mysql/0"}, c.Hook("install")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Run(context.Background(), juju.NewDispatcher(), tt.in, tt.ev)
			if !errors.Is(err, jujutest.ErrInconsistent) {
				t.Errorf("err = %v, want ErrInconsistent", err)
			}
		})
	}
}

// TestCharmMetadata checks the repository's charm files parse and declare
// what the issue asks.
func TestCharmMetadata(t *testing.T) {
	c := loadCharm(t)
	endpoints := map[string]string{}
	for _, name := range []string{"db", "db-admin", "database", "database-peers"} {
		role, def, ok := c.Meta.Endpoint(name)
		if !ok {
			t.Errorf("endpoint %s missing", name)
		}
		endpoints[name] = string(role) + " " + def.Interface
	}
	want := map[string]string{"db": "provides pgsql", "db-admin": "provides pgsql",
		"database": "provides postgresql_client", "database-peers": "peers postgresql_peers"}
	if diff := cmp.Diff(want, endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if c.Meta.Name != "postgresql" || c.Meta.Storage["pgdata"].Type != "filesystem" {
		t.Errorf("metadata = %+v", c.Meta)
	}
	defaults := map[string]any{}
	for k, o := range c.Config.Options {
		defaults[k] = o.Default
		if o.Description == "" {
			t.Errorf("config %s has no description", k)
		}
	}
	wantDefaults := map[string]any{"admin_addresses": "", "client_networks": "", "client_roles": "", "admin_applications": "", "isolate_databases": false, "extra_pg_conf": "", "extra_pg_auth": "",
		"listen_port": 5432, "max_connections": 100, "shared_buffers": "", "locale": "C.UTF-8", "encoding": "UTF8",
		"synchronous_node_count": "1", "synchronous_mode_strict": false, "backup_path": "", "backup_io_timeout": 60,
		"backup_schedule": "", "backup_retention_full": 2, "backup_retention_diff": 0}
	if diff := cmp.Diff(wantDefaults, defaults); diff != "" {
		t.Errorf("config defaults (-want +got):\n%s", diff)
	}
	var actions []string
	for name, a := range c.Actions {
		actions = append(actions, name)
		if a.AdditionalProperties == nil || *a.AdditionalProperties {
			t.Errorf("action %s allows additional properties", name)
		}
	}
	slices.Sort(actions)
	if want := []string{"create-backup", "enter-maintenance", "exit-maintenance", "get-password", "get-primary", "list-backups", "list-members",
		"promote-to-primary", "reload", "restart", "restore", "resync", "rotate-relation-password", "set-password", "start-database",
		"stop-database"}; !slices.Equal(actions, want) {
		t.Errorf("actions = %v, want %v", actions, want)
	}
	pw := c.Actions["set-password"].Params["password"].(map[string]any)
	if pw["minLength"] != 16 {
		t.Errorf("set-password password = %v", pw)
	}
}

// Contract §2.2: Juju 2.9 has no secret-* tools.
func TestFakeWithoutSecrets(t *testing.T) {
	f := jujutest.NewFake(loadCharm(t), jujutest.State{Leader: true, JujuVersion: "2.9.46"})
	if _, err := f.SecretAdd(context.Background(), map[string]string{"password": "x"}, juju.SecretAddOptions{}); !errors.Is(err, juju.ErrToolMissing) {
		t.Errorf("secret-add on 2.9: %v, want ErrToolMissing", err)
	}
	if _, err := f.SecretInfoGet(context.Background(), "", "x"); !errors.Is(err, juju.ErrToolMissing) {
		t.Errorf("secret-info-get on 2.9: %v, want ErrToolMissing", err)
	}
}
