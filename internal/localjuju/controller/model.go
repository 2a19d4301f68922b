package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/charmdir"
	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
	"github.com/pgjuju/pgjuju/internal/localjuju/names"
	"github.com/pgjuju/pgjuju/internal/localjuju/netns"
)

// Options configure a model. Zero values take the defaults.
type Options struct {
	// Home is the model's state directory.
	Home string
	// ToolsBinary is the localjuju executable that serves as every hook tool
	// and as juju-exec (dispatched by argv[0]); default: os.Executable().
	ToolsBinary string
	// UpdateStatusInterval defaults to 5m, as Juju's model config.
	UpdateStatusInterval time.Duration
	// LeaseDuration is the leadership lease; default 30s.
	LeaseDuration time.Duration
	// Subnet of the machine network; default 10.150.0.0/24.
	Subnet string
	// Logf receives progress lines (nil: discarded).
	Logf func(format string, args ...any)
	// NoAgents opens the model without starting unit agents (for destroy).
	NoAgents bool
	// AgentVersion emulates another Juju for a new model ("2.9.46": no
	// secrets, juju-run only); see SetAgentVersion.
	AgentVersion string
	// SecretRotateScale is a localjuju test knob, not a Juju setting: how
	// long one hour of secret timing lasts (rotation policies, and Juju's
	// 5-minute rotate and expire retry delays); 0 keeps real time. Expiry
	// times given to --expire are never scaled. See SetSecretRotateScale.
	SecretRotateScale time.Duration
}

// JujuVersion is the Juju version localjuju emulates by default.
const JujuVersion = "3.6.25"

// Juju29Version is the 2.9 release the model emulates with agent-version
// 2.9 (contract: "2.9 differences").
const Juju29Version = "2.9.46"

// Model is one localjuju model and its unit agents.
type Model struct {
	mu    sync.Mutex
	home  string
	opts  Options
	st    *state
	units map[string]*unitState

	charms   map[string]*charmdir.Charm
	network  *netns.Network
	machines map[int]*netns.Machine
	// machineLocks serialise hooks across the units of a machine (§1.3).
	machineLocks map[int]*sync.Mutex
	agents       map[string]*agent
	contexts     map[string]*hookContext
	log          *logBuffer
	closed       bool
	leaseStop    chan struct{}
	timings      []HookTiming
}

// Open opens the model in opts.Home, creating it (and its network) when it
// does not exist, and starts the agents of its units.
func Open(opts Options) (*Model, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("localjuju needs root: machines are network namespaces, as Juju's machine agents run as root")
	}
	if opts.Home == "" {
		return nil, errors.New("no model home given")
	}
	if opts.ToolsBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opts.ToolsBinary = exe
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(opts.Home, 0o700); err != nil {
		return nil, err
	}
	m := &Model{
		home:         opts.Home,
		opts:         opts,
		charms:       map[string]*charmdir.Charm{},
		machines:     map[int]*netns.Machine{},
		machineLocks: map[int]*sync.Mutex{},
		agents:       map[string]*agent{},
		contexts:     map[string]*hookContext{},
		leaseStop:    make(chan struct{}),
	}
	m.log = newLogBuffer(filepath.Join(opts.Home, "debug.log"))
	st, units, err := loadState(opts.Home)
	switch {
	case errors.Is(err, os.ErrNotExist):
		st, units, err = m.newState()
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	m.st, m.units = st, units
	if m.st.MachinesRoot == "" {
		m.st.MachinesRoot = filepath.Join(MachinesBase, m.st.NetNS)
	}
	if err := mkdirTraversable(m.st.MachinesRoot); err != nil {
		return nil, err
	}
	if opts.UpdateStatusInterval > 0 {
		m.st.UpdateStatusInterval = opts.UpdateStatusInterval
	}
	if opts.LeaseDuration > 0 {
		m.st.LeaseDuration = opts.LeaseDuration
	}
	if opts.SecretRotateScale > 0 {
		m.st.SecretRotateScale = opts.SecretRotateScale
	}
	if opts.AgentVersion != "" {
		if err := m.setAgentVersionLocked(opts.AgentVersion); err != nil {
			return nil, err
		}
	}
	prefix, err := netip.ParsePrefix(m.st.Subnet)
	if err != nil {
		return nil, fmt.Errorf("model subnet: %w", err)
	}
	m.network, err = netns.CreateNetwork(m.st.NetNS, prefix)
	if err != nil {
		return nil, fmt.Errorf("creating model network: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, app := range m.st.Apps {
		c, err := charmdir.Read(app.CharmDir)
		if err != nil {
			return nil, fmt.Errorf("reading charm of %s: %w", name, err)
		}
		m.charms[name] = c
	}
	for _, u := range m.sortedUnitsLocked() {
		mach, err := m.network.AddMachine(u.Machine)
		if err != nil {
			return nil, err
		}
		m.machines[u.Machine] = mach
		m.machineLocks[u.Machine] = &sync.Mutex{}
		if u.AgentStatus != "lost" && !opts.NoAgents {
			m.startAgentLocked(u)
		}
	}
	if err := m.saveLocked(); err != nil {
		return nil, err
	}
	go m.leaseLoop()
	return m, nil
}

func (m *Model) newState() (*state, map[string]*unitState, error) {
	uuid := newUUID()
	subnet := m.opts.Subnet
	if subnet == "" {
		subnet = "10.150.0.0/24"
	}
	return &state{
		UUID:                 uuid,
		Name:                 "localjuju",
		Subnet:               subnet,
		NetNS:                "lj-" + uuid[:8],
		UpdateStatusInterval: 5 * time.Minute,
		LeaseDuration:        30 * time.Second,
		NextStorage:          map[string]int{},
		Apps:                 map[string]*appState{},
		Relations:            map[int]*relationState{},
		Secrets:              map[string]*secretState{},
		Actions:              map[int]*actionState{},
	}, map[string]*unitState{}, nil
}

// UUID is the model uuid.
func (m *Model) UUID() string { return m.st.UUID }

// Home is the model home directory.
func (m *Model) Home() string { return m.home }

// Close stops the agents (their machines keep running) and saves the state.
func (m *Model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.leaseStop)
	agents := make([]*agent, 0, len(m.agents))
	for _, a := range m.agents {
		agents = append(agents, a)
	}
	err := m.saveLocked()
	m.mu.Unlock()
	for _, a := range agents {
		a.stopAndWait()
	}
	m.log.close()
	return err
}

