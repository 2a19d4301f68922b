package clients

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/deepcopy"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

func standaloneFacts() *ServerFacts {
	return &ServerFacts{Primary: "10.0.0.10", SelfPrimary: true, Port: 5432, Version: "15.10",
		Roles: reportingRoles(), Extensions: map[string]bool{"citext": true, "pg_trgm": true}}
}

// reportingRoles is a server with one client group role the charm made,
// "reporting", and the built-in pg_monitor.
func reportingRoles() *clientdb.RoleGraph {
	return &clientdb.RoleGraph{Roles: map[string]*clientdb.RoleInfo{
		"reporting": {ClientGroup: true}, "pg_monitor": {}, "operator": {Privileged: "has LOGIN, SUPERUSER"},
	}}
}

func clientUnit(addr string) map[string]string {
	return map[string]string{"egress-subnets": addr + "/32", "ingress-address": addr, "private-address": addr}
}

func dbRelation(id, app string, data map[string]string) Relation {
	unit := clientUnit("10.0.0.21")
	for k, v := range data {
		unit[k] = v
	}
	ep, _, _ := strings.Cut(id, ":")
	return Relation{ID: id, Endpoint: ep, App: app, Host: "10.0.0.10",
		UnitData: map[string]map[string]string{app + "/0": unit}}
}

func databaseRelation(id, app string, appData map[string]string) Relation {
	return Relation{ID: id, Endpoint: EndpointDatabase, App: app, Host: "10.0.0.10", AppData: appData,
		UnitData: map[string]map[string]string{app + "/0": clientUnit("10.0.0.31")}}
}

func hbaStrings(p Plan) []string {
	var out []string
	for _, r := range p.HBA {
		out = append(out, strings.Join(strings.Fields(r.String()), " "))
	}
	return out
}

func serveIDs(p Plan) []string {
	var out []string
	for _, s := range p.Serve {
		out = append(out, s.ID)
	}
	return out
}

func publishIDs(p Plan) []string {
	var out []string
	for _, s := range p.Publish {
		out = append(out, s.ID)
	}
	return out
}

func statusMessages(p Plan) []string {
	var out []string
	for _, s := range p.Statuses {
		if s.Level != juju.StatusBlocked {
			out = append(out, "not blocked: "+s.Message)
			continue
		}
		out = append(out, s.Message)
	}
	return out
}

