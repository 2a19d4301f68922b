package pgconf

import (
	"path/filepath"
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
// units can share a machine.
type Layout struct {
	// ConfDir holds patroni.yml, etcd.conf.yml and the pgpass file. Owned
	// by the postgres user, mode 0700 (the files carry passwords).
	ConfDir string
	// RunDir holds the PostgreSQL unix socket and pid files. Kept short:
	// a unix socket path is limited to 107 bytes.
	RunDir string
	// LogDir holds the daemons' output.
	LogDir string
	// PGData is the PostgreSQL data directory. It is a subdirectory of the
	// pgdata storage, because a mount point may hold lost+found and initdb
	// wants an empty directory of mode 0700.
	PGData string
	// EtcdDataDir is the etcd member's data directory.
	EtcdDataDir string
}

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
	conf := filepath.Join("/var/lib/postgresql-charm", slug)
	return Layout{
		ConfDir:     conf,
		RunDir:      filepath.Join("/run/postgresql-charm", slug),
		LogDir:      filepath.Join("/var/log/postgresql-charm", slug),
		PGData:      filepath.Join(storage, "pgdata"),
		EtcdDataDir: filepath.Join(conf, "etcd"),
	}
}

// UnitDirs are the directories the unit owns outside its storage: ConfDir
// (with the etcd data directory and every file carrying a password),
// RunDir and LogDir. The remove hook deletes them; PGData is never among
// them (DESIGN §7: the data stays on the storage).
func (l Layout) UnitDirs() []string { return []string{l.ConfDir, l.TLSDir(), l.RunDir, l.LogDir} }

// PatroniConfigPath is where patroni.yml goes.
func (l Layout) PatroniConfigPath() string { return filepath.Join(l.ConfDir, "patroni.yml") }

// EtcdConfigPath is where the etcd configuration goes.
func (l Layout) EtcdConfigPath() string { return filepath.Join(l.ConfDir, "etcd.conf.yml") }

// PgPassPath is the pgpass file Patroni maintains for replication and rewind.
func (l Layout) PgPassPath() string { return filepath.Join(l.ConfDir, "pgpass") }

// BinDir is the directory of the PostgreSQL server binaries for a major
// version on Debian and Ubuntu.
func BinDir(version string) string {
	return filepath.Join("/usr/lib/postgresql", version, "bin")
}
