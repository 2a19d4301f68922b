package observer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
)

func TestWatcherFiresOnceARoleChangesAndRetriesAFailure(t *testing.T) {
	roles := []string{"replica", "", "replica", "primary", "primary", "replica", "replica"}
	fails := map[int]bool{5: true} // the second change fails once
	var fired []int
	var log strings.Builder
	i := 0
	w := &watcher{clk: clock.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), log: &log, unit: "pg/0",
		read: func() string { return roles[i] },
		fire: func() error {
			fired = append(fired, i)
			if fails[i] {
				return errors.New("juju-exec: machine lock held")
			}
			return nil
		}}
	for i = range roles {
		w.look()
	}
	// Look 3 sees primary (fired); look 5 sees replica (fails), look 6
	// still replica: tried again. An unanswered look (1) changes nothing.
	if want := []int{3, 5, 6}; len(fired) != len(want) || fired[0] != 3 || fired[1] != 5 || fired[2] != 6 {
		t.Errorf("fired at looks %v, want %v", fired, want)
	}
	if !strings.Contains(log.String(), "2026-12-07T00:00:00Z observe: pg/0 role replica -> primary: running role-changed") ||
		!strings.Contains(log.String(), "machine lock held") {
		t.Errorf("log:\n%s", log.String())
	}
}
