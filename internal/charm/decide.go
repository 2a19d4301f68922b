package charm

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/backups"
	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// Snapshot is everything a pass decides on. It is read once per dispatch.
type Snapshot struct {
	// Model is the model uuid; it scopes the unit's directories.
	Model     string
	Unit, App string
	Leader    bool
	// Address is the unit's own address; invalid until network-get answers.
	Address netip.Addr
	// Facts is the instance slice's part: config, packages, the
	// server's catalogue, storage, what was applied.
	instance.Facts
	// Topology is the cluster slice's part: peers, the etcd record, who
	// runs etcd, departure.
	cluster.Topology
	// Sync are the synchronous replication options.
	Sync cluster.SyncOptions
	// DatabaseStopped: the operator stopped this unit's database with
	// stop-database (unit state); the pass does not start it again.
	DatabaseStopped bool
	// Passwords are the system users' passwords; nil until the leader has
	// created the secret (and, for other units, shared its id).
	Passwords *pgconf.Passwords
	// CA is the cluster CA of etcd's TLS, from the same secret; empty
	// for an application deployed before etcd TLS.
	CA pki.CA
	// CharmBinary is the dispatch binary, for Patroni's callback.
	CharmBinary string
	// JujuExec is the absolute path of juju-exec (juju-run on 2.9) as the
	// hook's PATH finds it; "" when there is none.
	JujuExec string

	// Clients is the client slice's part: relations, records, passwords,
	// the server's facts.
	Clients clients.Facts
	// Backups is the backups slice's part: backup_path and the stanza.
	Backups backups.Facts
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
	// Sync is the synchronous replication the cluster runs with (the
	// leader brings Patroni's dynamic configuration there).
	Sync cluster.SyncConfig
	// DatabaseStopped: the operator stopped the database (stop-database).
	DatabaseStopped bool
	// Joining: this pass starts a unit joining a running cluster. The
	// hook ends without waiting for the replica to be built or loading
	// client rules, so that what it published (etcd-started) commits and
	// the leader can promote its etcd member; the next hook does the rest.
	Joining bool
	// BackupsStatus is the backups slice's status (a bad backup_path).
	BackupsStatus juju.Status
	// Restore is this unit's part in a multi-unit restore.
	Restore backups.InPlace
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
	ip := backups.DecideInPlace(s.Backups, s.Leader)
	if ip.Hold {
		// A restore is stopping the units: nothing runs PostgreSQL.
		hold := Plan{Config: cfg, Status: ip.Status, Restore: ip}
		if ip.Stop {
			hold.Steps = []plan.Step{{Kind: plan.StopForRestore, Reason: "restore to " + ip.Request.Target, Progress: "stopping PostgreSQL for a restore"}}
		}
		return hold
	}
	if cluster.DecideEtcdReset(s.Leader, s.Topology) {
		return Plan{Config: cfg, Again: true, Steps: []plan.Step{{Kind: plan.ResetEtcd, EtcdEpoch: s.EtcdEpoch,
			Reason: "the leader rebuilt etcd without this unit after a quorum loss", Progress: "resetting etcd to join the rebuilt cluster"}}}
	}
	membership := decideMembershipStep(s, pos.Self)
	if pos.Joining && !pos.Recorded {
		// Leadership moved to a unit not yet in etcd: it adds itself
		// (through the voters), then joins.
		if membership == nil {
			return Plan{Status: juju.Waiting("waiting for the etcd cluster to take this unit")}
		}
		return Plan{Config: cfg, Steps: []plan.Step{*membership}, Again: true}
	}
	in := s.Clients.Input(s.Leader, s.SecretsAvailable)
	in.ClientNetworks = settings.ClientNetworks
	in.ClientRoles = settings.ClientRoles
	in.AdminApplications = settings.AdminApplications
	in.IsolateDatabases = settings.IsolateDatabases
	cp := clients.Decide(in)
	cfg.Clients = cp.HBA
	pl := Plan{Config: cfg, Clients: cp, Joining: pos.Joining, DatabaseStopped: s.DatabaseStopped,
		Sync: cluster.DecideSync(s.Sync, len(s.Peers)+1)}
	pl.Steps, pl.Again = decideRunSteps(s, pos, membership)
	cfg.Backup, pl.BackupsStatus = backups.DecideRepository(s.Backups)
	pl.Config = cfg
	if cfg.Backup.Configured() {
		// After write-files and before Patroni reloads the new
		// archive_command.
		pl.Steps = slices.Insert(pl.Steps, 1, plan.Step{Kind: plan.WriteBackupConfig, Reason: "pgBackRest's configuration for backup_path"})
	}
	pl.Restore = ip
	switch {
	case ip.Restore:
		// The leader restores, then runs on the restored data with the
		// new stanza.
		cfg.Backup.Stanza = ip.Request.ID
		pl.Config = cfg
		pre := []plan.Step{{Kind: plan.RunRestore, Reason: "every unit stopped for the restore to " + ip.Request.Target,
			Progress: "restoring to " + ip.Request.Target}}
		if ip.Stop {
			pre = append([]plan.Step{{Kind: plan.StopForRestore, Reason: "restore to " + ip.Request.Target}}, pre...)
		}
		pl.Steps = append(pre, pl.Steps...)
	case ip.Rejoin:
		pl.Steps = append([]plan.Step{{Kind: plan.RejoinAfterRestore, Reason: "the leader restored the data",
			Progress: "re-cloning the restored primary"}}, pl.Steps...)
	}
	want, blocked := instance.Wanted(s.Facts, cfg, settings)
	if blocked.Level != "" {
		return Plan{Status: blocked}
	}
	for _, st := range instance.DecideParameterSteps(s.Facts, s.Leader, want, settings) {
		if s.DatabaseStopped && st.Kind != plan.OpenPort {
			// Nothing runs to reload, restart or patch: the first pass
			// after start-database applies the changes.
			continue
		}
		pl.Steps = append(pl.Steps, st)
	}
	return pl
}

