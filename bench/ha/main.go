// Command ha-bench prints how fast a three-unit postgresql cluster grows
// and fails over under localjuju, as medians of -runs runs, each in a fresh
// model with production timings (update-status 5m) and a 10 s leadership
// lease:
//
//   - add-unit to streaming replica: from AddUnit of a third unit (to a
//     two-unit cluster that is active and replicating) until
//     pg_stat_replication on the primary lists the new unit's address in
//     state streaming. Baseline, same run: Deploy until the first unit is
//     active (a bootstrap, no pg_basebackup);
//
//   - failover: from KillMachine of the primary's machine until Patroni's
//     /cluster on a surviving member names a new leader that is running and
//     that leader accepts a write as operator (password from get-password
//     on the Juju leader, run before the kill). The time until /cluster
//     first names the new leader is printed too;
//
//   - role to Juju: from the same kill until the new primary's workload
//     status says "Primary". The charm's root role observer pushes Patroni
//     role changes through juju-exec; update-status (5m) cannot be what
//     refreshes it within a run.
//
//   - clients after the failover: a pgclient application related on
//     database and db. From the first write the new primary accepts until
//     the postgresql leader's application databag, as the client reads
//     it, lists the new primary first in endpoints; until the client's
//     database-relation-changed hook that follows it has run; until the
//     new primary's db databag says state master. Whether a surviving
//     unit published state failover on db in between is printed too.
//
// The failover baseline is Patroni's configured ttl (pgconf.TTL, with
// loop_wait and retry_timeout), the time the dead leader's key may live on.
//
// It prints figures and asserts nothing about time. Needs root (machines
// are network namespaces) and `make deps build`. Usage:
//
//	go run ./bench/ha [-runs 3] [-tools bin/localjuju] [-charm build/postgresql.charm]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	app = "postgresql"
	// Production's update-status interval, so that it cannot be what
	// refreshes a unit's status during a run; a short lease so that the
	// Juju leader moves soon after its machine dies.
	updateStatus  = 5 * time.Minute
	leaseDuration = 10 * time.Second
	pgPort        = 5432
	patroniPort   = 8008
	// statusPoll and probePoll space the polls of the timed waits.
	statusPoll = 20 * time.Millisecond
	probePoll  = 50 * time.Millisecond
)

// clientApp is the pgclient application related on database and db.
const clientApp = "client"

// clientCharm is the pgclient test charm (a flag).
var clientCharm string

func main() {
	runs := flag.Int("runs", 3, "runs, each in a fresh model")
	tools := flag.String("tools", "bin/localjuju", "the localjuju binary (hook tools)")
	charm := flag.String("charm", "build/postgresql.charm", "the postgresql charm")
	flag.StringVar(&clientCharm, "client-charm", "build/pgclient.charm", "the pgclient test charm")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up on one run after this long")
	flag.Parse()
	if err := run(*runs, *tools, *charm, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "ha-bench:", err)
		os.Exit(1)
	}
}

// result is one run's figures.
type result struct {
	deployActive  time.Duration // Deploy → postgresql/0 active (add-unit baseline)
	addStreaming  time.Duration // AddUnit → the new unit streaming on the primary
	leaderRunning time.Duration // kill → /cluster names a running new leader
	failWrite     time.Duration // kill → running new leader and a write accepted
	statusPrimary time.Duration // kill → the new primary's status says Primary
	// From the first write on the new primary (negative: before it):
	endpoints   time.Duration // → database endpoints name it first
	clientHook  time.Duration // → the client's database-relation-changed after that ran
	master      time.Duration // → its db databag says state master
	sawFailover bool          // a surviving unit published state failover on db
	// pgbench c=4 transactions per second, commits waiting for the sync
	// standby and with synchronous_commit=local.
	tpsSync, tpsAsync  float64
	killed, newPrimary string
}

