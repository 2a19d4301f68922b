package charm

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// countingBackend wraps a Backend and records the hook tools called, so a
// test can hold a steady pass to the tools it needs.
type countingBackend struct {
	b     juju.Backend
	calls []string
}

func (c *countingBackend) RelationGet(ctx context.Context, relationID, target string, app bool) (map[string]string, error) {
	c.calls = append(c.calls, "relation-get")
	return c.b.RelationGet(ctx, relationID, target, app)
}

func (c *countingBackend) RelationSet(ctx context.Context, relationID string, app bool, data map[string]string) error {
	c.calls = append(c.calls, "relation-set")
	return c.b.RelationSet(ctx, relationID, app, data)
}

func (c *countingBackend) RelationIDs(ctx context.Context, endpoint string) ([]string, error) {
	c.calls = append(c.calls, "relation-ids")
	return c.b.RelationIDs(ctx, endpoint)
}

func (c *countingBackend) RelationList(ctx context.Context, relationID string) ([]string, error) {
	c.calls = append(c.calls, "relation-list")
	return c.b.RelationList(ctx, relationID)
}

func (c *countingBackend) RelationRemoteApp(ctx context.Context, relationID string) (string, error) {
	c.calls = append(c.calls, "relation-remote-app")
	return c.b.RelationRemoteApp(ctx, relationID)
}

func (c *countingBackend) ConfigGet(ctx context.Context) (map[string]any, error) {
	c.calls = append(c.calls, "config-get")
	return c.b.ConfigGet(ctx)
}

func (c *countingBackend) UnitGet(ctx context.Context, key string) (string, error) {
	c.calls = append(c.calls, "unit-get")
	return c.b.UnitGet(ctx, key)
}

func (c *countingBackend) NetworkGet(ctx context.Context, binding, relationID string) (juju.NetworkInfo, error) {
	c.calls = append(c.calls, "network-get")
	return c.b.NetworkGet(ctx, binding, relationID)
}

func (c *countingBackend) IsLeader(ctx context.Context) (bool, error) {
	c.calls = append(c.calls, "is-leader")
	return c.b.IsLeader(ctx)
}

func (c *countingBackend) LeaderGet(ctx context.Context) (map[string]string, error) {
	c.calls = append(c.calls, "leader-get")
	return c.b.LeaderGet(ctx)
}

func (c *countingBackend) LeaderSet(ctx context.Context, data map[string]string) error {
	c.calls = append(c.calls, "leader-set")
	return c.b.LeaderSet(ctx, data)
}

func (c *countingBackend) StatusSet(ctx context.Context, s juju.Status, app bool) error {
	c.calls = append(c.calls, "status-set")
	return c.b.StatusSet(ctx, s, app)
}

func (c *countingBackend) ApplicationVersionSet(ctx context.Context, version string) error {
	c.calls = append(c.calls, "application-version-set")
	return c.b.ApplicationVersionSet(ctx, version)
}

func (c *countingBackend) ActionGet(ctx context.Context) (map[string]any, error) {
	c.calls = append(c.calls, "action-get")
	return c.b.ActionGet(ctx)
}

func (c *countingBackend) ActionSet(ctx context.Context, results map[string]string) error {
	c.calls = append(c.calls, "action-set")
	return c.b.ActionSet(ctx, results)
}

func (c *countingBackend) ActionFail(ctx context.Context, message string) error {
	c.calls = append(c.calls, "action-fail")
	return c.b.ActionFail(ctx, message)
}

func (c *countingBackend) ActionLog(ctx context.Context, message string) error {
	c.calls = append(c.calls, "action-log")
	return c.b.ActionLog(ctx, message)
}

func (c *countingBackend) JujuLog(ctx context.Context, level juju.LogLevel, message string) error {
	c.calls = append(c.calls, "juju-log")
	return c.b.JujuLog(ctx, level, message)
}

func (c *countingBackend) OpenPort(ctx context.Context, p juju.Port) error {
	c.calls = append(c.calls, "open-port")
	return c.b.OpenPort(ctx, p)
}

func (c *countingBackend) ClosePort(ctx context.Context, p juju.Port) error {
	c.calls = append(c.calls, "close-port")
	return c.b.ClosePort(ctx, p)
}

func (c *countingBackend) OpenedPorts(ctx context.Context) ([]juju.Port, error) {
	c.calls = append(c.calls, "opened-ports")
	return c.b.OpenedPorts(ctx)
}

func (c *countingBackend) StateGet(ctx context.Context) (map[string]string, error) {
	c.calls = append(c.calls, "state-get")
	return c.b.StateGet(ctx)
}

func (c *countingBackend) StateSet(ctx context.Context, data map[string]string) error {
	c.calls = append(c.calls, "state-set")
	return c.b.StateSet(ctx, data)
}

func (c *countingBackend) StateDelete(ctx context.Context, key string) error {
	c.calls = append(c.calls, "state-delete")
	return c.b.StateDelete(ctx, key)
}

func (c *countingBackend) SecretAdd(ctx context.Context, content map[string]string, opts juju.SecretAddOptions) (string, error) {
	c.calls = append(c.calls, "secret-add")
	return c.b.SecretAdd(ctx, content, opts)
}

