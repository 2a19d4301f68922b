package clientdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// plantEscalation creates, as the client user in its own database,
// public.count(text) (an aggregate whose step function makes the caller's
// session grant the client SUPERUSER) and
// public.has_schema_privilege(text, text, text) doing the same: the
// functions the charm's superuser sessions used to call unqualified there
// (issue 9, the CVE-2018-1058 pattern). A superuser session that resolves
// either one to public's makes the client a superuser.
func plantEscalation(t *testing.T, c *cluster, user, password, db string) {
	t.Helper()
	ctx := context.Background()
	client, err := c.connect(ctx, user, password, db)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	for _, sql := range []string{
		`CREATE FUNCTION public.escalate(bigint, text) RETURNS bigint LANGUAGE sql AS
			$$ ALTER ROLE ` + user + ` SUPERUSER; SELECT $1 + 1 $$`,
		`CREATE AGGREGATE public.count(text) (sfunc = public.escalate, stype = bigint, initcond = '0')`,
		`CREATE FUNCTION public.has_schema_privilege(text, text, text) RETURNS boolean LANGUAGE sql AS
			$$ ALTER ROLE ` + user + ` SUPERUSER; SELECT true $$`,
	} {
		if _, err := client.Exec(ctx, sql); err != nil {
			t.Fatalf("planting as the client: %v\n%s", err, sql)
		}
	}
}

func isSuperuser(t *testing.T, c *cluster, user string) bool {
	t.Helper()
	var super bool
	if err := c.admin(t, "postgres").QueryRow(context.Background(),
		`SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1`, user).Scan(&super); err != nil {
		t.Fatal(err)
	}
	return super
}

