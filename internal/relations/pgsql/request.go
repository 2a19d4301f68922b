package pgsql

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/clientdb"
)

// Endpoint is a pgsql endpoint of the charm.
type Endpoint string

// The two endpoints serving the pgsql interface.
const (
	EndpointDB      Endpoint = "db"
	EndpointDBAdmin Endpoint = "db-admin"
)

// Keys a client sends (§A.1).
const (
	KeyDatabase   = "database"
	KeyRoles      = "roles"
	KeyExtensions = "extensions"
)

// Errors of ParseRequest, beside clientdb.ErrInvalidName.
var (
	// ErrDatabaseChanged: the client named a database after being served
	// another it had named.
	ErrDatabaseChanged = errors.New("requested database changed after it was served")
	// ErrInvalidRequest: a value is malformed beyond its names (an
	// extension listed twice with different schemas, an unknown endpoint).
	ErrInvalidRequest = errors.New("invalid request")
)

// RequestError is a refused request: the relation it refuses and why. Its
// text is meant for a Blocked status, e.g.
// `db:5: database "x\"; DROP…" has '"' at byte 1: …`.
type RequestError struct {
	Relation string // "db:5"
	Err      error
}

func (e *RequestError) Error() string { return e.Relation + ": " + e.Err.Error() }

// Unwrap returns the cause (a *clientdb.NameError, ErrDatabaseChanged, …).
func (e *RequestError) Unwrap() error { return e.Err }

// Served is what the charm recorded when it last served the relation.
type Served struct {
	Database  string // "" if never served
	Requested bool   // the client named Database (it was not the default)
}

// Input is what ParseRequest reads.
type Input struct {
	RelationID string // "db:5" or "db-admin:6"
	ClientApp  string
	// AppData is the client application's databag (v2 clients).
	AppData map[string]string
	// UnitData holds the client units' databags by unit name.
	UnitData map[string]map[string]string
	Served   Served
}

// Request is a validated client request.
type Request struct {
	RelationID string
	Endpoint   Endpoint
	ClientApp  string
	// User is the relation's login user (clientdb.RelationUser).
	User string
	// Database to create (if missing), grant and publish.
	Database string
	// DatabaseRequested is true when the client named Database; the charm
	// records it in Served.
	DatabaseRequested bool
	// Roles to create (NOLOGIN) if missing and grant to User: sorted,
	// without duplicates.
	Roles []string
	// Extensions to create in Database, in the client's order.
	Extensions []clientdb.Extension
	// RolesEcho and ExtensionsEcho are the exact strings received, published
	// back byte for byte (§A.5); "" when not sent.
	RolesEcho, ExtensionsEcho string
}

// Admin reports whether the request is on db-admin.
func (r Request) Admin() bool { return r.Endpoint == EndpointDBAdmin }

// Attributes returns the role attributes User must have: SUPERUSER on
// db-admin (§A.8), none on db.
func (r Request) Attributes() []clientdb.Attribute {
	if r.Admin() {
		return []clientdb.Attribute{clientdb.AttrSuperuser}
	}
	return nil
}

// ParseRequest reads and validates a client's request (§A.1): each key from
// the client application databag if set there, else from the first client
// unit (in unit-number order) that sets it; database defaults to the client
// application name. Every name passes clientdb's rules before anything
// else sees it. Errors are *RequestError naming the relation.
func ParseRequest(in Input) (Request, error) {
	r, err := parseRequest(in)
	if err != nil {
		return Request{}, &RequestError{Relation: in.RelationID, Err: err}
	}
	return r, nil
}

