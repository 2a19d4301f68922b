// Package charm_test runs the postgresql charm for real: build/postgresql.charm
// deployed under localjuju, with PostgreSQL, Patroni and etcd from the host's
// packages, driven through the same Go API the localjuju CLI uses. It covers
// issue 3's integration "Done when": deploy, active, password action, a row
// written and read over the unit's address, reload and restart settings,
// bad config blocking without losing data, and password rotation.
//
// The suite needs root (machines are network namespaces) and the packages
// scripts/install-deps.sh installs; without them every test is skipped with
// the reason printed. It is skipped in -short mode (`make unit`).
package charm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	app = "postgresql"
	// convergeTimeout bounds every wait for the charm to reach a status:
	// generous, because Patroni converges asynchronously after the hooks
	// and a busy CI host is slow. Tests never assert on timings.
	convergeTimeout = 5 * time.Minute
	pollInterval    = 250 * time.Millisecond
	// updateStatus is the model's update-status interval: short, so that
	// drift the charm repairs in update-status is seen within the timeouts.
	updateStatus = 10 * time.Second
)

var (
	// toolsBin is bin/localjuju, built by TestMain: every hook tool and
	// juju-exec.
	toolsBin string
	// charmFile is build/postgresql.charm, built by TestMain.
	charmFile string
	// clientCharm is build/pgclient.charm, the test client charm.
	clientCharm string
	// skipReason is set when the suite cannot run.
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "charm", func(p testbuild.Paths) {
		toolsBin, charmFile, clientCharm = p.Tools, p.Charm, p.ClientCharm
	}, &skipReason))
}

// env is one model with the charm deployed as app.
type env struct {
	t *testing.T
	m *controller.Model
}

// newEnv opens a fresh model in a home of the test's own; it is destroyed
// at cleanup, after the debug log is dumped if the test failed.
func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, controller.Options{}) }

// newEnvWith is newEnv with model options (home, tools and update-status
// interval are the suite's).
func newEnvWith(t *testing.T, opts controller.Options) *env {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	opts.Home, opts.ToolsBinary, opts.UpdateStatusInterval = filepath.Join(t.TempDir(), "model"), toolsBin, updateStatus
	m, err := controller.Open(opts)
	if err != nil {
		t.Fatalf("opening model: %v", err)
	}
	e := &env{t: t, m: m}
	// Cleanups run last-registered first: units are listed, the debug log
	// dumped on failure, the model destroyed, then the host directories of
	// its units removed.
	var units []string
	t.Cleanup(func() { testbuild.RemoveHostDirs(t, m.UUID(), units) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Destroy(ctx); err != nil {
			t.Errorf("destroying model: %v", err)
		}
	})
	// Registered after Destroy, so it runs first: the whole debug log goes
	// to a file that outlives the test, and its tail (without localjuju's
	// update-status lines) into the test output.
	t.Cleanup(func() {
		for u := range m.Status().Applications[app].Units {
			units = append(units, u)
		}
		testbuild.SaveDebugLog(t, m, "charm-it", 200)
	})
	return e
}

// with returns a copy of e whose failures go to t (a step).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// unitStatus returns the unit's status as `juju status` shows it.
func (e *env) unitStatus(unit string) controller.UnitStatus {
	a, _, _ := strings.Cut(unit, "/")
	return e.m.Status().Applications[a].Units[unit]
}

// waitIdle waits until no unit agent has anything to run.
func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
	defer cancel()
	if err := e.m.WaitIdle(ctx, 500*time.Millisecond); err != nil {
		e.t.Fatalf("wait-idle: %v", err)
	}
}

// waitStatus waits until the unit's workload status is want and cond (if
// any) holds. A unit in error fails at once: Juju would not go on either.
func (e *env) waitStatus(unit, want string, cond func() error) controller.UnitStatus {
	e.t.Helper()
	e.waitIdle()
	deadline := time.Now().Add(convergeTimeout)
	var why error
	for {
		st := e.unitStatus(unit)
		if st.WorkloadStatus.Current == "error" {
			e.t.Fatalf("%s is in error: %s", unit, st.WorkloadStatus.Message)
		}
		if st.WorkloadStatus.Current == want {
			if cond == nil {
				return st
			}
			if why = cond(); why == nil {
				return st
			}
		} else {
			why = fmt.Errorf("workload status %s (%q)", st.WorkloadStatus.Current, st.WorkloadStatus.Message)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not %s within %s: %v", unit, want, convergeTimeout, why)
		}
		time.Sleep(pollInterval)
	}
}

