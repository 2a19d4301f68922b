package cron

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ line, from, want string }{
		{"* * * * *", "2026-12-07 23:25", "2026-12-07 23:26"},
		{"*/15 * * * *", "2026-12-07 23:25", "2026-12-07 23:30"},
		{"0 2 * * *", "2026-12-07 23:25", "2026-12-08 02:00"},
		{"30 1 * * sun", "2026-12-07 23:25", "2026-12-13 01:30"}, // the 7th is a Monday
		{"0 0 1 jan *", "2026-12-07 23:25", "2027-01-01 00:00"},
		{"0 0 13 * 5", "2026-12-07 23:25", "2026-12-11 00:00"}, // Friday the 11th: either day field
		{"5-10/5 3 * * *", "2026-12-07 03:05", "2026-12-07 03:10"},
		{"@hourly", "2026-12-07 23:25", "2026-12-08 00:00"},
		{"0 0 * * 7", "2026-12-07 23:25", "2026-12-13 00:00"},
	} {
		s, err := Parse(tc.line)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.line, err)
			continue
		}
		if got := s.Next(at(tc.from)); !got.Equal(at(tc.want)) {
			t.Errorf("%q after %s: %s, want %s", tc.line, tc.from, got.Format("2006-01-02 15:04"), tc.want)
		}
	}
	s, _ := Parse("0 0 31 2 *")
	if !s.Next(at("2026-12-07 23:25")).IsZero() {
		t.Error("February 31st must never fire")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"* * * *", "want 5 fields"},
		{"60 * * * *", "minute field"},
		{"* 24 * * *", "hour field"},
		{"* * 0 * *", "day of month field"},
		{"* * * 13 *", "month field"},
		{"* * * * 8", "day of week field"},
		{"*/0 * * * *", "bad step"},
		{"5-1 * * * *", "ends before"},
		{"a * * * *", "not a number"},
		{"1,,2 * * * *", "empty item"},
	} {
		if _, err := Parse(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want an error saying %q", tc.line, err, tc.want)
		}
	}
}
