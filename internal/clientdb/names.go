package clientdb

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// NameKind says what a name names; it appears in error messages.
type NameKind string

// Kinds of names a client can send.
const (
	KindDatabase  NameKind = "database"
	KindRole      NameKind = "role"
	KindExtension NameKind = "extension"
	KindSchema    NameKind = "schema"
)

// MaxNameBytes is PostgreSQL's identifier limit (NAMEDATALEN - 1). Longer
// names are truncated by the server, so two different requests could end
// up naming the same object; they are refused instead.
const MaxNameBytes = 63

// ErrInvalidName is the sentinel every refused name wraps.
var ErrInvalidName = errors.New("invalid name")

// NameError is a refused name: what it names, the value (shown sanitised)
// and why.
type NameError struct {
	Kind   NameKind
	Value  string
	Reason string
}

// Error renders e.g. `database "x\"; DROP…" has character '"' …`.
func (e *NameError) Error() string {
	return fmt.Sprintf("%s %s %s", e.Kind, Display(e.Value), e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidName) hold.
func (e *NameError) Unwrap() error { return ErrInvalidName }

// displayMax bounds how much of a refused value is shown, escaped, in
// bytes: status messages are one line and the value is the client's, not
// ours.
const displayMax = 40

// Display returns a value safe to show in a status message or log:
// Go-quoted, so control characters, NUL, quotes and invalid UTF-8 are
// escaped and the value cannot forge a line or a second field, and cut
// ("…") once the escaped text would pass displayMax bytes.
func Display(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		q := strconv.Quote(s[i : i+size])
		piece := q[1 : len(q)-1]
		if b.Len()-1+len(piece) > displayMax {
			b.WriteString("…")
			break
		}
		b.WriteString(piece)
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// CheckName applies the rules every client-supplied name obeys (DESIGN §7):
//
//   - 1 to 63 bytes, valid UTF-8, no NUL;
//   - first character a letter (any script) or '_';
//   - then letters, digits, '_', '$', '-' or '.'.
//
// The character set is generous: identifiers are always quoted, so any name
// would be safe in SQL. The rule exists to refuse absurd input clearly:
// spaces, quotes, semicolons, commas, control and formatting characters
// (which could hide text in a status message), and anything that could
// mean something in pg_hba.conf ('+', '@', ',', '"'). Every name PostgreSQL
// accepts unquoted passes, as do Juju application names (which contain
// '-') and extension names such as uuid-ossp.
func CheckName(kind NameKind, name string) error {
	bad := func(format string, args ...any) error {
		return &NameError{Kind: kind, Value: name, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case name == "":
		return bad("is empty")
	case len(name) > MaxNameBytes:
		return bad("is %d bytes long, more than %d", len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case strings.IndexByte(name, 0) >= 0:
		return bad("contains NUL")
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || r == '_'
		if i > 0 {
			ok = ok || unicode.IsDigit(r) || r == '$' || r == '-' || r == '.'
		}
		if !ok {
			return bad("has %s at byte %d: allowed are letters, digits, '_', '$', '-' and '.', starting with a letter or '_'", strconv.QuoteRune(r), i)
		}
	}
	return nil
}

// reservedRoleNames are names PostgreSQL refuses or treats specially in
// GRANT, plus the charm's own system users: granting one of those to a
// client would hand it the charm's powers.
var reservedRoleNames = []string{
	"public", "none", "current_user", "session_user", "current_role",
	"operator", "replication", "rewind", "patroni", "root", "postgres",
}

// Reserved role name prefixes: relation_ names the relation users (a client
// role created under such a name would later become another relation's
// login user, and the client a member of it); charmed_ names roles the
// charm manages (charmed_admin); pg_ is PostgreSQL's.
const (
	RelationUserPrefix = "relation_"
	charmedPrefix      = "charmed_"
)

// CheckClientRole checks a role name a client asks to be created and
// granted (`roles` on db): CheckName, and not a reserved name or prefix.
// Predefined pg_ roles pass: they are never created (PostgreSQL reserves
// the prefix), and GrantRoles grants one only if the operator lists it in
// client_roles.
func CheckClientRole(name string) error {
	if err := CheckName(KindRole, name); err != nil {
		return err
	}
	lower := strings.ToLower(name)
	switch {
	case slices.Contains(reservedRoleNames, lower):
		return &NameError{Kind: KindRole, Value: name, Reason: "is reserved"}
	case strings.HasPrefix(lower, RelationUserPrefix), strings.HasPrefix(lower, charmedPrefix):
		return &NameError{Kind: KindRole, Value: name, Reason: "uses a prefix reserved for the charm's roles (relation_, charmed_)"}
	}
	return nil
}

// templateDatabases can never be a client's database: template0 refuses
// connections and anything created in template1 is copied into every new
// database.
var templateDatabases = []string{"template0", "template1"}

// CheckClientDatabase checks a database name a client asks for. The
// maintenance database "postgres" is refused unless admin (db-admin users
// are superusers and may use it anyway).
func CheckClientDatabase(name string, admin bool) error {
	if err := CheckName(KindDatabase, name); err != nil {
		return err
	}
	if slices.Contains(templateDatabases, name) || (!admin && name == "postgres") {
		return &NameError{Kind: KindDatabase, Value: name, Reason: "is reserved"}
	}
	return nil
}

// CheckSchema checks a schema name for an extension: CheckName and not
// pg_ (PostgreSQL reserves it) or information_schema.
func CheckSchema(name string) error {
	if err := CheckName(KindSchema, name); err != nil {
		return err
	}
	if l := strings.ToLower(name); strings.HasPrefix(l, "pg_") || l == "information_schema" {
		return &NameError{Kind: KindSchema, Value: name, Reason: "is reserved"}
	}
	return nil
}

// Extension is an extension to create and the schema to create it in.
type Extension struct {
	Name   string
	Schema string // "public" unless the client named one
}

// DefaultSchema is where an extension goes when the client names none.
const DefaultSchema = "public"

// String renders name(schema), the form status messages use.
func (e Extension) String() string { return e.Name + "(" + e.Schema + ")" }

// Check checks both names.
func (e Extension) Check() error {
	if err := CheckName(KindExtension, e.Name); err != nil {
		return err
	}
	return CheckSchema(e.Schema)
}