func run(runs int, tools, charm string, timeout time.Duration) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (localjuju machines are network namespaces)")
	}
	work, err := os.MkdirTemp("", "ha-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	toolsAbs, err := filepath.Abs(tools)
	if err != nil {
		return err
	}
	// Every run deploys the same charm, even if `make build` repacks
	// build/ meanwhile (tests build under .build.lock).
	charmCopy := filepath.Join(work, "postgresql.charm")
	if err := copyCharm(charm, charmCopy); err != nil {
		return err
	}
	var rs []result
	for i := 0; i < runs; i++ {
		r, err := runOnce(work, i, toolsAbs, charmCopy, timeout)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Printf("  run %d: deploy->active %s, add-unit->streaming %s; killed %s: leader running %s, write %s, %s says Primary %s; after the write: endpoints %s, client hook %s, db master %s, failover state seen %v; pgbench sync %.0f, local %.0f tps\n",
			i+1, secs(r.deployActive), secs(r.addStreaming), r.killed, secs(r.leaderRunning), secs(r.failWrite), r.newPrimary, secs(r.statusPrimary),
			secs(r.endpoints), secs(r.clientHook), secs(r.master), r.sawFailover, r.tpsSync, r.tpsAsync)
		rs = append(rs, r)
	}
	col := func(f func(result) time.Duration) []time.Duration {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, f(r))
		}
		return ds
	}
	base := col(func(r result) time.Duration { return r.deployActive })
	ttl := fmt.Sprintf("ttl %d s", pgconf.TTL)
	rows := []struct {
		name, base string
		ds         []time.Duration
	}{
		{"add-unit -> new unit streaming", "deploy->active " + secs(benchstat.Median(base)), col(func(r result) time.Duration { return r.addStreaming })},
		{"kill primary -> /cluster new leader running", ttl, col(func(r result) time.Duration { return r.leaderRunning })},
		{"kill primary -> new leader running + write ok", ttl, col(func(r result) time.Duration { return r.failWrite })},
		{"kill primary -> new primary's status Primary", ttl, col(func(r result) time.Duration { return r.statusPrimary })},
		{"first write on new primary -> database endpoints", "goal 5 s", col(func(r result) time.Duration { return r.endpoints })},
		{"first write on new primary -> client hook ran", "goal 5 s", col(func(r result) time.Duration { return r.clientHook })},
		{"first write on new primary -> db state master", "goal 5 s", col(func(r result) time.Duration { return r.master })},
	}
	fmt.Printf("postgresql HA, 3 units, update-status %s, leader lease %s (median of %d, fresh model each run)\n", updateStatus, leaseDuration, runs)
	fmt.Printf("%-46s %9s  %-24s  %s\n", "measure", "median", "baseline", "runs")
	for _, r := range rows {
		fmt.Printf("%-46s %9s  %-24s  %s\n", r.name, secs(benchstat.Median(r.ds)), r.base, list(r.ds))
	}
	if *pgbenchTime > 0 {
		var syncs, asyncs, ratios []float64
		for _, r := range rs {
			syncs, asyncs = append(syncs, r.tpsSync), append(asyncs, r.tpsAsync)
			ratios = append(ratios, r.tpsSync/r.tpsAsync)
		}
		fmt.Printf("%-46s %9.0f  %-24s  sync/async %s (goal: sync costs at most 10%%, ratio >= 0.90)\n", "pgbench c=4 tps, synchronous replication",
			medianF(syncs), fmt.Sprintf("async %.0f tps", medianF(asyncs)), fmt.Sprintf("%.2f (runs %v)", medianF(ratios), fmtF(ratios)))
	}
	fmt.Printf("baselines: deploy until the first unit is active, same run (runs %s); Patroni ttl %d s, loop_wait %d s, retry_timeout %d s (pgconf)\n",
		list(base), pgconf.TTL, pgconf.LoopWait, pgconf.RetryTimeout)
	return nil
}

// env is one run's model.
type env struct {
	m   *controller.Model
	ctx context.Context
}

