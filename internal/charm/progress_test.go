package charm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// TestDecideProgress: only long steps carry a progress message, and it
// names what happens and why.
func TestDecideProgress(t *testing.T) {
	bootstrapped := func(s Snapshot) Snapshot { s.Applied = applied(t, s); return s }
	for _, tc := range []struct {
		name string
		snap func(Snapshot) Snapshot
		want map[plan.Kind]string
	}{
		{"first bootstrap", func(s Snapshot) Snapshot { return s },
			map[plan.Kind]string{plan.StartPatroni: "bootstrapping PostgreSQL with Patroni"}},
		{"nothing changed: no progress at all", bootstrapped, map[plan.Kind]string{}},
		{"packages missing", func(s Snapshot) Snapshot { s.MissingPackages = []string{"patroni"}; return s },
			map[plan.Kind]string{plan.InstallPackages: "installing patroni"}},
		{"a reloadable setting: reloading, naming it",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.ExtraPgConf = "work_mem = 64MB"; return s },
			map[plan.Kind]string{plan.Reload: "reloading PostgreSQL to apply work_mem"}},
		{"a restart-requiring setting: the reload before the restart says restarting",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.MaxConnections = 300; return s },
			map[plan.Kind]string{plan.Reload: "rolling restart to apply max_connections",
				plan.Restart: "rolling restart to apply max_connections"}},
		{"a restart-requiring setting on a non-leader: it reloads, and the leader restarts it",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.Leader = false
				s.Options.MaxConnections = 300
				return s
			},
			map[plan.Kind]string{plan.Reload: "applying max_connections: a rolling restart follows"}},
		{"both kinds: the restart names only what needs it",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.Options.ExtraPgConf, s.Options.SharedBuffers = "work_mem = 64MB", "256MB"
				return s
			},
			map[plan.Kind]string{plan.Reload: "rolling restart to apply shared_buffers",
				plan.Restart: "rolling restart to apply shared_buffers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[plan.Kind]string{}
			for _, st := range Decide(tc.snap(baseSnapshot(t))).Steps {
				if st.Progress != "" {
					got[st.Kind] = st.Progress
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProgressStatusHarness: config-changed shows the reload or restart
// while it runs, then the status computed once at the end; a hook with
// nothing to do sets status once. The leader's last request reads the
// dynamic configuration for synchronous replication (syncReplication).
func TestProgressStatusHarness(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  map[string]any
		pending bool
		want    []jujutest.StatusCall
		patroni []string
	}{
		{"nothing changed", nil, false,
			[]jujutest.StatusCall{{Status: juju.Active("Primary")}}, []string{"GET /config"}},
		{"reload", map[string]any{"extra_pg_conf": "work_mem = 64MB"}, false,
			[]jujutest.StatusCall{{Status: juju.Maintenance("reloading PostgreSQL to apply work_mem")}, {Status: juju.Active("Primary")}},
			[]string{"POST /reload", "GET /config"}},
		{"restart", map[string]any{"max_connections": 300}, true,
			[]jujutest.StatusCall{{Status: juju.Maintenance("rolling restart to apply max_connections")},
				{Status: juju.Maintenance("rolling restart to apply max_connections: restarting postgresql-0, the only member: the database is down meanwhile")},
				{Status: juju.Maintenance("rolling restart to apply max_connections: restarting PostgreSQL (started 2026-12-07 00:00:00+00:00)")},
				{Status: juju.Active("Primary")}},
			[]string{"PATCH /config", "POST /reload", "GET /config", "POST /restart", "GET /config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHarness(t)
			st.StatusHistory = nil
			if st.Config == nil {
				st.Config = map[string]any{}
			}
			for k, v := range tc.config {
				st.Config[k] = v
			}
			h.wl.setPending(tc.pending)
			before := len(h.wl.patroniRequests())
			st = h.run(st, h.ch.Hook("config-changed"))
			if diff := cmp.Diff(tc.want, st.StatusHistory); diff != "" {
				t.Errorf("status-set calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.patroni, h.wl.patroniRequests()[before:], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Patroni requests (-want +got):\n%s", diff)
			}
		})
	}
}
