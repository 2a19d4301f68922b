package clientdb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// The baselines live in this schema and table of the database the charm's
// sessions open by default (postgres): owned by the operator, a superuser,
// with no privilege for anyone else (a new schema and table grant PUBLIC
// nothing).
const (
	baselineSchema = "charmed_audit"
	baselineTable  = baselineSchema + ".admin_baselines"
)

// ConnectFunc opens a superuser session on database (of the same server
// as the Querier it goes with), with the charm's search_path.
type ConnectFunc func(ctx context.Context, database string) (*pgx.Conn, error)

// EnsureRoleBaseline records, once per relation, the roles that exist
// now: call it before giving user CREATEROLE or SUPERUSER, so every
// moment the user can create roles is covered by a baseline (see
// created.go). A later call changes nothing but remembers that the user
// was given SUPERUSER. q must be connected to the database the baselines
// live in (postgres).
func EnsureRoleBaseline(ctx context.Context, q Querier, relation, user string, superuser bool) (bool, error) {
	if err := CheckName(KindRole, user); err != nil {
		return false, err
	}
	if err := ensureBaselineTable(ctx, q); err != nil {
		return false, err
	}
	tag, err := q.Exec(ctx, `INSERT INTO `+baselineTable+` AS b (relation, relation_user, superuser, role_oids, role_names)
		SELECT $1, $2, $3, pg_catalog.array_agg(oid), pg_catalog.array_agg(rolname::text) FROM pg_catalog.pg_roles
		ON CONFLICT (relation) DO UPDATE SET superuser = true WHERE EXCLUDED.superuser AND NOT b.superuser`,
		relation, user, superuser)
	if err != nil {
		return false, fmt.Errorf("recording the roles before %s may create roles: %w", user, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ensureBaselineTable creates the schema and table when missing, and
// refuses them when a role other than a superuser owns either (a planted
// table would let its owner decide which roles the charm drops).
func ensureBaselineTable(ctx context.Context, q Querier) error {
	for _, sql := range []string{
		`CREATE SCHEMA IF NOT EXISTS ` + baselineSchema,
		`CREATE TABLE IF NOT EXISTS ` + baselineTable + ` (
			relation text PRIMARY KEY,
			relation_user text NOT NULL,
			superuser boolean NOT NULL,
			role_oids oid[] NOT NULL,
			role_names text[] NOT NULL,
			recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now())`,
	} {
		if _, err := q.Exec(ctx, sql); err != nil {
			return fmt.Errorf("creating %s: %w", baselineTable, err)
		}
	}
	var ok bool
	err := q.QueryRow(ctx, `SELECT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
			WHERE n.nspname = $1)
		AND (SELECT r.rolsuper AND c.relkind = 'r' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
			WHERE c.oid = pg_catalog.to_regclass($2))`, baselineSchema, baselineTable).Scan(&ok)
	if err != nil {
		return fmt.Errorf("reading the owner of %s: %w", baselineTable, err)
	}
	if !ok {
		return fmt.Errorf("%s is not a table owned by a superuser: refusing to trust it", baselineTable)
	}
	return nil
}

// CreatedRolesReport is what DropCreatedRoles did.
type CreatedRolesReport struct {
	Plan CreatedRolesPlan
	// Dropped are the roles dropped; Left those that appeared since the
	// baseline and stay (the plan's, and those whose drop failed).
	Dropped []string
	Left    []LeftRole
}

// terminateRoleWaitMillis bounds the wait for each session of a dropped
// role to end; lockTimeout bounds each REASSIGN and DROP, so a session
// of another role holding a lock on an object delays a hook, never
// blocks it.
const (
	terminateRoleWaitMillis = 5000
	lockTimeout             = "10s"
)

// maxDisarmRounds bounds how often DropCreatedRoles looks again for
// roles made while it disarmed the others.
const maxDisarmRounds = 5

// DropCreatedRoles drops the roles relation created since its baseline
// (DecideCreatedRoles), then forgets the baseline. First every role to
// drop is disarmed (no LOGIN, no attributes, its sessions terminated),
// and the roles looked at again until no new one appears: a role the
// client made WITH CREATEROLE could make more meanwhile. The roles the
// plan disarms (a charm's name or mark, serving no relation) are
// disarmed too and stay. Then each role to drop has its objects given to
// the relation user and its privileges revoked in every database where
// it has any (and its shared objects, such as a database it owns), and
// DROP ROLE. A role whose step fails is left and reported, and the others
// go on; only a failure to read or to connect is an error (the caller
// retries). keep are the operator's client_roles, live the users of the
// other relations served. A relation with no baseline is not an error:
// nothing is done.
func DropCreatedRoles(ctx context.Context, q Querier, connect ConnectFunc, relation string, keep, live []string) (CreatedRolesReport, error) {
	var rep CreatedRolesReport
	var exists bool
	if err := q.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, baselineTable).Scan(&exists); err != nil {
		return rep, fmt.Errorf("reading %s: %w", baselineTable, err)
	}
	if exists {
		// A steady hook with a refused relation asks this each time:
		// one row read, not every role.
		err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+baselineTable+` WHERE relation = $1)`, relation).Scan(&exists)
		if err != nil {
			return rep, fmt.Errorf("reading %s: %w", baselineTable, err)
		}
	}
	if !exists {
		return rep, nil
	}
	if _, err := q.Exec(ctx, `SELECT pg_catalog.set_config('lock_timeout', $1, false)`, lockTimeout); err != nil {
		return rep, fmt.Errorf("setting lock_timeout: %w", err)
	}
	disarmed := map[uint32]bool{}
	failed := map[uint32]error{}
	// byName: what disarming each role by name came to (nil: done); a
	// later round's plan no longer lists a role disarmed earlier.
	byName := map[string]error{}
	for round := 1; ; round++ {
		in, err := readCreatedRolesInput(ctx, q, relation, keep, live)
		if err != nil {
			return rep, err
		}
		rep.Plan = DecideCreatedRoles(in)
		if !rep.Plan.Tracked {
			return rep, nil
		}
		fresh := false
		for _, r := range append(slices.Clone(rep.Plan.Drop), rep.Plan.Disarm...) {
			if disarmed[r.OID] {
				continue
			}
			fresh, disarmed[r.OID] = true, true
			err := disarmRole(ctx, q, r)
			if err != nil {
				failed[r.OID] = err
			}
			byName[r.Name] = err
		}
		if !fresh || round == maxDisarmRounds {
			break
		}
	}
	for _, l := range rep.Plan.Left {
		if err, ok := byName[l.Name]; ok {
			l.Disarmed = err == nil
			if err != nil {
				l.Why += "; taking its LOGIN and attributes failed: " + err.Error()
			}
		}
		rep.Left = append(rep.Left, l)
	}
	var here string
	if err := q.QueryRow(ctx, `SELECT pg_catalog.current_database()`).Scan(&here); err != nil {
		return rep, fmt.Errorf("reading the current database: %w", err)
	}
	conns := map[string]Querier{here: q}
	defer func() {
		for db, c := range conns {
			if db != here {
				c.(*pgx.Conn).Close(context.Background())
			}
		}
	}()
	on := func(db string) (Querier, error) {
		if c := conns[db]; c != nil {
			return c, nil
		}
		c, err := connect(ctx, db)
		if err != nil {
			return nil, err
		}
		conns[db] = c
		if _, err := c.Exec(ctx, `SELECT pg_catalog.set_config('lock_timeout', $1, false)`, lockTimeout); err != nil {
			return nil, err
		}
		return c, nil
	}
	for _, r := range rep.Plan.Drop {
		var err error
		if e := failed[r.OID]; e != nil {
			err = fmt.Errorf("disarming it: %w", e)
		} else {
			err = dropCreatedRole(ctx, q, r, rep.Plan.Owner, here, on)
		}
		var connErr *connectError
		switch {
		case errors.As(err, &connErr):
			return rep, connErr.err
		case err != nil:
			rep.Left = append(rep.Left, LeftRole{Name: r.Name, Why: err.Error()})
		default:
			rep.Dropped = append(rep.Dropped, r.Name)
		}
	}
	if _, err := q.Exec(ctx, `DELETE FROM `+baselineTable+` WHERE relation = $1`, relation); err != nil {
		return rep, fmt.Errorf("forgetting the baseline of %s: %w", relation, err)
	}
	return rep, nil
}

// sameRole checks that r still names the role it was read as: between
// the read and now the name may have been given to another role. From
// here on the role is identified by OID and name.
func sameRole(ctx context.Context, q Querier, r ServerRole) error {
	var same bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid = $1 AND rolname = $2)`, r.OID, r.Name).Scan(&same); err != nil {
		return fmt.Errorf("reading role: %w", err)
	}
	if !same {
		return errors.New("renamed or dropped since it was read")
	}
	return nil
}

// disarmRole takes LOGIN and every attribute from r, then terminates its
// sessions (LOGIN first, so they cannot come back).
func disarmRole(ctx context.Context, q Querier, r ServerRole) error {
	if err := sameRole(ctx, q, r); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, "ALTER ROLE "+pgx.Identifier{r.Name}.Sanitize()+
		" WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"); err != nil {
		return fmt.Errorf("removing LOGIN and attributes: %w", err)
	}
	// As in RevokeAccess: the sessions are picked in a subquery the
	// planner cannot merge (OFFSET 0), then terminated.
	if _, err := q.Exec(ctx, `SELECT pg_catalog.count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(s.pid, $2))
		FROM (SELECT pid FROM pg_catalog.pg_stat_activity WHERE usesysid = $1 AND pid <> pg_catalog.pg_backend_pid() OFFSET 0) s`,
		r.OID, terminateRoleWaitMillis); err != nil {
		return fmt.Errorf("terminating its sessions: %w", err)
	}
	return nil
}

// connectError is a failure to open a session on a database: the whole
// cleanup stops (and is retried), rather than leaving the role.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }

// dropCreatedRole drops one disarmed role (see DropCreatedRoles). on
// returns a session on a database of the server.
func dropCreatedRole(ctx context.Context, q Querier, r ServerRole, owner, here string, on func(db string) (Querier, error)) error {
	if err := sameRole(ctx, q, r); err != nil {
		return err
	}
	id := pgx.Identifier{r.Name}.Sanitize()
	rows, err := q.Query(ctx, `SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s JOIN pg_catalog.pg_database d ON d.oid = s.dbid
		WHERE s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass AND s.refobjid = $1 AND d.datallowconn ORDER BY 1`, r.OID)
	if err != nil {
		return fmt.Errorf("reading the databases it has objects in: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("reading the databases it has objects in: %w", err)
	}
	// Shared objects (a database it owns) are reassigned from any
	// database: this one always runs first.
	dbs = append([]string{here}, dbs...)
	for _, db := range dbs {
		c, err := on(db)
		if err != nil {
			return &connectError{fmt.Errorf("connecting to database %s: %w", Display(db), err)}
		}
		for _, sql := range []string{"REASSIGN OWNED BY " + id + " TO " + pgx.Identifier{owner}.Sanitize(), "DROP OWNED BY " + id} {
			if _, err := c.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s in database %s: %w", sql, Display(db), err)
			}
		}
	}
	if _, err := q.Exec(ctx, "DROP ROLE "+id); err != nil {
		return fmt.Errorf("dropping: %w", err)
	}
	return nil
}

// readCreatedRolesInput reads the baselines and the server's roles.
func readCreatedRolesInput(ctx context.Context, q Querier, relation string, keep, live []string) (CreatedRolesInput, error) {
	in := CreatedRolesInput{Relation: relation, Keep: keep, Live: live}
	rows, err := q.Query(ctx, `SELECT relation, relation_user, superuser, role_oids FROM `+baselineTable)
	if err != nil {
		return in, fmt.Errorf("reading %s: %w", baselineTable, err)
	}
	for rows.Next() {
		var b Baseline
		var oids []uint32
		if err := rows.Scan(&b.Relation, &b.User, &b.Superuser, &oids); err != nil {
			rows.Close()
			return in, fmt.Errorf("reading %s: %w", baselineTable, err)
		}
		b.Roles = map[uint32]bool{}
		for _, o := range oids {
			b.Roles[o] = true
		}
		in.Baselines = append(in.Baselines, b)
	}
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("reading %s: %w", baselineTable, err)
	}
	rows, err = q.Query(ctx, `SELECT oid, rolname, rolsuper OR rolreplication OR rolbypassrls,
		COALESCE(pg_catalog.shobj_description(oid, 'pg_authid'), '') = $1,
		rolcanlogin OR rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls FROM pg_catalog.pg_roles`, ClientGroupComment)
	if err != nil {
		return in, fmt.Errorf("reading roles: %w", err)
	}
	for rows.Next() {
		var r ServerRole
		if err := rows.Scan(&r.OID, &r.Name, &r.Privileged, &r.ClientGroup, &r.Armed); err != nil {
			rows.Close()
			return in, fmt.Errorf("reading roles: %w", err)
		}
		in.Roles = append(in.Roles, r)
	}
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("reading roles: %w", err)
	}
	return in, nil
}