// Destroy stops every process the model started, removes its namespaces and
// deletes its state.
func (m *Model) Destroy(ctx context.Context) error {
	m.teardownUnits(ctx)
	m.mu.Lock()
	agents := make([]*agent, 0, len(m.agents))
	for _, a := range m.agents {
		agents = append(agents, a)
	}
	m.closed = true
	m.mu.Unlock()
	for _, a := range agents {
		a.kill()
	}
	select {
	case <-m.leaseStop:
	default:
		close(m.leaseStop)
	}
	err := m.network.Destroy(ctx)
	for _, a := range agents {
		a.stopAndWait()
	}
	m.log.close()
	if err != nil {
		return fmt.Errorf("destroying model network: %w", err)
	}
	if err := os.RemoveAll(m.st.MachinesRoot); err != nil {
		return err
	}
	return os.RemoveAll(m.home)
}

// teardownUnits does what `juju destroy-model` does before anything is
// killed: every unit becomes dying and runs its teardown hooks (relations,
// storage-detaching, stop, remove) while its agent lives, so charms clean up
// after themselves. Units that cannot (machine killed or frozen, a hook in
// error) are not waited for; they die with their machines afterwards.
func (m *Model) teardownUnits(ctx context.Context) {
	const limit = 2 * time.Minute
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	m.mu.Lock()
	for _, a := range m.st.Apps {
		a.Leader = ""
	}
	for _, u := range m.units {
		u.Life = Dying
	}
	m.notifyAllLocked()
	m.mu.Unlock()
	lastReport := time.Time{}
	for {
		waiting := m.unitsTearingDown()
		if len(waiting) == 0 {
			return
		}
		if time.Since(lastReport) > 5*time.Second {
			m.logf("destroying model: waiting for %d unit(s) to run their teardown hooks: %s", len(waiting), strings.Join(waiting, " "))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			m.logf("destroying model: gave up waiting for %s", strings.Join(waiting, " "))
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// unitsTearingDown lists units whose agents can still make progress.
func (m *Model) unitsTearingDown() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, u := range m.sortedUnitsLocked() {
		a := m.agents[u.Name]
		if a == nil || !a.running() || u.AgentStatus == "error" {
			continue
		}
		out = append(out, u.Name)
	}
	return out
}

// ---- paths ----

func unitTag(unit string) string { return names.UnitTag(unit) }

// machineDir is a machine's root directory. Machines live outside the model
// home, under MachinesRoot (world-traversable, like /var/lib/juju), because
// daemons a charm runs as other users (postgres) must reach their storage and
// the charm binary, while a home made by a test's t.TempDir is private.
func (m *Model) machineDir(id int) string {
	return filepath.Join(m.st.MachinesRoot, strconv.Itoa(id))
}
func (m *Model) agentDir(u *unitState) string {
	return filepath.Join(m.machineDir(u.Machine), "agents", unitTag(u.Name))
}
func (m *Model) charmDir(u *unitState) string { return filepath.Join(m.agentDir(u), "charm") }
func (m *Model) toolsDir(u *unitState) string {
	return filepath.Join(m.machineDir(u.Machine), "tools", unitTag(u.Name))
}
func (m *Model) storageDir(u *unitState, id string) string {
	return filepath.Join(m.machineDir(u.Machine), "storage", strings.ReplaceAll(id, "/", "-"))
}

// ---- deploy, add-unit ----

// DeployArgs are the inputs of Deploy.
type DeployArgs struct {
	Charm      string // charm directory or .charm file
	App        string // default: the charm's name
	NumUnits   int    // default 1
	Config     map[string]string
	ConfigYAML []byte // juju's config file form {app: {key: value}}
	// Base is --base ("ubuntu@22.04") or --series ("jammy"); "" picks the
	// charm's first supported base.
	Base string
}

// Deploy adds an application and its units. Nothing changes on error.
func (m *Model) Deploy(args DeployArgs) error {
	src, err := filepath.Abs(args.Charm)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("charm %q: %w", args.Charm, err)
	}
	staging, err := os.MkdirTemp(m.home, "deploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	if fi.IsDir() {
		err = charmdir.CopyDir(src, staging)
	} else {
		err = charmdir.Unpack(src, staging)
	}
	if err != nil {
		return fmt.Errorf("reading charm %q: %w", args.Charm, err)
	}
	ch, err := charmdir.Read(staging)
	if err != nil {
		return fmt.Errorf("reading charm %q: %w", args.Charm, err)
	}
	if err := checkDeployable(ch, args.Base); err != nil {
		return err
	}
	app := args.App
	if app == "" {
		app = ch.Meta.Name
	}
	if !names.IsValidApplication(app) {
		return fmt.Errorf("invalid application name %q", app)
	}
	if args.NumUnits < 0 {
		return fmt.Errorf("invalid number of units %d", args.NumUnits)
	}
	if args.NumUnits == 0 {
		args.NumUnits = 1
	}
	config := map[string]any{}
	if len(args.ConfigYAML) > 0 {
		c, err := ch.Config.ParseYAMLFile(args.ConfigYAML, app)
		if err != nil {
			return err
		}
		mergeConfig(config, c)
	}
	if len(args.Config) > 0 {
		c, err := ch.Config.ParseSettings(args.Config)
		if err != nil {
			return err
		}
		mergeConfig(config, c)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("model is closed")
	}
	if _, ok := m.st.Apps[app]; ok {
		return fmt.Errorf("cannot add application %q: application already exists", app)
	}
	dest := filepath.Join(m.home, "charms", app)
	_ = os.RemoveAll(dest)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := os.Rename(staging, dest); err != nil {
		return err
	}
	ch, err = charmdir.Read(dest)
	if err != nil {
		return err
	}
	a := &appState{
		Name:           app,
		CharmDir:       dest,
		Config:         config,
		ConfigVersion:  1,
		LeaderSettings: map[string]string{},
		Status:         hooktools.StatusInfo{Status: "unknown"},
		StatusSince:    time.Now(),
		PeerRelation:   map[string]int{},
	}
	m.st.Apps[app] = a
	m.charms[app] = ch
	peers := sortedKeys(ch.Meta.Peers)
	for _, ep := range peers {
		id := m.st.NextRelation
		m.st.NextRelation++
		m.st.Relations[id] = newRelation(id, true, endpointRef{App: app, Endpoint: ep, Interface: ch.Meta.Peers[ep].Interface, Role: "peer"})
		a.PeerRelation[ep] = id
	}
	m.logf("deployed %s from %s", app, args.Charm)
	for i := 0; i < args.NumUnits; i++ {
		if _, err := m.addUnitLocked(a); err != nil {
			return err
		}
	}
	return m.saveLocked()
}

// checkDeployable refuses what localjuju cannot deploy as Juju would: a
// charm without a supported base, or not declaring the requested one
// (contract §6, manifest.yaml row), and subordinate charms, which need a
// principal unit's machine that localjuju does not model.
func checkDeployable(ch *charmdir.Charm, base string) error {
	if ch.Meta.Subordinate {
		return fmt.Errorf("cannot deploy %q: subordinate charms are not supported by localjuju", ch.Meta.Name)
	}
	if _, err := ch.SelectBase(base); err != nil {
		return err
	}
	return nil
}

func mergeConfig(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func newRelation(id int, peer bool, eps ...endpointRef) *relationState {
	return &relationState{
		ID: id, Endpoints: eps, Peer: peer, Life: Alive,
		Scope:       map[string]bool{},
		UnitBags:    map[string]map[string]string{},
		UnitVersion: map[string]int{},
		AppBags:     map[string]map[string]string{},
		AppVersion:  map[string]int{},
		Broken:      map[string]bool{},
	}
}

// AddUnit adds n units to an application.
func (m *Model) AddUnit(app string, n int) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("invalid number of units %d", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.st.Apps[app]
	if !ok {
		return nil, fmt.Errorf("application %q not found", app)
	}
	var names []string
	for i := 0; i < n; i++ {
		u, err := m.addUnitLocked(a)
		if err != nil {
			return names, err
		}
		names = append(names, u.Name)
	}
	return names, m.saveLocked()
}

func (m *Model) addUnitLocked(a *appState) (*unitState, error) {
	ch := m.charms[a.Name]
	id := m.st.NextMachine
	mach, err := m.network.AddMachine(id)
	if err != nil {
		return nil, fmt.Errorf("creating machine %d: %w", id, err)
	}
	m.st.NextMachine++
	u := &unitState{
		Name:        fmt.Sprintf("%s/%d", a.Name, a.NextUnit),
		App:         a.Name,
		Machine:     id,
		Address:     mach.Addr.String(),
		Life:        Alive,
		Workload:    hooktools.StatusInfo{Status: "waiting", Message: "waiting for machine"},
		AgentStatus: "allocating",
		CharmState:  map[string]string{},
		Local: localState{
			StorageAttached: map[string]bool{},
			ConfigVersion:   -1,
			Relations:       map[int]*localRelation{},
		},
		WorkloadSince: time.Now(),
	}
	a.NextUnit++
	for _, dir := range []string{m.agentDir(u), m.toolsDir(u)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := copyTree(a.CharmDir, m.charmDir(u)); err != nil {
		return nil, fmt.Errorf("unpacking charm for %s: %w", u.Name, err)
	}
	if err := m.writeToolsLocked(u); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(ch.Meta.Storage) {
		n := m.st.NextStorage[name]
		m.st.NextStorage[name] = n + 1
		sid := fmt.Sprintf("%s/%d", name, n)
		if err := os.MkdirAll(m.storageDir(u, sid), 0o755); err != nil {
			return nil, err
		}
		u.Storage = append(u.Storage, sid)
	}
	a.Units = append(a.Units, u.Name)
	m.units[u.Name] = u
	m.machines[id] = mach
	m.machineLocks[id] = &sync.Mutex{}
	m.logf("added unit %s on machine %d (%s)", u.Name, id, u.Address)
	m.startAgentLocked(u)
	m.electLocked(a)
	return u, nil
}

// writeToolsLocked links every hook tool and juju-exec/juju-run to the
// localjuju binary in the unit's tools directory: those of the Juju the
// model emulates (2.9: no secret-* or relation-model-get, and juju-run
// only; contract §2.2, §5).
func (m *Model) writeToolsLocked(u *unitState) error {
	dir := m.toolsDir(u)
	names := append(hooktools.Names(), "juju-exec", "juju-run")
	for _, n := range names {
		if !m.emulates3Locked() && (strings.HasPrefix(n, "secret-") || n == "relation-model-get" || n == "juju-exec") {
			continue
		}
		p := filepath.Join(dir, n)
		_ = os.Remove(p)
		if err := os.Symlink(m.opts.ToolsBinary, p); err != nil {
			return err
		}
	}
	return nil
}

// ---- remove-unit ----

// RemoveUnit marks units dying: their agents tear down relations, run
// storage-detaching, stop and remove, then the units and machines go away.
func (m *Model) RemoveUnit(units ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkUnitsLocked(units); err != nil {
		return err
	}
	for _, name := range units {
		m.markDyingLocked(m.units[name])
	}
	m.notifyAllLocked()
	return m.saveLocked()
}

// ForceRemoveUnit is `juju remove-unit --force`: a unit whose agent cannot
// run its teardown (machine killed or frozen, or stuck on a failed hook) is
// removed at once without running a hook, and the other units run
// -relation-departed for it (§3.6, §3.7). A unit whose agent works is
// removed as RemoveUnit does. Juju waits up to --max-wait for the agent
// before forcing; a stopped localjuju agent never comes back by itself, so
// there is nothing to wait for.
func (m *Model) ForceRemoveUnit(units ...string) error {
	m.mu.Lock()
	if err := m.checkUnitsLocked(units); err != nil {
		m.mu.Unlock()
		return err
	}
	var stuck []*agent
	for _, name := range units {
		u := m.units[name]
		if u == nil {
			continue // named twice
		}
		m.markDyingLocked(u)
		a := m.agents[name]
		if m.canTearDownLocked(a, u) {
			continue
		}
		if a != nil {
			stuck = append(stuck, a)
		}
		m.logf("forcing removal of %s", name)
		m.unitDoneLocked(u)
	}
	err := m.saveLocked()
	m.mu.Unlock()
	// A stuck agent may be waiting on a hook process; killing it ends both
	// (the machine itself is destroyed by unitDoneLocked).
	for _, a := range stuck {
		a.kill()
	}
	return err
}

// canTearDownLocked tells whether the unit's agent can run hooks: it is
// running and not stuck on a failed hook.
func (m *Model) canTearDownLocked(a *agent, u *unitState) bool {
	return a != nil && a.running() && u.Local.FailedHook == nil
}

func (m *Model) checkUnitsLocked(units []string) error {
	for _, name := range units {
		if !names.IsValidUnit(name) {
			return fmt.Errorf("invalid unit name %q", name)
		}
		if _, ok := m.units[name]; !ok {
			return fmt.Errorf("unit %q not found", name)
		}
	}
	return nil
}

// markDyingLocked makes a live unit dying; a dying leader resigns without a
// hook (§3.8).
func (m *Model) markDyingLocked(u *unitState) {
	if u.Life != Alive {
		return
	}
	u.Life = Dying
	a := m.st.Apps[u.App]
	if a.Leader == u.Name {
		a.Leader = ""
		m.electLocked(a)
	}
	m.logf("removing unit %s", u.Name)
}

// unitDoneLocked removes a unit whose agent ran remove, or whose removal
// was forced; the other units see it leave every relation scope.
func (m *Model) unitDoneLocked(u *unitState) {
	a := m.st.Apps[u.App]
	for i, n := range a.Units {
		if n == u.Name {
			a.Units = append(a.Units[:i], a.Units[i+1:]...)
			break
		}
	}
	for _, r := range m.st.Relations {
		delete(r.Scope, u.Name)
		delete(r.Broken, u.Name)
	}
	delete(m.units, u.Name)
	delete(m.agents, u.Name)
	mach := m.machines[u.Machine]
	delete(m.machines, u.Machine)
	m.logf("unit %s removed", u.Name)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if mach != nil {
			if err := mach.Destroy(ctx); err != nil {
				m.logf("destroying machine %d: %v", u.Machine, err)
			}
		}
	}()
	m.cleanupRelationsLocked()
	m.notifyAllLocked()
}

// ---- integrate, remove-relation ----

// Integrate relates two applications. Each side is app or app:endpoint.
func (m *Model) Integrate(a, b string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	epA, epB, err := m.matchEndpointsLocked(a, b)
	if err != nil {
		return 0, err
	}
	for _, r := range m.st.Relations {
		if r.Peer || r.Life != Alive {
			continue
		}
		if sameEndpoints(r.Endpoints, epA, epB) {
			return 0, fmt.Errorf("cannot add relation \"%s:%s %s:%s\": relation %s:%s %s:%s already exists",
				epA.App, epA.Endpoint, epB.App, epB.Endpoint, epA.App, epA.Endpoint, epB.App, epB.Endpoint)
		}
	}
	// Juju orders a relation's endpoints provider first.
	if epA.Role == "requirer" {
		epA, epB = epB, epA
	}
	if err := m.checkLimitsLocked(epA, epB); err != nil {
		return 0, err
	}
	id := m.st.NextRelation
	m.st.NextRelation++
	m.st.Relations[id] = newRelation(id, false, epA, epB)
	m.logf("integrated %s:%s and %s:%s (relation %d)", epA.App, epA.Endpoint, epB.App, epB.Endpoint, id)
	m.notifyAllLocked()
	return id, m.saveLocked()
}

// checkLimitsLocked enforces each endpoint's metadata "limit": the number
// of relations it may be in, dying ones included, as Juju's AddRelation
// counts them (juju/juju 3.6: state/relation.go enforceMaxRelationLimit).
// The message is Juju's, annotated with the relation key.
func (m *Model) checkLimitsLocked(provider, requirer endpointRef) error {
	key := relationKey(&relationState{Endpoints: []endpointRef{provider, requirer}})
	for _, ep := range []endpointRef{requirer, provider} {
		limit := m.charms[ep.App].Meta.Relations()[ep.Endpoint].Limit
		if limit <= 0 {
			continue
		}
		n := 0
		for _, r := range m.st.Relations {
			if !r.Peer && r.endpointOf(ep.App).Endpoint == ep.Endpoint {
				n++
			}
		}
		if n+1 > limit {
			return fmt.Errorf("cannot add relation %q: establishing a new relation for %s:%s would exceed its maximum relation limit of %d (quota limit exceeded)",
				key, ep.App, ep.Endpoint, limit)
		}
	}
	return nil
}

func sameEndpoints(eps []endpointRef, a, b endpointRef) bool {
	if len(eps) != 2 {
		return false
	}
	key := func(e endpointRef) string { return e.App + ":" + e.Endpoint }
	return (key(eps[0]) == key(a) && key(eps[1]) == key(b)) || (key(eps[0]) == key(b) && key(eps[1]) == key(a))
}

func (m *Model) endpointsOf(app string) ([]endpointRef, error) {
	ch, ok := m.charms[app]
	if !ok {
		return nil, fmt.Errorf("application %q not found", app)
	}
	var eps []endpointRef
	for name, ep := range ch.Meta.Provides {
		eps = append(eps, endpointRef{App: app, Endpoint: name, Interface: ep.Interface, Role: "provider"})
	}
	for name, ep := range ch.Meta.Requires {
		eps = append(eps, endpointRef{App: app, Endpoint: name, Interface: ep.Interface, Role: "requirer"})
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Endpoint < eps[j].Endpoint })
	return eps, nil
}

func (m *Model) matchEndpointsLocked(a, b string) (endpointRef, endpointRef, error) {
	parse := func(s string) (string, string, []endpointRef, error) {
		app, ep, _ := strings.Cut(s, ":")
		eps, err := m.endpointsOf(app)
		if err != nil {
			return "", "", nil, err
		}
		if ep != "" {
			found := false
			for _, e := range eps {
				found = found || e.Endpoint == ep
			}
			if !found {
				if _, peer := m.charms[app].Meta.Peers[ep]; peer {
					return "", "", nil, fmt.Errorf("endpoint %q of application %q is a peer relation", ep, app)
				}
				return "", "", nil, fmt.Errorf("application %q has no %q relation", app, ep)
			}
		}
		return app, ep, eps, nil
	}
	appA, nameA, epsA, err := parse(a)
	if err != nil {
		return endpointRef{}, endpointRef{}, err
	}
	appB, nameB, epsB, err := parse(b)
	if err != nil {
		return endpointRef{}, endpointRef{}, err
	}
	if appA == appB {
		return endpointRef{}, endpointRef{}, fmt.Errorf("cannot relate application %q to itself", appA)
	}
	var candidates [][2]endpointRef
	for _, x := range epsA {
		if nameA != "" && x.Endpoint != nameA {
			continue
		}
		for _, y := range epsB {
			if nameB != "" && y.Endpoint != nameB {
				continue
			}
			if x.Interface == y.Interface && x.Role != y.Role {
				candidates = append(candidates, [2]endpointRef{x, y})
			}
		}
	}
	switch len(candidates) {
	case 0:
		return endpointRef{}, endpointRef{}, fmt.Errorf("no relations found between %q and %q: no matching interfaces", a, b)
	case 1:
		return candidates[0][0], candidates[0][1], nil
	default:
		var opts []string
		for _, c := range candidates {
			opts = append(opts, fmt.Sprintf("%s:%s %s:%s", c[0].App, c[0].Endpoint, c[1].App, c[1].Endpoint))
		}
		return endpointRef{}, endpointRef{}, fmt.Errorf("ambiguous relation: %q %q could refer to %s", a, b, strings.Join(opts, "; "))
	}
}

// RemoveRelation removes the relation between two applications (each side
// app or app:endpoint), or by id when a is a number and b is empty.
func (m *Model) RemoveRelation(a, b string) error { return m.removeRelation(a, b, false) }

// ForceRemoveRelation is `juju remove-relation --force`: units whose agent
// cannot run hooks (machine killed or frozen, stuck on a failed hook) are
// taken out of the relation without -departed and -broken, so the relation
// goes once the others have run theirs.
func (m *Model) ForceRemoveRelation(a, b string) error { return m.removeRelation(a, b, true) }

func (m *Model) removeRelation(a, b string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rel *relationState
	if id, err := strconv.Atoi(a); err == nil && b == "" {
		rel = m.st.Relations[id]
		if rel == nil || rel.Peer {
			return fmt.Errorf("relation %d not found", id)
		}
	} else {
		epA, epB, err := m.matchExistingLocked(a, b)
		if err != nil {
			return err
		}
		for _, r := range m.st.Relations {
			if !r.Peer && sameEndpoints(r.Endpoints, epA, epB) {
				rel = r
			}
		}
		if rel == nil {
			return fmt.Errorf("relation %q %q not found", a, b)
		}
	}
	if rel.Life == Alive {
		rel.Life = Dying
		m.logf("removing relation %d", rel.ID)
	}
	if force {
		m.forceOutOfRelationLocked(rel)
	}
	m.notifyAllLocked()
	return m.saveLocked()
}

// forceOutOfRelationLocked marks the relation done for every unit that
// cannot run its teardown hooks, then deletes it if nobody else is left.
func (m *Model) forceOutOfRelationLocked(r *relationState) {
	for _, ep := range r.Endpoints {
		app := m.st.Apps[ep.App]
		if app == nil {
			continue
		}
		for _, name := range app.Units {
			u := m.units[name]
			if u == nil || u.Local.Relations[r.ID] == nil || m.canTearDownLocked(m.agents[name], u) {
				continue
			}
			delete(u.Local.Relations, r.ID)
			delete(r.Scope, name)
			r.Broken[name] = true
			m.logf("forcing %s out of relation %d", name, r.ID)
		}
	}
	m.cleanupRelationsLocked()
}

func (m *Model) matchExistingLocked(a, b string) (endpointRef, endpointRef, error) {
	appA, nameA, _ := strings.Cut(a, ":")
	appB, nameB, _ := strings.Cut(b, ":")
	for _, app := range []string{appA, appB} {
		if _, ok := m.st.Apps[app]; !ok {
			return endpointRef{}, endpointRef{}, fmt.Errorf("application %q not found", app)
		}
	}
	for _, r := range m.st.Relations {
		if r.Peer || len(r.Endpoints) != 2 {
			continue
		}
		for _, pair := range [][2]endpointRef{{r.Endpoints[0], r.Endpoints[1]}, {r.Endpoints[1], r.Endpoints[0]}} {
			if pair[0].App == appA && pair[1].App == appB &&
				(nameA == "" || pair[0].Endpoint == nameA) && (nameB == "" || pair[1].Endpoint == nameB) {
				return pair[0], pair[1], nil
			}
		}
	}
	return endpointRef{}, endpointRef{}, fmt.Errorf("relation %q %q not found", a, b)
}

// cleanupRelationsLocked deletes dying relations every unit has left.
func (m *Model) cleanupRelationsLocked() {
	for id, r := range m.st.Relations {
		if r.Peer {
			if _, ok := m.st.Apps[r.Endpoints[0].App]; !ok {
				delete(m.st.Relations, id)
			}
			continue
		}
		if r.Life == Alive {
			continue
		}
		done := true
		for _, ep := range r.Endpoints {
			a := m.st.Apps[ep.App]
			if a == nil {
				continue
			}
			for _, un := range a.Units {
				u := m.units[un]
				if u != nil && u.Local.Relations[id] != nil && u.Local.Relations[id].Created && !r.Broken[un] {
					done = false
				}
			}
		}
		if done {
			delete(m.st.Relations, id)
			m.logf("relation %d removed", id)
		}
	}
}

// ---- config ----

// SetConfig sets (or, with an empty value, resets) application config.
func (m *Model) SetConfig(app string, kv map[string]string, yamlFile []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.st.Apps[app]
	if !ok {
		return fmt.Errorf("application %q not found", app)
	}
	ch := m.charms[app]
	next := map[string]any{}
	mergeConfig(next, a.Config)
	if len(yamlFile) > 0 {
		c, err := ch.Config.ParseYAMLFile(yamlFile, app)
		if err != nil {
			return err
		}
		mergeConfig(next, c)
	}
	if len(kv) > 0 {
		c, err := ch.Config.ParseSettings(kv)
		if err != nil {
			return err
		}
		mergeConfig(next, c)
	}
	if fmt.Sprint(ch.Config.Effective(next, true)) == fmt.Sprint(ch.Config.Effective(a.Config, true)) {
		a.Config = next
		return m.saveLocked()
	}
	a.Config = next
	a.ConfigVersion++
	m.logf("config of %s changed", app)
	m.notifyAllLocked()
	return m.saveLocked()
}

// Config returns the effective config of an application, or one value.
func (m *Model) Config(app string) (map[string]any, map[string]charmdir.Option, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.st.Apps[app]
	if !ok {
		return nil, nil, fmt.Errorf("application %q not found", app)
	}
	ch := m.charms[app]
	return ch.Config.Effective(a.Config, true), ch.Config.Options, nil
}

// SetModelConfig sets the update-status interval or lease duration.
func (m *Model) SetModelConfig(updateStatus, lease time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if updateStatus > 0 {
		m.st.UpdateStatusInterval = updateStatus
		for _, u := range m.units {
			u.Local.UpdateStatusNext = time.Time{}
		}
	}
	if lease > 0 {
		m.st.LeaseDuration = lease
	}
	m.notifyAllLocked()
	return m.saveLocked()
}

// RunUpdateStatus makes one unit's update-status timer due now, as if its
// update-status-hook-interval had just elapsed: the agent runs update-status
// at its next idle point (never ahead of pending hooks, §3.8) and restarts
// the timer from there. A test and benchmark knob (Juju has no command that
// runs one update-status); other units' timers are left alone.
func (m *Model) RunUpdateStatus(unit string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.units[unit]
	if !ok {
		return fmt.Errorf("unit %q not found", unit)
	}
	u.Local.UpdateStatusNext = time.Now()
	if a := m.agents[unit]; a != nil {
		a.poke()
	}
	return m.saveLocked()
}

// SetAgentVersion makes the model emulate another Juju: "3.6" (the
// default) or "2.9" (a full version of either series is accepted and
// kept). Only before the first deploy: localjuju has no upgrade-model.
func (m *Model) SetAgentVersion(v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.st.Apps) > 0 {
		return fmt.Errorf("agent-version can only be set before the first deploy (localjuju has no upgrade-model)")
	}
	if err := m.setAgentVersionLocked(v); err != nil {
		return err
	}
	return m.saveLocked()
}

