package relations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// badCase is one refused request: a pgclient application related on an
// endpoint with config that asks for something the server must refuse.
type badCase struct {
	name     string
	app      string
	endpoint string
	config   map[string]string
	// mention is a further text the server's Blocked message must contain
	// besides the relation id ("" for none).
	mention string
	// absentDBs and absentRoles must not exist afterwards: no SQL was
	// built from the bad value.
	absentDBs, absentRoles []string
}

var (
	long64    = strings.Repeat("d", 64)
	quoteDB   = `x"; DROP DATABASE postgres; --`
	quoteRole = `r"; DROP ROLE operator; --`
)

var badCases = []badCase{
	{name: "database of one blank (an empty value deletes the key)", app: "bad-blank", endpoint: "db",
		config: map[string]string{"database": " "}, absentDBs: []string{" "}},
	{name: "empty extension name", app: "bad-emptyext", endpoint: "db",
		config: map[string]string{"extensions": "citext,:public"}},
	{name: "database name of 64 bytes", app: "bad-longdb", endpoint: "db",
		config: map[string]string{"database": long64}, absentDBs: []string{long64, long64[:63]}},
	{name: "role name of 64 bytes", app: "bad-longrole", endpoint: "db",
		config: map[string]string{"roles": long64}, absentRoles: []string{long64, long64[:63]}},
	{name: "database name not valid UTF-8", app: "bad-utf", endpoint: "db",
		config: map[string]string{"database": "hex:ff6462fe"}},
	{name: "database name breaking out of quoting", app: "bad-quotedb", endpoint: "db",
		config: map[string]string{"database": quoteDB}, absentDBs: []string{quoteDB, "x"}},
	{name: "role name breaking out of quoting", app: "bad-quoterole", endpoint: "db",
		config: map[string]string{"roles": quoteRole}, absentRoles: []string{quoteRole, "r"}},
	{name: "extension name breaking out of quoting", app: "bad-quoteext", endpoint: "db",
		config: map[string]string{"extensions": `citext"; DROP DATABASE postgres; --`}},
	{name: "db-admin database breaking out of quoting", app: "bad-quoteadmin", endpoint: "db-admin",
		config: map[string]string{"database": quoteDB}, absentDBs: []string{quoteDB}},
	{name: "database endpoint: database breaking out of quoting", app: "bad-quotemodern", endpoint: "database",
		config: map[string]string{"database": quoteDB}, absentDBs: []string{quoteDB}},
	{name: "database endpoint: database of 64 bytes", app: "bad-longmodern", endpoint: "database",
		config: map[string]string{"database": long64}, absentDBs: []string{long64, long64[:63]}},
	{name: "database endpoint: unknown extra-user-roles", app: "bad-extraroles", endpoint: "database",
		config: map[string]string{"extra-user-roles": "pgclient_no_such_role"}, mention: "pgclient_no_such_role",
		absentDBs: []string{"bad-extraroles"}, absentRoles: []string{"pgclient_no_such_role"}},
	// Issue 9, items 4 and 5: built-in roles and admin attributes only
	// where the operator allows them (client_roles, admin_applications).
	{name: "db endpoint: a built-in role not in client_roles", app: "bad-builtin", endpoint: "db",
		config: map[string]string{"roles": "pg_monitor"}, mention: "client_roles"},
	{name: "database endpoint: superuser from an application not in admin_applications", app: "bad-super", endpoint: "database",
		config: map[string]string{"extra-user-roles": "superuser"}, mention: "admin_applications", absentDBs: []string{"bad-super"}},
	{name: "extension not available on the server", app: "bad-noext", endpoint: "db",
		config: map[string]string{"extensions": "pgclient_no_such_ext"}, mention: "pgclient_no_such_ext"},
}

