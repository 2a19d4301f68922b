package charm

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Snapshot is everything a pass decides on. It is read once per dispatch.
type Snapshot struct {
	// Model is the model uuid; it scopes the unit's directories.
	Model     string
	Unit, App string
	Leader    bool
	// Address is the unit's own address; invalid until network-get answers.
	Address netip.Addr
	// Storage is where pgdata is mounted; empty until it is attached.
	Storage string
	Options pgconf.Options
	// Facts are the cluster slice's part: peers, the etcd record, who
	// runs etcd, departure.
	cluster.Topology
	// Passwords are the system users' passwords; nil until the leader has
	// created the secret (and, for other units, shared its id).
	Passwords *pgconf.Passwords
	// MissingPackages are distro packages still to install.
	MissingPackages []string
	// PGVersion is the installed PostgreSQL major version ("15").
	PGVersion string
	// Catalogue is the installed server's parameter catalogue.
	Catalogue pgconf.Catalogue
	MemBytes  uint64
	// Applied are the PostgreSQL parameters last applied (local ones by
	// name, DCS ones prefixed "dcs:"); empty before the first bootstrap.
	Applied map[string]string
	// ParameterProblem is the server's refusal of an extra_pg_conf value
	// (ParameterError); empty when the values passed, or were not checked
	// because none changed since they were applied (parametersToCheck).
	ParameterProblem string
	// Locales are the machine's locales (locale -a), read before the
	// first bootstrap only (the locale matters to initdb alone); nil when
	// not read.
	Locales []string
	// CharmBinary is the dispatch binary, for Patroni's callback.
	CharmBinary string
	// JujuExec is the absolute path of juju-exec (juju-run on 2.9) as the
	// hook's PATH finds it; "" when there is none.
	JujuExec string

	// Clients is the client slice's part: relations, records, passwords,
	// the server's facts.
	Clients clients.Facts
	// OpenedPort is the port this charm last opened (unit state), so a
	// steady pass runs no open-port; 0 before the first.
	OpenedPort int
	// VaultReady: the vault can store the system users (always with
	// secrets; without, once the peer relation exists).
	VaultReady bool
	// SecretsAvailable: the model has Juju secrets (3.0.3+).
	SecretsAvailable bool
	// publishAddress: this unit's address is not published to its peers
	// yet; shareSystemUsers: the leader must share the secret's id.
	publishAddress, shareSystemUsers bool
	// vault is the live handle on the passwords' store, for the apply
	// step; Decide never reads it.
	vault credentials.Vault
	// publishedRole is the role this unit last published to its peers
	// (unit state).
	publishedRole string
	// leaderDownSince is DecideLeaderGuard's memory (unit state).
	leaderDownSince time.Time
	// workloadVersion is the version last set with
	// application-version-set (unit state).
	workloadVersion string
	// peers is the peer relation read by the snapshot (nil before Juju
	// creates it) and peerApp its application databag, so the pass reads
	// them once.
	peers   *model.Relation
	peerApp map[string]string
	// clientRels are the client relations read by the snapshot.
	clientRels clients.Handles
}

// Plan is the outcome of Decide.
type Plan struct {
	Steps []plan.Step
	// Config is what the unit's files are rendered from; valid when the
	// plan writes files.
	Config pgconf.UnitConfig
	// Status is the status when the plan cannot proceed (blocked or
	// waiting); empty when the status is to be read from Patroni after the
	// plan ran.
	Status juju.Status
	// Again asks for a new snapshot and decision after these steps (after
	// installing packages or creating the secret).
	Again bool
	// Clients is the client relations' part, applied after the steps.
	Clients clients.Plan
	// Joining: this pass starts a unit joining a running cluster. The
	// hook ends without waiting for the replica to be built or loading
	// client rules, so that what it published (etcd-started) commits and
	// the leader can promote its etcd member; the next hook does the rest.
	Joining bool
}

// hbaKeyPrefix marks, among the applied parameters, the options that
// only change pg_hba ("hba:admin_addresses").
const hbaKeyPrefix = "hba:"

