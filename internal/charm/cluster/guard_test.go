package cluster

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/deepcopy"
	"github.com/pgjuju/pgjuju/internal/patroni"
)

func TestDecideLeaderGuard(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	cluster := func(leader string, state patroni.State) *patroni.Cluster {
		return &patroni.Cluster{Members: []patroni.Member{
			{Name: leader, Role: patroni.RoleLeader, State: state},
			{Name: "postgresql-9", Role: patroni.RoleReplica, State: "running"}}}
	}
	node := func(state patroni.State) *patroni.NodeStatus {
		return &patroni.NodeStatus{State: state, Role: patroni.RoleMaster}
	}
	paused := cluster("postgresql-0", "start failed")
	paused.Paused = true
	for _, tc := range []struct {
		name string
		in   LeaderGuardInput
		want LeaderGuard
	}{
		{"healthy leader: nothing, and anything remembered is forgotten",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "running"), Node: node("running"), DownSince: now.Add(-time.Hour)},
			LeaderGuard{}},
		{"another member holds the key: not ours to repair",
			LeaderGuardInput{Cluster: cluster("postgresql-9", "start failed"), Node: node("stopped")},
			LeaderGuard{}},
		{"first sight of the leader with PostgreSQL down: remember, do not restart yet",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "start failed"), Node: node("start failed")},
			LeaderGuard{DownSince: now, Reason: "postgresql-0 holds the leader key while PostgreSQL is start failed"}},
		{"still down, but within the grace (a normal restart takes seconds): wait",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "starting"), Node: node("starting"), DownSince: now.Add(-30 * time.Second)},
			LeaderGuard{DownSince: now.Add(-30 * time.Second), Reason: "postgresql-0 holds the leader key while PostgreSQL is starting (for 30s)"}},
		{"down for two ttl periods: restart Patroni and forget",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "running"), Node: node("start failed"), DownSince: now.Add(-LeaderGuardGrace)},
			LeaderGuard{RestartPatroni: true, Reason: "postgresql-0 has held the leader key for 40s while PostgreSQL is start failed (Patroni 3.0.2 leader-key bug): restarting Patroni"}},
		{"/cluster says not running while /patroni says running: still counts",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "stopped"), Node: node("running"), DownSince: now.Add(-5 * time.Minute)},
			LeaderGuard{RestartPatroni: true, Reason: "postgresql-0 has held the leader key for 5m0s while PostgreSQL is stopped (Patroni 3.0.2 leader-key bug): restarting Patroni"}},
		{"paused cluster (maintenance mode): hands off, keep what was remembered",
			LeaderGuardInput{Cluster: paused, Node: node("stopped"), DownSince: now.Add(-time.Hour)},
			LeaderGuard{DownSince: now.Add(-time.Hour)}},
		{"Patroni silent: nothing to decide on, keep what was remembered",
			LeaderGuardInput{DownSince: now.Add(-time.Hour)},
			LeaderGuard{DownSince: now.Add(-time.Hour)}},
		{"a remembered time in the future (clock change): start again",
			LeaderGuardInput{Cluster: cluster("postgresql-0", "stopped"), Node: node("stopped"), DownSince: now.Add(time.Hour)},
			LeaderGuard{DownSince: now, Reason: "postgresql-0 holds the leader key while PostgreSQL is stopped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Member, tc.in.Now = "postgresql-0", now
			in := deepcopy.Of(tc.in)
			got := DecideLeaderGuard(tc.in)
			if !reflect.DeepEqual(in, tc.in) {
				t.Error("DecideLeaderGuard changed its input")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestLeaderGuardHarness: update-status remembers a leader whose
// PostgreSQL is down, restarts its Patroni once that lasts, and leaves a
// healthy leader alone.
