package charm_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestStandaloneUnit is issue 3's integration scenario on one unit. Each
// step builds on the previous one, so the first failing step stops the test.
func TestStandaloneUnit(t *testing.T) {
	e := newEnv(t)
	const unit = app + "/0"
	var (
		password  string    // operator's current password
		startTime time.Time // pg_postmaster_start_time after the last step
	)
	const row = "written before any config change"

	// postmasterStart reads when the server last (re)started.
	postmasterStart := func(t *testing.T) time.Time {
		t.Helper()
		var at time.Time
		err := e.with(t).targetOf(unit).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&at)
		})
		if err != nil {
			t.Fatalf("reading pg_postmaster_start_time: %v", err)
		}
		return at
	}
	// readRow checks the row written in the first steps is still there.
	readRow := func(t *testing.T) {
		t.Helper()
		var got string
		err := e.with(t).targetOf(unit).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, "SELECT note FROM charm_it WHERE id = $1", 1).Scan(&got)
		})
		if err != nil {
			t.Fatalf("reading the row back: %v", err)
		}
		if got != row {
			t.Fatalf("row = %q, want %q", got, row)
		}
	}
	// settingsAre is a waitStatus condition: every setting shows as wanted.
	settingsAre := func(t *testing.T, want map[string]string) func() error {
		return func() error {
			return e.with(t).targetOf(unit).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
				for name, w := range want {
					got, err := show(ctx, c, name)
					if err != nil {
						return fmt.Errorf("SHOW %s: %w", name, err)
					}
					if got != w {
						return fmt.Errorf("SHOW %s = %q, want %q", name, got, w)
					}
				}
				return nil
			})
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"deploy one unit from build/postgresql.charm and wait for active", func(t *testing.T) {
			if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			st := e.with(t).waitStatus(unit, "active", nil)
			t.Logf("%s: active %q", unit, st.WorkloadStatus.Message)
			if !st.Leader {
				t.Errorf("the only unit is not the leader")
			}
			if v := e.m.Status().Applications[app].Version; v == "" {
				t.Errorf("no workload version set (application-version-set)")
			} else {
				t.Logf("workload version %q", v)
			}
		}},
		{"get-password points at the secret and keeps the password off action-set's command line", func(t *testing.T) {
			// action-set's arguments are readable by any local user
			// through /proc while it runs (issue 9, item 10).
			res := e.with(t).mustAction(unit, "get-password", map[string]any{"username": "operator"})
			if _, ok := res["password"]; ok {
				t.Errorf("get-password results carry the password in clear")
			}
			id, _ := res["secret-id"].(string)
			if id == "" {
				t.Errorf("get-password results: no secret-id (results keys %v)", slices.Sorted(maps.Keys(res)))
			}
			if rw, _ := res["reveal-with"].(string); rw != "juju show-secret "+id+" --reveal" {
				t.Errorf("get-password results: reveal-with = %q, want the juju show-secret command", rw)
			}
		}},
		{"get-password returns the operator password", func(t *testing.T) {
			password = e.with(t).password(unit, "operator")
			if len(password) < 32 {
				t.Errorf("generated operator password has %d characters, want at least 32 (DESIGN §7)", len(password))
			}
		}},
		{"get-primary names the unit", func(t *testing.T) {
			res := e.with(t).mustAction(unit, "get-primary", nil)
			if got := res["primary"]; got != unit {
				t.Errorf("get-primary: primary = %v, want %s (results %v)", got, unit, res)
			}
		}},
		{"connect over the unit's address, write and read a row", func(t *testing.T) {
			tg := e.with(t).targetOf(unit)
			err := tg.withConn(password, func(ctx context.Context, c *pgx.Conn) error {
				if _, err := c.Exec(ctx, "CREATE TABLE charm_it (id int PRIMARY KEY, note text NOT NULL)"); err != nil {
					return fmt.Errorf("create table: %w", err)
				}
				if _, err := c.Exec(ctx, "INSERT INTO charm_it VALUES ($1, $2)", 1, row); err != nil {
					return fmt.Errorf("insert: %w", err)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("as operator at %s:%d: %v", tg.host, tg.port, err)
			}
			readRow(t)
			startTime = postmasterStart(t)
		}},
		{"a reload-only setting (extra_pg_conf work_mem) applies without a restart", func(t *testing.T) {
			e.with(t).setConfig(map[string]string{"extra_pg_conf": "work_mem = 8MB"})
			e.with(t).waitStatus(unit, "active", settingsAre(t, map[string]string{"work_mem": "8MB"}))
			if now := postmasterStart(t); !now.Equal(startTime) {
				t.Errorf("server restarted for a reload-only setting (start time %s, was %s)", now, startTime)
				startTime = now
			}
			readRow(t)
		}},
		{"admin_addresses applies to pg_hba with a reload", func(t *testing.T) {
			e.with(t).setConfig(map[string]string{"admin_addresses": "10.1.2.0/24"})
			inHBA := func() error {
				return e.with(t).targetOf(unit).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
					var n int
					err := c.QueryRow(ctx, `SELECT count(*) FROM pg_hba_file_rules
						WHERE address = '10.1.2.0' AND netmask = '255.255.255.0' AND auth_method = 'scram-sha-256'`).Scan(&n)
					if err == nil && n == 0 {
						err = errors.New("no pg_hba rule for 10.1.2.0/24")
					}
					return err
				})
			}
			e.with(t).waitStatus(unit, "active", inHBA)
			if now := postmasterStart(t); !now.Equal(startTime) {
				t.Errorf("server restarted for a pg_hba change")
				startTime = now
			}
		}},
		{"a restart-requiring setting (max_connections) applies with a restart", func(t *testing.T) {
			e.with(t).setConfig(map[string]string{"max_connections": "150"})
			e.with(t).waitStatus(unit, "active", settingsAre(t, map[string]string{"max_connections": "150", "work_mem": "8MB"}))
			if now := postmasterStart(t); !now.After(startTime) {
				t.Errorf("SHOW max_connections changed but the server was not restarted (start time %s)", now)
			} else {
				startTime = now
			}
			readRow(t)
		}},
		{"an unknown parameter in extra_pg_conf blocks, naming the option, and changes nothing", func(t *testing.T) {
			e.with(t).setConfig(map[string]string{"extra_pg_conf": "work_mem = 16MB\nnonsense_param = 1"})
			st := e.with(t).waitStatus(unit, "blocked", nil)
			t.Logf("blocked %q", st.WorkloadStatus.Message)
			if !strings.Contains(st.WorkloadStatus.Message, "extra_pg_conf") {
				t.Errorf("blocked message %q does not name extra_pg_conf", st.WorkloadStatus.Message)
			}
			// Nothing applied: the valid line beside the bad one neither.
			if err := settingsAre(t, map[string]string{"work_mem": "8MB", "max_connections": "150"})(); err != nil {
				t.Errorf("last good configuration not kept: %v", err)
			}
			if now := postmasterStart(t); !now.Equal(startTime) {
				t.Errorf("server restarted after a refused config (start time %s, was %s)", now, startTime)
			}
			readRow(t)
		}},
		{"reverting the bad value makes the unit active again", func(t *testing.T) {
			e.with(t).setConfig(map[string]string{"extra_pg_conf": "work_mem = 8MB"})
			e.with(t).waitStatus(unit, "active", settingsAre(t, map[string]string{"work_mem": "8MB"}))
			readRow(t)
		}},
		{"listen_port=80 (below 1024) blocks, naming the option, and the server keeps serving", func(t *testing.T) {
			before := e.with(t).targetOf(unit) // port 5432, before the change
			e.with(t).setConfig(map[string]string{"listen_port": "80"})
			st := e.with(t).waitStatus(unit, "blocked", nil)
			t.Logf("blocked %q", st.WorkloadStatus.Message)
			if !strings.Contains(st.WorkloadStatus.Message, "listen_port") {
				t.Errorf("blocked message %q does not name listen_port", st.WorkloadStatus.Message)
			}
			err := before.withConn(password, func(ctx context.Context, c *pgx.Conn) error {
				var n int
				return c.QueryRow(ctx, "SELECT count(*) FROM charm_it").Scan(&n)
			})
			if err != nil {
				t.Fatalf("server at the old port no longer serving: %v", err)
			}
			e.with(t).setConfig(map[string]string{"listen_port": "5432"})
			e.with(t).waitStatus(unit, "active", nil)
			readRow(t)
		}},
		{"listen_port=5433 restarts the server on the new port, opens it and closes the old one", func(t *testing.T) {
			old := e.with(t).targetOf(unit)
			e.with(t).setConfig(map[string]string{"listen_port": "5433"})
			onNewPort := func() error {
				st := e.unitStatus(unit)
				if !slices.Contains(st.OpenPorts, "5433/tcp") || slices.Contains(st.OpenPorts, "5432/tcp") {
					return fmt.Errorf("open ports %v", st.OpenPorts)
				}
				return settingsAre(t, map[string]string{"port": "5433"})()
			}
			e.with(t).waitStatus(unit, "active", onNewPort)
			if err := old.withConn(password, func(context.Context, *pgx.Conn) error { return nil }); err == nil {
				t.Errorf("the server still answers on the old port %d", old.port)
			}
			if now := postmasterStart(t); !now.After(startTime) {
				t.Errorf("port changed without a restart (start time %s)", now)
			}
			readRow(t)
			e.with(t).setConfig(map[string]string{"listen_port": "5432"})
			e.with(t).waitStatus(unit, "active", settingsAre(t, map[string]string{"port": "5432"}))
			startTime = postmasterStart(t)
			readRow(t)
		}},
		{"set-password without a password generates a new one; only it connects", func(t *testing.T) {
			old := password
			e.with(t).mustAction(unit, "set-password", map[string]any{"username": "operator"})
			password = e.with(t).password(unit, "operator")
			if password == old {
				t.Fatalf("get-password still returns the old password after set-password")
			}
			e.with(t).waitStatus(unit, "active", nil)
			e.with(t).checkOnlyPassword(unit, password, old)
		}},
		{"set-password with an explicit password; only it connects", func(t *testing.T) {
			old := password
			explicit := "charm-it-Explicit-" + fmt.Sprint(time.Now().UnixNano()%1e6)
			e.with(t).mustAction(unit, "set-password", map[string]any{"username": "operator", "password": explicit})
			if got := e.with(t).password(unit, "operator"); got != explicit {
				t.Fatalf("get-password does not return the password just set")
			}
			password = explicit
			e.with(t).waitStatus(unit, "active", nil)
			e.with(t).checkOnlyPassword(unit, password, old)
		}},
		{"set-password of etcd's root over TLS: the unit stays active and serves", func(t *testing.T) {
			old := e.with(t).password(unit, "etcd")
			e.with(t).mustAction(unit, "set-password", map[string]any{"username": "etcd"})
			if e.with(t).password(unit, "etcd") == old {
				t.Fatalf("get-password still returns etcd's old password after set-password")
			}
			e.with(t).waitStatus(unit, "active", nil)
			readRow(t)
		}},
		{"set-password with a 10-character password fails and changes nothing", func(t *testing.T) {
			r := e.with(t).action(unit, "set-password", map[string]any{"username": "operator", "password": "short12345"})
			if r.Status == "completed" {
				t.Fatalf("set-password with a 10-character password completed (results %v)", redactResults(r.Results))
			}
			t.Logf("refused: %s", r.Message)
			if got := e.with(t).password(unit, "operator"); got != password {
				t.Fatalf("get-password changed after a refused set-password")
			}
			e.with(t).waitStatus(unit, "active", nil)
			e.with(t).checkOnlyPassword(unit, password, "short12345")
			readRow(t)
		}},
	}
	steps = append(steps, struct {
		name string
		run  func(t *testing.T)
	}{"the rotations left no unused revision of the system-users secret (secret-remove)", func(t *testing.T) {
		info, err := e.m.ShowUnit(unit)
		if err != nil {
			t.Fatal(err)
		}
		uri := ""
		for _, r := range info[unit].RelationInfo {
			if r.Endpoint == "database-peers" {
				uri = r.ApplicationData["system-users-secret"]
			}
		}
		if !strings.HasPrefix(uri, "secret:") {
			uri = "secret://" + e.m.UUID() + "/" + uri // a bare id
		}
		deadline := time.Now().Add(convergeTimeout)
		for {
			revs, err := e.m.SecretRevisions(uri)
			if err == nil && len(revs) == 1 {
				t.Logf("revisions of %s: %v", uri, revs)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("revisions of the system-users secret %q: %v, %v; want only the latest", uri, revs, err)
			}
			time.Sleep(pollInterval)
		}
	}})
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// checkOnlyPassword checks that operator connects with good and is refused
// with bad, over the unit's address.
func (e *env) checkOnlyPassword(unit, good, bad string) {
	e.t.Helper()
	tg := e.targetOf(unit)
	if err := tg.withConn(good, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SELECT 1")
		return err
	}); err != nil {
		e.t.Errorf("operator with the current password: %v", err)
	}
	err := tg.withConn(bad, func(ctx context.Context, c *pgx.Conn) error { return nil })
	switch {
	case err == nil:
		e.t.Errorf("operator still connects with the previous password")
	case !isAuthFailure(err):
		e.t.Errorf("operator with the previous password: want a password failure (28P01), got %v", err)
	}
}
