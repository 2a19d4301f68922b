package plan

import "github.com/pgjuju/pgjuju/internal/charm/cluster"

// Kind names what a step does.
type Kind string

// Step kinds, in the order a plan runs them.
const (
	InstallPackages Kind = "install-packages"
	CreateSecret    Kind = "create-system-users-secret"
	WriteFiles      Kind = "write-files"
	StartEtcd       Kind = "start-etcd"
	EnsureEtcdAuth  Kind = "ensure-etcd-auth"
	StartPatroni    Kind = "start-patroni"
	PatchDCS        Kind = "patch-dcs"
	Reload          Kind = "reload"
	Restart         Kind = "restart"
	OpenPort        Kind = "open-port"
	SaveApplied     Kind = "save-applied"
	// PublishEtcdStarted tells the peers this unit's etcd runs.
	PublishEtcdStarted Kind = "publish-etcd-started"
	// EtcdMembership (leader) adds, promotes and removes etcd
	// members and records them.
	EtcdMembership Kind = "etcd-membership"
	// ResetEtcd stops the unit's etcd and empties its data: the leader
	// rebuilt the cluster without it after a quorum loss.
	ResetEtcd Kind = "reset-etcd"
	// StartObserver runs the role observer, which pushes role
	// changes to Juju.
	StartObserver Kind = "start-observer"
	// LeaveCluster hands the primary role over and stops Patroni on
	// a unit that is being removed.
	LeaveCluster Kind = "leave-cluster"
	// WriteBackupConfig writes the unit's pgBackRest files (backups slice).
	WriteBackupConfig Kind = "write-backup-config"
	// StopForRestore, RunRestore and RejoinAfterRestore are a multi-unit
	// restore's steps (backups slice, inplace.go).
	StopForRestore     Kind = "stop-for-restore"
	RunRestore         Kind = "run-restore"
	RejoinAfterRestore Kind = "rejoin-after-restore"
)

// Step is one effect with the reason it is needed.
type Step struct {
	Kind     Kind
	Reason   string
	Packages []string // install-packages
	// DCSParameters (patch-dcs) are the cluster-wide parameters to set;
	// "" deletes one.
	DCSParameters map[string]string
	// Applied (save-applied) is the record of what the unit runs with.
	Applied map[string]string
	Port    int // open-port
	// ClosePort is the port opened before, closed by open-port when
	// listen_port changed; 0 for none.
	ClosePort int
	// CharmBinary and JujuExec are what start-observer runs.
	CharmBinary, JujuExec string
	// Membership (etcd-membership) is the leader's change to etcd;
	// EtcdEpoch the quorum recoveries so far.
	Membership cluster.Change
	EtcdEpoch  int
	// Progress, when set, is the maintenance message shown while the step
	// runs ("restarting PostgreSQL to apply max_connections"): only long
	// steps carry one. The pass shows it as a maintenance status (internal/charm, progressReporter).
	Progress string
}
