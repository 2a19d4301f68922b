package service

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestMain lets the test binary act as the charm binary's supervise
// subcommand, as Supervisor.Self would run it.
func TestMain(m *testing.M) {
	if os.Getenv("PGJUJU_TEST_SUPERVISE") == "1" {
		os.Exit(RunSupervisor(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func TestRenderUnitGolden(t *testing.T) {
	got, err := RenderUnit(Spec{
		Name:        "postgresql-0-patroni",
		Description: "Patroni for postgresql/0",
		Exec:        []string{"/usr/bin/patroni", "/var/lib/postgresql-charm/postgresql-0/patroni.yml"},
		User:        "postgres",
		Env:         []string{"PATRONI_LOG_LEVEL=INFO", `WEIRD=a "b" $c 50%`},
		LogFile:     "/var/log/postgresql-charm/postgresql-0/patroni.log",
		KillMode:    "process",
		StopTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := "testdata/patroni.service.golden"
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, _ := os.ReadFile(path)
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{
		{Name: "", Exec: []string{"/bin/true"}},
		{Name: "a/b", Exec: []string{"/bin/true"}},
		{Name: "ok", Exec: []string{"true"}},
		{Name: "ok"},
		{Name: "ok", Exec: []string{"/bin/true"}, KillMode: "none"},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
}

// fakeSystemctl records calls and answers "show" from a map.
type fakeSystemctl struct {
	calls  []string
	active map[string]bool
}

func (f *fakeSystemctl) run(_ context.Context, args ...string) (string, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch args[0] {
	case "show":
		name := strings.TrimSuffix(args[len(args)-1], ".service")
		if f.active[name] {
			return "ActiveState=active\nMainPID=42\n", nil
		}
		return "ActiveState=inactive\nMainPID=0\n", nil
	case "start", "restart":
		f.active[strings.TrimSuffix(args[1], ".service")] = true
	case "stop":
		f.active[strings.TrimSuffix(args[1], ".service")] = false
	}
	return "", nil
}

func TestSystemdIdempotent(t *testing.T) {
	ctx := context.Background()
	f := &fakeSystemctl{active: map[string]bool{}}
	s := &Systemd{UnitDir: t.TempDir(), Run: f.run}
	spec := Spec{Name: "pg-0-etcd", Exec: []string{"/usr/bin/etcd"}}
	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"install", func() (bool, error) { return s.Install(ctx, spec) }, true},
		{"install again", func() (bool, error) { return s.Install(ctx, spec) }, false},
		{"start", func() (bool, error) { return s.Start(ctx, spec.Name) }, true},
		{"start again", func() (bool, error) { return s.Start(ctx, spec.Name) }, false},
		{"stop", func() (bool, error) { return s.Stop(ctx, spec.Name) }, true},
		{"stop again", func() (bool, error) { return s.Stop(ctx, spec.Name) }, false},
		{"remove", func() (bool, error) { return s.Remove(ctx, spec.Name) }, true},
		{"remove again", func() (bool, error) { return s.Remove(ctx, spec.Name) }, false},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil || got != st.want {
			t.Fatalf("%s: changed=%v err=%v, want changed=%v", st.name, got, err, st.want)
		}
	}
	want := []string{
		"daemon-reload", "enable pg-0-etcd.service",
		"show --property=ActiveState,MainPID pg-0-etcd.service", "start pg-0-etcd.service",
		"show --property=ActiveState,MainPID pg-0-etcd.service",
		"show --property=ActiveState,MainPID pg-0-etcd.service", "stop pg-0-etcd.service",
		"show --property=ActiveState,MainPID pg-0-etcd.service",
		"disable --now pg-0-etcd.service", "daemon-reload",
	}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("systemctl calls (-want +got):\n%s", diff)
	}
}

func testSupervisor(t *testing.T) *Supervisor {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Supervisor{Dir: t.TempDir(), Self: []string{exe, "-test.run=^$"}, ExtraEnv: []string{"PGJUJU_TEST_SUPERVISE=1"}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSupervisorLifecycle(t *testing.T) {
	ctx := context.Background()
	t.Setenv("JUJU_CONTEXT_ID", "postgresql/0-install-123")
	s := testSupervisor(t)
	log := filepath.Join(s.Dir, "log", "sleep.log")
	spec := Spec{Name: "pg-0-sleep", Exec: []string{"/bin/sleep", "1000"}, LogFile: log, StopTimeout: 5 * time.Second}

	if _, err := s.Start(ctx, spec.Name); err == nil {
		t.Fatal("start before install: want an error")
	}
	if changed, err := s.Install(ctx, spec); err != nil || !changed {
		t.Fatalf("install: %v %v", changed, err)
	}
	if changed, err := s.Start(ctx, spec.Name); err != nil || !changed {
		t.Fatalf("start: %v %v", changed, err)
	}
	t.Cleanup(func() { s.Remove(ctx, spec.Name) })
	if changed, err := s.Start(ctx, spec.Name); err != nil || changed {
		t.Fatalf("start again: %v %v", changed, err)
	}
	var st Status
	waitFor(t, "child pid", func() bool { st, _ = s.Status(ctx, spec.Name); return st.ChildPid > 0 })
	if !st.Running || !st.Installed {
		t.Fatalf("status %+v", st)
	}

	// Detached: its own session, no hook context in its environment.
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid))
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	if fields[3] != fmt.Sprint(st.Pid) {
		t.Errorf("supervisor session id %s, want its own pid %d", fields[3], st.Pid)
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.Pid))
	if bytes.Contains(env, []byte("JUJU_CONTEXT_ID")) {
		t.Errorf("supervisor environment has JUJU_CONTEXT_ID")
	}

	// The daemon dies: the supervisor restarts it after the back-off.
	first := st.ChildPid
	if err := os.WriteFile(filepath.Join(s.Dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	killPid(t, first)
	waitFor(t, "restart", func() bool { st, _ = s.Status(ctx, spec.Name); return st.ChildPid > 0 && st.ChildPid != first })

	if err := s.Restart(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	old := st
	waitFor(t, "child after restart", func() bool { st, _ = s.Status(ctx, spec.Name); return st.ChildPid > 0 })
	if st.Pid == old.Pid || alive(old.Pid) || alive(old.ChildPid) {
		t.Errorf("restart left the old processes: %+v -> %+v", old, st)
	}

	if changed, err := s.Stop(ctx, spec.Name); err != nil || !changed {
		t.Fatalf("stop: %v %v", changed, err)
	}
	if alive(st.Pid) || alive(st.ChildPid) {
		t.Errorf("stop left processes %d %d", st.Pid, st.ChildPid)
	}
	if changed, err := s.Stop(ctx, spec.Name); err != nil || changed {
		t.Fatalf("stop again: %v %v", changed, err)
	}
	if changed, err := s.Remove(ctx, spec.Name); err != nil || !changed {
		t.Fatalf("remove: %v %v", changed, err)
	}
	logText, _ := os.ReadFile(log)
	for _, want := range []string{"started daemon", "daemon exited", "restarting daemon", "stopping daemon"} {
		if !bytes.Contains(logText, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}
}

func killPid(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
}
