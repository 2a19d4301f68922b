package clientdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/postgres"
)

// EnsureLoginUser creates the relation user with LOGIN and password, or
// brings an existing one to them (a revoked user gets LOGIN back). The
// password is sent as a SCRAM-SHA-256 verifier computed here
// (postgres.EnsureUser), never in clear text. Privileged attributes are
// EnsureAttributes' business.
func EnsureLoginUser(ctx context.Context, q Querier, name, password string) (bool, error) {
	if err := CheckName(KindRole, name); err != nil {
		return false, err
	}
	return postgres.EnsureUser(ctx, q, name, password)
}

// EnsureAttributes sets CREATEDB, CREATEROLE and SUPERUSER on role name to
// exactly want: the listed ones on, the others off. So a client that drops
// "superuser" from extra-user-roles loses it.
func EnsureAttributes(ctx context.Context, q Querier, name string, want []Attribute) (bool, error) {
	if err := CheckName(KindRole, name); err != nil {
		return false, err
	}
	var have [3]bool
	err := q.QueryRow(ctx, `SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1`, name).
		Scan(&have[0], &have[1], &have[2])
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("setting attributes of %s: %w", name, ErrNoSuchRole)
	}
	if err != nil {
		return false, fmt.Errorf("reading role %s: %w", name, err)
	}
	var clauses []string
	for i, a := range allAttributes {
		on := false
		for _, w := range want {
			on = on || w == a.attr
		}
		if on == have[i] {
			continue
		}
		if on {
			clauses = append(clauses, string(a.attr))
		} else {
			clauses = append(clauses, "NO"+string(a.attr))
		}
	}
	if len(clauses) == 0 {
		return false, nil
	}
	if _, err := q.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" WITH "+strings.Join(clauses, " ")); err != nil {
		return false, fmt.Errorf("setting attributes of %s: %w", name, err)
	}
	return true, nil
}

// verifierRE is the shape of a SCRAM-SHA-256 verifier: base64, digits, '$'
// and ':' only, so it is a safe SQL literal. Compiled on first use: a hook
// that rotates no password does not pay for it.
var verifierRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)
})

// RotatePassword gives an existing role a new password (sent as a SCRAM
// verifier). It changes nothing else: a revoked user stays NOLOGIN, and
// sessions already open stay open (the old password only stops new
// logins), so a client republished the new password reconnects at its own
// pace.
func RotatePassword(ctx context.Context, q Querier, name, password string) (bool, error) {
	if err := CheckName(KindRole, name); err != nil {
		return false, err
	}
	if err := postgres.CheckPassword(password); err != nil {
		return false, fmt.Errorf("rotating password of %s: %w", name, err)
	}
	var stored *string
	err := q.QueryRow(ctx, `SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1`, name).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("rotating password of %s: %w", name, ErrNoSuchRole)
	}
	if err != nil {
		return false, fmt.Errorf("reading role %s: %w", name, err)
	}
	if stored != nil && postgres.VerifierMatches(*stored, password) {
		return false, nil
	}
	v, err := postgres.ScramVerifier(password, rand.Reader)
	if err != nil {
		return false, err
	}
	if !verifierRE().MatchString(v) {
		panic("clientdb: SCRAM verifier is not well formed") // broken invariant
	}
	if _, err := q.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" PASSWORD '"+v+"'"); err != nil {
		return false, fmt.Errorf("rotating password of %s: %w", name, err)
	}
	return true, nil
}

// WithdrawAdmin takes from a relation user what only an application in
// admin_applications may hold: SUPERUSER, CREATEROLE and membership of
// AdminRole. The user keeps LOGIN, its database and its objects; a user
// that does not exist is not an error.
func WithdrawAdmin(ctx context.Context, q Querier, name string) (bool, error) {
	if err := CheckName(KindRole, name); err != nil {
		return false, err
	}
	var super, createrole, admin bool
	err := q.QueryRow(ctx, `SELECT r.rolsuper, r.rolcreaterole, EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
		JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = $2)
		FROM pg_catalog.pg_roles r WHERE r.rolname = $1`, name, AdminRole).Scan(&super, &createrole, &admin)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading role %s: %w", name, err)
	}
	id := pgx.Identifier{name}.Sanitize()
	if super || createrole {
		if _, err := q.Exec(ctx, "ALTER ROLE "+id+" WITH NOSUPERUSER NOCREATEROLE"); err != nil {
			return false, fmt.Errorf("withdrawing admin attributes of %s: %w", name, err)
		}
	}
	if admin {
		if _, err := q.Exec(ctx, "REVOKE "+pgx.Identifier{AdminRole}.Sanitize()+" FROM "+id); err != nil {
			return true, fmt.Errorf("revoking %s from %s: %w", AdminRole, name, err)
		}
	}
	return super || createrole || admin, nil
}

// terminateWaitMillis is how long RevokeAccess waits for each session to
// end (pg_terminate_backend's timeout, PostgreSQL 14+).
const terminateWaitMillis = 5000

// RevokeAccess is what -relation-broken does to a relation user: NOLOGIN
// and no privileged attributes (NOSUPERUSER for db-admin and
// extra-user-roles users), then every session of the user is terminated.
// LOGIN goes first so a terminated client cannot log in again. The role,
// its grants, its objects and every database stay: data is never dropped.
// A user that does not exist is not an error (nothing to revoke).
func RevokeAccess(ctx context.Context, q Querier, name string) (bool, error) {
	if err := CheckName(KindRole, name); err != nil {
		return false, err
	}
	var login, createdb, createrole, super bool
	err := q.QueryRow(ctx, `SELECT rolcanlogin, rolcreatedb, rolcreaterole, rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1`, name).
		Scan(&login, &createdb, &createrole, &super)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading role %s: %w", name, err)
	}
	changed := false
	if login || createdb || createrole || super {
		if _, err := q.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"); err != nil {
			return false, fmt.Errorf("revoking login of %s: %w", name, err)
		}
		changed = true
	}
	var n int
	// The sessions are selected in a subquery kept apart by OFFSET 0, and
	// terminated only in the outer aggregate: in one WHERE clause the
	// planner may call pg_terminate_backend before the usename test and
	// end every session on the server, ours included.
	err = q.QueryRow(ctx, `SELECT pg_catalog.count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(s.pid, $2))
		FROM (SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid() OFFSET 0) s`,
		name, terminateWaitMillis).Scan(&n)
	if err != nil {
		return changed, fmt.Errorf("terminating sessions of %s: %w", name, err)
	}
	return changed || n > 0, nil
}
