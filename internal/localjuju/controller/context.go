package controller

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/charmdir"
	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

// hookContext is one running hook, action or juju-exec command: the hook
// tools' view of the model. Reads of the local unit (and of the local app
// bag for a leader) include the context's own pending writes; everything the
// context writes through a transactional tool is buffered and committed only
// when the process exits 0 (contract §2.4).
type hookContext struct {
	m      *Model
	id     string
	unit   string
	app    string
	hook   *hookSpec // nil for actions and plain commands
	action *actionState
	// command marks a juju-exec context (commits even on non-zero exit).
	command bool

	// Read-once snapshots (§2.4: config, leader settings, membership are
	// read once per context).
	config         map[string]any
	leaderSettings map[string]string
	notLeader      bool
	remoteCache    map[string]map[string]string

	// Buffered writes.
	relUnit     map[int]map[string]string
	relApp      map[int]map[string]string
	ports       []portOp
	charmState  map[string]*string
	secretOps   []func() error
	newSecrets  map[string]*secretState
	actionSets  map[string]any
	actionFail  *string
	statusByUs  bool
	committed   bool
	unitVersion map[int]bool
}

type portOp struct {
	open      bool
	endpoints []string
	r         hooktools.PortRange
}

var _ hooktools.Context = (*hookContext)(nil)

func (m *Model) newContextLocked(u *unitState, name string) *hookContext {
	return &hookContext{
		m:           m,
		id:          fmt.Sprintf("%s-%s-%s", u.Name, name, randomHex(32)),
		unit:        u.Name,
		app:         u.App,
		remoteCache: map[string]map[string]string{},
		relUnit:     map[int]map[string]string{},
		relApp:      map[int]map[string]string{},
		charmState:  map[string]*string{},
		newSecrets:  map[string]*secretState{},
		actionSets:  map[string]any{},
	}
}

func (c *hookContext) lock() (*unitState, func()) {
	c.m.mu.Lock()
	return c.m.units[c.unit], c.m.mu.Unlock
}

// errUnitGone is returned when the unit was removed under a running context.
var errUnitGone = errors.New("unit not found")

func (c *hookContext) UnitName() string  { return c.unit }
func (c *hookContext) ModelUUID() string { return c.m.st.UUID }

func (c *hookContext) HookRelationID() int {
	if c.hook == nil {
		return -1
	}
	return c.hook.RelationID
}

func (c *hookContext) RemoteUnit() string {
	if c.hook == nil {
		return ""
	}
	return c.hook.RemoteUnit
}

func (c *hookContext) RemoteApp() string {
	if c.hook == nil {
		return ""
	}
	return c.hook.RemoteApp
}

func (c *hookContext) HookStorageID() string {
	if c.hook == nil {
		return ""
	}
	return c.hook.StorageID
}

// ---- relations ----

// relationLocked resolves a relation of this unit (m.mu held).
func (c *hookContext) relationLocked(u *unitState, id int) (*relationState, *localRelation, bool) {
	r := c.m.st.Relations[id]
	if r == nil || u == nil {
		return nil, nil, false
	}
	lr := u.Local.Relations[id]
	if lr == nil {
		// In its -created hook the relation is already the unit's.
		if c.hook != nil && c.hook.RelationID == id && c.hook.Kind == "relation-created" {
			return r, &localRelation{Members: map[string]int{}}, true
		}
		return nil, nil, false
	}
	return r, lr, true
}

func (c *hookContext) Relation(id int) (hooktools.RelationInfo, bool) {
	u, unlock := c.lock()
	defer unlock()
	r, lr, ok := c.relationLocked(u, id)
	if !ok {
		return hooktools.RelationInfo{}, false
	}
	return hooktools.RelationInfo{
		ID: id, Endpoint: r.endpointOf(c.app).Endpoint, RemoteApp: r.remoteApp(c.app),
		Peer: r.Peer, Broken: isBroken(r, lr),
	}, true
}

// isBroken tells whether a relation is broken for a unit, as Juju's context
// factory decides it: not a peer relation, dying (localjuju has no
// suspended relations) and no remote members left in the unit's view
// (§2.3 relation-ids). The view is the unit's committed membership, so in
// -departed for X, X still counts: during the -departed hooks after
// remove-relation the relation is listed, in -broken it is not. A relation
// that stays alive while the local unit dies is never broken.
func isBroken(r *relationState, lr *localRelation) bool {
	return !r.Peer && r.Life != Alive && len(lr.Members) == 0
}

