package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/service"
)

// Names the charm uses in Juju.
const (
	PeerEndpoint = "database-peers"
	SecretLabel  = "system-users"
	// peer app databag key holding the system-users secret id, so units
	// other than the leader can read it.
	secretIDKey = "system-users-secret"
	// peer unit databag key with the unit's address.
	addressKey = "address"
	// unit state key with the parameters last applied (JSON).
	appliedKey = "applied-parameters"
	// system-users secret key counting password rotations
	// (pgconf.Passwords.Generation).
	generationKey = "generation"
	// unit state keys remembering effects, so that a steady pass repeats
	// none of them (each is a hook tool call): the port opened, the
	// workload version set, etcd authentication enabled, the address
	// published in the peer unit databag.
	openedPortKey       = "opened-port"
	versionKey          = "workload-version"
	etcdAuthKey         = "etcd-auth"
	publishedAddressKey = "published-address"
	// unit state key: when this member was first seen holding the leader
	// key with PostgreSQL down (RFC 3339; DecideLeaderGuard).
	leaderDownKey = "leader-down-since"
)

// secretKeys maps system users to their key in the secret.
var secretKeys = map[string]string{
	pgconf.OperatorUser:    "operator-password",
	pgconf.ReplicationUser: "replication-password",
	pgconf.RewindUser:      "rewind-password",
	pgconf.PatroniAPIUser:  "patroni-password",
	"etcd":                 "etcd-password",
}

// Charm holds the handlers' dependencies.
type Charm struct {
	Workload Workload
	// Clock times every wait; nil is the wall clock.
	Clock clock.Clock
	// ClientDB runs the client relations' SQL; nil means PostgresClientDB.
	ClientDB ClientDB
	// pendingPasswords are relation passwords set earlier in this
	// dispatch (rotate-relation-password), which the pass must use even
	// if secret-get still returns the committed revision.
	pendingPasswords map[string]string
	// pendingSystemUsers is the system-users secret's content set earlier
	// in this dispatch (set-password): Juju commits secret-set when the
	// hook or action ends, so secret-get still returns the old revision.
	pendingSystemUsers map[string]string
}

// Register wires the charm's handlers into d with the real workload.
func Register(d *juju.Dispatcher) {
	self := []string{"/proc/self/exe", "supervise"}
	if exe, err := os.Executable(); err == nil {
		self = []string{exe, "supervise"}
	}
	(&Charm{Workload: &System{Self: self}}).Register(d)
}

// Register wires the handlers into d.
func (c *Charm) Register(d *juju.Dispatcher) {
	d.HandleHook("stop", c.stop)
	d.HandleHook("remove", c.remove)
	d.HandleHook("secret-remove", c.secretRemove)
	d.HandleAction("get-password", c.getPassword)
	d.HandleAction("set-password", c.setPassword)
	d.HandleAction("get-primary", c.getPrimary)
	d.HandleAction("restart", c.restartAction)
	d.HandleAction("reload", c.reloadAction)
	d.HandleAction("rotate-relation-password", c.rotateRelationPassword)
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
	return c.pass(ctx, h, m)
}

