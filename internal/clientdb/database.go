package clientdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnsureDatabase creates database name when missing, owned by the
// connecting superuser (see the package comment for why not by a relation
// user). CREATE DATABASE takes no parameters and cannot run in a
// transaction, so existence is checked with a parameterised query first and
// the name goes in as a quoted identifier. A concurrent creation
// (duplicate_database) counts as already there. q must not be inside a
// transaction.
func EnsureDatabase(ctx context.Context, q Querier, name string) (bool, error) {
	if err := CheckClientDatabase(name, true); err != nil {
		return false, err
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("reading database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := q.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
			return false, nil
		}
		return false, fmt.Errorf("creating database %s: %w", name, err)
	}
	return true, nil
}

// EnsureDatabaseAccess gives user full use of database: CONNECT, CREATE and
// TEMPORARY on it (GRANT ALL ON DATABASE, through q, any database of the
// server) and USAGE and CREATE on its public schema (through dbq, connected
// to database itself: PostgreSQL 15 no longer lets PUBLIC create there).
// Privileges are read from the ACLs first, explicit grants only (PUBLIC's
// default CONNECT does not count), so a second call changes nothing.
func EnsureDatabaseAccess(ctx context.Context, q, dbq Querier, database, user string) (bool, error) {
	if err := CheckName(KindDatabase, database); err != nil {
		return false, err
	}
	if err := CheckName(KindRole, user); err != nil {
		return false, err
	}
	var n int
	err := q.QueryRow(ctx, `SELECT pg_catalog.count(DISTINCT a.privilege_type) FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a
		WHERE d.datname = $1 AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)
		AND a.privilege_type IN ('CONNECT', 'CREATE', 'TEMPORARY')`, database, user).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading privileges on database %s: %w", database, err)
	}
	changed := false
	if n < 3 {
		sql := "GRANT ALL ON DATABASE " + pgx.Identifier{database}.Sanitize() + " TO " + pgx.Identifier{user}.Sanitize()
		if _, err := q.Exec(ctx, sql); err != nil {
			return false, fmt.Errorf("granting database %s to %s: %w", database, user, err)
		}
		changed = true
	}
	var have int
	var public bool
	err = dbq.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public'),
		(SELECT pg_catalog.count(DISTINCT a.privilege_type) FROM pg_catalog.pg_namespace s, pg_catalog.aclexplode(s.nspacl) a
		 WHERE s.nspname = 'public' AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
		 AND a.privilege_type IN ('USAGE', 'CREATE'))`, user).Scan(&public, &have)
	if err != nil {
		return changed, fmt.Errorf("reading privileges on schema public of %s: %w", database, err)
	}
	if public && have < 2 {
		if _, err := dbq.Exec(ctx, "GRANT USAGE, CREATE ON SCHEMA public TO "+pgx.Identifier{user}.Sanitize()); err != nil {
			return changed, fmt.Errorf("granting schema public of %s to %s: %w", database, user, err)
		}
		changed = true
	}
	return changed, nil
}