func (c *countingBackend) SecretGet(ctx context.Context, id string, opts juju.SecretGetOptions) (map[string]string, error) {
	c.calls = append(c.calls, "secret-get")
	return c.b.SecretGet(ctx, id, opts)
}

func (c *countingBackend) SecretSet(ctx context.Context, id string, content map[string]string, opts juju.SecretSetOptions) error {
	c.calls = append(c.calls, "secret-set")
	return c.b.SecretSet(ctx, id, content, opts)
}

func (c *countingBackend) SecretGrant(ctx context.Context, id, relationID, unit string) error {
	c.calls = append(c.calls, "secret-grant")
	return c.b.SecretGrant(ctx, id, relationID, unit)
}

func (c *countingBackend) SecretRevoke(ctx context.Context, id string, opts juju.SecretRevokeOptions) error {
	c.calls = append(c.calls, "secret-revoke")
	return c.b.SecretRevoke(ctx, id, opts)
}

func (c *countingBackend) SecretRemove(ctx context.Context, id string, revision int) error {
	c.calls = append(c.calls, "secret-remove")
	return c.b.SecretRemove(ctx, id, revision)
}

func (c *countingBackend) SecretIDs(ctx context.Context) ([]string, error) {
	c.calls = append(c.calls, "secret-ids")
	return c.b.SecretIDs(ctx)
}

func (c *countingBackend) SecretInfoGet(ctx context.Context, id, label string) (map[string]juju.SecretInfo, error) {
	c.calls = append(c.calls, "secret-info-get")
	return c.b.SecretInfoGet(ctx, id, label)
}

func (c *countingBackend) StorageGet(ctx context.Context, id string) (juju.StorageInfo, error) {
	c.calls = append(c.calls, "storage-get")
	return c.b.StorageGet(ctx, id)
}

func (c *countingBackend) StorageList(ctx context.Context, name string) ([]string, error) {
	c.calls = append(c.calls, "storage-list")
	return c.b.StorageList(ctx, name)
}

func (c *countingBackend) GoalState(ctx context.Context) (juju.GoalState, error) {
	c.calls = append(c.calls, "goal-state")
	return c.b.GoalState(ctx)
}

// runCounted runs one event like jujutest.Charm.Run, through a
// countingBackend, and returns the state after it and the tools called.
func (h *harness) runCounted(in jujutest.State, ev juju.Event) (jujutest.State, []string) {
	h.t.Helper()
	if err := h.ch.Check(in, ev); err != nil {
		h.t.Fatal(err)
	}
	f := jujutest.NewFake(h.ch, in)
	cb := &countingBackend{b: f}
	env := juju.Env{UnitName: in.UnitName, ModelName: "test", Version: "3.6.25", DispatchPath: "hooks/" + ev.Name, HookName: ev.Name}
	red := &juju.Redactor{}
	hk := &juju.Hook{Event: ev, Env: env, Meta: h.ch.Meta, Backend: cb, Redactor: red,
		Log: slog.New(juju.NewLogHandler(cb, juju.LogOptions{Redactor: red})), Status: &juju.StatusCollector{}}
	if err := h.d.Dispatch(context.Background(), hk); err != nil {
		h.t.Fatalf("%s: %v", ev.Name, err)
	}
	return f.Output(true), cb.calls
}

// TestSteadyPassToolCalls: a pass with nothing to change reads each
// thing once and writes nothing but the status (and the client relation's
// data, which the legacy interface republishes), because every hook tool
// is a process: bench/charm measures them.
func TestSteadyPassToolCalls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clients bool
		// max is the most tool calls the pass may make.
		max int
	}{
		{"a standalone unit", false, 15},
		{"a unit serving a db relation", true, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHarness(t)
			if tc.clients {
				st.Relations = append(st.Relations, jujutest.Relation{ID: 5, Endpoint: "db", RemoteApp: "pg-client",
					RemoteUnitsData: map[string]map[string]string{"pg-client/0": clientUnit("10.0.0.21")}})
				st = h.run(st, h.relationEvent(st, juju.KindRelationJoined, "db:5", "pg-client/0"))
			}
			st = h.run(st, h.ch.Hook("update-status"))
			out, calls := h.runCounted(st, h.ch.Hook("update-status"))
			t.Logf("%d tool calls: %v", len(calls), calls)
			count := map[string]int{}
			for _, c := range calls {
				count[c]++
			}
			for _, tool := range []string{"state-set", "open-port", "close-port", "application-version-set", "secret-set", "secret-add", "leader-set", "juju-log", "relation-set"} {
				if count[tool] > 0 {
					t.Errorf("a steady pass ran %s", tool)
				}
			}
			// relation-ids once per endpoint: the peer one, the
			// three client endpoints and s3-parameters.
			if count["relation-ids"] != 5 || count["status-set"] != 1 || count["secret-get"] > 1+btoi(tc.clients) {
				t.Errorf("relation-ids %d (want 5), status-set %d (want 1), secret-get %d", count["relation-ids"], count["status-set"], count["secret-get"])
			}
			if len(calls) > tc.max {
				t.Errorf("%d tool calls, want at most %d", len(calls), tc.max)
			}
			if out.UnitStatus != juju.Active("Primary") || out.WorkloadVersion != "15.10" || len(out.OpenedPorts) != 1 {
				t.Errorf("status %v, version %q, ports %v", out.UnitStatus, out.WorkloadVersion, out.OpenedPorts)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