// setConfig changes the application's config.
func (e *env) setConfig(kv map[string]string) {
	e.t.Helper()
	if err := e.m.SetConfig(app, kv, nil); err != nil {
		e.t.Fatalf("config %v: %v", kv, err)
	}
}

// action runs an action on unit and returns its outcome; an action the
// model refuses to enqueue (parameters failing actions.yaml) is returned as
// a failed action with the refusal as its message, as `juju run` reports
// it.
func (e *env) action(unit, name string, params map[string]any) controller.ActionResult {
	e.t.Helper()
	id, err := e.m.EnqueueAction(unit, name, params)
	if err != nil {
		return controller.ActionResult{Unit: unit, Name: name, Status: "failed", Message: "not enqueued: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
	defer cancel()
	r, err := e.m.WaitAction(ctx, id)
	if err != nil {
		e.t.Fatalf("action %s on %s: %v", name, unit, err)
	}
	return r
}

// mustAction runs an action that must complete.
func (e *env) mustAction(unit, name string, params map[string]any) map[string]any {
	e.t.Helper()
	r := e.action(unit, name, params)
	if r.Status != "completed" {
		e.t.Fatalf("action %s %v on %s: %s: %s (results %v)", name, redactParams(params), unit, r.Status, r.Message, redactResults(r.Results))
	}
	return r.Results
}

// password fetches a system user's password with get-password.
func (e *env) password(unit, user string) string {
	e.t.Helper()
	res := e.mustAction(unit, "get-password", map[string]any{"username": user})
	pw, err := testbuild.PasswordFromResults(e.m, res)
	if err != nil {
		e.t.Fatalf("get-password username=%s: %v", user, err)
	}
	return pw
}

// redactParams hides a password parameter in failure messages.
func redactParams(p map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range p {
		if k == "password" {
			v = "<redacted>"
		}
		out[k] = v
	}
	return out
}

// redactResults hides a password result in failure messages.
func redactResults(r map[string]any) map[string]any { return redactParams(r) }

// target is where a client reaches PostgreSQL: the unit's address and
// listen_port, dialled from inside a machine.
type target struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	host string
	port uint16
}

// targetOf returns the unit's address and the application's listen_port,
// dialled from the unit's own machine (the host has no route to machines).
func (e *env) targetOf(unit string) target {
	e.t.Helper()
	mach, err := e.m.Machine(unit)
	if err != nil {
		e.t.Fatalf("machine of %s: %v", unit, err)
	}
	cfg, _, err := e.m.Config(app)
	if err != nil {
		e.t.Fatal(err)
	}
	port, err := toPort(cfg["listen_port"])
	if err != nil {
		e.t.Fatalf("listen_port: %v", err)
	}
	return target{dial: mach.Dial, host: mach.Addr.String(), port: port}
}

func toPort(v any) (uint16, error) {
	switch p := v.(type) {
	case int:
		return uint16(p), nil
	case int64:
		return uint16(p), nil
	case float64:
		return uint16(p), nil
	}
	return 0, fmt.Errorf("unexpected value %#v", v)
}

// connect opens a connection as user with password to dbname.
func (tg target) connect(ctx context.Context, user, password, dbname string) (*pgx.Conn, error) {
	// Address, port and names are ours, not input; the password is set on
	// the parsed config so it needs no quoting.
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=prefer connect_timeout=10",
		tg.host, tg.port, user, dbname))
	if err != nil {
		return nil, err
	}
	cfg.Password = password
	cfg.DialFunc = tg.dial
	return pgx.ConnectConfig(ctx, cfg)
}

// withConn runs f on a fresh connection as operator.
func (tg target) withConn(password string, f func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tg.connect(ctx, "operator", password, "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// show returns a setting as SHOW prints it.
func show(ctx context.Context, c *pgx.Conn, name string) (string, error) {
	var v string
	err := c.QueryRow(ctx, "SHOW "+pgx.Identifier{name}.Sanitize()).Scan(&v)
	return v, err
}

// isAuthFailure tells whether err is PostgreSQL refusing a password
// (invalid_password, 28P01).
func isAuthFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "28P01"
}
