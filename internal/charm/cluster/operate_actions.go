package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Operations are the operator's actions on the cluster: promote-to-primary,
// list-members, enter-/exit-maintenance, resync, stop-/start-database and
// the rolling restart. Each decides on Patroni's view with the pure
// functions of operate.go, refuses with action-fail (changing nothing)
// when the decision says so, and otherwise asks Patroni and polls for the
// outcome with a deadline sized to the operation, logging progress with
// action-log.
type Operations struct {
	Config  func(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error)
	Patroni func(cfg pgconf.UnitConfig) *patroni.Client
	// StopPatroni stops this unit's Patroni (and PostgreSQL).
	StopPatroni func(ctx context.Context, model, unit string) (bool, error)
	// Pass runs the charm's pass with stop-database's mark as given
	// (state-set is committed only when the action ends): it starts
	// Patroni again, or leaves it stopped, and sets the status once.
	Pass func(ctx context.Context, h *juju.Hook, stopped bool) error
	// PostgresPort is PostgreSQL's port (listen_port).
	PostgresPort func(ctx context.Context, m *model.Model) int
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
}

// opCtx is one action's context: its hook, this unit's config and
// Patroni client.
type opCtx struct {
	h      *juju.Hook
	m      *model.Model
	cfg    pgconf.UnitConfig
	api    *patroni.Client
	member string
	clk    clock.Clock
}

func (o Operations) open(ctx context.Context, h *juju.Hook) (*opCtx, error) {
	m := model.ForHook(h)
	cfg, err := o.Config(ctx, h, m)
	if err != nil {
		return nil, err
	}
	return &opCtx{h: h, m: m, cfg: cfg, api: o.Patroni(cfg), member: pgconf.UnitSlug(cfg.Unit), clk: clock.Or(o.Clock)}, nil
}

func (c *opCtx) fail(ctx context.Context, msg string) error { return c.h.Backend.ActionFail(ctx, msg) }

// log reports progress (action-log); a failure only costs the line.
func (c *opCtx) log(ctx context.Context) patroni.Progress {
	return func(msg string) {
		if err := c.h.Backend.ActionLog(ctx, msg); err != nil {
			c.h.Log.Warn("action-log", "err", err)
		}
		c.h.Log.Info(msg)
	}
}

// view reads /cluster and whether synchronous mode is on (/config).
func (c *opCtx) view(ctx context.Context) (ClusterView, error) { return ReadView(ctx, c.api) }

// ReadView reads /cluster and whether synchronous mode is on (/config)
// from api's member.
func ReadView(ctx context.Context, api *patroni.Client) (ClusterView, error) {
	cl, err := api.Cluster(ctx)
	if err != nil {
		return ClusterView{}, fmt.Errorf("Patroni is not answering on this unit: %w", err)
	}
	conf, err := api.Config(ctx)
	if err != nil {
		return ClusterView{}, fmt.Errorf("reading Patroni's configuration: %w", err)
	}
	mode, _ := conf["synchronous_mode"].(bool)
	return ClusterView{Cluster: cl, SyncMode: mode}, nil
}

// stopped reads stop-database's mark from unit state.
func (c *opCtx) stopped(ctx context.Context) bool {
	st, err := c.h.Backend.StateGet(ctx)
	return err == nil && st[string(DatabaseStoppedKey)] != ""
}

func boolParam(params map[string]any, name string) bool {
	switch v := params[name].(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	}
	return false
}