// pass is snapshot → Decide → apply → status, repeated (at most three
// times) while a plan asks to decide again, and once more when client
// relations waited for a PostgreSQL that this pass started. The client
// relations' part runs last, once.
func (c *Charm) pass(ctx context.Context, h *juju.Hook, m *model.Model) error {
	var plan Plan
	var snap Snapshot
	prog := &progressReporter{}
	waitedForClients, changed := false, false
	for pass := 0; pass < 4; pass++ {
		var err error
		snap, err = c.snapshot(ctx, h, m)
		if err != nil {
			return err
		}
		plan = Decide(snap)
		if h.Log.Enabled(ctx, slog.LevelDebug) && len(plan.Steps) > 0 {
			// One line: every juju-log is a hook tool call.
			steps := make([]string, len(plan.Steps))
			for i, st := range plan.Steps {
				steps[i] = string(st.Kind) + " (" + st.Reason + ")"
			}
			h.Log.Debug("planned steps", "steps", strings.Join(steps, "; "))
		}
		ch, err := c.apply(ctx, h, m, plan, prog)
		if err != nil {
			return err
		}
		changed = changed || ch
		if plan.Again && pass < 2 {
			continue
		}
		if plan.Status.Level == "" && plan.Clients.NeedFacts && snap.DB == nil && !waitedForClients && !plan.Joining {
			waitedForClients = true
			if node := c.waitPatroni(ctx, plan.Config, 60*time.Second); node != nil && node.State == patroni.StateRunning {
				continue
			}
		}
		break
	}
	if plan.Status.Level == "" && !plan.Joining {
		statuses, err := c.applyClients(ctx, h, m, snap, plan)
		refused := append(slices.Clone(plan.Clients.Statuses), statuses...)
		for _, st := range refused {
			h.Log.Warn("client relation refused", "why", st.Message)
		}
		if st, ok := CombineRefusals(refused); ok {
			h.Status.Add(st)
		}
		if err != nil {
			return fmt.Errorf("client relations: %w", err)
		}
	}
	var node *patroni.NodeStatus
	if plan.Status.Level == "" && plan.Config.Unit != "" {
		// After changes, give PostgreSQL time to come up; a pass that
		// changed nothing only reads (update-status must not block a
		// minute on a member that is down).
		wait := 60 * time.Second
		if !changed || plan.Joining {
			wait = 0
		}
		node = c.waitPatroni(ctx, plan.Config, wait)
		if h.Event.Name == "update-status" {
			if err := c.guardLeader(ctx, h, plan.Config, node, snap.leaderDownSince); err != nil {
				return err
			}
		}
		if err := publishRole(ctx, h, snap, node); err != nil {
			return err
		}
		if node != nil && node.ServerVersion > 0 {
			v := fmt.Sprintf("%d.%d", node.ServerVersion/10000, node.ServerVersion%10000)
			if v != snap.workloadVersion {
				if err := h.Backend.ApplicationVersionSet(ctx, v); err != nil {
					h.Log.Warn("setting workload version", "err", err)
				} else if err := h.Backend.StateSet(ctx, map[string]string{versionKey: v}); err != nil {
					return err
				}
			}
		}
	}
	h.Status.Add(DecideStatus(plan, node))
	return nil
}

// waitPatroni polls this member's Patroni until it reports PostgreSQL
// running, or the timeout passes; nil if it never answered.
func (c *Charm) waitPatroni(ctx context.Context, cfg pgconf.UnitConfig, timeout time.Duration) *patroni.NodeStatus {
	return patroni.WaitMemberRunning(ctx, clock.Or(c.Clock), c.Workload.Patroni(cfg), pgconf.UnitSlug(cfg.Unit), timeout)
}

// guardLeader applies DecideLeaderGuard in update-status: it remembers
// when this member was first seen holding the leader key with PostgreSQL
// down, and restarts its Patroni when that lasts (Patroni 3.0.2 bug).
func (c *Charm) guardLeader(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig, node *patroni.NodeStatus, downSince time.Time) error {
	in := LeaderGuardInput{Member: pgconf.UnitSlug(cfg.Unit), Node: node, DownSince: downSince, Now: clock.Or(c.Clock).Now()}
	if node != nil {
		if cl, err := c.Workload.Patroni(cfg).Cluster(ctx); err == nil {
			in.Cluster = &cl
		}
	}
	g := DecideLeaderGuard(in)
	if g.Reason != "" {
		h.Log.Warn("leader guard", "why", g.Reason)
	}
	if !g.DownSince.Equal(downSince) {
		v := ""
		if !g.DownSince.IsZero() {
			v = g.DownSince.UTC().Format(time.RFC3339)
		}
		if err := h.Backend.StateSet(ctx, map[string]string{leaderDownKey: v}); err != nil {
			return err
		}
	}
	if g.RestartPatroni {
		if err := c.Workload.RestartPatroniService(ctx, h.Env.ModelUUID, cfg.Unit); err != nil {
			return fmt.Errorf("restarting Patroni: %w", err)
		}
		h.Status.Add(juju.Maintenance("restarted Patroni: it held the leader key with PostgreSQL down"))
	}
	return nil
}

