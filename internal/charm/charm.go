package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// PeerEndpoint is the peer relation of the application's units.
const PeerEndpoint = keys.PeerEndpoint

// leaderDownKey (unit state): when this member was first seen holding the
// leader key with PostgreSQL down (RFC 3339; cluster.DecideLeaderGuard).
const leaderDownKey keys.State = "leader-down-since"

// etcdAuthKey (unit state): this unit enabled etcd authentication.
const etcdAuthKey keys.State = "etcd-auth"

// Overrides are what an action hands the pass it runs: values it set
// earlier in the same dispatch, which Juju commits only when the action
// ends, so the hook tools still return the old ones.
type Overrides struct {
	// SystemUsers is the system-users secret's content (set-password).
	SystemUsers map[string]string
	// ClientPasswords are relation users' passwords by relation id
	// (rotate-relation-password).
	ClientPasswords map[string]string
}

// Workload is the charm's effects on its machine: the instance's
// packages, services and server, and the cluster's etcd.
type Workload interface {
	instance.Packages
	instance.Services
	instance.Server
	cluster.EtcdEffects
}

// Charm holds the handlers' dependencies.
type Charm struct {
	Workload Workload
	// Clock times every wait; nil is the wall clock.
	Clock clock.Clock
	// ClientDB runs the client relations' SQL; nil means clients.Postgres.
	ClientDB clients.Database
}

// Register wires the charm's handlers into d with the real workload.
func Register(d *juju.Dispatcher) {
	self := []string{"/proc/self/exe", "supervise"}
	if exe, err := os.Executable(); err == nil {
		self = []string{exe, "supervise"}
	}
	(&Charm{Workload: &instance.System{Self: self}}).Register(d)
}

// Register wires the handlers into d.
func (c *Charm) Register(d *juju.Dispatcher) {
	d.HandleHook("stop", c.stop)
	d.HandleHook("remove", c.remove)
	creds := credentials.Actions{Unit: credentialUnit{c}, Clock: c.Clock}
	d.HandleHook("secret-remove", credentials.SecretRemove)
	d.HandleAction("get-password", creds.GetPassword)
	d.HandleAction("set-password", creds.SetPassword)
	d.HandleAction("get-primary", c.getPrimary)
	d.HandleAction("restart", c.restartAction)
	d.HandleAction("reload", c.reloadAction)
	rotate := clients.RotateAction{Pass: clientPass{c}, DB: c.clientDB()}
	d.HandleAction("rotate-relation-password", rotate.Run)
	// install, start, config-changed, leader-elected, upgrade-charm,
	// update-status, peer and secret events: the one reconcile pass.
	d.HandleOther(c.reconcile)
}

// RunSubcommand handles the charm binary's non-hook roles: "supervise
// <spec>" (the daemon supervisor) and "observe ..." (the role observer).
// The main function calls it first; ok is false for anything else.
func RunSubcommand(args []string) (code int, ok bool) {
	if len(args) < 2 {
		return 0, false
	}
	switch args[1] {
	case "supervise":
		if len(args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: dispatch supervise <spec.json>")
			return 2, true
		}
		return service.RunSupervisor(args[2]), true
	case "observe":
		return observer.Run(args[2:], os.Stderr), true
	}
	return 0, false
}

// reconcile is the one-hook-one-pass handler.
func (c *Charm) reconcile(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	return c.pass(ctx, h, m, Overrides{})
}

// maxRounds bounds the rounds of a pass. A round reads the hook's state
// once, decides and applies; another round runs only when the steps
// changed what a read sees: packages installed (the server's catalogue
// can be read), the system users created, an etcd learner promoted (a
// waiting peer can be added), at most twice; and once more when client
// relations waited for the PostgreSQL this pass started.
const maxRounds = 4

// pass is read → Decide → apply, in rounds (maxRounds), then the client
// relations' part once, then what Patroni reports (role, version, the
// leader guard), the buffered writes and the status, once.
func (c *Charm) pass(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides) error {
	w := &keys.Writes{}
	snap, pl, changed, err := c.converge(ctx, h, m, ov, w)
	if err != nil {
		return err
	}
	if pl.Status.Level == "" && !pl.Joining {
		if err := c.serveClients(ctx, h, m, snap, pl, ov, w); err != nil {
			return err
		}
	}
	node, err := c.observe(ctx, h, snap, pl, changed, w)
	if err != nil {
		return err
	}
	if err := w.Flush(ctx, h.Backend, snap.peers); err != nil {
		return err
	}
	h.Status.Add(DecideStatus(pl, node))
	return nil
}

