// Command charm-bench prints issue 3's figures for the postgresql charm:
//
//   - deploy to active: time from Deploy of build/postgresql.charm until the
//     one unit's workload status is active, with the distro packages already
//     installed on the host; median of -deploys runs, each in a fresh model
//     (issue 3 aims under 10 s);
//   - update-status on the active unit of the last deploy: process time of
//     the dispatch with real hook tools when there is nothing to change;
//   - no-op dispatch: process time of the charm's dispatch binary for an
//     event it has no handler for (every hook runs the charm's reconcile
//     pass, so an action actions.yaml does not declare), with a fake
//     juju-log first on PATH (issue 3 aims under 20 ms), against /bin/true
//     and an empty static Go program built with the Makefile's flags
//     (issue 8: start-up against the empty binary), exec'd the same way in
//     the same run; median of -n runs of wall time, CPU time and minor page
//     faults, the ratios against the empty binary, and the costliest
//     package initialisations (GODEBUG=inittrace=1, median of -inittrace
//     runs). -imports adds an empty program per package that only imports
//     it, to attribute start-up to dependencies.
//
// It prints figures and asserts nothing. Deploys need root (machines are
// network namespaces). Usage:
//
//	go run ./bench/charm -tools bin/localjuju -charm build/postgresql.charm
//	go run ./bench/charm -deploys 0 -n 30 -imports github.com/jackc/pgx/v5,net/http
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func main() {
	tools := flag.String("tools", "bin/localjuju", "the localjuju binary (hook tools)")
	charm := flag.String("charm", "build/postgresql.charm", "the packed charm")
	charmDir := flag.String("charm-dir", "build/charm", "the unpacked charm (its dispatch is timed)")
	deploys := flag.Int("deploys", 3, "deploy-to-active runs, each in a fresh model")
	n := flag.Int("n", 50, "no-op dispatch runs")
	imports := flag.String("imports", "", "comma-separated packages (a+b: several together): also time an empty main importing each (its initialisation and size alone)")
	traces := flag.Int("inittrace", 20, "runs of the dispatch with GODEBUG=inittrace=1 (0: none)")
	event := flag.String("event", "actions/bench-noop", "JUJU_DISPATCH_PATH of the no-op dispatch: an event no handler takes (every hook runs the reconcile pass, so an unknown action)")
	updates := flag.Int("update-status", 10, "update-status runs timed on the active unit of the last deploy")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up on one deploy after this long")
	flag.Parse()

	failed := false
	if err := benchDispatch(*charmDir, *event, *n, splitList(*imports), *traces); err != nil {
		fmt.Fprintln(os.Stderr, "charm-bench: no-op dispatch:", err)
		failed = true
	}
	if err := benchDeploy(*tools, *charm, *deploys, *updates, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "charm-bench: deploy to active:", err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}

// benchDeploy times Deploy → workload status active in fresh models.
func benchDeploy(tools, charm string, runs, updates int, timeout time.Duration) error {
	if runs <= 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (localjuju machines are network namespaces)")
	}
	toolsAbs, err := filepath.Abs(tools)
	if err != nil {
		return err
	}
	charmAbs, err := filepath.Abs(charm)
	if err != nil {
		return err
	}
	var idle, active, steady []time.Duration
	for i := 0; i < runs; i++ {
		after := func(*controller.Model) error { return nil }
		if i == runs-1 && updates > 0 {
			after = func(m *controller.Model) error {
				steady, err = timeUpdateStatus(m, updates, timeout)
				return err
			}
		}
		ti, ta, err := deployOnce(toolsAbs, charmAbs, timeout, after)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Printf("  run %d: hooks settled %s, active %s\n", i+1, ms(ti), ms(ta))
		idle = append(idle, ti)
		active = append(active, ta)
	}
	fmt.Printf("postgresql charm, one unit, packages installed, median of %d fresh models\n", runs)
	fmt.Printf("  deploy -> first hooks settled (wait-idle)           %10s\n", ms(benchstat.Median(idle)))
	fmt.Printf("  deploy -> workload status active                   %10s   (issue 3 aim: under 10 s)\n", ms(benchstat.Median(active)))
	if len(steady) > 0 {
		fmt.Printf("  update-status on the active unit, process time     %10s   (median of %d, real hook tools, nothing to change)\n", ms(benchstat.Median(steady)), len(steady))
	}
	return nil
}