// RelationIDs lists the unit's relations on endpoint that are not broken.
func (c *hookContext) RelationIDs(endpoint string) ([]int, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return nil, errUnitGone
	}
	var ids []int
	for _, r := range c.m.relationsOfLocked(c.app) {
		if r.endpointOf(c.app).Endpoint != endpoint {
			continue
		}
		if _, lr, ok := c.relationLocked(u, r.ID); ok && !isBroken(r, lr) {
			ids = append(ids, r.ID)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// RelationMembers is the unit's own view of the relation's remote units: in
// -joined for X, X is listed; in -departed for X it is gone; in -broken the
// list is empty (§2.3 relation-list).
func (c *hookContext) RelationMembers(id int) ([]string, error) {
	u, unlock := c.lock()
	defer unlock()
	_, lr, ok := c.relationLocked(u, id)
	if !ok {
		return nil, fmt.Errorf("relation not found")
	}
	set := maps.Clone(lr.Members)
	if set == nil {
		set = map[string]int{}
	}
	if h := c.hook; h != nil && h.RelationID == id {
		switch h.Kind {
		case "relation-joined":
			set[h.RemoteUnit] = 0
		case "relation-departed":
			delete(set, h.RemoteUnit)
		case "relation-broken":
			set = nil
		}
	}
	return sortedMembers(set), nil
}

// relationKey is Juju's relation key: "requirer:ep provider:ep", or
// "app:ep" for peers.
func relationKey(r *relationState) string {
	if r.Peer || len(r.Endpoints) < 2 {
		return r.Endpoints[0].App + ":" + r.Endpoints[0].Endpoint
	}
	a, b := r.Endpoints[0], r.Endpoints[1]
	if a.Role == "provider" {
		a, b = b, a
	}
	return a.App + ":" + a.Endpoint + " " + b.App + ":" + b.Endpoint
}

func (c *hookContext) RelationGet(id int, entity string, app bool) (map[string]string, error) {
	u, unlock := c.lock()
	defer unlock()
	r, _, ok := c.relationLocked(u, id)
	if !ok {
		return nil, fmt.Errorf("relation not found")
	}
	if app {
		if entity == c.app {
			if !r.Peer && !c.isLeaderLocked() {
				return nil, errors.New("permission denied")
			}
			bag := cloneBag(r.AppBags[entity])
			applyPending(bag, c.relApp[id])
			return bag, nil
		}
		if r.remoteApp(c.app) != entity {
			return nil, fmt.Errorf("cannot read settings for application %q in relation %q: application %q: settings not found", entity, relationKey(r), entity)
		}
		key := fmt.Sprintf("%d/app/%s", id, entity)
		if cached, ok := c.remoteCache[key]; ok {
			return maps.Clone(cached), nil
		}
		bag := cloneBag(r.AppBags[entity])
		c.remoteCache[key] = bag
		return maps.Clone(bag), nil
	}
	if entity == c.unit {
		bag := cloneBag(r.UnitBags[entity])
		applyPending(bag, c.relUnit[id])
		return bag, nil
	}
	bag, ok := r.UnitBags[entity]
	if !ok || appOfUnit(entity) != r.remoteApp(c.app) {
		return nil, fmt.Errorf("cannot read settings for unit %q in relation %q: unit %q: settings not found", entity, relationKey(r), entity)
	}
	key := fmt.Sprintf("%d/unit/%s", id, entity)
	if cached, ok := c.remoteCache[key]; ok {
		return maps.Clone(cached), nil
	}
	snap := cloneBag(bag)
	c.remoteCache[key] = snap
	return maps.Clone(snap), nil
}

func applyPending(bag, pending map[string]string) {
	for k, v := range pending {
		if v == "" {
			delete(bag, k)
		} else {
			bag[k] = v
		}
	}
}

func (c *hookContext) RelationSet(id int, app bool, settings map[string]string) error {
	u, unlock := c.lock()
	defer unlock()
	if _, _, ok := c.relationLocked(u, id); !ok {
		return fmt.Errorf("relation not found")
	}
	target := c.relUnit
	if app {
		if !c.isLeaderLocked() {
			return errors.New("cannot write relation settings")
		}
		target = c.relApp
	}
	if target[id] == nil {
		target[id] = map[string]string{}
	}
	for k, v := range settings {
		target[id][k] = v
	}
	return nil
}

// ---- config, leadership ----

func (c *hookContext) Config(all bool) (map[string]any, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	app := c.m.st.Apps[c.app]
	if app == nil {
		return nil, errUnitGone
	}
	ch := c.m.charms[c.app]
	if all {
		return ch.Config.Effective(app.Config, true), nil
	}
	if c.config == nil {
		c.config = ch.Config.Effective(app.Config, false)
	}
	return maps.Clone(c.config), nil
}

func (c *hookContext) isLeaderLocked() bool {
	if c.notLeader {
		return false
	}
	if !c.m.isLeaderLocked(c.unit) {
		// "Not leader" sticks for the rest of the hook (§2.3 is-leader).
		c.notLeader = true
		return false
	}
	return true
}

func (c *hookContext) IsLeader() (bool, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.isLeaderLocked(), nil
}

func (c *hookContext) LeaderGet() (map[string]string, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.leaderSettings == nil {
		c.leaderSettings = cloneBag(c.m.st.Apps[c.app].LeaderSettings)
	}
	return maps.Clone(c.leaderSettings), nil
}

func (c *hookContext) LeaderSet(settings map[string]string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if !c.isLeaderLocked() {
		return errors.New("cannot write leadership settings: cannot write settings: not the leader")
	}
	app := c.m.st.Apps[c.app]
	next := cloneBag(app.LeaderSettings)
	applyPending(next, settings)
	if c.leaderSettings != nil {
		applyPending(c.leaderSettings, settings)
	}
	if !maps.Equal(next, app.LeaderSettings) {
		app.LeaderSettings = next
		app.LeaderSettingsVersion++
		// The leader's own copy is current: only the others get
		// leader-settings-changed (§3.8).
		if u := c.m.units[c.unit]; u != nil {
			u.Local.LeaderSettings = app.LeaderSettingsVersion
		}
		c.m.notifyAllLocked()
	}
	return nil
}

// ---- status, logging ----

func (c *hookContext) SetStatus(app bool, status, message string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := time.Now()
	if app {
		if !c.isLeaderLocked() {
			return errors.New("this unit is not the leader")
		}
		a := c.m.st.Apps[c.app]
		a.Status = hooktools.StatusInfo{Status: status, Message: message}
		a.StatusSince = now
		return nil
	}
	u := c.m.units[c.unit]
	if u == nil {
		return errUnitGone
	}
	u.Workload = hooktools.StatusInfo{Status: status, Message: message}
	u.WorkloadSince = now
	u.Local.StatusSetByCharm = true
	c.m.log.add(logLine{Time: now, Entity: c.unit, Level: "DEBUG", Message: fmt.Sprintf("status-set %s %q", status, message)})
	return nil
}

func (c *hookContext) UnitStatus() (hooktools.StatusInfo, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return hooktools.StatusInfo{}, errUnitGone
	}
	return withData(u.Workload), nil
}

func withData(s hooktools.StatusInfo) hooktools.StatusInfo {
	if s.Data == nil {
		s.Data = map[string]any{}
	}
	return s
}

func (c *hookContext) ApplicationStatus() (hooktools.StatusInfo, map[string]hooktools.StatusInfo, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if !c.isLeaderLocked() {
		return hooktools.StatusInfo{}, nil, errors.New("finding application status: this unit is not the leader")
	}
	a := c.m.st.Apps[c.app]
	units := map[string]hooktools.StatusInfo{}
	for _, n := range a.Units {
		units[n] = withData(c.m.units[n].Workload)
	}
	return withData(a.Status), units, nil
}

func (c *hookContext) SetApplicationVersion(version string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.st.Apps[c.app].Version = version
	return nil
}

func (c *hookContext) Log(level, message string) error {
	c.m.log.add(logLine{Time: time.Now(), Entity: c.unit, Logger: "unit." + c.unit + ".juju-log", Level: level, Message: message})
	return nil
}

// ---- network ----

func (c *hookContext) PrivateAddress() (string, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return "", errUnitGone
	}
	return u.Address, nil
}