// converge runs the rounds of a pass; it returns the last round's
// snapshot and plan, and whether any step changed something.
func (c *Charm) converge(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides, w *keys.Writes) (Snapshot, Plan, bool, error) {
	prog := &progressReporter{}
	waitedForClients, changed := false, false
	for round := 0; ; round++ {
		snap, err := c.snapshot(ctx, h, m, ov)
		if err != nil {
			return snap, Plan{}, changed, err
		}
		pl := Decide(snap)
		logPlan(ctx, h, pl)
		if err := c.publishSelf(ctx, snap, w); err != nil {
			return snap, pl, changed, err
		}
		ch, err := c.apply(ctx, h, m, snap, pl, prog, w)
		if err == nil {
			err = w.Flush(ctx, h.Backend, snap.peers)
		}
		if err != nil {
			return snap, pl, changed, err
		}
		changed = changed || ch
		if round+1 >= maxRounds {
			return snap, pl, changed, nil
		}
		if pl.Again && round < 2 {
			continue
		}
		if pl.Status.Level == "" && pl.Clients.NeedFacts && snap.Clients.Server == nil && !waitedForClients && !pl.Joining {
			waitedForClients = true
			if node := c.waitPatroni(ctx, pl.Config, 60*time.Second); node != nil && node.State == patroni.StateRunning {
				continue
			}
		}
		return snap, pl, changed, nil
	}
}

// logPlan logs the planned steps in one line: every juju-log is a hook
// tool call.
func logPlan(ctx context.Context, h *juju.Hook, pl Plan) {
	if !h.Log.Enabled(ctx, slog.LevelDebug) || len(pl.Steps) == 0 {
		return
	}
	steps := make([]string, len(pl.Steps))
	for i, st := range pl.Steps {
		steps[i] = string(st.Kind) + " (" + st.Reason + ")"
	}
	h.Log.Debug("planned steps", "steps", strings.Join(steps, "; "))
}

// publishSelf writes what the read found missing: the unit's address for
// its peers (once; unit state remembers it) and, on the leader, the
// system-users secret's id when it was created before the peer relation.
func (c *Charm) publishSelf(ctx context.Context, s Snapshot, w *keys.Writes) error {
	if s.publishAddress {
		addr := s.Address.String()
		w.SetPeerUnit(instance.AddressKey, addr)
		w.SetState(instance.PublishedAddressKey, addr)
	}
	if s.shareSystemUsers {
		return s.vault.Share(ctx, credentials.SystemUsersDoc)
	}
	return nil
}

// observe reads this member from Patroni after the steps and acts on what
// it says: the leader guard (update-status), the role for the peers, the
// workload version. nil when Patroni did not answer (or the plan stopped
// short of running it).
func (c *Charm) observe(ctx context.Context, h *juju.Hook, snap Snapshot, pl Plan, changed bool, w *keys.Writes) (*patroni.NodeStatus, error) {
	if pl.Status.Level != "" || pl.Config.Unit == "" {
		return nil, nil
	}
	// After changes, give PostgreSQL time to come up; a pass that changed
	// nothing only reads (update-status must not block a minute on a
	// member that is down).
	wait := 60 * time.Second
	if !changed || pl.Joining {
		wait = 0
	}
	node := c.waitPatroni(ctx, pl.Config, wait)
	if h.Event.Name == "update-status" {
		if err := c.guardLeader(ctx, h, pl.Config, node, snap.leaderDownSince, w); err != nil {
			return node, err
		}
	}
	cluster.PublishRole(node, snap.peers != nil, snap.publishedRole, w)
	if node != nil && node.ServerVersion > 0 {
		v := fmt.Sprintf("%d.%d", node.ServerVersion/10000, node.ServerVersion%10000)
		if v != snap.workloadVersion {
			if err := h.Backend.ApplicationVersionSet(ctx, v); err != nil {
				h.Log.Warn("setting workload version", "err", err)
			} else {
				w.SetState(instance.VersionKey, v)
			}
		}
	}
	return node, nil
}

