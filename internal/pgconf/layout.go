package pgconf

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Default ports. Every daemon binds them on the unit's own address only, so
// units on different machines (or localjuju machines) never collide.
const (
	DefaultPostgresPort = 5432
	DefaultPatroniPort  = 8008
	EtcdClientPort      = 2379
	EtcdPeerPort        = 2380
)

// System user names. The passwords live in the application's Juju secret.
const (
	OperatorUser    = "operator"
	ReplicationUser = "replication"
	RewindUser      = "rewind"
	PatroniAPIUser  = "patroni"
	EtcdRootUser    = "root"
)

// UnitSlug turns a Juju unit name ("postgresql/0") into the form used in
// file, directory and service names ("postgresql-0").
func UnitSlug(unit string) string {
	return strings.ReplaceAll(unit, "/", "-")
}

// ServiceName is the unit-scoped name of a daemon of the unit, for example
// ServiceName("postgresql/0", "patroni") is "postgresql-0-patroni".
func ServiceName(unit, component string) string {
	return UnitSlug(unit) + "-" + component
}

// Layout says where a unit keeps its files. DESIGN §5: data on the pgdata
// storage, everything else in directories scoped to the unit, so several
// units can share a machine. DESIGN §7 and issue 9 item 2: the OS user
// postgres is any database superuser (COPY … TO PROGRAM), so nothing that
// root-run code reads or runs lives in a directory postgres can write; only
// what Patroni and PostgreSQL themselves need is postgres-owned. Dirs says
// each directory's owner and mode.
type Layout struct {
	// ConfDir is the unit's directory under /var/lib: root:root 0755. It
	// holds only the directories below, never a file of its own.
	ConfDir string
	// PatroniDir (postgres:postgres 0700) holds what only Patroni and
	// PostgreSQL use: patroni.yml and the pgpass file Patroni maintains,
	// and any key or certificate Patroni presents.
	PatroniDir string
	// EtcdConfDir (root:etcd 0750) holds etcd.conf.yml and anything else
	// the etcd user must read but not change (files root:etcd 0640).
	EtcdConfDir string
	// EtcdDataDir (etcd:etcd 0700) is the etcd member's data directory.
	EtcdDataDir string
	// CharmDir (root:root 0700) holds files only the charm (root) uses.
	CharmDir string
	// RunDir (root:root 0755) holds the supervisor's service specs and
	// pid files.
	RunDir string
	// SocketDir (postgres:postgres 0700, inside RunDir) holds the
	// PostgreSQL unix socket. Kept short: a unix socket path is limited to
	// 107 bytes (see SocketPathLimit).
	SocketDir string
	// LogDir (root:root 0755) holds the daemons' output, written through
	// files root opens for them (root:root 0640).
	LogDir string
	// PGData is the PostgreSQL data directory. It is a subdirectory of the
	// pgdata storage, because a mount point may hold lost+found and initdb
	// wants an empty directory of mode 0700.
	PGData string
}

// SocketPathLimit is the longest unix socket path Linux takes (108 bytes
// of sun_path with its terminating NUL).
const SocketPathLimit = 107

// DefaultLayout is the layout of a unit of the model (its uuid) whose pgdata
// storage is mounted at storage. The directories carry the model's short id
// as well as the unit: units of the same name in two models may share a
// host's filesystem (localjuju machines do, and so do co-located test
// models), while Juju only guarantees a unit name unique within a model.
func DefaultLayout(model, unit, storage string) Layout {
	slug := UnitSlug(unit)
	if len(model) >= 8 {
		slug = model[:8] + "-" + slug
	}
	return NewLayout(filepath.Join("/var/lib/postgresql-charm", slug), filepath.Join("/run/postgresql-charm", slug),
		filepath.Join("/var/log/postgresql-charm", slug), storage)
}

// NewLayout is the layout with the unit's directory conf, run directory
// run, log directory log and pgdata storage at storage (tests root it in
// a temporary directory).
func NewLayout(conf, run, log, storage string) Layout {
	return Layout{
		ConfDir:     conf,
		PatroniDir:  filepath.Join(conf, "patroni"),
		EtcdConfDir: filepath.Join(conf, "etcd"),
		EtcdDataDir: filepath.Join(conf, "etcd-data"),
		CharmDir:    filepath.Join(conf, "charm"),
		RunDir:      run,
		SocketDir:   filepath.Join(run, "pg"),
		LogDir:      log,
		PGData:      filepath.Join(storage, "pgdata"),
	}
}

// Dir is one of the unit's directories with its owner and mode. User
// and Group are names (postgres, etcd, root), looked up on the machine.
type Dir struct {
	Path        string
	User, Group string
	Mode        os.FileMode
}

// Dirs are the unit's directories outside its storage, parents first,
// with the owner and mode each must have (see Layout).
func (l Layout) Dirs() []Dir {
	return []Dir{
		{l.ConfDir, "root", "root", 0o755},
		{l.PatroniDir, "postgres", "postgres", 0o700},
		{l.EtcdConfDir, "root", "etcd", 0o750},
		{l.EtcdDataDir, "etcd", "etcd", 0o700},
		{l.CharmDir, "root", "root", 0o700},
		{l.PatroniPythonDir(), "root", "root", 0o755},
		{l.RunDir, "root", "root", 0o755},
		{l.SocketDir, "postgres", "postgres", 0o700},
		{l.LogDir, "root", "root", 0o755},
	}
}

// UnitDirs are the directories the unit owns outside its storage: ConfDir
// (with the etcd data directory and every file carrying a password),
// RunDir and LogDir. The remove hook deletes them; PGData is never among
// them (DESIGN §7: the data stays on the storage).
func (l Layout) UnitDirs() []string { return []string{l.ConfDir, l.TLSDir(), l.RunDir, l.LogDir} }

// PatroniPythonDir is on Patroni's PYTHONPATH: the charm's fix of
// Patroni 3.0.2 (patronistart.SiteCustomize), root's, which Patroni
// (postgres) reads and cannot change.
func (l Layout) PatroniPythonDir() string { return filepath.Join(l.ConfDir, "patroni-python") }

// PatroniConfigPath is where patroni.yml goes.
func (l Layout) PatroniConfigPath() string { return filepath.Join(l.PatroniDir, "patroni.yml") }

// EtcdConfigPath is where the etcd configuration goes.
func (l Layout) EtcdConfigPath() string { return filepath.Join(l.EtcdConfDir, "etcd.conf.yml") }

// PgPassPath is the pgpass file Patroni maintains for replication and rewind.
func (l Layout) PgPassPath() string { return filepath.Join(l.PatroniDir, "pgpass") }

// SocketPath is the PostgreSQL unix socket for port.
func (l Layout) SocketPath(port int) string {
	return filepath.Join(l.SocketDir, ".s.PGSQL."+strconv.Itoa(port))
}

// BinDir is the directory of the PostgreSQL server binaries for a major
// version on Debian and Ubuntu.
func BinDir(version string) string {
	return filepath.Join("/usr/lib/postgresql", version, "bin")
}