func TestDecideClients(t *testing.T) {
	cases := []struct {
		name     string
		in       Input
		hba      []string
		serve    []string
		publish  []string
		statuses []string // prefixes
		revoke   []string
		check    func(t *testing.T, p Plan)
	}{{
		name: "a db client unit joined: the leader serves it, pg_hba admits its address, the unit publishes standalone",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			dbRelation("db:5", "pg-client", map[string]string{"database": "app", "roles": "analytics", "extensions": "citext(exts)"})}},
		hba:     []string{`host app relation_5_pg_client 10.0.0.21/32 scram-sha-256`},
		serve:   []string{"db:5"},
		publish: []string{"db:5"},
		check: func(t *testing.T, p Plan) {
			s := p.Serve[0]
			want := Service{ID: "db:5", User: "relation_5_pg_client", Database: "app", CreateRoles: []string{"analytics"},
				Roles: []string{"analytics"}, Extensions: []clientdb.Extension{{Name: "citext", Schema: "exts"}}, Reason: s.Reason}
			if diff := cmp.Diff(want, s); diff != "" {
				t.Errorf("serve (-want +got):\n%s", diff)
			}
			if st := p.Publish[0].Server.State; st != pgsql.StateStandalone {
				t.Errorf("state %q", st)
			}
			if rec := p.Record["db:5"]; rec == nil || rec.User != "relation_5_pg_client" || !rec.Requested || rec.Database != "app" {
				t.Errorf("record %+v", rec)
			}
		},
	}, {
		name: "a db relation with no client unit yet: nothing is created for the default database",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			{ID: "db:5", Endpoint: EndpointDB, App: "pg-client"}}},
	}, {
		name: "a database name that breaks out of quoting refuses only that relation: no SQL, no rule, nothing published",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			dbRelation("db:5", "evil", map[string]string{"database": `x"; DROP DATABASE app; --`}),
			dbRelation("db:6", "good", nil)}},
		hba:      []string{`host good relation_6_good 10.0.0.21/32 scram-sha-256`},
		serve:    []string{"db:6"},
		publish:  []string{"db:6"},
		statuses: []string{`db:5: database "x\"; DROP`},
	}, {
		name: "an extension the server does not have refuses the relation, naming it and the extension",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			dbRelation("db:5", "pg-client", map[string]string{"extensions": "citext,nosuchext"})}},
		statuses: []string{`db:5: extension "nosuchext" is not available on this server`},
	}, {
		name: "a client that names another database after being served keeps its pg_hba rule but gets nothing new",
		in: Input{Leader: true, DB: standaloneFacts(), Passwords: map[string]string{"db:5": "pw"},
			Served:    map[string]Served{"db:5": {Endpoint: EndpointDB, App: "pg-client", User: "relation_5_pg_client", Database: "app", Requested: true}},
			Relations: []Relation{dbRelation("db:5", "pg-client", map[string]string{"database": "other"})}},
		hba:      []string{`host app relation_5_pg_client 10.0.0.21/32 scram-sha-256`},
		statuses: []string{`db:5: requested database changed after it was served`},
	}, {
		name: "db-admin: a superuser admitted to all databases",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			dbRelation("db-admin:3", "backup", nil)}},
		hba:     []string{`host all relation_3_backup 10.0.0.21/32 scram-sha-256`},
		serve:   []string{"db-admin:3"},
		publish: []string{"db-admin:3"},
		check: func(t *testing.T, p Plan) {
			if !reflect.DeepEqual(p.Serve[0].Attributes, []clientdb.Attribute{clientdb.AttrSuperuser}) || p.Serve[0].Database != "backup" {
				t.Errorf("serve %+v", p.Serve[0])
			}
		},
	}, {
		name: "database: the requirer has not sent database yet, so the provider waits without a status",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			databaseRelation("database:7", "myapp", nil)}},
	}, {
		name: "database with requested-secrets: served, admitted, published through secrets",
		in: Input{Leader: true, DB: standaloneFacts(), SecretsAvailable: true, Relations: []Relation{
			databaseRelation("database:7", "myapp", map[string]string{"database": "app", "requested-secrets": `["username", "password"]`, "extra-user-roles": "reporting"})}},
		hba:     []string{`host app relation_7_myapp 10.0.0.31/32 scram-sha-256`},
		serve:   []string{"database:7"},
		publish: []string{"database:7"},
		check: func(t *testing.T, p Plan) {
			if !p.Publish[0].UseSecrets || !reflect.DeepEqual(p.Serve[0].Roles, []string{"reporting"}) || p.Serve[0].CreateRoles != nil {
				t.Errorf("publish %+v serve %+v", p.Publish[0], p.Serve[0])
			}
		},
	}, {
		name: "database before any client unit joined: user and database are made, nothing is published until pg_hba admits a unit",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{{ID: "database:7", Endpoint: EndpointDatabase,
			App: "myapp", Host: "10.0.0.10", AppData: map[string]string{"database": "app"}}}},
		serve: []string{"database:7"},
		check: func(t *testing.T, p Plan) {
			if p.Record["database:7"] == nil {
				t.Error("the served relation is not recorded")
			}
		},
	}, {
		name: "database: unknown extra-user-roles refuse the relation; another relation of the same database is served",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			databaseRelation("database:7", "myapp", map[string]string{"database": "app", "extra-user-roles": "nosuchrole"}),
			dbRelation("db:8", "legacy", map[string]string{"database": "app"})}},
		hba:      []string{`host app relation_8_legacy 10.0.0.21/32 scram-sha-256`},
		serve:    []string{"db:8"},
		publish:  []string{"db:8"},
		statuses: []string{`database:7: invalid role(s) for extra user roles: "nosuchrole"`},
	}, {
		name: "two relations asking for one database get one user each",
		in: Input{Leader: true, DB: standaloneFacts(), Relations: []Relation{
			dbRelation("db:5", "a", map[string]string{"database": "shared"}), dbRelation("db:6", "b", map[string]string{"database": "shared"})}},
		hba:   []string{`host shared relation_5_a 10.0.0.21/32 scram-sha-256`, `host shared relation_6_b 10.0.0.21/32 scram-sha-256`},
		serve: []string{"db:5", "db:6"}, publish: []string{"db:5", "db:6"},
	}, {
		name: "a served relation that is gone (broken) is revoked by the leader and forgotten",
		in: Input{Leader: true, DB: standaloneFacts(), Passwords: map[string]string{"db:5": "pw"},
			Served: map[string]Served{"db:5": {Endpoint: EndpointDB, App: "pg-client", User: "relation_5_pg_client", Database: "app"}}},
		revoke: []string{"db:5"},
		check: func(t *testing.T, p Plan) {
			if rec, ok := p.Record["db:5"]; !ok || rec != nil {
				t.Errorf("record not deleted: %v %v", ok, rec)
			}
		},
	}, {
		name: "a non-leader runs no SQL, revokes nothing, writes no app databag, and publishes db once the leader served it",
		in: Input{Leader: false, DB: &ServerFacts{Primary: "10.0.0.10", Replicas: []string{"10.0.0.11"}, SelfReplica: true, Port: 5432, Version: "15.10", Extensions: map[string]bool{}},
			Passwords: map[string]string{"db:5": "pw"},
			Served: map[string]Served{
				"db:5": {Endpoint: EndpointDB, App: "pg-client", User: "relation_5_pg_client", Database: "pg-client"},
				"db:9": {Endpoint: EndpointDB, App: "gone", User: "relation_9_gone", Database: "gone"}},
			Relations: []Relation{dbRelation("db:5", "pg-client", nil), databaseRelation("database:7", "myapp", map[string]string{"database": "app"})}},
		hba:     []string{`host pg-client relation_5_pg_client 10.0.0.21/32 scram-sha-256`, `host app relation_7_myapp 10.0.0.31/32 scram-sha-256`},
		publish: []string{"db:5"},
		check: func(t *testing.T, p Plan) {
			srv := p.Publish[0].Server
			if srv.State != pgsql.StateHotStandby || srv.Primary == nil || srv.Primary.Host != "10.0.0.10" || len(srv.Standbys) != 1 {
				t.Errorf("server %+v", srv)
			}
		},
	}, {
		name: "a replica publishes failover on db while the cluster has no primary, with no master",
		in: Input{Leader: false, DB: &ServerFacts{Replicas: []string{"10.0.0.11"}, SelfReplica: true, Port: 5432, Version: "15.10", Extensions: map[string]bool{}},
			Passwords: map[string]string{"db:5": "pw"},
			Served:    map[string]Served{"db:5": {Endpoint: EndpointDB, App: "pg-client", User: "relation_5_pg_client", Database: "pg-client"}},
			Relations: []Relation{dbRelation("db:5", "pg-client", nil)}},
		hba:     []string{`host pg-client relation_5_pg_client 10.0.0.21/32 scram-sha-256`},
		publish: []string{"db:5"},
		check: func(t *testing.T, p Plan) {
			if srv := p.Publish[0].Server; srv.State != pgsql.StateFailover || srv.Primary != nil {
				t.Errorf("server %+v", srv)
			}
		},
	}, {
		name: "PostgreSQL did not answer: relations wait and pg_hba keeps what was served",
		in: Input{Leader: true,
			Served:    map[string]Served{"database:7": {Endpoint: EndpointDatabase, App: "myapp", User: "relation_7_myapp", Database: "app", Requested: true}},
			Relations: []Relation{databaseRelation("database:7", "myapp", map[string]string{"database": "app"})}},
		hba: []string{`host app relation_7_myapp 10.0.0.31/32 scram-sha-256`},
		check: func(t *testing.T, p Plan) {
			if !p.NeedFacts {
				t.Error("NeedFacts is false")
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := deepcopy.Of(tc.in)
			p := Decide(tc.in)
			if !reflect.DeepEqual(before, tc.in) {
				t.Fatal("Decide changed its input")
			}
			if diff := cmp.Diff(tc.hba, hbaStrings(p)); diff != "" {
				t.Errorf("pg_hba (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.serve, serveIDs(p)); diff != "" {
				t.Errorf("serve (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.publish, publishIDs(p)); diff != "" {
				t.Errorf("publish (-want +got):\n%s", diff)
			}
			got := statusMessages(p)
			if len(got) != len(tc.statuses) {
				t.Errorf("statuses %q, want prefixes %q", got, tc.statuses)
			}
			for i := range tc.statuses {
				if i < len(got) && !strings.HasPrefix(got[i], tc.statuses[i]) {
					t.Errorf("status %d = %q, want prefix %q", i, got[i], tc.statuses[i])
				}
			}
			var revoked []string
			for _, r := range p.Revoke {
				revoked = append(revoked, r.ID)
			}
			if diff := cmp.Diff(tc.revoke, revoked); diff != "" {
				t.Errorf("revoke (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestCombineRefusals(t *testing.T) {
	if _, ok := CombineRefusals(nil); ok {
		t.Error("a status from nothing")
	}
	st, _ := CombineRefusals([]juju.Status{juju.Blocked("db:5: bad"), juju.Blocked("database:7: worse"), juju.Blocked("db:8: x")})
	if want := juju.Blocked("db:5: bad (and 2 more relations refused: database:7, db:8)"); st != want {
		t.Errorf("got %v, want %v", st, want)
	}
}

func TestDecideClientHBAGate(t *testing.T) {
	for _, c := range []struct {
		name      string
		primary   string
		running   []string
		published map[string]string
		want      HBAGate
	}{
		{"standalone: this unit is the primary", "pg/0", nil, nil, HBAGate{Legacy: true, Database: true}},
		{"the primary has not loaded the rules: nothing new is published", "pg/1", []string{"pg/2"},
			map[string]string{"pg/1": "old", "pg/2": "h"}, HBAGate{}},
		{"the primary has, a replica has not: db may publish, database waits", "pg/1", []string{"pg/2"},
			map[string]string{"pg/1": "h", "pg/2": "old"}, HBAGate{Legacy: true}},
		{"every running member has", "pg/1", []string{"pg/0", "pg/2"},
			map[string]string{"pg/1": "h", "pg/2": "h"}, HBAGate{Legacy: true, Database: true}},
		{"no primary (failover in progress)", "", []string{"pg/2"}, map[string]string{"pg/2": "h"}, HBAGate{}},
	} {
		in := deepcopy.Of(c)
		got := DecideHBAGate("pg/0", c.primary, c.running, c.published, "h")
		if !reflect.DeepEqual(in, c) {
			t.Error("DecideHBAGate changed its input")
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestDecideRefusesAWideEgressSubnet (issue 9): a client unit that claims
// egress-subnets=0.0.0.0/0 gets no pg_hba rule from anywhere; its
// relation is refused with a status saying how an operator allows a wider
// network, and the other relations go on.
func TestDecideRefusesAWideEgressSubnet(t *testing.T) {
	wide := dbRelation("db:5", "evil", map[string]string{"database": "app"})
	for u := range wide.UnitData {
		wide.UnitData[u]["egress-subnets"] = "0.0.0.0/0"
	}
	good := dbRelation("db:6", "good", map[string]string{"database": "app"})
	in := Input{Leader: true, Relations: []Relation{wide, good}, DB: standaloneFacts()}
	p := Decide(in)
	if got := statusMessages(p); len(got) != 1 || !strings.Contains(got[0], "db:5: ") || !strings.Contains(got[0], "client_networks") {
		t.Errorf("statuses %q, want one refusing db:5 and naming client_networks", got)
	}
	for _, r := range hbaStrings(p) {
		if strings.Contains(r, "0.0.0.0") {
			t.Errorf("a pg_hba rule admits the world: %s", r)
		}
	}
	if ids := serveIDs(p); len(ids) != 1 || ids[0] != "db:6" {
		t.Errorf("served %v, want db:6 only", ids)
	}
	in.ClientNetworks = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	if p := Decide(in); len(statusMessages(p)) != 0 || len(serveIDs(p)) != 2 {
		t.Errorf("with client_networks allowing it: statuses %q, served %v", statusMessages(p), serveIDs(p))
	}
}

// TestDecideGatesAdminAttributes: superuser, createrole and admin in
// extra-user-roles are served only to applications in admin_applications;
// a refused relation names itself, the application and the option, and is
// served nothing (issue 9, item 5).
func TestDecideGatesAdminAttributes(t *testing.T) {
	for _, roles := range []string{"superuser", "CREATEROLE", "admin", "createdb,superuser"} {
		rel := databaseRelation("database:7", "myapp", map[string]string{"database": "app", "extra-user-roles": roles})
		in := Input{Leader: true, Relations: []Relation{rel}, DB: standaloneFacts()}
		p := Decide(in)
		got := statusMessages(p)
		if len(got) != 1 || !strings.Contains(got[0], "database:7") || !strings.Contains(got[0], "admin_applications") ||
			!strings.Contains(got[0], "myapp") {
			t.Errorf("extra-user-roles %q: statuses %q, want one refusal naming database:7, myapp and admin_applications", roles, got)
		}
		if len(p.Serve) != 0 || len(p.Publish) != 0 || len(p.HBA) != 0 {
			t.Errorf("extra-user-roles %q: a refused relation got serve %v, publish %d, hba %v", roles, serveIDs(p), len(p.Publish), hbaStrings(p))
		}
		in.AdminApplications = []string{"myapp"}
		if p := Decide(in); len(statusMessages(p)) != 0 || len(serveIDs(p)) != 1 {
			t.Errorf("extra-user-roles %q with myapp allowed: statuses %q, served %v", roles, statusMessages(p), serveIDs(p))
		}
	}
	// Served while allowed, then the application leaves the list: the
	// relation is refused and its user loses the attributes.
	rel := databaseRelation("database:7", "myapp", map[string]string{"database": "app", "extra-user-roles": "superuser"})
	served := map[string]Served{"database:7": {Endpoint: EndpointDatabase, App: "myapp", User: "relation_7_myapp", Database: "app", Requested: true}}
	p := Decide(Input{Leader: true, Relations: []Relation{rel}, DB: standaloneFacts(), Served: served})
	if len(p.Withdraw) != 1 || p.Withdraw[0].Served.User != "relation_7_myapp" || len(p.Serve) != 0 {
		t.Errorf("withdrawn permission: withdraw %+v, serve %v", p.Withdraw, serveIDs(p))
	}
	if p := Decide(Input{Relations: []Relation{rel}, DB: standaloneFacts(), Served: served}); len(p.Withdraw) != 0 {
		t.Errorf("a non-leader withdraws: %+v", p.Withdraw)
	}
	plain := databaseRelation("database:8", "other", map[string]string{"database": "app", "extra-user-roles": "createdb,reporting"})
	if p := Decide(Input{Leader: true, Relations: []Relation{plain}, DB: standaloneFacts()}); len(statusMessages(p)) != 0 {
		t.Errorf("createdb and a client group role need no allowing: %q", statusMessages(p))
	}
}

// TestDecideGrantsOnlyCharmMadeOrListedRoles: extra-user-roles may name a
// role the charm made for `roles`, and a built-in or hand-made one only
// when client_roles lists it (issue 9, item 4).
func TestDecideGrantsOnlyCharmMadeOrListedRoles(t *testing.T) {
	rel := databaseRelation("database:7", "myapp", map[string]string{"database": "app", "extra-user-roles": "pg_monitor"})
	in := Input{Leader: true, Relations: []Relation{rel}, DB: standaloneFacts()}
	if got := statusMessages(Decide(in)); len(got) != 1 || !strings.Contains(got[0], "pg_monitor") {
		t.Errorf("pg_monitor unlisted: statuses %q, want a refusal naming it", got)
	}
	in.ClientRoles = []string{"pg_monitor"}
	p := Decide(in)
	if len(statusMessages(p)) != 0 || len(p.Serve) != 1 || !slices.Equal(p.Serve[0].Roles, []string{"pg_monitor"}) ||
		!slices.Equal(p.Serve[0].AllowedRoles, []string{"pg_monitor"}) {
		t.Errorf("pg_monitor listed: statuses %q, serve %+v", statusMessages(p), p.Serve)
	}
	legacy := dbRelation("db:9", "legacy", map[string]string{"database": "app", "roles": "pg_monitor"})
	p = Decide(Input{Leader: true, Relations: []Relation{legacy}, DB: standaloneFacts(), ClientRoles: []string{"pg_monitor"}})
	if len(p.Serve) != 1 || !slices.Equal(p.Serve[0].AllowedRoles, []string{"pg_monitor"}) {
		t.Errorf("a db relation's service does not carry client_roles: %+v", p.Serve)
	}
}

// TestDecideIsolatesDatabases: with isolate_databases, a database serves
// the application first served it (the records first, then relation
// order); other applications' relations naming it are refused, the same
// application's second relation is not, and db-admin claims nothing.
func TestDecideIsolatesDatabases(t *testing.T) {
	first := dbRelation("db:5", "one", map[string]string{"database": "app"})
	second := databaseRelation("database:6", "two", map[string]string{"database": "app"})
	sameApp := databaseRelation("database:7", "one", map[string]string{"database": "app"})
	admin := dbRelation("db-admin:8", "dba", map[string]string{"database": "app"})
	in := Input{Leader: true, Relations: []Relation{second, first, sameApp, admin}, DB: standaloneFacts()}
	if p := Decide(in); len(statusMessages(p)) != 0 || len(serveIDs(p)) != 4 {
		t.Fatalf("sharing allowed by default: statuses %q, served %v", statusMessages(p), serveIDs(p))
	}
	in.IsolateDatabases = true
	p := Decide(in)
	if got := statusMessages(p); len(got) != 1 || !strings.Contains(got[0], "database:6") || !strings.Contains(got[0], "isolate_databases") {
		t.Errorf("statuses %q, want one refusing database:6 and naming isolate_databases", got)
	}
	if ids := serveIDs(p); !slices.Equal(ids, []string{"db:5", "database:7", "db-admin:8"}) {
		t.Errorf("served %v", ids)
	}
	// A record of an earlier serving wins over relation order.
	in.Served = map[string]Served{"database:6": {Endpoint: EndpointDatabase, App: "two", User: "relation_6_two", Database: "app", Requested: true}}
	p = Decide(in)
	if got := statusMessages(p); len(got) != 2 || !strings.Contains(strings.Join(got, " "), "db:5") {
		t.Errorf("with two's record: statuses %q, want db:5 and database:7 refused", got)
	}
}