func runOnce(work string, i int, tools, charm string, timeout time.Duration) (res result, err error) {
	// Daemons running as postgres must traverse the home to their storage.
	home := filepath.Join(work, fmt.Sprintf("model-%d", i))
	for _, d := range []string{home, filepath.Join(home, "machines")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return res, err
		}
	}
	if err := os.Chmod(work, 0o755); err != nil {
		return res, err
	}
	m, err := controller.Open(controller.Options{
		Home: home, ToolsBinary: tools, Subnet: "10.153.0.0/24",
		UpdateStatusInterval: updateStatus, LeaseDuration: leaseDuration,
	})
	if err != nil {
		return res, err
	}
	seen := map[string]bool{}
	defer func() {
		if err != nil {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("ha-bench-run%d.debug.log", i+1))
			if werr := os.WriteFile(path, []byte(debugLog(m, 0)), 0o600); werr == nil {
				err = fmt.Errorf("%w (debug log in %s)", err, path)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if derr := m.Destroy(ctx); derr != nil && err == nil {
			err = fmt.Errorf("destroying model: %w", derr)
		}
		// The units' directories outside the model (machines share the
		// host's filesystem; a killed unit runs no remove hook).
		for u := range seen {
			l := pgconf.DefaultLayout(m.UUID(), u, "")
			for _, d := range l.UnitDirs() {
				_ = os.RemoveAll(d)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e := &env{m: m, ctx: ctx}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, debugLog(m, 40))
		}
	}()

	// Baseline: deploy → the first unit active.
	const first = app + "/0"
	seen[first] = true
	t0 := time.Now()
	if err := m.Deploy(controller.DeployArgs{Charm: charm, App: app}); err != nil {
		return res, err
	}
	if err := e.waitStatus(first, func(s controller.UnitStatus) bool { return s.WorkloadStatus.Current == "active" }); err != nil {
		return res, fmt.Errorf("first unit: %w", err)
	}
	res.deployActive = time.Since(t0)

	// A two-unit cluster, active and replicating, before the clock starts.
	added, err := m.AddUnit(app, 1)
	if err != nil {
		return res, err
	}
	seen[added[0]] = true
	live := []string{first, added[0]}
	primary, err := e.waitRoles(live)
	if err != nil {
		return res, err
	}
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return res, err
	}
	password, err := e.password()
	if err != nil {
		return res, err
	}
	conn, err := e.connect(primary, password)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.Background())
	for _, u := range live {
		if u == primary {
			continue
		}
		if err := e.poll("replica "+u+" streaming", probePoll, func() error { return streaming(ctx, conn, e.addr(u)) }); err != nil {
			return res, err
		}
	}

	// 1. add-unit → the new unit streams from the primary.
	t1 := time.Now()
	added, err = m.AddUnit(app, 1)
	if err != nil {
		return res, err
	}
	third := added[0]
	seen[third] = true
	err = e.poll(third+" streaming in pg_stat_replication on "+primary, probePoll, func() error {
		a := e.addr(third)
		if a == "" {
			return errors.New("no address yet")
		}
		if err := streaming(ctx, conn, a); err != nil {
			if conn.IsClosed() {
				conn.Close(context.Background())
				if c, cerr := e.connect(primary, password); cerr == nil {
					conn = c
				}
			}
			return err
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.addStreaming = time.Since(t1)
	conn.Close(context.Background())
	live = append(live, third)

	// The three-unit cluster settles before the kill.
	if primary, err = e.waitRoles(live); err != nil {
		return res, err
	}
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return res, err
	}
	if err := e.asOperator(primary, password, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS ha_bench (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
		return err
	}); err != nil {
		return res, fmt.Errorf("creating the table on %s: %w", primary, err)
	}
	// Synchronous replication's cost: pgbench (c=4) on the three-unit
	// cluster from a replica's machine, commits waiting for the sync
	// standby, then the same with synchronous_commit=local (commits
	// wait for the primary's disk only: asynchronous replication),
	// in the same run.
	if *pgbenchTime > 0 {
		var other string
		for _, u := range live {
			if u != primary {
				other = u
			}
		}
		if res.tpsSync, res.tpsAsync, err = e.pgbench(other, primary, password); err != nil {
			return res, err
		}
	}

	// A client on database and db, served before the kill.
	if err := m.Deploy(controller.DeployArgs{Charm: clientCharm, App: clientApp}); err != nil {
		return res, err
	}
	for _, ep := range []string{"database", "db"} {
		if _, err := m.Integrate(app+":"+ep, clientApp+":"+ep); err != nil {
			return res, err
		}
	}
	primaryAddr := e.addr(primary)
	if err := e.poll("the client served on database and db by "+primary, probePoll, func() error {
		v := e.clientView()
		if !strings.HasPrefix(v.endpoints, primaryAddr+":") || v.states[primary] != "master" {
			return fmt.Errorf("client sees endpoints %q, db states %v", v.endpoints, v.states)
		}
		return nil
	}); err != nil {
		return res, err
	}
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return res, err
	}
	// After the kill the Juju leader may change: the password is fetched
	// now.
	if password, err = e.password(); err != nil {
		return res, err
	}

	// 2 and 3. Kill the primary's machine.
	dead, deadAddr := primary, e.addr(primary)
	res.killed = dead
	var survivors []string
	for _, u := range live {
		if u != dead {
			survivors = append(survivors, u)
		}
	}
	sawPrimary := e.watchPrimary(survivors)
	views := e.watchClient()
	t2 := time.Now()
	if err := m.KillMachine(ctx, dead); err != nil {
		return res, fmt.Errorf("killing the machine of %s: %w", dead, err)
	}
	unitAt := map[string]string{}
	for _, u := range survivors {
		unitAt[e.addr(u)] = u
	}
	var leader string
	err = e.poll("a running new leader taking a write", probePoll, func() error {
		l, err := e.runningLeader(survivors, deadAddr)
		if err != nil {
			return err
		}
		u, ok := unitAt[l.Host]
		if !ok {
			return fmt.Errorf("/cluster leader %s(%s) is no surviving unit", l.Name, l.Host)
		}
		if res.leaderRunning == 0 || u != leader {
			res.leaderRunning, leader = time.Since(t2), u
		}
		return e.asOperator(u, password, func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "INSERT INTO ha_bench DEFAULT VALUES")
			return err
		})
	})
	if err != nil {
		return res, err
	}
	res.failWrite = time.Since(t2)
	res.newPrimary = leader
	var at time.Time
	err = e.poll(leader+" status Primary", statusPoll, func() error {
		select {
		case said := <-sawPrimary:
			if t, ok := said[leader]; ok {
				at = t
				return nil
			}
			return fmt.Errorf("%v said Primary, not the new leader %s", keysOf(said), leader)
		default:
			return errors.New("not yet")
		}
	})
	if err != nil {
		return res, err
	}
	res.statusPrimary = at.Sub(t2)

	// The client's side, from the first write on the new primary.
	wrote := t2.Add(res.failWrite)
	newAddr := e.addr(leader)
	var endpointsAt, masterAt time.Time
	err = e.poll("the client following "+leader, probePoll, func() error {
		for _, v := range views.all() {
			for _, st := range v.states {
				res.sawFailover = res.sawFailover || st == "failover"
			}
			if endpointsAt.IsZero() && strings.HasPrefix(v.endpoints, newAddr+":") {
				endpointsAt = v.at
			}
			if masterAt.IsZero() && v.states[leader] == "master" {
				masterAt = v.at
			}
		}
		if endpointsAt.IsZero() || masterAt.IsZero() {
			return errors.New("not yet")
		}
		for _, h := range m.HookTimings() {
			if h.Unit == clientApp+"/0" && h.Hook == "database-relation-changed" && !h.Started.Before(endpointsAt) && !h.Exited.IsZero() {
				res.clientHook = h.Exited.Sub(wrote)
				if *hops {
					printHops(m.HookTimings(), wrote, h.Exited)
				}
				return nil
			}
		}
		return errors.New("no client hook after the endpoints changed yet")
	})
	if err != nil {
		return res, err
	}
	res.endpoints, res.master = endpointsAt.Sub(wrote), masterAt.Sub(wrote)
	return res, nil
}

