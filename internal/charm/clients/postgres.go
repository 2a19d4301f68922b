package clients

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Database is the PostgreSQL side of client relations. The real one runs
// clientdb's effects over pgx; harness tests use a fake.
type Database interface {
	// Facts reads the cluster's roles from Patroni and the server's
	// version, grantable roles and available extensions from self.
	Facts(ctx context.Context, api *patroni.Client, member string, self postgres.Target) (*ServerFacts, error)
	// Serve runs one relation's SQL on the primary.
	Serve(ctx context.Context, primary postgres.Target, s Service, password string) error
	// Drifted checks every relation in one read of the catalogs and says,
	// by relation id, why those changed by hand since they were served.
	Drifted(ctx context.Context, primary postgres.Target, wants []clientdb.Want) (map[string]string, error)
	// Revoke removes LOGIN from a gone relation's user and ends its sessions.
	Revoke(ctx context.Context, primary postgres.Target, user string) error
	// Withdraw takes admin attributes from a relation user whose
	// application left admin_applications; true when it had some.
	Withdraw(ctx context.Context, primary postgres.Target, user string) (bool, error)
	// DropCreatedRoles drops the roles a relation made since it could
	// (clientdb.DropCreatedRoles): after Revoke or Withdraw. keep are the
	// operator's client_roles, live the other served relations' users.
	DropCreatedRoles(ctx context.Context, primary postgres.Target, relation string, keep, live []string) (clientdb.CreatedRolesReport, error)
	// Rotate gives a relation user a new password.
	Rotate(ctx context.Context, primary postgres.Target, user, password string) error
	// LoadHBA returns once self's pg_hba.conf holds exactly lines and
	// PostgreSQL has reloaded it; nudge asks Patroni to rewrite the file.
	LoadHBA(ctx context.Context, self postgres.Target, lines []string, nudge func(context.Context) error) error
	// WaitRole waits (up to timeout) until role exists on self: a hot
	// standby has replayed the primary's CREATE ROLE. false when it has
	// not in time.
	WaitRole(ctx context.Context, self postgres.Target, role string, timeout time.Duration) (bool, error)
}

// Postgres is the real Database.
type Postgres struct {
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
}