// PromoteToPrimary is promote-to-primary, run on the unit to promote.
func (o Operations) PromoteToPrimary(ctx context.Context, h *juju.Hook) error {
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	force := boolParam(params, "force")
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	if c.stopped(ctx) {
		return c.fail(ctx, "cannot promote: this unit's database is stopped (stop-database): run start-database first")
	}
	v, err := c.view(ctx)
	if err != nil {
		return c.fail(ctx, err.Error())
	}
	p := DecidePromote(v, c.member, false, force)
	if p.Refused != "" {
		return c.fail(ctx, p.Refused)
	}
	say := c.log(ctx)
	api := c.api.WithTimeout(patroni.SwitchoverTimeout)
	if p.Failover {
		say(fmt.Sprintf("forced failover to %s: %s", c.member, p.Warning))
		err = api.Failover(ctx, c.member)
	} else {
		say(fmt.Sprintf("switching over from %s to %s", p.Leader, c.member))
		err = api.Switchover(ctx, p.Leader, c.member)
	}
	var se *patroni.StatusError
	switch {
	case err == nil, patroni.IsTimeout(err):
	case errors.As(err, &se) && se.Code == 503 && !strings.Contains(se.Body, "failed"):
		// Patroni's own wait ran out ("switchover status unknown"):
		// the poll below tells.
		say("Patroni: " + se.Body)
	default:
		return c.fail(ctx, "Patroni refused the "+map[bool]string{true: "failover", false: "switchover"}[p.Failover]+": "+err.Error())
	}
	if err := patroni.WaitLeaderIs(ctx, c.clk, c.api, c.member, patroni.SwitchoverTimeout); err != nil {
		return c.fail(ctx, err.Error())
	}
	say(c.member + " is the primary")
	res := map[string]string{"result": "promoted", "primary": c.cfg.Unit}
	if p.Leader != "" {
		res["previous-primary"] = UnitOfMember(c.m.App(), p.Leader)
	}
	if p.Leader != "" && !p.Failover {
		// The old primary rejoins as a replica (pg_rewind when needed);
		// reported, not required: the promotion is done.
		say("waiting for " + p.Leader + " to rejoin as a replica")
		if err := patroni.WaitStreaming(ctx, c.clk, c.api, p.Leader, patroni.StreamingTimeout); err != nil {
			res["previous-primary-rejoined"] = "no: " + err.Error()
		} else {
			res["previous-primary-rejoined"] = "yes"
		}
	}
	if p.Failover {
		res["result"] = "promoted by a forced failover"
		res["warning"] = p.Warning
	}
	return h.Backend.ActionSet(ctx, res)
}

// ListMembers is list-members: every member with its unit, address,
// role, state, timeline, lag, sync state and pending restart, and
// maintenance mode, as a table and as structured keys.
func (o Operations) ListMembers(ctx context.Context, h *juju.Hook) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	cl, err := c.api.Cluster(ctx)
	if err != nil {
		return c.fail(ctx, "Patroni is not answering on this unit: "+err.Error())
	}
	now := c.clk.Now()
	lagSeconds := map[string]string{}
	for _, m := range cl.Members {
		if m.Role.IsPrimary() {
			continue
		}
		lagSeconds[m.Name] = replayLagSeconds(ctx, c.api.At(m.APIURL), m, now)
	}
	rows := MemberRows(c.m.App(), cl, lagSeconds)
	res := map[string]string{"members-table": MembersTable(rows, cl.Paused), "maintenance": onOff(cl.Paused)}
	for _, r := range rows {
		k := "members." + r.Member + "."
		res[k+"unit"], res[k+"address"], res[k+"role"], res[k+"state"] = r.Unit, r.Address, r.Role, r.State
		res[k+"timeline"] = strconv.Itoa(r.Timeline)
		res[k+"lag-bytes"], res[k+"lag-seconds"], res[k+"sync"] = dash(r.LagBytes), dash(r.LagSeconds), dash(r.Sync)
		res[k+"pending-restart"] = strconv.FormatBool(r.PendingRestart)
	}
	return h.Backend.ActionSet(ctx, res)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// replayLagSeconds is how far behind a replica replays, in seconds: 0
// when it has replayed everything the primary wrote (an idle primary
// writes nothing, so the age of the last replayed commit would say
// nothing), otherwise the age of the last commit it replayed, an upper
// bound. "" when its Patroni does not say.
func replayLagSeconds(ctx context.Context, api *patroni.Client, m patroni.Member, now time.Time) string {
	if lag, ok := m.LagBytes(); ok && lag == 0 {
		return "0"
	}
	st, err := api.Patroni(ctx)
	if err != nil || st.Xlog.ReplayedTimestamp == nil {
		return ""
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, *st.Xlog.ReplayedTimestamp); err == nil {
			return strconv.FormatFloat(max(now.Sub(t).Seconds(), 0), 'f', 1, 64)
		}
	}
	return ""
}

