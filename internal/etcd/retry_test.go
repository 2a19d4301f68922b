package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
)

func TestRetryTransientRetriesOnlyPassingAnswers(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	tries := 0
	err := RetryTransient(context.Background(), clk, func() error {
		tries++
		if tries < 3 {
			return errors.New("etcdserver: unhealthy cluster")
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Fatalf("err %v after %d tries, want success on the third", err, tries)
	}
	tries = 0
	permanent := errors.New("etcdserver: permission denied")
	if err := RetryTransient(context.Background(), clk, func() error { tries++; return permanent }); err != permanent || tries != 1 {
		t.Fatalf("err %v after %d tries, want the permanent error at once", err, tries)
	}
}

func TestRetryTransientEndsWithItsContext(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := RetryTransient(ctx, clk, func() error {
		tries++
		if tries == 5 {
			cancel()
		}
		return errors.New("etcdserver: leader changed")
	})
	if err == nil || tries != 5 {
		t.Fatalf("err %v after %d tries, want the transient error once the context ended", err, tries)
	}
}
