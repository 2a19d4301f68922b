package charm

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/backups"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/cron"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// The charm's glue to the backups slice (internal/charm/backups).

// reconcileBackups runs after the pass observed Patroni: the repository's
// status, and on the primary the stanza (created once per stanza and
// repository) and the archive's health.
func (c *Charm) reconcileBackups(ctx context.Context, h *juju.Hook, snap Snapshot, pl Plan, node *patroni.NodeStatus, w *keys.Writes) {
	now := clock.Or(c.Clock).Now()
	if line := snap.Backups.Schedule; line != "" && backups.ParseSeen(snap.Backups.ScheduleSeen, line).IsZero() {
		// Every unit notes when it first saw the schedule: its first
		// slot is the one after, wherever the primary is then.
		w.SetState(backups.ScheduleSeenKey, backups.SeenValue(line, now))
		snap.Backups.ScheduleSeen = backups.SeenValue(line, now)
	}
	if pl.BackupsStatus.Level != "" {
		h.Status.Add(pl.BackupsStatus)
		return
	}
	cfg := pl.Config
	if !cfg.Backup.Configured() || pl.Status.Level != "" || node == nil || !node.Role.IsPrimary() || node.State != patroni.StateRunning {
		return
	}
	if snap.Backups.NeedsStanza(cfg.Backup) {
		retry, reason := snap.Backups.RetryStanza(cfg.Backup, h.Event.Kind == juju.KindUpdateStatus)
		if !retry {
			h.Status.Add(juju.Blocked(reason))
			return
		}
		checkErr, err := backups.EnsureStanza(ctx, cfg)
		if checkErr != nil {
			h.Log.Warn("checking the WAL archive", "stanza", cfg.Backup.Stanza, "err", checkErr)
		}
		if err != nil {
			h.Log.Warn("creating the stanza", "stanza", cfg.Backup.Stanza, "err", err)
			h.Status.Add(juju.Blocked(err.Error()))
			w.SetState(backups.StanzaFailedKey, backups.FailedMark(cfg.Backup, err.Error()))
			return
		}
		h.Log.Info("created the stanza", "stanza", cfg.Backup.Stanza, "path", cfg.Backup.Path, "s3", cfg.Backup.S3.Configured())
		w.SetState(backups.StanzaCreatedKey, backups.StanzaMark(cfg))
		if snap.Backups.StanzaFailed != "" {
			w.SetState(backups.StanzaFailedKey, "")
		}
	}
	if p := snap.Backups.BackupPending; p != "" && p == cfg.Backup.Stanza {
		// The restored cluster's first backup, in its own stanza; a
		// failure is retried by the next hook.
		if label, err := backups.FullBackup(ctx, cfg); err != nil {
			h.Log.Warn("backing up the restored cluster", "stanza", cfg.Backup.Stanza, "err", err)
		} else {
			h.Log.Info("backed up the restored cluster", "stanza", cfg.Backup.Stanza, "backup", label)
			w.SetState(backups.BackupPendingKey, "")
		}
	}
	// A failed scheduled backup is named first: a repository that
	// fails backups usually fails the archive too.
	c.runSchedule(ctx, h, snap, cfg, now)
	if st := backups.ArchiveStatus(ctx, cfg); st.Level != "" {
		h.Status.Add(st)
	}
}

// runSchedule is the backup schedule on the primary (backups/schedule.go
// says why the tick is update-status): a due slot starts a detached full
// backup; a failed one shows in the status.
func (c *Charm) runSchedule(ctx context.Context, h *juju.Hook, snap Snapshot, cfg pgconf.UnitConfig, now time.Time) {
	sched, err := cron.Parse(snap.Backups.Schedule)
	if snap.Backups.Schedule == "" || err != nil {
		return
	}
	f := backups.ScheduleFacts{Seen: backups.ParseSeen(snap.Backups.ScheduleSeen, snap.Backups.Schedule),
		Result: backups.ReadScheduleResult(cfg), Running: backups.BackupRunning(cfg, cfg.Backup.Stanza), Now: now}
	if h.Event.Kind == juju.KindUpdateStatus {
		// The repositories are read at the tick only (an S3 request).
		if f.Newest, err = backups.NewestBackup(ctx, cfg); err != nil {
			// The backup is tried all the same: its failure, with
			// pgBackRest's reason, is what the status will show.
			h.Log.Warn("scheduled backups: reading the repositories", "err", err)
		}
	} else {
		// Between ticks nothing is started; a failure keeps its status.
		f.Running = true
		f.Newest = time.Time{}
	}
	due, slot, st := backups.DecideSchedule(sched, f)
	if st.Level != "" {
		h.Status.Add(st)
	}
	if !due {
		return
	}
	if err := backups.StartScheduledBackup(cfg, slot); err != nil {
		h.Log.Warn("scheduled backups", "slot", slot, "err", err)
		h.Status.Add(juju.Blocked(backups.ScheduleOption + ": " + err.Error()))
		return
	}
	h.Log.Info("started the scheduled backup", "slot", slot, "stanza", cfg.Backup.Stanza)
}

