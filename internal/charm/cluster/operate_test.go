package cluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/patroni"
)

// threeUnits is a healthy cluster in synchronous mode: pg-0 leads, pg-1
// is the sync standby, pg-2 an async replica.
func threeUnits() ClusterView {
	return ClusterView{SyncMode: true, Cluster: patroni.Cluster{Members: []patroni.Member{
		{Name: "postgresql-0", Role: patroni.RoleLeader, State: patroni.StateRunning, Host: "10.0.0.1"},
		{Name: "postgresql-1", Role: patroni.RoleSyncStandby, State: patroni.StateRunning, Host: "10.0.0.2", Lag: 0.0},
		{Name: "postgresql-2", Role: patroni.RoleReplica, State: patroni.StateRunning, Host: "10.0.0.3", Lag: 16.0},
	}}}
}

func TestDecidePromote(t *testing.T) {
	with := func(f func(*ClusterView)) ClusterView { v := threeUnits(); f(&v); return v }
	for _, tc := range []struct {
		name     string
		v        ClusterView
		member   string
		stopped  bool
		force    bool
		refused  string // substring; "" means allowed
		failover bool
	}{
		{"the sync standby: a switchover", threeUnits(), "postgresql-1", false, false, "", false},
		{"the primary itself", threeUnits(), "postgresql-0", false, true, "is the primary already", false},
		{"a stopped unit, even forced", threeUnits(), "postgresql-1", true, true, "stopped", false},
		{"not a member", threeUnits(), "postgresql-7", false, false, "not a member", false},
		{"an async replica in synchronous mode", threeUnits(), "postgresql-2", false, false, "not a synchronous standby", false},
		{"an async replica forced while the primary is healthy: Patroni would drop it", threeUnits(), "postgresql-2", false, true, "hands over in synchronous mode only to a sync standby (postgresql-1)", false},
		{"an async replica forced with the primary down: a failover", with(func(v *ClusterView) { v.Cluster.Members[0].State = "stopped" }), "postgresql-2", false, true, "", true},
		{"a lagging sync standby forced: a failover", with(func(v *ClusterView) { v.Cluster.Members[1].Lag = float64(64 << 20) }), "postgresql-1", false, true, "", true},
		{"without synchronous mode any healthy replica", with(func(v *ClusterView) { v.SyncMode = false }), "postgresql-2", false, false, "", false},
		{"lagging", with(func(v *ClusterView) { v.Cluster.Members[1].Lag = float64(64 << 20) }), "postgresql-1", false, false, "lags 67108864 bytes", false},
		{"lag unknown", with(func(v *ClusterView) { v.Cluster.Members[1].Lag = "unknown" }), "postgresql-1", false, false, "lag is unknown", false},
		{"not running", with(func(v *ClusterView) { v.Cluster.Members[1].State = "stopped" }), "postgresql-1", false, false, "is stopped, not streaming", false},
		{"maintenance mode", with(func(v *ClusterView) { v.Cluster.Paused = true }), "postgresql-1", false, false, "maintenance mode is on", false},
		{"during another switchover (no leader)", with(func(v *ClusterView) { v.Cluster.Members[0].Role = patroni.RoleReplica }), "postgresql-1", false, false, "no primary now", false},
		{"a switchover scheduled", with(func(v *ClusterView) { v.Cluster.ScheduledSwitchover = map[string]any{"at": "x"} }), "postgresql-1", false, false, "scheduled", false},
		{"the leader restarting", with(func(v *ClusterView) { v.Cluster.Members[0].State = "restarting" }), "postgresql-1", false, false, "under way", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DecidePromote(tc.v, tc.member, tc.stopped, tc.force)
			if tc.refused == "" && p.Refused != "" {
				t.Fatalf("refused: %s", p.Refused)
			}
			if tc.refused != "" && !strings.Contains(p.Refused, tc.refused) {
				t.Fatalf("refusal %q, want it to say %q", p.Refused, tc.refused)
			}
			if p.Failover != tc.failover {
				t.Errorf("failover = %v, want %v", p.Failover, tc.failover)
			}
			if p.Failover && !strings.Contains(p.Warning, "may be lost") {
				t.Errorf("a forced failover's warning %q does not say data may be lost", p.Warning)
			}
			if tc.refused == "" && p.Leader != "postgresql-0" && p.Leader != "" {
				t.Errorf("leader %q", p.Leader)
			}
		})
	}
}

func TestDecideResync(t *testing.T) {
	if r := DecideResync(threeUnits(), "postgresql-0"); !strings.Contains(r, "is the primary") {
		t.Errorf("resync on the primary: %q", r)
	}
	if r := DecideResync(threeUnits(), "postgresql-2"); r != "" {
		t.Errorf("resync on a replica refused: %q", r)
	}
	v := threeUnits()
	v.Cluster.Members[0].Role = patroni.RoleReplica
	if r := DecideResync(v, "postgresql-2"); r == "" {
		t.Error("resync with no primary allowed")
	}
}

func TestRollingOrder(t *testing.T) {
	reps, primary, refused := RollingOrder(threeUnits())
	if refused != "" || primary != "postgresql-0" || !slices.Equal(reps, []string{"postgresql-2", "postgresql-1"}) {
		t.Errorf("order %v then %s (refused %q); want the async replica, then the sync standby, then postgresql-0", reps, primary, refused)
	}
	v := threeUnits()
	v.Cluster.Paused = true
	if _, _, refused := RollingOrder(v); !strings.Contains(refused, "maintenance") {
		t.Errorf("rolling restart in maintenance mode: %q", refused)
	}
}

func TestMembersTable(t *testing.T) {
	rows := MemberRows("postgresql", threeUnits().Cluster, map[string]string{"postgresql-1": "0.0"})
	if rows[0].Role != "primary" || rows[1].Sync != "sync" || rows[2].Sync != "async" || rows[2].LagBytes != "16" || rows[0].LagBytes != "" {
		t.Errorf("rows %+v", rows)
	}
	if rows[1].Unit != "postgresql/1" || rows[1].LagSeconds != "0.0" {
		t.Errorf("row %+v", rows[1])
	}
	tbl := MembersTable(rows, true)
	for _, want := range []string{"UNIT", "postgresql/2", "10.0.0.3", "async", "maintenance mode: on"} {
		if !strings.Contains(tbl, want) {
			t.Errorf("table lacks %q:\n%s", want, tbl)
		}
	}
}
