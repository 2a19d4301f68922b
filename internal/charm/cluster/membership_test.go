package cluster

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/pgjuju/pgjuju/internal/deepcopy"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestDecideMembership(t *testing.T) {
	addr := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	self := pgconf.Member{Unit: "pg/0", Address: addr("10.0.0.10")}
	p1 := pgconf.Member{Unit: "pg/1", Address: addr("10.0.0.11")}
	p2 := pgconf.Member{Unit: "pg/2", Address: addr("10.0.0.12")}
	voter := func(a string) Member { return Member{Address: addr(a), Voter: true} }
	learner := func(a string) Member { return Member{Address: addr(a)} }
	for _, c := range []struct {
		name    string
		peers   []pgconf.Member
		record  map[string]Member
		started map[string]bool
		actions map[string]Action
		next    map[string]Member
	}{
		{"a standalone leader records itself", nil, nil, nil,
			map[string]Action{}, map[string]Member{"pg/0": voter("10.0.0.10")}},
		{"new peers are added as learners, one at a time (etcd takes one learner)", []pgconf.Member{p2, p1}, map[string]Member{"pg/0": voter("10.0.0.10")}, nil,
			map[string]Action{"pg/1": Add},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": learner("10.0.0.11")}},
		{"a learner whose etcd started is promoted; the next peer waits for that", []pgconf.Member{p1, p2},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": learner("10.0.0.11")},
			map[string]bool{"pg/1": true},
			map[string]Action{"pg/1": Promote},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": learner("10.0.0.11")}},
		{"once promoted, the next peer is added", []pgconf.Member{p1, p2},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": voter("10.0.0.11")},
			map[string]bool{"pg/1": true},
			map[string]Action{"pg/2": Add},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": voter("10.0.0.11"), "pg/2": learner("10.0.0.12")}},
		{"a departed unit is removed", []pgconf.Member{p2},
			map[string]Member{"pg/1": voter("10.0.0.11"), "pg/2": voter("10.0.0.12"), "pg/0": voter("10.0.0.10")},
			map[string]bool{"pg/2": true},
			map[string]Action{"pg/1": Remove},
			map[string]Member{"pg/0": voter("10.0.0.10"), "pg/1": voter("10.0.0.11"), "pg/2": voter("10.0.0.12")}},
		{"a new leader that is still a learner is promoted once its etcd runs, not assumed a voter", []pgconf.Member{p1},
			map[string]Member{"pg/1": voter("10.0.0.11"), "pg/0": learner("10.0.0.10")},
			map[string]bool{"pg/0": true},
			map[string]Action{"pg/0": Promote},
			map[string]Member{"pg/1": voter("10.0.0.11"), "pg/0": learner("10.0.0.10")}},
		{"a new leader not yet a member adds itself", []pgconf.Member{p1},
			map[string]Member{"pg/1": voter("10.0.0.11")}, nil,
			map[string]Action{"pg/0": Add},
			map[string]Member{"pg/1": voter("10.0.0.11"), "pg/0": learner("10.0.0.10")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := deepcopy.Of(c)
			actions, next := DecideMembership(self, c.peers, c.record, c.started)
			if !reflect.DeepEqual(in, c) {
				t.Error("DecideMembership changed its input")
			}
			if !reflect.DeepEqual(actions, c.actions) || !reflect.DeepEqual(next, c.next) {
				t.Errorf("got %v %v\nwant %v %v", actions, next, c.actions, c.next)
			}
		})
	}
}

func TestEtcdConfigMembers(t *testing.T) {
	self := pgconf.Member{Unit: "pg/2", Address: netip.MustParseAddr("10.0.0.12")}
	record := map[string]Member{"pg/0": {Address: netip.MustParseAddr("10.0.0.10"), Voter: true},
		"pg/1": {Address: netip.MustParseAddr("10.0.0.11")}, "pg/2": {Address: self.Address}}
	initial, voters := ConfigMembers(self, record)
	if len(initial) != 3 || len(voters) != 1 || voters[0].Unit != "pg/0" {
		t.Errorf("a joining learner: initial %v, voters %v", initial, voters)
	}
}

func TestUnitOfMember(t *testing.T) {
	if got := UnitOfMember("postgresql", "postgresql-12"); got != "postgresql/12" {
		t.Error(got)
	}
	if got := UnitOfMember("my-pg", "my-pg-0"); got != "my-pg/0" {
		t.Error(got)
	}
}
