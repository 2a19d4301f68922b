package instance

import (
	"context"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Packages is what the instance reads of the machine's software.
type Packages interface {
	MissingPackages(ctx context.Context) []string
	InstallPackages(ctx context.Context, pkgs []string) error
	PGVersion() string
	Catalogue(ctx context.Context, version string) (pgconf.Catalogue, error)
	MemBytes() uint64
	// CheckParameters has the installed server of version check the
	// parameter values (names in lower case, values as PostgreSQL reads
	// them, unquoted). A value it refuses is a *ParameterError; any other
	// error means the check could not run.
	CheckParameters(ctx context.Context, version string, params map[string]string) error
	// Locales lists the locales the machine has (locale -a).
	Locales(ctx context.Context) ([]string, error)
}

// Services are the unit's files and daemons.
type Services interface {
	WriteFiles(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	StartEtcd(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	// ResetEtcd stops the unit's etcd and empties its data directory.
	ResetEtcd(ctx context.Context, model string, cfg pgconf.UnitConfig) error
	StartPatroni(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	// StartObserver runs the unit's role observer (internal/observer).
	StartObserver(ctx context.Context, cfg pgconf.UnitConfig, charmBinary, jujuExec string) (bool, error)
	StopServices(ctx context.Context, model, unit string) (bool, error)
	RemoveServices(ctx context.Context, model, unit string) (bool, error)
	// RemoveUnitDirs deletes the unit's own directories (configuration,
	// etcd data, run and log directories), never its storage.
	RemoveUnitDirs(ctx context.Context, model, unit, storage string) (bool, error)
	RestartPatroniService(ctx context.Context, model, unit string) error
	// StopPatroni stops the unit's Patroni and so its PostgreSQL.
	StopPatroni(ctx context.Context, model, unit string) (bool, error)
	// ReloadPatroniService makes the unit's Patroni re-read patroni.yml
	// by signal (SIGHUP), which needs no REST API credentials.
	ReloadPatroniService(ctx context.Context, model, unit string) error
	// LeaveCluster hands the primary role over and stops Patroni on a
	// unit being removed.
	LeaveCluster(ctx context.Context, model string, cfg pgconf.UnitConfig) (bool, error)
}

// Server is the unit's PostgreSQL through Patroni and as the operator.
type Server interface {
	Patroni(cfg pgconf.UnitConfig) *patroni.Client
	// SetSystemRolePassword sets the password of a system role (operator,
	// replication, rewind) on primary, keeping its attributes.
	SetSystemRolePassword(ctx context.Context, primary postgres.Target, user string, attrs []postgres.RoleAttr, password string) error
}

// System is the real Packages, Services and Server, with the cluster's
// etcd effects (cluster.Etcd).
type System struct {
	// Self is the supervisor command (the charm binary and "supervise").
	Self []string
	// PatroniLauncher runs Patroni (the charm binary and its
	// launch-patroni subcommand, which puts /sync right first: package
	// patronistart); empty runs Patroni directly.
	PatroniLauncher []string
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
	// Etcd is the cluster's etcd effects (with the same clock).
	cluster.Etcd
}