// joinStrings renders a list of values one per line, for the applied
// record.
func joinStrings[T fmt.Stringer](xs []T) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return strings.Join(out, "\n")
}

// Decide returns the plan for a snapshot. It is pure: no tools, files,
// clock or randomness. It runs the slices' decisions in order: the gates
// (departing, packages, config, credentials, storage, address), the
// unit's place in the cluster, the client relations (their pg_hba rules
// go into the files), the steps that run the unit, then PostgreSQL's
// parameters and port.
func Decide(s Snapshot) Plan {
	settings, stop, ok := decideGates(s)
	if !ok {
		return stop
	}
	pos, wait := cluster.DecidePosition(pgconf.Member{Unit: s.Unit, Address: s.Address}, s.Leader, len(s.Applied) > 0, s.Topology)
	if wait.Level != "" {
		return Plan{Status: wait}
	}
	cfg := unitConfigFor(s, settings, pos)
	membership := decideMembershipStep(s, pos.Self)
	if pos.Joining && !pos.Recorded {
		// Leadership moved to a unit not yet in etcd: it adds itself
		// (through the voters), then joins.
		if membership == nil {
			return Plan{Status: juju.Waiting("waiting for the etcd cluster to take this unit")}
		}
		return Plan{Config: cfg, Steps: []plan.Step{*membership}, Again: true}
	}
	cp := clients.Decide(s.Clients.Input(s.Leader, s.SecretsAvailable))
	cfg.Clients = cp.HBA
	pl := Plan{Config: cfg, Clients: cp, Joining: pos.Joining}
	pl.Steps, pl.Again = decideRunSteps(s, pos, membership)
	want, blocked := wantedParameters(s, cfg, settings)
	if blocked.Level != "" {
		return Plan{Status: blocked}
	}
	pl.Steps = append(pl.Steps, decideParameterSteps(s, want, settings)...)
	return pl
}

// decideGates stops the plan early (ok false, with stop) for a unit that
// is leaving, lacks packages, has invalid config, has no credentials yet,
// or lacks storage or an address; otherwise it returns the settings.
func decideGates(s Snapshot) (settings pgconf.Settings, stop Plan, ok bool) {
	if s.Departing {
		// Whatever the config says: a unit being removed only leaves.
		cfg := pgconf.UnitConfig{App: s.App, Unit: s.Unit, Address: s.Address}
		if s.Passwords != nil {
			cfg.Passwords = *s.Passwords
		}
		return settings, Plan{Config: cfg, Steps: []plan.Step{{Kind: plan.LeaveCluster, Reason: "this unit is being removed",
			Progress: "leaving the cluster"}}, Status: juju.Maintenance("leaving the cluster")}, false
	}
	if len(s.MissingPackages) > 0 {
		return settings, Plan{
			Steps: []plan.Step{{Kind: plan.InstallPackages, Packages: s.MissingPackages,
				Reason:   "not installed: " + strings.Join(s.MissingPackages, ", "),
				Progress: "installing " + strings.Join(s.MissingPackages, ", ")}},
			Again: true,
		}, false
	}
	settings, err := validate(s)
	if err != nil {
		return settings, Plan{Status: juju.Blocked(blockedMessage(err))}, false
	}
	switch {
	case s.Passwords == nil && s.Leader && !s.VaultReady:
		// Juju without secrets: the passwords live in the peer
		// relation, which Juju creates after install.
		return settings, Plan{Status: juju.Waiting("waiting for the peer relation to store the system users")}, false
	case s.Passwords == nil && s.Leader:
		return settings, Plan{Steps: []plan.Step{{Kind: plan.CreateSecret, Reason: "no system-users secret yet"}}, Again: true}, false
	case s.Passwords == nil:
		return settings, Plan{Status: juju.Waiting("waiting for the leader to create the system users")}, false
	case s.Storage == "":
		return settings, Plan{Status: juju.Waiting("waiting for pgdata storage")}, false
	case !s.Address.IsValid():
		return settings, Plan{Status: juju.Waiting("waiting for the unit's address")}, false
	}
	return settings, Plan{}, true
}

