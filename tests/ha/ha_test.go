package ha_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestHighAvailability deploys three units, checks replication and
// Patroni's view of the cluster, removes and re-adds a replica, relates a
// legacy client, kills the primary's machine and checks that another unit
// takes over and the client follows it. Each step builds on the previous
// ones, so the first failing step stops the test.
func TestHighAvailability(t *testing.T) {
	e := newEnv(t)
	var (
		password string
		cl       roles    // the cluster as the last step left it
		rows     []int    // ids written so far, each confirmed on every replica
		relID    string   // postgresql:db legacy:db
		dead     string   // the unit whose machine was killed
		live     []string // the postgresql units that should be running
	)
	const legacyUnit = legacyApp + "/0"
	const modernUnit = modernApp + "/0"
	var modernRel string // postgresql:database modern:database

	// writeRow inserts row id on the primary.
	writeRow := func(id int) error {
		return e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "INSERT INTO ha_it VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", id, fmt.Sprintf("row %d", id))
			return err
		})
	}
	// hasRows is nil when unit serves every row in ids; on a replica it
	// must also be in recovery.
	hasRows := func(unit string, replica bool, ids []int) error {
		return e.asOperator(unit, password, func(ctx context.Context, c *pgx.Conn) error {
			var inRecovery bool
			if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
				return err
			}
			if inRecovery != replica {
				return fmt.Errorf("%s: pg_is_in_recovery() = %v", unit, inRecovery)
			}
			var got []int
			r, err := c.Query(ctx, "SELECT id FROM ha_it WHERE id = ANY($1) ORDER BY id", ids)
			if err != nil {
				return fmt.Errorf("%s: %w", unit, err)
			}
			if got, err = pgx.CollectRows(r, pgx.RowTo[int]); err != nil {
				return fmt.Errorf("%s: %w", unit, err)
			}
			if !slices.Equal(got, ids) {
				return fmt.Errorf("%s has rows %v of %v", unit, got, ids)
			}
			return nil
		})
	}
	// waitReplicated waits until every replica serves every row written.
	waitReplicated := func(t *testing.T) {
		t.Helper()
		for _, u := range cl.replicas {
			e.with(t).waitFor(fmt.Sprintf("rows %v on %s", rows, u), pollInterval, func() error {
				return hasRows(u, true, rows)
			})
		}
	}
	// replicationIs is nil when pg_stat_replication on the primary lists
	// exactly the replicas' addresses, streaming.
	replicationIs := func() error {
		want := map[string]bool{}
		for _, u := range cl.replicas {
			want[e.addr(u)] = true
		}
		return e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
			r, err := c.Query(ctx, "SELECT coalesce(host(client_addr), ''), state FROM pg_stat_replication")
			if err != nil {
				return err
			}
			type rep struct{ Addr, State string }
			got, err := pgx.CollectRows(r, pgx.RowToStructByPos[rep])
			if err != nil {
				return err
			}
			ok := len(got) == len(want)
			for _, g := range got {
				ok = ok && want[g.Addr] && g.State == "streaming"
			}
			if !ok {
				return fmt.Errorf("pg_stat_replication on %s: %v, want %v streaming", cl.primary, got, keys(want))
			}
			return nil
		})
	}
	// waitCluster waits until /cluster on each of on shows cl.
	waitCluster := func(t *testing.T, on ...string) {
		t.Helper()
		for _, u := range on {
			e.with(t).waitFor("/cluster on "+u+" showing "+cl.String(), pollInterval, func() error {
				return e.clusterIs(u, cl)
			})
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"deploy one unit, add two: all active, the leader is the one Primary", func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			e.seen[app+"/0"] = true
			added, err := e.m.AddUnit(app, 2)
			if err != nil {
				t.Fatalf("add-unit -n 2: %v", err)
			}
			for _, u := range added {
				e.seen[u] = true
			}
			live = e.units(app)
			if len(live) != 3 {
				t.Fatalf("units %v after deploy and add-unit -n 2, want 3", live)
			}
			ew.waitIdle()
			cl = ew.waitRoles(live)
			t.Logf("primary %s, replicas %v", cl.primary, cl.replicas)
			if st := e.unitStatus(cl.primary); !st.Leader {
				t.Errorf("the primary %s is not the leader unit (the leader bootstraps the cluster)", cl.primary)
			}
			if cl.primary != app+"/0" {
				t.Errorf("primary is %s, want %s/0 (the first unit, leader since deploy)", cl.primary, app)
			}
			password = ew.password(cl.primary)
		}},
		{"the primary streams to both replicas and a row written there reaches each", func(t *testing.T) {
			ew := e.with(t)
			err := e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
				_, err := c.Exec(ctx, "CREATE TABLE ha_it (id int PRIMARY KEY, note text NOT NULL)")
				return err
			})
			if err != nil {
				t.Fatalf("creating the table on %s: %v", cl.primary, err)
			}
			if err := writeRow(1); err != nil {
				t.Fatalf("writing a row on %s: %v", cl.primary, err)
			}
			rows = append(rows, 1)
			ew.waitFor("two streaming replicas in pg_stat_replication", pollInterval, replicationIs)
			waitReplicated(t)
		}},
		{"Patroni's /cluster on every unit lists the leader and two streaming replicas", func(t *testing.T) {
			waitCluster(t, live...)
		}},
		{"remove-unit of a replica: /cluster lists two members and the primary keeps the row", func(t *testing.T) {
			ew := e.with(t)
			gone := cl.replicas[len(cl.replicas)-1]
			if err := e.m.RemoveUnit(gone); err != nil {
				t.Fatalf("remove-unit %s: %v", gone, err)
			}
			ew.waitGone(gone)
			live = slices.DeleteFunc(live, func(u string) bool { return u == gone })
			cl.replicas = slices.DeleteFunc(cl.replicas, func(u string) bool { return u == gone })
			ew.waitIdle()
			if r := ew.waitRoles(live); r.primary != cl.primary {
				t.Errorf("primary moved from %s to %s when a replica was removed", cl.primary, r.primary)
				cl = r
			}
			waitCluster(t, live...)
			ew.waitFor("one streaming replica in pg_stat_replication", pollInterval, replicationIs)
			if err := hasRows(cl.primary, false, rows); err != nil {
				t.Fatalf("after removing %s: %v", gone, err)
			}
		}},
		{"add-unit again: three members, the new replica has the rows", func(t *testing.T) {
			ew := e.with(t)
			added, err := e.m.AddUnit(app, 1)
			if err != nil {
				t.Fatalf("add-unit: %v", err)
			}
			e.seen[added[0]] = true
			live = append(live, added...)
			ew.waitIdle()
			r := ew.waitRoles(live)
			if r.primary != cl.primary {
				t.Errorf("primary moved from %s to %s when a unit was added", cl.primary, r.primary)
			}
			cl = r
			if !slices.Contains(cl.replicas, added[0]) {
				t.Fatalf("the new unit %s is not a replica (roles %s)", added[0], cl)
			}
			waitCluster(t, live...)
			ew.waitFor("two streaming replicas in pg_stat_replication", pollInterval, replicationIs)
			waitReplicated(t)
			// A second row, confirmed on every replica, so that it must
			// survive the failover.
			if err := writeRow(2); err != nil {
				t.Fatalf("writing a row on %s: %v", cl.primary, err)
			}
			rows = append(rows, 2)
			waitReplicated(t)
		}},
		{"a legacy client on db connects to the primary; one unit says master, the others hot standby", func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: legacyApp, NumUnits: 1}); err != nil {
				t.Fatalf("deploy %s: %v", legacyApp, err)
			}
			id, err := e.m.Integrate(app+":db", legacyApp+":db")
			if err != nil {
				t.Fatalf("integrate %s:db %s:db: %v", app, legacyApp, err)
			}
			relID = fmt.Sprintf("db:%d", id)
			ew.waitFor("server states on "+relID, pollInterval, func() error {
				return e.statesAre(legacyUnit, relID, cl)
			})
			ew.waitFor(legacyUnit+" connected to the primary on "+relID, actionPoll, func() error {
				return e.legacyOn(legacyUnit, relID, cl.primary)
			})
		}},
		{"a database client gets endpoints on the primary once every member admits it; no client had credentials refused", func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: modernApp, NumUnits: 1}); err != nil {
				t.Fatalf("deploy %s: %v", modernApp, err)
			}
			id, err := e.m.Integrate(app+":database", modernApp+":database")
			if err != nil {
				t.Fatalf("integrate: %v", err)
			}
			modernRel = fmt.Sprintf("database:%d", id)
			ew.waitFor(modernUnit+" connected to the primary on "+modernRel, actionPoll, func() error {
				return e.legacyOn(modernUnit, modernRel, cl.primary)
			})
			for unit, rel := range map[string]string{legacyUnit: relID, modernUnit: modernRel} {
				r, err := e.checkOK(unit, rel)
				if err != nil {
					t.Fatal(err)
				}
				if r.Failures != 0 {
					t.Errorf("%s on %s: published credentials refused in %d hook(s), last: %s", unit, rel, r.Failures, r.LastFailure)
				}
			}
		}},
		{"etcd from another machine of the model: both ports refuse a client without the cluster's certificate; the certificate alone reads no key", func(t *testing.T) {
			for _, u := range live {
				if err := e.etcdRefusesOutsider(legacyUnit, u); err != nil {
					t.Errorf("etcd of %s from %s's machine: %v", u, legacyUnit, err)
				}
			}
			if err := e.etcdCertIsNotEnough(cl.primary, cl.primary); err != nil {
				t.Errorf("etcd of %s: %v", cl.primary, err)
			}
		}},
		{"Patroni from another machine of the model: its REST API gives nothing away without the cluster's certificate", func(t *testing.T) {
			for _, u := range live {
				if err := e.patroniRefusesOutsider(legacyUnit, u); err != nil {
					t.Errorf("Patroni of %s from %s's machine: %v", u, legacyUnit, err)
				}
			}
		}},
		{"failover: kill the primary's machine; another unit becomes Primary and takes writes", func(t *testing.T) {
			ew := e.with(t)
			dead = cl.primary
			deadAddr := e.addr(dead)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := e.m.KillMachine(ctx, dead); err != nil {
				t.Fatalf("killing the machine of %s: %v", dead, err)
			}
			t.Logf("machine of %s (%s) killed", dead, deadAddr)
			live = slices.DeleteFunc(live, func(u string) bool { return u == dead })
			// Another unit says Primary and Patroni agrees it leads.
			var newPrimary string
			ew.waitFor("a new Primary among "+strings.Join(live, ", "), pollInterval, func() error {
				newPrimary = ""
				for _, u := range live {
					ws := e.unitStatus(u).WorkloadStatus
					if ws.Current == "error" {
						return permanent(fmt.Errorf("%s is in error: %s", u, ws.Message))
					}
					if ws.Current == "active" && strings.HasPrefix(ws.Message, "Primary") {
						newPrimary = u
					}
				}
				if newPrimary == "" {
					return fmt.Errorf("no live unit says Primary yet")
				}
				members, err := e.cluster(newPrimary)
				if err != nil {
					return err
				}
				for _, m := range members {
					if m.Role == "leader" {
						if m.Host != e.addr(newPrimary) {
							return fmt.Errorf("%s says Primary but /cluster's leader is %v", newPrimary, m)
						}
						return nil
					}
				}
				return fmt.Errorf("/cluster on %s has no leader: %v", newPrimary, members)
			})
			t.Logf("new primary %s", newPrimary)
			cl = roles{primary: newPrimary}
			for _, u := range live {
				if u != newPrimary {
					cl.replicas = append(cl.replicas, u)
				}
			}
			ew.waitFor("a write on the new primary "+newPrimary, pollInterval, func() error { return writeRow(3) })
			if err := hasRows(newPrimary, false, append(rows, 3)); err != nil {
				t.Fatalf("after the failover: %v", err)
			}
			rows = append(rows, 3)
		}},
		{"force-remove the dead unit: the others are active, the replica follows the new primary", func(t *testing.T) {
			ew := e.with(t)
			if err := e.m.ForceRemoveUnit(dead); err != nil {
				t.Fatalf("remove-unit --force %s: %v", dead, err)
			}
			ew.waitGone(dead)
			ew.waitIdle()
			if r := ew.waitRoles(live); r.primary != cl.primary {
				t.Logf("primary moved again, from %s to %s", cl.primary, r.primary)
				cl = r
			}
			waitCluster(t, live...)
			ew.waitFor("one streaming replica in pg_stat_replication", pollInterval, replicationIs)
			waitReplicated(t)
		}},
		{"both clients follow the new primary", func(t *testing.T) {
			ew := e.with(t)
			ew.waitFor("server states on "+relID, pollInterval, func() error {
				return e.statesAre(legacyUnit, relID, cl)
			})
			ew.waitFor(legacyUnit+" connected to the new primary on "+relID, actionPoll, func() error {
				return e.legacyOn(legacyUnit, relID, cl.primary)
			})
			ew.waitFor(modernUnit+" connected to the new primary on "+modernRel, actionPoll, func() error {
				return e.legacyOn(modernUnit, modernRel, cl.primary)
			})
		}},
		{"remove-unit of the primary: it hands over to the last unit, which takes writes with every row", func(t *testing.T) {
			ew := e.with(t)
			gone := cl.primary
			if err := e.m.RemoveUnit(gone); err != nil {
				t.Fatalf("remove-unit %s: %v", gone, err)
			}
			ew.waitGone(gone)
			live = slices.DeleteFunc(live, func(u string) bool { return u == gone })
			ew.waitIdle()
			cl = ew.waitRoles(live)
			if cl.primary == "" || cl.primary == gone {
				t.Fatalf("no new primary after removing %s: %s", gone, cl)
			}
			waitCluster(t, live...)
			ew.waitFor("a write on "+cl.primary, pollInterval, func() error { return writeRow(4) })
			if err := hasRows(cl.primary, false, append(rows, 4)); err != nil {
				t.Fatalf("after removing the primary %s: %v", gone, err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// legacyOn is nil when the client's check action succeeds against the
// server unit primary's address.
func (e *env) legacyOn(clientUnit, relID, primary string) error {
	r, err := e.checkOK(clientUnit, relID)
	if err != nil {
		return err
	}
	if r.Host != e.addr(primary) {
		return fmt.Errorf("%s connected to %s, want the primary %s (%s)", clientUnit, r.Host, primary, e.addr(primary))
	}
	return nil
}

func (r roles) String() string {
	return fmt.Sprintf("primary %s, replicas %v", r.primary, r.replicas)
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
