package pgclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/clientdb"
)

// Keys the requirer sends (§B.1).
const (
	KeyDatabase         = "database"
	KeyRequestedSecrets = "requested-secrets"
	KeyExtraUserRoles   = "extra-user-roles"
)

// Errors of ParseRequest, beside clientdb.ErrInvalidName.
var (
	// ErrNoDatabase: the requirer has not (yet) sent database. Not a
	// refusal: the library writes it in -relation-created, so wait.
	ErrNoDatabase = errors.New("no database requested yet")
	// ErrDatabaseChanged: the requirer named another database after
	// being served one.
	ErrDatabaseChanged = errors.New("requested database changed after it was served")
	// ErrInvalidRoles: extra-user-roles names roles the charm does not
	// know or will not grant.
	ErrInvalidRoles = errors.New("invalid role(s) for extra user roles")
	// ErrInvalidRequest: a malformed value (requested-secrets not a JSON
	// list of strings).
	ErrInvalidRequest = errors.New("invalid request")
)

// RequestError is a refused (or not yet complete) request, naming the
// relation: `database:7: invalid role(s) for extra user roles: "foo"`.
type RequestError struct {
	Relation string // "database:7"
	Err      error
}

func (e *RequestError) Error() string { return e.Relation + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// Input is what ParseRequest reads.
type Input struct {
	RelationID string // "database:7"
	ClientApp  string
	// AppData is the requirer application's databag.
	AppData map[string]string
	// ServedDatabase is the database the charm last published on this
	// relation; "" if none.
	ServedDatabase string
	// GrantableRoles are the existing roles extra-user-roles may name
	// (clientdb.RoleGraph.Grantable).
	GrantableRoles []string
}

// Request is a validated requirer request.
type Request struct {
	RelationID string
	ClientApp  string
	// User is the relation's login user (clientdb.RelationUser).
	User     string
	Database string
	// RequestedSecrets are the fields the requirer wants in Juju secrets;
	// empty for plain databag fields.
	RequestedSecrets []string
	// Attributes User must have, exactly (clientdb.EnsureAttributes).
	Attributes []clientdb.Attribute
	// Admin asks for clientdb.EnsureAdminMembership.
	Admin bool
	// Roles to grant to User (clientdb.GrantRoles), sorted.
	Roles []string
}

// ParseRequest reads and validates the requirer's app databag (§B.1).
// Errors are *RequestError; errors.Is(err, ErrNoDatabase) means "wait",
// anything else refuses the relation.
func ParseRequest(in Input) (Request, error) {
	r, err := parseRequest(in)
	if err != nil {
		return Request{}, &RequestError{Relation: in.RelationID, Err: err}
	}
	return r, nil
}

func parseRequest(in Input) (Request, error) {
	r := Request{RelationID: in.RelationID, ClientApp: in.ClientApp}
	var err error
	if r.User, err = clientdb.RelationUser(in.RelationID, in.ClientApp); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	r.Database = in.AppData[KeyDatabase]
	switch {
	case r.Database == "":
		return Request{}, ErrNoDatabase
	case in.ServedDatabase != "" && r.Database != in.ServedDatabase:
		return Request{}, fmt.Errorf("%w: served %s, now asks for %s", ErrDatabaseChanged,
			clientdb.Display(in.ServedDatabase), clientdb.Display(r.Database))
	}
	if err := clientdb.CheckClientDatabase(r.Database, false); err != nil {
		return Request{}, err
	}
	if r.RequestedSecrets, err = parseRequestedSecrets(in.AppData[KeyRequestedSecrets]); err != nil {
		return Request{}, err
	}
	if err := r.parseExtraUserRoles(in.AppData[KeyExtraUserRoles], in.GrantableRoles); err != nil {
		return Request{}, err
	}
	return r, nil
}

// parseRequestedSecrets reads the JSON list (Python's json.dumps, so with
// spaces); "" and "[]" mean none.
func parseRequestedSecrets(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var fields []string
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return nil, fmt.Errorf("%w: requested-secrets %s is not a JSON list of strings", ErrInvalidRequest, clientdb.Display(s))
	}
	if len(fields) == 0 {
		return nil, nil
	}
	slices.Sort(fields)
	return slices.Compact(fields), nil
}

// userRoleKeywords map extra-user-roles keywords (lower case) to
// attributes.
var userRoleKeywords = map[string][]clientdb.Attribute{
	"admin":      {clientdb.AttrCreateDB},
	"createdb":   {clientdb.AttrCreateDB},
	"createrole": {clientdb.AttrCreateRole},
	"superuser":  {clientdb.AttrSuperuser},
	"login":      nil,
}

func (r *Request) parseExtraUserRoles(s string, grantable []string) error {
	var unknown []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		lower := strings.ToLower(item)
		if attrs, ok := userRoleKeywords[lower]; ok {
			r.Attributes = append(r.Attributes, attrs...)
			r.Admin = r.Admin || lower == "admin"
			continue
		}
		if err := clientdb.CheckName(clientdb.KindRole, item); err != nil {
			return err
		}
		switch {
		case slices.Contains(grantable, item):
			r.Roles = append(r.Roles, item)
		case slices.Contains(grantable, lower):
			r.Roles = append(r.Roles, lower)
		default:
			unknown = append(unknown, clientdb.Display(item))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: %s", ErrInvalidRoles, strings.Join(slices.Compact(unknown), ", "))
	}
	slices.Sort(r.Attributes)
	r.Attributes = slices.Compact(r.Attributes)
	slices.Sort(r.Roles)
	r.Roles = slices.Compact(r.Roles)
	return nil
}
