// Package relations_test runs the postgresql charm's client relations for
// real (issue 4): build/postgresql.charm and the pgclient test charm
// (tests/charms/pgclient) deployed under localjuju, related on db,
// db-admin and database, checked from the clients' own machines and, as
// the operator user, from the server's.
//
// The suite needs root (machines are network namespaces) and the packages
// scripts/install-deps.sh installs; without them every test is skipped with
// the reason printed. It is skipped in -short mode.
package relations_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	pgApp = "postgresql"
	pg0   = pgApp + "/0"
	// convergeTimeout bounds every wait: generous, the host may be busy.
	// Tests never assert on timings.
	convergeTimeout = 5 * time.Minute
	pollInterval    = 250 * time.Millisecond
	updateStatus    = 30 * time.Second
)

var (
	toolsBin    string // bin/localjuju
	pgCharm     string // build/postgresql.charm
	clientCharm string // build/pgclient.charm
	skipReason  string
)

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "relation", func(p testbuild.Paths) {
		toolsBin, pgCharm, clientCharm = p.Tools, p.Charm, p.ClientCharm
	}, &skipReason))
}

// env is one model.
type env struct {
	t *testing.T
	m *controller.Model
}

// newEnv opens a fresh model in a home of its own, destroyed at cleanup
// after the debug log is saved if the test failed.
func newEnv(t *testing.T) *env {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	base, err := os.MkdirTemp("", "relations-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Daemons running as postgres must traverse the home to their storage.
	home := filepath.Join(base, "model")
	for _, d := range []string{base, home, filepath.Join(home, "machines")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m, err := controller.Open(controller.Options{Home: home, ToolsBinary: toolsBin, UpdateStatusInterval: updateStatus})
	if err != nil {
		t.Fatalf("opening model: %v", err)
	}
	e := &env{t: t, m: m}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Destroy(ctx); err != nil {
			t.Errorf("destroying model: %v", err)
		}
	})
	t.Cleanup(func() { testbuild.SaveDebugLog(t, m, "relations-it", 0) })
	return e
}

// with returns a copy of e whose failures go to t (a step).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// deploy adds an application from a charm with config.
func (e *env) deploy(charm, app string, config map[string]string) {
	e.t.Helper()
	if err := e.m.Deploy(controller.DeployArgs{Charm: charm, App: app, NumUnits: 1, Config: config}); err != nil {
		e.t.Fatalf("deploy %s: %v", app, err)
	}
}

// deployServer deploys postgresql and waits for it to be active.
func (e *env) deployServer() {
	e.t.Helper()
	e.deploy(pgCharm, pgApp, nil)
	e.waitFor("postgresql/0 active", func() error {
		return e.wantStatus(pg0, "active", "")
	})
}

// integrate relates postgresql:<endpoint> with <client>:<endpoint> and
// returns the relation id ("db:3").
func (e *env) integrate(endpoint, client string) string {
	e.t.Helper()
	id, err := e.m.Integrate(pgApp+":"+endpoint, client+":"+endpoint)
	if err != nil {
		e.t.Fatalf("integrate %s %s: %v", endpoint, client, err)
	}
	return fmt.Sprintf("%s:%d", endpoint, id)
}

// removeRelation removes postgresql:<endpoint> <client>:<endpoint>.
func (e *env) removeRelation(endpoint, client string) {
	e.t.Helper()
	if err := e.m.RemoveRelation(pgApp+":"+endpoint, client+":"+endpoint); err != nil {
		e.t.Fatalf("remove-relation %s %s: %v", endpoint, client, err)
	}
}

// unitStatus returns a unit's status.
func (e *env) unitStatus(unit string) controller.UnitStatus {
	app, _, _ := strings.Cut(unit, "/")
	return e.m.Status().Applications[app].Units[unit]
}

// wantStatus is nil when unit's workload status is level with a message
// containing substr. A unit in error is reported as such.
func (e *env) wantStatus(unit, level, substr string) error {
	st := e.unitStatus(unit)
	if st.WorkloadStatus.Current == "error" {
		return permanent(fmt.Errorf("%s is in error: %s", unit, st.WorkloadStatus.Message))
	}
	if st.WorkloadStatus.Current != level || !strings.Contains(st.WorkloadStatus.Message, substr) {
		return fmt.Errorf("%s is %s %q, want %s containing %q", unit, st.WorkloadStatus.Current, st.WorkloadStatus.Message, level, substr)
	}
	return nil
}