// EnterMaintenance is enter-maintenance: Patroni paused, so no automatic
// failover and PostgreSQL left alone, until exit-maintenance. Every
// unit's status says so (its observer sees the pause); the charm's hooks
// leave the pause alone (the leader guard stands down while paused, and
// the leader's synchronous-replication patch touches only its own keys).
func (o Operations) EnterMaintenance(ctx context.Context, h *juju.Hook) error {
	return o.setMaintenance(ctx, h, true)
}

// ExitMaintenance is exit-maintenance: Patroni resumed.
func (o Operations) ExitMaintenance(ctx context.Context, h *juju.Hook) error {
	return o.setMaintenance(ctx, h, false)
}

func (o Operations) setMaintenance(ctx context.Context, h *juju.Hook, on bool) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	cl, err := c.api.Cluster(ctx)
	if err != nil {
		return c.fail(ctx, "Patroni is not answering on this unit: "+err.Error())
	}
	if cl.Paused == on {
		return h.Backend.ActionSet(ctx, map[string]string{"result": "maintenance mode was already " + onOff(on), "maintenance": onOff(on)})
	}
	if err := c.api.Pause(ctx, on); err != nil {
		return c.fail(ctx, "setting maintenance mode through Patroni: "+err.Error())
	}
	if err := patroni.WaitPaused(ctx, c.clk, c.api, on, patroni.PauseTimeout); err != nil {
		return c.fail(ctx, err.Error())
	}
	msg := "maintenance mode on: Patroni performs no automatic failover until exit-maintenance"
	if !on {
		msg = "maintenance mode off: automatic failover is back"
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": msg, "maintenance": onOff(on)})
}

// Resync is resync on a replica: Patroni rebuilds its data from the
// primary (reinitialize). Refused on the primary.
func (o Operations) Resync(ctx context.Context, h *juju.Hook) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	if c.stopped(ctx) {
		return c.fail(ctx, "this unit's database is stopped (stop-database): run start-database first")
	}
	v, err := c.view(ctx)
	if err != nil {
		return c.fail(ctx, err.Error())
	}
	if why := DecideResync(v, c.member); why != "" {
		return c.fail(ctx, "cannot resync: "+why)
	}
	before, err := c.api.Patroni(ctx)
	if err != nil {
		return c.fail(ctx, err.Error())
	}
	say := c.log(ctx)
	say("rebuilding " + c.member + " from the primary")
	if err := c.api.Reinitialize(ctx, false); err != nil {
		return c.fail(ctx, "Patroni refused to reinitialise: "+err.Error())
	}
	if err := patroni.WaitRestarted(ctx, c.clk, c.api, before.PostmasterStartTime, patroni.ReinitializeTimeout); err != nil {
		return c.fail(ctx, "reinitialising: "+err.Error())
	}
	say("rebuilt; waiting for it to stream")
	if err := patroni.WaitStreaming(ctx, c.clk, c.api, c.member, patroni.StreamingTimeout); err != nil {
		return c.fail(ctx, err.Error())
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "resynchronised from the primary; streaming"})
}

