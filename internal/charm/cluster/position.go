package cluster

import (
	"maps"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Topology is the cluster's part of a snapshot: the peers, the leader's etcd record, who runs etcd.
type Topology struct {
	// Peers are the other units with the address they published.
	Peers []pgconf.Member
	// EtcdMembers is the leader's record of the etcd cluster (peer app
	// databag); nil before the leader wrote one.
	EtcdMembers map[string]Member
	// PeerEtcdStarted are the peers whose etcd runs as a member.
	PeerEtcdStarted map[string]bool
	// EtcdStartedPublished: this unit told its peers its etcd runs.
	EtcdStartedPublished bool
	// PeerRelation: Juju has created the peer relation.
	PeerRelation bool
	// Departing: this unit is leaving the peer relation (remove-unit):
	// it hands the primary role over and stops its Patroni.
	Departing bool
	// EtcdAuthEnabled is set once this unit has enabled etcd
	// authentication (unit state); the charm never disables it.
	EtcdAuthEnabled bool
	// EtcdEpoch counts the leader's quorum recoveries (peer app
	// databag); UnitEtcdEpoch is the one this unit's etcd data belongs
	// to (unit state). A unit behind the leader holds the data of an
	// etcd cluster that no longer exists: it resets its etcd and is
	// added again (DecideEtcdReset).
	EtcdEpoch, UnitEtcdEpoch int
}

// Keys of the quorum recoveries' epoch.
const (
	EtcdEpochKey      keys.Peer  = "etcd-epoch"
	EtcdEpochStateKey keys.State = "etcd-epoch"
)

// DecideEtcdReset says whether this unit's etcd holds a cluster the
// leader has since rebuilt without it (a quorum recovery on another
// survivor): its data must go, and it joins the new cluster as a new
// member once the leader adds it. Pure.
func DecideEtcdReset(leader bool, f Topology) bool {
	// A unit whose etcd never ran as a member (a new unit) has nothing
	// to reset: it takes the epoch when it publishes its etcd started.
	return !leader && f.EtcdStartedPublished && f.EtcdEpoch > f.UnitEtcdEpoch
}

// Position is where this unit stands in the cluster.
type Position struct {
	Self pgconf.Member
	// Recorded: the leader's etcd record holds this unit. Others: it
	// holds other units (the cluster exists beyond this unit). Joining:
	// this unit has not run PostgreSQL yet and joins the cluster, as a
	// replica.
	Recorded, Others, Joining bool
}

// DecidePosition places the unit: only the first leader bootstraps; any
// other unit waits until the leader has bootstrapped and recorded it in
// etcd, then joins. bootstrapped: this unit has run PostgreSQL. A
// non-empty status says why the unit waits. Pure.
func DecidePosition(self pgconf.Member, leader, bootstrapped bool, f Topology) (Position, juju.Status) {
	p := Position{Self: self}
	_, p.Recorded = f.EtcdMembers[self.Unit]
	p.Others = len(f.EtcdMembers) > 1 || (len(f.EtcdMembers) == 1 && !p.Recorded)
	p.Joining = !bootstrapped && p.Others
	switch {
	case !bootstrapped && !leader && !p.Others:
		return p, juju.Waiting("waiting for the leader to bootstrap the cluster")
	case p.Joining && !p.Recorded && !leader:
		return p, juju.Waiting("waiting for the leader to add this unit to the etcd cluster")
	case f.UnitEtcdEpoch > 0 && !p.Recorded && !leader:
		// Its etcd was reset after a quorum recovery: it starts again
		// only once the leader has added it.
		return p, juju.Waiting("waiting for the leader to add this unit to the rebuilt etcd cluster")
	}
	return p, juju.Status{}
}

// Change is the leader's etcd membership change: Actions applied to etcd
// (unit → add, promote, remove), then Members recorded.
type Change struct {
	Actions map[string]Action
	Members map[string]Member
	// QuorumLost: the members the change removes (Juju no longer lists
	// their units) are voters enough that the ones left are no majority
	// of the recorded voters. If they are really gone etcd cannot remove
	// them, having no quorum, and the leader, the one voter left,
	// rebuilds a one-member etcd from its own data (RecoverQuorum). If
	// etcd still answers (units removed while their etcd runs), the
	// change is applied as usual.
	QuorumLost bool
}

// DecideChange is the leader's membership change; ok is false when etcd's
// members and the record already follow the units. Pure.
func DecideChange(self pgconf.Member, leader bool, f Topology) (c Change, ok bool) {
	if !leader || !f.PeerRelation {
		return Change{}, false
	}
	started := maps.Clone(f.PeerEtcdStarted)
	if started == nil {
		started = map[string]bool{}
	}
	started[self.Unit] = f.EtcdStartedPublished
	actions, next := DecideMembership(self, f.Peers, f.EtcdMembers, started)
	if len(actions) == 0 && maps.Equal(next, f.EtcdMembers) {
		return Change{}, false
	}
	return Change{Actions: actions, Members: next, QuorumLost: quorumLost(self, f.EtcdMembers, actions)}, true
}

// quorumLost says whether the removals leave the recorded voters that
// remain, this unit among them, no majority. The leader then rebuilds
// etcd from its own data alone; the other survivors reset theirs and are
// added back (DecideEtcdReset).
func quorumLost(self pgconf.Member, record map[string]Member, actions map[string]Action) bool {
	voters, kept := 0, 0
	selfVoter := false
	for u, m := range record {
		if !m.Voter {
			continue
		}
		voters++
		if actions[u] != Remove {
			kept++
			selfVoter = selfVoter || u == self.Unit
		}
	}
	return voters > 1 && selfVoter && 2*kept <= voters
}

// Removes lists the units whose members the change removes, sorted.
func (c Change) Removes() []string {
	var out []string
	for _, u := range slices.Sorted(maps.Keys(c.Actions)) {
		if c.Actions[u] == Remove {
			out = append(out, u)
		}
	}
	return out
}

// NoQuorumError: etcd has no quorum, so members of removed units cannot
// be removed, and this unit is not yet the one voter left (the other lost
// units are still listed by Juju): the leader waits, saying why.
type NoQuorumError struct{ Removed []string }

func (e *NoQuorumError) Error() string {
	return "etcd has lost its quorum (" + strings.Join(e.Removed, ", ") + " removed): waiting until every lost unit is removed (remove-unit --force) to rebuild etcd from this unit"
}

// Describe lists the actions for a step's reason ("add postgresql/1,
// promote postgresql/2"); "record" when only the record changes.
func (c Change) Describe() string {
	if c.QuorumLost {
		return "rebuild etcd from this unit if it has lost its quorum (" + strings.Join(c.Removes(), ", ") + " removed)"
	}
	if len(c.Actions) == 0 {
		return "record"
	}
	var parts []string
	for _, u := range slices.Sorted(maps.Keys(c.Actions)) {
		parts = append(parts, string(c.Actions[u])+" "+u)
	}
	return strings.Join(parts, ", ")
}

// FreesLearnerSlot says whether the change promotes a learner while a
// peer still waits to be added: etcd takes one learner at a time, so the
// pass decides again and adds it in the same hook (nothing else would
// wake the leader).
func (c Change) FreesLearnerSlot(peers int) bool {
	for _, a := range c.Actions {
		if a == Promote && len(c.Members) <= peers {
			return true
		}
	}
	return false
}
