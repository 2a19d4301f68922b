package controller

import (
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// agent is one unit agent: a goroutine that repeatedly asks resolve for the
// next operation and runs it, one at a time (contract §1.3).
type agent struct {
	m      *Model
	unit   string
	busy   bool // an operation is running (guarded by Model.mu)
	wake   chan struct{}
	stopCh chan struct{}
	done   chan struct{}

	// Guarded by Model.mu.
	alive   bool // false once its machine was killed
	frozen  bool
	cmds    []*commandReq
	proc    *os.Process // process of the running operation, if any
	stopped bool
	// listeners are the agent and run sockets, closed when the agent stops.
	listeners []net.Listener
}

// running reports whether the agent can act and renew leases (m.mu held).
func (a *agent) running() bool { return a.alive && !a.frozen && !a.stopped }

func (m *Model) startAgentLocked(u *unitState) {
	a := &agent{
		m: m, unit: u.Name, alive: true,
		wake:   make(chan struct{}, 1),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	m.agents[u.Name] = a
	if err := m.serveSocketsLocked(a, u); err != nil {
		m.logf("%v", err)
	}
	if u.AgentStatus == "lost" || u.AgentStatus == "" {
		u.AgentStatus = "idle"
		u.AgentMessage = ""
	}
	go a.loop()
}

func (a *agent) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// stopAndWait ends the agent loop after its current operation.
func (a *agent) stopAndWait() {
	a.m.mu.Lock()
	if !a.stopped {
		a.stopped = true
		close(a.stopCh)
	}
	a.m.mu.Unlock()
	<-a.done
}

// kill stops the agent as a machine crash would: the running hook's process
// dies with its machine and the agent does nothing more.
func (a *agent) kill() {
	a.m.mu.Lock()
	a.alive = false
	if !a.stopped {
		a.stopped = true
		close(a.stopCh)
	}
	p := a.proc
	a.m.mu.Unlock()
	if p != nil {
		_ = p.Kill()
	}
}

func (m *Model) notifyAllLocked() {
	for _, a := range m.agents {
		a.poke()
	}
}

func (a *agent) loop() {
	defer close(a.done)
	defer func() {
		for _, l := range a.listeners {
			l.Close()
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-a.stopCh:
			return
		default:
		}
		op, wait := a.m.nextOp(a)
		if op != nil {
			op.picked = time.Now()
			a.m.setBusy(a, true)
			a.m.execute(a, op)
			a.m.setBusy(a, false)
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-a.stopCh:
			return
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// operation is what the agent runs next: a hook, an action or a juju-exec
// command.
type operation struct {
	picked time.Time
	hook   *hookSpec
	action *actionState
	cmd    *commandReq
}

const idleWait = time.Hour

// nextOp is the uniter resolver (contract §3.1): it compares the unit's local
// state with the model and returns the next operation, or how long to wait.
func (m *Model) nextOp(a *agent) (*operation, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[a.unit]
	if u == nil || !a.running() || m.closed {
		return nil, idleWait
	}
	now := time.Now()
	loc := &u.Local
	app := m.st.Apps[u.App]

	if loc.FailedHook != nil {
		// A unit in error runs nothing but actions and commands until the
		// hook succeeds on retry (§3.9).
		if op := m.nextActionOrCommandLocked(a, u); op != nil {
			return op, 0
		}
		if loc.RetryAt.After(now) {
			return nil, loc.RetryAt.Sub(now)
		}
		h := *loc.FailedHook
		return &operation{hook: &h}, 0
	}
	if loc.RestartPending && loc.Installed {
		return hookOp(hookSpec{Kind: "start", Name: "start"}), 0
	}
	for _, sid := range u.Storage {
		if !loc.StorageAttached[sid] && !loc.Installed && u.Life == Alive {
			return hookOp(hookSpec{Kind: "storage-attached", Name: storageName(sid) + "-storage-attached", StorageID: sid}), 0
		}
	}
	if !loc.Installed {
		if u.Life != Alive {
			return hookOp(hookSpec{Kind: "remove", Name: "remove"}), 0
		}
		return hookOp(hookSpec{Kind: "install", Name: "install"}), 0
	}
	if u.Life != Alive {
		if op := m.nextActionOrCommandLocked(a, u); op != nil {
			return op, 0
		}
		return m.nextTeardownLocked(u), 0
	}
	// -relation-created for every relation the unit's application is in,
	// peers included, before any other relation hook (§3.2, §3.4).
	for _, r := range m.relationsOfLocked(u.App) {
		if r.Life != Alive {
			continue
		}
		if lr := loc.Relations[r.ID]; lr == nil || !lr.Created {
			ep := r.endpointOf(u.App)
			return hookOp(hookSpec{Kind: "relation-created", Name: ep.Endpoint + "-relation-created", RelationID: r.ID, RemoteApp: r.remoteApp(u.App)}), 0
		}
	}
	if app.Leader == u.Name && loc.LeaderTerm != app.LeaderTerm {
		return hookOp(hookSpec{Kind: "leader-elected", Name: "leader-elected", Version: app.LeaderTerm, Version2: app.LeaderSettingsVersion}), 0
	}
	if app.Leader != u.Name && loc.LeaderSettings != app.LeaderSettingsVersion {
		return hookOp(hookSpec{Kind: "leader-settings-changed", Name: "leader-settings-changed", Version: app.LeaderSettingsVersion}), 0
	}
	h, secretDue := m.nextSecretHookLocked(u, now)
	if h != nil {
		return hookOp(*h), 0
	}
	if op := m.nextActionOrCommandLocked(a, u); op != nil {
		return op, 0
	}
	if loc.ConfigVersion != app.ConfigVersion {
		return hookOp(hookSpec{Kind: "config-changed", Name: "config-changed", Version: app.ConfigVersion}), 0
	}
	if !loc.Started {
		return hookOp(hookSpec{Kind: "start", Name: "start"}), 0
	}
	if h := m.nextRelationHookLocked(u); h != nil {
		return hookOp(*h), 0
	}
	// update-status only when idle (§3.8).
	if loc.UpdateStatusNext.IsZero() {
		loc.UpdateStatusNext = now.Add(jitter(m.st.UpdateStatusInterval))
	}
	if !now.Before(loc.UpdateStatusNext) {
		return hookOp(hookSpec{Kind: "update-status", Name: "update-status"}), 0
	}
	wake := loc.UpdateStatusNext
	if !secretDue.IsZero() && secretDue.Before(wake) {
		wake = secretDue
	}
	return nil, wake.Sub(now)
}

func hookOp(h hookSpec) *operation {
	if !strings.HasPrefix(h.Kind, "relation-") {
		h.RelationID = -1
	}
	return &operation{hook: &h}
}

// jitter randomises the update-status interval to 80–120 %, as Juju does.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func storageName(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			return id[:i]
		}
	}
	return id
}

func (m *Model) nextActionOrCommandLocked(a *agent, u *unitState) *operation {
	var pending []*actionState
	for _, act := range m.st.Actions {
		if act.Unit == u.Name && act.Status == "pending" {
			pending = append(pending, act)
		}
	}
	if len(pending) > 0 {
		sort.Slice(pending, func(i, j int) bool { return pending[i].ID < pending[j].ID })
		return &operation{action: pending[0]}
	}
	if len(a.cmds) > 0 {
		// runCommand dequeues it, so nextOp stays free of side effects.
		return &operation{cmd: a.cmds[0]}
	}
	return nil
}

// relationsOfLocked lists the relations an application is in: non-peer
// relations first, then peers, each by id (§3.4).
func (m *Model) relationsOfLocked(app string) []*relationState {
	var rs []*relationState
	for _, r := range m.st.Relations {
		for _, ep := range r.Endpoints {
			if ep.App == app {
				rs = append(rs, r)
				break
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Peer != rs[j].Peer {
			return !rs[i].Peer
		}
		return rs[i].ID < rs[j].ID
	})
	return rs
}

func (r *relationState) endpointOf(app string) endpointRef {
	for _, ep := range r.Endpoints {
		if ep.App == app {
			return ep
		}
	}
	return endpointRef{}
}

// remoteApp is the other application of the relation (the own one for peers).
func (r *relationState) remoteApp(app string) string {
	if r.Peer {
		return app
	}
	for _, ep := range r.Endpoints {
		if ep.App != app {
			return ep.App
		}
	}
	return ""
}

// remoteScopeLocked lists the remote units in scope, sorted.
func (m *Model) remoteScopeLocked(r *relationState, u *unitState) []string {
	remote := r.remoteApp(u.App)
	var out []string
	for name := range r.Scope {
		if name == u.Name {
			continue
		}
		if ru := m.units[name]; ru != nil && ru.App == remote {
			out = append(out, name)
		}
	}
	sortUnits(out)
	return out
}

// nextRelationHookLocked picks the next relation hook of a live, started
// unit: per relation, teardown when dying, the -changed that must follow a
// -joined, app-level -changed, -joined for new units, -departed for gone ones,
// then -changed for units whose settings moved (§3.4–§3.6).
func (m *Model) nextRelationHookLocked(u *unitState) *hookSpec {
	loc := &u.Local
	for _, r := range m.relationsOfLocked(u.App) {
		lr := loc.Relations[r.ID]
		if lr == nil || !lr.Created {
			continue
		}
		ep := r.endpointOf(u.App)
		remoteApp := r.remoteApp(u.App)
		base := hookSpec{RelationID: r.ID, RemoteApp: remoteApp}
		if r.Life != Alive {
			if h := m.relationTeardownLocked(u, r, lr, ""); h != nil {
				return h
			}
			continue
		}
		if x := lr.PendingChanged; x != "" {
			h := base
			h.Kind, h.Name, h.RemoteUnit, h.Version = "relation-changed", ep.Endpoint+"-relation-changed", x, r.UnitVersion[x]
			return &h
		}
		if v := r.AppVersion[remoteApp]; v > 0 && v != lr.AppVersion {
			if r.Peer && m.st.Apps[u.App].Leader == u.Name {
				// A peer leader gets no event about its own app databag.
				lr.AppVersion = v
			} else {
				h := base
				h.Kind, h.Name, h.Version, h.AppChanged = "relation-changed", ep.Endpoint+"-relation-changed", v, true
				return &h
			}
		}
		scope := m.remoteScopeLocked(r, u)
		inScope := map[string]bool{}
		for _, x := range scope {
			inScope[x] = true
			if _, ok := lr.Members[x]; !ok {
				h := base
				h.Kind, h.Name, h.RemoteUnit, h.Version = "relation-joined", ep.Endpoint+"-relation-joined", x, r.UnitVersion[x]
				return &h
			}
		}
		for _, x := range sortedKeys(lr.Members) {
			if !inScope[x] {
				h := base
				h.Kind, h.Name, h.RemoteUnit, h.Departing = "relation-departed", ep.Endpoint+"-relation-departed", x, x
				h.RemoteApp = appOfUnit(x)
				return &h
			}
		}
		for _, x := range sortedMembers(lr.Members) {
			if v := r.UnitVersion[x]; v != lr.Members[x] {
				h := base
				h.Kind, h.Name, h.RemoteUnit, h.Version = "relation-changed", ep.Endpoint+"-relation-changed", x, v
				return &h
			}
		}
	}
	return nil
}

// relationTeardownLocked: -departed for every member, then -broken (not for
// peers). departing names the unit that leaves ("" = each remote unit).
func (m *Model) relationTeardownLocked(u *unitState, r *relationState, lr *localRelation, departing string) *hookSpec {
	ep := r.endpointOf(u.App)
	members := sortedMembers(lr.Members)
	if len(members) > 0 {
		x := members[0]
		d := departing
		if d == "" {
			d = x
		}
		return &hookSpec{Kind: "relation-departed", Name: ep.Endpoint + "-relation-departed", RelationID: r.ID,
			RemoteUnit: x, RemoteApp: r.remoteApp(u.App), Departing: d}
	}
	// Every member departed: the unit leaves the relation scope.
	delete(r.Scope, u.Name)
	if r.Peer {
		delete(u.Local.Relations, r.ID)
		m.cleanupRelationsLocked()
		return nil
	}
	return &hookSpec{Kind: "relation-broken", Name: ep.Endpoint + "-relation-broken", RelationID: r.ID, RemoteApp: r.remoteApp(u.App)}
}

// nextTeardownLocked drives a dying unit: relations (-departed with
// JUJU_DEPARTING_UNIT = the local unit, then -broken), storage-detaching,
// stop, remove (§3.7).
func (m *Model) nextTeardownLocked(u *unitState) *operation {
	loc := &u.Local
	for _, r := range m.relationsOfLocked(u.App) {
		lr := loc.Relations[r.ID]
		if lr == nil {
			continue
		}
		if !lr.Created {
			delete(loc.Relations, r.ID)
			continue
		}
		if h := m.relationTeardownLocked(u, r, lr, u.Name); h != nil {
			return hookOp(*h)
		}
	}
	for _, sid := range u.Storage {
		if loc.StorageAttached[sid] {
			return hookOp(hookSpec{Kind: "storage-detaching", Name: storageName(sid) + "-storage-detaching", StorageID: sid})
		}
	}
	if !loc.Stopped {
		return hookOp(hookSpec{Kind: "stop", Name: "stop"})
	}
	return hookOp(hookSpec{Kind: "remove", Name: "remove"})
}

func appOfUnit(unit string) string {
	for i := 0; i < len(unit); i++ {
		if unit[i] == '/' {
			return unit[:i]
		}
	}
	return unit
}

func sortedMembers(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortUnits(out)
	return out
}

// retryDelay is Juju's hook retry back-off: 5 s doubling to 5 min (§3.9).
func retryDelay(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

var _ = strconv.Itoa

func (m *Model) setBusy(a *agent, busy bool) {
	m.mu.Lock()
	a.busy = busy
	m.mu.Unlock()
}

// nowFunc is the clock of log lines.
var nowFunc = time.Now
