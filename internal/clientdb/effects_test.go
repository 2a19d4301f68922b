package clientdb_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

// ok returns a function that fails the test on err and returns changed:
// ok(t)(clientdb.EnsureX(…)).
func ok(t *testing.T) func(changed bool, err error) bool {
	return func(changed bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
}

// newPassword returns a generated password (the charm's generator).
func newPassword(t *testing.T) string {
	t.Helper()
	p, err := postgres.GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serve does what the charm does for a db relation: user, database,
// access; it checks that each effect reports a change the first time and
// none the second.
func serve(t *testing.T, c *cluster, user, password, db string) {
	t.Helper()
	ctx := context.Background()
	admin := c.admin(t, "postgres")
	for round := 0; round < 2; round++ {
		changed := ok(t)(clientdb.EnsureLoginUser(ctx, admin, user, password))
		c2, err := clientdb.EnsureDatabase(ctx, admin, db)
		if err != nil {
			t.Fatal(err)
		}
		changed = changed || c2
		dbq := c.admin(t, db)
		changed = ok(t)(clientdb.EnsureDatabaseAccess(ctx, admin, dbq, db, user)) || changed
		if round == 1 && changed {
			t.Errorf("second pass over %s/%s reported a change", user, db)
		}
	}
}

// useTable logs in as user and creates, fills and reads a table.
func useTable(t *testing.T, c *cluster, user, password, db, table string) {
	t.Helper()
	ctx := context.Background()
	conn, err := c.connect(ctx, user, password, db)
	if err != nil {
		t.Fatalf("%s cannot log in to %s: %v", user, db, err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"CREATE TABLE " + table + " (v text)",
		"INSERT INTO " + table + " VALUES ('hello')",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s in %s: %s: %v", user, db, sql, err)
		}
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM "+table).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("%s reading %s: %q, %v", user, table, v, err)
	}
}

func TestAgainstPostgres(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	admin := c.admin(t, "postgres")
	var secrets []string

	t.Run("a relation user gets a database it can log in to and create a table in", func(t *testing.T) {
		pw := newPassword(t)
		secrets = append(secrets, pw)
		serve(t, c, "relation_5_app", pw, "app")
		useTable(t, c, "relation_5_app", pw, "app", "t5")
	})

	t.Run("two relations sharing a database both have full access", func(t *testing.T) {
		pwA, pwB := newPassword(t), newPassword(t)
		secrets = append(secrets, pwA, pwB)
		serve(t, c, "relation_6_one", pwA, "shared")
		serve(t, c, "relation_7_two", pwB, "shared")
		useTable(t, c, "relation_6_one", pwA, "shared", "one")
		useTable(t, c, "relation_7_two", pwB, "shared", "two")
		var owner string
		if err := admin.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shared'`).Scan(&owner); err != nil || owner != "operator" {
			t.Errorf("owner of shared = %q, %v; want operator", owner, err)
		}
	})

	t.Run("requested roles are created NOLOGIN and granted", func(t *testing.T) {
		for round := 0; round < 2; round++ {
			changed := ok(t)(clientdb.EnsureRole(ctx, admin, "analytics"))
			changed = ok(t)(clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{"analytics", "pg_monitor"}, []string{"pg_monitor"})) || changed
			if changed != (round == 0) {
				t.Errorf("round %d: changed = %v", round, changed)
			}
		}
		var login, member, monitor bool
		err := admin.QueryRow(ctx, `SELECT rolcanlogin, pg_has_role('relation_5_app', 'analytics', 'MEMBER'),
			pg_has_role('relation_5_app', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = 'analytics'`).Scan(&login, &member, &monitor)
		if err != nil || login || !member || !monitor {
			t.Errorf("analytics: login %v, member %v, pg_monitor %v, %v", login, member, monitor, err)
		}
	})

	t.Run("a hand-made or built-in role is granted only when the operator lists it", func(t *testing.T) {
		if _, err := admin.Exec(ctx, `CREATE ROLE handmade NOLOGIN; CREATE ROLE wrapper NOLOGIN; GRANT handmade TO wrapper;
			COMMENT ON ROLE wrapper IS '`+clientdb.ClientGroupComment+`'`); err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"handmade", "pg_read_all_stats", "wrapper"} {
			changed, err := clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{r}, nil)
			if !errors.Is(err, clientdb.ErrRoleNotGrantable) || changed {
				t.Errorf("granting %s unlisted: changed %v, err %v; want ErrRoleNotGrantable", r, changed, err)
			}
		}
		// EnsureRole leaves a role it did not make unmarked.
		if ok(t)(clientdb.EnsureRole(ctx, admin, "handmade")) {
			t.Error("EnsureRole reported a change on an existing role")
		}
		if _, err := clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{"handmade"}, nil); !errors.Is(err, clientdb.ErrRoleNotGrantable) {
			t.Errorf("granting handmade after EnsureRole: %v; want ErrRoleNotGrantable", err)
		}
		for _, r := range []string{"handmade", "pg_read_all_stats"} {
			if !ok(t)(clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{r}, []string{r})) {
				t.Errorf("granting %s listed: no change", r)
			}
		}
		// Once granted, a membership is left alone: no refusal when the
		// operator later drops the role from the list.
		if changed := ok(t)(clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{"handmade"}, nil)); changed {
			t.Error("a granted role was granted again")
		}
	})

	t.Run("system users, other relations' users and roles leading to them are never granted", func(t *testing.T) {
		if _, err := admin.Exec(ctx, `CREATE ROLE sneaky NOLOGIN; GRANT relation_7_two TO sneaky`); err != nil {
			t.Fatal(err)
		}
		if _, err := clientdb.EnsureAdminMembership(ctx, admin, "relation_6_one"); err != nil {
			t.Fatal(err)
		}
		// Even listed by the operator: their privileges are the reason.
		listed := []string{"operator", "relation_7_two", "sneaky", clientdb.AdminRole}
		for _, r := range []string{"operator", "relation_7_two", "sneaky", "pg_read_all_data", "pg_execute_server_program", clientdb.AdminRole} {
			changed, err := clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{r}, listed)
			if !errors.Is(err, clientdb.ErrRoleNotGrantable) || changed {
				t.Errorf("granting %s: changed %v, err %v; want ErrRoleNotGrantable", r, changed, err)
			}
		}
		if _, err := clientdb.GrantRoles(ctx, admin, "relation_5_app", []string{"nobody_here"}, nil); !errors.Is(err, clientdb.ErrNoSuchRole) {
			t.Errorf("granting a missing role: %v; want ErrNoSuchRole", err)
		}
		g, err := clientdb.LoadRoleGraph(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		got := g.Grantable([]string{"pg_monitor"})
		for _, r := range []string{"analytics", "pg_monitor"} {
			if !slices.Contains(got, r) {
				t.Errorf("grantable roles %v lack %s", got, r)
			}
		}
		for _, r := range []string{"operator", "sneaky", "relation_5_app", clientdb.AdminRole, "pg_read_all_data"} {
			if slices.Contains(got, r) {
				t.Errorf("grantable roles %v include %s", got, r)
			}
		}
	})

	t.Run("admin membership lets a user read another relation's tables", func(t *testing.T) {
		pw := newPassword(t)
		secrets = append(secrets, pw)
		serve(t, c, "relation_8_boss", pw, "boss")
		ok(t)(clientdb.EnsureAdminMembership(ctx, admin, "relation_8_boss"))
		if ok(t)(clientdb.EnsureAdminMembership(ctx, admin, "relation_8_boss")) {
			t.Error("second EnsureAdminMembership reported a change")
		}
		conn, err := c.connect(ctx, "relation_8_boss", pw, "app")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM t5").Scan(&n); err != nil || n != 1 {
			t.Errorf("admin reading t5: %d, %v", n, err)
		}
	})

	t.Run("attributes follow the request exactly", func(t *testing.T) {
		check := func(want string) {
			t.Helper()
			var got string
			err := admin.QueryRow(ctx, `SELECT concat_ws(' ', CASE WHEN rolcreatedb THEN 'CREATEDB' END,
				CASE WHEN rolcreaterole THEN 'CREATEROLE' END, CASE WHEN rolsuper THEN 'SUPERUSER' END)
				FROM pg_roles WHERE rolname = 'relation_8_boss'`).Scan(&got)
			if err != nil || got != want {
				t.Errorf("attributes %q, %v; want %q", got, err, want)
			}
		}
		if !ok(t)(clientdb.EnsureAttributes(ctx, admin, "relation_8_boss", []clientdb.Attribute{clientdb.AttrSuperuser, clientdb.AttrCreateDB})) {
			t.Error("no change reported")
		}
		check("CREATEDB SUPERUSER")
		if ok(t)(clientdb.EnsureAttributes(ctx, admin, "relation_8_boss", []clientdb.Attribute{clientdb.AttrCreateDB, clientdb.AttrSuperuser})) {
			t.Error("second call reported a change")
		}
		ok(t)(clientdb.EnsureAttributes(ctx, admin, "relation_8_boss", []clientdb.Attribute{clientdb.AttrCreateRole}))
		check("CREATEROLE")
	})

	t.Run("extensions are created in the requested schema and usable by the user", func(t *testing.T) {
		exts := []clientdb.Extension{{Name: "citext", Schema: "public"}, {Name: "pg_trgm", Schema: "ext"}}
		dbq := c.admin(t, "app")
		if !ok(t)(clientdb.EnsureExtensions(ctx, dbq, exts)) {
			t.Error("no change reported")
		}
		if ok(t)(clientdb.EnsureExtensions(ctx, dbq, exts)) {
			t.Error("second call reported a change")
		}
		rows, err := dbq.Query(ctx, `SELECT e.extname || '(' || n.nspname || ')' FROM pg_extension e
			JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname <> 'plpgsql' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if want := []string{"citext(public)", "pg_trgm(ext)"}; !slices.Equal(got, want) {
			t.Errorf("extensions %v, want %v", got, want)
		}
		conn, err := c.connect(ctx, "relation_5_app", secrets[0], "app")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var eq bool
		var sim float32
		if err := conn.QueryRow(ctx, `SELECT 'ABC'::citext = 'abc'::citext, ext.similarity('word', 'words')`).Scan(&eq, &sim); err != nil || !eq || sim <= 0 {
			t.Errorf("using citext and pg_trgm: %v %v %v", eq, sim, err)
		}
	})

	t.Run("an unavailable extension is a typed error naming it, and the others are still created", func(t *testing.T) {
		dbq := c.admin(t, "shared")
		_, err := clientdb.EnsureExtensions(ctx, dbq, []clientdb.Extension{{Name: "no_such_ext", Schema: "public"}, {Name: "citext", Schema: "public"}})
		var ue *clientdb.ExtensionUnavailableError
		if !errors.As(err, &ue) || ue.Name != "no_such_ext" || !errors.Is(err, clientdb.ErrExtensionUnavailable) {
			t.Errorf("err = %v; want ExtensionUnavailableError for no_such_ext", err)
		}
		var n int
		if err := dbq.QueryRow(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'citext'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("citext in shared: %d, %v", n, err)
		}
	})

	t.Run("a rotated password works and the old one does not", func(t *testing.T) {
		old := secrets[0]
		pw := newPassword(t)
		secrets = append(secrets, pw)
		if !ok(t)(clientdb.RotatePassword(ctx, admin, "relation_5_app", pw)) {
			t.Error("no change reported")
		}
		if ok(t)(clientdb.RotatePassword(ctx, admin, "relation_5_app", pw)) {
			t.Error("second rotation to the same password reported a change")
		}
		if conn, err := c.connect(ctx, "relation_5_app", old, "app"); err == nil {
			conn.Close(ctx)
			t.Error("the old password still logs in")
		}
		conn, err := c.connect(ctx, "relation_5_app", pw, "app")
		if err != nil {
			t.Fatalf("the new password: %v", err)
		}
		conn.Close(ctx)
		secrets[0] = pw
		if _, err := clientdb.RotatePassword(ctx, admin, "relation_99_gone", pw); !errors.Is(err, clientdb.ErrNoSuchRole) {
			t.Errorf("rotating a missing user: %v", err)
		}
	})

	t.Run("revoking access refuses new logins and ends open sessions, keeping the data", func(t *testing.T) {
		pw := secrets[0]
		open, err := c.connect(ctx, "relation_5_app", pw, "app")
		if err != nil {
			t.Fatal(err)
		}
		defer open.Close(ctx)
		other, err := c.connect(ctx, "relation_7_two", secrets[2], "shared")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(ctx)
		ok(t)(clientdb.EnsureAttributes(ctx, admin, "relation_5_app", []clientdb.Attribute{clientdb.AttrSuperuser}))
		if !ok(t)(clientdb.RevokeAccess(ctx, admin, "relation_5_app")) {
			t.Error("no change reported")
		}
		if _, err := open.Exec(ctx, "SELECT 1"); err == nil {
			t.Error("the open session survived")
		}
		if conn, err := c.connect(ctx, "relation_5_app", pw, "app"); err == nil {
			conn.Close(ctx)
			t.Error("a new login succeeded")
		}
		if _, err := other.Exec(ctx, "SELECT 1"); err != nil {
			t.Errorf("another relation's session was ended: %v", err)
		}
		var n int
		var super bool
		if err := c.admin(t, "app").QueryRow(ctx, `SELECT count(*), (SELECT rolsuper FROM pg_roles WHERE rolname = 'relation_5_app') FROM t5`).Scan(&n, &super); err != nil || n != 1 || super {
			t.Errorf("after revoke: rows %d, superuser %v, %v", n, super, err)
		}
		if ok(t)(clientdb.RevokeAccess(ctx, admin, "relation_5_app")) {
			t.Error("second revoke reported a change")
		}
		if ok(t)(clientdb.RevokeAccess(ctx, admin, "relation_99_gone")) {
			t.Error("revoking a missing user reported a change")
		}
		// The other relation on a shared database is untouched.
		useTable(t, c, "relation_7_two", secrets[2], "shared", "two_again")
		// The revoked user keeps no attribute, yet owns t5: a later client
		// naming it in extra-user-roles must not get its data.
		g, err := clientdb.LoadRoleGraph(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		grantable := g.Grantable([]string{"relation_5_app"})
		if slices.Contains(grantable, "relation_5_app") {
			t.Errorf("a revoked relation user is grantable: %v", grantable)
		}
		if _, err := clientdb.GrantRoles(ctx, admin, "relation_7_two", []string{"relation_5_app"}, []string{"relation_5_app"}); !errors.Is(err, clientdb.ErrRoleNotGrantable) {
			t.Errorf("granting a revoked relation user: %v; want ErrRoleNotGrantable", err)
		}
	})

	t.Run("malicious names are refused before any SQL runs", func(t *testing.T) {
		bad := `x"; DROP DATABASE app; --`
		for name, call := range map[string]func() (bool, error){
			"EnsureDatabase":       func() (bool, error) { return clientdb.EnsureDatabase(ctx, admin, bad) },
			"EnsureRole":           func() (bool, error) { return clientdb.EnsureRole(ctx, admin, bad) },
			"EnsureLoginUser":      func() (bool, error) { return clientdb.EnsureLoginUser(ctx, admin, bad, newPassword(t)) },
			"GrantRoles":           func() (bool, error) { return clientdb.GrantRoles(ctx, admin, "relation_7_two", []string{bad}, nil) },
			"EnsureDatabaseAccess": func() (bool, error) { return clientdb.EnsureDatabaseAccess(ctx, admin, admin, bad, "relation_7_two") },
			"EnsureExtensions": func() (bool, error) {
				return clientdb.EnsureExtensions(ctx, admin, []clientdb.Extension{{Name: "citext", Schema: bad}})
			},
			"RevokeAccess":   func() (bool, error) { return clientdb.RevokeAccess(ctx, admin, bad) },
			"RotatePassword": func() (bool, error) { return clientdb.RotatePassword(ctx, admin, bad, newPassword(t)) },
		} {
			if changed, err := call(); !errors.Is(err, clientdb.ErrInvalidName) || changed {
				t.Errorf("%s: changed %v, err %v; want ErrInvalidName", name, changed, err)
			}
		}
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = 'app'`).Scan(&n); err != nil || n != 1 {
			t.Errorf("database app: %d, %v", n, err)
		}
	})

	t.Run("a db request parsed by pgsql is served end to end and a bad one runs no SQL", func(t *testing.T) {
		req, err := pgsql.ParseRequest(pgsql.Input{RelationID: "db:11", ClientApp: "legacy", UnitData: map[string]map[string]string{
			"legacy/0": {"database": "legacy_db", "roles": "reporting", "extensions": "citext(exts)"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		pw := newPassword(t)
		secrets = append(secrets, pw)
		serve(t, c, req.User, pw, req.Database)
		for _, r := range req.Roles {
			ok(t)(clientdb.EnsureRole(ctx, admin, r))
		}
		ok(t)(clientdb.GrantRoles(ctx, admin, req.User, req.Roles, nil))
		ok(t)(clientdb.EnsureExtensions(ctx, c.admin(t, req.Database), req.Extensions))
		conn, err := c.connect(ctx, req.User, pw, req.Database)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var eq, member bool
		if err := conn.QueryRow(ctx, `SELECT 'A'::exts.citext OPERATOR(exts.=) 'a'::exts.citext, pg_has_role('reporting', 'MEMBER')`).Scan(&eq, &member); err != nil || !eq || !member {
			t.Errorf("citext in exts: %v, member of reporting: %v, %v", eq, member, err)
		}
		if _, err := pgsql.ParseRequest(pgsql.Input{RelationID: "db:12", ClientApp: "evil",
			AppData: map[string]string{"database": `x"; DROP DATABASE legacy_db; --`}}); !errors.Is(err, clientdb.ErrInvalidName) {
			t.Errorf("malicious request: %v", err)
		}
	})

	t.Run("the server log holds neither a password nor a refused name", func(t *testing.T) {
		log, err := os.ReadFile(c.logFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "ALTER ROLE") {
			t.Fatal("log_statement=all did not log; the check below would prove nothing")
		}
		for _, s := range append(secrets, "DROP DATABASE app") {
			if strings.Contains(string(log), s) {
				t.Errorf("server log contains %q", s)
			}
		}
	})
}