func parseRequest(in Input) (Request, error) {
	ep, _, _ := strings.Cut(in.RelationID, ":")
	r := Request{RelationID: in.RelationID, Endpoint: Endpoint(ep), ClientApp: in.ClientApp}
	if r.Endpoint != EndpointDB && r.Endpoint != EndpointDBAdmin {
		return Request{}, fmt.Errorf("%w: endpoint %s is not db or db-admin", ErrInvalidRequest, clientdb.Display(ep))
	}
	var err error
	if r.User, err = clientdb.RelationUser(in.RelationID, in.ClientApp); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	if r.Database, r.DatabaseRequested, err = decideDatabase(in); err != nil {
		return Request{}, err
	}
	if err := clientdb.CheckClientDatabase(r.Database, r.Admin()); err != nil {
		return Request{}, err
	}
	r.RolesEcho, _ = lookup(in, KeyRoles)
	if r.Roles, err = ParseRoles(r.RolesEcho); err != nil {
		return Request{}, err
	}
	r.ExtensionsEcho, _ = lookup(in, KeyExtensions)
	if r.Extensions, err = ParseExtensions(r.ExtensionsEcho); err != nil {
		return Request{}, err
	}
	return r, nil
}

// decideDatabase applies the default and the served-database rule (see the
// package comment).
func decideDatabase(in Input) (string, bool, error) {
	db, named := lookup(in, KeyDatabase)
	s := in.Served
	switch {
	case !named && s.Database != "" && s.Requested:
		// The key vanished (e.g. the unit that set it departed): a
		// missing key is not a new request; keep serving.
		return s.Database, true, nil
	case !named:
		return in.ClientApp, false, nil
	case s.Database != "" && s.Requested && db != s.Database:
		return "", false, fmt.Errorf("%w: served %s, now asks for %s", ErrDatabaseChanged, clientdb.Display(s.Database), clientdb.Display(db))
	}
	return db, true, nil
}

// lookup returns key from the client app databag, else from the first
// client unit, in unit order, that sets it. An empty value is unset (Juju
// deletes keys set to "").
func lookup(in Input, key string) (string, bool) {
	if v := in.AppData[key]; v != "" {
		return v, true
	}
	units := make([]string, 0, len(in.UnitData))
	for u := range in.UnitData {
		units = append(units, u)
	}
	slices.SortFunc(units, clientdb.CompareUnits)
	for _, u := range units {
		if v := in.UnitData[u][key]; v != "" {
			return v, true
		}
	}
	return "", false
}

// ParseRoles splits a roles value (comma-separated, §A.1): blanks around
// items and empty items are ignored; each name passes
// clientdb.CheckClientRole. The result is sorted, without duplicates.
func ParseRoles(s string) ([]string, error) {
	var roles []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := clientdb.CheckClientRole(item); err != nil {
			return nil, err
		}
		roles = append(roles, item)
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// ParseExtensions splits an extensions value (comma-separated, §A.1). Each
// item is name, name:schema (ops-lib-pgsql) or name(schema) (the reactive
// server's form); the schema defaults to public. Items keep the client's
// order; a repeated item is dropped, the same extension in two schemas is
// refused.
func ParseExtensions(s string) ([]clientdb.Extension, error) {
	var out []clientdb.Extension
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		e := clientdb.Extension{Name: item, Schema: clientdb.DefaultSchema}
		if name, schema, ok := strings.Cut(item, ":"); ok {
			e = clientdb.Extension{Name: strings.TrimSpace(name), Schema: strings.TrimSpace(schema)}
		} else if i := strings.IndexByte(item, '('); i >= 0 && strings.HasSuffix(item, ")") {
			e = clientdb.Extension{Name: strings.TrimSpace(item[:i]), Schema: strings.TrimSpace(item[i+1 : len(item)-1])}
		}
		if err := e.Check(); err != nil {
			return nil, err
		}
		if j := slices.IndexFunc(out, func(o clientdb.Extension) bool { return o.Name == e.Name }); j >= 0 {
			if out[j].Schema != e.Schema {
				return nil, fmt.Errorf("%w: extension %s requested in schemas %s and %s", ErrInvalidRequest,
					clientdb.Display(e.Name), clientdb.Display(out[j].Schema), clientdb.Display(e.Schema))
			}
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
