package cluster

import (
	"fmt"
	"time"

	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// LeaderGuardGrace is how long this member may hold the leader key with
// PostgreSQL not running before the charm restarts its Patroni: two ttl
// periods, so that a bootstrap, a restart or a crash Patroni repairs in
// place (about 5 s, DESIGN §10) never triggers it.
const LeaderGuardGrace = 2 * pgconf.TTL * time.Second

// LeaderGuardInput is what the guard decides on.
type LeaderGuardInput struct {
	// Member is this unit's Patroni member name.
	Member string
	// Cluster is Patroni's /cluster; nil when it did not answer.
	Cluster *patroni.Cluster
	// Node is this member's /patroni; nil when it did not answer.
	Node *patroni.NodeStatus
	// DownSince is when a previous hook first saw this member hold the
	// leader key with PostgreSQL not running; zero if none did.
	DownSince time.Time
	Now       time.Time
}

// LeaderGuard is the guard's decision.
type LeaderGuard struct {
	// DownSince is what to remember for the next hook (zero: forget).
	DownSince time.Time
	// RestartPatroni asks for a restart of this member's Patroni.
	RestartPatroni bool
	Reason         string
}

// DecideLeaderGuard works around Patroni 3.0.2's leader-key bug (DESIGN
// §10, fixed upstream in PR #2689): after a partition heals, the old
// leader can take the leader key back, fail to start PostgreSQL because
// its timeline diverged, and keep renewing the key, leaving the cluster
// without a primary while GET /primary still answers 200. A member seen
// holding the leader key with PostgreSQL not running, in two hooks at
// least LeaderGuardGrace apart, gets its Patroni restarted: it releases
// the key, a replica takes over within seconds and the node rejoins with
// pg_rewind. Nothing is done while the cluster is paused (maintenance
// mode) or when Patroni does not answer. Pure: time comes in Now.
func DecideLeaderGuard(in LeaderGuardInput) LeaderGuard {
	if in.Cluster == nil || in.Node == nil || in.Cluster.Paused || in.Node.Paused {
		return LeaderGuard{DownSince: in.DownSince}
	}
	leader, ok := in.Cluster.Leader()
	if !ok || leader.Name != in.Member {
		return LeaderGuard{}
	}
	state := in.Node.State
	if state == patroni.StateRunning && leader.State == patroni.StateRunning {
		return LeaderGuard{}
	}
	if state == patroni.StateRunning {
		state = leader.State
	}
	if in.DownSince.IsZero() || in.DownSince.After(in.Now) {
		return LeaderGuard{DownSince: in.Now, Reason: fmt.Sprintf("%s holds the leader key while PostgreSQL is %s", in.Member, state)}
	}
	down := in.Now.Sub(in.DownSince)
	if down < LeaderGuardGrace {
		return LeaderGuard{DownSince: in.DownSince, Reason: fmt.Sprintf("%s holds the leader key while PostgreSQL is %s (for %s)", in.Member, state, down.Round(time.Second))}
	}
	return LeaderGuard{RestartPatroni: true, Reason: fmt.Sprintf(
		"%s has held the leader key for %s while PostgreSQL is %s (Patroni 3.0.2 leader-key bug): restarting Patroni",
		in.Member, down.Round(time.Second), state)}
}
