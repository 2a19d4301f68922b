package controller

import (
	"time"
)

// Leadership follows Juju's lease model (contract §3.8): one leader per
// application holding a lease that its running agent keeps renewing. A unit
// whose agent stops (machine killed or frozen) keeps the lease until it
// expires; then another live unit is elected and runs leader-elected, and the
// others get leader-settings-changed. A dying leader resigns at once.

// leaseLoop renews and expires leases until the model closes.
func (m *Model) leaseLoop() {
	for {
		m.mu.Lock()
		period := m.st.LeaseDuration / 10
		m.mu.Unlock()
		if period < 100*time.Millisecond {
			period = 100 * time.Millisecond
		}
		if period > time.Second {
			period = time.Second
		}
		select {
		case <-m.leaseStop:
			return
		case <-time.After(period):
		}
		m.mu.Lock()
		changed := false
		now := time.Now()
		for _, a := range m.st.Apps {
			if a.Leader != "" {
				if ag := m.agents[a.Leader]; ag != nil && ag.running() {
					a.LeaseExpiry = now.Add(m.st.LeaseDuration)
					continue
				}
				if now.Before(a.LeaseExpiry) {
					continue
				}
				m.logf("leadership lease of %s on %s expired", a.Leader, a.Name)
				a.Leader = ""
			}
			if m.electLocked(a) {
				changed = true
			}
		}
		if changed {
			m.notifyAllLocked()
			_ = m.saveLocked()
		}
		m.mu.Unlock()
	}
}

// electLocked gives the lease to the first live unit when nobody holds it.
func (m *Model) electLocked(a *appState) bool {
	if a.Leader != "" {
		return false
	}
	for _, name := range a.Units {
		u := m.units[name]
		ag := m.agents[name]
		if u == nil || u.Life != Alive || ag == nil || !ag.running() {
			continue
		}
		a.Leader = name
		a.LeaseExpiry = time.Now().Add(m.st.LeaseDuration)
		a.LeaderTerm++
		a.LeaderSettingsVersion++
		m.logf("%s elected leader of %s", name, a.Name)
		m.notifyAllLocked()
		return true
	}
	return false
}

// isLeaderLocked reports whether unit holds a valid lease.
func (m *Model) isLeaderLocked(unit string) bool {
	u := m.units[unit]
	if u == nil {
		return false
	}
	a := m.st.Apps[u.App]
	return a.Leader == unit && time.Now().Before(a.LeaseExpiry)
}
