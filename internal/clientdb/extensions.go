package clientdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrExtensionUnavailable is wrapped by ExtensionUnavailableError.
var ErrExtensionUnavailable = errors.New("extension not available")

// ExtensionUnavailableError says that the server has no such extension
// (not in pg_available_extensions): the relation is refused with a status
// naming it, until the operator installs it.
type ExtensionUnavailableError struct {
	Name string
}

func (e *ExtensionUnavailableError) Error() string {
	return "extension " + Display(e.Name) + " is not available on this server"
}

// Unwrap makes errors.Is(err, ErrExtensionUnavailable) hold.
func (e *ExtensionUnavailableError) Unwrap() error { return ErrExtensionUnavailable }

// ErrUnsafeExtensionSchema: the extension cannot be created without an
// install script seeing a schema a non-superuser can create objects in.
var ErrUnsafeExtensionSchema = errors.New("extension cannot be created safely there")

// EnsureExtensions creates each extension in its schema, in the database
// dbq is connected to (the client's). For each, in order:
//
//   - availability is checked in pg_available_extensions first:
//     *ExtensionUnavailableError if missing;
//   - an extension already created is left alone, whatever its schema
//     (extensions are never moved or dropped);
//   - the schema is created if missing and PUBLIC gets USAGE on it (the
//     reactive charm's rule), so the client can use the extension;
//   - CREATE EXTENSION … CASCADE (CASCADE installs what it requires, e.g.
//     cube for earthdistance), never with a client-writable schema on the
//     install script's search_path (see createSafely).
//
// It goes on past a failed extension and returns the errors joined.
func EnsureExtensions(ctx context.Context, dbq Querier, exts []Extension) (bool, error) {
	changed := false
	var errs []error
	for _, e := range exts {
		c, err := ensureExtension(ctx, dbq, e)
		changed = changed || c
		if err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

func ensureExtension(ctx context.Context, q Querier, e Extension) (bool, error) {
	if err := e.Check(); err != nil {
		return false, err
	}
	var available, installed bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = $1),
		EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1)`, e.Name).Scan(&available, &installed)
	if err != nil {
		return false, fmt.Errorf("reading extension %s: %w", e.Name, err)
	}
	if installed {
		return false, nil
	}
	if !available {
		return false, &ExtensionUnavailableError{Name: e.Name}
	}
	b, ok := q.(interface {
		Begin(context.Context) (pgx.Tx, error)
	})
	if !ok {
		return false, fmt.Errorf("creating extension %s: the connection cannot open a transaction", e)
	}
	tx, err := b.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("creating extension %s: %w", e, err)
	}
	defer tx.Rollback(ctx)
	if err := createSafely(ctx, tx, e); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("creating extension %s: %w", e, err)
	}
	return true, nil
}

// clientWritable is the SQL test that schema n (a pg_namespace row) is one
// a role without SUPERUSER owns or may create objects in. public of
// PostgreSQL 15 is owned by pg_database_owner, so it counts too.
const clientWritable = `(NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = n.nspowner), false)
	OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE NOT r.rolsuper
		AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')))`

