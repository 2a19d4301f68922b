// Command etcdtls-bench prints what etcd TLS (issue 9, item 3) costs a
// three-unit postgresql cluster under localjuju, as medians of -runs runs,
// against a baseline charm built from before TLS (-base) measured in the
// same run: each run deploys the baseline and the TLS charm in turn, each
// in a fresh model with a 10 s leadership lease and update-status an hour
// apart (so only the benchmark's triggers run it), and measures:
//
//   - update-status on the leader, made due with the controller's
//     RunUpdateStatus knob, -hooks times (the run's figure is their median);
//   - config-changed on the leader for a change that changes nothing
//     (extra_pg_conf set to a new comment line), -hooks times likewise;
//   - failover: from KillMachine of the primary's machine until a
//     surviving unit accepts a write as operator (password from
//     get-password, fetched before the kill).
//
// Hook durations are the dispatch process's run from the controller's
// hook records (HookTimings). It prints figures, the ratio TLS/baseline
// of the medians, and asserts nothing.
//
// Needs root and `make deps build`, plus the baseline charm, e.g.:
//
//	git worktree add --detach /tmp/pgjuju-base 2b5ffe2 && make -C /tmp/pgjuju-base build
//	go run ./bench/etcdtls -base /tmp/pgjuju-base/build/postgresql.charm [-runs 3] [-hooks 3]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/testbuild"
)

const (
	app           = "postgresql"
	pgPort        = 5432
	updateStatus  = time.Hour
	leaseDuration = 10 * time.Second
	probePoll     = 50 * time.Millisecond
	// failoverTimeout bounds the wait for a new primary after the kill.
	failoverTimeout = 3 * time.Minute
)

type options struct {
	runs, hooks                int
	tools, base, charm, subnet string
	timeout                    time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs; each deploys both charms in fresh models")
	flag.IntVar(&o.hooks, "hooks", 3, "hooks of each kind timed per run")
	flag.StringVar(&o.tools, "tools", "bin/localjuju", "the localjuju binary (hook tools)")
	flag.StringVar(&o.base, "base", "", "the baseline charm (built from before etcd TLS, 2b5ffe2)")
	flag.StringVar(&o.charm, "charm", "build/postgresql.charm", "the charm with etcd TLS")
	flag.StringVar(&o.subnet, "subnet", "10.155.0.0/24", "the model's machine subnet (inside its own network namespace)")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on one model's set-up and hooks after this long")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "etcdtls-bench:", err)
		os.Exit(1)
	}
}

// sample is one model's figures.
type sample struct {
	updateStatus, configChanged, failover time.Duration
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (localjuju machines are network namespaces)")
	}
	if o.base == "" {
		return errors.New("-base names the baseline charm")
	}
	work, err := os.MkdirTemp("", "etcdtls-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	tools, err := filepath.Abs(o.tools)
	if err != nil {
		return err
	}
	// Copies, so a `make build` meanwhile cannot change what runs.
	charms := map[string]string{"baseline": filepath.Join(work, "base.charm"), "tls": filepath.Join(work, "tls.charm")}
	for name, src := range map[string]string{"baseline": o.base, "tls": o.charm} {
		if err := copyFile(src, charms[name]); err != nil {
			return err
		}
	}
	got := map[string][]sample{}
	for i := 0; i < o.runs; i++ {
		// Alternate which goes first, so that neither always meets a
		// warmer host.
		order := []string{"baseline", "tls"}
		if i%2 == 1 {
			order = []string{"tls", "baseline"}
		}
		for _, name := range order {
			s, err := runOnce(o, work, fmt.Sprintf("%s-%d", name, i), tools, charms[name])
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", i+1, name, err)
			}
			fmt.Printf("  run %d %-8s: update-status %s, config-changed %s, failover %s\n", i+1, name,
				benchstat.Millis(s.updateStatus), benchstat.Millis(s.configChanged), secs(s.failover))
			got[name] = append(got[name], s)
		}
	}
	report(o, got)
	return nil
}

