package backups

import (
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

func TestDecideRestore(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 12, 7, 20, m, 0, 0, time.UTC) }
	st := pgbackrest.Stanza{Name: "pg-1234abcd", DBID: 1, Backups: []pgbackrest.Backup{
		{Label: "20261207-200000F", Type: "full", Stop: at(1), StopLSN: 0x3000100, DBID: 1},
		{Label: "20261207-200000F_20261207-201000I", Type: "incr", Stop: at(11), StopLSN: 0x5000100, DBID: 1},
		{Label: "20261207-150000F", Type: "full", Stop: at(0), StopLSN: 0x1000100, DBID: 1, Error: true},
	}}
	pos := Position{LSN: 0x6000000, NextXID: 900, Now: at(30)}
	for _, tc := range []struct {
		name    string
		target  Target
		st      pgbackrest.Stanza
		want    pgbackrest.RestoreOptions
		wantErr string
	}{
		{name: "a time between the backups starts from the full one", target: Target{Kind: TargetTime, Time: at(5)},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F", Type: "time", Target: "2026-12-07 20:05:00+00"}},
		{name: "a time after both starts from the incremental", target: Target{Kind: TargetTime, Time: at(20)},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F_20261207-201000I", Type: "time", Target: "2026-12-07 20:20:00+00"}},
		{name: "a time before the earliest backup ends is outside the archive", target: Target{Kind: TargetTime, Time: at(1)},
			wantErr: "outside the archive"},
		{name: "a time in the future is refused", target: Target{Kind: TargetTime, Time: at(31)}, wantErr: "in the future"},
		{name: "latest restores the newest backup and the whole archive", target: Target{Kind: TargetTime, Latest: true},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F_20261207-201000I", Type: "default"}},
		{name: "a backup id stops at its end", target: Target{Kind: TargetBackup, BackupID: "20261207-200000F"},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F", Type: "immediate"}},
		{name: "an unknown backup id is refused", target: Target{Kind: TargetBackup, BackupID: "20261207-150000F"},
			wantErr: "is not a backup of stanza pg-1234abcd"},
		{name: "an LSN after the full backup", target: Target{Kind: TargetLSN, LSN: 0x4000000},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F", Type: "lsn", Target: "0/4000000"}},
		{name: "an LSN before the earliest backup ends", target: Target{Kind: TargetLSN, LSN: 0x3000000}, wantErr: "outside the archive"},
		{name: "an LSN beyond the primary's", target: Target{Kind: TargetLSN, LSN: 0x7000000}, wantErr: "beyond the primary's current WAL position 0/6000000"},
		{name: "an xid starts from the earliest backup", target: Target{Kind: TargetXID, XID: 800},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F", Type: "xid", Target: "800"}},
		{name: "an xid not assigned yet", target: Target{Kind: TargetXID, XID: 900}, wantErr: "has not been assigned yet"},
		{name: "a restore point starts from the earliest backup", target: Target{Kind: TargetName, Name: "before"},
			want: pgbackrest.RestoreOptions{Set: "20261207-200000F", Type: "name", Target: "before"}},
		{name: "no backup", target: Target{Kind: TargetName, Name: "before"}, st: pgbackrest.Stanza{Name: "x", DBID: 1},
			wantErr: "has no backup to restore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := st
			if tc.st.Name != "" {
				s = tc.st
			}
			got, err := DecideRestore(tc.target, s, pos)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Options != tc.want {
				t.Fatalf("options %+v, want %+v", got.Options, tc.want)
			}
		})
	}
}

func TestDecideBackupType(t *testing.T) {
	for _, tc := range []struct {
		requested string
		has       bool
		want      string
		wantErr   bool
	}{
		{"", true, "incr", false},
		{"", false, "full", false},
		{"differential", true, "diff", false},
		{"incremental", false, "full", false},
		{"full", true, "full", false},
		{"weekly", true, "", true},
	} {
		got, _, err := DecideBackupType(tc.requested, tc.has)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("DecideBackupType(%q, %v) = %q, %v; want %q (error %v)", tc.requested, tc.has, got, err, tc.want, tc.wantErr)
		}
	}
}