// createSafely creates e inside tx. PostgreSQL runs an install script as
// superuser with search_path set to the target schema and the schemas of
// the extensions it requires; an object a client planted in one of them
// (public.count(text), say) would win overload resolution and run as
// superuser (CVE-2018-1058, and again CVE-2023-39417). So a script meant
// for a client-writable schema runs in a staging schema only superusers
// can write; required extensions that sit in client-writable schemas are
// moved there first; and everything is moved to where it belongs
// afterwards. ALTER EXTENSION … SET SCHEMA runs
// no script. An extension that is not relocatable cannot be moved, so it is
// refused in a client-writable schema (ErrUnsafeExtensionSchema).
func createSafely(ctx context.Context, tx pgx.Tx, e Extension) error {
	var exists, writable bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text),
		EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = $1::text AND `+clientWritable+`)`,
		e.Schema).Scan(&exists, &writable); err != nil {
		return fmt.Errorf("reading schema %s: %w", e.Schema, err)
	}
	schema := pgx.Identifier{e.Schema}.Sanitize()
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return fmt.Errorf("creating schema %s: %w", e.Schema, err)
		}
	}
	if !exists || !writable {
		// A schema the charm made or only superusers write: the reactive
		// charm's rule that PUBLIC may use what is created there.
		if _, err := tx.Exec(ctx, "GRANT USAGE ON SCHEMA "+schema+" TO PUBLIC"); err != nil {
			return fmt.Errorf("granting usage on schema %s: %w", e.Schema, err)
		}
	}
	staging := "charm_staging_" + randomSuffix()
	stagingID := pgx.Identifier{staging}.Sanitize()
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+stagingID); err != nil {
		return fmt.Errorf("creating extension %s: %w", e, err)
	}
	// Required extensions, transitively, that are already created in a
	// client-writable schema, with that schema to return them to.
	rows, err := tx.Query(ctx, `WITH RECURSIVE req(name) AS (
			SELECT pg_catalog.unnest(v.requires) FROM pg_catalog.pg_available_extensions a
			 JOIN pg_catalog.pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version
			 WHERE a.name = $1
			UNION
			SELECT pg_catalog.unnest(v.requires) FROM req
			 JOIN pg_catalog.pg_available_extensions a ON a.name = req.name
			 JOIN pg_catalog.pg_available_extension_versions v ON v.name = a.name
			  AND v.version = COALESCE(a.installed_version, a.default_version))
		SELECT x.extname, n.nspname, x.extrelocatable FROM req
		 JOIN pg_catalog.pg_extension x ON x.extname = req.name
		 JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
		 WHERE `+clientWritable, e.Name)
	if err != nil {
		return fmt.Errorf("reading what extension %s requires: %w", e, err)
	}
	type parked struct{ name, schema string }
	var moved []parked
	var stuck []string
	for rows.Next() {
		var p parked
		var relocatable bool
		if err := rows.Scan(&p.name, &p.schema, &relocatable); err != nil {
			rows.Close()
			return fmt.Errorf("reading what extension %s requires: %w", e, err)
		}
		if relocatable {
			moved = append(moved, p)
		} else {
			stuck = append(stuck, p.name+"("+p.schema+")")
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading what extension %s requires: %w", e, err)
	}
	if len(stuck) > 0 {
		return fmt.Errorf("creating extension %s: %w: it requires %s, which is not relocatable and sits in a schema non-superusers can write",
			e, ErrUnsafeExtensionSchema, strings.Join(stuck, ", "))
	}
	for _, p := range moved {
		if _, err := tx.Exec(ctx, "ALTER EXTENSION "+pgx.Identifier{p.name}.Sanitize()+" SET SCHEMA "+stagingID); err != nil {
			return fmt.Errorf("creating extension %s: moving %s aside: %w", e, p.name, err)
		}
	}
	// Into e's schema straight away when no client can write it: the
	// script may then also be an extension that cannot be moved.
	target := schema
	if exists && writable {
		target = stagingID
	}
	if _, err := tx.Exec(ctx, "CREATE EXTENSION "+pgx.Identifier{e.Name}.Sanitize()+" SCHEMA "+target+" CASCADE"); err != nil {
		return fmt.Errorf("creating extension %s: %w", e, err)
	}
	// Back to where each belongs: the moved ones to their schemas, the new
	// ones (e and what CASCADE created) to e's.
	dest := map[string]string{}
	for _, p := range moved {
		dest[p.name] = p.schema
	}
	rows, err = tx.Query(ctx, `SELECT x.extname, x.extrelocatable FROM pg_catalog.pg_extension x
		JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE n.nspname = $1::text`, staging)
	if err != nil {
		return fmt.Errorf("creating extension %s: %w", e, err)
	}
	type placed struct {
		name        string
		relocatable bool
	}
	var staged []placed
	for rows.Next() {
		var p placed
		if err := rows.Scan(&p.name, &p.relocatable); err != nil {
			rows.Close()
			return fmt.Errorf("creating extension %s: %w", e, err)
		}
		staged = append(staged, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("creating extension %s: %w", e, err)
	}
	for _, p := range staged {
		to, ok := dest[p.name]
		if !ok {
			to = e.Schema
		}
		if !p.relocatable {
			return fmt.Errorf("creating extension %s: %w: %s is not relocatable; ask for it in a schema of its own (%s:<schema>)",
				e, ErrUnsafeExtensionSchema, p.name, e.Name)
		}
		if _, err := tx.Exec(ctx, "ALTER EXTENSION "+pgx.Identifier{p.name}.Sanitize()+" SET SCHEMA "+pgx.Identifier{to}.Sanitize()); err != nil {
			return fmt.Errorf("creating extension %s: moving %s to schema %s: %w", e, p.name, to, err)
		}
	}
	if _, err := tx.Exec(ctx, "DROP SCHEMA "+stagingID+" RESTRICT"); err != nil {
		return fmt.Errorf("creating extension %s: %w", e, err)
	}
	return nil
}

// randomSuffix names a staging schema; two charm sessions never share one.
func randomSuffix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}
