package clientdb_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// TestDropCreatedRolesAgainstPostgres: an admin relation (CREATEROLE)
// makes a login role that owns a schema and table in its database and
// another in a second database, and keeps a session open in a
// transaction; a second admin relation comes later and a role appears
// after it. DropCreatedRoles drops the first role (session ended,
// objects now the relation user's, rows kept), leaves the ambiguous one
// and the hand-made one, and forgets only its own baseline.
func TestDropCreatedRolesAgainstPostgres(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	admin := c.admin(t, "postgres")
	exec := func(t *testing.T, q postgres.Querier, sqls ...string) {
		t.Helper()
		for _, s := range sqls {
			if _, err := q.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	roleExists := func(name string) bool {
		var ok bool
		if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	exec(t, admin, "CREATE ROLE hand_made NOLOGIN", "CREATE DATABASE other")

	bossPW := newPassword(t)
	serve(t, c, "relation_7_boss", bossPW, "bossdb")
	if ok(t)(clientdb.EnsureRoleBaseline(ctx, admin, "database:7", "relation_7_boss", false)) != true {
		t.Error("first baseline reported no change")
	}
	if ok(t)(clientdb.EnsureRoleBaseline(ctx, admin, "database:7", "relation_7_boss", false)) {
		t.Error("second baseline reported a change")
	}
	ok(t)(clientdb.EnsureAttributes(ctx, admin, "relation_7_boss", []clientdb.Attribute{clientdb.AttrCreateRole}))

	boss, err := c.connect(ctx, "relation_7_boss", bossPW, "bossdb")
	if err != nil {
		t.Fatal(err)
	}
	defer boss.Close(ctx)
	exec(t, boss, "CREATE ROLE relation_99_squat LOGIN CREATEROLE", "CREATE ROLE w1 LOGIN CREATEROLE PASSWORD 'w1-password-0123456789'", "GRANT w1 TO relation_7_boss",
		"CREATE SCHEMA s AUTHORIZATION w1", "SET ROLE w1", "CREATE TABLE s.t (v int)", "INSERT INTO s.t VALUES (1)", "RESET ROLE")
	exec(t, admin, "GRANT CREATE ON DATABASE other TO w1")
	w1, err := c.connect(ctx, "w1", "w1-password-0123456789", "other")
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Close(ctx)
	exec(t, w1, "CREATE SCHEMA w1s", "CREATE TABLE w1s.x (v int)", "BEGIN", "LOCK TABLE w1s.x IN ACCESS SHARE MODE")

	// A second admin relation: what appears from now on is ambiguous.
	rivalPW := newPassword(t)
	serve(t, c, "relation_8_rival", rivalPW, "rivaldb")
	ok(t)(clientdb.EnsureRoleBaseline(ctx, admin, "database:8", "relation_8_rival", false))
	exec(t, boss, "CREATE ROLE w3 NOLOGIN")

	connect := func(ctx context.Context, db string) (*pgx.Conn, error) {
		return postgres.Connect(ctx, postgres.ConnConfig{Host: c.sockDir, Port: c.port, User: "operator", Password: c.password,
			Database: db, SearchPath: postgres.CharmSearchPath})
	}
	ok(t)(clientdb.RevokeAccess(ctx, admin, "relation_7_boss"))
	rep, err := clientdb.DropCreatedRoles(ctx, admin, connect, "database:7", nil, []string{"relation_8_rival"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Dropped, []string{"w1"}) {
		t.Errorf("dropped %v, want [w1]", rep.Dropped)
	}
	// relation_99_squat squats the charm's name: left, disarmed; w3
	// could be either relation's; relation_8_rival serves a relation.
	if want := []clientdb.LeftRole{
		{Name: "relation_99_squat", Why: "has a prefix of the charm's roles (relation_, charmed_) but serves no relation", Disarmed: true},
		{Name: "w3", Why: "appeared while database:8 could create roles too", Ambiguous: true},
	}; !slices.Equal(rep.Left, want) {
		t.Errorf("left %+v, want %+v", rep.Left, want)
	}
	if roleExists("w1") || !roleExists("w3") || !roleExists("hand_made") || !roleExists("relation_7_boss") || !roleExists("relation_8_rival") {
		t.Errorf("after cleanup: w1 %v (want gone), w3, hand_made and both relation users %v %v %v %v (want kept)",
			roleExists("w1"), roleExists("w3"), roleExists("hand_made"), roleExists("relation_7_boss"), roleExists("relation_8_rival"))
	}
	var squatLogin, squatCreate bool
	if err := admin.QueryRow(ctx, `SELECT rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = 'relation_99_squat'`).Scan(&squatLogin, &squatCreate); err != nil || squatLogin || squatCreate {
		t.Errorf("relation_99_squat: login %v, createrole %v, %v; want neither", squatLogin, squatCreate, err)
	}
	var ownerLogin bool
	if err := admin.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'relation_8_rival'`).Scan(&ownerLogin); err != nil || !ownerLogin {
		t.Errorf("relation_8_rival (a live relation's user) lost LOGIN: %v", err)
	}
	if _, err := w1.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("w1's session is still open")
	}
	for db, table := range map[string]string{"bossdb": "s.t", "other": "w1s.x"} {
		var owner string
		q := c.admin(t, db)
		if err := q.QueryRow(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass`, table).Scan(&owner); err != nil {
			t.Errorf("%s in %s: %v", table, db, err)
		} else if owner != "relation_7_boss" {
			t.Errorf("%s in %s owned by %s, want relation_7_boss", table, db, owner)
		}
	}
	var rels []string
	rows, err := admin.Query(ctx, `SELECT relation FROM charmed_audit.admin_baselines ORDER BY 1`)
	if err == nil {
		rels, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || !slices.Equal(rels, []string{"database:8"}) {
		t.Errorf("baselines left %v (%v), want [database:8]", rels, err)
	}
	// A second run has nothing to do.
	rep, err = clientdb.DropCreatedRoles(ctx, admin, connect, "database:7", nil, []string{"relation_8_rival"})
	if err != nil || rep.Plan.Tracked || len(rep.Dropped) > 0 {
		t.Errorf("second run: %+v, %v", rep, err)
	}
}
