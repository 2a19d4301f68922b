package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// buildCharm builds the dispatch binary into a temp charm dir with the
// repository's metadata.yaml.
func buildCharm(tb testing.TB) (charmDir string) {
	tb.Helper()
	charmDir = tb.TempDir()
	cmd := exec.Command("go", "build", "-tags", "nohandlers", "-o", filepath.Join(charmDir, "dispatch"), ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	meta, err := os.ReadFile("../../metadata.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(charmDir, "metadata.yaml"), meta, 0o644); err != nil {
		tb.Fatal(err)
	}
	return charmDir
}

// toolsDir holds a fake juju-log that appends its arguments to a file.
func toolsDir(tb testing.TB) (dir, logFile string) {
	tb.Helper()
	dir = tb.TempDir()
	logFile = filepath.Join(dir, "juju-log.out")
	script := "#!/bin/sh\necho \"$@\" >> " + logFile + "\n"
	if err := os.WriteFile(filepath.Join(dir, "juju-log"), []byte(script), 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir, logFile
}

func hookEnv(charmDir, path string, extra ...string) []string {
	return append([]string{
		"PATH=" + path,
		"JUJU_CHARM_DIR=" + charmDir,
		"JUJU_UNIT_NAME=postgresql/0",
		"JUJU_MODEL_NAME=test",
		"JUJU_VERSION=3.6.25",
	}, extra...)
}

func TestDispatchBinary(t *testing.T) {
	charmDir := buildCharm(t)
	tools, logFile := toolsDir(t)
	tests := []struct {
		name     string
		argv0    string // relative to charmDir; default dispatch
		env      []string
		wantCode int
		wantLog  string // substring of juju-log's arguments
		wantErr  string // substring of stderr
	}{
		{
			name:     "no handler: a successful no-op with a debug line",
			env:      hookEnv(charmDir, tools, "JUJU_DISPATCH_PATH=hooks/install", "JUJU_HOOK_NAME=install"),
			wantLog:  "--log-level DEBUG -- no handler for event event=install kind=install",
			wantCode: 0,
		},
		{
			name:     "a custom event through juju-exec",
			env:      hookEnv(charmDir, tools, "JUJU_DISPATCH_PATH=hooks/role-changed"),
			wantLog:  "event=role-changed kind=custom",
			wantCode: 0,
		},
		{
			name:     "Juju before 2.8: a hooks/ symlink names the hook",
			argv0:    "hooks/db-relation-joined",
			env:      hookEnv(charmDir, tools, "JUJU_RELATION=db", "JUJU_RELATION_ID=db:3"),
			wantLog:  "event=db-relation-joined kind=relation-joined",
			wantCode: 0,
		},
		{
			name:     "no event: exit 1, and stderr when juju-log is missing",
			env:      hookEnv(charmDir, t.TempDir()),
			wantErr:  "ERROR cannot determine event",
			wantCode: 1,
		},
		{
			name:     "an action no handler takes: exit 0 before reading metadata, logging nothing",
			env:      hookEnv(t.TempDir(), tools, "JUJU_DISPATCH_PATH=actions/not-an-action", "JUJU_ACTION_NAME=not-an-action"),
			wantLog:  "",
			wantCode: 0,
		},
		{
			name:     "no metadata.yaml: exit 1",
			env:      hookEnv(t.TempDir(), tools, "JUJU_DISPATCH_PATH=hooks/install", "JUJU_HOOK_NAME=install"),
			wantLog:  "--log-level ERROR -- cannot read charm metadata",
			wantCode: 1,
		},
	}
	if err := os.MkdirAll(filepath.Join(charmDir, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../dispatch", filepath.Join(charmDir, "hooks", "db-relation-joined")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(logFile)
			argv0 := tt.argv0
			if argv0 == "" {
				argv0 = "dispatch"
			}
			cmd := exec.Command(filepath.Join(charmDir, argv0))
			cmd.Env = tt.env
			cmd.Dir = charmDir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			logged, _ := os.ReadFile(logFile)
			if tt.wantLog == "" && len(logged) > 0 {
				t.Errorf("juju-log ran: %q", logged)
			}
			if !strings.Contains(string(logged), tt.wantLog) {
				t.Errorf("juju-log got %q, want %q", logged, tt.wantLog)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// BenchmarkNoopDispatch reports the process time of a no-op hook dispatch
// of the built binary (issue 3 aims under 20 ms), with a fake juju-log that
// is a shell script (so it includes one juju-log exec). It prints the median
// over the runs; it asserts nothing.
func BenchmarkNoopDispatch(b *testing.B) {
	charmDir := buildCharm(b)
	tools, _ := toolsDir(b)
	env := hookEnv(charmDir, tools, "JUJU_DISPATCH_PATH=hooks/update-status", "JUJU_HOOK_NAME=update-status")
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(filepath.Join(charmDir, "dispatch"))
		cmd.Env = env
		cmd.Dir = charmDir
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}
