package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/backups"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

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
	a := &applier{c: c, h: h, m: m, cfg: pl.Config, w: w, restore: pl.Restore.Request}
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

// blockedError stops a plan at a step that found what the operator must
// fix: the pass ends with its status, and the hook does not fail.
type blockedError struct{ status juju.Status }

func (e *blockedError) Error() string { return e.status.Message }

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
	// restore is the multi-unit restore the plan takes part in.
	restore *backups.Request
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
	case plan.WriteBackupConfig:
		return backups.WriteConfig(ctx, cfg)
	case plan.StopForRestore, plan.RunRestore, plan.RejoinAfterRestore:
		return a.restoreStep(ctx, st)
	case plan.EnsureEtcdAuth:
		changed, err = wl.EnsureEtcdAuth(ctx, cfg)
		var untrusted *etcd.UntrustedError
		if errors.As(err, &untrusted) {
			// Someone else's etcd users or root password: nothing more
			// runs on it (Patroni would keep its state there), and every
			// hook checks again until the operator has cleared it.
			return changed, &blockedError{juju.Blocked("refusing etcd: " + untrusted.Found + "; nothing changed")}
		}
		if err == nil {
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
		return a.rollPending(ctx, st)
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
		if st.EtcdEpoch > 0 {
			// Its etcd joined the cluster of this epoch.
			a.w.SetState(cluster.EtcdEpochStateKey, strconv.Itoa(st.EtcdEpoch))
		}
		return true, nil
	case plan.EtcdMembership:
		next, err := wl.EtcdMembership(ctx, cfg, st.Membership)
		var noQuorum *cluster.NoQuorumError
		if errors.As(err, &noQuorum) {
			return false, &blockedError{juju.Waiting(noQuorum.Error())}
		}
		if err == nil {
			err = cluster.RecordMembers(next, a.w)
		}
		if err == nil && st.Membership.QuorumLost && len(next) == 1 && next[cfg.Unit].Voter {
			// Rebuilt from this unit: the other survivors' etcd data
			// belongs to the old cluster (cluster.DecideEtcdReset).
			epoch := strconv.Itoa(st.EtcdEpoch + 1)
			a.w.SetPeerApp(cluster.EtcdEpochKey, epoch)
			a.w.SetState(cluster.EtcdEpochStateKey, epoch)
		}
		return err == nil, err
	case plan.ResetEtcd:
		if err := wl.ResetEtcd(ctx, a.h.Env.ModelUUID, cfg); err != nil {
			return false, err
		}
		a.w.SetState(cluster.EtcdEpochStateKey, strconv.Itoa(st.EtcdEpoch))
		a.w.SetPeerUnit(cluster.EtcdStartedKey, "")
		a.w.SetState(cluster.EtcdStartedStateKey, "")
		return true, nil
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
	content, err := credentials.NewSystemUsers(a.m.App(), clock.Or(a.c.Clock).Now())
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

// rollPending (leader) restarts the members that need it for a changed
// parameter, one at a time (cluster.RollPending), naming each step in a
// maintenance status. What refuses it now (maintenance mode, a stopped
// member, a switchover) leaves the members pending, as list-members
// shows, and the hook succeeds; a failure midway fails the hook, and
// Juju's retry restarts those still pending.
func (a *applier) rollPending(ctx context.Context, st plan.Step) (bool, error) {
	api := a.c.Workload.Patroni(a.cfg)
	prog := &progressReporter{}
	say := func(msg string) { prog.report(ctx, a.h, st.Progress+": "+msg) }
	order, err := cluster.RollPending(ctx, clock.Or(a.c.Clock), api,
		func(ctx context.Context) (cluster.ClusterView, error) { return cluster.ReadView(ctx, api) }, say)
	var refused *cluster.RollRefusedError
	if errors.As(err, &refused) {
		a.h.Log.Warn("rolling restart not run", "why", refused.Error())
		return false, nil
	}
	if err != nil {
		return len(order) > 0, err
	}
	a.h.Log.Info("rolling restart done", "order", strings.Join(order, ","))
	return len(order) > 0, nil
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
