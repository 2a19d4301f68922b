package cluster

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/pgjuju/pgjuju/internal/deepcopy"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestDecidePositionAndChange(t *testing.T) {
	addr := netip.MustParseAddr
	self := pgconf.Member{Unit: "pg/1", Address: addr("10.0.0.11")}
	leaderRecord := map[string]Member{"pg/0": {Address: addr("10.0.0.10"), Voter: true}}
	for _, tc := range []struct {
		name         string
		leader, boot bool
		topo         Topology
		wait         string
		joining      bool
		change       bool
	}{
		{name: "a first leader bootstraps alone", leader: true, topo: Topology{PeerRelation: true}, change: true},
		{name: "another unit waits for the leader to bootstrap", topo: Topology{PeerRelation: true},
			wait: "waiting for the leader to bootstrap the cluster"},
		{name: "a unit of a running cluster waits to be added to etcd", topo: Topology{PeerRelation: true, EtcdMembers: leaderRecord},
			wait: "waiting for the leader to add this unit to the etcd cluster", joining: true},
		{name: "once recorded it joins", topo: Topology{PeerRelation: true, EtcdMembers: map[string]Member{
			"pg/0": {Address: addr("10.0.0.10"), Voter: true}, "pg/1": {Address: addr("10.0.0.11")}}}, joining: true},
		{name: "a bootstrapped leader with nothing to change decides no change", leader: true, boot: true,
			topo: Topology{PeerRelation: true, EtcdStartedPublished: true, EtcdMembers: map[string]Member{"pg/1": {Address: addr("10.0.0.11"), Voter: true}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := deepcopy.Of(tc.topo)
			pos, wait := DecidePosition(self, tc.leader, tc.boot, tc.topo)
			_, change := DecideChange(self, tc.leader, tc.topo)
			if !reflect.DeepEqual(in, tc.topo) {
				t.Error("the decisions changed their input")
			}
			if wait.Message != tc.wait || pos.Joining != tc.joining || change != tc.change {
				t.Errorf("wait %q joining %v change %v, want %q %v %v", wait.Message, pos.Joining, change, tc.wait, tc.joining, tc.change)
			}
		})
	}
}

func TestQuorumLost(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	self := pgconf.Member{Unit: "pg/2", Address: addr(2)}
	three := map[string]Member{"pg/0": {addr(0), true}, "pg/1": {addr(1), true}, "pg/2": {addr(2), true}}
	for _, tc := range []struct {
		name   string
		peers  []pgconf.Member
		record map[string]Member
		want   bool
	}{
		{"two of three removed: the lone survivor rebuilds", nil, three, true},
		{"one of three removed: a majority is left", []pgconf.Member{{Unit: "pg/1", Address: addr(1)}}, three, false},
		{"none removed (Juju still lists them): nothing to rebuild from", []pgconf.Member{{Unit: "pg/0", Address: addr(0)}, {Unit: "pg/1", Address: addr(1)}}, three, false},
		{"one of two removed: one of two voters is no majority", nil, map[string]Member{"pg/0": {addr(0), true}, "pg/2": {addr(2), true}}, true},
		{"the survivor is a learner: it cannot rebuild", nil, map[string]Member{"pg/0": {addr(0), true}, "pg/1": {addr(1), true}, "pg/2": {addr(2), false}}, false},
		{"three of five removed, two survivors: the leader rebuilds", []pgconf.Member{{Unit: "pg/3", Address: addr(3)}},
			map[string]Member{"pg/0": {addr(0), true}, "pg/1": {addr(1), true}, "pg/2": {addr(2), true}, "pg/3": {addr(3), true}, "pg/4": {addr(4), true}}, true},
		{"two of five removed: three of five is a majority", []pgconf.Member{{Unit: "pg/3", Address: addr(3)}, {Unit: "pg/4", Address: addr(4)}},
			map[string]Member{"pg/0": {addr(0), true}, "pg/1": {addr(1), true}, "pg/2": {addr(2), true}, "pg/3": {addr(3), true}, "pg/4": {addr(4), true}}, false},
		{"a removed learner does not count", nil, map[string]Member{"pg/1": {addr(1), false}, "pg/2": {addr(2), true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := map[string]bool{}
			for u := range tc.record {
				started[u] = true
			}
			c, ok := DecideChange(self, true, Topology{Peers: tc.peers, EtcdMembers: tc.record, PeerEtcdStarted: started, EtcdStartedPublished: true, PeerRelation: true})
			if c.QuorumLost != tc.want {
				t.Errorf("QuorumLost = %v (change %v, ok %v), want %v", c.QuorumLost, c, ok, tc.want)
			}
			if tc.want && c.Members["pg/2"] != tc.record["pg/2"] {
				t.Errorf("survivor's record %v", c.Members)
			}
		})
	}
}

func TestDecideEtcdReset(t *testing.T) {
	for _, tc := range []struct {
		leader           bool
		epoch, unitEpoch int
		want             bool
	}{
		{false, 0, 0, false}, {false, 1, 0, true}, {false, 2, 1, true}, {false, 1, 1, false}, {true, 1, 0, false},
	} {
		if got := DecideEtcdReset(tc.leader, Topology{EtcdEpoch: tc.epoch, UnitEtcdEpoch: tc.unitEpoch, EtcdStartedPublished: true}); got != tc.want {
			t.Errorf("leader %v, epoch %d, unit epoch %d: reset %v, want %v", tc.leader, tc.epoch, tc.unitEpoch, got, tc.want)
		}
	}
	// A new unit, whose etcd never ran: nothing to reset.
	if DecideEtcdReset(false, Topology{EtcdEpoch: 1}) {
		t.Error("a new unit resets its etcd")
	}
	// Reset, it waits until the leader has added it again.
	self := pgconf.Member{Unit: "pg/3", Address: netip.MustParseAddr("10.0.0.3")}
	_, st := DecidePosition(self, false, true, Topology{EtcdEpoch: 1, UnitEtcdEpoch: 1,
		EtcdMembers: map[string]Member{"pg/2": {Address: netip.MustParseAddr("10.0.0.2"), Voter: true}}})
	if st.Level != "waiting" {
		t.Errorf("a reset unit not yet added: status %+v", st)
	}
}
