package cluster

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// The operator's actions on the cluster (promote-to-primary, resync,
// restart rolling=true, ...) decide here, purely, on Patroni's view; the
// effects are in actions.go.

// DatabaseStoppedKey (unit state) is set by stop-database and cleared by
// start-database: while set, no hook starts the unit's Patroni.
const DatabaseStoppedKey keys.State = "database-stopped"

// ClusterView is what the actions decide on: /cluster, and the dynamic
// configuration's synchronous mode (/config).
type ClusterView struct {
	Cluster  patroni.Cluster
	SyncMode bool
}

// Busy says why the cluster cannot take an operation now ("" when it
// can): no leader, a leader whose PostgreSQL does not run, or a
// switchover scheduled or under way. An operation started then would
// race the one in progress.
func (v ClusterView) Busy() string {
	if v.Cluster.ScheduledSwitchover != nil {
		return "a switchover is scheduled"
	}
	l, ok := v.Cluster.Leader()
	if !ok {
		return "the cluster has no primary now (a switchover or failover is under way)"
	}
	if l.State != patroni.StateRunning {
		return fmt.Sprintf("the primary %s is %s (a switchover, failover or restart is under way)", l.Name, l.State)
	}
	return ""
}

// Promotion is promote-to-primary's decision.
type Promotion struct {
	// Refused says why the unit cannot be promoted; nothing is done.
	Refused string
	// Leader is the member that leads now ("" when none); Failover: use
	// /failover (forced, may lose data) instead of /switchover.
	Leader   string
	Failover bool
	// Warning is what a forced failover risks, for the action's result.
	Warning string
}

// DecidePromote decides promote-to-primary for member. Without force it
// refuses whatever would make the switchover unsafe or impossible: the
// member leads already, its database is stopped, it is not a member or
// not streaming, it lags more than Patroni's maximum_lag_on_failover, it
// is not a sync standby in synchronous mode (Patroni would refuse it: a
// commit acknowledged by the sync standby alone would be lost),
// maintenance mode is on, or another switchover is under way. With force
// it is a failover that may lose data, and only "already the primary",
// "stopped", "not a member" and a non-sync member while the primary is
// healthy in synchronous mode (Patroni would drop the request) still
// refuse.
func DecidePromote(v ClusterView, member string, stopped, force bool) Promotion {
	leader, hasLeader := v.Cluster.Leader()
	me, isMember := v.Cluster.Member(member)
	switch {
	case hasLeader && leader.Name == member:
		return Promotion{Refused: "this unit is the primary already"}
	case stopped:
		return Promotion{Refused: "this unit's database is stopped (stop-database): run start-database first"}
	case !isMember:
		return Promotion{Refused: "this unit is not a member of the cluster (is its database running?)"}
	}
	var why []string
	if v.Cluster.Paused {
		why = append(why, "maintenance mode is on (run exit-maintenance first)")
	}
	if busy := v.Busy(); busy != "" {
		why = append(why, busy)
	}
	if !me.State.Up() {
		why = append(why, fmt.Sprintf("its PostgreSQL is %s, not streaming", me.State))
	}
	if lag, ok := me.LagBytes(); !ok {
		why = append(why, "its replication lag is unknown")
	} else if lag > pgconf.MaximumLagOnFailover {
		why = append(why, fmt.Sprintf("it lags %d bytes behind the primary (more than maximum_lag_on_failover, %d)", lag, pgconf.MaximumLagOnFailover))
	}
	if v.SyncMode && !me.IsSync() {
		why = append(why, "it is not a synchronous standby (in synchronous mode only "+syncNames(v.Cluster)+" can take over without losing acknowledged commits)")
	}
	if me.NoFailover() {
		why = append(why, "its nofailover tag is set")
	}
	p := Promotion{Leader: leader.Name}
	if len(why) == 0 {
		return p
	}
	if !force {
		p.Refused = "cannot promote: " + strings.Join(why, "; ") + " (force=true fails over anyway and may lose data)"
		return p
	}
	if v.SyncMode && !me.IsSync() && hasLeader && leader.State == patroni.StateRunning {
		// Patroni drops a manual failover to a member outside its sync
		// set while the primary is healthy: asking would only wait.
		p.Refused = "cannot promote even with force: while the primary " + leader.Name + " is healthy, Patroni hands over in synchronous mode only to a sync standby (" +
			syncNames(v.Cluster) + "); promote that unit, or set synchronous_node_count=all first"
		return p
	}
	p.Failover = true
	p.Warning = "forced failover although " + strings.Join(why, "; ") + ": commits not yet on this unit may be lost"
	return p
}

