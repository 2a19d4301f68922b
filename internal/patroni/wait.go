package patroni

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
)

// pollInterval is how often the waits ask the local REST API again: it
// answers in about a millisecond, and Patroni's loop runs every 10 s.
const pollInterval = 200 * time.Millisecond

// WaitMemberRunning polls until /cluster shows member with PostgreSQL
// running, or timeout passes on clk. It returns the last /patroni answer
// (nil when Patroni never answered both), so a caller can tell "not up
// yet" from "not answering".
func WaitMemberRunning(ctx context.Context, clk clock.Clock, api *Client, member string, timeout time.Duration) *NodeStatus {
	var last *NodeStatus
	clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		cl, err := api.Cluster(ctx)
		st, err2 := api.Patroni(ctx)
		if err != nil || err2 != nil {
			return false
		}
		last = &st
		for _, m := range cl.Members {
			if m.Name == member && m.State == StateRunning {
				return true
			}
		}
		return false
	})
	return last
}

// RestartWhenPending restarts PostgreSQL once Patroni reports the restart
// pending, or after wait regardless. Patroni applies a reload (and a DCS
// change) in its next HA loop, not during the request, so a restart sent
// at once could run before the new settings are in postgresql.conf.
func RestartWhenPending(ctx context.Context, clk clock.Clock, api *Client, wait time.Duration) error {
	clock.Poll(ctx, clk, wait, pollInterval, func() bool {
		st, err := api.Patroni(ctx)
		return err == nil && st.PendingRestart
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	// Patroni may answer later than the client's timeout while the
	// restart goes on: poll for the outcome (RestartAndWait).
	return RestartAndWait(ctx, clk, api, RestartTimeout, nil)
}

// WaitTag waits until this member reports tag = want in its loaded tags
// (it has reloaded a patroni.yml that sets it).
func WaitTag(ctx context.Context, clk clock.Clock, api *Client, tag, want string, timeout time.Duration) error {
	var got string
	var lastErr error
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		st, err := api.Patroni(ctx)
		got, lastErr = st.Tag(tag), err
		return err == nil && got == want
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("Patroni did not load tag %s = %q within %s (it has %q; last error: %v)", tag, want, timeout, got, lastErr)
}

// WaitLeader waits until /cluster names a leader: Patroni reads /cluster
// from its DCS, so an answer means it reaches (and authenticates to) etcd.
func WaitLeader(ctx context.Context, clk clock.Clock, api *Client, timeout time.Duration) error {
	lastErr := errors.New("no answer")
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		cl, err := api.Cluster(ctx)
		if err != nil {
			lastErr = err
			return false
		}
		if _, ok := cl.Leader(); !ok {
			lastErr = errors.New("no leader in the cluster")
			return false
		}
		return true
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return lastErr
}

// WaitNotLeader waits until member no longer leads the cluster (after a
// switchover away from it); false when it still does after timeout.
func WaitNotLeader(ctx context.Context, clk clock.Clock, api *Client, member string, timeout time.Duration) bool {
	return clock.Poll(ctx, clk, timeout, 500*time.Millisecond, func() bool {
		cl, err := api.Cluster(ctx)
		if err != nil {
			return false
		}
		l, ok := cl.Leader()
		return ok && l.Name != member
	})
}

// Deadlines of the slow operations the actions ask Patroni for. Each
// covers Patroni's own wait plus a loaded machine: a restart is a
// checkpoint, a stop and a start; a switchover is Patroni's demote and
// promote (1.5 s measured, DESIGN §10) plus a loop or two of the new
// leader; a reinitialise copies the whole data directory.
const (
	RestartTimeout      = 3 * time.Minute
	SwitchoverTimeout   = 2 * time.Minute
	ReinitializeTimeout = 30 * time.Minute
	// StreamingTimeout bounds a replica's return to streaming after a
	// restart or a rejoin (pg_rewind included).
	StreamingTimeout = 5 * time.Minute
	// PauseTimeout bounds every member seeing maintenance mode change:
	// each reads the DCS in its next loop (loop_wait 2 s).
	PauseTimeout = time.Minute
)

// Progress receives a line about a long wait (the action's log); nil
// drops them.
type Progress func(msg string)

func (p Progress) say(format string, args ...any) {
	if p != nil {
		p(fmt.Sprintf(format, args...))
	}
}

// RestartAndWait restarts PostgreSQL on this member and waits until it
// runs again with a new postmaster start time. Patroni answers /restart
// only once the restart is over; when that takes longer than the HTTP
// timeout the request fails with a timeout although the restart goes on,
// so a timed-out request is not a failure: the outcome is what the poll
// sees before the deadline.
func RestartAndWait(ctx context.Context, clk clock.Clock, api *Client, timeout time.Duration, progress Progress) error {
	before, err := api.Patroni(ctx)
	if err != nil {
		return err
	}
	progress.say("restarting PostgreSQL (started %s)", before.PostmasterStartTime)
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Patroni refuses a restart while its own task (a demote after a
	// switchover, a bootstrap) runs: wait for it to finish.
	clock.Poll(rctx, clk, timeout, time.Second, func() bool {
		err = api.WithTimeout(timeout).Restart(rctx)
		var se *StatusError
		if errors.As(err, &se) && se.Code == 503 && strings.Contains(se.Body, "in progress") {
			progress.say("Patroni is busy (%s); asking again", strings.TrimSpace(se.Body))
			return false
		}
		return true
	})
	switch {
	case err == nil:
	case IsTimeout(err):
		progress.say("Patroni has not answered yet; polling for the restart's outcome")
	default:
		return err
	}
	return WaitRestarted(ctx, clk, api, before.PostmasterStartTime, timeout)
}

// WaitRestarted waits until this member's PostgreSQL runs with a
// postmaster start time other than before.
func WaitRestarted(ctx context.Context, clk clock.Clock, api *Client, before string, timeout time.Duration) error {
	var last NodeStatus
	var lastErr error
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		last, lastErr = api.Patroni(ctx)
		return lastErr == nil && last.State.Up() && last.PostmasterStartTime != "" && last.PostmasterStartTime != before
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("PostgreSQL did not come back within %s (state %q, last error: %v)", timeout, last.State, lastErr)
}

// WaitLeaderIs waits until /cluster names member as the running leader.
func WaitLeaderIs(ctx context.Context, clk clock.Clock, api *Client, member string, timeout time.Duration) error {
	why := "no answer"
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		cl, err := api.Cluster(ctx)
		if err != nil {
			why = err.Error()
			return false
		}
		l, ok := cl.Leader()
		switch {
		case !ok:
			why = "no leader"
		case l.Name != member:
			why = "the leader is " + l.Name
		case l.State != StateRunning:
			why = fmt.Sprintf("%s leads but PostgreSQL is %s", member, l.State)
		default:
			return true
		}
		return false
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s did not become the primary within %s: %s", member, timeout, why)
}

// WaitStreaming waits until the leader's pg_stat_replication shows
// member streaming (Patroni 3.0.2's /cluster says "running" for a
// replica whether or not it receives WAL, so the primary's view is the
// one to trust). The leader is found through /cluster and asked at its
// api_url, with this client's credentials.
func WaitStreaming(ctx context.Context, clk clock.Clock, api *Client, member string, timeout time.Duration) error {
	why := "no answer"
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		why = streaming(ctx, api, member)
		return why == ""
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s was not streaming within %s: %s", member, timeout, why)
}

// streaming is "" when member streams from the leader, or why not.
func streaming(ctx context.Context, api *Client, member string) string {
	cl, err := api.Cluster(ctx)
	if err != nil {
		return err.Error()
	}
	l, ok := cl.Leader()
	switch {
	case !ok:
		return "no leader"
	case l.Name == member:
		return member + " leads the cluster"
	}
	st, err := api.At(l.APIURL).Patroni(ctx)
	if err != nil {
		return err.Error()
	}
	for _, w := range st.Replication {
		if w.ApplicationName == member && w.State == "streaming" {
			return ""
		}
	}
	return fmt.Sprintf("the primary %s lists no streaming WAL sender for %s", l.Name, member)
}

// IsStreaming reports whether member streams from the leader now; why
// says why not.
func IsStreaming(ctx context.Context, api *Client, member string) (ok bool, why string) {
	why = streaming(ctx, api, member)
	return why == "", why
}

// WaitPaused waits until /cluster reports maintenance mode as paused.
func WaitPaused(ctx context.Context, clk clock.Clock, api *Client, paused bool, timeout time.Duration) error {
	if clock.Poll(ctx, clk, timeout, pollInterval, func() bool {
		cl, err := api.Cluster(ctx)
		return err == nil && cl.Paused == paused
	}) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("Patroni did not report pause = %v within %s", paused, timeout)
}
