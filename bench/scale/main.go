// Command scale-bench prints how the postgresql leader's steady-state hooks
// grow with the number of client relations (issue 8). It deploys one
// postgresql unit and, for each size of -sizes, enough one-unit pgclient
// applications that the leader has that many client relations (db and
// database alternately: Juju allows one relation per pair of endpoints),
// waits until every client has connected and the model is idle, then times
// on the leader, -runs times each:
//
//   - update-status, made due with the controller's RunUpdateStatus knob
//     (the hook the update-status-hook-interval would run; the model's
//     interval is set to an hour so that no other unit runs it meanwhile);
//   - config-changed for a change that changes nothing for the clients
//     (extra_pg_conf set to a new comment line: comments are ignored).
//
// Durations are read from the controller's hook records (HookTimings):
// "process" is the dispatch process's run, "logged" runs to the commit of
// the hook's changes, as the debug log's `ran "<hook>" hook (<d>)` line. It
// prints the medians per size and the per-relation slope of a least-squares
// line through them. It asserts nothing.
//
// Needs root and `make deps build`. Usage:
//
//	go run ./bench/scale [-sizes 1,10,30] [-runs 5] [-tools bin/localjuju] [-charm build/postgresql.charm] [-client build/pgclient.charm]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

const leader = "postgresql/0"

type options struct {
	sizes                []int
	runs                 int
	tools, charm, client string
	subnet               string
	timeout              time.Duration
}

