package instance

import (
	"context"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// ConfigFunc rebuilds the unit's config for an action or hook outside
// the pass (its address and passwords are all they need).
type ConfigFunc func(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error)

// Actions are the instance's actions and its stop and remove hooks.
type Actions struct {
	// Clock times the restart's wait; nil is the wall clock.
	Clock    clock.Clock
	Config   ConfigFunc
	Server   Server
	Services Services
}

func fail(ctx context.Context, h *juju.Hook, msg string) error { return h.Backend.ActionFail(ctx, msg) }

// Restart is the restart action: PostgreSQL restarted through Patroni.
// Patroni answers /restart once the restart is over, which on a loaded
// machine can be later than the client's timeout while the restart goes
// on: the outcome is polled (a new postmaster start time) until a
// deadline sized to a restart, with progress in the action's log.
func (a Actions) Restart(ctx context.Context, h *juju.Hook) error {
	return a.throughPatroni(ctx, h, "restart", func(api *patroni.Client, ctx context.Context) error {
		return patroni.RestartAndWait(ctx, clock.Or(a.Clock), api, patroni.RestartTimeout, func(msg string) {
			if err := h.Backend.ActionLog(ctx, msg); err != nil {
				h.Log.Warn("action-log", "err", err)
			}
		})
	})
}

// Reload is the reload action: PostgreSQL's configuration reloaded
// through Patroni.
func (a Actions) Reload(ctx context.Context, h *juju.Hook) error {
	return a.throughPatroni(ctx, h, "reload", (*patroni.Client).Reload)
}

// throughPatroni runs one request of this unit's Patroni for an action
// ("restart": "restarted" in its result, a failure names "restarting").
func (a Actions) throughPatroni(ctx context.Context, h *juju.Hook, verb string, do func(*patroni.Client, context.Context) error) error {
	cfg, err := a.Config(ctx, h, model.ForHook(h))
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	if err := do(a.Server.Patroni(cfg), ctx); err != nil {
		return fail(ctx, h, verb+"ing through Patroni: "+err.Error())
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": verb + "ed"})
}

// Stop is the stop hook: the unit's services stop.
func (a Actions) Stop(ctx context.Context, h *juju.Hook) error {
	changed, err := a.Services.StopServices(ctx, h.Env.ModelUUID, h.Env.UnitName)
	if changed {
		h.Log.Info("stopped services", "unit", h.Env.UnitName)
	}
	return err
}

// Remove is the remove hook: it stops and removes the unit's services,
// then deletes its own directories: configuration (passwords), etcd data,
// run and log directories. The data on pgdata stays (DESIGN §7). Both
// steps are idempotent, so a retried remove hook finishes the job.
func (a Actions) Remove(ctx context.Context, h *juju.Hook) error {
	if _, err := a.Services.RemoveServices(ctx, h.Env.ModelUUID, h.Env.UnitName); err != nil {
		// Keep the files of a daemon that may still run.
		return err
	}
	storage := ""
	if loc, err := model.ForHook(h).StorageLocation(ctx, "pgdata"); err == nil {
		storage = loc
	}
	changed, err := a.Services.RemoveUnitDirs(ctx, h.Env.ModelUUID, h.Env.UnitName, storage)
	if changed {
		h.Log.Info("removed unit directories", "unit", h.Env.UnitName)
	}
	return err
}
