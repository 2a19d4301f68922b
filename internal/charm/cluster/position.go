package cluster

import (
	"maps"
	"slices"
	"strings"

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
	}
	return p, juju.Status{}
}

// Change is the leader's etcd membership change: Actions applied to etcd
// (unit → add, promote, remove), then Members recorded.
type Change struct {
	Actions map[string]Action
	Members map[string]Member
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
	return Change{Actions: actions, Members: next}, true
}

// Describe lists the actions for a step's reason ("add postgresql/1,
// promote postgresql/2"); "record" when only the record changes.
func (c Change) Describe() string {
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