func main() {
	var o options
	sizes := flag.String("sizes", "1,10,30", "numbers of client relations, increasing")
	flag.IntVar(&o.runs, "runs", 5, "runs of each hook per size")
	flag.StringVar(&o.tools, "tools", "bin/localjuju", "the localjuju binary (hook tools)")
	flag.StringVar(&o.charm, "charm", "build/postgresql.charm", "the postgresql charm")
	flag.StringVar(&o.client, "client", "build/pgclient.charm", "the pgclient test charm")
	flag.StringVar(&o.subnet, "subnet", "10.154.0.0/24", "the model's machine subnet (inside its own network namespace)")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up on any one wait after this long")
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(*sizes); err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale-bench:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("-sizes %q: want increasing positive numbers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// sample is one size's hook durations.
type sample struct {
	relations                  int
	usProcess, usLogged        []time.Duration
	ccProcess, ccLogged        []time.Duration
	clientHooksUS, clientHooks int // client hooks the leader's hooks caused
}

func run(o options) (err error) {
	m, cleanup, err := openModel(o)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// No unit runs update-status on its own while the benchmark runs.
	if err := m.SetModelConfig(time.Hour, 0); err != nil {
		return err
	}
	if err := m.Deploy(controller.DeployArgs{Charm: abs(o.charm), App: "postgresql"}); err != nil {
		return err
	}
	err = waitUnit(o.timeout, m, leader, func(s controller.UnitStatus) bool { return s.WorkloadStatus.Current == "active" })
	if err != nil {
		return fmt.Errorf("postgresql not active: %w", err)
	}
	var samples []sample
	have := 0
	for _, size := range o.sizes {
		t0 := time.Now()
		if err := addClients(o, m, have, size); err != nil {
			return err
		}
		have = size
		fmt.Printf("  %d client relations connected and idle after %.1f s\n", size, time.Since(t0).Seconds())
		s, err := measure(o, m, size)
		if err != nil {
			return fmt.Errorf("%d relations: %w", size, err)
		}
		fmt.Printf("    update-status %s | config-changed %s\n", benchstat.MillisList(s.usProcess), benchstat.MillisList(s.ccProcess))
		samples = append(samples, s)
	}
	report(o.runs, samples)
	return nil
}

// openModel opens a fresh model in a temporary home; cleanup destroys it
// and removes the leader's directories outside the model.
func openModel(o options) (*controller.Model, func() error, error) {
	work, err := os.MkdirTemp("", "scale-bench-")
	if err != nil {
		return nil, nil, err
	}
	// Daemons running as postgres must traverse the home to their storage.
	home := filepath.Join(work, "model")
	for _, d := range []string{work, home, filepath.Join(home, "machines")} {
		if err := os.MkdirAll(d, 0o755); err == nil {
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			os.RemoveAll(work)
			return nil, nil, err
		}
	}
	m, err := controller.Open(controller.Options{Home: home, ToolsBinary: abs(o.tools), Subnet: o.subnet})
	if err != nil {
		os.RemoveAll(work)
		return nil, nil, err
	}
	cleanup := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		derr := m.Destroy(ctx)
		l := pgconf.DefaultLayout(m.UUID(), leader, "")
		for _, d := range []string{l.ConfDir, l.RunDir, l.LogDir, work} {
			_ = os.RemoveAll(d)
		}
		if derr != nil {
			return fmt.Errorf("destroying model: %w", derr)
		}
		return nil
	}
	return m, cleanup, nil
}

// endpoint is the postgresql endpoint of the i-th client: db and database
// alternately.
func endpoint(i int) string {
	if i%2 == 0 {
		return "db"
	}
	return "database"
}

// addClients deploys clients have..want-1, relates each to its endpoint,
// and waits until each reports its relation ok and the model is idle.
func addClients(o options, m *controller.Model, have, want int) error {
	apps := make([]string, want)
	for i := have; i < want; i++ {
		apps[i] = fmt.Sprintf("c%02d", i)
		if err := m.Deploy(controller.DeployArgs{Charm: abs(o.client), App: apps[i]}); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return fmt.Errorf("clients installed: %w", err)
	}
	ids := make([]int, want)
	for i := have; i < want; i++ {
		id, err := m.Integrate("postgresql:"+endpoint(i), apps[i]+":"+endpoint(i))
		if err != nil {
			return err
		}
		ids[i] = id
	}
	for i := have; i < want; i++ {
		ok := fmt.Sprintf("%s:%d ok (", endpoint(i), ids[i])
		err := waitUnit(o.timeout, m, apps[i]+"/0", func(s controller.UnitStatus) bool {
			return s.WorkloadStatus.Current == "active" && strings.Contains(s.WorkloadStatus.Message, ok)
		})
		if err != nil {
			return fmt.Errorf("%s on %s: %w", apps[i], endpoint(i), err)
		}
	}
	if err := m.WaitIdle(ctx, 2*time.Second); err != nil {
		return fmt.Errorf("relations settled: %w", err)
	}
	return nil
}

// measure times o.runs update-status and config-changed hooks on the
// leader, each after the model is idle.
func measure(o options, m *controller.Model, size int) (sample, error) {
	s := sample{relations: size}
	if st := m.Status().Applications["postgresql"].Units[leader]; !st.Leader {
		return s, fmt.Errorf("%s is not the leader", leader)
	}
	for r := 0; r < o.runs; r++ {
		p, l, n, err := timeHook(o.timeout, m, "update-status", func() error { return m.RunUpdateStatus(leader) })
		if err != nil {
			return s, err
		}
		s.usProcess, s.usLogged, s.clientHooksUS = append(s.usProcess, p), append(s.usLogged, l), s.clientHooksUS+n
		value := fmt.Sprintf("# scale-bench %d/%d", size, r)
		p, l, n, err = timeHook(o.timeout, m, "config-changed", func() error {
			return m.SetConfig("postgresql", map[string]string{"extra_pg_conf": value}, nil)
		})
		if err != nil {
			return s, err
		}
		s.ccProcess, s.ccLogged, s.clientHooks = append(s.ccProcess, p), append(s.ccLogged, l), s.clientHooks+n
	}
	if st := m.Status().Applications["postgresql"].Units[leader].WorkloadStatus; st.Current != "active" {
		return s, fmt.Errorf("%s left active: %s %q", leader, st.Current, st.Message)
	}
	return s, nil
}

// timeHook runs trigger, waits for the leader's next run of hook and for
// the model to settle, and returns the hook's process and logged durations
// and how many hooks other units ran meanwhile.
func timeHook(timeout time.Duration, m *controller.Model, hook string, trigger func() error) (process, logged time.Duration, others int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t0 := time.Now()
	if err := trigger(); err != nil {
		return 0, 0, 0, err
	}
	for {
		if found, ok := findHook(m, hook, t0); ok {
			// Let what the hook caused run before the next trigger.
			if err := m.WaitIdle(ctx, time.Second); err != nil {
				return 0, 0, 0, err
			}
			for _, t := range m.HookTimings() {
				if t.Started.After(t0) && t.Unit != leader {
					others++
				}
			}
			return found.Exited.Sub(found.Started), found.Committed.Sub(found.Started), others, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, 0, fmt.Errorf("%s on %s: %w", hook, leader, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// findHook returns the leader's first committed run of hook started after
// t0.
func findHook(m *controller.Model, hook string, t0 time.Time) (controller.HookTiming, bool) {
	for _, t := range m.HookTimings() {
		if t.Unit == leader && t.Hook == hook && t.Started.After(t0) && !t.Committed.IsZero() {
			return t, true
		}
	}
	return controller.HookTiming{}, false
}

func report(runs int, samples []sample) {
	fmt.Printf("leader hooks vs client relations (db and database alternately), median of %d; process = dispatch run, logged = to commit\n", runs)
	fmt.Printf("%10s %22s %22s %22s %22s %14s\n", "relations", "update-status process", "update-status logged", "config-changed process", "config-changed logged", "client hooks")
	var xs []float64
	cols := make([][]float64, 4)
	for _, s := range samples {
		meds := []time.Duration{benchstat.Median(s.usProcess), benchstat.Median(s.usLogged), benchstat.Median(s.ccProcess), benchstat.Median(s.ccLogged)}
		fmt.Printf("%10d %22s %22s %22s %22s %14s\n", s.relations, benchstat.Millis(meds[0]), benchstat.Millis(meds[1]), benchstat.Millis(meds[2]), benchstat.Millis(meds[3]),
			fmt.Sprintf("%d / %d", s.clientHooksUS, s.clientHooks))
		xs = append(xs, float64(s.relations))
		for i, d := range meds {
			cols[i] = append(cols[i], float64(d))
		}
	}
	fmt.Printf("%10s", "slope/rel")
	for _, c := range cols {
		slope, err := slope(xs, c)
		if err != nil {
			fmt.Printf(" %22s", "-")
			continue
		}
		fmt.Printf(" %22s", benchstat.Millis(time.Duration(slope)))
	}
	fmt.Println()
	fmt.Println("slope/rel: least-squares slope of the medians per client relation; client hooks: hooks other units ran after the leader's update-status / config-changed runs (all runs)")
}

// slope is the least-squares slope of ys against xs.
func slope(xs, ys []float64) (float64, error) {
	if len(xs) < 2 {
		return 0, errors.New("one size")
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i] / float64(len(xs))
		my += ys[i] / float64(len(xs))
	}
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	return num / den, nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// waitUnit is Model.WaitUnitStatus with a timeout.
func waitUnit(timeout time.Duration, m *controller.Model, unit string, ok func(controller.UnitStatus) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return m.WaitUnitStatus(ctx, unit, ok)
}
