package backups

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

// Position is the running primary's position when a restore is asked
// for: its current WAL position and next transaction id, and the time.
// Nothing later can be a target.
type Position struct {
	LSN     pgbackrest.LSN
	NextXID uint64
	Now     time.Time
}

// RestorePlan is what a restore runs: pgBackRest's options and the
// backup it starts from, with the reason for the choice.
type RestorePlan struct {
	Target  Target
	Options pgbackrest.RestoreOptions
	Backup  pgbackrest.Backup
	Reason  string
}

// DecideRestore checks t against the stanza's backups and the primary's
// position and picks the backup to restore: the newest one that ends
// before the target (recovery must reach a consistent point before it
// can stop). A target outside what the backups and the archive can reach
// is refused with the reason, before anything is stopped. It is pure.
func DecideRestore(t Target, st pgbackrest.Stanza, pos Position) (RestorePlan, error) {
	backups := st.CurrentBackups()
	if len(backups) == 0 {
		return RestorePlan{}, fmt.Errorf("stanza %s has no backup to restore: run create-backup first", st.Name)
	}
	first, last := backups[0], backups[len(backups)-1]
	p := RestorePlan{Target: t}
	switch t.Kind {
	case TargetBackup:
		for _, b := range backups {
			if b.Label == t.BackupID {
				p.Backup = b
				p.Options = pgbackrest.RestoreOptions{Set: b.Label, Type: "immediate"}
				p.Reason = "recovery stops at the end of backup " + b.Label
				return p, nil
			}
		}
		return RestorePlan{}, fmt.Errorf("backup-id %s is not a backup of stanza %s (list-backups shows them)", t.BackupID, st.Name)
	case TargetTime:
		if t.Latest {
			p.Backup = last
			p.Options = pgbackrest.RestoreOptions{Set: last.Label, Type: "default"}
			p.Reason = "the newest backup, then every archived segment"
			return p, nil
		}
		switch {
		case !t.Time.After(first.Stop):
			return RestorePlan{}, fmt.Errorf("restore-to-time %s is outside the archive: the earliest point it can reach is after %s, the end of the earliest backup %s",
				t.Time.UTC().Format(time.RFC3339), first.Stop.Format(time.RFC3339), first.Label)
		case t.Time.After(pos.Now):
			return RestorePlan{}, fmt.Errorf("restore-to-time %s is in the future (now %s)", t.Time.UTC().Format(time.RFC3339), pos.Now.UTC().Format(time.RFC3339))
		}
		for _, b := range backups {
			if b.Stop.Before(t.Time) {
				p.Backup = b
			}
		}
		p.Options = pgbackrest.RestoreOptions{Set: p.Backup.Label, Type: "time", Target: t.Time.UTC().Format("2006-01-02 15:04:05.999999") + "+00"}
		p.Reason = "backup " + p.Backup.Label + " is the newest that ends before the target"
		return p, nil
	case TargetLSN:
		switch {
		case t.LSN < first.StopLSN:
			return RestorePlan{}, fmt.Errorf("restore-to-lsn %s is outside the archive: the earliest point it can reach is %s, the end of the earliest backup %s",
				t.LSN, first.StopLSN, first.Label)
		case t.LSN > pos.LSN:
			return RestorePlan{}, fmt.Errorf("restore-to-lsn %s is beyond the primary's current WAL position %s", t.LSN, pos.LSN)
		}
		for _, b := range backups {
			if b.StopLSN <= t.LSN {
				p.Backup = b
			}
		}
		p.Options = pgbackrest.RestoreOptions{Set: p.Backup.Label, Type: "lsn", Target: t.LSN.String()}
		p.Reason = "backup " + p.Backup.Label + " is the newest that ends before the target"
		return p, nil
	case TargetXID:
		if pos.NextXID != 0 && t.XID >= pos.NextXID {
			return RestorePlan{}, fmt.Errorf("restore-to-xid %d has not been assigned yet (the next transaction id is %d)", t.XID, pos.NextXID)
		}
		// Where a transaction committed is not known before replaying:
		// start from the earliest backup, which reaches every target
		// the archive holds.
		p.Backup = first
		p.Options = pgbackrest.RestoreOptions{Set: first.Label, Type: "xid", Target: strconv.FormatUint(t.XID, 10)}
		p.Reason = "the earliest backup: the transaction's commit time is not known before replay"
		return p, nil
	case TargetName:
		p.Backup = first
		p.Options = pgbackrest.RestoreOptions{Set: first.Label, Type: "name", Target: t.Name}
		p.Reason = "the earliest backup: where a restore point lies is not known before replay"
		return p, nil
	}
	return RestorePlan{}, fmt.Errorf("no restore target")
}

// BackupTypes maps the create-backup action's type parameter to
// pgBackRest's.
var BackupTypes = map[string]string{"full": "full", "differential": "diff", "incremental": "incr"}

// DecideBackupType is the pgBackRest backup type for the create-backup
// action's type parameter: incremental by default, full when the stanza
// has no backup yet (an incremental needs one to build on).
func DecideBackupType(requested string, hasBackup bool) (typ, reason string, err error) {
	if requested == "" {
		requested = "incremental"
	}
	typ, ok := BackupTypes[requested]
	if !ok {
		return "", "", fmt.Errorf("invalid type %q: want full, differential or incremental", requested)
	}
	if !hasBackup && typ != "full" {
		return "full", "no backup exists yet: the first one is full", nil
	}
	return typ, "", nil
}