// waitPatroni polls this member's Patroni until it reports PostgreSQL
// running, or the timeout passes; nil if it never answered.
func (c *Charm) waitPatroni(ctx context.Context, cfg pgconf.UnitConfig, timeout time.Duration) *patroni.NodeStatus {
	return patroni.WaitMemberRunning(ctx, clock.Or(c.Clock), c.Workload.Patroni(cfg), pgconf.UnitSlug(cfg.Unit), timeout)
}

// guardLeader applies DecideLeaderGuard in update-status: it remembers
// when this member was first seen holding the leader key with PostgreSQL
// down, and restarts its Patroni when that lasts (Patroni 3.0.2 bug).
func (c *Charm) guardLeader(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig, node *patroni.NodeStatus, downSince time.Time, w *keys.Writes) error {
	in := cluster.LeaderGuardInput{Member: pgconf.UnitSlug(cfg.Unit), Node: node, DownSince: downSince, Now: clock.Or(c.Clock).Now()}
	if node != nil {
		if cl, err := c.Workload.Patroni(cfg).Cluster(ctx); err == nil {
			in.Cluster = &cl
		}
	}
	g := cluster.DecideLeaderGuard(in)
	if g.Reason != "" {
		h.Log.Warn("leader guard", "why", g.Reason)
	}
	if !g.DownSince.Equal(downSince) {
		v := ""
		if !g.DownSince.IsZero() {
			v = g.DownSince.UTC().Format(time.RFC3339)
		}
		w.SetState(leaderDownKey, v)
	}
	if g.RestartPatroni {
		if err := c.Workload.RestartPatroniService(ctx, h.Env.ModelUUID, cfg.Unit); err != nil {
			return fmt.Errorf("restarting Patroni: %w", err)
		}
		h.Status.Add(juju.Maintenance("restarted Patroni: it held the leader key with PostgreSQL down"))
	}
	return nil
}

// snapshot reads everything Decide needs, once per round: the machine,
// the unit's state, the peers (with the credentials) and the client
// relations. It writes nothing.
func (c *Charm) snapshot(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides) (Snapshot, error) {
	s := Snapshot{Model: h.Env.ModelUUID, Unit: m.Unit(), App: m.App()}
	var err error
	if s.Leader, err = m.IsLeader(ctx); err != nil {
		return s, err
	}
	if exe, err := os.Executable(); err == nil {
		s.CharmBinary = exe
	} else {
		s.CharmBinary = filepath.Join(h.Env.CharmDir, "dispatch")
	}
	s.JujuExec = observer.FindJujuExec()
	cfg, err := m.Config(ctx)
	if err != nil {
		return s, err
	}
	s.Options = instance.OptionsFromConfig(cfg)
	s.MissingPackages = c.Workload.MissingPackages(ctx)
	if len(s.MissingPackages) > 0 {
		return s, nil
	}
	state, err := c.readMachine(ctx, h, m, &s)
	if err != nil {
		return s, err
	}
	if err := c.readPeers(ctx, h, m, ov, state, &s); err != nil {
		return s, err
	}
	if err := c.readClients(ctx, h, m, &s); err != nil {
		return s, fmt.Errorf("reading client relations: %w", err)
	}
	return s, nil
}

