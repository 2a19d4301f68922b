package patroni

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
)

// waitServer is a Patroni REST API whose member "pg-0" reports state
// (and the tag gen = "2") from the given /cluster call on.
func waitServer(t *testing.T, upFrom int32) (*Client, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := calls.Load() >= upFrom
		switch r.URL.Path {
		case "/cluster":
			n := calls.Add(1)
			st := State("starting")
			if n > upFrom {
				st = StateRunning
			}
			json.NewEncoder(w).Encode(Cluster{Members: []Member{{Name: "pg-0", Role: RoleLeader, State: st}}})
		case "/patroni":
			ns := NodeStatus{State: StateRunning, Role: RoleMaster}
			if up {
				ns.Tags = map[string]any{"gen": "2"}
			}
			json.NewEncoder(w).Encode(ns)
		case "/restart":
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL}, &calls
}

var epoch = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func TestWaitMemberRunningPollsOnTheInjectedClock(t *testing.T) {
	api, calls := waitServer(t, 3)
	clk := clock.NewFake(epoch)
	st := WaitMemberRunning(context.Background(), clk, api, "pg-0", time.Minute)
	if st == nil || calls.Load() != 4 {
		t.Fatalf("got %v after %d looks, want an answer after 4", st, calls.Load())
	}
	if waited := clk.Now().Sub(epoch); waited != 3*pollInterval {
		t.Errorf("waited %s on the clock, want %s", waited, 3*pollInterval)
	}
}

func TestWaitMemberRunningGivesUpAtTheTimeout(t *testing.T) {
	api, _ := waitServer(t, 1<<30)
	clk := clock.NewFake(epoch)
	start := time.Now()
	st := WaitMemberRunning(context.Background(), clk, api, "pg-0", time.Minute)
	if st == nil {
		t.Fatal("Patroni answered, yet no status came back")
	}
	if clk.Now().Sub(epoch) != time.Minute {
		t.Errorf("the clock moved %s, want 1m", clk.Now().Sub(epoch))
	}
	if real := time.Since(start); real > 30*time.Second {
		t.Errorf("a one-minute wait on the fake clock took %s of real time", real)
	}
}

func TestWaitTagNamesWhatItWaitedFor(t *testing.T) {
	api, _ := waitServer(t, 1<<30)
	err := WaitTag(context.Background(), clock.NewFake(epoch), api, "gen", "2", time.Minute)
	if err == nil || !strings.Contains(err.Error(), `tag gen = "2"`) {
		t.Fatalf("err = %v, want one naming the tag", err)
	}
	api, _ = waitServer(t, 0)
	if err := WaitTag(context.Background(), clock.NewFake(epoch), api, "gen", "2", time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestWaitLeaderAndNotLeader(t *testing.T) {
	api, _ := waitServer(t, 0)
	if err := WaitLeader(context.Background(), clock.NewFake(epoch), api, time.Second); err != nil {
		t.Fatal(err)
	}
	if WaitNotLeader(context.Background(), clock.NewFake(epoch), api, "pg-0", time.Minute) {
		t.Error("pg-0 still leads, yet WaitNotLeader reported it does not")
	}
	if !WaitNotLeader(context.Background(), clock.NewFake(epoch), api, "pg-1", time.Minute) {
		t.Error("pg-1 does not lead, yet WaitNotLeader waited in vain")
	}
}