var pgbenchTime = flag.Duration("pgbench-time", 30*time.Second, "each pgbench run's length (0 skips them)")

// pgbench initialises a scale-10 pgbench database on primary and runs
// pgbench -c 4 -j 2 from from's machine, alternating synchronous commits
// and synchronous_commit=local. The password goes in the environment.
func (e *env) pgbench(from, primary, password string) (syncTPS, asyncTPS float64, err error) {
	if err := e.asOperator(primary, password, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE DATABASE ha_pgbench")
		return err
	}); err != nil {
		return 0, 0, err
	}
	mach, err := e.m.Machine(from)
	if err != nil {
		return 0, 0, err
	}
	bin := filepath.Join(pgconf.BinDir("15"), "pgbench")
	run := func(options string, args ...string) (string, error) {
		cmd := exec.CommandContext(e.ctx, bin, append([]string{"-h", e.addr(primary), "-p", strconv.Itoa(pgPort), "-U", "operator"}, append(args, "ha_pgbench")...)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGOPTIONS="+options, "PGSSLMODE=prefer")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := mach.Run(cmd); err != nil {
			return out.String(), fmt.Errorf("pgbench %v: %w: %s", args, err, out.String())
		}
		return out.String(), nil
	}
	if _, err := run("", "-i", "-q", "-s", "10"); err != nil {
		return 0, 0, err
	}
	// Three slices per mode, alternating, so that a change of the
	// shared machine's load weighs on both; each mode's figure is the
	// median of its slices.
	const slices3 = 3
	secs := strconv.Itoa(max(1, int(pgbenchTime.Seconds())/slices3))
	tps := func(options string) (float64, error) {
		out, err := run(options, "-n", "-c", "4", "-j", "2", "-T", secs)
		if err != nil {
			return 0, err
		}
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "tps = "); ok {
				f, _, _ := strings.Cut(rest, " ")
				return strconv.ParseFloat(f, 64)
			}
		}
		return 0, fmt.Errorf("no tps in pgbench's output: %s", out)
	}
	var syncs, asyncs []float64
	for i := 0; i < slices3; i++ {
		st, err := tps("")
		if err != nil {
			return 0, 0, err
		}
		at, err := tps("-c synchronous_commit=local")
		if err != nil {
			return 0, 0, err
		}
		syncs, asyncs = append(syncs, st), append(asyncs, at)
	}
	return medianF(syncs), medianF(asyncs), nil
}

