package backups_test

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// result reads a dotted key of an action's results.
func result(r controller.ActionResult, key string) string {
	var cur any = r.Results
	for _, k := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[k]
	}
	if cur == nil {
		return ""
	}
	return fmt.Sprint(cur)
}

// TestBackupAndRestore deploys one unit, checks that a missing or
// unwritable backup_path blocks it, then backs up, writes, makes a
// restore point, drops a table, and restores to the restore point; then,
// in the fresh stanza the restore switched to, writes, drops the table
// again and restores to a time. Each restore must bring back exactly the
// rows as of its target, with the unit active as the primary; the bad
// restore requests must fail and change nothing. Steps build on each
// other.
func TestBackupAndRestore(t *testing.T) {
	e := newEnv(t)
	const unit = app + "/0"
	var (
		password, repo string
		firstStanza    string
	)
	suiteStart := time.Now()
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("deploy", func(t *testing.T) {
		e := e.with(t)
		e.seen[unit] = true
		if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
			t.Fatal(err)
		}
		e.waitPrimary(unit)
		password = e.password(unit)
		e.mustSQL(unit, password, "CREATE TABLE keep (id int PRIMARY KEY)", "INSERT INTO keep SELECT generate_series(1, 10)")
	})

	step("create-backup without a repository is refused", func(t *testing.T) {
		e := e.with(t)
		r := e.action(unit, "create-backup", nil)
		if r.Status != "failed" || !strings.Contains(r.Message, "backup_path") {
			t.Fatalf("create-backup: %s %q, want failed naming backup_path", r.Status, r.Message)
		}
	})

	step("a missing or unwritable backup_path blocks the unit", func(t *testing.T) {
		e := e.with(t)
		missing := filepath.Join(e.repoDir("gone", "root", 0o755), "missing")
		if err := e.m.SetConfig(app, map[string]string{"backup_path": missing}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor("blocked on a missing backup_path", func() error { return e.workload(unit, "blocked", "backup_path") })
		if ws := e.unitStatus(unit).WorkloadStatus; !strings.Contains(ws.Message, "does not exist") {
			t.Errorf("status %q does not say the directory does not exist", ws.Message)
		}
		r := e.action(unit, "create-backup", nil)
		if r.Status != "failed" || !strings.Contains(r.Message, "backup_path") {
			t.Fatalf("create-backup: %s %q, want failed naming backup_path", r.Status, r.Message)
		}
		rootOnly := e.repoDir("rootonly", "root", 0o755)
		if err := e.m.SetConfig(app, map[string]string{"backup_path": rootOnly}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor("blocked on an unwritable backup_path", func() error { return e.workload(unit, "blocked", "not writable by the postgres user") })
		if ids, err := e.ids(unit, password, "keep"); err != nil || len(ids) != 10 {
			t.Fatalf("keep: %v %v, want 10 rows: the unit must keep serving", ids, err)
		}
	})

	step("backup_path set: stanza created, archive working", func(t *testing.T) {
		e := e.with(t)
		repo = e.repoDir("repo", "postgres", 0o750)
		if err := e.m.SetConfig(app, map[string]string{"backup_path": repo}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitPrimary(unit)
		e.waitFor("the stanza in the repository", func() error {
			ents, err := os.ReadDir(repo + "/archive")
			if err != nil || len(ents) != 1 {
				return fmt.Errorf("archive directory: %v %v", ents, err)
			}
			firstStanza = ents[0].Name()
			return nil
		})
		if !strings.HasPrefix(firstStanza, app+"-") {
			t.Errorf("stanza %q is not named from the application and model", firstStanza)
		}
		e.waitFor("a segment archived", func() error {
			e.mustSQL(unit, password, "SELECT pg_switch_wal()")
			r := e.action(unit, "list-backups", nil)
			if r.Status != "completed" {
				return permanent(fmt.Errorf("list-backups: %s %s", r.Status, r.Message))
			}
			if result(r, "archive.last-archived-wal") == "" || result(r, "archive.failing") != "false" {
				return fmt.Errorf("archive: %v", r.Results["archive"])
			}
			return nil
		})
	})

	var targetTime string
	step("backups, rows, a restore point, a drop", func(t *testing.T) {
		e := e.with(t)
		e.mustSQL(unit, password, "CREATE TABLE items (id int PRIMARY KEY, v text)",
			"INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 150) i")
		start := time.Now()
		r := e.action(unit, "create-backup", nil)
		if r.Status != "completed" || result(r, "type") != "full" || result(r, "backup-id") == "" {
			t.Fatalf("first create-backup: %s %q %v, want a full backup", r.Status, r.Message, r.Results)
		}
		t.Logf("full backup %s: %s (action %.1fs, pgbackrest %ss, size %s)", result(r, "backup-id"), r.Status,
			time.Since(start).Seconds(), result(r, "seconds"), result(r, "size"))
		if len(r.Log) == 0 {
			t.Errorf("create-backup logged no progress")
		}
		e.mustSQL(unit, password, "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(151, 180) i")
		r = e.action(unit, "create-backup", map[string]any{"type": "incremental"})
		if r.Status != "completed" || result(r, "type") != "incr" {
			t.Fatalf("incremental create-backup: %s %q %v", r.Status, r.Message, r.Results)
		}
		e.mustSQL(unit, password, "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(181, 200) i",
			"SELECT pg_create_restore_point('before_drop')",
			"INSERT INTO items SELECT i, md5(i::text) FROM generate_series(201, 220) i")
		err := e.sql(unit, password, func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')").Scan(&targetTime)
		})
		if err != nil {
			t.Fatal(err)
		}
		e.mustSQL(unit, password, "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(221, 230) i", "DROP TABLE items")
		r = e.action(unit, "list-backups", nil)
		if r.Status != "completed" || result(r, "backups.1.type") != "full" || result(r, "backups.2.type") != "incr" ||
			!strings.Contains(result(r, "table"), result(r, "backups.2.id")) || result(r, "backups.1.stop-lsn") == "" ||
			result(r, "backups.1.timeline") != "1" || result(r, "archive.min") == "" {
			t.Fatalf("list-backups: %s %q %v", r.Status, r.Message, r.Results)
		}
		t.Logf("list-backups table:\n%s", result(r, "table"))
	})

	step("bad restore requests are refused and change nothing", func(t *testing.T) {
		e := e.with(t)
		for _, tc := range []struct {
			params map[string]any
			want   string
		}{
			{map[string]any{}, "give one restore target"},
			{map[string]any{"restore-to-name": "before_drop", "restore-to-time": "latest"}, "exactly one restore target"},
			{map[string]any{"restore-to-time": "2026-12-07 20:00:00"}, "with a time zone"},
			{map[string]any{"restore-to-lsn": "nonsense"}, "invalid restore-to-lsn"},
			{map[string]any{"restore-to-time": "2001-01-01T00:00:00Z"}, "outside the archive"},
			{map[string]any{"restore-to-time": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "in the future"},
			{map[string]any{"restore-to-lsn": "FF/0"}, "beyond the primary's current WAL position"},
			{map[string]any{"backup-id": "20010101-000000F"}, "is not a backup of stanza"},
		} {
			r := e.action(unit, "restore", tc.params)
			if r.Status != "failed" || !strings.Contains(r.Message, tc.want) {
				t.Errorf("restore %v: %s %q, want failed with %q", tc.params, r.Status, r.Message, tc.want)
			}
		}
		// A backup running (pgBackRest's backup lock held, here by the
		// test): restore and create-backup refuse.
		lockDir, _, _ := pgconf.DefaultLayout(e.m.UUID(), unit, "").PgBackRestDirs()
		lock, err := os.OpenFile(filepath.Join(lockDir, firstStanza+"-backup.lock"), os.O_CREATE|os.O_RDWR, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if pg, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(pg.Uid)
			gid, _ := strconv.Atoi(pg.Gid)
			_ = lock.Chown(uid, gid)
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		r := e.action(unit, "restore", map[string]any{"restore-to-name": "before_drop"})
		if r.Status != "failed" || !strings.Contains(r.Message, "is running") {
			t.Errorf("restore while a backup runs: %s %q, want refused", r.Status, r.Message)
		}
		r = e.action(unit, "create-backup", nil)
		if r.Status != "failed" || !strings.Contains(r.Message, "already running") {
			t.Errorf("create-backup while a backup runs: %s %q, want refused", r.Status, r.Message)
		}
		lock.Close()
		os.Remove(lock.Name())
		if err := e.workload(unit, "active", "Primary"); err != nil {
			t.Error(err)
		}
		if ids, err := e.ids(unit, password, "keep"); err != nil || len(ids) != 10 {
			t.Fatalf("keep: %v %v, want its 10 rows untouched", ids, err)
		}
		if _, err := e.ids(unit, password, "items"); err == nil {
			t.Fatalf("items is back: a refused restore changed the data")
		}
	})

	step("restore to the restore point", func(t *testing.T) {
		e := e.with(t)
		start := time.Now()
		r := e.action(unit, "restore", map[string]any{"restore-to-name": "before_drop"})
		if r.Status != "completed" {
			t.Fatalf("restore: %s %q %v", r.Status, r.Message, r.Results)
		}
		t.Logf("restore to the restore point: action %.1fs (restore to Patroni primary %ss), new stanza %s, new backup %s",
			time.Since(start).Seconds(), result(r, "restore-seconds"), result(r, "stanza"), result(r, "new-backup"))
		e.waitPrimary(unit)
		ids, err := e.ids(unit, password, "items")
		if err != nil || !slices.Equal(ids, seq(1, 200)) {
			t.Fatalf("items after the restore: %d rows (%v), want exactly 1..200", len(ids), err)
		}
		if got, _ := e.ids(unit, password, "keep"); len(got) != 10 {
			t.Fatalf("keep after the restore: %v", got)
		}
		if strings.HasPrefix(result(r, "new-backup"), "failed") || result(r, "new-backup") == "" {
			t.Errorf("no fresh backup after the restore: %q", result(r, "new-backup"))
		}
		r = e.action(unit, "list-backups", nil)
		if r.Status != "completed" || result(r, "stanza") == firstStanza || !strings.Contains(result(r, "other-stanzas"), firstStanza) ||
			result(r, "backups.1.type") != "full" || result(r, "backups.2.id") != "" {
			t.Fatalf("list-backups after the restore: %s %q %v, want one full backup in a new stanza and %s among the others",
				r.Status, r.Message, r.Results, firstStanza)
		}
	})

	step("the new stanza archives: restore to a time", func(t *testing.T) {
		e := e.with(t)
		e.mustSQL(unit, password, "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(201, 205) i")
		err := e.sql(unit, password, func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')").Scan(&targetTime)
		})
		if err != nil {
			t.Fatal(err)
		}
		e.mustSQL(unit, password, "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(206, 210) i", "DROP TABLE items")
		start := time.Now()
		r := e.action(unit, "restore", map[string]any{"restore-to-time": targetTime})
		if r.Status != "completed" {
			t.Fatalf("restore to %s: %s %q %v", targetTime, r.Status, r.Message, r.Results)
		}
		t.Logf("restore to a time: action %.1fs (restore to Patroni primary %ss)", time.Since(start).Seconds(), result(r, "restore-seconds"))
		e.waitPrimary(unit)
		ids, err := e.ids(unit, password, "items")
		if err != nil || !slices.Equal(ids, seq(1, 205)) {
			t.Fatalf("items after the restore to %s: %d rows (%v), want exactly 1..205", targetTime, len(ids), err)
		}
	})
	step("a restore point the archive does not hold: restored to the end of the archive, the action fails saying so", func(t *testing.T) {
		e := e.with(t)
		r := e.action(unit, "restore", map[string]any{"restore-to-name": "no_such_point"})
		if r.Status != "failed" || !strings.Contains(r.Message, "was not reached") {
			t.Fatalf("restore to a missing restore point: %s %q %v, want a failure saying it was not reached", r.Status, r.Message, r.Results)
		}
		e.waitPrimary(unit)
		ids, err := e.ids(unit, password, "items")
		if err != nil || !slices.Equal(ids, seq(1, 205)) {
			t.Fatalf("items after the fallback: %d rows (%v), want the end of the archive, 1..205", len(ids), err)
		}
	})
	t.Logf("suite wall time %.0fs", time.Since(suiteStart).Seconds())
}