// permanentError stops waitFor at once.
type permanentError struct{ error }

func permanent(err error) error { return permanentError{err} }

// waitFor polls cond until it returns nil; it fails the test with the last
// reason after convergeTimeout, or at once on a permanent error.
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

// waitIdle waits until no agent has anything to run.
func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
	defer cancel()
	if err := e.m.WaitIdle(ctx, 500*time.Millisecond); err != nil {
		e.t.Fatalf("wait-idle: %v", err)
	}
}

// action runs an action and returns its outcome; a refused enqueue comes
// back as a failed action.
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

// Result is one relation's outcome as pgclient's check action returns it.
type Result struct {
	Relation    string `json:"relation"`
	Endpoint    string `json:"endpoint"`
	Ready       bool   `json:"ready"`
	Waiting     string `json:"waiting"`
	Host        string `json:"host"`
	Port        string `json:"port"`
	User        string `json:"user"`
	Database    string `json:"database"`
	Table       string `json:"table"`
	OK          bool   `json:"ok"`
	Error       string `json:"error"`
	Failures    int    `json:"failures"`
	LastFailure string `json:"last-failure"`
	Password    string `json:"password"`
}

// check runs pgclient's check action on unit for one relation id and
// returns its result, with the password.
func (e *env) check(unit, relID string) (Result, error) {
	r := e.action(unit, "check", map[string]any{"relation": relID, "reveal-credentials": true})
	if r.Status != "completed" {
		return Result{}, fmt.Errorf("check on %s: %s: %s", unit, r.Status, r.Message)
	}
	var res []Result
	s, _ := r.Results["results"].(string)
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		return Result{}, fmt.Errorf("check on %s: results %q: %v", unit, s, err)
	}
	if len(res) != 1 {
		return Result{}, fmt.Errorf("check on %s: %d results for %s, want 1", unit, len(res), relID)
	}
	return res[0], nil
}

// checkOK returns nil and the result when the client connected on relID.
func (e *env) checkOK(unit, relID string) (Result, error) {
	r, err := e.check(unit, relID)
	switch {
	case err != nil:
		return r, err
	case !r.Ready:
		return r, fmt.Errorf("%s on %s not ready: %s", unit, relID, r.Waiting)
	case !r.OK:
		return r, fmt.Errorf("%s on %s cannot use the published credentials: %s", unit, relID, r.Error)
	}
	return r, nil
}

// waitClientOK waits until unit reports relID ok in its status and its
// check action connects; it returns the check's result.
func (e *env) waitClientOK(unit, relID string) Result {
	e.t.Helper()
	var res Result
	e.waitFor(unit+" connected on "+relID, func() error {
		st := e.unitStatus(unit)
		if st.WorkloadStatus.Current == "error" {
			return permanent(fmt.Errorf("%s is in error: %s", unit, st.WorkloadStatus.Message))
		}
		if !strings.Contains(st.WorkloadStatus.Message, relID+" ok (") {
			return fmt.Errorf("%s status %s %q", unit, st.WorkloadStatus.Current, st.WorkloadStatus.Message)
		}
		var err error
		res, err = e.checkOK(unit, relID)
		return err
	})
	return res
}

// serverBag returns the server unit's databag on a relation ("db:3").
func (e *env) serverBag(unit, relID string) (map[string]string, error) {
	info, err := e.m.ShowUnit(unit)
	if err != nil {
		return nil, err
	}
	_, n, _ := strings.Cut(relID, ":")
	id, _ := strconv.Atoi(n)
	for _, ri := range info[unit].RelationInfo {
		if ri.RelationID == id && ri.LocalUnit != nil {
			return ri.LocalUnit.Data, nil
		}
	}
	return nil, fmt.Errorf("%s is not in relation %s", unit, relID)
}

// providerAppBag returns postgresql's application databag on a relation,
// as a client unit sees it.
func (e *env) providerAppBag(clientUnit, relID string) (map[string]string, error) {
	info, err := e.m.ShowUnit(clientUnit)
	if err != nil {
		return nil, err
	}
	_, n, _ := strings.Cut(relID, ":")
	id, _ := strconv.Atoi(n)
	for _, ri := range info[clientUnit].RelationInfo {
		if ri.RelationID == id {
			return ri.ApplicationData, nil
		}
	}
	return nil, fmt.Errorf("%s is not in relation %s", clientUnit, relID)
}

