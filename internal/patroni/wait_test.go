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

// slowRestartServer is a Patroni whose /restart restarts PostgreSQL at
// once (a new postmaster start time) but answers only after hold, as
// Patroni does on a loaded machine.
func slowRestartServer(t *testing.T, hold time.Duration) *Client {
	var restarted atomic.Bool
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/patroni":
			start := "2026-12-07 20:00:00+00:00"
			if restarted.Load() {
				start = "2026-12-07 20:05:00+00:00"
			}
			json.NewEncoder(w).Encode(NodeStatus{State: StateRunning, Role: RoleMaster, PostmasterStartTime: start})
		case "/restart":
			restarted.Store(true)
			select {
			case <-time.After(hold):
			case <-r.Context().Done():
			case <-done:
			}
			w.Write([]byte("restarted successfully"))
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return &Client{BaseURL: srv.URL, HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
}

// TestRestartAndWaitOutlivesTheHTTPTimeout: the restart action's bug
// (issue 10): Patroni answering /restart later than the client's timeout
// failed the action with "context deadline exceeded" although the
// restart went on. The plain request still times out; RestartAndWait
// polls for the new start time instead.
func TestRestartAndWaitOutlivesTheHTTPTimeout(t *testing.T) {
	api := slowRestartServer(t, 10*time.Second)
	if err := api.Restart(context.Background()); err == nil || !IsTimeout(err) {
		t.Fatalf("plain Restart: %v, want the timeout the action used to fail with", err)
	}
	api = slowRestartServer(t, 10*time.Second)
	var said []string
	err := RestartAndWait(context.Background(), clock.Real{}, api, 500*time.Millisecond, func(m string) { said = append(said, m) })
	if err != nil {
		t.Fatalf("RestartAndWait: %v", err)
	}
	if !strings.Contains(strings.Join(said, "\n"), "polling") {
		t.Errorf("progress %q does not say it polls for the outcome", said)
	}
}

// TestRestartAndWaitFailsWhenNothingRestarts: a restart that never shows
// (the start time stays) fails at the deadline.
func TestRestartAndWaitFailsWhenNothingRestarts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(NodeStatus{State: StateRunning, Role: RoleMaster, PostmasterStartTime: "same"})
	}))
	t.Cleanup(srv.Close)
	err := RestartAndWait(context.Background(), clock.NewFake(epoch), &Client{BaseURL: srv.URL}, time.Minute, nil)
	if err == nil || !strings.Contains(err.Error(), "did not come back") {
		t.Fatalf("got %v", err)
	}
}

// TestRestartWhenPendingOutlivesTheHTTPTimeout: the pass's restart step
// (config-changed applying max_connections) failed the hook with
// "context deadline exceeded" when Patroni's /restart answered after the
// client's timeout although the restart went on (seen in tests/charm on
// a loaded machine). It failed before the fix.
func TestRestartWhenPendingOutlivesTheHTTPTimeout(t *testing.T) {
	api := slowRestartServer(t, time.Second)
	if err := RestartWhenPending(context.Background(), clock.Real{}, api, 10*time.Millisecond); err != nil {
		t.Fatalf("RestartWhenPending: %v", err)
	}
}
