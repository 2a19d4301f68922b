package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
)

// retryInterval is how long the membership retries wait between tries.
const retryInterval = 500 * time.Millisecond

// transientAnswers are etcd answers that pass within seconds: right after
// a member started, was promoted or left, etcd 3.4 calls the cluster
// unhealthy or elects a new raft leader.
var transientAnswers = []string{"unhealthy cluster", "leader changed", "no leader", "request timed out"}

// IsTransient reports whether err is one of etcd's passing answers.
func IsTransient(err error) bool {
	return err != nil && slices.ContainsFunc(transientAnswers, func(s string) bool { return strings.Contains(err.Error(), s) })
}

// RetryTransient calls f until it succeeds, fails with an error that is
// not transient, or ctx ends (f's last error is returned then).
func RetryTransient(ctx context.Context, clk clock.Clock, f func() error) error {
	for {
		err := f()
		if !IsTransient(err) {
			return err
		}
		if clock.Sleep(ctx, clk, retryInterval) != nil {
			return err
		}
	}
}

// PromoteWhenReady promotes the learner at peerURL, retrying while it
// catches up, until ctx ends (ErrLearnerNotReady then).
func PromoteWhenReady(ctx context.Context, clk clock.Clock, c *Client, peerURL string) error {
	for {
		_, err := c.Promote(ctx, peerURL)
		if err != nil && strings.Contains(err.Error(), "request timed out") {
			err = fmt.Errorf("%w (%v)", ErrLearnerNotReady, err)
		}
		if !errors.Is(err, ErrLearnerNotReady) {
			return err
		}
		if clock.Sleep(ctx, clk, retryInterval) != nil {
			return err
		}
	}
}

// WaitAnswering polls the member at c until etcd itself answers (it runs),
// or timeout passes on clk. Before auth is enabled etcd answers "user name
// is empty", and a learner serves no member list: both are answers.
func WaitAnswering(ctx context.Context, clk clock.Clock, c *Client, timeout time.Duration) error {
	var lastErr error
	if clock.Poll(ctx, clk, timeout, 100*time.Millisecond, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, lastErr = c.Members(cctx)
		return lastErr == nil || errors.Is(lastErr, ErrUserEmpty) ||
			strings.Contains(lastErr.Error(), "user name is empty") || strings.Contains(lastErr.Error(), "not supported for learner")
	}) {
		return nil
	}
	return fmt.Errorf("waiting for etcd: %w", lastErr)
}