func syncNames(c patroni.Cluster) string {
	var names []string
	for _, m := range c.Members {
		if m.IsSync() {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		return "a sync standby (there is none now)"
	}
	return strings.Join(names, ", ")
}

// DecideResync decides resync (Patroni reinitialize) for member: refused
// on the primary (its data is the cluster's), on a member Patroni does
// not list, and while another switchover is under way.
func DecideResync(v ClusterView, member string) string {
	leader, ok := v.Cluster.Leader()
	if ok && leader.Name == member {
		return "this unit is the primary: resync rebuilds a replica from the primary (promote another unit first)"
	}
	if _, ok := v.Cluster.Member(member); !ok {
		return "this unit is not a member of the cluster (is its database running?)"
	}
	return v.Busy()
}

// RollingOrder is the order of a rolling restart: the replicas one at a
// time (async ones first, so the sync standby, which the switchover
// needs, goes last among them), then the primary after a switchover.
// Members are returned by name; refused says why not now.
func RollingOrder(v ClusterView) (replicas []string, primary string, refused string) {
	if busy := v.Busy(); busy != "" {
		return nil, "", busy
	}
	if v.Cluster.Paused {
		return nil, "", "maintenance mode is on: a rolling restart switches over, which maintenance mode is meant to prevent (run exit-maintenance first)"
	}
	l, _ := v.Cluster.Leader()
	var rs []patroni.Member
	for _, m := range v.Cluster.Members {
		if m.Name != l.Name {
			rs = append(rs, m)
		}
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].IsSync() != rs[j].IsSync() {
			return !rs[i].IsSync()
		}
		return rs[i].Name < rs[j].Name
	})
	for _, m := range rs {
		replicas = append(replicas, m.Name)
	}
	return replicas, l.Name, ""
}

// MemberRow is one line of list-members.
type MemberRow struct {
	Unit, Member, Address, Role, State string
	Timeline                           int
	// LagBytes is "" for the primary, "unknown" when Patroni does not
	// know it.
	LagBytes string
	// LagSeconds is the replay delay the member reports ("" unknown).
	LagSeconds     string
	Sync           string // "sync", "async" or "" (primary)
	PendingRestart bool
}

// MemberRows turns /cluster into list-members' rows.
func MemberRows(app string, c patroni.Cluster, lagSeconds map[string]string) []MemberRow {
	var rows []MemberRow
	for _, m := range c.Members {
		r := MemberRow{Unit: UnitOfMember(app, m.Name), Member: m.Name, Address: m.Host, State: string(m.State),
			Timeline: m.Timeline, PendingRestart: m.PendingRestart, LagSeconds: lagSeconds[m.Name]}
		switch {
		case m.Role.IsPrimary():
			r.Role = "primary"
		case m.IsSync():
			r.Role, r.Sync = "replica", "sync"
		default:
			r.Role, r.Sync = "replica", "async"
		}
		if !m.Role.IsPrimary() {
			if lag, ok := m.LagBytes(); ok {
				r.LagBytes = strconv.FormatInt(lag, 10)
			} else {
				r.LagBytes = "unknown"
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// MembersTable renders the rows as a table a person reads.
func MembersTable(rows []MemberRow, paused bool) string {
	head := []string{"UNIT", "ADDRESS", "ROLE", "STATE", "TL", "LAG(B)", "LAG(S)", "SYNC", "PENDING-RESTART"}
	cells := [][]string{head}
	for _, r := range rows {
		pr := ""
		if r.PendingRestart {
			pr = "yes"
		}
		cells = append(cells, []string{r.Unit, r.Address, r.Role, r.State, strconv.Itoa(r.Timeline),
			dash(r.LagBytes), dash(r.LagSeconds), dash(r.Sync), dash(pr)})
	}
	width := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, row := range cells {
		for i, c := range row {
			if i == len(row)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s  ", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	if paused {
		b.WriteString("maintenance mode: on (no automatic failover)\n")
	} else {
		b.WriteString("maintenance mode: off\n")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
