package cluster

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Peer data of the cluster (DESIGN §3: Juju decides which units exist, the
// leader keeps etcd's membership in step with it).
const (
	// MembersKey (peer app databag, leader) holds the etcd members
	// as JSON: unit name → Member.
	MembersKey keys.Peer = "etcd-members"
	// EtcdStartedKey (peer unit databag) is set once the unit's etcd runs
	// as a member, so the leader can promote it from learner to voter.
	EtcdStartedKey keys.Peer = "etcd-started"
	// EtcdStartedStateKey (unit state) remembers that EtcdStartedKey was
	// published.
	EtcdStartedStateKey keys.State = "etcd-started-published"
)

// Member is one member of the application's etcd cluster as the
// leader recorded it.
type Member struct {
	Address netip.Addr `json:"address"`
	// Voter: a full member. A new member is added as a learner, which
	// does not count towards the quorum until it has started and caught
	// up; only then is it promoted.
	Voter bool `json:"voter"`
}

// Action is a change the leader applies to one etcd member.
type Action string

// Membership actions.
const (
	Add     Action = "add"
	Promote Action = "promote"
	Remove  Action = "remove"
)

// ParseMembers reads the leader's record; nil when absent or unreadable.
func ParseMembers(raw string) map[string]Member {
	if raw == "" {
		return nil
	}
	var m map[string]Member
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	return m
}

// DecideMembership returns what the leader must change in etcd so that
// its members are this unit and the peers that published an address, and
// the record to keep once done. It is pure.
//
//   - Without a record the leader bootstrapped the cluster alone: it is
//     the one voter. Otherwise it is a member like any other (leadership
//     can move to a unit that is still a learner, or not yet added).
//   - A unit not yet a member is added as a learner, one at a time (etcd
//     3.4 takes one learner).
//   - A learner whose etcd has started is promoted.
//   - A member that is no longer a unit (it departed) is removed.
//
// started says whose etcd runs, this unit's included.
func DecideMembership(self pgconf.Member, peers []pgconf.Member, record map[string]Member, started map[string]bool) (actions map[string]Action, next map[string]Member) {
	next = maps.Clone(record)
	actions = map[string]Action{}
	if len(next) == 0 {
		next = map[string]Member{self.Unit: {Address: self.Address, Voter: true}}
	}
	units := append([]pgconf.Member{self}, peers...)
	live := map[string]bool{}
	for _, p := range units {
		live[p.Unit] = true
	}
	learner := false
	for u, m := range next {
		if !m.Voter && live[u] {
			learner = true
		}
	}
	slices.SortFunc(units, func(a, b pgconf.Member) int { return strings.Compare(a.Unit, b.Unit) })
	for _, p := range units {
		m, ok := next[p.Unit]
		switch {
		case !ok && !learner:
			actions[p.Unit] = Add
			next[p.Unit] = Member{Address: p.Address}
			learner = true
		case ok && !m.Voter && started[p.Unit]:
			actions[p.Unit] = Promote
		}
	}
	for _, u := range slices.Sorted(maps.Keys(next)) {
		if !live[u] {
			actions[u] = Remove
		}
	}
	return actions, next
}

// ConfigMembers splits the record into what a unit's files need: the
// initial cluster of its etcd (every member, learners too, and itself) and
// the etcd endpoints for Patroni (voters only: a learner serves no client
// requests). Without a record (a standalone unit before the leader wrote
// one) both are just the unit itself.
func ConfigMembers(self pgconf.Member, record map[string]Member) (initial, voters []pgconf.Member) {
	initial = []pgconf.Member{self}
	selfVoter := true
	if m, ok := record[self.Unit]; ok {
		selfVoter = m.Voter
	}
	if selfVoter {
		voters = []pgconf.Member{self}
	}
	for _, u := range slices.Sorted(maps.Keys(record)) {
		if u == self.Unit {
			continue
		}
		m := record[u]
		initial = append(initial, pgconf.Member{Unit: u, Address: m.Address})
		if m.Voter {
			voters = append(voters, pgconf.Member{Unit: u, Address: m.Address})
		}
	}
	return initial, voters
}

// LeavingKey (unit state) marks a unit that has left the cluster: later
// hooks of its teardown must not start Patroni again.
const LeavingKey keys.State = "leaving"

// PublishEtcdStarted tells the peers (the leader) that this unit's etcd
// runs, once.
func PublishEtcdStarted(w *keys.Writes) {
	w.SetPeerUnit(EtcdStartedKey, "true")
	w.SetState(EtcdStartedStateKey, "true")
}

// RecordMembers writes the leader's record of the etcd members.
func RecordMembers(members map[string]Member, w *keys.Writes) error {
	b, err := json.Marshal(members)
	if err != nil {
		return err
	}
	w.SetPeerApp(MembersKey, string(b))
	return nil
}

// Peer unit databag key and unit state key of the role a unit publishes.
const (
	RoleKey      keys.Peer  = "role"
	RoleStateKey keys.State = "published-role"
)

// PublishRole tells the peers this unit's role ("primary" or "replica")
// when it changed from published (the role last published): a new
// primary's role-changed pass wakes every unit (peer -relation-changed), so
// the leader rewrites the database endpoints and each unit its db state.
// Nothing before the peer relation exists or Patroni answers.
func PublishRole(node *patroni.NodeStatus, peerRelation bool, published string, w *keys.Writes) {
	if node == nil || !peerRelation || node.Role == "" {
		return
	}
	role := "replica"
	if node.Role.IsPrimary() {
		role = "primary"
	}
	if role != published {
		w.SetPeerUnit(RoleKey, role)
		w.SetState(RoleStateKey, role)
	}
}
