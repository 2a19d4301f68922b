package clientdb

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// baseline returns a Baseline holding oids.
func baseline(rel, user string, super bool, oids ...uint32) Baseline {
	b := Baseline{Relation: rel, User: user, Superuser: super, Roles: map[uint32]bool{}}
	for _, o := range oids {
		b.Roles[o] = true
	}
	return b
}

// The roles of every case: built-in, the charm's system users and the
// relation user (all before the baseline), then what appeared since.
var (
	builtIn  = []ServerRole{{OID: 10, Name: "operator", Privileged: true}, {OID: 3373, Name: "pg_monitor"}}
	system   = []ServerRole{{OID: 16384, Name: "replication", Privileged: true}, {OID: 16385, Name: "rewind"}}
	relUser  = ServerRole{OID: 16400, Name: "relation_7_boss"}
	handMade = ServerRole{OID: 16390, Name: "made_by_hand"}
	before   = []uint32{10, 3373, 16384, 16385, 16390, 16400}
	worker   = ServerRole{OID: 16500, Name: "boss_worker"}
	allRoles = func(extra ...ServerRole) []ServerRole {
		out := append(append([]ServerRole{}, builtIn...), system...)
		return append(append(out, relUser, handMade), extra...)
	}
)

func TestDecideCreatedRoles(t *testing.T) {
	cases := []struct {
		name string
		in   CreatedRolesInput
		want CreatedRolesPlan
	}{{
		name: "no baseline for the relation (served before the charm recorded them): nothing is dropped",
		in:   CreatedRolesInput{Relation: "database:7", Roles: allRoles(worker)},
		want: CreatedRolesPlan{},
	}, {
		name: "a role that appeared since the baseline is dropped, its objects going to the relation user; older roles stay",
		in: CreatedRolesInput{Relation: "database:7", Roles: allRoles(worker),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", false, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss", Drop: []ServerRole{worker}},
	}, {
		name: "a pre-existing role renamed by the client is still pre-existing (by OID)",
		in: CreatedRolesInput{Relation: "database:7", Roles: append(append(append([]ServerRole{}, builtIn...), system...), relUser, ServerRole{OID: 16390, Name: "renamed"}),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", false, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss"},
	}, {
		name: "roles under the charm's names or marks (disarmed if they can log in or have attributes: a client may squat them), in client_roles, or serving another relation are left, each saying why",
		in: CreatedRolesInput{Relation: "database:7", Keep: []string{"ops_readers"}, Live: []string{"relation_10_live"},
			Roles: allRoles(
				ServerRole{OID: 16501, Name: "relation_9_other", Armed: true},
				ServerRole{OID: 16507, Name: "relation_10_live", Armed: true},
				ServerRole{OID: 16502, Name: "charmed_admin"},
				ServerRole{OID: 16503, Name: "grp", ClientGroup: true, Armed: true},
				ServerRole{OID: 16504, Name: "ops_readers"},
				ServerRole{OID: 16505, Name: "patroni"},
				ServerRole{OID: 16506, Name: "pg_fake"},
				worker),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", false, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss", Drop: []ServerRole{worker},
			Left: []LeftRole{
				{Name: "charmed_admin", Why: "has a prefix of the charm's roles (relation_, charmed_) but serves no relation"},
				{Name: "grp", Why: "is marked as a group role the charm made for `roles`", Disarmed: true},
				{Name: "ops_readers", Why: "is in client_roles"},
				{Name: "patroni", Why: "is a name the charm's system users use"},
				{Name: "relation_9_other", Why: "has a prefix of the charm's roles (relation_, charmed_) but serves no relation", Disarmed: true},
			},
			Disarm: []ServerRole{{OID: 16503, Name: "grp", ClientGroup: true, Armed: true}, {OID: 16501, Name: "relation_9_other", Armed: true}}},
	}, {
		name: "a superuser that appeared while the relation had only CREATEROLE is someone else's: left",
		in: CreatedRolesInput{Relation: "database:7", Roles: allRoles(ServerRole{OID: 16501, Name: "dba2", Privileged: true}),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", false, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss",
			Left: []LeftRole{{Name: "dba2", Why: "is SUPERUSER, REPLICATION or BYPASSRLS, which database:7 (CREATEROLE) could not make"}}},
	}, {
		name: "a relation that was a superuser may have made a privileged role: dropped",
		in: CreatedRolesInput{Relation: "database:7", Roles: allRoles(ServerRole{OID: 16501, Name: "backdoor", Privileged: true}),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", true, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss", Drop: []ServerRole{{OID: 16501, Name: "backdoor", Privileged: true}}},
	}, {
		name: "two admin relations: roles from before the other's baseline are this one's, later ones ambiguous and left",
		in: CreatedRolesInput{Relation: "database:7",
			Live:  []string{"relation_8_rival"},
			Roles: allRoles(worker, ServerRole{OID: 16600, Name: "relation_8_rival"}, ServerRole{OID: 16700, Name: "later"}),
			Baselines: []Baseline{
				baseline("database:7", "relation_7_boss", false, before...),
				baseline("database:8", "relation_8_rival", false, append(before, 16500, 16600)...),
			}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss", Drop: []ServerRole{worker},
			Left: []LeftRole{
				{Name: "later", Why: "appeared while database:8 could create roles too", Ambiguous: true},
			}},
	}, {
		name: "the relation user is gone: nothing to give objects to, nothing dropped",
		in: CreatedRolesInput{Relation: "database:7", Roles: append(append(append([]ServerRole{}, builtIn...), system...), handMade, worker),
			Baselines: []Baseline{baseline("database:7", "relation_7_boss", false, before...)}},
		want: CreatedRolesPlan{Tracked: true, Owner: "relation_7_boss",
			Left: []LeftRole{{Name: "boss_worker", Why: "the relation user relation_7_boss is gone: nothing to give its objects to"}}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := DecideCreatedRoles(c.in)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("DecideCreatedRoles (-want +got):\n%s", diff)
			}
		})
	}
}
