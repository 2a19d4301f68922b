package ha_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestOperating deploys three units and runs what an operator does with
// a cluster (issue 10, items 1 and 2) on that one model: synchronous
// replication and the durability each unit's status shows, refused
// option values, promote-to-primary (and what it refuses), list-members,
// maintenance mode through hooks, resync, stop-/start-database, a rolling
// restart, and last a lost primary machine with an acknowledged commit.
// Each step builds on the previous ones, so the first failing step stops
// the test.
func TestOperating(t *testing.T) {
	e := newEnv(t)
	var (
		password string
		units    []string
		cl       syncRoles // the cluster as the last step left it
		rows     []int     // ids written and acknowledged so far
	)
	nextID := func() int { return len(rows) + 1 }
	// write inserts the next row on the primary; with synchronous
	// replication the commit returns once the sync standby has it.
	write := func(t *testing.T) {
		t.Helper()
		id := nextID()
		e.with(t).waitFor(fmt.Sprintf("row %d written on %s", id, cl.primary), pollInterval, func() error {
			return e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
				_, err := c.Exec(ctx, "INSERT INTO ops_it VALUES ($1) ON CONFLICT DO NOTHING", id)
				return err
			})
		})
		rows = append(rows, id)
	}
	// hasRows is nil when unit serves every row written.
	hasRows := func(unit string) error {
		return e.asOperator(unit, password, func(ctx context.Context, c *pgx.Conn) error {
			r, err := c.Query(ctx, "SELECT id FROM ops_it ORDER BY id")
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(r, pgx.RowTo[int])
			if err != nil {
				return err
			}
			if !slices.Equal(got, rows) {
				return fmt.Errorf("%s has rows %v, want %v", unit, got, rows)
			}
			return nil
		})
	}
	waitRows := func(t *testing.T, on ...string) {
		t.Helper()
		for _, u := range on {
			e.with(t).waitFor(fmt.Sprintf("rows %v on %s", rows, u), pollInterval, func() error { return hasRows(u) })
		}
	}
	// unchanged checks a refused action left the cluster as it was.
	unchanged := func(t *testing.T) {
		t.Helper()
		if r, err := e.syncRolesOf(units); err != nil || r.primary != cl.primary {
			t.Errorf("after a refused action: roles %+v (%v), want primary %s still", r, err, cl.primary)
		}
		if l := e.patroniLeader(cl.primary); l != e.addr(cl.primary) {
			t.Errorf("after a refused action: Patroni's leader is at %q, want %s", l, e.addr(cl.primary))
		}
	}
	refuses := func(t *testing.T, unit, action string, params map[string]any, why string) {
		t.Helper()
		r := e.action(unit, action, params)
		if r.Status != "failed" || !strings.Contains(r.Message, why) {
			t.Errorf("%s on %s: %s %q, want it refused saying %q", action, unit, r.Status, r.Message, why)
		}
		unchanged(t)
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"deploy three units: synchronous mode on, one Primary, exactly one Replica (sync), one Replica (async)", func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 3}); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			units = e.units(app)
			for _, u := range units {
				e.seen[u] = true
			}
			ew.waitIdle()
			cl = ew.waitSyncRoles(units, 1)
			t.Logf("%+v", cl)
			ew.waitFor("Patroni's sync standby to be the unit saying Replica (sync)", pollInterval, func() error {
				return e.syncStandbyIs(cl)
			})
			password = ew.password(cl.primary)
			if err := e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
				_, err := c.Exec(ctx, "CREATE TABLE ops_it (id int PRIMARY KEY)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			write(t)
		}},
		{"synchronous_node_count: 0, -1 and a word block naming the option while the database keeps taking writes; all, a capped 5, then 1", func(t *testing.T) {
			ew := e.with(t)
			for _, bad := range []string{"0", "-1", "two"} {
				if err := e.m.SetConfig(app, map[string]string{"synchronous_node_count": bad}, nil); err != nil {
					t.Fatal(err)
				}
				ew.waitFor("every unit blocked naming synchronous_node_count="+bad, pollInterval, func() error {
					for _, u := range units {
						ws := e.unitStatus(u).WorkloadStatus
						if ws.Current != "blocked" || !strings.Contains(ws.Message, "invalid synchronous_node_count") ||
							!strings.Contains(ws.Message, strings.TrimPrefix(bad, "-")) {
							return fmt.Errorf("%s is %s %q", u, ws.Current, ws.Message)
						}
					}
					return nil
				})
				write(t) // the database runs on
			}
			if err := e.m.SetConfig(app, map[string]string{"synchronous_node_count": "all"}, nil); err != nil {
				t.Fatal(err)
			}
			cl = ew.waitSyncRoles(units, 2)
			if err := e.m.SetConfig(app, map[string]string{"synchronous_node_count": "5"}, nil); err != nil {
				t.Fatal(err)
			}
			ew.waitFor("the primary saying the count is capped", pollInterval, func() error {
				ws := e.unitStatus(cl.primary).WorkloadStatus
				if ws.Current != "active" || !strings.Contains(ws.Message, "synchronous_node_count 5 capped at 2 replicas") {
					return fmt.Errorf("%s is %s %q", cl.primary, ws.Current, ws.Message)
				}
				return nil
			})
			if err := e.m.SetConfig(app, map[string]string{"synchronous_node_count": "1"}, nil); err != nil {
				t.Fatal(err)
			}
			cl = ew.waitSyncRoles(units, 1)
			waitRows(t, units...)
		}},
		{"bad input: promote-to-primary on the primary and on the async replica, resync on the primary; each refuses and changes nothing", func(t *testing.T) {
			refuses(t, cl.primary, "promote-to-primary", nil, "is the primary already")
			refuses(t, cl.primary, "promote-to-primary", map[string]any{"force": true}, "is the primary already")
			refuses(t, cl.async[0], "promote-to-primary", nil, "not a synchronous standby")
			refuses(t, cl.primary, "resync", nil, "is the primary")
		}},
		{"promote-to-primary on the sync standby: it becomes Primary with every row, the old primary rejoins as a replica", func(t *testing.T) {
			ew := e.with(t)
			target, old := cl.sync[0], cl.primary
			r := e.action(target, "promote-to-primary", nil)
			if r.Status != "completed" {
				t.Fatalf("promote-to-primary on %s: %s %q", target, r.Status, r.Message)
			}
			if got := r.Results["previous-primary-rejoined"]; got != "yes" {
				t.Errorf("previous-primary-rejoined = %v", got)
			}
			cl = ew.waitSyncRoles(units, 1)
			if cl.primary != target {
				t.Fatalf("primary is %s, want %s", cl.primary, target)
			}
			if slices.Contains(cl.sync, old) == slices.Contains(cl.async, old) {
				t.Errorf("the old primary %s is not a replica: %+v", old, cl)
			}
			waitRows(t, units...)
			write(t)
		}},
		{"list-members: every unit with role, state, timeline, lag, sync state, pending restart and maintenance off", func(t *testing.T) {
			r := e.action(units[0], "list-members", nil)
			if r.Status != "completed" {
				t.Fatalf("list-members: %s %q", r.Status, r.Message)
			}
			table, _ := r.Results["members-table"].(string)
			t.Logf("list-members:\n%s", table)
			members, _ := r.Results["members"].(map[string]any)
			if len(members) != 3 || r.Results["maintenance"] != "off" {
				t.Fatalf("results %v", r.Results)
			}
			roles := map[string]string{}
			for _, v := range members {
				m, _ := v.(map[string]any)
				unit, _ := m["unit"].(string)
				if !strings.Contains(table, unit) {
					t.Errorf("the table lacks %s", unit)
				}
				for _, k := range []string{"address", "role", "state", "timeline", "lag-bytes", "lag-seconds", "sync", "pending-restart"} {
					if _, ok := m[k]; !ok {
						t.Errorf("member %s lacks %s: %v", unit, k, m)
					}
				}
				roles[unit] = fmt.Sprint(m["role"], "/", m["sync"])
			}
			want := map[string]string{cl.primary: "primary/-", cl.sync[0]: "replica/sync", cl.async[0]: "replica/async"}
			if fmt.Sprint(roles) != fmt.Sprint(want) {
				t.Errorf("roles %v, want %v", roles, want)
			}
		}},
		{"maintenance mode: every unit says so, update-status and config-changed keep it, promote-to-primary and stop-database refuse; exit-maintenance ends it", func(t *testing.T) {
			ew := e.with(t)
			if r := e.action(cl.async[0], "enter-maintenance", nil); r.Status != "completed" {
				t.Fatalf("enter-maintenance: %s %q", r.Status, r.Message)
			}
			everyUnitSays := func(paused bool) {
				ew.waitFor(fmt.Sprintf("every unit's status with maintenance mode %v", paused), pollInterval, func() error {
					for _, u := range units {
						ws := e.unitStatus(u).WorkloadStatus
						if strings.Contains(ws.Message, "maintenance mode") != paused || ws.Current != "active" {
							return fmt.Errorf("%s is %s %q", u, ws.Current, ws.Message)
						}
					}
					if got := e.patroniPaused(cl.primary); got != paused {
						return fmt.Errorf("Patroni's /cluster pause = %v", got)
					}
					return nil
				})
			}
			everyUnitSays(true)
			for _, u := range units {
				if err := e.m.RunUpdateStatus(u); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.m.SetConfig(app, map[string]string{"admin_addresses": "192.0.2.7/32"}, nil); err != nil {
				t.Fatal(err)
			}
			ew.waitIdle()
			everyUnitSays(true)
			refuses(t, cl.sync[0], "promote-to-primary", nil, "maintenance mode is on")
			refuses(t, cl.primary, "stop-database", nil, "maintenance mode is on")
			if r := e.action(cl.primary, "exit-maintenance", nil); r.Status != "completed" {
				t.Fatalf("exit-maintenance: %s %q", r.Status, r.Message)
			}
			everyUnitSays(false)
		}},
		{"resync on the async replica: rebuilt, streaming, with every row", func(t *testing.T) {
			ew := e.with(t)
			r := e.action(cl.async[0], "resync", nil)
			if r.Status != "completed" {
				t.Fatalf("resync: %s %q", r.Status, r.Message)
			}
			cl = ew.waitSyncRoles(units, 1)
			waitRows(t, units...)
		}},
		{"stop-database on the primary: it hands over, stays stopped through update-status, refuses promotion; start-database brings it back as a replica", func(t *testing.T) {
			ew := e.with(t)
			stopped := cl.primary
			if r := e.action(stopped, "stop-database", nil); r.Status != "completed" {
				t.Fatalf("stop-database: %s %q", r.Status, r.Message)
			}
			others := slices.DeleteFunc(slices.Clone(units), func(u string) bool { return u == stopped })
			cl = ew.waitSyncRoles(others, 1)
			write(t)
			for range 2 {
				if err := e.m.RunUpdateStatus(stopped); err != nil {
					t.Fatal(err)
				}
				ew.waitIdle()
				ws := e.unitStatus(stopped).WorkloadStatus
				if ws.Current != "maintenance" || !strings.Contains(ws.Message, "stopped by stop-database") {
					t.Fatalf("%s after update-status: %s %q", stopped, ws.Current, ws.Message)
				}
				if err := hasRows(stopped); err == nil {
					var where string
					e.asOperator(stopped, password, func(ctx context.Context, c *pgx.Conn) error {
						return c.QueryRow(ctx, "SELECT inet_server_addr()::text || ' started ' || pg_postmaster_start_time()::text || ' recovery ' || pg_is_in_recovery()::text").Scan(&where)
					})
					t.Fatalf("%s serves queries although stopped: %s", stopped, where)
				}
			}
			r := e.action(stopped, "promote-to-primary", nil)
			if r.Status != "failed" || !strings.Contains(r.Message, "stopped") {
				t.Errorf("promote-to-primary on the stopped unit: %s %q", r.Status, r.Message)
			}
			if r := e.action(stopped, "start-database", nil); r.Status != "completed" {
				t.Fatalf("start-database: %s %q", r.Status, r.Message)
			}
			cl = ew.waitSyncRoles(units, 1)
			waitRows(t, units...)
		}},
		{"restart rolling=true on the leader: every unit restarted, replicas first, one switchover", func(t *testing.T) {
			ew := e.with(t)
			leader := ""
			for _, u := range units {
				if e.unitStatus(u).Leader {
					leader = u
				}
			}
			before := map[string]string{}
			for _, u := range units {
				before[u] = e.postmasterStart(t, u, password)
			}
			tl := e.timeline(cl.primary)
			oldPrimary := cl.primary
			r := e.action(leader, "restart", map[string]any{"rolling": true})
			if r.Status != "completed" {
				t.Fatalf("restart rolling=true: %s %q", r.Status, r.Message)
			}
			t.Logf("order %v", r.Results["order"])
			var order []string
			json.Unmarshal([]byte(fmt.Sprint(r.Results["order"])), &order)
			if len(order) != 3 || order[2] != strings.Replace(oldPrimary, "/", "-", 1) {
				t.Errorf("order %v: want the two replicas, then the old primary %s", order, oldPrimary)
			}
			cl = ew.waitSyncRoles(units, 1)
			for _, u := range units {
				if after := e.postmasterStart(t, u, password); after == before[u] {
					t.Errorf("%s was not restarted (started %s)", u, after)
				}
			}
			if cl.primary == oldPrimary {
				t.Errorf("the primary stayed on %s: no switchover", oldPrimary)
			}
			var got int
			ew.waitFor("the new primary's timeline", pollInterval, func() error {
				if got = e.timeline(cl.primary); got <= tl {
					return fmt.Errorf("timeline %d, was %d", got, tl)
				}
				return nil
			})
			if tl == 0 || got != tl+1 {
				t.Errorf("timeline %d -> %d: want exactly one promotion", tl, got)
			}
			waitRows(t, units...)
		}},
		{"a setting that needs a restart (max_connections) is applied as a rolling restart: one member down at a time, one switchover", func(t *testing.T) {
			ew := e.with(t)
			before := map[string]string{}
			for _, u := range units {
				before[u] = e.postmasterStart(t, u, password)
			}
			tl := e.timeline(cl.primary)
			// The sampler reads /cluster (from whichever unit answers)
			// every 200 ms and keeps the most members seen not running
			// at once.
			ctx, stop := context.WithCancel(context.Background())
			var mostDown int
			var downAt string
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ctx.Err() == nil {
					for _, u := range units {
						members, err := e.cluster(u)
						if err != nil {
							continue
						}
						var down []string
						for _, m := range members {
							if m.State != "running" && m.State != "streaming" {
								down = append(down, m.String())
							}
						}
						if len(down) > mostDown {
							mostDown, downAt = len(down), strings.Join(down, ", ")
						}
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}()
			if err := e.m.SetConfig(app, map[string]string{"max_connections": "150"}, nil); err != nil {
				t.Fatal(err)
			}
			ew.waitFor("max_connections 150 on every unit, nothing pending", pollInterval, func() error {
				for _, u := range units {
					err := e.asOperator(u, password, func(ctx context.Context, c *pgx.Conn) error {
						var v string
						var pending bool
						if err := c.QueryRow(ctx, "SELECT current_setting('max_connections'), EXISTS (SELECT FROM pg_catalog.pg_settings WHERE pending_restart)").Scan(&v, &pending); err != nil {
							return err
						}
						if v != "150" || pending {
							return fmt.Errorf("%s: max_connections %s, pending restart %v", u, v, pending)
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				return nil
			})
			ew.waitIdle()
			stop()
			<-done
			cl = ew.waitSyncRoles(units, 1)
			for _, u := range units {
				if after := e.postmasterStart(t, u, password); after == before[u] {
					t.Errorf("%s was not restarted (started %s)", u, after)
				}
			}
			if mostDown > 1 {
				t.Errorf("%d members were down at once (%s): the restart was not rolling", mostDown, downAt)
			}
			if got := e.timeline(cl.primary); tl == 0 || got != tl+1 {
				t.Errorf("timeline %d -> %d: want exactly one switchover", tl, got)
			}
			waitRows(t, units...)
			write(t)
			waitRows(t, units...)
		}},
		{"an acknowledged commit survives the loss of the primary's machine; the sync standby takes over", func(t *testing.T) {
			ew := e.with(t)
			syncStandby, dead := cl.sync[0], cl.primary
			write(t) // acknowledged: the sync standby has it
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := e.m.KillMachine(ctx, dead); err != nil {
				t.Fatal(err)
			}
			live := slices.DeleteFunc(slices.Clone(units), func(u string) bool { return u == dead })
			ew.waitFor("a new primary among "+strings.Join(live, ", "), pollInterval, func() error {
				for _, u := range live {
					if e.patroniLeader(u) == e.addr(u) {
						return nil
					}
				}
				return fmt.Errorf("no live unit leads yet")
			})
			newPrimary := ""
			for _, u := range live {
				if e.patroniLeader(u) == e.addr(u) {
					newPrimary = u
				}
			}
			if newPrimary != syncStandby {
				t.Errorf("new primary %s, want the sync standby %s", newPrimary, syncStandby)
			}
			if err := hasRows(newPrimary); err != nil {
				t.Fatalf("after the failover: %v", err)
			}
			units = live
			cl = ew.waitSyncRoles(live, 1)
		}},
		{"no sync standby left (strict off): the primary says durability is degraded and keeps taking writes", func(t *testing.T) {
			ew := e.with(t)
			last := cl.sync[0]
			if r := e.action(last, "stop-database", nil); r.Status != "completed" {
				t.Fatalf("stop-database on %s: %s %q", last, r.Status, r.Message)
			}
			ew.waitFor(cl.primary+" saying durability is degraded", pollInterval, func() error {
				ws := e.unitStatus(cl.primary).WorkloadStatus
				if ws.Current != "active" || ws.Message != "Primary (durability degraded: no sync standby)" {
					return fmt.Errorf("%s is %s %q", cl.primary, ws.Current, ws.Message)
				}
				return nil
			})
			write(t)
			if err := hasRows(cl.primary); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// syncRoles is the cluster as the units' statuses tell it, with
// durability.
type syncRoles struct {
	primary     string
	sync, async []string
}

// syncRolesOf reads the statuses: nil error once every unit is active,
// one says "Primary" (exactly), and the others "Replica (sync)" or
// "Replica (async)", each perhaps with the maintenance-mode note.
func (e *env) syncRolesOf(units []string) (syncRoles, error) {
	var r syncRoles
	var why []string
	for _, u := range units {
		ws := e.unitStatus(u).WorkloadStatus
		// Maintenance mode is a note after the durability; the
		// maintenance step checks it itself.
		ws.Message = strings.TrimSuffix(ws.Message, "; maintenance mode: no automatic failover")
		switch {
		case ws.Current == "error":
			return r, permanent(fmt.Errorf("%s is in error: %s", u, ws.Message))
		case ws.Current != "active":
			why = append(why, fmt.Sprintf("%s is %s %q", u, ws.Current, ws.Message))
		case ws.Message == "Primary":
			if r.primary != "" {
				return r, fmt.Errorf("two primaries: %s and %s", r.primary, u)
			}
			r.primary = u
		case ws.Message == "Replica (sync)":
			r.sync = append(r.sync, u)
		case ws.Message == "Replica (async)":
			r.async = append(r.async, u)
		default:
			why = append(why, fmt.Sprintf("%s says %q", u, ws.Message))
		}
	}
	if len(why) > 0 {
		return r, fmt.Errorf("%s", strings.Join(why, "; "))
	}
	if r.primary == "" {
		return r, fmt.Errorf("no unit says Primary")
	}
	return r, nil
}

// waitSyncRoles waits for one Primary, nSync "Replica (sync)" and the
// rest "Replica (async)".
func (e *env) waitSyncRoles(units []string, nSync int) syncRoles {
	e.t.Helper()
	var r syncRoles
	e.waitFor(fmt.Sprintf("%v: one Primary, %d Replica (sync), the rest Replica (async)", units, nSync), pollInterval, func() error {
		var err error
		if r, err = e.syncRolesOf(units); err != nil {
			return err
		}
		if len(r.sync) != nSync || len(r.async) != len(units)-1-nSync {
			return fmt.Errorf("%+v: want %d sync", r, nSync)
		}
		return nil
	})
	return r
}

// clusterJSON fetches Patroni's GET /cluster from unit's own machine.
func (e *env) clusterJSON(unit string) (map[string]any, error) {
	client, base, err := e.patroniHTTP(unit)
	if err != nil {
		return nil, err
	}
	resp, err := client.Get(base + "/cluster")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var c map[string]any
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("/cluster: %v: %s", err, body)
	}
	return c, nil
}

// patroniLeader is the leader's address in /cluster as unit's Patroni
// tells it ("" when none or no answer).
func (e *env) patroniLeader(unit string) string {
	members, err := e.cluster(unit)
	if err != nil {
		return ""
	}
	for _, m := range members {
		if m.Role == "leader" && m.State == "running" {
			return m.Host
		}
	}
	return ""
}

// patroniPaused is /cluster's pause as unit's Patroni reports it.
func (e *env) patroniPaused(unit string) bool {
	c, err := e.clusterJSON(unit)
	if err != nil {
		return false
	}
	p, _ := c["pause"].(bool)
	return p
}

// syncStandbyIs is nil when /cluster's one sync_standby is r's sync unit.
func (e *env) syncStandbyIs(r syncRoles) error {
	members, err := e.cluster(r.primary)
	if err != nil {
		return err
	}
	var sync []string
	for _, m := range members {
		if m.Role == "sync_standby" {
			sync = append(sync, m.Host)
		}
	}
	want := []string{}
	for _, u := range r.sync {
		want = append(want, e.addr(u))
	}
	if !slices.Equal(sync, want) {
		return fmt.Errorf("/cluster's sync standbys %v, want %v (%v)", sync, want, members)
	}
	return nil
}

// postmasterStart is pg_postmaster_start_time() on unit.
func (e *env) postmasterStart(t *testing.T, unit, password string) string {
	t.Helper()
	var s string
	err := e.asOperator(unit, password, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT pg_postmaster_start_time()::text").Scan(&s)
	})
	if err != nil {
		t.Fatalf("postmaster start time on %s: %v", unit, err)
	}
	return s
}

// timeline is the leader's timeline as Patroni's /cluster on unit tells
// it (0 when unknown).
func (e *env) timeline(unit string) int {
	c, err := e.clusterJSON(unit)
	if err != nil {
		return 0
	}
	ms, _ := c["members"].([]any)
	for _, v := range ms {
		m, _ := v.(map[string]any)
		if m["role"] == "leader" {
			tl, _ := m["timeline"].(float64)
			return int(tl)
		}
	}
	return 0
}
