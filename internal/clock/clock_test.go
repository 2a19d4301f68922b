package clock

import (
	"context"
	"testing"
	"time"
)

var epoch = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func TestPollStopsAtTheDeadlineOfItsClock(t *testing.T) {
	f := NewFake(epoch)
	tries := 0
	ok := Poll(context.Background(), f, 10*time.Second, time.Second, func() bool { tries++; return false })
	if ok {
		t.Fatal("Poll reported done for a try that never succeeds")
	}
	if tries != 11 {
		t.Errorf("tries = %d, want 11 (at 0 s, 1 s, ... 10 s)", tries)
	}
	if got := f.Now().Sub(epoch); got != 10*time.Second {
		t.Errorf("the clock moved %s, want 10s", got)
	}
}

func TestPollReturnsOnceDone(t *testing.T) {
	f := NewFake(epoch)
	tries := 0
	if !Poll(context.Background(), f, time.Minute, time.Second, func() bool { tries++; return tries == 3 }) {
		t.Fatal("Poll did not report done")
	}
	if tries != 3 {
		t.Errorf("tries = %d, want 3", tries)
	}
}

func TestPollZeroTimeoutLooksOnce(t *testing.T) {
	tries := 0
	Poll(context.Background(), NewFake(epoch), 0, time.Second, func() bool { tries++; return false })
	if tries != 1 {
		t.Errorf("tries = %d, want 1", tries)
	}
}

func TestPollEndsWithItsContext(t *testing.T) {
	f := &Fake{now: epoch} // no auto-advance: a wait blocks until cancelled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Poll(ctx, f, time.Hour, time.Second, func() bool { return false }) {
		t.Fatal("Poll reported done")
	}
}

func TestFakeAdvanceFiresDueWaits(t *testing.T) {
	f := &Fake{now: epoch}
	early, late := f.After(time.Second), f.After(time.Minute)
	f.Advance(2 * time.Second)
	select {
	case <-early:
	default:
		t.Fatal("a wait of 1 s did not fire after 2 s")
	}
	select {
	case <-late:
		t.Fatal("a wait of 1 min fired after 2 s")
	default:
	}
}
