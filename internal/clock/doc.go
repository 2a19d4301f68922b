// Package clock is the charm's seam for time: every wait loop and every
// decision that needs "now" takes a Clock, so tests drive time with Fake
// instead of sleeping, and decisions stay pure (they take Now as a value).
package clock