// TestBadInput relates one bad client after another next to two healthy
// clients (db and database): each bad request refuses only its relation,
// with a Blocked status naming it, creates nothing from the bad value, and
// the healthy relations keep working. Last, a served client that changes
// its database is refused the same way until it changes back.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	var opPW, goodRel, goodModernRel, changerRel string
	healthy := func(t *testing.T) {
		t.Helper()
		for unit, rel := range map[string]string{"good/0": goodRel, "goodmodern/0": goodModernRel} {
			if _, err := e.checkOK(unit, rel); err != nil {
				t.Errorf("healthy relation broken: %v", err)
			}
		}
		err := e.asOperator(opPW, "postgres", func(ctx context.Context, c *pgx.Conn) error {
			for _, q := range []string{"SELECT 1 FROM pg_database WHERE datname = 'postgres'", "SELECT 1 FROM pg_roles WHERE rolname = 'operator'"} {
				ok, err := exists(ctx, c, q)
				if err != nil || !ok {
					t.Errorf("%s: got %v, %v", q, ok, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	steps := []step{
		{name: "deploy postgresql and two healthy clients", run: func(t *testing.T) {
			ew := e.with(t)
			ew.deployServer()
			opPW = ew.operator()
			ew.deploy(clientCharm, "good", map[string]string{"roles": "pgclient_good"})
			ew.deploy(clientCharm, "goodmodern", nil)
			goodRel = ew.integrate("db", "good")
			goodModernRel = ew.integrate("database", "goodmodern")
			ew.waitClientOK("good/0", goodRel)
			ew.waitClientOK("goodmodern/0", goodModernRel)
		}},
	}
	for _, c := range badCases {
		steps = append(steps, step{name: c.name, run: func(t *testing.T) {
			ew := e.with(t)
			ew.deploy(clientCharm, c.app, c.config)
			rel := ew.integrate(c.endpoint, c.app)
			ew.waitFor("postgresql/0 blocked naming "+rel, func() error {
				if err := e.wantStatus(pg0, "blocked", rel+":"); err != nil {
					return err
				}
				return e.wantStatus(pg0, "blocked", c.mention)
			})
			t.Logf("refused: %s", e.unitStatus(pg0).WorkloadStatus.Message)
			ew.waitIdle()
			if r, err := e.check(c.app+"/0", rel); err != nil {
				t.Error(err)
			} else if r.Ready || r.OK {
				t.Errorf("%s was served: %+v", c.app, r)
			}
			if bag, err := e.serverBag(pg0, rel); err == nil && (bag["password"] != "" || bag["allowed-units"] != "") {
				t.Errorf("refused relation %s got credentials or allowed-units published", rel)
			}
			err := e.asOperator(opPW, "postgres", func(ctx context.Context, c2 *pgx.Conn) error {
				for _, db := range c.absentDBs {
					if ok, err := exists(ctx, c2, "SELECT 1 FROM pg_database WHERE datname = $1", db); err != nil || ok {
						t.Errorf("database %q exists=%v (err %v) after a refused request", db, ok, err)
					}
				}
				for _, role := range c.absentRoles {
					if ok, err := exists(ctx, c2, "SELECT 1 FROM pg_roles WHERE rolname = $1", role); err != nil || ok {
						t.Errorf("role %q exists=%v (err %v) after a refused request", role, ok, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			healthy(t)
			ew.removeRelation(c.endpoint, c.app)
			ew.waitFor("postgresql/0 active again", func() error { return e.wantStatus(pg0, "active", "") })
			healthy(t)
		}})
	}
	steps = append(steps, step{name: "a served client that changes its database is refused until it changes back", run: func(t *testing.T) {
		ew := e.with(t)
		ew.deploy(clientCharm, "changer", map[string]string{"database": "changer_one"})
		rel := ew.integrate("db", "changer")
		changerRel = rel
		before := ew.waitClientOK("changer/0", rel)
		if err := e.m.SetConfig("changer", map[string]string{"database": "changer_two"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.waitFor("postgresql/0 blocked naming "+rel, func() error { return e.wantStatus(pg0, "blocked", rel+":") })
		t.Logf("refused: %s", e.unitStatus(pg0).WorkloadStatus.Message)
		ew.waitIdle()
		err := e.asOperator(opPW, "postgres", func(ctx context.Context, c *pgx.Conn) error {
			if ok, err := exists(ctx, c, "SELECT 1 FROM pg_database WHERE datname = 'changer_two'"); err != nil || ok {
				return fmt.Errorf("database changer_two exists=%v (err %v)", ok, err)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		// The client keeps what it had: its old credentials still log in.
		if err := e.tryLogin("changer/0", before); err != nil {
			t.Errorf("changer lost access to changer_one while refused: %v", err)
		}
		healthy(t)
		if err := e.m.SetConfig("changer", map[string]string{"database": "changer_one"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.waitFor("postgresql/0 active again", func() error { return e.wantStatus(pg0, "active", "") })
		ew.waitClientOK("changer/0", rel)
		ew.readRows(opPW, before)
		healthy(t)
	}})
	steps = append(steps, step{name: "isolate_databases refuses a second application its database; off again, it shares", run: func(t *testing.T) {
		ew := e.with(t)
		if err := e.m.SetConfig("postgresql", map[string]string{"isolate_databases": "true"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.deploy(clientCharm, "intruder", map[string]string{"database": "good"})
		rel := ew.integrate("db", "intruder")
		ew.waitFor("postgresql/0 blocked naming "+rel+" and isolate_databases", func() error {
			if err := e.wantStatus(pg0, "blocked", rel+":"); err != nil {
				return err
			}
			return e.wantStatus(pg0, "blocked", "isolate_databases")
		})
		ew.waitIdle()
		if r, err := e.check("intruder/0", rel); err != nil {
			t.Error(err)
		} else if r.Ready || r.OK {
			t.Errorf("intruder was served good's database: %+v", r)
		}
		healthy(t)
		if err := e.m.SetConfig("postgresql", map[string]string{"isolate_databases": "false"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.waitFor("postgresql/0 active again", func() error { return e.wantStatus(pg0, "active", "") })
		ew.waitClientOK("intruder/0", rel)
		ew.removeRelation("db", "intruder")
		healthy(t)
	}})
	steps = append(steps, step{name: "admin_applications: allowed, superuser is served; withdrawn, the user loses it; allowed again, it is back", run: func(t *testing.T) {
		ew := e.with(t)
		superuser := func(user string) bool {
			var super bool
			err := e.asOperator(opPW, "postgres", func(ctx context.Context, c *pgx.Conn) error {
				return c.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", user).Scan(&super)
			})
			if err != nil {
				t.Fatal(err)
			}
			return super
		}
		if err := e.m.SetConfig("postgresql", map[string]string{"admin_applications": "trusted"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.deploy(clientCharm, "trusted", map[string]string{"extra-user-roles": "superuser"})
		rel := ew.integrate("database", "trusted")
		r := ew.waitClientOK("trusted/0", rel)
		if !superuser(r.User) {
			t.Fatalf("%s of an application in admin_applications is no superuser", r.User)
		}
		if err := e.m.SetConfig("postgresql", map[string]string{"admin_applications": ""}, nil); err != nil {
			t.Fatal(err)
		}
		ew.waitFor("postgresql/0 blocked naming "+rel+" and admin_applications", func() error {
			if err := e.wantStatus(pg0, "blocked", rel+":"); err != nil {
				return err
			}
			return e.wantStatus(pg0, "blocked", "admin_applications")
		})
		ew.waitFor(r.User+" no longer superuser", func() error {
			if superuser(r.User) {
				return fmt.Errorf("%s is still a superuser", r.User)
			}
			return nil
		})
		healthy(t)
		if err := e.m.SetConfig("postgresql", map[string]string{"admin_applications": "trusted"}, nil); err != nil {
			t.Fatal(err)
		}
		ew.waitFor("postgresql/0 active again", func() error { return e.wantStatus(pg0, "active", "") })
		ew.waitFor(r.User+" superuser again", func() error {
			if !superuser(r.User) {
				return fmt.Errorf("%s is not a superuser again", r.User)
			}
			return nil
		})
		ew.removeRelation("database", "trusted")
		ew.waitFor("postgresql/0 active", func() error { return e.wantStatus(pg0, "active", "") })
	}})
	steps = append(steps, step{name: "no healthy client ever had published credentials refused", soft: true, run: func(t *testing.T) {
		for unit, rel := range map[string]string{"good/0": goodRel, "goodmodern/0": goodModernRel, "changer/0": changerRel} {
			if err := e.neverRefused(unit, rel); err != nil {
				t.Error(err)
			}
		}
	}})
	runSteps(t, steps)
}
