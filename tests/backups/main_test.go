// Package backups_test runs the postgresql charm's backups for real:
// build/postgresql.charm deployed under localjuju with PostgreSQL,
// Patroni, etcd and pgBackRest from the host's packages, a posix
// repository in a directory the test creates (the machines share the
// host's filesystem), backups, point-in-time restores in place, and the
// refusals of bad input.
//
// The suite needs root (machines are network namespaces) and the packages
// scripts/install-deps.sh installs; without them the test is skipped with
// the reason printed. It is skipped in -short mode.
package backups_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	app = "postgresql"
	// convergeTimeout bounds every wait: generous, the host may be busy.
	// Tests never assert on timings.
	convergeTimeout = 5 * time.Minute
	pollInterval    = 500 * time.Millisecond
	updateStatus    = 10 * time.Second
	leaseDuration   = 10 * time.Second
	pgPort          = 5432
)

var (
	toolsBin    string
	charmFile   string
	clientCharm string
	skipReason  string
)

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "Backups", func(p testbuild.Paths) {
		toolsBin, charmFile, clientCharm = p.Tools, p.Charm, p.ClientCharm
	}, &skipReason))
}

// env is one model.
type env struct {
	t *testing.T
	// top is the test's own T: what lives as long as the model is
	// cleaned up with it, not with a step.
	top  *testing.T
	m    *controller.Model
	seen map[string]bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	m, err := controller.Open(controller.Options{
		Home: filepath.Join(t.TempDir(), "model"), ToolsBinary: toolsBin,
		UpdateStatusInterval: updateStatus, LeaseDuration: leaseDuration,
	})
	if err != nil {
		t.Fatalf("opening model: %v", err)
	}
	e := &env{t: t, top: t, m: m, seen: map[string]bool{}}
	t.Cleanup(func() { testbuild.RemoveHostDirs(t, m.UUID(), slices.Sorted(maps.Keys(e.seen))) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Destroy(ctx); err != nil {
			t.Errorf("destroying model: %v", err)
		}
	})
	t.Cleanup(func() { testbuild.SaveDebugLog(t, m, "backups-it", 200) })
	return e
}

func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// repoDir makes a directory owned by postgres for a repository; it is
// removed at cleanup.
func (e *env) repoDir(name string, owner string, mode os.FileMode) string {
	e.t.Helper()
	d, err := os.MkdirTemp("", "pgjuju-backups-"+name+"-")
	if err != nil {
		e.t.Fatal(err)
	}
	e.top.Cleanup(func() { os.RemoveAll(d) })
	u, err := user.Lookup(owner)
	if err != nil {
		e.t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(d, uid, gid); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil {
		e.t.Fatal(err)
	}
	return d
}

type permanentError struct{ error }

func permanent(err error) error { return permanentError{err} }

func (e *env) waitFor(what string, cond func() error) {
	e.t.Helper()
	deadline := time.Now().Add(convergeTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		var perm permanentError
		if errors.As(err, &perm) {
			e.t.Fatalf("waiting for %s: %v", what, err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not reached within %s: %v", what, convergeTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func (e *env) unitStatus(unit string) controller.UnitStatus {
	a, _, _ := strings.Cut(unit, "/")
	return e.m.Status().Applications[a].Units[unit]
}

func (e *env) addr(unit string) string { return e.unitStatus(unit).PublicAddress }

// workload is nil when unit's workload status is level with a message
// containing msg.
func (e *env) workload(unit, level, msg string) error {
	ws := e.unitStatus(unit).WorkloadStatus
	if ws.Current == "error" {
		return permanent(fmt.Errorf("%s is in error: %s", unit, ws.Message))
	}
	if ws.Current != level || !strings.Contains(ws.Message, msg) {
		return fmt.Errorf("%s is %s %q, want %s %q", unit, ws.Current, ws.Message, level, msg)
	}
	return nil
}

func (e *env) waitPrimary(unit string) {
	e.t.Helper()
	e.waitFor(unit+" active Primary", func() error { return e.workload(unit, "active", "Primary") })
}

// action runs an action and returns its outcome.
func (e *env) action(unit, name string, params map[string]any) controller.ActionResult {
	e.t.Helper()
	id, err := e.m.EnqueueAction(unit, name, params)
	if err != nil {
		return controller.ActionResult{Unit: unit, Name: name, Status: "failed", Message: "not enqueued: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*convergeTimeout)
	defer cancel()
	r, err := e.m.WaitAction(ctx, id)
	if err != nil {
		e.t.Fatalf("action %s on %s: %v", name, unit, err)
	}
	return r
}

func (e *env) password(unit string) string {
	e.t.Helper()
	r := e.action(unit, "get-password", map[string]any{"username": "operator"})
	if r.Status != "completed" {
		e.t.Fatalf("get-password on %s: %s: %s", unit, r.Status, r.Message)
	}
	pw, err := testbuild.PasswordFromResults(e.m, r.Results)
	if err != nil {
		e.t.Fatalf("get-password on %s: %v", unit, err)
	}
	return pw
}

// sql runs f connected as operator to the unit's postgres from its own
// machine.
func (e *env) sql(unit, password string, f func(ctx context.Context, c *pgx.Conn) error) error {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("sslmode=disable connect_timeout=10")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = e.addr(unit), pgPort, "operator", password, "postgres"
	cfg.DialFunc = mach.Dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting as operator to %s: %w", unit, err)
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// mustSQL runs statements in order.
func (e *env) mustSQL(unit, password string, stmts ...string) {
	e.t.Helper()
	err := e.sql(unit, password, func(ctx context.Context, c *pgx.Conn) error {
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// ids returns the ids in table t, in order; nil and an error if the
// table is not there.
func (e *env) ids(unit, password, table string) ([]int, error) {
	var out []int
	err := e.sql(unit, password, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT id FROM "+pgx.Identifier{table}.Sanitize()+" ORDER BY id")
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[int])
		return err
	})
	return out, err
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// checkResult is one relation's outcome as pgclient's check action
// returns it.
type checkResult struct {
	Relation string `json:"relation"`
	Ready    bool   `json:"ready"`
	Waiting  string `json:"waiting"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
}

// checkOK runs pgclient's check action on unit for relID: nil once the
// client is ready, connected and wrote and read its row.
func (e *env) checkOK(unit, relID string) error {
	r := e.action(unit, "check", map[string]any{"relation": relID})
	if r.Status != "completed" {
		return fmt.Errorf("check on %s: %s: %s", unit, r.Status, r.Message)
	}
	s, _ := r.Results["results"].(string)
	var res []checkResult
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		return fmt.Errorf("check on %s: results %q: %v", unit, s, err)
	}
	if len(res) != 1 {
		return fmt.Errorf("check on %s: %d results for %s, want 1", unit, len(res), relID)
	}
	switch c := res[0]; {
	case !c.Ready:
		return fmt.Errorf("%s on %s not ready: %s", unit, relID, c.Waiting)
	case !c.OK:
		return fmt.Errorf("%s on %s cannot use the published credentials: %s", unit, relID, c.Error)
	}
	return nil
}
