// Package ha_test runs the postgresql charm with several units for real:
// build/postgresql.charm deployed under localjuju with three units, with
// PostgreSQL, Patroni and etcd from the host's packages. It checks
// streaming replication, Patroni's view of the cluster, remove-unit and
// add-unit, and a failover after the primary's machine is killed, with a
// legacy (pgsql) client following the new primary.
//
// The suite needs root (machines are network namespaces) and the packages
// scripts/install-deps.sh installs; without them the test is skipped with
// the reason printed. It is skipped in -short mode.
package ha_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	app       = "postgresql"
	legacyApp = "legacy"
	// modernApp is a pgclient related on database (postgresql_client).
	modernApp = "modern"
	// convergeTimeout bounds every wait: generous, the host may be busy.
	// Tests never assert on timings.
	convergeTimeout = 5 * time.Minute
	pollInterval    = 500 * time.Millisecond
	// actionPoll spaces the waits that run an action on every attempt.
	actionPoll = 2 * time.Second
	// updateStatus and leaseDuration are short so that drift repair and
	// a new Juju leader after a lost machine come quickly.
	updateStatus  = 10 * time.Second
	leaseDuration = 10 * time.Second
	// pgPort is listen_port's default; patroniPort Patroni's REST API.
	pgPort      = 5432
	patroniPort = 8008
)

var (
	toolsBin    string // bin/localjuju
	charmFile   string // build/postgresql.charm (or $PGJUJU_TEST_CHARM)
	clientCharm string // build/pgclient.charm
	skipReason  string // why the suite cannot run here
)

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "HA", func(p testbuild.Paths) {
		toolsBin, charmFile, clientCharm = p.Tools, p.Charm, p.ClientCharm
	}, &skipReason))
}

// env is one model.
type env struct {
	t *testing.T
	m *controller.Model
	// seen collects every postgresql unit the test created, for the
	// host-directory cleanup (a force-removed unit runs no remove hook).
	seen map[string]bool
}

// newEnv opens a fresh model; it is destroyed at cleanup, after the debug
// log is saved if the test failed.
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
	e := &env{t: t, m: m, seen: map[string]bool{}}
	// Cleanups run last-registered first: debug log, destroy, host dirs.
	t.Cleanup(func() { testbuild.RemoveHostDirs(t, m.UUID(), slices.Sorted(maps.Keys(e.seen))) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Destroy(ctx); err != nil {
			t.Errorf("destroying model: %v", err)
		}
	})
	t.Cleanup(func() { testbuild.SaveDebugLog(t, m, "ha-it", 200) })
	return e
}

// with returns a copy of e whose failures go to t (a step).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// ---- waiting ----

// permanentError stops waitFor at once.
type permanentError struct{ error }

func permanent(err error) error { return permanentError{err} }

// waitFor polls cond every interval until it returns nil; it fails the
// test with the last reason after convergeTimeout, or at once on a
// permanent error.
func (e *env) waitFor(what string, interval time.Duration, cond func() error) {
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
		time.Sleep(interval)
	}
}

// waitIdle waits until no live unit agent has anything to run.
func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
	defer cancel()
	if err := e.m.WaitIdle(ctx, 500*time.Millisecond); err != nil {
		e.t.Fatalf("wait-idle: %v", err)
	}
}

// ---- status ----

// units lists the application's units in status, in name order.
func (e *env) units(application string) []string {
	var us []string
	for u := range e.m.Status().Applications[application].Units {
		us = append(us, u)
	}
	sort.Slice(us, func(i, j int) bool { return unitNumber(us[i]) < unitNumber(us[j]) })
	return us
}

func unitNumber(unit string) int {
	_, n, _ := strings.Cut(unit, "/")
	i, _ := strconv.Atoi(n)
	return i
}

func (e *env) unitStatus(unit string) controller.UnitStatus {
	a, _, _ := strings.Cut(unit, "/")
	return e.m.Status().Applications[a].Units[unit]
}

