package patroni

import (
	"context"
	"errors"
	"fmt"
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
	return api.Restart(ctx)
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