func (m *Model) setAgentVersionLocked(v string) error {
	switch {
	case v == "2.9":
		v = Juju29Version
	case v == "3.6":
		v = JujuVersion
	case agentVersionRE.MatchString(v):
	default:
		return fmt.Errorf("invalid agent-version %q: want 2.9, 3.6 or a full version such as %s", v, Juju29Version)
	}
	m.st.AgentVersion = v
	return nil
}

var agentVersionRE = regexp.MustCompile(`^(2\.9|3\.[0-6])\.[0-9]+$`)

// jujuVersionLocked is JUJU_VERSION for the model's hooks.
func (m *Model) jujuVersionLocked() string {
	if m.st.AgentVersion != "" {
		return m.st.AgentVersion
	}
	return JujuVersion
}

// emulates3Locked says whether the model emulates Juju 3 (secrets,
// juju-exec) rather than 2.9.
func (m *Model) emulates3Locked() bool { return !strings.HasPrefix(m.jujuVersionLocked(), "2.") }

// ---- helpers ----

func (m *Model) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.log.add(logLine{Time: time.Now(), Entity: "controller", Level: "INFO", Message: msg})
	m.opts.Logf("%s", msg)
}

func (m *Model) sortedUnitsLocked() []*unitState {
	var us []*unitState
	for _, u := range m.units {
		us = append(us, u)
	}
	sort.Slice(us, func(i, j int) bool { return unitLess(us[i].Name, us[j].Name) })
	return us
}

// unitLess orders unit names by application, then number.
func unitLess(a, b string) bool {
	aa, an, _ := strings.Cut(a, "/")
	ba, bn, _ := strings.Cut(b, "/")
	if aa != ba {
		return aa < ba
	}
	ai, _ := strconv.Atoi(an)
	bi, _ := strconv.Atoi(bn)
	return ai < bi
}

func sortUnits(us []string) { sort.Slice(us, func(i, j int) bool { return unitLess(us[i], us[j]) }) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// copyTree copies an unpacked charm directory file by file, keeping modes and
// (already validated, in-tree) symlinks. Units get their charm this way: the
// application's copy was checked when it was unpacked, and repacking a large
// binary for every unit would cost seconds.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
	})
}

// MachinesBase holds every model's machine directories.
const MachinesBase = "/var/lib/localjuju"

// mkdirTraversable creates dir and its missing parents with mode 0755.
func mkdirTraversable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}
