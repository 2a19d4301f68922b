package ha_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestQuorumLoss (issue 10, item 5): three units lose two machines, the
// primary's and the async replica's, so etcd has no quorum. While Juju
// still lists the lost units the survivor stays a replica (it cannot know
// they are gone); once the operator removes them with remove-unit
// --force, the survivor, the sync standby, rebuilds a one-member etcd
// from its own data and becomes primary with every acknowledged row, and
// a new unit joins it as usual.
func TestQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs a real cluster (not in -short)")
	}
	e := newEnv(t)
	if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 3}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	units := e.units(app)
	for _, u := range units {
		e.seen[u] = true
	}
	e.waitIdle()
	cl := e.waitSyncRoles(units, 1)
	password := e.password(cl.primary)
	survivor := cl.sync[0]
	var rows []int
	for id := 1; id <= 5; id++ {
		err := e.asOperator(cl.primary, password, func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS quorum_it (id int PRIMARY KEY); INSERT INTO quorum_it VALUES ("+fmt.Sprint(id)+")")
			return err
		})
		if err != nil {
			t.Fatalf("write %d on %s: %v", id, cl.primary, err)
		}
		rows = append(rows, id) // acknowledged: the sync standby has it
	}

	lost := []string{cl.primary, cl.async[0]}
	for _, u := range lost {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := e.m.KillMachine(ctx, u); err != nil {
			t.Fatalf("kill-machine %s: %v", u, err)
		}
		cancel()
	}
	t.Logf("killed %v; %s survives", lost, survivor)

	// Juju still lists them: no rebuild, no primary (well past ttl).
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		if e.patroniLeader(survivor) == e.addr(survivor) {
			t.Fatalf("%s became primary while Juju still listed %v", survivor, lost)
		}
		time.Sleep(pollInterval)
	}
	if n := e.etcdRecord(survivor); n != 0 && n != 3 {
		t.Errorf("the etcd record changed before the removal: %d members", n)
	}

	if err := e.m.ForceRemoveUnit(lost...); err != nil {
		t.Fatalf("remove-unit --force %v: %v", lost, err)
	}
	for _, u := range lost {
		e.waitGone(u)
	}
	e.waitFor(survivor+" primary, with every acknowledged row, taking writes", pollInterval, func() error {
		if l := e.patroniLeader(survivor); l != e.addr(survivor) {
			return fmt.Errorf("Patroni on %s names leader %q", survivor, l)
		}
		return e.asOperator(survivor, password, func(ctx context.Context, c *pgx.Conn) error {
			r, err := c.Query(ctx, "SELECT id FROM quorum_it ORDER BY id")
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(r, pgx.RowTo[int])
			if err != nil {
				return err
			}
			if !slices.Equal(got, rows) {
				return permanent(fmt.Errorf("%s has rows %v, want %v: acknowledged writes lost", survivor, got, rows))
			}
			_, err = c.Exec(ctx, "INSERT INTO quorum_it VALUES (6) ON CONFLICT DO NOTHING")
			return err
		})
	})
	rows = append(rows, 6)
	e.waitFor("the etcd record holding "+survivor+" alone", pollInterval, func() error {
		if n := e.etcdRecord(survivor); n != 1 {
			return fmt.Errorf("%d members recorded", n)
		}
		return nil
	})

	added, err := e.m.AddUnit(app, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range added {
		e.seen[u] = true
	}
	live := append([]string{survivor}, added...)
	after := e.waitSyncRoles(live, 1)
	if after.primary != survivor {
		t.Errorf("primary %s after the new unit joined, want %s", after.primary, survivor)
	}
	if n := e.etcdRecord(survivor); n != 2 {
		t.Errorf("etcd record: %d members, want 2", n)
	}
	e.waitFor(added[0]+" with every row", pollInterval, func() error {
		return e.asOperator(added[0], password, func(ctx context.Context, c *pgx.Conn) error {
			var n int
			if err := c.QueryRow(ctx, "SELECT count(*) FROM quorum_it").Scan(&n); err != nil {
				return err
			}
			if n != len(rows) {
				return fmt.Errorf("%d rows, want %d", n, len(rows))
			}
			return nil
		})
	})
}

// etcdRecord is how many etcd members the leader's record (peer
// application databag, as unit sees it) holds; 0 when unreadable.
func (e *env) etcdRecord(unit string) int {
	info, err := e.m.ShowUnit(unit)
	if err != nil {
		return 0
	}
	for _, ri := range info[unit].RelationInfo {
		if ri.Endpoint != "database-peers" {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(ri.ApplicationData["etcd-members"]), &rec) == nil {
			return len(rec)
		}
	}
	return 0
}
