package charm

import (
	"context"
	"fmt"
	"os"

	"github.com/pgjuju/pgjuju/internal/charm/backups"
	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/patronistart"
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
	// DatabaseStopped is stop-database's mark as start-database or
	// stop-database just set it, which unit state shows only once the
	// action ends; nil: as unit state says.
	DatabaseStopped *bool
	// BackupStanza is the application's stanza after a restore (the
	// leader's peer databag write commits when the action ends).
	BackupStanza string
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
	var launcher []string
	if exe, err := os.Executable(); err == nil {
		self = []string{exe, "supervise"}
		launcher = []string{exe, patronistart.Subcommand}
	}
	(&Charm{Workload: &instance.System{Self: self, PatroniLauncher: launcher}}).Register(d)
}

// Register wires the handlers into d.
func (c *Charm) Register(d *juju.Dispatcher) {
	// Each slice's actions and hooks; they reach the pass only through
	// the adapters in passwords.go and clientslice.go.
	inst := instance.Actions{Clock: c.Clock, Config: c.unitConfig, Server: c.Workload, Services: c.Workload}
	d.HandleHook("stop", inst.Stop)
	d.HandleHook("remove", inst.Remove)
	d.HandleAction("restart", func(ctx context.Context, h *juju.Hook) error {
		// restart rolling=true restarts the whole cluster (cluster
		// slice); without it, this unit (instance slice).
		if params, err := h.Backend.ActionGet(ctx); err == nil && rolling(params) {
			return cluster.Operations{Config: c.unitConfig, Patroni: c.Workload.Patroni, Clock: c.Clock}.RollingRestart(ctx, h)
		}
		return inst.Restart(ctx, h)
	})
	d.HandleAction("reload", inst.Reload)
	cl := cluster.Actions{Config: c.unitConfig, Patroni: c.Workload.Patroni}
	d.HandleAction("get-primary", cl.GetPrimary)
	ops := cluster.Operations{Config: c.unitConfig, Patroni: c.Workload.Patroni, StopPatroni: c.Workload.StopPatroni,
		Pass: func(ctx context.Context, h *juju.Hook, stopped bool) error {
			return c.pass(ctx, h, model.ForHook(h), Overrides{DatabaseStopped: &stopped})
		}, PostgresPort: listenPort, Clock: c.Clock}
	d.HandleAction("promote-to-primary", ops.PromoteToPrimary)
	d.HandleAction("list-members", ops.ListMembers)
	d.HandleAction("enter-maintenance", ops.EnterMaintenance)
	d.HandleAction("exit-maintenance", ops.ExitMaintenance)
	d.HandleAction("resync", ops.Resync)
	d.HandleAction("stop-database", ops.StopDatabase)
	d.HandleAction("start-database", ops.StartDatabase)
	creds := credentials.Actions{Unit: credentialUnit{c}, Clock: c.Clock}
	d.HandleHook("secret-remove", credentials.SecretRemove)
	d.HandleAction("get-password", creds.GetPassword)
	d.HandleAction("set-password", creds.SetPassword)
	rotate := clients.RotateAction{Pass: clientPass{c}, DB: c.clientDB()}
	d.HandleAction("rotate-relation-password", rotate.Run)
	bk := backups.Actions{Host: backupsHost{c}, Clock: c.Clock}
	d.HandleAction("create-backup", bk.CreateBackup)
	d.HandleAction("list-backups", bk.ListBackups)
	d.HandleAction("restore", bk.Restore)
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
	case patronistart.Subcommand:
		return patronistart.Run(args[2:], os.Stderr), true
	}
	return 0, false
}

// rolling reads restart's rolling parameter (a boolean; "true" from a
// backend that hands strings).
func rolling(params map[string]any) bool {
	switch v := params["rolling"].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}