// decideGates stops the plan early (ok false, with stop) for a unit that
// is leaving, lacks packages, has invalid config, has no credentials yet,
// or lacks storage or an address; otherwise it returns the settings.
func decideGates(s Snapshot) (settings pgconf.Settings, stop Plan, ok bool) {
	if s.Departing {
		// Whatever the config says: a unit being removed only leaves.
		cfg := pgconf.UnitConfig{App: s.App, Unit: s.Unit, Address: s.Address, CA: s.CA,
			Layout: pgconf.DefaultLayout(s.Model, s.Unit, s.Storage)}
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
	settings, err := instance.Validate(s.Facts)
	if serr := cluster.ValidateSync(s.Sync); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return settings, Plan{Status: juju.Blocked(instance.BlockedMessage(err))}, false
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
		Settings: settings, Passwords: *s.Passwords, CA: s.CA,
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
	return &plan.Step{Kind: plan.EtcdMembership, Membership: change, Reason: "etcd members follow the units: " + change.Describe(), EtcdEpoch: s.EtcdEpoch}
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
		steps = append(steps, plan.Step{Kind: plan.PublishEtcdStarted, Reason: "the leader promotes a started etcd member", EtcdEpoch: s.EtcdEpoch})
	}
	startPatroni := plan.Step{Kind: plan.StartPatroni, Reason: "Patroni runs PostgreSQL"}
	switch {
	case pos.Joining:
		startPatroni.Progress = "joining the cluster as a replica"
	case len(s.Applied) == 0:
		startPatroni.Progress = "bootstrapping PostgreSQL with Patroni"
	}
	if !s.DatabaseStopped {
		// stop-database stopped it; only start-database starts it.
		steps = append(steps, startPatroni)
	}
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

// DecideStatus is the unit's status after a plan ran, from Patroni's view
// of this member (nil when Patroni did not answer): its role and
// durability (cluster.Durability), and maintenance mode when it is on.
func DecideStatus(pl Plan, node *patroni.NodeStatus) juju.Status {
	if pl.Status.Level != "" {
		return pl.Status
	}
	if pl.DatabaseStopped {
		return juju.Maintenance("database stopped by stop-database (run start-database to start it)")
	}
	if node == nil && pl.Joining {
		return juju.Maintenance("joining the cluster as a replica")
	}
	if node == nil {
		return juju.Waiting("waiting for Patroni to start")
	}
	if !node.State.Up() {
		msg := "PostgreSQL is " + string(node.State)
		if node.Paused {
			msg += "; " + cluster.MaintenanceNote
		}
		return juju.Waiting(msg)
	}
	msg := cluster.Durability(*node, pl.Sync)
	if node.Paused {
		msg += "; " + cluster.MaintenanceNote
	}
	if !pl.Config.EtcdTLS() {
		// An application deployed before etcd TLS keeps plain HTTP (its
		// secret has no CA, and a running etcd cluster cannot switch
		// member by member): the operator must know and act.
		msg += LegacyEtcdNote
	}
	return juju.Active(msg)
}

// LegacyEtcdNote ends the active status of a unit whose etcd runs without
// TLS; the README's "etcd TLS for an application deployed before it" says
// what to do.
const LegacyEtcdNote = "; etcd without TLS (deployed before it): see README, etcd TLS"
