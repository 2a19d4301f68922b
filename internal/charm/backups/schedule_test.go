package backups

import (
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/cron"
)

func TestDecideSchedule(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v.AddDate(2026, 11, 6)
	}
	every, _ := cron.Parse("* * * * *")
	for _, tc := range []struct {
		name   string
		f      ScheduleFacts
		due    bool
		slot   string
		status string
	}{
		{"a new schedule waits for the slot after it was seen", ScheduleFacts{Seen: at("10:00:30"), Now: at("10:00:50")}, false, "10:01:00", ""},
		{"the slot after it was seen", ScheduleFacts{Seen: at("10:00:30"), Now: at("10:01:02")}, true, "10:01:00", ""},
		{"a backup of the slot is in the repository", ScheduleFacts{Seen: at("10:00:30"), Newest: at("10:01:03"), Now: at("10:01:40")}, false, "10:02:00", ""},
		{"missed slots are caught up once", ScheduleFacts{Seen: at("10:00:30"), Newest: at("10:01:03"), Now: at("10:09:40")}, true, "10:02:00", ""},
		{"not while a backup runs", ScheduleFacts{Seen: at("10:00:30"), Now: at("10:01:02"), Running: true}, false, "10:01:00", ""},
		{"a failed slot is not retried, and shows", ScheduleFacts{Seen: at("10:00:30"), Now: at("10:01:40"),
			Result: ScheduleResult{Slot: at("10:01:00"), Code: 49, Message: "unable to connect", Valid: true}}, false, "10:02:00", "failed: unable to connect"},
		{"the next slot after a failure runs", ScheduleFacts{Seen: at("10:00:30"), Now: at("10:02:01"),
			Result: ScheduleResult{Slot: at("10:01:00"), Code: 49, Message: "unable to connect", Valid: true}}, true, "10:02:00", "failed"},
		{"a backup in another repository does not hide the failure", ScheduleFacts{Seen: at("10:00:30"), Newest: at("10:01:02"), Now: at("10:01:30"),
			Result: ScheduleResult{Slot: at("10:01:00"), Code: 49, Message: "permission denied", Valid: true}}, false, "10:02:00", "permission denied"},
		{"a later scheduled success clears it", ScheduleFacts{Seen: at("10:00:30"), Newest: at("10:02:01"), Now: at("10:02:30"),
			Result: ScheduleResult{Slot: at("10:02:00"), Code: 0, Valid: true}}, false, "10:03:00", ""},
	} {
		due, slot, st := DecideSchedule(every, tc.f)
		if due != tc.due || !slot.Equal(at(tc.slot)) || (tc.status == "") != (st.Level == "") || !strings.Contains(st.Message, tc.status) {
			t.Errorf("%s: due %v slot %s status %q, want %v %s %q", tc.name, due, slot.Format("15:04:05"), st.Message, tc.due, tc.slot, tc.status)
		}
	}
}

func TestDecideRepositorySchedule(t *testing.T) {
	f := Facts{Stanza: "pg-1", Path: "/srv", Schedule: "61 * * * *"}
	if _, st := DecideRepository(f); st.Level != "blocked" || !strings.Contains(st.Message, "invalid backup_schedule") {
		t.Errorf("malformed schedule: %+v", st)
	}
	f = Facts{Stanza: "pg-1", Schedule: "@daily"}
	if _, st := DecideRepository(f); !strings.Contains(st.Message, "no repository") {
		t.Errorf("schedule without a repository: %+v", st)
	}
	f = Facts{Stanza: "pg-1", Path: "/srv", RetentionFull: -1}
	if _, st := DecideRepository(f); !strings.Contains(st.Message, "invalid backup_retention_full") {
		t.Errorf("negative retention: %+v", st)
	}
	f = Facts{Stanza: "pg-1", Path: "/srv", RetentionFull: 3, RetentionDiff: 1, Schedule: "*/5 * * * *"}
	if r, st := DecideRepository(f); st.Level != "" || r.RetentionFull != 3 || r.RetentionDiff != 1 {
		t.Errorf("good options: %+v %+v", r, st)
	}
}
