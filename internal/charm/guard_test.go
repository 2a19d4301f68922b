package charm

import (
	"slices"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"

	"github.com/pgjuju/pgjuju/internal/juju"
)

func TestLeaderGuardHarness(t *testing.T) {
	h, st := newHarness(t)
	st = h.run(st, h.ch.Hook("update-status"))
	if st.StoredState[string(leaderDownKey)] != "" {
		t.Fatalf("healthy leader remembered as down: %v", st.StoredState)
	}
	h.wl.setState("start failed")
	h.wl.calls = nil
	st = h.run(st, h.ch.Hook("update-status"))
	since, err := time.Parse(time.RFC3339, st.StoredState[string(leaderDownKey)])
	if err != nil || !since.Equal(h.clk.Now().Truncate(time.Second)) || len(h.wl.calls) != 0 || st.UnitStatus != juju.Waiting("PostgreSQL is start failed") {
		t.Fatalf("first sight: remembered %q (%v), calls %v, status %v", st.StoredState[string(leaderDownKey)], err, h.wl.calls, st.UnitStatus)
	}
	// Another hook within the grace: no restart.
	h.clk.Advance(cluster.LeaderGuardGrace / 2)
	st = h.run(st, h.ch.Hook("update-status"))
	if len(h.wl.calls) != 0 || st.StoredState[string(leaderDownKey)] != since.Format(time.RFC3339) {
		t.Fatalf("within the grace: calls %v, remembered %q", h.wl.calls, st.StoredState[string(leaderDownKey)])
	}
	// Long after: Patroni is restarted and the memory cleared.
	h.clk.Advance(cluster.LeaderGuardGrace / 2)
	st = h.run(st, h.ch.Hook("update-status"))
	if !slices.Equal(h.wl.calls, []string{"restart patroni"}) || st.StoredState[string(leaderDownKey)] != "" ||
		st.UnitStatus.Level != juju.StatusMaintenance {
		t.Errorf("after the grace: calls %v, remembered %q, status %v", h.wl.calls, st.StoredState[string(leaderDownKey)], st.UnitStatus)
	}
	// Other hooks never restart Patroni.
	h.wl.calls = nil
	st.StoredState[string(leaderDownKey)] = since.Add(-time.Hour).Format(time.RFC3339)
	h.run(st, h.ch.Hook("config-changed"))
	if len(h.wl.calls) != 0 {
		t.Errorf("config-changed: %v", h.wl.calls)
	}
}