// hops, when set, prints every hook that ran around the client's
// following of the failover: the hops from the observers to the client.
var hops = flag.Bool("hops", false, "print the hooks between the new primary's first write and the client's hook")

func printHops(ts []controller.HookTiming, from, to time.Time) {
	fmt.Printf("    hooks from the first write on the new primary (t=0) to the client's hook:\n")
	for _, h := range ts {
		if h.Exited.Before(from.Add(-5*time.Second)) || h.Picked.After(to) {
			continue
		}
		fmt.Printf("    %-16s %-34s picked %6.2f started %6.2f exited %6.2f\n", h.Unit, h.Hook,
			h.Picked.Sub(from).Seconds(), h.Started.Sub(from).Seconds(), h.Exited.Sub(from).Seconds())
	}
}

// clientSample is what the client unit reads of its relations at a time:
// database's endpoints and each postgresql unit's db state.
type clientSample struct {
	at        time.Time
	endpoints string
	states    map[string]string
}

func (e *env) clientView() clientSample {
	v := clientSample{at: time.Now(), states: map[string]string{}}
	info, err := e.m.ShowUnit(clientApp + "/0")
	if err != nil {
		return v
	}
	for _, ri := range info[clientApp+"/0"].RelationInfo {
		switch ri.Endpoint {
		case "database":
			v.endpoints = ri.ApplicationData["endpoints"]
		case "db":
			for u, d := range ri.RelatedUnits {
				v.states[u] = d.Data["state"]
			}
		}
	}
	return v
}

// samples collects clientView every statusPoll until the run ends.
type samples struct {
	mu sync.Mutex
	s  []clientSample
}

func (s *samples) all() []clientSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.s)
}

func (e *env) watchClient() *samples {
	s := &samples{}
	go func() {
		for {
			v := e.clientView()
			s.mu.Lock()
			s.s = append(s.s, v)
			s.mu.Unlock()
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(statusPoll):
			}
		}
	}()
	return s
}

