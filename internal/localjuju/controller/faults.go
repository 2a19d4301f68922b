package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/netns"
)

// Fault injection for tests: a unit's machine can be killed, frozen,
// restarted or cut off its network (DESIGN §6).

func (m *Model) machineOf(unit string) (*unitState, *netns.Machine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return nil, nil, fmt.Errorf("unit %q not found", unit)
	}
	mach := m.machines[u.Machine]
	if mach == nil {
		return nil, nil, fmt.Errorf("machine of unit %q not found", unit)
	}
	return u, mach, nil
}

// KillMachine SIGKILLs every process of the unit's machine and stops its
// agent; its leadership lease then expires.
func (m *Model) KillMachine(ctx context.Context, unit string) error {
	_, mach, err := m.machineOf(unit)
	if err != nil {
		return err
	}
	m.mu.Lock()
	a := m.agents[unit]
	m.mu.Unlock()
	if a != nil {
		a.kill()
	}
	if err := mach.KillAll(ctx); err != nil {
		return fmt.Errorf("killing machine of %s: %w", unit, err)
	}
	if a != nil {
		<-a.done
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.units[unit]; u != nil {
		u.AgentStatus, u.AgentMessage = "lost", "agent is not communicating with the server"
	}
	delete(m.agents, unit)
	m.logf("machine of %s killed", unit)
	return m.saveLocked()
}

// RestartMachine kills the machine's processes (if any still run) and starts
// its agent again, which runs the start hook as Juju does after a reboot.
func (m *Model) RestartMachine(ctx context.Context, unit string) error {
	if err := m.KillMachine(ctx, unit); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return fmt.Errorf("unit %q not found", unit)
	}
	if u.Local.Started {
		u.Local.RestartPending = true
	}
	if u.Local.FailedHook != nil {
		// The hook interrupted by the crash reruns first.
		u.Local.RetryAt = time.Now()
	}
	u.AgentStatus = ""
	m.startAgentLocked(u)
	m.logf("machine of %s restarted", unit)
	m.notifyAllLocked()
	return m.saveLocked()
}

// Freeze stops (SIGSTOP) every process of the machine and its agent.
func (m *Model) Freeze(unit string) error { return m.setFrozen(unit, true) }

// Thaw resumes a frozen machine.
func (m *Model) Thaw(unit string) error { return m.setFrozen(unit, false) }

func (m *Model) setFrozen(unit string, frozen bool) error {
	_, mach, err := m.machineOf(unit)
	if err != nil {
		return err
	}
	signal := mach.Thaw
	if frozen {
		signal = mach.Freeze
	}
	if err := signal(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.agents[unit]; a != nil {
		a.frozen = frozen
		a.poke()
	}
	if frozen {
		m.logf("machine of %s frozen", unit)
	} else {
		m.logf("machine of %s thawed", unit)
	}
	return nil
}

// Cut takes the machine's network link down; its agent keeps talking to the
// controller, so hooks still run (a data-network partition).
func (m *Model) Cut(unit string) error {
	_, mach, err := m.machineOf(unit)
	if err != nil {
		return err
	}
	m.logf("network of %s cut", unit)
	return mach.Cut()
}

// Restore brings a cut link back.
func (m *Model) Restore(unit string) error {
	_, mach, err := m.machineOf(unit)
	if err != nil {
		return err
	}
	m.logf("network of %s restored", unit)
	return mach.Restore()
}

// Machine returns the unit's machine, e.g. to Dial from inside it.
func (m *Model) Machine(unit string) (*netns.Machine, error) {
	_, mach, err := m.machineOf(unit)
	return mach, err
}

// Resolved clears a unit's hook error as `juju resolved` does: the failed
// hook runs again now, or with noRetry it is marked done without running.
func (m *Model) Resolved(unit string, noRetry bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return fmt.Errorf("unit %q not found", unit)
	}
	h := u.Local.FailedHook
	if h == nil {
		return fmt.Errorf("unit %q is not in an error state", unit)
	}
	if noRetry {
		u.Local.FailedHook, u.Local.Retries = nil, 0
		u.AgentStatus, u.AgentMessage, u.AgentData = "idle", "", nil
		m.hookDoneLocked(u, h, nil)
	} else {
		u.Local.RetryAt = time.Now()
	}
	m.notifyAllLocked()
	return m.saveLocked()
}

// ToolsDir is the unit's hook tools directory (also holding juju-exec), as
// a process on its machine finds it first on PATH.
func (m *Model) ToolsDir(unit string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return "", fmt.Errorf("unit %q not found", unit)
	}
	return m.toolsDir(u), nil
}