// StopDatabase is stop-database: this unit's Patroni and PostgreSQL stop,
// a primary handing over first, and stay stopped (unit state) through
// every hook until start-database.
func (o Operations) StopDatabase(ctx context.Context, h *juju.Hook) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	if c.stopped(ctx) {
		return h.Backend.ActionSet(ctx, map[string]string{"result": "the database was already stopped"})
	}
	say := c.log(ctx)
	if v, err := c.view(ctx); err == nil {
		if v.Cluster.Paused {
			// Patroni paused leaves PostgreSQL running when it stops.
			return c.fail(ctx, "maintenance mode is on: Patroni would stop without stopping PostgreSQL (run exit-maintenance first)")
		}
		if l, ok := v.Cluster.Leader(); ok && l.Name == c.member && len(v.Cluster.Members) > 1 {
			if busy := v.Busy(); busy != "" {
				return c.fail(ctx, "cannot hand over: "+busy)
			}
			say("this unit is the primary: switching over first")
			err := c.api.WithTimeout(patroni.SwitchoverTimeout).Switchover(ctx, c.member, "")
			if err != nil && !patroni.IsTimeout(err) {
				var se *patroni.StatusError
				if !errors.As(err, &se) || se.Code != 503 {
					return c.fail(ctx, "cannot hand over the primary role, nothing stopped: "+err.Error())
				}
			}
			if !patroni.WaitNotLeader(ctx, c.clk, c.api, c.member, patroni.SwitchoverTimeout) {
				return c.fail(ctx, "the primary role did not move within "+patroni.SwitchoverTimeout.String()+"; nothing stopped")
			}
			// The demoted primary restarts as a replica: Patroni
			// stopped in the middle of it leaves a PostgreSQL it
			// started behind.
			say("waiting for this unit to run as a replica")
			if err := patroni.WaitStreaming(ctx, c.clk, c.api, c.member, patroni.StreamingTimeout); err != nil {
				say("not streaming yet (" + err.Error() + "); stopping anyway")
			}
		}
	}
	say("stopping Patroni and PostgreSQL")
	if _, err := o.StopPatroni(ctx, h.Env.ModelUUID, h.Env.UnitName); err != nil {
		return c.fail(ctx, "stopping Patroni: "+err.Error())
	}
	addr := net.JoinHostPort(c.cfg.Address.String(), strconv.Itoa(o.PostgresPort(ctx, c.m)))
	if !clock.Poll(ctx, c.clk, time.Minute, 500*time.Millisecond, func() bool { return !listening(ctx, addr) }) {
		// Not marked stopped: the next hook starts Patroni again,
		// which takes the running PostgreSQL over.
		return c.fail(ctx, "Patroni stopped but PostgreSQL still listens on "+addr+"; not marked stopped")
	}
	if err := h.Backend.StateSet(ctx, map[string]string{string(DatabaseStoppedKey): "true"}); err != nil {
		return err
	}
	if err := o.Pass(ctx, h, true); err != nil {
		h.Log.Warn("the pass after stop-database", "err", err)
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "database stopped; it stays stopped until start-database"})
}

// listening reports whether something accepts connections on addr.
func listening(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// StartDatabase is start-database: the mark goes and the pass starts
// Patroni again.
func (o Operations) StartDatabase(ctx context.Context, h *juju.Hook) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	if err := h.Backend.StateSet(ctx, map[string]string{string(DatabaseStoppedKey): ""}); err != nil {
		return err
	}
	c.log(ctx)("starting Patroni and PostgreSQL")
	if err := o.Pass(ctx, h, false); err != nil {
		return c.fail(ctx, "starting: "+err.Error())
	}
	node := patroni.WaitMemberRunning(ctx, c.clk, c.api, c.member, patroni.StreamingTimeout)
	if node == nil || !node.State.Up() {
		return c.fail(ctx, "Patroni started but PostgreSQL is not running yet; see the unit's status")
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "database started", "role": string(node.Role)})
}

// RollingRestart is restart rolling=true, on the leader unit: the
// replicas one at a time, each streaming again before the next, then a
// switchover to a restarted replica (the one write pause) and the old
// primary.
func (o Operations) RollingRestart(ctx context.Context, h *juju.Hook) error {
	c, err := o.open(ctx, h)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	if leader, err := c.m.IsLeader(ctx); err != nil || !leader {
		return c.fail(ctx, "run restart rolling=true on the leader unit")
	}
	v, err := c.view(ctx)
	if err != nil {
		return c.fail(ctx, err.Error())
	}
	if _, _, refused := RollingOrder(v); refused != "" {
		return c.fail(ctx, "cannot restart the cluster: "+refused)
	}
	order, err := Roll(ctx, c.clk, c.api, v, func(string) bool { return true }, c.log(ctx))
	if err != nil {
		return c.fail(ctx, err.Error())
	}
	cl, _ := c.api.Cluster(ctx)
	newLeader, _ := cl.Leader()
	b, _ := json.Marshal(order)
	return h.Backend.ActionSet(ctx, map[string]string{"result": "restarted every member", "order": string(b),
		"primary": UnitOfMember(c.m.App(), newLeader.Name)})
}
