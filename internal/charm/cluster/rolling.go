package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/patroni"
)

// RollRefusedError is Roll's refusal to start (RollingOrder's reason):
// nothing was restarted.
type RollRefusedError struct{ Reason string }

func (e *RollRefusedError) Error() string { return e.Reason }

// Roll restarts the cluster's members in RollingOrder: each replica
// that need says needs it, one at a time, each streaming again before
// the next; then, when the primary needs it, a switchover (the one write
// pause clients see) and the old primary, which Patroni restarts as a
// replica when it demotes it. A cluster of one restarts its only member
// (that restart is the downtime). order lists the members restarted.
func Roll(ctx context.Context, clk clock.Clock, api *patroni.Client, v ClusterView, need func(name string) bool, say patroni.Progress) (order []string, err error) {
	replicas, primary, refused := RollingOrder(v)
	if refused != "" {
		return nil, &RollRefusedError{refused}
	}
	restartOne := func(name string) error {
		m, _ := v.Cluster.Member(name)
		say("restarting " + name)
		if err := patroni.RestartAndWait(ctx, clk, api.At(m.APIURL), patroni.RestartTimeout, say); err != nil {
			return fmt.Errorf("restarting %s: %w", name, err)
		}
		if err := patroni.WaitStreaming(ctx, clk, api, name, patroni.StreamingTimeout); err != nil {
			return err
		}
		say(name + " restarted and streaming")
		order = append(order, name)
		return nil
	}
	for _, r := range replicas {
		if !need(r) {
			continue
		}
		if err := restartOne(r); err != nil {
			return order, err
		}
	}
	if !need(primary) {
		return order, nil
	}
	if len(replicas) == 0 {
		m, _ := v.Cluster.Member(primary)
		say("restarting " + primary + ", the only member: the database is down meanwhile")
		if err := patroni.RestartAndWait(ctx, clk, api.At(m.APIURL), patroni.RestartTimeout, say); err != nil {
			return order, err
		}
		return append(order, primary), nil
	}
	say("switching over from " + primary)
	err = api.WithTimeout(patroni.SwitchoverTimeout).Switchover(ctx, primary, "")
	var se *patroni.StatusError
	if err != nil && !patroni.IsTimeout(err) && !(errors.As(err, &se) && se.Code == 503) {
		return order, fmt.Errorf("switching over from %s: %w", primary, err)
	}
	if !patroni.WaitNotLeader(ctx, clk, api, primary, patroni.SwitchoverTimeout) {
		return order, fmt.Errorf("the primary role did not move from %s", primary)
	}
	// The demoted primary restarts as a replica by itself first; a
	// restart asked in the middle of it would be refused.
	if err := patroni.WaitStreaming(ctx, clk, api, primary, patroni.StreamingTimeout); err != nil {
		return order, err
	}
	if err := restartOne(primary); err != nil {
		return order, err
	}
	return order, nil
}

// pendingWait bounds how long the leader waits for every member to report
// a pending restart after a configuration change: each applies a DCS
// change in its next loop (loop_wait) and its own files when its unit's
// hook reloads them, which runs at about the same time as the leader's.
const pendingWait = 60 * time.Second

// RollPending applies a configuration change that needs a restart as a
// rolling restart (issue 10: never every unit at once): it waits until
// every running member reports pending_restart (or pendingWait passes),
// then runs Roll on the members that do. Maintenance mode, a stopped
// member or a switchover under way refuse it, with the reason; members
// still pending show it in list-members and `restart rolling=true`
// applies it later.
func RollPending(ctx context.Context, clk clock.Clock, api *patroni.Client, view func(context.Context) (ClusterView, error), say patroni.Progress) ([]string, error) {
	var v ClusterView
	var err error
	clock.Poll(ctx, clk, pendingWait, time.Second, func() bool {
		if v, err = view(ctx); err != nil {
			return false
		}
		for _, m := range v.Cluster.Members {
			if m.State.Up() && !m.PendingRestart {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	for _, m := range v.Cluster.Members {
		pending[m.Name] = m.PendingRestart
	}
	if len(pending) == 0 {
		return nil, nil
	}
	return Roll(ctx, clk, api, v, func(name string) bool { return pending[name] }, say)
}
