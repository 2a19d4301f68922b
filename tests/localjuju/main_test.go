// Package localjuju_test is localjuju's conformance suite: it drives the
// recorder test charm (tests/charms/recorder) through a real localjuju model
// and checks what its hooks saw against shared/juju-contract.md. Every check
// names the contract section it covers.
//
// The suite needs root (machines are network namespaces); without it every
// test is skipped with the reason printed.
package localjuju_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// toolsBin is the localjuju binary built by TestMain; it serves as every
// hook tool and juju-exec, and as the CLI.
var toolsBin string

// skipReason is set when the suite cannot run.
var skipReason string

// markerVar is set in the test process: a hook must never see it (§1.4:
// the agent's environment is not inherited).
const markerVar = "LOCALJUJU_CONFORMANCE_MARKER"

// recorderDir is the recorder charm.
var recorderDir string

const (
	waitTimeout  = 2 * time.Minute
	pollInterval = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipReason = "localjuju conformance tests need root (machines are network namespaces)"
		fmt.Println("SKIP:", skipReason)
		return m.Run()
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipReason = "ip(8) not found: " + err.Error()
		fmt.Println("SKIP:", skipReason)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "localjuju-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	toolsBin = filepath.Join(dir, "localjuju")
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", toolsBin, "./cmd/localjuju")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building localjuju: %v\n%s", err, out)
		return 1
	}
	recorderDir = filepath.Join(root, "tests", "charms", "recorder")
	os.Setenv(markerVar, "leaked")
	return m.Run()
}

func needRoot(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// env is one test model plus the recorder's scripts directory.
type env struct {
	t    *testing.T
	m    *controller.Model
	dir  string // scripts-dir of every recorder application
	opts controller.Options
}

// newEnv opens a fresh model in its own home; it is destroyed at cleanup.
func newEnv(t *testing.T, opts controller.Options) *env {
	t.Helper()
	needRoot(t)
	opts.Home = filepath.Join(t.TempDir(), "home")
	opts.ToolsBinary = toolsBin
	m, err := controller.Open(opts)
	if err != nil {
		t.Fatalf("opening model: %v", err)
	}
	e := &env{t: t, m: m, dir: t.TempDir(), opts: opts}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		// e.m: the model as last (re)opened by restart.
		if err := e.m.Destroy(ctx); err != nil {
			t.Errorf("destroying model: %v", err)
		}
	})
	return e
}

// restart closes the model (its agents stop, machines keep running) and
// opens it again from its home with opts, as a controller restart does.
// Call it on the env newEnv returned, not on a subtest's copy; failures go
// to t.
func (e *env) restart(t *testing.T, opts controller.Options) {
	t.Helper()
	if err := e.m.Close(); err != nil {
		t.Fatalf("closing model: %v", err)
	}
	opts.Home, opts.ToolsBinary = e.opts.Home, e.opts.ToolsBinary
	m, err := controller.Open(opts)
	if err != nil {
		t.Fatalf("reopening model: %v", err)
	}
	e.m = m
}

// with returns a copy of e whose failures go to t (a subtest).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// deploy deploys the recorder as app with n units.
func (e *env) deploy(app string, n int, config map[string]string) {
	e.t.Helper()
	cfg := map[string]string{"scripts-dir": e.dir}
	for k, v := range config {
		cfg[k] = v
	}
	if err := e.m.Deploy(controller.DeployArgs{Charm: recorderDir, App: app, NumUnits: n, Config: cfg}); err != nil {
		e.t.Fatalf("deploy %s: %v", app, err)
	}
}

// waitIdle waits until every unit agent is idle.
func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.m.WaitIdle(ctx, 300*time.Millisecond); err != nil {
		e.t.Fatalf("wait-idle: %v\n%s", err, e.dumpEvents())
	}
}

// script installs a hook or action script: target is a unit ("alpha/0") or
// "all"; the recorder's dispatch sources it after recording the event.
func (e *env) script(target, name, body string) {
	e.t.Helper()
	d := filepath.Join(e.dir, "all")
	if target != "all" {
		d = filepath.Join(e.dir, tag(target))
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name), []byte(body+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) removeScript(target, name string) {
	d := filepath.Join(e.dir, "all")
	if target != "all" {
		d = filepath.Join(e.dir, tag(target))
	}
	_ = os.Remove(filepath.Join(d, name))
}

// readFile reads a file a hook wrote into the scripts dir.
func (e *env) readFile(name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		e.t.Fatalf("reading %s: %v", name, err)
	}
	return string(b)
}

func tag(unit string) string { return "unit-" + strings.ReplaceAll(unit, "/", "-") }

// event is one line of the recorder's events.log.
type event struct {
	Unit, Hook, Remote, App, Rel, Departing, EnvFile string
}

