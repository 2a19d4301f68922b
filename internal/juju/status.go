package juju

import (
	"context"
	"fmt"
)

// statusRank orders levels for PickStatus: higher wins.
var statusRank = map[StatusLevel]int{
	StatusActive:      1,
	StatusWaiting:     2,
	StatusMaintenance: 3,
	StatusBlocked:     4,
}

// PickStatus returns the status a unit shows given what its components
// contributed, in order: the highest level wins (blocked > maintenance >
// waiting > active) and within a level the first contribution, so its
// reason is the one shown. ok is false when nothing was contributed.
// Statuses with a level outside the four are ignored.
func PickStatus(statuses []Status) (picked Status, ok bool) {
	best := 0
	for _, s := range statuses {
		if r := statusRank[s.Level]; r > best {
			best, picked, ok = r, s, true
		}
	}
	return picked, ok
}

// StatusCollector gathers the statuses components contribute during one
// dispatch; Apply sets the picked one once at the end (ops'
// collect-status). Handlers never call status-set themselves.
type StatusCollector struct {
	unit, app []Status
	applied   bool
}

// Add contributes a unit status. The component name is not shown; the
// message should say what it is about ("config: max_connections ...").
func (c *StatusCollector) Add(s Status) { c.unit = append(c.unit, s) }

// AddApp contributes an application status; only the leader should.
func (c *StatusCollector) AddApp(s Status) { c.app = append(c.app, s) }

// Unit returns the unit status Apply would set.
func (c *StatusCollector) Unit() (Status, bool) { return PickStatus(c.unit) }

// App returns the application status Apply would set.
func (c *StatusCollector) App() (Status, bool) { return PickStatus(c.app) }

// StatusSetter is the one Backend method Apply needs.
type StatusSetter interface {
	StatusSet(ctx context.Context, s Status, app bool) error
}

// Apply sets the picked unit status and, when any was contributed, the
// application status. It runs status-set at most once each per collector,
// however often it is called; with nothing contributed it sets nothing.
func (c *StatusCollector) Apply(ctx context.Context, b StatusSetter) error {
	if c.applied {
		return nil
	}
	c.applied = true
	if s, ok := c.Unit(); ok {
		if err := b.StatusSet(ctx, s, false); err != nil {
			return fmt.Errorf("setting unit status: %w", err)
		}
	}
	if s, ok := c.App(); ok {
		if err := b.StatusSet(ctx, s, true); err != nil {
			return fmt.Errorf("setting application status: %w", err)
		}
	}
	return nil
}