// backupsHost is the charm as the backups slice's actions see it.
type backupsHost struct{ c *Charm }

// Unit implements backups.Host: the unit as a pass would render it.
func (b backupsHost) Unit(ctx context.Context, h *juju.Hook) (backups.Unit, error) {
	m := model.ForHook(h)
	snap, err := b.c.snapshot(ctx, h, m, Overrides{})
	if err != nil {
		return backups.Unit{}, err
	}
	pl := Decide(snap)
	u := backups.Unit{Cfg: pl.Config, Facts: snap.Backups, Status: pl.BackupsStatus, Leader: snap.Leader}
	for _, p := range snap.Peers {
		if p.Unit != snap.Unit {
			u.Peers++
		}
	}
	if pl.Status.Level != "" && u.Status.Level == "" {
		u.Status = juju.Status{Level: pl.Status.Level, Message: "the unit is " + string(pl.Status.Level) + ": " + pl.Status.Message}
	}
	return u, nil
}

// Patroni implements backups.Host.
func (b backupsHost) Patroni(cfg pgconf.UnitConfig) *patroni.Client { return b.c.Workload.Patroni(cfg) }

// StopPatroni implements backups.Host.
func (b backupsHost) StopPatroni(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig) error {
	self := []string{"/proc/self/exe", "supervise"}
	if exe, err := os.Executable(); err == nil {
		self = []string{exe, "supervise"}
	}
	_, err := service.New(cfg.Layout.RunDir, self).Stop(ctx, pgconf.ServiceName(cfg.Unit, "patroni"))
	return err
}

// ClearDCS implements backups.Host: Patroni's keys of the application's
// scope, deleted through the unit's etcd as root.
func (b backupsHost) ClearDCS(ctx context.Context, cfg pgconf.UnitConfig) error {
	// Through cluster.Connect: TLS with the charm's client certificate
	// (or plain HTTP on an application deployed before etcd TLS).
	cl, err := cluster.Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)},
		Username: pgconf.EtcdRootUser, Password: cfg.Passwords.Etcd})
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = cl.DeletePrefix(ctx, pgconf.PatroniNamespace+cfg.App+"/")
	return err
}

// Rerun implements backups.Host: a pass with the new stanza.
func (b backupsHost) Rerun(ctx context.Context, h *juju.Hook, stanza string) error {
	return b.c.pass(ctx, h, model.ForHook(h), Overrides{BackupStanza: stanza})
}

// SetApp implements backups.Host.
func (b backupsHost) SetApp(ctx context.Context, h *juju.Hook, k keys.Peer, v string) error {
	m := model.ForHook(h)
	peers, err := m.PeerRelation(ctx, PeerEndpoint)
	if err != nil || peers == nil {
		return fmt.Errorf("no peer relation: %v", err)
	}
	w := &keys.Writes{}
	w.SetPeerApp(k, v)
	return w.Flush(ctx, h.Backend, peers)
}

// restoreStep runs a multi-unit restore's steps (backups/inplace.go).
func (a *applier) restoreStep(ctx context.Context, st plan.Step) (bool, error) {
	r := a.restore
	if r == nil {
		return false, fmt.Errorf("%s without a restore request", st.Kind)
	}
	host := backupsHost{a.c}
	acts := backups.Actions{Host: host, Clock: a.c.Clock}
	switch st.Kind {
	case plan.StopForRestore:
		if err := host.StopPatroni(ctx, a.h, a.cfg); err != nil {
			return false, err
		}
		if err := acts.WaitStopped(ctx, a.cfg.Layout.PGData); err != nil {
			return false, err
		}
		a.w.SetState(backups.StoppedStateKey, r.ID)
		a.w.SetPeerUnit(backups.StoppedKey, r.ID)
		return true, nil
	case plan.RunRestore:
		logf := func(msg string) { a.h.Log.Info("restore", "step", msg) }
		restoredTo, err := acts.RestoreData(ctx, logf, a.cfg, *r)
		if restoredTo == "" {
			return false, err
		}
		if err != nil {
			a.h.Log.Warn("restore", "err", err)
		}
		done := *r
		done.Phase = backups.PhaseRestored
		a.w.SetPeerApp(backups.StanzaKey, r.ID)
		a.w.SetState(backups.BackupPendingKey, r.ID)
		a.w.SetPeerApp(backups.RequestKey, done.Encode())
		return true, nil
	case plan.RejoinAfterRestore:
		if _, err := backups.RemoveStaleData(ctx, a.cfg); err != nil {
			return false, err
		}
		a.w.SetState(backups.RejoinedStateKey, r.ID)
		a.w.SetPeerUnit(backups.RejoinedKey, r.ID)
		return true, nil
	}
	return false, fmt.Errorf("unknown step kind %q", st.Kind)
}