func (ev event) String() string {
	return fmt.Sprintf("%s %s remote=%s app=%s rel=%s departing=%s", ev.Unit, ev.Hook, ev.Remote, ev.App, ev.Rel, ev.Departing)
}

func (e *env) events() []event {
	f, err := os.Open(filepath.Join(e.dir, "events.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 7 {
			continue
		}
		val := func(i int) string { _, v, _ := strings.Cut(parts[i], "="); return v }
		out = append(out, event{Unit: parts[0], Hook: parts[1], Remote: val(2), App: val(3), Rel: val(4), Departing: val(5), EnvFile: val(6)})
	}
	return out
}

func (e *env) dumpEvents() string {
	var b strings.Builder
	b.WriteString("events.log:\n")
	for _, ev := range e.events() {
		b.WriteString("  " + ev.String() + "\n")
	}
	return b.String()
}

// mark is the number of events so far: later checks look at what follows.
func (e *env) mark() int { return len(e.events()) }

// since returns events after mark, optionally of one unit, without
// update-status.
func (e *env) since(mark int, unit string) []event {
	evs := e.events()
	if mark > len(evs) {
		mark = len(evs)
	}
	var out []event
	for _, ev := range evs[mark:] {
		if ev.Hook == "update-status" || (unit != "" && ev.Unit != unit) {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// waitFor polls events.log until cond holds.
func (e *env) waitFor(what string, cond func(evs []event) bool) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if cond(e.events()) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s\n%s", what, e.dumpEvents())
		}
		time.Sleep(pollInterval)
	}
}

// waitUntil polls an arbitrary condition.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollInterval)
	}
}

// hookEnv reads the environment a hook saw.
func (e *env) hookEnv(ev event) map[string]string {
	e.t.Helper()
	return parseEnv(e.readFile(filepath.Join("env", ev.EnvFile)))
}

func parseEnv(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

func hooks(evs []event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Hook
	}
	return out
}

// find returns the index of the first event matching f, or -1.
func find(evs []event, f func(event) bool) int {
	for i, ev := range evs {
		if f(ev) {
			return i
		}
	}
	return -1
}

func count(evs []event, f func(event) bool) int {
	n := 0
	for _, ev := range evs {
		if f(ev) {
			n++
		}
	}
	return n
}

// execResult is the outcome of a command in a unit's hook context.
type execResult struct {
	Code           int
	Stdout, Stderr string
}

// exec runs commands in a juju-exec context of unit (§5.3).
func (e *env) exec(unit, commands string) execResult {
	e.t.Helper()
	return e.execRel(unit, -1, "", commands)
}

func (e *env) execRel(unit string, rel int, remote, commands string) execResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r, err := e.m.Exec(ctx, controller.ExecArgs{Unit: unit, Commands: commands, RelationID: rel, RemoteUnit: remote})
	if err != nil {
		e.t.Fatalf("exec on %s %q: %v", unit, commands, err)
	}
	return execResult{Code: r.Code, Stdout: string(r.Stdout), Stderr: string(r.Stderr)}
}

// mustExec runs commands that must succeed and returns their stdout.
func (e *env) mustExec(unit, commands string) string {
	e.t.Helper()
	r := e.exec(unit, commands)
	if r.Code != 0 {
		e.t.Fatalf("exec on %s %q: exit %d, stderr %q", unit, commands, r.Code, r.Stderr)
	}
	return r.Stdout
}

// leader returns the leader of app from status.
func (e *env) leader(app string) string {
	for name, u := range e.m.Status().Applications[app].Units {
		if u.Leader {
			return name
		}
	}
	return ""
}

func (e *env) units(app string) []string {
	var out []string
	for name := range e.m.Status().Applications[app].Units {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func (e *env) address(unit string) string {
	app, _, _ := strings.Cut(unit, "/")
	return e.m.Status().Applications[app].Units[unit].PublicAddress
}

// toolCase is one hook-tool invocation and what the contract says it gives.
type toolCase struct {
	name   string // contract section and rule
	unit   string
	cmd    string
	code   int
	stdout string
	stderr string // exact when non-empty
}

func (e *env) checkTools(t *testing.T, cases []toolCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.with(t).exec(c.unit, c.cmd)
			if r.Code != c.code {
				t.Errorf("%s on %s: exit %d, want %d (stderr %q)", c.cmd, c.unit, r.Code, c.code, r.Stderr)
			}
			if r.Stdout != c.stdout {
				t.Errorf("%s on %s: stdout\n%q\nwant\n%q", c.cmd, c.unit, r.Stdout, c.stdout)
			}
			if c.stderr != "" && r.Stderr != c.stderr {
				t.Errorf("%s on %s: stderr\n%q\nwant\n%q", c.cmd, c.unit, r.Stderr, c.stderr)
			}
		})
	}
}