func report(o options, got map[string][]sample) {
	col := func(name string, f func(sample) time.Duration) []time.Duration {
		var ds []time.Duration
		for _, s := range got[name] {
			ds = append(ds, f(s))
		}
		return ds
	}
	fmt.Printf("etcd TLS cost, 3-unit postgresql cluster (median of %d runs; hooks: median of %d per run, leader, dispatch process)\n", o.runs, o.hooks)
	fmt.Printf("%-34s %12s %12s %7s  %s\n", "measure", "baseline", "etcd TLS", "ratio", "runs (baseline | TLS)")
	for _, m := range []struct {
		name string
		f    func(sample) time.Duration
		fmt  func(time.Duration) string
	}{
		{"update-status (leader)", func(s sample) time.Duration { return s.updateStatus }, benchstat.Millis},
		{"config-changed (leader)", func(s sample) time.Duration { return s.configChanged }, benchstat.Millis},
		{"kill primary -> write accepted", func(s sample) time.Duration { return s.failover }, secs},
	} {
		b, t := col("baseline", m.f), col("tls", m.f)
		mb, mt := benchstat.Median(b), benchstat.Median(t)
		fmt.Printf("%-34s %12s %12s %7.2f  %s | %s\n", m.name, m.fmt(mb), m.fmt(mt), float64(mt)/float64(mb), list(b, m.fmt), list(t, m.fmt))
	}
}

// env is one model.
type env struct {
	m   *controller.Model
	ctx context.Context
}