// PublicAddress: a machine has one address, which is also its public one.
func (c *hookContext) PublicAddress() (string, error) { return c.PrivateAddress() }

func (c *hookContext) NetworkInfo(binding string, relID int) (hooktools.NetworkInfo, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return hooktools.NetworkInfo{}, errUnitGone
	}
	if !hasBinding(c.m.charms[c.app].Meta, binding) {
		return hooktools.NetworkInfo{}, fmt.Errorf("no network config found for binding %q", binding)
	}
	mach := c.m.machines[u.Machine]
	cidr := c.m.st.Subnet
	mac := ""
	if mach != nil {
		mac = mach.MAC
	}
	return hooktools.NetworkInfo{
		BindAddresses: []hooktools.BindAddress{{
			MACAddress: mac, InterfaceName: "eth0",
			Addresses: []hooktools.InterfaceAddr{{Value: u.Address, CIDR: cidr}},
		}},
		EgressSubnets:    []string{u.Address + "/32"},
		IngressAddresses: []string{u.Address},
	}, nil
}

// ---- ports ----

func (c *hookContext) OpenPort(endpoints []string, p hooktools.PortRange) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.ports = append(c.ports, portOp{open: true, endpoints: endpoints, r: p})
	return nil
}

func (c *hookContext) ClosePort(endpoints []string, p hooktools.PortRange) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.ports = append(c.ports, portOp{open: false, endpoints: endpoints, r: p})
	return nil
}