// readMachine reads the installed server, the storage, the address and
// the unit's state, and has the server check changed extra_pg_conf
// values; it returns the unit's state.
func (c *Charm) readMachine(ctx context.Context, h *juju.Hook, m *model.Model, s *Snapshot) (map[keys.State]string, error) {
	var err error
	s.PGVersion = c.Workload.PGVersion()
	if s.Catalogue, err = c.Workload.Catalogue(ctx, s.PGVersion); err != nil {
		return nil, err
	}
	s.MemBytes = c.Workload.MemBytes()
	if loc, err := m.StorageLocation(ctx, "pgdata"); err == nil {
		s.Storage = loc
	} else if !errors.Is(err, juju.ErrNotFound) {
		return nil, err
	}
	if s.Address, err = unitAddress(ctx, h.Backend); err != nil {
		h.Log.Warn("reading unit address", "err", err)
	}
	raw, err := h.Backend.StateGet(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading unit state: %w", err)
	}
	state := keys.Typed[keys.State](raw)
	readState(h, state, s)
	// The server checks extra_pg_conf's values before they are applied
	// (a value it refuses would stop it at the next restart); a steady
	// pass, with nothing changed, runs no check.
	if params := instance.ParametersToCheck(s.Options.ExtraPgConf, s.Catalogue, s.Applied); len(params) > 0 {
		var pe *instance.ParameterError
		if err := c.Workload.CheckParameters(ctx, s.PGVersion, params); errors.As(err, &pe) {
			s.ParameterProblem = pe.Message
		} else if err != nil {
			return nil, fmt.Errorf("checking extra_pg_conf: %w", err)
		}
	}
	if len(s.Applied) == 0 {
		// Only initdb uses the locale: read the machine's before the
		// first bootstrap. Not knowing them leaves the check to initdb.
		if s.Locales, err = c.Workload.Locales(ctx); err != nil {
			h.Log.Warn("listing locales", "err", err)
			s.Locales = nil
		}
	}
	return state, nil
}

// readState fills the snapshot from the unit's state.
func readState(h *juju.Hook, state map[keys.State]string, s *Snapshot) {
	s.workloadVersion = state[instance.VersionKey]
	clients.ReadState(h.Log, state, &s.Clients)
	instance.ReadState(h.Log, state, &s.Facts)
	s.EtcdAuthEnabled = state[etcdAuthKey] != ""
	s.EtcdStartedPublished = state[cluster.EtcdStartedStateKey] != ""
	s.publishedRole = state[cluster.RoleStateKey]
	// A unit leaves the cluster in its own peer -relation-departed hook
	// (remove-unit), and stays out for the rest of its teardown.
	s.Departing = state[cluster.LeavingKey] != "" || (h.Event.Kind == juju.KindRelationDeparted &&
		h.Event.Endpoint == PeerEndpoint && h.Env.DepartingUnit == h.Env.UnitName)
	s.leaderDownSince, _ = time.Parse(time.RFC3339, state[leaderDownKey])
}

// readPeers reads the peer relation and its databags, once for the whole
// snapshot, and the credentials kept there.
func (c *Charm) readPeers(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides, state map[keys.State]string, s *Snapshot) error {
	var err error
	if s.peers, err = m.PeerRelation(ctx, PeerEndpoint); err != nil {
		return err
	}
	s.peerApp = map[string]string{}
	if s.peers != nil {
		bag, err := s.peers.LocalAppData(ctx)
		if err != nil {
			return err
		}
		if app := bag.Map(); app != nil {
			s.peerApp = app
		}
	}
	if err := c.readPasswords(ctx, h, m, ov, s); err != nil {
		return err
	}
	if s.peers == nil {
		return nil
	}
	s.PeerRelation = true
	s.EtcdMembers = cluster.ParseMembers(s.peerApp[string(cluster.MembersKey)])
	for _, u := range s.peers.Units {
		bag, err := s.peers.UnitData(ctx, u)
		if err != nil {
			continue
		}
		readPeerUnit(u, bag.Map(), s)
	}
	// The address is published once; unit state remembers it, so a
	// steady pass reads and writes nothing.
	s.publishAddress = s.Address.IsValid() && state[instance.PublishedAddressKey] != s.Address.String()
	return nil
}

// readPeerUnit fills the snapshot from one peer's unit databag.
func readPeerUnit(u string, bag map[string]string, s *Snapshot) {
	if a, err := netip.ParseAddr(bag[string(instance.AddressKey)]); err == nil {
		s.Peers = append(s.Peers, pgconf.Member{Unit: u, Address: a})
	}
	clients.ReadPeerUnit(u, bag, &s.Clients)
	if bag[string(cluster.EtcdStartedKey)] != "" {
		if s.PeerEtcdStarted == nil {
			s.PeerEtcdStarted = map[string]bool{}
		}
		s.PeerEtcdStarted[u] = true
	}
}