// addr is the unit's address.
func (e *env) addr(unit string) string { return e.unitStatus(unit).PublicAddress }

// roles is the cluster as the units' workload statuses tell it.
type roles struct {
	primary  string
	replicas []string
}

// rolesOf reads the statuses of units: nil error once every one is active
// with exactly one "Primary" and the others "Replica". A unit in error is
// a permanent failure.
func (e *env) rolesOf(units []string) (roles, error) {
	var r roles
	var primaries, why []string
	for _, u := range units {
		st := e.unitStatus(u)
		ws := st.WorkloadStatus
		switch {
		case ws.Current == "error":
			return r, permanent(fmt.Errorf("%s is in error: %s", u, ws.Message))
		case ws.Current != "active":
			why = append(why, fmt.Sprintf("%s is %s %q", u, ws.Current, ws.Message))
		case strings.HasPrefix(ws.Message, "Primary"):
			primaries = append(primaries, u)
		case strings.HasPrefix(ws.Message, "Replica"):
			r.replicas = append(r.replicas, u)
		default:
			why = append(why, fmt.Sprintf("%s is active %q, neither Primary nor Replica", u, ws.Message))
		}
	}
	if len(why) > 0 {
		return r, errors.New(strings.Join(why, "; "))
	}
	if len(primaries) != 1 {
		return r, fmt.Errorf("primaries %v, replicas %v: want exactly one primary", primaries, r.replicas)
	}
	r.primary = primaries[0]
	return r, nil
}

// waitRoles waits until units are all active, one Primary and the others
// Replica, and returns who is what.
func (e *env) waitRoles(units []string) roles {
	e.t.Helper()
	var r roles
	e.waitFor(fmt.Sprintf("%v active, one Primary, the others Replica", units), pollInterval, func() error {
		var err error
		r, err = e.rolesOf(units)
		return err
	})
	return r
}

// waitGone waits until unit is no longer in status.
func (e *env) waitGone(unit string) {
	e.t.Helper()
	e.waitFor(unit+" gone from status", pollInterval, func() error {
		if st, ok := e.m.Status().Applications[app].Units[unit]; ok {
			return fmt.Errorf("%s still in status: %s %q (agent %s)", unit, st.WorkloadStatus.Current,
				st.WorkloadStatus.Message, st.JujuStatus.Current)
		}
		return nil
	})
}

// ---- actions ----

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

// password fetches the operator password with get-password.
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

// ---- PostgreSQL ----