func (c *hookContext) OpenedPorts() ([]hooktools.OpenedPort, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return nil, errUnitGone
	}
	return append([]hooktools.OpenedPort(nil), u.Ports...), nil
}

// ---- charm state ----

func (c *hookContext) StateGet() (map[string]string, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return nil, errUnitGone
	}
	out := cloneBag(u.CharmState)
	for k, v := range c.charmState {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out, nil
}

func (c *hookContext) StateSet(settings map[string]string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for k, v := range settings {
		if len(k) > 256 {
			return fmt.Errorf("key %q exceeds 256 bytes", k[:20]+"...")
		}
		if len(v) > 64*1024 {
			return fmt.Errorf("value for key %q exceeds 65536 bytes", k)
		}
		if v == "" {
			c.charmState[k] = nil
		} else {
			v := v
			c.charmState[k] = &v
		}
	}
	return nil
}

func (c *hookContext) StateDelete(key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.charmState[key] = nil
	return nil
}

// ---- actions ----

func (c *hookContext) ActionParams() (map[string]any, error) {
	if c.action == nil {
		return nil, hooktools.ErrNotRunningAction
	}
	return maps.Clone(c.action.Params), nil
}

func (c *hookContext) ActionSet(path []string, value string) error {
	if c.action == nil {
		return hooktools.ErrNotRunningAction
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	cur := c.actionSets
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[path[len(path)-1]] = value
	return nil
}

func (c *hookContext) ActionFail(message string) error {
	if c.action == nil {
		return hooktools.ErrNotRunningAction
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.actionFail = &message
	return nil
}

func (c *hookContext) ActionLog(message string) error {
	if c.action == nil {
		return hooktools.ErrNotRunningAction
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := time.Now()
	c.action.Log = append(c.action.Log, actionLogLine{Time: now, Message: message})
	c.m.log.add(logLine{Time: now, Entity: c.unit, Level: "INFO", Message: "action " + c.action.Name + ": " + message})
	return nil
}

// ---- storage ----

func (c *hookContext) StorageGet(id string) (hooktools.StorageInfo, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return hooktools.StorageInfo{}, errUnitGone
	}
	for _, sid := range u.Storage {
		if sid == id {
			kind := c.m.charms[c.app].Meta.Storage[storageName(sid)].Type
			return hooktools.StorageInfo{Kind: kind, Location: c.m.storageDir(u, sid)}, nil
		}
	}
	return hooktools.StorageInfo{}, fmt.Errorf("storage %q not found", id)
}

func (c *hookContext) StorageList(name string) ([]string, error) {
	u, unlock := c.lock()
	defer unlock()
	if u == nil {
		return nil, errUnitGone
	}
	var out []string
	for _, sid := range u.Storage {
		if name == "" || storageName(sid) == name {
			out = append(out, sid)
		}
	}
	return out, nil
}

func (c *hookContext) StorageAdd(map[string]int) error {
	return errors.New("storage-add is not supported by localjuju: storage is created with the unit")
}

// ---- goal state ----

func (c *hookContext) GoalState() (hooktools.GoalState, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	gs := hooktools.GoalState{Units: map[string]hooktools.GoalStatus{}, Relations: map[string]map[string]hooktools.GoalStatus{}}
	status := func(u *unitState) hooktools.GoalStatus {
		if u.Life == Alive {
			return hooktools.GoalStatus{Status: "active", Since: u.WorkloadSince.UTC().Format(time.RFC3339)}
		}
		return hooktools.GoalStatus{Status: "dying", Since: u.WorkloadSince.UTC().Format(time.RFC3339)}
	}
	app := c.m.st.Apps[c.app]
	for _, n := range app.Units {
		gs.Units[n] = status(c.m.units[n])
	}
	for _, r := range c.m.relationsOfLocked(c.app) {
		if r.Peer {
			continue
		}
		ep := r.endpointOf(c.app).Endpoint
		remote := r.remoteApp(c.app)
		if gs.Relations[ep] == nil {
			gs.Relations[ep] = map[string]hooktools.GoalStatus{}
		}
		st := "joined"
		if r.Life != Alive {
			st = "dying"
		}
		gs.Relations[ep][remote] = hooktools.GoalStatus{Status: st}
		if ra := c.m.st.Apps[remote]; ra != nil {
			for _, n := range ra.Units {
				gs.Relations[ep][n] = status(c.m.units[n])
			}
		}
	}
	return gs, nil
}

// hasBinding reports whether a name is an endpoint or extra-binding of the
// charm (network-get's binding argument).
func hasBinding(meta charmdir.Metadata, name string) bool {
	for _, eps := range []map[string]charmdir.Relation{meta.Provides, meta.Requires, meta.Peers} {
		if _, ok := eps[name]; ok {
			return true
		}
	}
	for _, b := range meta.ExtraBindings {
		if b == name {
			return true
		}
	}
	return false
}
