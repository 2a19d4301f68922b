package pgconf

import (
	"path/filepath"
	"strings"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

// BackupRepo is the unit's backup repository as the backups slice decided
// it: where the posix repository is (config backup_path), the S3 one (the
// s3-parameters relation), the application's stanza and pgBackRest's
// tuning. The zero value is "no repository".
type BackupRepo struct {
	Path   string
	S3     pgbackrest.S3
	Stanza string
	// IOTimeout is pgBackRest's io-timeout (seconds; 0: its default).
	IOTimeout int
	// RetentionFull and RetentionDiff are the retention options (0:
	// unset).
	RetentionFull, RetentionDiff int
}

// Configured reports whether WAL goes to a repository.
func (r BackupRepo) Configured() bool { return (r.Path != "" || r.S3.Configured()) && r.Stanza != "" }

// PgBackRestCAFile is the S3 provider's CA chain (root, group postgres,
// 0640).
func (l Layout) PgBackRestCAFile() string { return filepath.Join(l.ConfDir, "pgbackrest-s3-ca.pem") }

// NoArchiveCommand is archive_command without a repository: archive_mode
// is on from the bootstrap, so the first repository needs a reload, not a
// restart; until then every segment is "archived" by doing nothing.
const NoArchiveCommand = "/bin/true"

// PgBackRestConfigPath is the unit's pgBackRest configuration file (never
// Debian's shared /etc/pgbackrest.conf).
func (l Layout) PgBackRestConfigPath() string { return filepath.Join(l.ConfDir, "pgbackrest.conf") }

// PgBackRestPassFile is the pgpass file pgBackRest's libpq reads the
// superuser's password from (postgres only, 0600).
func (l Layout) PgBackRestPassFile() string { return filepath.Join(l.ConfDir, "pgbackrest.pgpass") }

// PgBackRestDirs are the unit's own lock, log and spool directories
// (DESIGN §10: pgBackRest's locks are per path; units may share a host).
func (l Layout) PgBackRestDirs() (lock, log, spool string) {
	return filepath.Join(l.RunDir, "pgbackrest"), filepath.Join(l.LogDir, "pgbackrest"), filepath.Join(l.ConfDir, "pgbackrest-spool")
}

// ArchiveCommand is the archive_command of a unit: pgBackRest's
// archive-push with the unit's own configuration when a repository is
// configured, NoArchiveCommand otherwise.
func ArchiveCommand(c UnitConfig) string {
	if !c.Backup.Configured() || c.Layout.ConfDir == "" {
		return NoArchiveCommand
	}
	return "/usr/bin/pgbackrest --config=" + shellWord(c.Layout.PgBackRestConfigPath()) +
		" --stanza=" + shellWord(c.Backup.Stanza) + " archive-push %p"
}

// shellWord quotes s for /bin/sh (archive_command runs through it) unless
// it holds only characters that need no quoting.
func shellWord(s string) string {
	if strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PatroniNamespace is Patroni's namespace in etcd; its keys for the
// application live under PatroniNamespace + the application's name + "/".
const PatroniNamespace = "/postgresql-charm/"