// unitAddress is the unit's ingress address on the peer binding, falling
// back to unit-get private-address.
func unitAddress(ctx context.Context, b juju.Backend) (netip.Addr, error) {
	if ni, err := b.NetworkGet(ctx, PeerEndpoint, ""); err == nil {
		for _, s := range []string{ni.BindAddress(), ni.IngressAddress()} {
			if a, err := netip.ParseAddr(s); err == nil {
				return a, nil
			}
		}
	}
	s, err := b.UnitGet(ctx, "private-address")
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(s)
}

// progressReporter shows a long step while it runs. It is the one,
// narrow exception to "status once per dispatch" (DESIGN §4): issue 3
// asks config-changed to say whether it reloads or restarts PostgreSQL
// while it happens, and a restart, a bootstrap or a package install takes
// seconds to minutes. Before such a step (one whose Step.Progress is set
// by Decide) the apply loop sets an immediate maintenance status naming
// the step and its reason; the final status is still computed once at the
// end of the dispatch and replaces it. Nothing but apply reports progress.
type progressReporter struct {
	last string
}

// report sets msg as a maintenance status unless it is the one shown. A
// failure only costs the message.
func (p *progressReporter) report(ctx context.Context, h *juju.Hook, msg string) {
	if msg == "" || msg == p.last {
		return
	}
	p.last = msg
	h.Log.Info("in progress", "status", msg)
	if err := h.Backend.StatusSet(ctx, juju.Maintenance(msg), false); err != nil {
		h.Log.Warn("setting progress status", "err", err)
	}
}

// apply runs a plan's steps in order; the first failure fails the hook
// (Juju retries it), except that what a user can fix never gets here.
// Long steps are announced through prog.
func (c *Charm) apply(ctx context.Context, h *juju.Hook, m *model.Model, snap Snapshot, pl Plan, prog *progressReporter, w *keys.Writes) (bool, error) {
	a := &applier{c: c, h: h, m: m, cfg: pl.Config, w: w}
	anyChanged := false
	for _, st := range pl.Steps {
		if !(st.Kind == plan.Reload && a.reloaded) {
			prog.report(ctx, h, st.Progress)
		}
		changed, err := a.step(ctx, st)
		if err != nil {
			return anyChanged, fmt.Errorf("%s (%s): %w", st.Kind, st.Reason, err)
		}
		if changed {
			anyChanged = true
			h.Log.Info("applied step", "step", string(st.Kind), "reason", st.Reason)
		}
	}
	return anyChanged, nil
}

// applier runs one plan's steps.
type applier struct {
	c   *Charm
	h   *juju.Hook
	m   *model.Model
	cfg pgconf.UnitConfig
	w   *keys.Writes
	// filesChanged makes a running Patroni re-read patroni.yml: pg_hba
	// rules and passwords change no parameter, so no reload step covers
	// them. reloaded: Patroni reloaded in this plan already.
	filesChanged, reloaded bool
}

// step runs one step; changed says whether it changed anything.
func (a *applier) step(ctx context.Context, st plan.Step) (changed bool, err error) {
	wl, cfg := a.c.Workload, a.cfg
	switch st.Kind {
	case plan.InstallPackages:
		err = wl.InstallPackages(ctx, st.Packages)
		return err == nil, err
	case plan.CreateSecret:
		return a.createSystemUsers(ctx)
	case plan.WriteFiles:
		changed, err = wl.WriteFiles(ctx, cfg)
		a.filesChanged = changed
		return changed, err
	case plan.StartEtcd:
		return wl.StartEtcd(ctx, cfg)
	case plan.EnsureEtcdAuth:
		if changed, err = wl.EnsureEtcdAuth(ctx, cfg); err == nil {
			a.w.SetState(etcdAuthKey, "enabled")
		}
		return changed, err
	case plan.StartPatroni:
		return a.startPatroni(ctx)
	case plan.PatchDCS:
		return a.patchDCS(ctx, st.DCSParameters)
	case plan.Reload:
		return a.reload(ctx)
	case plan.Restart:
		err = patroni.RestartWhenPending(ctx, clock.Or(a.c.Clock), wl.Patroni(cfg), 15*time.Second)
		return err == nil, err
	case plan.OpenPort:
		err = openPort(ctx, a.h, st.Port, st.ClosePort, a.w)
		return err == nil, err
	case plan.SaveApplied:
		data, _ := json.Marshal(st.Applied)
		a.w.SetState(instance.AppliedKey, string(data))
		return false, nil
	}
	return a.clusterStep(ctx, st)
}

