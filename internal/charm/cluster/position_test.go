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