func runOnce(o options, work, name, tools, charm string) (s sample, err error) {
	home := filepath.Join(work, name)
	for _, d := range []string{home, filepath.Join(home, "machines")} {
		if err := os.MkdirAll(d, 0o755); err == nil {
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			return s, err
		}
	}
	m, err := controller.Open(controller.Options{Home: home, ToolsBinary: tools, Subnet: o.subnet,
		UpdateStatusInterval: updateStatus, LeaseDuration: leaseDuration})
	if err != nil {
		return s, err
	}
	units := []string{app + "/0", app + "/1", app + "/2"}
	defer func() {
		if err != nil {
			path := filepath.Join(os.TempDir(), "etcdtls-bench-"+name+".debug.log")
			if werr := os.WriteFile(path, []byte(debugLog(m)), 0o600); werr == nil {
				err = fmt.Errorf("%w (debug log in %s)", err, path)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if derr := m.Destroy(ctx); derr != nil && err == nil {
			err = fmt.Errorf("destroying model: %w", derr)
		}
		for _, u := range units {
			for _, d := range pgconf.DefaultLayout(m.UUID(), u, "").UnitDirs() {
				_ = os.RemoveAll(d)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	e := &env{m: m, ctx: ctx}
	if err := m.Deploy(controller.DeployArgs{Charm: charm, App: app}); err != nil {
		return s, err
	}
	if err := m.WaitUnitStatus(ctx, units[0], func(st controller.UnitStatus) bool { return st.WorkloadStatus.Current == "active" }); err != nil {
		return s, fmt.Errorf("first unit: %w", err)
	}
	if _, err := m.AddUnit(app, 2); err != nil {
		return s, err
	}
	primary, err := e.waitRoles(units)
	if err != nil {
		return s, err
	}
	if err := m.WaitIdle(ctx, 2*time.Second); err != nil {
		return s, err
	}
	leader := e.leader()
	var us, cc []time.Duration
	for i := 0; i < o.hooks; i++ {
		d, err := e.timeHook(leader, "update-status", func() error { return m.RunUpdateStatus(leader) })
		if err != nil {
			return s, err
		}
		us = append(us, d)
		value := fmt.Sprintf("# etcdtls-bench %s %d", name, i)
		d, err = e.timeHook(leader, "config-changed", func() error {
			return m.SetConfig(app, map[string]string{"extra_pg_conf": value}, nil)
		})
		if err != nil {
			return s, err
		}
		cc = append(cc, d)
	}
	s.updateStatus, s.configChanged = benchstat.Median(us), benchstat.Median(cc)

	password, err := e.password(leader)
	if err != nil {
		return s, err
	}
	if err := e.asOperator(primary, password, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE etcdtls_bench (id serial PRIMARY KEY)")
		return err
	}); err != nil {
		return s, err
	}
	var survivors []string
	for _, u := range units {
		if u != primary {
			survivors = append(survivors, u)
		}
	}
	// The failover has a deadline of its own: a slow set-up on a
	// loaded host must not eat into it.
	fctx, fcancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer fcancel()
	e.ctx = fctx
	t0 := time.Now()
	if err := m.KillMachine(fctx, primary); err != nil {
		return s, fmt.Errorf("killing the machine of %s: %w", primary, err)
	}
	var last error
	for {
		for _, u := range survivors {
			err := e.asOperator(u, password, func(ctx context.Context, c *pgx.Conn) error {
				// The table too: a commit the old primary made just
				// before its death may not have reached this unit.
				_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS etcdtls_bench (id serial PRIMARY KEY); INSERT INTO etcdtls_bench DEFAULT VALUES")
				return err
			})
			if err == nil {
				s.failover = time.Since(t0)
				return s, nil
			}
			last = err
		}
		select {
		case <-fctx.Done():
			return s, fmt.Errorf("no survivor took a write within %s of killing %s (last: %v)", failoverTimeout, primary, last)
		case <-time.After(probePoll):
		}
	}
}

// timeHook runs trigger and returns the dispatch process time of unit's
// next committed run of hook, once the model has settled.
func (e *env) timeHook(unit, hook string, trigger func() error) (time.Duration, error) {
	t0 := time.Now()
	if err := trigger(); err != nil {
		return 0, err
	}
	for {
		for _, t := range e.m.HookTimings() {
			if t.Unit == unit && t.Hook == hook && t.Started.After(t0) && !t.Committed.IsZero() {
				if err := e.m.WaitIdle(e.ctx, time.Second); err != nil {
					return 0, err
				}
				return t.Exited.Sub(t.Started), nil
			}
		}
		select {
		case <-e.ctx.Done():
			return 0, fmt.Errorf("%s on %s: %w", hook, unit, e.ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (e *env) leader() string {
	for u, s := range e.m.Status().Applications[app].Units {
		if s.Leader {
			return u
		}
	}
	return ""
}

// waitRoles waits until one unit says Primary and the others Replica,
// and returns the primary.
func (e *env) waitRoles(units []string) (string, error) {
	for {
		primary, replicas := "", 0
		for _, u := range units {
			st := e.m.Status().Applications[app].Units[u].WorkloadStatus
			switch {
			case st.Current == "error":
				return "", fmt.Errorf("%s is in error: %s", u, st.Message)
			case st.Current == "active" && strings.HasPrefix(st.Message, "Primary"):
				primary = u
			case st.Current == "active" && strings.HasPrefix(st.Message, "Replica"):
				replicas++
			}
		}
		if primary != "" && replicas == len(units)-1 {
			return primary, nil
		}
		select {
		case <-e.ctx.Done():
			return "", fmt.Errorf("waiting for one Primary and %d Replicas: %w", len(units)-1, e.ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *env) password(leader string) (string, error) {
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
	// The secret's id since get-password stopped putting the password
	// on action-set's command line; the password itself before.
	pw, err := testbuild.PasswordFromResults(e.m, r.Results)
	if err != nil {
		return "", fmt.Errorf("get-password on %s: %w", leader, err)
	}
	return pw, nil
}

// asOperator runs f connected as operator to postgres at the unit's
// address, from the unit's own machine.
func (e *env) asOperator(unit, password string, f func(ctx context.Context, c *pgx.Conn) error) error {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig("sslmode=disable connect_timeout=2")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = e.m.Status().Applications[app].Units[unit].PublicAddress, pgPort, "operator", password, "postgres"
	cfg.DialFunc = mach.Dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return f(ctx, c)
}

// debugLog is the model's whole debug log.
func debugLog(m *controller.Model) string {
	var b strings.Builder
	for _, l := range m.DebugLog(0, 0, nil) {
		b.WriteString(l.String() + "\n")
	}
	return b.String()
}

func copyFile(src, dst string) error {
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

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func list(ds []time.Duration, f func(time.Duration) string) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = f(d)
	}
	return strings.Join(parts, " ")
}