// unitConfigFor is what the unit's files are rendered from.
func unitConfigFor(s Snapshot, settings pgconf.Settings, pos cluster.Position) pgconf.UnitConfig {
	cfg := pgconf.UnitConfig{
		App: s.App, Unit: s.Unit, Address: s.Address, Peers: s.Peers,
		Layout: pgconf.DefaultLayout(s.Model, s.Unit, s.Storage), PGVersion: s.PGVersion,
		Settings: settings, Passwords: *s.Passwords,
		EtcdInitialClusterState: "new",
	}
	if pos.Others {
		// Ignored by etcd once its data directory exists; "existing"
		// for every unit of a running cluster keeps the file stable.
		cfg.EtcdInitialClusterState = "existing"
	}
	// Never this unit and its peers by default: a leader that bootstraps
	// late (after peers published addresses) must start etcd alone.
	cfg.EtcdInitial, cfg.EtcdVoters = cluster.ConfigMembers(pos.Self, s.EtcdMembers)
	return cfg
}

// decideMembershipStep is the leader's etcd membership step; nil when
// etcd's members and the record already follow the units.
func decideMembershipStep(s Snapshot, self pgconf.Member) *plan.Step {
	change, ok := cluster.DecideChange(self, s.Leader, s.Topology)
	if !ok {
		return nil
	}
	return &plan.Step{Kind: plan.EtcdMembership, Membership: change, Reason: "etcd members follow the units: " + change.Describe()}
}

// decideRunSteps are the steps that run the unit: files, etcd (and its
// authentication, on the unit that bootstrapped it), Patroni, the role
// observer and the leader's membership changes. again: a promotion frees
// etcd's one learner slot, so the pass decides again and adds a peer
// still waiting in this hook (nothing else would wake the leader).
func decideRunSteps(s Snapshot, pos cluster.Position, membership *plan.Step) (steps []plan.Step, again bool) {
	steps = []plan.Step{
		{Kind: plan.WriteFiles, Reason: "render patroni.yml and etcd configuration"},
		{Kind: plan.StartEtcd, Reason: "etcd is Patroni's consensus store"},
	}
	if s.Leader && !s.EtcdAuthEnabled && !pos.Others {
		// Only the unit that bootstrapped etcd enables its auth; a later
		// leader finds it enabled (and needs no quorum for nothing).
		steps = append(steps, plan.Step{Kind: plan.EnsureEtcdAuth, Reason: "etcd requires the root password"})
	}
	if s.PeerRelation && !s.EtcdStartedPublished {
		steps = append(steps, plan.Step{Kind: plan.PublishEtcdStarted, Reason: "the leader promotes a started etcd member"})
	}
	startPatroni := plan.Step{Kind: plan.StartPatroni, Reason: "Patroni runs PostgreSQL"}
	switch {
	case pos.Joining:
		startPatroni.Progress = "joining the cluster as a replica"
	case len(s.Applied) == 0:
		startPatroni.Progress = "bootstrapping PostgreSQL with Patroni"
	}
	steps = append(steps, startPatroni)
	if s.JujuExec != "" {
		steps = append(steps, plan.Step{Kind: plan.StartObserver, Reason: "role changes reach Juju through juju-exec",
			CharmBinary: s.CharmBinary, JujuExec: s.JujuExec})
	}
	if membership != nil {
		steps = append(steps, *membership)
		again = membership.Membership.FreesLearnerSlot(len(s.Peers))
	}
	return steps, again
}

