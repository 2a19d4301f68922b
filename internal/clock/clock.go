package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// After implements Clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Or returns c, or the wall clock when c is nil, so a zero-valued
// dependency struct works in production.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Sleep waits d on c, or until ctx is done (its error is returned).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err // a ready timer must not win over an ended context
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.After(d):
		return nil
	}
}

// Poll calls try every interval until it reports done, the timeout on c
// has passed since the first try, or ctx ends. It returns true when try
// reported done. try runs at least once, so a zero timeout is one look.
func Poll(ctx context.Context, c Clock, timeout, interval time.Duration, try func() bool) bool {
	deadline := c.Now().Add(timeout)
	for {
		if try() {
			return true
		}
		if !c.Now().Before(deadline) || Sleep(ctx, c, interval) != nil {
			return false
		}
	}
}

// Fake is a clock for tests: time stands still until the test (or a
// waiter, with AutoAdvance) moves it. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
	// AutoAdvance, when set, makes After move the clock forward by the
	// duration waited and fire at once: a wait loop runs through its
	// whole timeout without sleeping.
	AutoAdvance bool
	waiters     []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a Fake at t that advances by itself on every wait.
func NewFake(t time.Time) *Fake { return &Fake{now: t, AutoAdvance: true} }

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After implements Clock.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if f.AutoAdvance {
		f.now = f.now.Add(d)
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, fakeWaiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d and fires the waits that are due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- f.now
	}
	f.waiters = kept
}
