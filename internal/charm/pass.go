package charm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// maxRounds bounds the rounds of a pass. A round reads the hook's state
// once, decides and applies; another round runs only when the steps
// changed what a read sees: packages installed (the server's catalogue
// can be read), the system users created, an etcd learner promoted (a
// waiting peer can be added), at most twice; and once more when client
// relations waited for the PostgreSQL this pass started.
const maxRounds = 4

// reconcile is the one-hook-one-pass handler.
func (c *Charm) reconcile(ctx context.Context, h *juju.Hook) error {
	m := model.ForHook(h)
	return c.pass(ctx, h, m, Overrides{})
}

// pass is read → Decide → apply, in rounds (maxRounds), then the client
// relations' part once, then what Patroni reports (role, version, the
// leader guard), the buffered writes and the status, once.
func (c *Charm) pass(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides) (err error) {
	w := &keys.Writes{}
	var snap Snapshot
	defer func() {
		// Flushed whatever happened, as writes made at once would have
		// been: Juju keeps or drops a hook's writes together (contract
		// §2.4), and keeps them even after a failure when juju-exec ran
		// the hook (role-changed) or an action fails with action-fail.
		if ferr := w.Flush(ctx, h.Backend, snap.peers); err == nil {
			err = ferr
		}
	}()
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
	h.Status.Add(DecideStatus(pl, node))
	c.reconcileBackups(ctx, h, snap, pl, node, w)
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
		// Flushed even when a step failed, so what the round did is seen
		// by whatever runs next in this dispatch (a rollback pass).
		ch, err := c.apply(ctx, h, m, snap, pl, prog, w)
		if ferr := w.Flush(ctx, h.Backend, snap.peers); err == nil {
			err = ferr
		}
		var blocked *blockedError
		if errors.As(err, &blocked) {
			h.Log.Warn("blocked", "why", blocked.status.Message)
			return snap, Plan{Status: blocked.status}, changed || ch, nil
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
		if pl.Status.Level == "" && pl.Clients.NeedFacts && snap.Clients.Server == nil && !waitedForClients && !pl.Joining && !pl.DatabaseStopped {
			waitedForClients = true
			if node := c.waitPatroni(ctx, pl.Config, 60*time.Second); node != nil && node.State == patroni.StateRunning {
				continue
			}
		}
		return snap, pl, changed, nil
	}
}

// ensureKinds are the steps every running unit's plan holds, which change
// nothing when nothing changed (files written only when they differ,
// daemons started only when stopped): a plan of these alone is steady.
var ensureKinds = []plan.Kind{plan.WriteFiles, plan.WriteBackupConfig, plan.StartEtcd, plan.StartPatroni, plan.StartObserver}

// logPlan logs the planned steps in one line, unless the plan is steady:
// every juju-log is a hook tool call, a process (update-status on an idle
// unit runs about fifteen; each costs more than the rest of the pass).
// What a step changes is logged when it is applied.
func logPlan(ctx context.Context, h *juju.Hook, pl Plan) {
	steady := !slices.ContainsFunc(pl.Steps, func(st plan.Step) bool { return !slices.Contains(ensureKinds, st.Kind) })
	if !h.Log.Enabled(ctx, slog.LevelDebug) || steady {
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
	if snap.Leader && node != nil && node.State.Up() {
		c.syncReplication(ctx, h, pl.Config, pl.Sync)
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

// syncReplication (leader) brings Patroni's dynamic configuration to the
// synchronous replication the plan wants (cluster.DecideSyncPatch). It
// reads what Patroni has rather than remembering what was sent, so a new
// leader, a bootstrap (the template starts without synchronous mode: a
// single unit needs none) and a change made behind the charm's back all
// converge; maintenance mode is never touched. A failure is only logged:
// the next hook (update-status at the latest) tries again.
func (c *Charm) syncReplication(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig, want cluster.SyncConfig) {
	api := c.Workload.Patroni(cfg)
	current, err := api.Config(ctx)
	if err != nil {
		h.Log.Warn("reading Patroni's dynamic configuration", "err", err)
		return
	}
	patch := cluster.DecideSyncPatch(want, current)
	if patch == nil {
		return
	}
	if err := api.PatchConfig(ctx, patch); err != nil {
		h.Log.Warn("setting synchronous replication", "err", err)
		return
	}
	h.Log.Info("synchronous replication set", "synchronous_mode", want.Mode, "synchronous_node_count", want.NodeCount,
		"synchronous_mode_strict", want.Strict, "replicas", want.Replicas)
}