// Facts implements Database.
func (Postgres) Facts(ctx context.Context, api *patroni.Client, member string, self postgres.Target) (*ServerFacts, error) {
	cl, err := api.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster from Patroni: %w", err)
	}
	f := &ServerFacts{Port: self.Port, Extensions: map[string]bool{}}
	for _, mb := range cl.Members {
		running := mb.State.Up()
		switch {
		case mb.Role.IsPrimary() && running:
			f.Primary = mb.Host
			f.SelfPrimary = f.SelfPrimary || mb.Name == member
		case (mb.Role == patroni.RoleReplica || mb.Role == patroni.RoleSyncStandby) && running:
			f.Replicas = append(f.Replicas, mb.Host)
			f.SelfReplica = f.SelfReplica || mb.Name == member
		}
	}
	slices.Sort(f.Replicas)
	conn, err := self.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if f.Version, _, err = postgres.ServerVersion(ctx, conn); err != nil {
		return nil, err
	}
	if f.Roles, err = clientdb.LoadRoleGraph(ctx, conn); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT name FROM pg_catalog.pg_available_extensions`)
	if err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	for _, n := range names {
		f.Extensions[n] = true
	}
	return f, nil
}

// Serve implements Database, in clientdb's order. CREATE DATABASE runs
// outside any transaction; the database's own grants and extensions run
// connected to it.
func (Postgres) Serve(ctx context.Context, primary postgres.Target, s Service, password string) error {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	super := slices.Contains(s.Attributes, clientdb.AttrSuperuser)
	steps := []func() (bool, error){
		func() (bool, error) { return clientdb.EnsureLoginUser(ctx, conn, s.User, password) },
		func() (bool, error) {
			// Before the user may create roles, record which exist, so
			// those it creates can be told apart (DropCreatedRoles).
			if !super && !slices.Contains(s.Attributes, clientdb.AttrCreateRole) {
				return false, nil
			}
			return clientdb.EnsureRoleBaseline(ctx, conn, s.ID, s.User, super)
		},
		func() (bool, error) { return clientdb.EnsureAttributes(ctx, conn, s.User, s.Attributes) },
		func() (bool, error) { return clientdb.EnsureDatabase(ctx, conn, s.Database) },
	}
	for _, st := range steps {
		if _, err := st(); err != nil {
			return err
		}
	}
	dbConn, err := primary.Connect(ctx, s.Database)
	if err != nil {
		return err
	}
	defer dbConn.Close(ctx)
	if _, err := clientdb.EnsureDatabaseAccess(ctx, conn, dbConn, s.Database, s.User); err != nil {
		return err
	}
	for _, r := range s.CreateRoles {
		if _, err := clientdb.EnsureRole(ctx, conn, r); err != nil {
			return err
		}
	}
	if _, err := clientdb.GrantRoles(ctx, conn, s.User, s.Roles, s.AllowedRoles); err != nil {
		return err
	}
	if _, err := clientdb.EnsureExtensions(ctx, dbConn, s.Extensions); err != nil {
		return err
	}
	if s.Admin {
		if _, err := clientdb.EnsureAdminMembership(ctx, conn, s.User); err != nil {
			return err
		}
	}
	return nil
}

// WaitRole implements Database.
func (d Postgres) WaitRole(ctx context.Context, self postgres.Target, role string, timeout time.Duration) (bool, error) {
	conn, err := self.Connect(ctx, "")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var exists bool
	clock.Poll(ctx, clock.Or(d.Clock), timeout, 200*time.Millisecond, func() bool {
		err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, role).Scan(&exists)
		return err != nil || exists
	})
	if err == nil {
		err = ctx.Err()
	}
	return exists, err
}

// Drifted implements Database.
func (Postgres) Drifted(ctx context.Context, primary postgres.Target, wants []clientdb.Want) (map[string]string, error) {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	return clientdb.Drifted(ctx, conn, wants)
}

// Revoke implements Database.
func (Postgres) Revoke(ctx context.Context, primary postgres.Target, user string) error {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = clientdb.RevokeAccess(ctx, conn, user)
	return err
}

// Withdraw implements Database.
func (Postgres) Withdraw(ctx context.Context, primary postgres.Target, user string) (bool, error) {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	return clientdb.WithdrawAdmin(ctx, conn, user)
}

// DropCreatedRoles implements Database.
func (Postgres) DropCreatedRoles(ctx context.Context, primary postgres.Target, relation string, keep, live []string) (clientdb.CreatedRolesReport, error) {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return clientdb.CreatedRolesReport{}, err
	}
	defer conn.Close(ctx)
	return clientdb.DropCreatedRoles(ctx, conn, primary.Connect, relation, keep, live)
}

// Rotate implements Database.
func (Postgres) Rotate(ctx context.Context, primary postgres.Target, user, password string) error {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = clientdb.RotatePassword(ctx, conn, user, password)
	return err
}

// LoadHBA implements Database. Patroni writes pg_hba.conf from patroni.yml
// when it reloads, in its next loop; the charm waits until the file holds
// exactly lines (asking Patroni once more after 4 s, in case it missed
// the reload), then reloads PostgreSQL itself and waits until a new
// session shows a later pg_conf_load_time(): new sessions are forked by
// the postmaster after it has reloaded pg_hba.conf, so from then on a
// client listed as allowed is admitted.
func (d Postgres) LoadHBA(ctx context.Context, self postgres.Target, lines []string, nudge func(context.Context) error) error {
	clk := clock.Or(d.Clock)
	want := normaliseHBA(lines)
	start := clk.Now()
	var before time.Time
	var err error
	written := clock.Poll(ctx, clk, 45*time.Second, 200*time.Millisecond, func() bool {
		var ok bool
		ok, before, err = hbaFileHolds(ctx, self, want)
		if !ok && nudge != nil && clk.Now().Sub(start) >= 4*time.Second {
			_ = nudge(ctx) // Patroni may have missed the reload
			nudge = nil
		}
		return ok
	})
	if !written {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("pg_hba.conf does not hold the rendered rules after 45 s (last error: %v)", err)
	}
	if err != nil {
		return err
	}
	remaining := 45*time.Second - clk.Now().Sub(start)
	if clock.Poll(ctx, clk, remaining, 50*time.Millisecond, func() bool {
		var at time.Time
		at, err = confLoadTime(ctx, self)
		return err == nil && at.After(before)
	}) {
		return nil
	}
	return fmt.Errorf("PostgreSQL did not reload pg_hba.conf (last error: %v)", err)
}

// hbaFileHolds reports whether self's pg_hba.conf holds want and, when it
// does, asks PostgreSQL to reload it: before is the load time before that
// reload. A non-nil error with ok true means the reload itself failed.
func hbaFileHolds(ctx context.Context, self postgres.Target, want []string) (ok bool, before time.Time, err error) {
	conn, err := self.Connect(ctx, "")
	if err != nil {
		return false, before, err
	}
	defer conn.Close(ctx)
	var text string
	err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_read_file(pg_catalog.current_setting('hba_file'))`).Scan(&text)
	if err != nil || !slices.Equal(normaliseHBA(strings.Split(text, "\n")), want) {
		return false, before, err
	}
	if err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_conf_load_time()`).Scan(&before); err == nil {
		_, err = conn.Exec(ctx, `SELECT pg_catalog.pg_reload_conf()`)
	}
	return true, before, err
}

// confLoadTime is pg_conf_load_time() in a new session.
func confLoadTime(ctx context.Context, self postgres.Target) (time.Time, error) {
	conn, err := self.Connect(ctx, "")
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close(ctx)
	var at time.Time
	err = conn.QueryRow(ctx, `SELECT pg_catalog.pg_conf_load_time()`).Scan(&at)
	return at, err
}

// normaliseHBA drops comments and blank lines and collapses whitespace.
func normaliseHBA(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// unreachable says whether err is a failure to reach or keep a
// connection to the server, rather than an answer from it.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P01-57P03: the server is shutting down or starting.
		return strings.HasPrefix(pgErr.Code, "57P")
	}
	return errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}

// refusesRelation says whether a Serve error comes from what the client
// asked (a role that exists but cannot be granted, an extension
// PostgreSQL will not create, a name it rejects) rather than from the
// server being unreachable or failing: the first refuses the relation,
// the second fails the hook so Juju retries it.
func refusesRelation(err error) bool {
	if err == nil {
		return false
	}
	var nameErr *clientdb.NameError
	if errors.Is(err, clientdb.ErrRoleNotGrantable) || errors.Is(err, clientdb.ErrNoSuchRole) ||
		errors.Is(err, clientdb.ErrUnsafeExtensionSchema) || errors.As(err, &nameErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 0A feature not supported, 22 data exception, 42 syntax error
		// or access rule violation, 58 system error (e.g. an
		// extension's library missing): the request, not the server.
		switch pgErr.Code[:2] {
		case "0A", "22", "42", "58":
			return true
		}
	}
	return false
}
