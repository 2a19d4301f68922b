package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConnConfig says how to reach a server.
type ConnConfig struct {
	// Host is the socket directory (an absolute path) or an address.
	Host     string
	Port     uint16
	User     string
	Password string `json:"-"`
	Database string // empty means "postgres"
	// Dial, if set, opens the connection (localjuju and tests dial from
	// inside a unit's network namespace).
	Dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	ConnectTimeout time.Duration // zero means 10 s
	// SearchPath, when set, is the session's search_path.
	SearchPath string
}

// CharmSearchPath is the search_path of every session the charm opens as
// a superuser: pg_catalog first and nothing a client can write, so a
// function, operator or table a client plants in a database it owns
// (public.count(text), say) is never what the charm's SQL calls
// (CVE-2018-1058).
const CharmSearchPath = "pg_catalog, pg_temp"

// Connect opens a connection. It ignores PG* environment variables, so a
// hook's environment cannot redirect it.
func Connect(ctx context.Context, cc ConnConfig) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	db := cc.Database
	if db == "" {
		db = "postgres"
	}
	timeout := cc.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = cc.Host, cc.Port, cc.User, cc.Password, db
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	cfg.ConnectTimeout = timeout
	cfg.RuntimeParams = map[string]string{"application_name": "postgresql-charm"}
	if cc.SearchPath != "" {
		cfg.RuntimeParams["search_path"] = cc.SearchPath
	}
	if cc.Dial != nil {
		cfg.DialFunc = pgconn.DialFunc(cc.Dial)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres at %s:%d as %s: %w", cc.Host, cc.Port, cc.User, err)
	}
	return conn, nil
}

// Querier is what the operations need: a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// RoleAttr is a role attribute the charm sets.
type RoleAttr string

// Role attributes.
const (
	AttrLogin       RoleAttr = "LOGIN"
	AttrSuperuser   RoleAttr = "SUPERUSER"
	AttrReplication RoleAttr = "REPLICATION"
	AttrCreateDB    RoleAttr = "CREATEDB"
	AttrCreateRole  RoleAttr = "CREATEROLE"
)

var roleNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`) })

// ErrInvalidName is returned for a role or database name the charm refuses.
var ErrInvalidName = errors.New("invalid name")

// CheckName validates a role or database name (DESIGN §7): valid UTF-8
// implied by the character set, no NUL, at most 63 bytes, letters, digits,
// '_', '.', '-', not starting with "pg_".
func CheckName(name string) error {
	switch {
	case len(name) == 0 || len(name) > 63:
		return fmt.Errorf("%w: %q must be 1 to 63 bytes", ErrInvalidName, name)
	case !roleNameRE().MatchString(name):
		return fmt.Errorf("%w: %q may hold only letters, digits, '_', '.' and '-', starting with a letter or '_'", ErrInvalidName, name)
	case strings.HasPrefix(strings.ToLower(name), "pg_"):
		return fmt.Errorf("%w: %q: the pg_ prefix is reserved", ErrInvalidName, name)
	}
	return nil
}

// EnsureUser creates role name with LOGIN, the given attributes and
// password, or brings an existing role to them. It changes nothing when the
// role already has the attributes and its stored verifier matches the
// password. The connection must be a superuser's (it reads pg_authid).
func EnsureUser(ctx context.Context, q Querier, name, password string, attrs ...RoleAttr) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	if err := CheckPassword(password); err != nil {
		return false, fmt.Errorf("ensuring user %s: %w", name, err)
	}
	want := map[RoleAttr]bool{AttrLogin: true}
	for _, a := range attrs {
		want[a] = true
	}
	var (
		exists                                bool
		login, super, repl, createdb, creater bool
		verifier                              *string
	)
	err := q.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolreplication, rolcreatedb, rolcreaterole, rolpassword
		FROM pg_catalog.pg_authid WHERE rolname = $1`, name).Scan(&login, &super, &repl, &createdb, &creater, &verifier)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("reading role %s: %w", name, err)
	default:
		exists = true
	}
	have := map[RoleAttr]bool{AttrLogin: login, AttrSuperuser: super, AttrReplication: repl, AttrCreateDB: createdb, AttrCreateRole: creater}
	attrsOK := exists
	for a, w := range want {
		attrsOK = attrsOK && have[a] == w
	}
	pwOK := exists && verifier != nil && VerifierMatches(*verifier, password)
	if attrsOK && pwOK {
		return false, nil
	}
	v, err := ScramVerifier(password, rand.Reader)
	if err != nil {
		return false, err
	}
	if !verifierRE().MatchString(v) {
		panic("postgres: SCRAM verifier is not well formed") // broken invariant
	}
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	// Only attributes the caller asked for are added; others the role
	// holds (perhaps granted by an administrator) are left alone, except
	// LOGIN which every user here needs.
	var names []string
	for a := range want {
		names = append(names, string(a))
	}
	sort.Strings(names)
	sql := fmt.Sprintf("%s ROLE %s WITH %s PASSWORD '%s'", verb, pgx.Identifier{name}.Sanitize(), strings.Join(names, " "), v)
	if _, err := q.Exec(ctx, sql); err != nil {
		return false, fmt.Errorf("%s role %s: %w", strings.ToLower(verb[:len(verb)-1])+"ing", name, err)
	}
	return true, nil
}

// ServerVersion returns server_version ("15.10 (Debian 15.10-0+deb12u1)"
// is cut to "15.10") and server_version_num.
func ServerVersion(ctx context.Context, q Querier) (string, int, error) {
	var v string
	var num int
	if err := q.QueryRow(ctx, `SELECT pg_catalog.current_setting('server_version'), pg_catalog.current_setting('server_version_num')::int`).Scan(&v, &num); err != nil {
		return "", 0, fmt.Errorf("reading server version: %w", err)
	}
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v, num, nil
}

// Show returns the current value of a setting, as SHOW prints it.
func Show(ctx context.Context, q Querier, name string) (string, error) {
	var v string
	if err := q.QueryRow(ctx, `SELECT pg_catalog.current_setting($1)`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("reading setting %s: %w", name, err)
	}
	return v, nil
}

// PendingRestart returns, sorted, the settings changed in the configuration
// files that take effect only after a restart.
func PendingRestart(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT name FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("reading pending restarts: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading pending restarts: %w", err)
	}
	return names, nil
}

// IsInRecovery reports whether the server is a standby.
func IsInRecovery(ctx context.Context, q Querier) (bool, error) {
	var r bool
	if err := q.QueryRow(ctx, `SELECT pg_catalog.pg_is_in_recovery()`).Scan(&r); err != nil {
		return false, fmt.Errorf("reading recovery state: %w", err)
	}
	return r, nil
}

// Target is a server the charm connects to, and the role it logs in as.
type Target struct {
	Host     string
	Port     int
	User     string
	Password string `json:"-"`
}

// Connect opens a session of the charm on database ("" is postgres),
// with CharmSearchPath and a 5 s connect timeout.
func (t Target) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	return Connect(ctx, ConnConfig{Host: t.Host, Port: uint16(t.Port), User: t.User,
		Password: t.Password, Database: database, ConnectTimeout: 5 * time.Second, SearchPath: CharmSearchPath})
}
