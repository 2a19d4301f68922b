package backups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

func postgresIDs() (uint32, uint32, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("looking up user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uint32(uid), uint32(gid), nil
}

// configFor is the unit's pgBackRest configuration.
func configFor(cfg pgconf.UnitConfig) pgbackrest.Config {
	lock, log, spool := cfg.Layout.PgBackRestDirs()
	port := cfg.Settings.ListenPort
	if port == 0 {
		port = pgconf.DefaultPostgresPort
	}
	s3 := cfg.Backup.S3
	if s3.CA != "" {
		s3.CAFile = cfg.Layout.PgBackRestCAFile()
	}
	return pgbackrest.Config{
		Unit: cfg.Unit, Stanza: cfg.Backup.Stanza, RepoPath: cfg.Backup.Path, S3: s3, IOTimeout: cfg.Backup.IOTimeout,
		RetentionFull: cfg.Backup.RetentionFull, RetentionDiff: cfg.Backup.RetentionDiff,
		PGData: cfg.Layout.PGData, SocketDir: cfg.Layout.SocketDir, Port: port, User: pgconf.OperatorUser,
		LockPath: lock, LogPath: log, SpoolPath: spool,
	}
}

// CLIFor is the pgbackrest command line of the unit for stanza.
func CLIFor(cfg pgconf.UnitConfig, stanza string) (pgbackrest.CLI, error) {
	uid, gid, err := postgresIDs()
	if err != nil {
		return pgbackrest.CLI{}, err
	}
	return pgbackrest.CLI{ConfigPath: cfg.Layout.PgBackRestConfigPath(), Stanza: stanza,
		PassFile: cfg.Layout.PgBackRestPassFile(), UID: uid, GID: gid}, nil
}

// WriteConfig writes the unit's pgBackRest files: its own lock, log and
// spool directories (postgres, 0750), pgbackrest.conf (root-owned, group
// postgres, 0640: pgBackRest reads it, nothing run as postgres can change
// where it writes) and the pgpass file with the superuser's password
// (postgres, 0600, in the unit's 0700 configuration directory). The S3
// repository's credentials are in pgbackrest.conf (never on a command
// line or in an environment), its CA chain in a file beside it (0640).
func WriteConfig(_ context.Context, cfg pgconf.UnitConfig) (bool, error) {
	if !cfg.Backup.Configured() {
		return false, nil
	}
	uid, gid, err := postgresIDs()
	if err != nil {
		return false, err
	}
	lock, log, spool := cfg.Layout.PgBackRestDirs()
	pg := safefile.Owner{UID: int(uid), GID: int(gid)}
	for _, d := range []string{lock, log, spool} {
		if _, err := safefile.EnsureDir(d, 0o750, pg); err != nil {
			return false, err
		}
	}
	text, err := pgbackrest.RenderConfig(configFor(cfg))
	if err != nil {
		return false, err
	}
	c0 := false
	if ca := cfg.Backup.S3.CA; ca != "" && cfg.Backup.S3.Configured() {
		if c0, err = writeFile(cfg.Layout.PgBackRestCAFile(), []byte(ca), 0o640, 0, gid); err != nil {
			return false, err
		}
	}
	c1, err := writeFile(cfg.Layout.PgBackRestConfigPath(), []byte(text), 0o640, 0, gid)
	if err != nil {
		return false, err
	}
	c1 = c1 || c0
	pass := "*:*:*:" + pgpassEscape(pgconf.OperatorUser) + ":" + pgpassEscape(cfg.Passwords.Operator) + "\n"
	c2, err := writeFile(cfg.Layout.PgBackRestPassFile(), []byte(pass), 0o600, uid, gid)
	return c1 || c2, err
}

func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

// writeFile replaces path with data (mode, owner) when it differs,
// through safefile: a fresh temporary file, never a symbolic link.
func writeFile(path string, data []byte, mode os.FileMode, uid, gid uint32) (bool, error) {
	return safefile.WriteFile(path, data, mode, safefile.Owner{UID: int(uid), GID: int(gid)})
}

// BackupRunning reports whether a pgBackRest backup (or expire) of stanza
// holds its lock on this unit: pgBackRest flocks
// <lock-path>/<stanza>-backup.lock while it runs. Only this unit's lock
// path is seen (each unit has its own, DESIGN §10); Juju runs one action
// at a time per unit, and backups run on the primary.
func BackupRunning(cfg pgconf.UnitConfig, stanza string) bool {
	lock, _, _ := cfg.Layout.PgBackRestDirs()
	f, err := os.Open(filepath.Join(lock, stanza+"-backup.lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
