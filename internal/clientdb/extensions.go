package clientdb

import (
	"context"
	"errors"
	"fmt"

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

// EnsureExtensions creates each extension in its schema, in the database
// dbq is connected to (the client's). For each, in order:
//
//   - availability is checked in pg_available_extensions first:
//     *ExtensionUnavailableError if missing;
//   - an extension already created is left alone, whatever its schema
//     (extensions are never moved or dropped);
//   - the schema is created if missing and PUBLIC gets USAGE on it (the
//     reactive charm's rule), so the client can use the extension;
//   - CREATE EXTENSION IF NOT EXISTS … SCHEMA … CASCADE (CASCADE installs
//     what it requires, e.g. cube for earthdistance).
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
	schema := pgx.Identifier{e.Schema}.Sanitize()
	var usable bool
	if err := q.QueryRow(ctx, `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text)
		THEN pg_catalog.has_schema_privilege('public', $1::text, 'USAGE') ELSE false END`, e.Schema).Scan(&usable); err != nil {
		return false, fmt.Errorf("reading schema %s: %w", e.Schema, err)
	}
	if !usable {
		if _, err := q.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			return false, fmt.Errorf("creating schema %s: %w", e.Schema, err)
		}
		if _, err := q.Exec(ctx, "GRANT USAGE ON SCHEMA "+schema+" TO PUBLIC"); err != nil {
			return true, fmt.Errorf("granting usage on schema %s: %w", e.Schema, err)
		}
	}
	if _, err := q.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+pgx.Identifier{e.Name}.Sanitize()+" SCHEMA "+schema+" CASCADE"); err != nil {
		return true, fmt.Errorf("creating extension %s: %w", e, err)
	}
	return true, nil
}