// watchPrimary polls the units' statuses and sends, once one says active
// "Primary", when each first did (until the run's context ends).
func (e *env) watchPrimary(units []string) <-chan map[string]time.Time {
	ch := make(chan map[string]time.Time, 1)
	go func() {
		seen := map[string]time.Time{}
		for {
			st := e.m.Status().Applications[app].Units
			now := time.Now()
			for _, u := range units {
				ws := st[u].WorkloadStatus
				if _, ok := seen[u]; !ok && ws.Current == "active" && strings.HasPrefix(ws.Message, "Primary") {
					seen[u] = now
				}
			}
			if len(seen) > 0 {
				// Sent as it grows; the reader takes the latest.
				select {
				case <-ch:
				default:
				}
				cp := map[string]time.Time{}
				for k, v := range seen {
					cp[k] = v
				}
				ch <- cp
				if len(seen) == len(units) {
					return
				}
			}
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(statusPoll):
			}
		}
	}()
	return ch
}

// ---- waiting ----

// poll calls cond every interval until it returns nil or the run's
// context ends.
func (e *env) poll(what string, interval time.Duration, cond func() error) error {
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-e.ctx.Done():
			return fmt.Errorf("%s: %v: %w", what, err, e.ctx.Err())
		case <-time.After(interval):
		}
	}
}

func (e *env) unitStatus(unit string) controller.UnitStatus {
	return e.m.Status().Applications[app].Units[unit]
}

func (e *env) addr(unit string) string { return e.unitStatus(unit).PublicAddress }

// waitStatus polls the unit's status until ok holds; a unit in error fails.
func (e *env) waitStatus(unit string, ok func(controller.UnitStatus) bool) error {
	for {
		s := e.unitStatus(unit)
		if s.WorkloadStatus.Current == "error" {
			return fmt.Errorf("%s in error: %s", unit, s.WorkloadStatus.Message)
		}
		if ok(s) {
			return nil
		}
		select {
		case <-e.ctx.Done():
			return fmt.Errorf("%s: %s %q: %w", unit, s.WorkloadStatus.Current, s.WorkloadStatus.Message, e.ctx.Err())
		case <-time.After(statusPoll):
		}
	}
}

// waitRoles waits until units are active, one "Primary" and the others
// "Replica", and returns the primary.
func (e *env) waitRoles(units []string) (string, error) {
	var primary string
	err := e.poll(fmt.Sprintf("%v active, one Primary", units), statusPoll, func() error {
		var primaries []string
		for _, u := range units {
			ws := e.unitStatus(u).WorkloadStatus
			switch {
			case ws.Current == "error":
				return fmt.Errorf("%s in error: %s", u, ws.Message)
			case ws.Current != "active":
				return fmt.Errorf("%s is %s %q", u, ws.Current, ws.Message)
			case strings.HasPrefix(ws.Message, "Primary"):
				primaries = append(primaries, u)
			case !strings.HasPrefix(ws.Message, "Replica"):
				return fmt.Errorf("%s is active %q", u, ws.Message)
			}
		}
		if len(primaries) != 1 {
			return fmt.Errorf("primaries %v", primaries)
		}
		primary = primaries[0]
		return nil
	})
	return primary, err
}

// password runs get-password for operator on the Juju leader.
func (e *env) password() (string, error) {
	var leader string
	for u, s := range e.m.Status().Applications[app].Units {
		if s.Leader {
			leader = u
		}
	}
	if leader == "" {
		return "", errors.New("no leader unit")
	}
	id, err := e.m.EnqueueAction(leader, "get-password", map[string]any{"username": "operator"})
	if err != nil {
		return "", err
	}
	r, err := e.m.WaitAction(e.ctx, id)
	if err != nil {
		return "", err
	}
	if r.Status != "completed" {
		return "", fmt.Errorf("get-password on %s: %s: %s", leader, r.Status, r.Message)
	}
	return testbuild.PasswordFromResults(e.m, r.Results)
}