// connectFrom opens a connection from inside unit's machine.
func (e *env) connectFrom(ctx context.Context, unit, host, port, user, password, database string) (*pgx.Conn, error) {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %v", port, err)
	}
	cfg, err := pgx.ParseConfig("sslmode=prefer connect_timeout=10")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, uint16(p), user, password, database
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return mach.Dial(ctx, network, addr)
	}
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	return pgx.ConnectConfig(ctx, cfg)
}

// tryLogin connects from unit and runs SELECT 1.
func (e *env) tryLogin(unit string, r Result) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.connectFrom(ctx, unit, r.Host, r.Port, r.User, r.Password, r.Database)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var one int
	return c.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// operator returns the operator password (get-password on the leader).
func (e *env) operator() string {
	e.t.Helper()
	r := e.action(pg0, "get-password", map[string]any{"username": "operator"})
	if r.Status != "completed" {
		e.t.Fatalf("get-password: %s: %s", r.Status, r.Message)
	}
	pw, err := testbuild.PasswordFromResults(e.m, r.Results)
	if err != nil {
		e.t.Fatalf("get-password: %v", err)
	}
	return pw
}

// asOperator runs f connected as operator to database on postgresql/0, from
// its own machine.
func (e *env) asOperator(password, database string, f func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := e.unitStatus(pg0).PublicAddress
	c, err := e.connectFrom(ctx, pg0, addr, "5432", "operator", password, database)
	if err != nil {
		return fmt.Errorf("connecting as operator to %s: %w", database, err)
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// exists reports whether a query with args returns a row.
func exists(ctx context.Context, c *pgx.Conn, query string, args ...any) (bool, error) {
	var ok bool
	err := c.QueryRow(ctx, "SELECT EXISTS ("+query+")", args...).Scan(&ok)
	return ok, err
}

// isAuthFailure tells whether err is PostgreSQL refusing the login:
// invalid_password (28P01) or invalid_authorization_specification (28000,
// no pg_hba line, or a role that may not log in).
func isAuthFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000")
}

// allowedWatcher polls the server units' db and db-admin databags and, the
// moment a client unit first appears in allowed-units (with given
// credentials), connects from that unit's machine with them: §A.4 says
// the unit is listed only once pg_hba admits it and PostgreSQL reloaded.
type allowedWatcher struct {
	e      *env
	units  []string // server units
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	seen   map[string]bool // "relid unit password" tried
	failed []string        // what failed
	okSeen map[string]bool // "relid unit" connected
}

func (e *env) watchAllowedUnits(serverUnits ...string) *allowedWatcher {
	w := &allowedWatcher{e: e, units: serverUnits, stop: make(chan struct{}), done: make(chan struct{}),
		seen: map[string]bool{}, okSeen: map[string]bool{}}
	go w.loop()
	return w
}

func (w *allowedWatcher) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		for _, su := range w.units {
			info, err := w.e.m.ShowUnit(su)
			if err != nil {
				continue
			}
			for _, ri := range info[su].RelationInfo {
				if (ri.Endpoint != "db" && ri.Endpoint != "db-admin") || ri.LocalUnit == nil {
					continue
				}
				bag := ri.LocalUnit.Data
				relID := fmt.Sprintf("%s:%d", ri.Endpoint, ri.RelationID)
				for _, cu := range strings.Fields(bag["allowed-units"]) {
					key := relID + " " + cu + " " + bag["password"]
					if w.seen[key] {
						continue
					}
					w.seen[key] = true
					r := Result{Host: bag["host"], Port: bag["port"], User: bag["user"], Password: bag["password"], Database: bag["database"]}
					err := w.e.tryLogin(cu, r)
					w.mu.Lock()
					if err != nil {
						w.failed = append(w.failed, fmt.Sprintf("%s listed %s in allowed-units of %s but it cannot connect as %s: %v", su, cu, relID, r.User, err))
					} else {
						w.okSeen[relID+" "+cu] = true
					}
					w.mu.Unlock()
				}
			}
		}
	}
}

// finish stops the watcher and returns the failures and the (relation,
// unit) pairs that connected.
func (w *allowedWatcher) finish() ([]string, map[string]bool) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed, w.okSeen
}