// snapshot reads everything Decide needs.
func (c *Charm) snapshot(ctx context.Context, h *juju.Hook, m *model.Model) (Snapshot, error) {
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
	s.Options = optionsFromConfig(cfg)
	s.MissingPackages = c.Workload.MissingPackages(ctx)
	if len(s.MissingPackages) > 0 {
		return s, nil
	}
	s.PGVersion = c.Workload.PGVersion()
	if s.Catalogue, err = c.Workload.Catalogue(ctx, s.PGVersion); err != nil {
		return s, err
	}
	s.MemBytes = c.Workload.MemBytes()

	if loc, err := m.StorageLocation(ctx, "pgdata"); err == nil {
		s.Storage = loc
	} else if !errors.Is(err, juju.ErrNotFound) {
		return s, err
	}
	if s.Address, err = unitAddress(ctx, h.Backend); err != nil {
		h.Log.Warn("reading unit address", "err", err)
	}
	state, err := h.Backend.StateGet(ctx)
	if err != nil {
		return s, fmt.Errorf("reading unit state: %w", err)
	}
	s.hbaLoaded, s.workloadVersion = state[hbaLoadedKey], state[versionKey]
	s.OpenedPort, _ = strconv.Atoi(state[openedPortKey])
	if raw := state[servedSQLKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &s.servedSQL); err != nil {
			h.Log.Warn("ignoring unreadable served-sql state", "err", err)
		}
	}
	s.EtcdAuthEnabled = state[etcdAuthKey] != ""
	s.EtcdStartedPublished = state[etcdStartedStateKey] != ""
	s.publishedRole = state[roleStateKey]
	s.publishedClientHBA = state[clientHBAStateKey]
	// A unit leaves the cluster in its own peer -relation-departed hook
	// (remove-unit), and stays out for the rest of its teardown.
	s.Departing = state[leavingKey] != "" || (h.Event.Kind == juju.KindRelationDeparted &&
		h.Event.Endpoint == PeerEndpoint && h.Env.DepartingUnit == h.Env.UnitName)
	s.leaderDownSince, _ = time.Parse(time.RFC3339, state[leaderDownKey])
	if raw := state[appliedKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &s.Applied); err != nil {
			h.Log.Warn("ignoring unreadable applied parameters", "err", err)
		}
	}
	// The server checks extra_pg_conf's values before they are applied
	// (a value it refuses would stop it at the next restart); a steady
	// pass, with nothing changed, runs no check.
	if params := parametersToCheck(s.Options.ExtraPgConf, s.Catalogue, s.Applied); len(params) > 0 {
		var pe *ParameterError
		if err := c.Workload.CheckParameters(ctx, s.PGVersion, params); errors.As(err, &pe) {
			s.ParameterProblem = pe.Message
		} else if err != nil {
			return s, fmt.Errorf("checking extra_pg_conf: %w", err)
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
	// The peer relation and its application databag, read once for the
	// whole snapshot.
	if s.peers, err = m.PeerRelation(ctx, PeerEndpoint); err != nil {
		return s, err
	}
	if s.peers != nil {
		bag, err := s.peers.LocalAppData(ctx)
		if err != nil {
			return s, err
		}
		s.peerApp = bag.Map()
	}
	if s.peerApp == nil {
		s.peerApp = map[string]string{}
	}
	s.vault = vault{m: m, leader: s.Leader, secrets: juju.HasSecrets(h.Env.Version), peers: s.peers, peerApp: s.peerApp}
	if s.Passwords, err = readPasswords(ctx, s.vault); err != nil {
		return s, err
	}
	if c.pendingSystemUsers != nil && s.Leader {
		p, err := passwordsFrom(c.pendingSystemUsers)
		if err != nil {
			return s, err
		}
		s.Passwords = &p
	}
	if peers := s.peers; peers != nil {
		s.PeerRelation = true
		s.EtcdMembers = parseEtcdMembers(s.peerApp[etcdMembersKey])
		for _, u := range peers.Units {
			bag, err := peers.UnitData(ctx, u)
			if err != nil {
				continue
			}
			if a, err := netip.ParseAddr(bag.Get(addressKey)); err == nil {
				s.Peers = append(s.Peers, pgconf.Member{Unit: u, Address: a})
			}
			if v := bag.Get(clientHBAKey); v != "" {
				if s.peerClientHBA == nil {
					s.peerClientHBA = map[string]string{}
				}
				s.peerClientHBA[u] = v
			}
			if bag.Get(etcdStartedKey) != "" {
				if s.PeerEtcdStarted == nil {
					s.PeerEtcdStarted = map[string]bool{}
				}
				s.PeerEtcdStarted[u] = true
			}
		}
		// The address is published once; unit state remembers it, so a
		// steady pass reads and writes nothing.
		if addr := s.Address.String(); s.Address.IsValid() && state[publishedAddressKey] != addr {
			if err := peers.SetLocalUnitData(ctx, map[string]string{addressKey: addr}); err != nil {
				return s, err
			}
			if err := h.Backend.StateSet(ctx, map[string]string{publishedAddressKey: addr}); err != nil {
				return s, err
			}
		}
	}
	if err := c.readClients(ctx, h, m, &s); err != nil {
		return s, fmt.Errorf("reading client relations: %w", err)
	}
	c.readFacts(ctx, h, &s)
	return s, nil
}

// optionsFromConfig reads the options. config-get includes every option
// with a default in config.yaml, so a value there, 0 or "" included, is
// the user's and is validated as such (Options.Complete); an option
// missing (only from a backend that leaves defaults out) keeps its default.
func optionsFromConfig(cfg *model.Config) pgconf.Options {
	o := pgconf.DefaultOptions()
	str := func(k string, dst *string) {
		if cfg.Has(k) {
			*dst, _ = cfg.String(k)
		}
	}
	num := func(k string, dst *int) {
		if v, ok, _ := cfg.Int(k); ok {
			*dst = v
		}
	}
	str("admin_addresses", &o.AdminAddresses)
	str("extra_pg_conf", &o.ExtraPgConf)
	str("extra_pg_auth", &o.ExtraPgAuth)
	num("listen_port", &o.ListenPort)
	num("max_connections", &o.MaxConnections)
	str("shared_buffers", &o.SharedBuffers)
	str("locale", &o.Locale)
	str("encoding", &o.Encoding)
	return o
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

// readPasswords reads the system users' passwords from the vault; nil
// when they do not exist yet.
func readPasswords(ctx context.Context, v vault) (*pgconf.Passwords, error) {
	content, err := v.read(ctx, systemUsersDoc)
	if err != nil || content == nil {
		return nil, err
	}
	p, _ := passwordsFrom(content)
	return &p, nil
}

// createSecret generates every system password and stores them in the
// vault.
func createSecret(ctx context.Context, v vault) error {
	content := map[string]string{}
	for _, k := range secretKeys {
		p, err := postgres.GeneratePassword()
		if err != nil {
			return err
		}
		content[k] = p
	}
	return v.write(ctx, systemUsersDoc, content)
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
func (c *Charm) apply(ctx context.Context, h *juju.Hook, m *model.Model, plan Plan, prog *progressReporter) (bool, error) {
	w, cfg := c.Workload, plan.Config
	// filesChanged makes a running Patroni re-read patroni.yml: pg_hba
	// rules and passwords change no parameter, so no reload step covers
	// them.
	filesChanged, reloaded, anyChanged := false, false, false
	for _, st := range plan.Steps {
		var changed bool
		var err error
		if !(st.Kind == StepReload && reloaded) {
			prog.report(ctx, h, st.Progress)
		}
		switch st.Kind {
		case StepInstallPackages:
			err = w.InstallPackages(ctx, st.Packages)
			changed = err == nil
		case StepCreateSecret:
			var v vault
			if v, err = newVault(ctx, h, m); err == nil {
				err = createSecret(ctx, v)
			}
			changed = err == nil
		case StepWriteFiles:
			changed, err = w.WriteFiles(ctx, cfg)
			filesChanged = changed
		case StepStartEtcd:
			changed, err = w.StartEtcd(ctx, cfg)
		case StepEnsureEtcdAuth:
			if changed, err = w.EnsureEtcdAuth(ctx, cfg); err == nil {
				err = h.Backend.StateSet(ctx, map[string]string{etcdAuthKey: "enabled"})
			}
		case StepStartPatroni:
			changed, err = w.StartPatroni(ctx, cfg)
			if err == nil && !changed && filesChanged {
				// Already running with older files.
				if node := c.waitPatroni(ctx, cfg, 60*time.Second); node != nil {
					err = c.reloadPatroni(ctx, h, cfg)
					reloaded = err == nil
					h.Log.Info("reloaded Patroni", "reason", "configuration files changed")
				}
			}
		case StepPatchDCS:
			patch := map[string]any{}
			for k, v := range st.Params {
				if v == "" {
					patch[k] = nil
				} else {
					patch[k] = v
				}
			}
			err = w.Patroni(cfg).PatchConfig(ctx, map[string]any{"postgresql": map[string]any{"parameters": patch}})
			changed = err == nil
		case StepReload:
			if reloaded {
				break
			}
			if node := c.waitPatroni(ctx, cfg, 60*time.Second); node == nil {
				err = errors.New("patroni is not answering")
			} else {
				err = c.reloadPatroni(ctx, h, cfg)
			}
			changed = err == nil
		case StepRestart:
			err = patroni.RestartWhenPending(ctx, clock.Or(c.Clock), w.Patroni(cfg), 15*time.Second)
			changed = err == nil
		case StepOpenPort:
			err = openPort(ctx, h, st.Port, st.ClosePort)
			changed = err == nil
		case StepSaveApplied:
			data, _ := json.Marshal(st.Params)
			err = h.Backend.StateSet(ctx, map[string]string{appliedKey: string(data)})
		case StepStartObserver:
			changed, err = w.StartObserver(ctx, cfg, st.CharmBinary, st.JujuExec)
		case StepPublishEtcdStarted:
			err = publishEtcdStarted(ctx, h, m)
			changed = err == nil
		case StepEtcdMembership:
			var next map[string]EtcdMember
			if next, err = w.EtcdMembership(ctx, cfg, st.Params, st.Members); err == nil {
				err = recordEtcdMembers(ctx, m, next)
			}
			changed = err == nil
		case StepLeaveCluster:
			if changed, err = w.LeaveCluster(ctx, h.Env.ModelUUID, cfg); err == nil {
				err = h.Backend.StateSet(ctx, map[string]string{leavingKey: "true"})
			}
		}
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

// openPort opens port, closes old (the port opened before listen_port
// changed; 0 for none) and remembers the port in unit state.
func openPort(ctx context.Context, h *juju.Hook, port, old int) error {
	if err := h.Backend.OpenPort(ctx, juju.TCP(port)); err != nil {
		return err
	}
	if old != 0 && old != port {
		if err := h.Backend.ClosePort(ctx, juju.TCP(old)); err != nil {
			return err
		}
	}
	return h.Backend.StateSet(ctx, map[string]string{openedPortKey: strconv.Itoa(port)})
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
	v, err := newVault(ctx, h, m)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	pw, err := readPasswords(ctx, v)
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

func (c *Charm) getPassword(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	user, _ := params["username"].(string)
	if user == "" {
		user = pgconf.OperatorUser
	}
	key, ok := secretKeys[user]
	if !ok {
		return actionFail(ctx, h, fmt.Sprintf("unknown system user %q", user))
	}
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		return actionFail(ctx, h, "run get-password on the leader unit")
	}
	v, err := newVault(ctx, h, m)
	if err != nil {
		return err
	}
	content, err := v.read(ctx, systemUsersDoc)
	if err != nil {
		return err
	}
	if content == nil {
		return actionFail(ctx, h, "the system users are not created yet")
	}
	return h.Backend.ActionSet(ctx, map[string]string{"username": user, "password": content[key]})
}

// setPassword is the set-password action (leader): a new password for one
// system user, applied everywhere it is used, in an order that keeps the
// unit working at every step:
//
//   - operator, replication, rewind: the role on the primary first
//     (connected with the current operator password), then the secret,
//     then patroni.yml (authentication section) and a Patroni reload;
//   - patroni (REST API): the secret, then patroni.yml and a reload (by
//     signal, as the API refuses the new password until Patroni reloads);
//   - etcd (root): the secret, then patroni.yml and a reload, then, once
//     Patroni reports the new passwords generation (so it re-authenticates
//     with the new password), etcd's root password; Patroni is restarted
//     if it does not answer with the cluster afterwards.
//
// Every rotation bumps the secret's generation, which patroni.yml carries
// as a tag. Progress goes to action-log; the password never does.
func (c *Charm) setPassword(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	user, _ := params["username"].(string)
	if user == "" {
		user = pgconf.OperatorUser
	}
	key, ok := secretKeys[user]
	if !ok {
		return actionFail(ctx, h, fmt.Sprintf("unknown system user %q", user))
	}
	pw, _ := params["password"].(string)
	if pw == "" {
		if pw, err = postgres.GeneratePassword(); err != nil {
			return err
		}
	} else if err := postgres.CheckPassword(pw); err != nil {
		return actionFail(ctx, h, err.Error())
	}
	h.Redactor.Register(pw)
	progress := func(msg string) {
		h.Log.Info("set-password", "user", user, "step", msg)
		if err := h.Backend.ActionLog(ctx, msg); err != nil {
			h.Log.Warn("action-log", "err", err)
		}
	}
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		return actionFail(ctx, h, "run set-password on the leader unit")
	}
	// A unit that is blocked (invalid config) or still waiting would not
	// apply the new password: refuse before anything changes.
	if snap, err := c.snapshot(ctx, h, m); err != nil {
		return err
	} else if st := Decide(snap).Status; st.Level != "" {
		return actionFail(ctx, h, fmt.Sprintf("the unit is %s (%s): set-password needs it running", st.Level, st.Message))
	}
	cfg, err := c.unitConfig(ctx, h, m)
	if err != nil {
		return actionFail(ctx, h, err.Error())
	}
	old := cfg.Passwords
	if pw == passwordOf(old, user) {
		return actionFail(ctx, h, "the new password is the current one")
	}
	// rollback undoes what was applied after a later step failed: the
	// role's password, then the files (a pass with the old secret
	// content). It returns an error, so the action exits non-zero and
	// Juju discards the new secret revision (contract §1.3); action-log
	// says why, as the action's message will be the exit status.
	var roleChanged bool
	var oldContent map[string]string
	rollback := func(why string) error {
		progress("failed: " + why + "; rolling back")
		if roleChanged {
			cur := cfg
			if user == pgconf.OperatorUser {
				cur.Passwords.Operator = pw
			}
			if err := c.alterSystemRole(ctx, m, cur, user, passwordOf(old, user)); err != nil {
				progress("could not restore the role's password: " + err.Error())
			}
		}
		if oldContent != nil {
			c.pendingSystemUsers = oldContent
			if err := c.pass(ctx, h, model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})); err != nil {
				progress("could not rewrite the files with the old passwords: " + err.Error())
			}
		}
		return fmt.Errorf("set-password %s: %s (rolled back)", user, why)
	}

	switch user {
	case pgconf.OperatorUser, pgconf.ReplicationUser, pgconf.RewindUser:
		// The role first: a failure leaves the old password valid
		// everywhere.
		if err := c.alterSystemRole(ctx, m, cfg, user, pw); err != nil {
			return actionFail(ctx, h, "changing the role's password: "+err.Error())
		}
		roleChanged = true
		progress(fmt.Sprintf("changed the password of role %s on the primary", user))
	case "etcd":
		if err := c.Workload.CheckEtcdRoot(ctx, cfg); err != nil {
			return actionFail(ctx, h, "etcd does not take the current root password: "+err.Error())
		}
	}

	v, err := newVault(ctx, h, m)
	if err != nil {
		return rollback(err.Error())
	}
	content, err := v.read(ctx, systemUsersDoc)
	if err != nil || content == nil {
		return rollback(fmt.Sprintf("reading the system users: %v", err))
	}
	prevContent := maps.Clone(content)
	gen, _ := strconv.Atoi(content[generationKey])
	content[key], content[generationKey] = pw, strconv.Itoa(gen+1)
	if err := v.write(ctx, systemUsersDoc, content); err != nil {
		return rollback("storing the new password: " + err.Error())
	}
	oldContent = prevContent
	c.pendingSystemUsers = content
	defer func() { c.pendingSystemUsers = nil }()
	progress("stored the new password with the system users")

	// The owner gets no secret-changed: run the pass now; it rewrites
	// patroni.yml and reloads Patroni. Other units follow on their
	// secret-changed.
	if err := c.pass(ctx, h, model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})); err != nil {
		return rollback("applying the new password: " + err.Error())
	}
	progress("rewrote patroni.yml and asked Patroni to reload it")
	cfg.Passwords, err = passwordsFrom(content)
	if err != nil {
		return rollback(err.Error())
	}
	if err := patroni.WaitTag(ctx, clock.Or(c.Clock), c.Workload.Patroni(cfg), pgconf.PasswordsTag, content[generationKey], 60*time.Second); err != nil {
		return rollback(err.Error())
	}
	progress("Patroni runs with the new passwords")

	if user == "etcd" {
		cur := cfg
		cur.Passwords.Etcd = old.Etcd
		if err := c.Workload.SetEtcdRootPassword(ctx, cur, pw); err != nil {
			// Patroni gets the old password back, which etcd still
			// accepts.
			return rollback("changing etcd's root password: " + err.Error())
		}
		// From here etcd takes only the new password: the secret must
		// keep it, so failures end the action with action-fail (exit
		// 0, committed), never an error.
		progress("changed etcd's root password")
		if err := patroni.WaitLeader(ctx, clock.Or(c.Clock), c.Workload.Patroni(cfg), 20*time.Second); err != nil {
			progress("Patroni does not reach etcd with the new password: restarting Patroni")
			if err := c.Workload.RestartPatroniService(ctx, h.Env.ModelUUID, h.Env.UnitName); err != nil {
				return actionFail(ctx, h, "restarting Patroni after the rotation: "+err.Error())
			}
			if err := patroni.WaitLeader(ctx, clock.Or(c.Clock), c.Workload.Patroni(cfg), 60*time.Second); err != nil {
				return actionFail(ctx, h, "Patroni does not reach etcd after the rotation: "+err.Error())
			}
		}
		progress("Patroni reads the cluster from etcd")
	}
	return h.Backend.ActionSet(ctx, map[string]string{"username": user, "password": pw})
}

