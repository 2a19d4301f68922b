package backups

import (
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  map[string]any
		want    Target
		wantErr string
	}{
		{name: "a backup id", params: map[string]any{"backup-id": "20261207-204500F_20261207-204600I"},
			want: Target{Kind: TargetBackup, BackupID: "20261207-204500F_20261207-204600I"}},
		{name: "a time in UTC", params: map[string]any{"restore-to-time": "2026-12-07T20:45:00Z"},
			want: Target{Kind: TargetTime, Time: time.Date(2026, 12, 7, 20, 45, 0, 0, time.UTC)}},
		{name: "a time in PostgreSQL's form with a zone", params: map[string]any{"restore-to-time": "2026-12-07 21:45:00.5+01"},
			want: Target{Kind: TargetTime, Time: time.Date(2026, 12, 7, 20, 45, 0, 5e8, time.UTC)}},
		{name: "latest", params: map[string]any{"restore-to-time": "latest"}, want: Target{Kind: TargetTime, Latest: true}},
		{name: "an LSN", params: map[string]any{"restore-to-lsn": "0/3000060"}, want: Target{Kind: TargetLSN, LSN: 0x3000060}},
		{name: "an xid", params: map[string]any{"restore-to-xid": "742"}, want: Target{Kind: TargetXID, XID: 742}},
		{name: "a restore point", params: map[string]any{"restore-to-name": "before drop"}, want: Target{Kind: TargetName, Name: "before drop"}},
		{name: "empty parameters count as not given", params: map[string]any{"restore-to-name": "x", "backup-id": ""},
			want: Target{Kind: TargetName, Name: "x"}},
		{name: "no target", params: map[string]any{}, wantErr: "give one restore target"},
		{name: "two targets", params: map[string]any{"restore-to-lsn": "0/1", "restore-to-time": "latest"},
			wantErr: "give exactly one restore target, not restore-to-lsn, restore-to-time"},
		{name: "a time without a zone", params: map[string]any{"restore-to-time": "2026-12-07 20:45:00"},
			wantErr: `invalid restore-to-time "2026-12-07 20:45:00": want a timestamp with a time zone`},
		{name: "a malformed LSN", params: map[string]any{"restore-to-lsn": "3000060"}, wantErr: "invalid restore-to-lsn"},
		{name: "a negative xid", params: map[string]any{"restore-to-xid": "-5"}, wantErr: "invalid restore-to-xid"},
		{name: "a name with a quote", params: map[string]any{"restore-to-name": "a'b"}, wantErr: "invalid restore-to-name"},
		{name: "a name too long", params: map[string]any{"restore-to-name": strings.Repeat("x", 64)}, wantErr: "1 to 63 bytes"},
		{name: "a backup id with other characters", params: map[string]any{"backup-id": "../../etc/passwd"}, wantErr: "invalid backup-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTarget(tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.want.Time) {
				t.Fatalf("time %v, want %v", got.Time, tc.want.Time)
			}
			got.Time, tc.want.Time = time.Time{}, time.Time{}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