// asOperator runs f connected as operator to postgres at the unit's
// address, from the unit's own machine.
func (e *env) asOperator(unit, password string, f func(ctx context.Context, c *pgx.Conn) error) error {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("sslmode=prefer connect_timeout=10")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = e.addr(unit), pgPort, "operator", password, "postgres"
	cfg.DialFunc = mach.Dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting as operator to %s (%s): %w", unit, cfg.Host, err)
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// ---- Patroni ----

// member is one entry of Patroni's GET /cluster.
type member struct {
	Name  string `json:"name"`
	Role  string `json:"role"` // 3.0.2: "leader", "sync_standby" (synchronous mode), "replica"
	State string `json:"state"`
	Host  string `json:"host"`
}

func (m member) String() string { return fmt.Sprintf("%s(%s %s %s)", m.Name, m.Host, m.Role, m.State) }

// cluster fetches GET https://<unit addr>:8008/cluster from the unit's own
// machine, with the unit's charm certificate (patroniHTTP).
func (e *env) cluster(unit string) ([]member, error) {
	client, base, err := e.patroniHTTP(unit)
	if err != nil {
		return nil, err
	}
	url := base + "/cluster"
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var c struct {
		Members []member `json:"members"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("GET %s: %v: %s", url, err, body)
	}
	return c.Members, nil
}

// clusterIs is nil when /cluster on unit lists exactly the given primary
// as leader and the replicas as streaming (or running) replicas, by host.
func (e *env) clusterIs(unit string, r roles) error {
	members, err := e.cluster(unit)
	if err != nil {
		return err
	}
	want := map[string]string{e.addr(r.primary): r.primary}
	for _, u := range r.replicas {
		want[e.addr(u)] = u
	}
	if len(members) != len(want) {
		return fmt.Errorf("/cluster on %s lists %d members %v, want %d", unit, len(members), members, len(want))
	}
	for _, m := range members {
		u, ok := want[m.Host]
		switch {
		case !ok:
			return fmt.Errorf("/cluster on %s: member %v is no unit of %v", unit, m, want)
		case u == r.primary && m.Role != "leader":
			return fmt.Errorf("/cluster on %s: %s is %v, want role leader", unit, u, m)
		case u != r.primary && ((m.Role != "replica" && m.Role != "sync_standby") || (m.State != "streaming" && m.State != "running")):
			return fmt.Errorf("/cluster on %s: %s is %v, want a streaming or running replica", unit, u, m)
		}
	}
	return nil
}

// ---- the legacy client ----

// checkResult is one relation's outcome as pgclient's check action returns
// it.
type checkResult struct {
	Relation string `json:"relation"`
	Ready    bool   `json:"ready"`
	Waiting  string `json:"waiting"`
	Host     string `json:"host"`
	User     string `json:"user"`
	Database string `json:"database"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	// Failures counts the client's hooks in which credentials published
	// as ready were refused; LastFailure is the last such error.
	Failures    int    `json:"failures"`
	LastFailure string `json:"last-failure"`
}

// checkOK runs pgclient's check action on unit for relID: nil once the
// client is ready, connected and wrote and read its row.
func (e *env) checkOK(unit, relID string) (checkResult, error) {
	r := e.action(unit, "check", map[string]any{"relation": relID})
	if r.Status != "completed" {
		return checkResult{}, fmt.Errorf("check on %s: %s: %s", unit, r.Status, r.Message)
	}
	s, _ := r.Results["results"].(string)
	var res []checkResult
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		return checkResult{}, fmt.Errorf("check on %s: results %q: %v", unit, s, err)
	}
	if len(res) != 1 {
		return checkResult{}, fmt.Errorf("check on %s: %d results for %s, want 1", unit, len(res), relID)
	}
	switch c := res[0]; {
	case !c.Ready:
		return c, fmt.Errorf("%s on %s not ready: %s", unit, relID, c.Waiting)
	case !c.OK:
		return c, fmt.Errorf("%s on %s cannot use the published credentials: %s", unit, relID, c.Error)
	}
	return res[0], nil
}

// serverStates returns the state each in-scope server unit publishes on
// the client's relation, as the client unit sees it (show-unit).
func (e *env) serverStates(clientUnit, relID string) (map[string]string, error) {
	info, err := e.m.ShowUnit(clientUnit)
	if err != nil {
		return nil, err
	}
	_, n, _ := strings.Cut(relID, ":")
	id, _ := strconv.Atoi(n)
	for _, ri := range info[clientUnit].RelationInfo {
		if ri.RelationID != id {
			continue
		}
		states := map[string]string{}
		for u, ru := range ri.RelatedUnits {
			if ru.InScope {
				states[u] = ru.Data["state"]
			}
		}
		return states, nil
	}
	return nil, fmt.Errorf("%s is not in relation %s", clientUnit, relID)
}

// statesAre is nil when the in-scope server units on relID are exactly
// r's units, r.primary publishing state "master" and the replicas "hot
// standby".
func (e *env) statesAre(clientUnit, relID string, r roles) error {
	got, err := e.serverStates(clientUnit, relID)
	if err != nil {
		return err
	}
	want := map[string]string{r.primary: "master"}
	for _, u := range r.replicas {
		want[u] = "hot standby"
	}
	if len(got) != len(want) {
		return fmt.Errorf("server units' states on %s as %s sees them: %v, want %v", relID, clientUnit, got, want)
	}
	for u, w := range want {
		if got[u] != w {
			return fmt.Errorf("server units' states on %s as %s sees them: %v, want %v", relID, clientUnit, got, want)
		}
	}
	return nil
}
