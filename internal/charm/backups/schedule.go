package backups

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/cron"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// The schedule's and retention's config options.
const (
	ScheduleOption      = "backup_schedule"
	RetentionFullOption = "backup_retention_full"
	RetentionDiffOption = "backup_retention_diff"
)

// ScheduleSeenKey (unit state): "<cron line>\n<RFC 3339 time>", when the
// unit first saw the schedule: the first slot is the one after it (a new
// schedule does not fire for slots before it was set).
const ScheduleSeenKey keys.State = "backups-schedule-seen"

// Scheduled backups: Juju has no cron, and a unit's hooks must not be
// held by a long backup. The tick is the update-status hook on whichever
// unit is the primary then (so the schedule follows failovers); the
// repositories themselves are the shared memory of what ran (the newest
// backup's start), so a new primary neither repeats a slot the old one
// backed up nor misses one it did not. When a slot is due the primary
// starts a full backup into every repository as a detached process (as
// postgres, its own session) and returns; the next hooks read its result
// file, and a failure stays in the primary's status until a later
// scheduled backup succeeds. Slots missed while no unit could run them are caught up by one
// backup. The precision is update-status's interval (5 minutes by
// default).

// ScheduleFacts is what DecideSchedule weighs.
type ScheduleFacts struct {
	// Seen is when the unit first saw the schedule.
	Seen time.Time
	// Newest is the start of the newest backup in the repositories
	// (zero: none).
	Newest time.Time
	// Result is the last scheduled backup's outcome on this unit.
	Result ScheduleResult
	// Running: a backup of the stanza runs on this unit.
	Running bool
	Now     time.Time
}

// ScheduleResult is a scheduled backup's outcome, from its result file.
type ScheduleResult struct {
	Slot    time.Time
	Code    int
	Message string
	Valid   bool
}

// DecideSchedule says whether the schedule's next slot is due, which
// slot that is, and the status a failed scheduled backup leaves. It is
// pure.
func DecideSchedule(s cron.Schedule, f ScheduleFacts) (due bool, slot time.Time, status juju.Status) {
	base := f.Seen
	if f.Newest.After(base) {
		base = f.Newest
	}
	// A slot this unit ran is not run again, failed or not (a failed
	// slot is not retried: the next one is).
	if r := f.Result; r.Valid && r.Slot.After(base) {
		base = r.Slot
	}
	// A failure shows until a later scheduled backup succeeds (its result
	// replaces the file): a backup that reached one repository of two
	// is newer than the slot, yet the slot failed.
	if r := f.Result; r.Valid && r.Code != 0 {
		status = juju.Blocked(fmt.Sprintf("scheduled backup of %s failed: %s", r.Slot.UTC().Format(time.RFC3339), r.Message))
	}
	slot = s.Next(base)
	due = !slot.IsZero() && !slot.After(f.Now) && !f.Running
	return due, slot, status
}

// ParseSeen reads ScheduleSeenKey's value for line; zero when it was
// another schedule's.
func ParseSeen(v, line string) time.Time {
	l, ts, ok := strings.Cut(v, "\n")
	if !ok || l != line {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339, ts)
	return t
}

// SeenValue is ScheduleSeenKey's value for line seen at t.
func SeenValue(line string, t time.Time) string { return line + "\n" + t.UTC().Format(time.RFC3339) }

// scheduleFiles are the scheduled backup's output and result files, in
// the unit's pgBackRest log directory (postgres, 0750).
func scheduleFiles(cfg pgconf.UnitConfig) (out, result string) {
	_, log, _ := cfg.Layout.PgBackRestDirs()
	return filepath.Join(log, "scheduled-backup.out"), filepath.Join(log, "scheduled-backup.result")
}

// ReadScheduleResult reads the last scheduled backup's result file:
// "<slot> <exit code>", and for a failure pgBackRest's last ERROR line
// from its output.
func ReadScheduleResult(cfg pgconf.UnitConfig) ScheduleResult {
	outPath, resPath := scheduleFiles(cfg)
	b, err := os.ReadFile(resPath)
	if err != nil {
		return ScheduleResult{}
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return ScheduleResult{}
	}
	slot, err1 := time.Parse(time.RFC3339, f[0])
	code, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return ScheduleResult{}
	}
	r := ScheduleResult{Slot: slot, Code: code, Valid: true}
	if code != 0 {
		r.Message = "exit " + f[1] + " (see " + outPath + ")"
		if o, err := os.Open(outPath); err == nil {
			sc := bufio.NewScanner(o)
			for sc.Scan() {
				if _, msg, ok := strings.Cut(sc.Text(), "ERROR: "); ok {
					r.Message = strings.TrimSpace(msg)
				}
			}
			o.Close()
		}
	}
	return r
}

// NewestBackup is the start of the newest backup of the stanza in any
// repository.
func NewestBackup(ctx context.Context, cfg pgconf.UnitConfig) (time.Time, error) {
	cli, err := CLIFor(cfg, cfg.Backup.Stanza)
	if err != nil {
		return time.Time{}, err
	}
	st, err := stanzaInfo(ctx, cli)
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, b := range st.Backups {
		if !b.Error && b.Start.After(newest) {
			newest = b.Start
		}
	}
	return newest, nil
}

// StartScheduledBackup starts the slot's full backup into every
// repository, detached: a shell as postgres, in its own session, runs
// pgbackrest once per repository and writes "<slot> <exit code>" to the
// result file when done. The command line holds paths and names only (the
// credentials are in pgbackrest.conf).
func StartScheduledBackup(cfg pgconf.UnitConfig, slot time.Time) error {
	cli, err := CLIFor(cfg, cfg.Backup.Stanza)
	if err != nil {
		return err
	}
	outPath, resPath := scheduleFiles(cfg)
	var repos []string
	for _, r := range Repos(cfg.Backup) {
		repos = append(repos, strconv.Itoa(r))
	}
	script := `slot=$1; shift; rc=0; : >"$OUT"
for r in "$@"; do
  ` + pgbackrest.Binary + ` --config="$CONF" --stanza="$STANZA" --repo="$r" --type=full --log-level-console=warn backup >>"$OUT" 2>&1 || rc=$?
done
echo "$slot $rc" >"$RES.tmp" && mv -f "$RES.tmp" "$RES"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", slot.UTC().Format(time.RFC3339)}, repos...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/var/lib/postgresql",
		"PGPASSFILE=" + cli.PassFile, "OUT=" + outPath, "RES=" + resPath, "CONF=" + cli.ConfigPath, "STANZA=" + cli.Stanza}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: cli.UID, Gid: cli.GID}}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the scheduled backup: %w", err)
	}
	// Not waited for: it outlives the hook; its result file says how it
	// ended. Release lets the process go without a zombie once the
	// hook exits (init reaps it).
	return cmd.Process.Release()
}