// clusterStep runs the steps of the cluster's membership.
func (a *applier) clusterStep(ctx context.Context, st plan.Step) (changed bool, err error) {
	wl, cfg := a.c.Workload, a.cfg
	switch st.Kind {
	case plan.StartObserver:
		return wl.StartObserver(ctx, cfg, st.CharmBinary, st.JujuExec)
	case plan.PublishEtcdStarted:
		cluster.PublishEtcdStarted(a.w)
		return true, nil
	case plan.EtcdMembership:
		next, err := wl.EtcdMembership(ctx, cfg, st.Membership)
		if err == nil {
			err = cluster.RecordMembers(next, a.w)
		}
		return err == nil, err
	case plan.LeaveCluster:
		if changed, err = wl.LeaveCluster(ctx, a.h.Env.ModelUUID, cfg); err == nil {
			a.w.SetState(cluster.LeavingKey, "true")
		}
		return changed, err
	}
	return false, fmt.Errorf("unknown step kind %q", st.Kind)
}

// createSystemUsers generates the system users' passwords and stores
// them in the vault.
func (a *applier) createSystemUsers(ctx context.Context) (bool, error) {
	v, err := credentials.Open(ctx, a.h, a.m)
	if err != nil {
		return false, err
	}
	content, err := credentials.NewSystemUsers()
	if err != nil {
		return false, err
	}
	return true, v.Write(ctx, credentials.SystemUsersDoc, content)
}

// startPatroni starts Patroni, or has a running one reload files that
// changed.
func (a *applier) startPatroni(ctx context.Context) (bool, error) {
	changed, err := a.c.Workload.StartPatroni(ctx, a.cfg)
	if err != nil || changed || !a.filesChanged {
		return changed, err
	}
	// Already running with older files.
	if node := a.c.waitPatroni(ctx, a.cfg, 60*time.Second); node != nil {
		err = a.c.reloadPatroni(ctx, a.h, a.cfg)
		a.reloaded = err == nil
		a.h.Log.Info("reloaded Patroni", "reason", "configuration files changed")
	}
	return changed, err
}

// patchDCS sets cluster-wide parameters in Patroni's DCS ("" deletes).
func (a *applier) patchDCS(ctx context.Context, params map[string]string) (bool, error) {
	patch := map[string]any{}
	for k, v := range params {
		if v == "" {
			patch[k] = nil
		} else {
			patch[k] = v
		}
	}
	err := a.c.Workload.Patroni(a.cfg).PatchConfig(ctx, map[string]any{"postgresql": map[string]any{"parameters": patch}})
	return err == nil, err
}

// reload has Patroni reload PostgreSQL's configuration, once per plan.
func (a *applier) reload(ctx context.Context) (bool, error) {
	if a.reloaded {
		return false, nil
	}
	if node := a.c.waitPatroni(ctx, a.cfg, 60*time.Second); node == nil {
		return false, errors.New("patroni is not answering")
	}
	err := a.c.reloadPatroni(ctx, a.h, a.cfg)
	return err == nil, err
}

// openPort opens port, closes old (the port opened before listen_port
// changed; 0 for none) and remembers the port in unit state.
func openPort(ctx context.Context, h *juju.Hook, port, old int, w *keys.Writes) error {
	if err := h.Backend.OpenPort(ctx, juju.TCP(port)); err != nil {
		return err
	}
	if old != 0 && old != port {
		if err := h.Backend.ClosePort(ctx, juju.TCP(old)); err != nil {
			return err
		}
	}
	w.SetState(instance.OpenedPortKey, strconv.Itoa(port))
	return nil
}

// reloadPatroni asks Patroni to reload through its REST API, or by signal
// when the API refuses the credentials: after a rotation of the API
// password, patroni.yml holds the new one while Patroni still runs with
// the old until it has reloaded.
func (c *Charm) reloadPatroni(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig) error {
	err := c.Workload.Patroni(cfg).Reload(ctx)
	if patroni.IsUnauthorized(err) {
		h.Log.Info("reloading Patroni by signal", "reason", "its REST API does not take the current password yet")
		return c.Workload.ReloadPatroniService(ctx, h.Env.ModelUUID, cfg.Unit)
	}
	return err
}