// ---- PostgreSQL ----

// connect connects as operator to postgres at the unit's address, from
// the unit's own machine.
func (e *env) connect(unit, password string) (*pgx.Conn, error) {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig("sslmode=prefer connect_timeout=5")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = e.addr(unit), pgPort, "operator", password, "postgres"
	cfg.DialFunc = mach.Dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting as operator to %s (%s): %w", unit, cfg.Host, err)
	}
	return c, nil
}

func (e *env) asOperator(unit, password string, f func(ctx context.Context, c *pgx.Conn) error) error {
	c, err := e.connect(unit, password)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	return f(ctx, c)
}

// streaming is nil when pg_stat_replication lists addr in state streaming.
func streaming(ctx context.Context, c *pgx.Conn, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var state string
	err := c.QueryRow(ctx, "SELECT state FROM pg_stat_replication WHERE host(client_addr) = $1 ORDER BY state = 'streaming' DESC LIMIT 1", addr).Scan(&state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s not in pg_stat_replication", addr)
	case err != nil:
		return err
	case state != "streaming":
		return fmt.Errorf("%s is %s", addr, state)
	}
	return nil
}

// ---- Patroni ----

// runningLeader asks /cluster on each unit (from its own machine) in turn
// and returns the first leader it names that is running and not at
// deadAddr.
func (e *env) runningLeader(units []string, deadAddr string) (patroni.Member, error) {
	var why []string
	for _, u := range units {
		cl, err := e.cluster(u)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		l, ok := cl.Leader()
		switch {
		case !ok:
			why = append(why, "/cluster on "+u+" has no leader")
		case l.Host == deadAddr:
			why = append(why, "/cluster on "+u+" still names the killed leader")
		case l.State != "running":
			why = append(why, fmt.Sprintf("/cluster on %s: leader %s is %s", u, l.Host, l.State))
		default:
			return l, nil
		}
	}
	return patroni.Member{}, errors.New(strings.Join(why, "; "))
}

func (e *env) cluster(unit string) (patroni.Cluster, error) {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return patroni.Cluster{}, err
	}
	// Patroni's REST API wants a client certificate of the cluster CA:
	// the unit's charm's, from its files.
	l := pgconf.DefaultLayout(e.m.UUID(), unit, "")
	var p pki.Pair
	if p.CertPEM, err = os.ReadFile(l.CharmEtcdCertPath()); err != nil {
		return patroni.Cluster{}, err
	}
	if p.KeyPEM, err = os.ReadFile(l.CharmEtcdKeyPath()); err != nil {
		return patroni.Cluster{}, err
	}
	caPEM, err := os.ReadFile(l.EtcdCACertPath())
	if err != nil {
		return patroni.Cluster{}, err
	}
	tlsCfg, err := pki.ClientTLS(caPEM, p)
	if err != nil {
		return patroni.Cluster{}, err
	}
	c := &patroni.Client{
		BaseURL: "https://" + net.JoinHostPort(e.addr(unit), strconv.Itoa(patroniPort)),
		HTTP: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext:       mach.Dial,
			TLSClientConfig:   tlsCfg,
			DisableKeepAlives: true,
		}},
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	return c.Cluster(ctx)
}

// ---- helpers ----

// copyCharm copies the packed charm, under a shared lock on the build's
// lock file when there is one (see internal/testbuild).
func copyCharm(src, dst string) error {
	if lock, err := os.Open(".build.lock"); err == nil {
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err == nil {
			defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// debugLog returns the model's last n debug-log lines (all when n is 0).
func debugLog(m *controller.Model, n int) string {
	lines := m.DebugLog(0, 0, nil)
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    " + l.String() + "\n")
	}
	return b.String()
}

func keysOf(m map[string]time.Time) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func list(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = secs(d)
	}
	return strings.Join(parts, " ")
}

func medianF(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	if len(ys) == 0 {
		return 0
	}
	if len(ys)%2 == 1 {
		return ys[len(ys)/2]
	}
	return (ys[len(ys)/2-1] + ys[len(ys)/2]) / 2
}

func fmtF(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}
