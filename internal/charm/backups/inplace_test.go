package backups

import (
	"testing"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// want is InPlace without the request and the status's message.
type want struct {
	Stop, Hold, Restore, Rejoin bool
	Status                      juju.StatusLevel
}

func TestDecideInPlace(t *testing.T) {
	req := func(phase string) *Request {
		return &Request{ID: "pg-1-r1", Stanza: "pg-1", Target: "restore point \"x\"", Phase: phase}
	}
	peers := []string{"pg/1", "pg/2"}
	for _, tc := range []struct {
		name   string
		facts  Facts
		leader bool
		want   want
	}{
		{name: "no request: nothing to do", facts: Facts{}, want: want{}},
		{name: "a replica stops and holds", facts: Facts{Request: req(PhaseStopping)},
			want: want{Stop: true, Hold: true, Status: juju.StatusMaintenance}},
		{name: "a stopped replica holds without stopping again",
			facts: Facts{Request: req(PhaseStopping), Marks: Marks{SelfStopped: "pg-1-r1"}},
			want:  want{Hold: true, Status: juju.StatusMaintenance}},
		{name: "the leader stops and waits for a peer still running", leader: true,
			facts: Facts{Request: req(PhaseStopping), Marks: Marks{PeerUnits: peers, Stopped: map[string]string{"pg/1": "pg-1-r1", "pg/2": "pg-0-r0"}}},
			want:  want{Stop: true, Hold: true, Status: juju.StatusMaintenance}},
		{name: "the leader restores once every peer has stopped for this request", leader: true,
			facts: Facts{Request: req(PhaseStopping), Marks: Marks{PeerUnits: peers, SelfStopped: "pg-1-r1",
				Stopped: map[string]string{"pg/1": "pg-1-r1", "pg/2": "pg-1-r1"}}},
			want: want{Restore: true}},
		{name: "the leader does not restore twice in one hook", leader: true,
			facts: Facts{Request: req(PhaseStopping), BackupPending: "pg-1-r1", Marks: Marks{PeerUnits: peers, SelfStopped: "pg-1-r1",
				Stopped: map[string]string{"pg/1": "pg-1-r1", "pg/2": "pg-1-r1"}}},
			want: want{}},
		{name: "a replica re-clones after the restore", facts: Facts{Request: req(PhaseRestored), Marks: Marks{SelfStopped: "pg-1-r1"}},
			want: want{Rejoin: true}},
		{name: "a replica that re-cloned runs as usual",
			facts: Facts{Request: req(PhaseRestored), Marks: Marks{SelfStopped: "pg-1-r1", SelfRejoined: "pg-1-r1"}},
			want:  want{}},
		{name: "the leader runs as usual after the restore", leader: true, facts: Facts{Request: req(PhaseRestored)}, want: want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideInPlace(tc.facts, tc.leader)
			if got.Stop != tc.want.Stop || got.Hold != tc.want.Hold || got.Restore != tc.want.Restore || got.Rejoin != tc.want.Rejoin ||
				got.Status.Level != tc.want.Status {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBusy(t *testing.T) {
	r := &Request{ID: "pg-1-r1", Stanza: "pg-1", Target: "latest", Phase: PhaseRestored}
	f := Facts{Request: r, Marks: Marks{PeerUnits: []string{"pg/1"}, Stopped: map[string]string{"pg/1": "pg-1-r1"}}}
	if Busy(f) == "" {
		t.Error("a peer that has not re-cloned must keep a new restore out")
	}
	f.Marks.Rejoined = map[string]string{"pg/1": "pg-1-r1"}
	if got := Busy(f); got != "" {
		t.Errorf("Busy after every unit re-cloned: %q", got)
	}
	f.Request = &Request{ID: "pg-1-r2", Stanza: "pg-1", Target: "latest", Phase: PhaseStopping}
	if Busy(f) == "" {
		t.Error("a stopping restore must keep a new restore out")
	}
	if ParseRequest(`{"id":"../x","stanza":"pg-1"}`) != nil {
		t.Error("a request with an invalid id must be ignored")
	}
}