func (c *Charm) stop(ctx context.Context, h *juju.Hook) error {
	changed, err := c.Workload.StopServices(ctx, h.Env.ModelUUID, h.Env.UnitName)
	if changed {
		h.Log.Info("stopped services", "unit", h.Env.UnitName)
	}
	return err
}

// remove stops and removes the unit's services, then deletes its own
// directories: configuration (passwords), etcd data, run and log
// directories. The data on pgdata stays (DESIGN §7). Both steps are
// idempotent, so a retried remove hook finishes the job.
func (c *Charm) remove(ctx context.Context, h *juju.Hook) error {
	if _, err := c.Workload.RemoveServices(ctx, h.Env.ModelUUID, h.Env.UnitName); err != nil {
		// Keep the files of a daemon that may still run.
		return err
	}
	storage := ""
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	if loc, err := m.StorageLocation(ctx, "pgdata"); err == nil {
		storage = loc
	}
	changed, err := c.Workload.RemoveUnitDirs(ctx, h.Env.ModelUUID, h.Env.UnitName, storage)
	if changed {
		h.Log.Info("removed unit directories", "unit", h.Env.UnitName)
	}
	return err
}

// unitConfig rebuilds the unit's config for actions (address and
// passwords are all they need).
func (c *Charm) unitConfig(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error) {
	v, err := credentials.Open(ctx, h, m)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	pw, err := readSystemUsers(ctx, v)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	if pw == nil {
		return pgconf.UnitConfig{}, errors.New("the system users are not created yet")
	}
	addr, err := unitAddress(ctx, h.Backend)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	return pgconf.UnitConfig{App: m.App(), Unit: m.Unit(), Address: addr, Passwords: *pw}, nil
}

func actionFail(ctx context.Context, h *juju.Hook, msg string) error {
	return h.Backend.ActionFail(ctx, msg)
}

func listenPort(ctx context.Context, m *model.Model) int {
	cfg, err := m.Config(ctx)
	if err != nil {
		return pgconf.DefaultPostgresPort
	}
	if p, ok, _ := cfg.Int("listen_port"); ok && p > 0 {
		return p
	}
	return pgconf.DefaultPostgresPort
}

func (c *Charm) getPrimary(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	cfg, err := c.unitConfig(ctx, h, m)
	if err != nil {
		return actionFail(ctx, h, err.Error())
	}
	cl, err := c.Workload.Patroni(cfg).Cluster(ctx)
	if err != nil {
		return actionFail(ctx, h, "Patroni is not answering: "+err.Error())
	}
	leader, ok := cl.Leader()
	if !ok {
		return actionFail(ctx, h, "there is no primary")
	}
	return h.Backend.ActionSet(ctx, map[string]string{
		"primary": unitOfMember(m.App(), leader.Name), "member": leader.Name,
		"address": leader.Host, "timeline": strconv.Itoa(leader.Timeline),
	})
}

// unitOfMember turns a Patroni member name ("postgresql-0") back into a
// unit name ("postgresql/0").
func unitOfMember(app, member string) string {
	if len(member) > len(app)+1 && member[:len(app)+1] == app+"-" {
		return app + "/" + member[len(app)+1:]
	}
	return member
}

func (c *Charm) restartAction(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	cfg, err := c.unitConfig(ctx, h, m)
	if err != nil {
		return actionFail(ctx, h, err.Error())
	}
	if err := c.Workload.Patroni(cfg).Restart(ctx); err != nil {
		return actionFail(ctx, h, "restarting through Patroni: "+err.Error())
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "restarted"})
}

func (c *Charm) reloadAction(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	cfg, err := c.unitConfig(ctx, h, m)
	if err != nil {
		return actionFail(ctx, h, err.Error())
	}
	if err := c.Workload.Patroni(cfg).Reload(ctx); err != nil {
		return actionFail(ctx, h, "reloading through Patroni: "+err.Error())
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "reloaded"})
}
