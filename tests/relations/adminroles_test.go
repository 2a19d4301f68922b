package relations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/testbuild"
)

// TestAdminCreatedRoles (issue 9 item 5): a database client in
// admin_applications with extra-user-roles=createrole makes a login role
// of its own, a schema and a table owned by it, and keeps a session of
// that role open. When its relation is broken the role is gone, its
// session ended, and the schema and table (with their rows) remain, owned
// by the relation's own user; the roles that existed before, the charm's
// system users and the roles the charm created meanwhile for another
// client are untouched.
func TestAdminCreatedRoles(t *testing.T) {
	e := newEnv(t)
	const (
		worker  = "boss_worker"
		workPW  = "boss-worker-password-0123456789abcdef"
		before  = "made_before_admin"
		plainGr = "plain_group"
	)
	var opPW, bossRel, plainRel string
	var boss, plain Result
	var held *pgx.Conn
	t.Cleanup(func() {
		if held != nil {
			held.Close(context.Background())
		}
	})
	role := func(t *testing.T, name string) (exists, login bool) {
		t.Helper()
		err := e.asOperator(opPW, "postgres", func(ctx context.Context, c *pgx.Conn) error {
			err := c.QueryRow(ctx, `SELECT pg_catalog.count(*) > 0, COALESCE(pg_catalog.bool_or(rolcanlogin), false)
				FROM pg_catalog.pg_roles WHERE rolname = $1`, name).Scan(&exists, &login)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return exists, login
	}
	steps := []step{
		{name: "deploy postgresql; the operator makes a role by hand", run: func(t *testing.T) {
			ew := e.with(t)
			ew.deployServer()
			opPW = ew.operator()
			err := e.asOperator(opPW, "postgres", func(ctx context.Context, c *pgx.Conn) error {
				_, err := c.Exec(ctx, "CREATE ROLE "+before+" NOLOGIN")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{name: "an admin application with createrole makes a login role, a schema and a table owned by it", run: func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.SetConfig(pgApp, map[string]string{"admin_applications": "boss"}, nil); err != nil {
				t.Fatal(err)
			}
			ew.deploy(clientCharm, "boss", map[string]string{"extra-user-roles": "createrole"})
			bossRel = ew.integrate("database", "boss")
			boss = ew.waitClientOK("boss/0", bossRel)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := e.connectFrom(ctx, "boss/0", boss.Host, boss.Port, boss.User, boss.Password, boss.Database)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			for _, q := range []string{
				"CREATE ROLE " + worker + " LOGIN PASSWORD '" + workPW + "'",
				"GRANT " + worker + " TO " + pgx.Identifier{boss.User}.Sanitize(),
				"CREATE SCHEMA boss_app AUTHORIZATION " + worker,
				"SET ROLE " + worker,
				"CREATE TABLE boss_app.items (id int PRIMARY KEY, what text)",
				"INSERT INTO boss_app.items VALUES (1, 'kept'), (2, 'also kept')",
				"RESET ROLE",
			} {
				if _, err := c.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}},
		{name: "another client is served meanwhile: the charm creates its user and group role", run: func(t *testing.T) {
			ew := e.with(t)
			ew.deploy(clientCharm, "plain", map[string]string{"roles": plainGr})
			plainRel = ew.integrate("db", "plain")
			plain = ew.waitClientOK("plain/0", plainRel)
		}},
		{name: "the worker role stays logged in, holding a lock on its table", run: func(t *testing.T) {
			// Admit the worker from boss/0 (pg_hba admits only relation
			// users otherwise) and keep its session in a transaction.
			addr := e.unitStatus("boss/0").PublicAddress
			line := fmt.Sprintf("host %s %s %s/32 scram-sha-256", boss.Database, worker, addr)
			if err := e.m.SetConfig(pgApp, map[string]string{"extra_pg_auth": line}, nil); err != nil {
				t.Fatal(err)
			}
			ew := e.with(t)
			ew.waitIdle()
			ew.waitFor(worker+" logs in from boss/0", func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c, err := e.connectFrom(ctx, "boss/0", boss.Host, boss.Port, worker, workPW, boss.Database)
				if err != nil {
					return err
				}
				held = c
				return nil
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, q := range []string{"BEGIN", "SELECT pg_catalog.count(*) FROM boss_app.items"} {
				if _, err := held.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}},
		{name: "relation removed: the worker role is gone, its table kept and owned by the relation user, other roles untouched", run: func(t *testing.T) {
			ew := e.with(t)
			ew.removeRelation("database", "boss")
			ew.waitFor(boss.User+" loses LOGIN", func() error {
				if _, login := role(t, boss.User); login {
					return fmt.Errorf("%s can still log in", boss.User)
				}
				return nil
			})
			// The hook that revoked the user is the one that cleans up:
			// once the model is idle it has finished.
			ew.waitIdle()
			if ok, _ := role(t, worker); ok {
				t.Errorf("role %s, created by the admin client, still exists after its relation was broken", worker)
			}
			for _, r := range []string{before, boss.User, plain.User, plainGr, "operator", "replication", "rewind"} {
				if ok, _ := role(t, r); !ok {
					t.Errorf("role %s was dropped; it is not the admin client's", r)
				}
			}
			if _, login := role(t, plain.User); !login {
				t.Errorf("%s (another relation's user) lost LOGIN", plain.User)
			}
			err := e.asOperator(opPW, boss.Database, func(ctx context.Context, c *pgx.Conn) error {
				var schemaOwner, tableOwner string
				var n int
				err := c.QueryRow(ctx, `SELECT n.nspowner::regrole::text, c.relowner::regrole::text
					FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
					WHERE n.nspname = 'boss_app' AND c.relname = 'items'`).Scan(&schemaOwner, &tableOwner)
				if err != nil {
					return fmt.Errorf("boss_app.items is gone: %w", err)
				}
				if err := c.QueryRow(ctx, "SELECT pg_catalog.count(*) FROM boss_app.items").Scan(&n); err != nil {
					return err
				}
				want := pgx.Identifier{boss.User}.Sanitize()
				if tableOwner != want && tableOwner != boss.User || schemaOwner != want && schemaOwner != boss.User {
					t.Errorf("boss_app.items owned by %s, schema by %s; want both %s", tableOwner, schemaOwner, boss.User)
				}
				if n != 2 {
					t.Errorf("boss_app.items has %d rows, want 2", n)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			if held != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
					t.Errorf("the session of %s is still open", worker)
				}
			}
			// The leader's log says what went and what stayed, and why.
			var dropped bool
			for _, l := range strings.Split(testbuild.DebugLog(e.m, 0), "\n") {
				if strings.Contains(l, "roles the relation created") || strings.Contains(l, "appeared while the relation could create roles") {
					t.Log(l)
					dropped = dropped || strings.Contains(l, "dropped") && strings.Contains(l, worker)
				}
			}
			if !dropped {
				t.Errorf("postgresql/0's log does not say it dropped %s", worker)
			}
			if _, err := e.checkOK("plain/0", plainRel); err != nil {
				t.Errorf("the other client broke: %v", err)
			}
			if err := e.wantStatus(pg0, "active", ""); err != nil {
				t.Error(err)
			}
		}},
	}
	runSteps(t, steps)
}
