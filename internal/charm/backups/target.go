package backups

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

// TargetKind is what a restore recovers to.
type TargetKind string

// The restore action's targets, each named by its parameter.
const (
	TargetBackup TargetKind = "backup-id"       // the end of one backup
	TargetTime   TargetKind = "restore-to-time" // a timestamp, or latest
	TargetLSN    TargetKind = "restore-to-lsn"
	TargetXID    TargetKind = "restore-to-xid"
	TargetName   TargetKind = "restore-to-name" // a pg_create_restore_point name
)

var targetParams = []TargetKind{TargetBackup, TargetTime, TargetLSN, TargetXID, TargetName}

// Target is a parsed restore target: exactly one of its fields is set,
// as Kind says.
type Target struct {
	Kind     TargetKind
	BackupID string
	// Time is the target time; Latest: the end of the archive instead.
	Time   time.Time
	Latest bool
	LSN    pgbackrest.LSN
	XID    uint64
	Name   string
	// Repo restricts the restore to one repository's backups (the repo
	// parameter); 0 takes them from any.
	Repo int
}

func (t Target) String() string {
	switch t.Kind {
	case TargetBackup:
		return "the end of backup " + t.BackupID
	case TargetTime:
		if t.Latest {
			return "the end of the archive (latest)"
		}
		return "time " + t.Time.UTC().Format(time.RFC3339Nano)
	case TargetLSN:
		return "LSN " + t.LSN.String()
	case TargetXID:
		return "transaction " + strconv.FormatUint(t.XID, 10)
	case TargetName:
		return "restore point " + strconv.Quote(t.Name)
	}
	return "nothing"
}

// timeLayouts are the accepted timestamp forms; each carries a zone.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999-0700",
}

// ParseTarget reads the restore action's parameters: exactly one target,
// well formed. Errors name the parameter.
func ParseTarget(params map[string]any) (Target, error) {
	var given []TargetKind
	for _, k := range targetParams {
		if v, ok := params[string(k)]; ok && v != nil && fmt.Sprint(v) != "" {
			given = append(given, k)
		}
	}
	sort.Slice(given, func(i, j int) bool { return given[i] < given[j] })
	switch len(given) {
	case 0:
		return Target{}, fmt.Errorf("give one restore target: %s", joinKinds(targetParams))
	case 1:
	default:
		return Target{}, fmt.Errorf("give exactly one restore target, not %s", joinKinds(given))
	}
	k := given[0]
	raw := strings.TrimSpace(fmt.Sprint(params[string(k)]))
	t := Target{Kind: k}
	bad := func(why string) (Target, error) { return Target{}, fmt.Errorf("invalid %s %q: %s", k, raw, why) }
	switch k {
	case TargetBackup:
		if !validLabel(raw) {
			return bad("not a backup id (see list-backups; for example 20261207-204500F)")
		}
		t.BackupID = raw
	case TargetTime:
		if raw == "latest" {
			t.Latest = true
			break
		}
		tm, ok := parseTime(raw)
		if !ok {
			return bad("want a timestamp with a time zone, such as 2026-12-07T20:45:00Z or 2026-12-07 21:45:00+01, or latest")
		}
		t.Time = tm
	case TargetLSN:
		l, err := pgbackrest.ParseLSN(raw)
		if err != nil {
			return bad("want the form 16/B374D848")
		}
		t.LSN = l
	case TargetXID:
		x, err := strconv.ParseUint(raw, 10, 64)
		if err != nil || x < 3 {
			return bad("want a transaction id, a number of at least 3")
		}
		t.XID = x
	case TargetName:
		if err := checkRestorePointName(raw); err != nil {
			return bad(err.Error())
		}
		t.Name = raw
	}
	return t, nil
}

func joinKinds(ks []TargetKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// validLabel: pgBackRest's labels are digits, '-', '_' and F, D, I.
func validLabel(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9') && !strings.ContainsRune("-_FDI", r) {
			return false
		}
	}
	return true
}

// checkRestorePointName: a restore point name is at most 63 bytes
// (MAXFNAMELEN - 1); quotes, backslashes and control characters are
// refused because the name goes into postgresql.auto.conf.
func checkRestorePointName(s string) error {
	if s == "" || len(s) > 63 {
		return errors.New("a restore point name has 1 to 63 bytes")
	}
	for _, r := range s {
		if r == '\'' || r == '\\' || r == '"' || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return errors.New("quotes, backslashes and control characters are not accepted")
		}
	}
	return nil
}