// passwordOf returns a system user's password.
func passwordOf(p pgconf.Passwords, user string) string {
	switch user {
	case pgconf.OperatorUser:
		return p.Operator
	case pgconf.ReplicationUser:
		return p.Replication
	case pgconf.RewindUser:
		return p.Rewind
	case pgconf.PatroniAPIUser:
		return p.PatroniAPI
	case "etcd":
		return p.Etcd
	}
	return ""
}

// passwordsFrom reads the system-users secret's content.
func passwordsFrom(content map[string]string) (pgconf.Passwords, error) {
	p := pgconf.Passwords{
		Operator: content[secretKeys[pgconf.OperatorUser]], Replication: content[secretKeys[pgconf.ReplicationUser]],
		Rewind: content[secretKeys[pgconf.RewindUser]], PatroniAPI: content[secretKeys[pgconf.PatroniAPIUser]],
		Etcd: content[secretKeys["etcd"]], Generation: content[generationKey],
	}
	for user := range secretKeys {
		if passwordOf(p, user) == "" {
			return p, fmt.Errorf("the system-users secret has no %s password", user)
		}
	}
	return p, nil
}

// alterSystemRole sets a system role's password on the primary (Patroni's
// leader; this unit when Patroni does not say), connected as the
// operator with the current password.
func (c *Charm) alterSystemRole(ctx context.Context, m *model.Model, cfg pgconf.UnitConfig, user, pw string) error {
	primary := Target{Host: cfg.Address.String(), Port: listenPort(ctx, m), Password: cfg.Passwords.Operator}
	if cl, err := c.Workload.Patroni(cfg).Cluster(ctx); err == nil {
		if l, ok := cl.Leader(); ok && l.Host != "" && l.Port > 0 {
			primary.Host, primary.Port = l.Host, l.Port
		}
	}
	return c.Workload.SetSystemRolePassword(ctx, primary, user, pw)
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