// wantedParameters is what the unit runs with once the plan is applied:
// PostgreSQL's parameters (local by name, DCS ones "dcs:"), initdb's
// locale and encoding, the port and the pg_hba options ("hba:"). A
// changed locale or encoding blocks: the data cannot follow.
func wantedParameters(s Snapshot, cfg pgconf.UnitConfig, settings pgconf.Settings) (map[string]string, juju.Status) {
	local, dcs := pgconf.Parameters(cfg)
	want := map[string]string{}
	for k, v := range local {
		want[k] = v
	}
	for k, v := range dcs {
		want["dcs:"+k] = v
	}
	want["initdb:locale"], want["initdb:encoding"] = settings.Locale, settings.Encoding
	for _, k := range []string{"initdb:locale", "initdb:encoding"} {
		if old, ok := s.Applied[k]; ok && old != want[k] {
			opt := strings.TrimPrefix(k, "initdb:")
			return nil, juju.Blocked(fmt.Sprintf("invalid %s: the cluster was initialised with %s; set it back", opt, old))
		}
	}
	// port is Patroni's (from its listen address), not a parameter the
	// charm renders, but it needs a restart like one: recorded with them.
	want["port"] = strconv.Itoa(settings.ListenPort)
	// The options that only change pg_hba need a reload too, announced
	// by name ("reloading PostgreSQL to apply admin_addresses") and
	// retried until done like any parameter (client relations' rules are
	// loaded by the client part of the pass).
	want[hbaKeyPrefix+"admin_addresses"] = joinStrings(settings.AdminAddresses)
	want[hbaKeyPrefix+"extra_pg_auth"] = joinStrings(settings.ExtraHBA)
	return want, juju.Status{}
}

// decideParameterSteps brings what runs to want: a DCS patch (leader), a
// reload, a restart when a parameter needs one, the port, and the record
// of what was applied. A steady pass runs none of them.
func decideParameterSteps(s Snapshot, want map[string]string, settings pgconf.Settings) []plan.Step {
	var steps []plan.Step
	applied := s.Applied
	for _, k := range []string{"port", hbaKeyPrefix + "admin_addresses", hbaKeyPrefix + "extra_pg_auth"} {
		if _, ok := applied[k]; !ok && len(applied) > 0 {
			// Recorded by a charm that did not track it: what runs is
			// not known; assume the current value rather than restart
			// or reload on upgrade.
			applied = maps.Clone(applied)
			applied[k] = want[k]
		}
	}
	if len(applied) > 0 {
		steps = append(steps, decideChangeSteps(s, changedKeys(withoutInitdb(applied), withoutInitdb(want)), want)...)
	}
	// Each costs a hook tool call: only when the port changed.
	if s.OpenedPort != settings.ListenPort {
		reason := "clients connect on listen_port"
		if s.OpenedPort != 0 {
			reason = fmt.Sprintf("listen_port changed from %d", s.OpenedPort)
		}
		steps = append(steps, plan.Step{Kind: plan.OpenPort, Port: settings.ListenPort, ClosePort: s.OpenedPort, Reason: reason})
	}
	if !maps.Equal(s.Applied, want) {
		steps = append(steps, plan.Step{Kind: plan.SaveApplied, Applied: want, Reason: "remember what was applied"})
	}
	return steps
}

// decideChangeSteps applies changed parameters: the DCS ones patched by
// the leader, a reload for all, a restart for those that need one.
func decideChangeSteps(s Snapshot, changed []string, want map[string]string) []plan.Step {
	var steps []plan.Step
	var dcsChanged map[string]string
	var restart []string
	for _, k := range changed {
		name := strings.TrimPrefix(k, "dcs:")
		if strings.HasPrefix(k, "dcs:") {
			if dcsChanged == nil {
				dcsChanged = map[string]string{}
			}
			dcsChanged[name] = want[k] // "" deletes
		}
		if s.Catalogue.RequiresRestart(name) {
			restart = append(restart, name)
		}
	}
	if len(dcsChanged) > 0 && s.Leader {
		steps = append(steps, plan.Step{Kind: plan.PatchDCS, DCSParameters: dcsChanged, Reason: "changed cluster-wide: " + strings.Join(slices.Sorted(maps.Keys(dcsChanged)), ", ")})
	}
	sort.Strings(restart)
	restartMsg := "restarting PostgreSQL to apply " + strings.Join(restart, ", ")
	if len(changed) > 0 {
		names := make([]string, len(changed))
		for i, k := range changed {
			names[i] = strings.TrimPrefix(strings.TrimPrefix(k, "dcs:"), hbaKeyPrefix)
		}
		// A reload that precedes a restart is part of the restart
		// (Patroni writes the files on reload): one message for both.
		progress := "reloading PostgreSQL to apply " + strings.Join(names, ", ")
		if len(restart) > 0 {
			progress = restartMsg
		}
		steps = append(steps, plan.Step{Kind: plan.Reload, Reason: "changed: " + strings.Join(names, ", "), Progress: progress})
	}
	if len(restart) > 0 {
		steps = append(steps, plan.Step{Kind: plan.Restart, Reason: "needs a restart: " + strings.Join(restart, ", "), Progress: restartMsg})
	}
	return steps
}

