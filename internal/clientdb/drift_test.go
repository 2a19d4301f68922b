package clientdb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/clientdb"
)

// serveWant does what the charm's PostgresClientDB.Serve does for one
// relation, in its order, with the real effects.
func serveWant(t *testing.T, c *cluster, admin *pgx.Conn, w clientdb.Want) {
	t.Helper()
	ctx := context.Background()
	ok(t)(clientdb.EnsureLoginUser(ctx, admin, w.User, w.Password))
	ok(t)(clientdb.EnsureAttributes(ctx, admin, w.User, w.Attributes))
	ok(t)(clientdb.EnsureDatabase(ctx, admin, w.Database))
	dbq, err := c.connect(ctx, "operator", c.password, w.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer dbq.Close(ctx)
	ok(t)(clientdb.EnsureDatabaseAccess(ctx, admin, dbq, w.Database, w.User))
	for _, r := range w.CreateRoles {
		ok(t)(clientdb.EnsureRole(ctx, admin, r))
	}
	ok(t)(clientdb.GrantRoles(ctx, admin, w.User, w.Roles, w.Roles))
	if w.Admin {
		ok(t)(clientdb.EnsureAdminMembership(ctx, admin, w.User))
	}
}

// run runs each statement through q, failing the test on error.
func run(t *testing.T, q clientdb.Querier, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if _, err := q.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// countingQuerier counts the statements sent through it.
type countingQuerier struct {
	clientdb.Querier
	n int
}

func (c *countingQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.Querier.Exec(ctx, sql, args...)
}

func (c *countingQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.n++
	return c.Querier.QueryRow(ctx, sql, args...)
}

func (c *countingQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.n++
	return c.Querier.Query(ctx, sql, args...)
}

func TestDrifted(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	admin := c.admin(t, "postgres")
	wants := []clientdb.Want{
		{ID: "db:1", User: "relation_1_one", Password: newPassword(t), Database: "one",
			CreateRoles: []string{"reporting"}, Roles: []string{"reporting", "pg_monitor"}},
		{ID: "db-admin:2", User: "relation_2_boss", Password: newPassword(t), Database: "boss",
			Attributes: []clientdb.Attribute{clientdb.AttrCreateDB}, Admin: true},
		{ID: "database:3", User: "relation_3_three", Password: newPassword(t), Database: "shared"},
		{ID: "database:4", User: "relation_4_four", Password: newPassword(t), Database: "shared",
			Attributes: []clientdb.Attribute{clientdb.AttrCreateRole}, Roles: []string{"reporting"}},
	}
	drifted := func(t *testing.T, wants []clientdb.Want) map[string]string {
		t.Helper()
		got, err := clientdb.Drifted(ctx, admin, wants)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	for _, tc := range []struct {
		name  string
		drift func(t *testing.T)
		want  map[string]string
	}{
		{"nothing changed", func(*testing.T) {}, map[string]string{}},
		{"the user is dropped", func(t *testing.T) {
			run(t, c.admin(t, "shared"), "DROP OWNED BY relation_3_three")
			run(t, admin, "DROP OWNED BY relation_3_three", "DROP ROLE relation_3_three")
		}, map[string]string{"database:3": `user "relation_3_three" is missing`}},
		{"the user loses LOGIN", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_2_boss NOLOGIN")
		}, map[string]string{"db-admin:2": `user "relation_2_boss" has no LOGIN`}},
		{"the password is changed", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_1_one PASSWORD 'another-password-0123456789'")
		}, map[string]string{"db:1": `user "relation_1_one" has another password`}},
		{"the password is removed", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_1_one PASSWORD NULL")
		}, map[string]string{"db:1": `user "relation_1_one" has no password`}},
		{"SUPERUSER is added", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_4_four SUPERUSER")
		}, map[string]string{"database:4": `user "relation_4_four" has SUPERUSER`}},
		{"a requested attribute is removed", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_2_boss NOCREATEDB")
		}, map[string]string{"db-admin:2": `user "relation_2_boss" lacks CREATEDB`}},
		{"the database is dropped", func(t *testing.T) {
			run(t, admin, "DROP DATABASE one WITH (FORCE)")
		}, map[string]string{"db:1": `database "one" is missing`}},
		{"CONNECT is revoked", func(t *testing.T) {
			run(t, admin, "REVOKE CONNECT ON DATABASE shared FROM relation_3_three")
		}, map[string]string{"database:3": `"relation_3_three" lacks CONNECT on "shared"`}},
		{"every database privilege is revoked", func(t *testing.T) {
			run(t, admin, "REVOKE ALL ON DATABASE boss FROM relation_2_boss")
		}, map[string]string{"db-admin:2": `"relation_2_boss" lacks CONNECT, CREATE, TEMPORARY on "boss"`}},
		{"a group role is dropped", func(t *testing.T) {
			run(t, admin, "DROP ROLE reporting")
		}, map[string]string{
			"db:1":       `role "reporting" is missing; "relation_1_one" is not a member of "reporting"`,
			"database:4": `role "reporting" is missing`,
		}},
		{"a membership is revoked", func(t *testing.T) {
			run(t, admin, "REVOKE pg_monitor FROM relation_1_one")
		}, map[string]string{"db:1": `"relation_1_one" is not a member of "pg_monitor"`}},
		{"the admin membership is revoked", func(t *testing.T) {
			run(t, admin, "REVOKE "+clientdb.AdminRole+" FROM relation_2_boss")
		}, map[string]string{"db-admin:2": `"relation_2_boss" is not a member of "charmed_admin"`}},
		{"the admin role loses pg_write_all_data", func(t *testing.T) {
			run(t, admin, "REVOKE pg_write_all_data FROM "+clientdb.AdminRole)
		}, map[string]string{"db-admin:2": `"charmed_admin" is not a member of "pg_write_all_data"`}},
		{"the admin role is dropped", func(t *testing.T) {
			run(t, admin, "DROP ROLE "+clientdb.AdminRole)
		}, map[string]string{"db-admin:2": `role "charmed_admin" is missing`}},
		{"several drifts of one relation are all named", func(t *testing.T) {
			run(t, admin, "ALTER ROLE relation_4_four NOLOGIN NOCREATEROLE", "REVOKE TEMPORARY ON DATABASE shared FROM relation_4_four")
		}, map[string]string{"database:4": `user "relation_4_four" has no LOGIN; user "relation_4_four" lacks CREATEROLE; "relation_4_four" lacks TEMPORARY on "shared"`}},
		{"per-database state is not checked", func(t *testing.T) {
			run(t, c.admin(t, "shared"), "REVOKE ALL ON SCHEMA public FROM relation_3_three")
		}, map[string]string{}},
		{"PUBLIC's grants and unrelated roles do not count", func(t *testing.T) {
			run(t, admin, "GRANT CONNECT ON DATABASE one TO PUBLIC", "CREATE ROLE bystander", "GRANT reporting TO bystander")
		}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Serving again repairs the previous case's drift.
			for _, w := range wants {
				serveWant(t, c, admin, w)
			}
			if diff := cmp.Diff(map[string]string{}, drifted(t, wants)); diff != "" {
				t.Fatalf("after serving (-want +got):\n%s", diff)
			}
			tc.drift(t)
			if diff := cmp.Diff(tc.want, drifted(t, wants)); diff != "" {
				t.Errorf("after the drift (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("names the effects refuse are reported and not sent", func(t *testing.T) {
		bad := clientdb.Want{ID: "db:9", User: "relation_9_bad", Password: newPassword(t), Database: `x"; DROP DATABASE shared; --`}
		evil := clientdb.Want{ID: "db:10", User: "relation_10_evil", Password: newPassword(t), Database: "one", CreateRoles: []string{"relation_1_one"}}
		for _, w := range wants {
			serveWant(t, c, admin, w)
		}
		got := drifted(t, append([]clientdb.Want{bad, evil}, wants...))
		for _, id := range []string{"db:9", "db:10"} {
			if got[id] == "" {
				t.Errorf("%s not reported: %v", id, got)
			}
			delete(got, id)
		}
		if diff := cmp.Diff(map[string]string{}, got); diff != "" {
			t.Errorf("valid relations (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{}, drifted(t, nil)); diff != "" {
			t.Errorf("no relations (-want +got):\n%s", diff)
		}
	})

	t.Run("the number of queries does not grow with the relations", func(t *testing.T) {
		var many []clientdb.Want
		for i := 0; i < 20; i++ {
			w := clientdb.Want{ID: fmt.Sprintf("database:%d", 100+i), User: fmt.Sprintf("relation_%d_many", 100+i),
				Password: newPassword(t), Database: fmt.Sprintf("many_%d", i%3),
				CreateRoles: []string{fmt.Sprintf("group_%d", i)}, Roles: []string{fmt.Sprintf("group_%d", i)}, Admin: i%2 == 0}
			serveWant(t, c, admin, w)
			many = append(many, w)
		}
		count := func(ws []clientdb.Want) int {
			cq := &countingQuerier{Querier: admin}
			start := time.Now()
			got, err := clientdb.Drifted(ctx, cq, ws)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{}, got); diff != "" {
				t.Errorf("%d relations drifted (-want +got):\n%s", len(ws), diff)
			}
			t.Logf("%d relations: %d queries, %v", len(ws), cq.n, time.Since(start))
			return cq.n
		}
		one, twenty := count(many[:1]), count(many)
		if one != twenty || one != 2 {
			t.Errorf("1 relation: %d queries, 20 relations: %d; want 2 each", one, twenty)
		}
	})
}
