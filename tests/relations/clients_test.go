package relations_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// step is one t.Run of a scenario; a failing step stops the scenario
// unless it is soft (a check later steps do not build on).
type step struct {
	name string
	run  func(t *testing.T)
	soft bool
}

func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		if !t.Run(s.name, s.run) && !s.soft {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// TestLegacyAndCurrentClients relates three pgclient applications to one
// postgresql at once: legacy on db (with roles and extensions), modern on
// database (secrets, extra-user-roles) and admin on db-admin; then checks
// grants, allowed-units, add-unit, password rotation, a shared database
// and remove-relation.
func TestLegacyAndCurrentClients(t *testing.T) {
	e := newEnv(t)
	const (
		legacyRoles = "pgclient_analytics,pgclient_reports"
		legacyExts  = "citext,pg_trgm,hstore:pgclient_ext"
	)
	var (
		opPW                    string
		dbRel, adminRel, dbRel2 string
		clientRel               string
		legacy, admin, modern   Result
		watcher                 *allowedWatcher
	)
	runSteps(t, []step{
		{name: "deploy postgresql and wait for active", run: func(t *testing.T) {
			e.with(t).deployServer()
			opPW = e.with(t).operator()
		}},
		{name: "relate legacy on db, modern on database and admin on db-admin at once; each client connects", run: func(t *testing.T) {
			ew := e.with(t)
			ew.deploy(clientCharm, "legacy", map[string]string{"roles": legacyRoles, "extensions": legacyExts})
			ew.deploy(clientCharm, "modern", map[string]string{"extra-user-roles": "createdb"})
			ew.deploy(clientCharm, "admin", nil)
			watcher = e.watchAllowedUnits(pg0)
			dbRel = ew.integrate("db", "legacy")
			clientRel = ew.integrate("database", "modern")
			adminRel = ew.integrate("db-admin", "admin")
			legacy = ew.waitClientOK("legacy/0", dbRel)
			modern = ew.waitClientOK("modern/0", clientRel)
			admin = ew.waitClientOK("admin/0", adminRel)
			for _, r := range []Result{legacy, modern, admin} {
				t.Logf("%s: %s@%s:%s/%s", r.Relation, r.User, r.Host, r.Port, r.Database)
			}
			if legacy.Database != "legacy" || admin.Database != "admin" || modern.Database != "modern" {
				t.Errorf("databases %q %q %q, want each client's application name", legacy.Database, admin.Database, modern.Database)
			}
			if legacy.User == modern.User || legacy.User == admin.User || modern.User == admin.User {
				t.Errorf("relations share a user: %q %q %q", legacy.User, modern.User, admin.User)
			}
			if err := ew.wantStatus(pg0, "active", ""); err != nil {
				t.Errorf("server: %v", err)
			}
		}},
		{name: "allowed-units listed each client unit only once it could connect", run: func(t *testing.T) {
			failed, ok := watcher.finish()
			watcher = nil
			for _, f := range failed {
				t.Error(f)
			}
			for _, want := range []string{dbRel + " legacy/0", adminRel + " admin/0"} {
				if !ok[want] {
					t.Errorf("never saw %s listed and connecting (seen %v)", want, ok)
				}
			}
		}},
		{name: "the server's databags follow interfaces.md §A.2 and §B.3", run: func(t *testing.T) {
			bag, err := e.serverBag(pg0, dbRel)
			if err != nil {
				t.Fatal(err)
			}
			addr := e.unitStatus("legacy/0").PublicAddress
			want := map[string]string{
				"allowed-units": "legacy/0", "allowed-subnets": addr + "/32", "database": "legacy",
				"roles": legacyRoles, "extensions": legacyExts, "state": "standalone", "port": "5432",
				"user": legacy.User, "schema_user": legacy.User,
			}
			for k, v := range want {
				if bag[k] != v {
					t.Errorf("db bag %s = %q, want %q", k, bag[k], v)
				}
			}
			for _, k := range []string{"host", "password", "schema_password", "master", "version"} {
				if bag[k] == "" {
					t.Errorf("db bag has no %s", k)
				}
			}
			abag, err := e.serverBag(pg0, adminRel)
			if err != nil {
				t.Fatal(err)
			}
			if abag["schema_user"] != "" {
				t.Errorf("db-admin bag publishes schema_user %q (§A.8: not on db-admin)", abag["schema_user"])
			}
			app, err := e.providerAppBag("modern/0", clientRel)
			if err != nil {
				t.Fatal(err)
			}
			if app["secret-user"] == "" {
				t.Errorf("database app bag has no secret-user although the client requested secrets: keys %v", keys(app))
			}
			for _, k := range []string{"password", "username", "uris"} {
				if app[k] != "" {
					t.Errorf("database app bag carries %s in the clear although it was requested as a secret", k)
				}
			}
			for _, k := range []string{"database", "endpoints", "version"} {
				if app[k] == "" {
					t.Errorf("database app bag has no %s", k)
				}
			}
		}},
		{name: "roles and extensions exist and are granted; db-admin is superuser; createdb granted", run: func(t *testing.T) {
			err := e.asOperator(opPW, "legacy", func(ctx context.Context, c *pgx.Conn) error {
				for _, role := range strings.Split(legacyRoles, ",") {
					var canLogin, member bool
					if err := c.QueryRow(ctx, "SELECT rolcanlogin, pg_has_role($1, oid, 'MEMBER') FROM pg_roles WHERE rolname = $2",
						legacy.User, role).Scan(&canLogin, &member); err != nil {
						return fmt.Errorf("role %s: %w", role, err)
					}
					if canLogin || !member {
						t.Errorf("role %s: rolcanlogin=%v, %s member=%v; want NOLOGIN and granted", role, canLogin, legacy.User, member)
					}
					granted, err := exists(ctx, c, "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND u.rolname = $2", role, legacy.User)
					if err != nil || !granted {
						t.Errorf("pg_auth_members has no grant of %s to %s (err %v)", role, legacy.User, err)
					}
				}
				for ext, schema := range map[string]string{"citext": "public", "pg_trgm": "public", "hstore": "pgclient_ext"} {
					var got string
					if err := c.QueryRow(ctx, "SELECT n.nspname FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = $1", ext).Scan(&got); err != nil {
						t.Errorf("extension %s in database legacy: %v", ext, err)
					} else if got != schema {
						t.Errorf("extension %s in schema %s, want %s", ext, got, schema)
					}
				}
				var super, createdb, legacySuper bool
				if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", admin.User).Scan(&super); err != nil {
					return err
				}
				if err := c.QueryRow(ctx, "SELECT rolcreatedb FROM pg_roles WHERE rolname = $1", modern.User).Scan(&createdb); err != nil {
					return err
				}
				if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", legacy.User).Scan(&legacySuper); err != nil {
					return err
				}
				if !super {
					t.Errorf("db-admin user %s is not SUPERUSER", admin.User)
				}
				if !createdb {
					t.Errorf("database user %s with extra-user-roles=createdb has no CREATEDB", modern.User)
				}
				if legacySuper {
					t.Errorf("db user %s is SUPERUSER", legacy.User)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{name: "add-unit legacy: the second unit is listed only once it can connect, and connects", run: func(t *testing.T) {
			watcher = e.watchAllowedUnits(pg0)
			if _, err := e.m.AddUnit("legacy", 1); err != nil {
				t.Fatal(err)
			}
			e.with(t).waitClientOK("legacy/1", dbRel)
			e.with(t).waitFor("allowed-units lists legacy/0 and legacy/1", func() error {
				bag, err := e.serverBag(pg0, dbRel)
				if err != nil {
					return err
				}
				if bag["allowed-units"] != "legacy/0 legacy/1" {
					return fmt.Errorf("allowed-units %q", bag["allowed-units"])
				}
				return nil
			})
			failed, ok := watcher.finish()
			watcher = nil
			for _, f := range failed {
				t.Error(f)
			}
			if !ok[dbRel+" legacy/1"] {
				t.Errorf("never saw legacy/1 listed and connecting (seen %v)", ok)
			}
			if _, err := e.checkOK("legacy/0", dbRel); err != nil {
				t.Error(err)
			}
		}},
		{name: "rotate-relation-password on db: new password republished, old refused", run: func(t *testing.T) {
			legacy = e.with(t).rotate("legacy/0", dbRel, legacy)
		}},
		{name: "rotate-relation-password on database (secret): new password republished, old refused", run: func(t *testing.T) {
			modern = e.with(t).rotate("modern/0", clientRel, modern)
		}},
		{name: "a second relation asking for the same database shares it with a user of its own", run: func(t *testing.T) {
			ew := e.with(t)
			ew.deploy(clientCharm, "legacy2", map[string]string{"database": "legacy"})
			dbRel2 = ew.integrate("db", "legacy2")
			r2 := ew.waitClientOK("legacy2/0", dbRel2)
			if r2.Database != "legacy" {
				t.Errorf("legacy2 got database %q, want legacy", r2.Database)
			}
			if r2.User == legacy.User {
				t.Errorf("legacy2 shares the user %s of legacy", r2.User)
			}
			if _, err := e.checkOK("legacy/0", dbRel); err != nil {
				t.Error(err)
			}
			e.with(t).removeRelation("db", "legacy2")
			e.with(t).waitIdle()
			ew.waitFor("legacy2's old credentials refused", func() error {
				if err := e.tryLogin("legacy2/0", r2); err == nil {
					return fmt.Errorf("%s still logs in after remove-relation", r2.User)
				}
				return nil
			})
			if _, err := e.checkOK("legacy/0", dbRel); err != nil {
				t.Errorf("legacy after legacy2 left: %v", err)
			}
			e.with(t).readRows(opPW, r2)
		}},
		{name: "no client unit ever had credentials refused that the server had published as ready", soft: true, run: func(t *testing.T) {
			for _, c := range [][2]string{{"legacy/0", dbRel}, {"legacy/1", dbRel}, {"modern/0", clientRel}, {"admin/0", adminRel}} {
				if err := e.neverRefused(c[0], c[1]); err != nil {
					t.Error(err)
				}
			}
		}},
		{name: "remove-relation: the old credentials are refused and the data is still there", run: func(t *testing.T) {
			for _, c := range []struct {
				endpoint, app string
				r             Result
			}{{"db", "legacy", legacy}, {"database", "modern", modern}, {"db-admin", "admin", admin}} {
				e.with(t).removeRelation(c.endpoint, c.app)
			}
			e.with(t).waitIdle()
			for _, c := range []struct {
				unit string
				r    Result
			}{{"legacy/0", legacy}, {"modern/0", modern}, {"admin/0", admin}} {
				e.with(t).waitFor(c.r.User+" refused", func() error {
					err := e.tryLogin(c.unit, c.r)
					if err == nil {
						return fmt.Errorf("%s still logs in after remove-relation", c.r.User)
					}
					if !isAuthFailure(err) {
						t.Logf("%s refused with %v", c.r.User, err)
					}
					return nil
				})
				e.with(t).readRows(opPW, c.r)
			}
			if err := e.wantStatus(pg0, "active", ""); err != nil {
				t.Errorf("server: %v", err)
			}
		}},
	})
}

// rotate runs rotate-relation-password for relID and checks the client
// gets a new password that works while the old one is refused.
func (e *env) rotate(unit, relID string, before Result) Result {
	e.t.Helper()
	r := e.action(pg0, "rotate-relation-password", map[string]any{"relation-id": relID})
	if r.Status != "completed" {
		e.t.Fatalf("rotate-relation-password relation-id=%s: %s: %s", relID, r.Status, r.Message)
	}
	var after Result
	e.waitFor(unit+" connected with a new password", func() error {
		var err error
		if after, err = e.checkOK(unit, relID); err != nil {
			return err
		}
		if after.Password == before.Password {
			return fmt.Errorf("%s still sees the old password", unit)
		}
		return nil
	})
	if after.User != before.User {
		e.t.Errorf("rotation changed the user from %s to %s", before.User, after.User)
	}
	err := e.tryLogin(unit, before)
	if err == nil {
		e.t.Errorf("the old password of %s still logs in after rotation", before.User)
	} else if !isAuthFailure(err) {
		e.t.Errorf("old password of %s: want an authentication failure, got %v", before.User, err)
	}
	return after
}

// neverRefused is nil when the client unit never failed to connect with
// credentials its interface's readiness rule told it to use.
func (e *env) neverRefused(unit, relID string) error {
	r, err := e.check(unit, relID)
	if err != nil {
		return err
	}
	if r.Failures > 0 {
		return fmt.Errorf("%s on %s: published credentials refused in %d hook(s), last: %s", unit, relID, r.Failures, r.LastFailure)
	}
	return nil
}

// readRows checks, as operator, that the client's rows are still in its
// database.
func (e *env) readRows(opPW string, r Result) {
	e.t.Helper()
	err := e.asOperator(opPW, r.Database, func(ctx context.Context, c *pgx.Conn) error {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{r.Table}.Sanitize()).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("table %s is empty", r.Table)
		}
		return nil
	})
	if err != nil {
		e.t.Errorf("rows of %s in %s: %v", r.User, r.Database, err)
	}
}

func keys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