// validate is pgconf.Validate plus what only the machine can tell: the
// server's verdict on the extra_pg_conf values and, before the first
// bootstrap, whether the locale exists. Every problem is an
// *pgconf.OptionError, joined, one per option at most.
func validate(s Snapshot) (pgconf.Settings, error) {
	settings, err := pgconf.Validate(s.Options, s.Catalogue, s.MemBytes)
	errs := unjoin(err)
	refused := func(option string) bool {
		return slices.ContainsFunc(errs, func(e error) bool {
			var oe *pgconf.OptionError
			return errors.As(e, &oe) && oe.Option == option
		})
	}
	if len(s.Applied) == 0 && s.Locales != nil && !refused("locale") {
		if err := pgconf.CheckLocaleAvailable(s.Options.Locale, s.Locales); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ParameterProblem != "" && !refused("extra_pg_conf") {
		errs = append(errs, &pgconf.OptionError{Option: "extra_pg_conf", Reason: s.ParameterProblem})
	}
	if len(errs) > 0 {
		return pgconf.Settings{}, errors.Join(errs...)
	}
	return settings, nil
}

// parametersToCheck returns the extra_pg_conf parameters the server must
// check before they are applied: all of them when any is new or differs
// from what was last applied (applied, as Snapshot.Applied), none when
// nothing changed, so a steady pass does not pay for the check. None
// either when extra_pg_conf does not parse: Validate refuses it anyway.
func parametersToCheck(extraPgConf string, cat pgconf.Catalogue, applied map[string]string) map[string]string {
	params, err := pgconf.ParseExtraPgConf(extraPgConf, cat)
	if err != nil {
		return nil
	}
	for name, v := range params {
		key := name
		if pgconf.DCSParameter(name) {
			key = "dcs:" + name
		}
		if old, ok := applied[key]; !ok || old != v {
			return params
		}
	}
	return nil
}

// unjoin lists the errors joined in err (none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.Clone(j.Unwrap())
	}
	return []error{err}
}

func withoutInitdb(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, "initdb:") {
			out[k] = v
		}
	}
	return out
}

// changedKeys returns, sorted, the keys whose values differ between a and b
// (including keys present in only one).
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if old, ok := a[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// blockedMessage turns a validation error into one status line: the first
// problem, and how many more there are.
func blockedMessage(err error) string {
	errs := unjoin(err)
	var oe *pgconf.OptionError
	msg := err.Error()
	if errors.As(errs[0], &oe) {
		msg = oe.Error()
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return msg
}

// DecideStatus is the unit's status after a plan ran, from Patroni's view
// of this member (nil when Patroni did not answer).
func DecideStatus(pl Plan, node *patroni.NodeStatus) juju.Status {
	if pl.Status.Level != "" {
		return pl.Status
	}
	if node == nil && pl.Joining {
		return juju.Maintenance("joining the cluster as a replica")
	}
	if node == nil {
		return juju.Waiting("waiting for Patroni to start")
	}
	switch {
	case !node.State.Up():
		return juju.Waiting("PostgreSQL is " + string(node.State))
	case node.Role.IsPrimary():
		if node.PendingRestart {
			return juju.Active("Primary (pending restart)")
		}
		return juju.Active("Primary")
	default:
		return juju.Active("Replica")
	}
}