// TestPlantedFunctionsDoNotRunAsSuperuser: a client plants the functions,
// then has the charm serve it again (grants, extensions); it is still not
// a superuser, because every charm session runs with
// postgres.CharmSearchPath and calls pg_catalog's functions by name.
func TestPlantedFunctionsDoNotRunAsSuperuser(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	const user, db = "relation_9_evil", "evil"
	pw := newPassword(t)
	serve(t, c, user, pw, db)
	plantEscalation(t, c, user, pw, db)

	t.Run("the planted functions work: a session on the default search_path runs them", func(t *testing.T) {
		victim := c.admin(t, db) // no search_path of the charm's
		if _, err := victim.Exec(ctx, `SELECT count(DISTINCT x) FROM (VALUES ('a'::text)) v(x)`); err != nil {
			t.Fatal(err)
		}
		if !isSuperuser(t, c, user) {
			t.Fatal("the planted aggregate did not run: this test would prove nothing")
		}
		if _, err := c.admin(t, "postgres").Exec(ctx, `ALTER ROLE `+user+` NOSUPERUSER`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("serving the relation again runs none of them", func(t *testing.T) {
		charm := postgres.Target{Host: "127.0.0.1", Port: int(c.port), User: "operator", Password: c.password}
		q, err := charm.Connect(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close(ctx)
		dbq, err := charm.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer dbq.Close(ctx)
		// Another grant to check forces the counting query to run.
		if _, err := c.admin(t, db).Exec(ctx, `REVOKE CREATE ON SCHEMA public FROM `+user); err != nil {
			t.Fatal(err)
		}
		if _, err := clientdb.EnsureDatabaseAccess(ctx, q, dbq, db, user); err != nil {
			t.Fatal(err)
		}
		if _, err := clientdb.EnsureExtensions(ctx, dbq, []clientdb.Extension{{Name: "citext", Schema: "public"}}); err != nil {
			t.Fatal(err)
		}
		if isSuperuser(t, c, user) {
			t.Fatal("the client became a superuser through the charm's session")
		}
		var path string
		if err := dbq.QueryRow(ctx, `SHOW search_path`).Scan(&path); err != nil || path != postgres.CharmSearchPath {
			t.Errorf("the charm's session runs with search_path %q (%v), want %q", path, err, postgres.CharmSearchPath)
		}
	})
}

// installProbeExtension writes a relocatable extension whose install script
// calls count(DISTINCT …) unqualified, as extension scripts may: PostgreSQL
// runs a script as superuser with search_path set to the target schema, so
// a client-planted public.count(text) would win overload resolution there.
// PostgreSQL 15 reads control files only from its share directory, so the
// probe goes there under a name unique to this test process and is removed
// at the end.
func installProbeExtension(t *testing.T, relocatable bool) string {
	t.Helper()
	name := fmt.Sprintf("pgjuju_probe_%d_%t", os.Getpid(), relocatable)
	dir := "/usr/share/postgresql/15/extension"
	control := filepath.Join(dir, name+".control")
	script := filepath.Join(dir, name+"--1.0.sql")
	files := map[string]string{
		control: "comment = 'pgjuju test probe'\ndefault_version = '1.0'\nrelocatable = " + fmt.Sprint(relocatable) + "\n",
		script: "CREATE TABLE probe_values (x text);\nINSERT INTO probe_values VALUES ('a');\n" +
			"SELECT count(DISTINCT x) FROM probe_values;\n",
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Skipf("skipping: cannot write a test extension into %s: %v", dir, err)
		}
		t.Cleanup(func() { os.Remove(path) })
	}
	return name
}

// TestExtensionScriptsDoNotSeeClientSchemas: an extension asked for in
// public, where the client holds CREATE and has planted count(text), is
// created without running the planted aggregate, and still ends in public.
func TestExtensionScriptsDoNotSeeClientSchemas(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	const user, db = "relation_10_evil", "evil2"
	pw := newPassword(t)
	serve(t, c, user, pw, db)
	plantEscalation(t, c, user, pw, db)
	probe := installProbeExtension(t, true)

	charm := postgres.Target{Host: "127.0.0.1", Port: int(c.port), User: "operator", Password: c.password}
	dbq, err := charm.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer dbq.Close(ctx)
	if _, err := clientdb.EnsureExtensions(ctx, dbq, []clientdb.Extension{{Name: probe, Schema: "public"}}); err != nil {
		t.Fatal(err)
	}
	if isSuperuser(t, c, user) {
		t.Fatal("the client became a superuser through an extension's install script")
	}
	var schema string
	if err := dbq.QueryRow(ctx, `SELECT n.nspname FROM pg_catalog.pg_extension e
		JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1`, probe).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if schema != "public" {
		t.Errorf("%s is in schema %s, want public (as asked)", probe, schema)
	}
	var leftovers int
	if err := dbq.QueryRow(ctx, `SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace WHERE nspname LIKE 'charm\_staging%'`).Scan(&leftovers); err != nil || leftovers != 0 {
		t.Errorf("%d staging schemas left behind (%v)", leftovers, err)
	}

	t.Run("what CASCADE and earlier requests created comes back to public", func(t *testing.T) {
		exts := []clientdb.Extension{{Name: "cube", Schema: "public"}, {Name: "earthdistance", Schema: "public"}}
		if _, err := clientdb.EnsureExtensions(ctx, dbq, exts); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"cube", "earthdistance"} {
			if got := extensionSchema(t, dbq, name); got != "public" {
				t.Errorf("%s is in schema %s, want public", name, got)
			}
		}
	})
	t.Run("an extension that cannot move is refused in public, created in a schema of its own", func(t *testing.T) {
		fixed := installProbeExtension(t, false)
		_, err := clientdb.EnsureExtensions(ctx, dbq, []clientdb.Extension{{Name: fixed, Schema: "public"}})
		if !errors.Is(err, clientdb.ErrUnsafeExtensionSchema) {
			t.Fatalf("got %v, want ErrUnsafeExtensionSchema", err)
		}
		if isSuperuser(t, c, user) {
			t.Fatal("the client became a superuser")
		}
		if _, err := clientdb.EnsureExtensions(ctx, dbq, []clientdb.Extension{{Name: fixed, Schema: "probes"}}); err != nil {
			t.Fatal(err)
		}
		if got := extensionSchema(t, dbq, fixed); got != "probes" {
			t.Errorf("%s is in schema %s, want probes", fixed, got)
		}
	})
}

func extensionSchema(t *testing.T, q postgres.Querier, name string) string {
	t.Helper()
	var schema string
	if err := q.QueryRow(context.Background(), `SELECT n.nspname FROM pg_catalog.pg_extension e
		JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1`, name).Scan(&schema); err != nil {
		t.Fatalf("reading the schema of %s: %v", name, err)
	}
	return schema
}