// timeUpdateStatus shortens the update-status interval of an active model
// and returns the process time (dispatch start to exit, hook tools
// included) of n update-status runs.
func timeUpdateStatus(m *controller.Model, n int, timeout time.Duration) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := m.SetModelConfig(time.Second, 0); err != nil {
		return nil, err
	}
	for {
		var out []time.Duration
		for _, t := range m.HookTimings() {
			if t.Hook == "update-status" && t.Started.After(t0) && !t.Exited.IsZero() {
				out = append(out, t.Exited.Sub(t.Started))
			}
		}
		if len(out) >= n {
			if st := m.Status().Applications["postgresql"].Units["postgresql/0"].WorkloadStatus; st.Current != "active" {
				return nil, fmt.Errorf("unit left active during update-status runs: %s %q", st.Current, st.Message)
			}
			return out[:n], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d update-status runs: %w", len(out), n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deployOnce deploys one unit into a fresh model and returns the times from
// Deploy until the agent was first idle and until the unit was active.
func deployOnce(tools, charm string, timeout time.Duration, after func(*controller.Model) error) (idle, active time.Duration, err error) {
	work, err := os.MkdirTemp("", "charm-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(work)
	m, err := controller.Open(controller.Options{Home: filepath.Join(work, "model"), ToolsBinary: tools})
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := m.Destroy(ctx); derr != nil && err == nil {
			err = fmt.Errorf("destroying model: %w", derr)
		}
		// The unit's directories outside the model (machines share the
		// host's filesystem; destroying a model runs no remove hook).
		l := pgconf.DefaultLayout(m.UUID(), "postgresql/0", "")
		for _, d := range []string{l.ConfDir, l.RunDir, l.LogDir} {
			_ = os.RemoveAll(d)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	const unit = "postgresql/0"
	t0 := time.Now()
	if err := m.Deploy(controller.DeployArgs{Charm: charm, App: "postgresql"}); err != nil {
		return 0, 0, err
	}
	// Status is polled alongside: Patroni may make the unit active before
	// or after the hooks settle.
	idleCh := make(chan time.Duration, 1)
	go func() {
		const settle = 500 * time.Millisecond
		if m.WaitIdle(ctx, settle) == nil {
			idleCh <- time.Since(t0) - settle
		}
		close(idleCh)
	}()
	for {
		st := m.Status().Applications["postgresql"].Units[unit]
		if st.WorkloadStatus.Current == "active" {
			active = time.Since(t0)
			break
		}
		if st.WorkloadStatus.Current == "error" {
			return 0, 0, fmt.Errorf("%s in error: %s\n%s", unit, st.WorkloadStatus.Message, tail(m, 40))
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("%s not active within %s (workload %s %q)\n%s", unit, timeout,
				st.WorkloadStatus.Current, st.WorkloadStatus.Message, tail(m, 40))
		case <-time.After(20 * time.Millisecond):
		}
	}
	d, ok := <-idleCh
	if !ok {
		return 0, 0, fmt.Errorf("wait-idle: %w", ctx.Err())
	}
	if err := after(m); err != nil {
		return 0, 0, err
	}
	return d, active, nil
}

// benchDispatch times the charm's dispatch for a no-op event against
// /bin/true and an empty Go program built with the Makefile's flags (plus
// one empty program per package of imports), all exec'd interleaved with
// the same environment and directory, then traces its package
// initialisation.
func benchDispatch(charmDir, event string, n int, imports []string, traces int) error {
	if n <= 0 {
		return nil
	}
	charmAbs, err := filepath.Abs(charmDir)
	if err != nil {
		return err
	}
	tools, err := os.MkdirTemp("", "charm-bench-tools-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tools)
	logFile := filepath.Join(tools, "juju-log.out")
	fake := "#!/bin/sh\necho \"$@\" >> " + logFile + "\n"
	if err := os.WriteFile(filepath.Join(tools, "juju-log"), []byte(fake), 0o755); err != nil {
		return err
	}
	env := []string{
		"PATH=" + tools,
		"JUJU_CHARM_DIR=" + charmAbs,
		"JUJU_UNIT_NAME=postgresql/0",
		"JUJU_MODEL_NAME=bench",
		"JUJU_VERSION=" + controller.JujuVersion,
		"JUJU_DISPATCH_PATH=" + event,
	}
	if name, ok := strings.CutPrefix(event, "actions/"); ok {
		env = append(env, "JUJU_ACTION_NAME="+name)
	}
	baselines, err := buildBaselines(tools, imports)
	if err != nil {
		return err
	}
	disp := &program{label: "no-op dispatch of the charm binary", path: filepath.Join(charmAbs, "dispatch")}
	progs := append(append([]*program{{label: "/bin/true", path: "/bin/true"}}, baselines...), disp)
	// One run first, to check the event really is a no-op for the charm.
	if err := runProgram(disp, env, charmAbs); err != nil {
		logged, _ := os.ReadFile(logFile)
		return fmt.Errorf("%s is not a no-op dispatch: %w\njuju-log:\n%s", event, err, logged)
	}
	logged, _ := os.ReadFile(logFile)
	// A no-op logs nothing (an action no handler takes), or says so at
	// debug level (a hook no handler takes); a handler logs more.
	handled := len(logged) > 0 && !strings.Contains(string(logged), "no handler for event")
	disp.wall, disp.cpu, disp.faults = nil, nil, nil
	for i := 0; i < n; i++ {
		// Interleaved, so that all see the same machine load.
		for _, p := range progs {
			if err := runProgram(p, env, charmAbs); err != nil {
				return err
			}
		}
	}
	fmt.Printf("postgresql charm dispatch, JUJU_DISPATCH_PATH=%s, fake juju-log, medians of %d (issue 3 aim: under 20 ms)\n", event, n)
	if handled {
		fmt.Printf("  note: a handler ran for %s; this is not a no-op dispatch\n", event)
	}
	printPrograms(progs)
	if traces > 0 {
		return initTrace(disp, env, charmAbs, traces, 10)
	}
	return nil
}

// tail returns the model's last n debug-log lines.
func tail(m *controller.Model, n int) string {
	lines := m.DebugLog(0, 0, nil)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    " + l.String() + "\n")
	}
	return b.String()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
