package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/safefile"
)

// Supervisor manages services as detached supervisor processes of the charm
// binary, for machines without systemd. For a service NAME it keeps, in Dir:
//
//	NAME.json       the Spec (written by Install)
//	NAME.pid        the supervisor's pid (written by the supervisor)
//	NAME.child.pid  the daemon's pid (written by the supervisor)
//
// A supervisor is started with setsid, stdin from /dev/null, output to the
// spec's log file and an environment without JUJU_* variables, so it
// outlives the hook that started it and is no hook context's child.
type Supervisor struct {
	// Dir is the unit's run directory.
	Dir string
	// Self is the command that runs the supervisor: the charm binary and
	// its subcommand, e.g. {"/var/lib/juju/agents/unit-pg-0/charm/dispatch",
	// "supervise"}. The spec path is appended.
	Self []string
	// ExtraEnv is added to the supervisor's environment (tests use it to
	// make a test binary act as the supervisor).
	ExtraEnv []string
}

func (s *Supervisor) specPath(name string) string { return filepath.Join(s.Dir, name+".json") }
func pidPath(specPath string) string {
	return strings.TrimSuffix(specPath, ".json") + ".pid"
}
func childPidPath(specPath string) string {
	return strings.TrimSuffix(specPath, ".json") + ".child.pid"
}

// Install writes the spec. A running supervisor keeps its old spec until
// Restart.
func (s *Supervisor) Install(_ context.Context, spec Spec) (bool, error) {
	if err := spec.Validate(); err != nil {
		return false, err
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return false, fmt.Errorf("encoding spec %s: %w", spec.Name, err)
	}
	// The spec says what root runs: it goes in a root-owned directory
	// (safefile refuses any other) and through safefile's writer.
	return safefile.WriteFile(s.specPath(spec.Name), append(data, '\n'), 0o600, safefile.Root)
}

func (s *Supervisor) readSpec(name string) (Spec, error) {
	return readSpec(s.specPath(name))
}

func readSpec(path string) (Spec, error) {
	// Never a link, never a file or directory someone else can write.
	data, err := safefile.ReadTrusted(path)
	if errors.Is(err, os.ErrNotExist) {
		return Spec{}, ErrNotInstalled
	}
	if err != nil {
		return Spec{}, fmt.Errorf("reading spec: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return Spec{}, fmt.Errorf("decoding spec %s: %w", path, err)
	}
	return spec, spec.Validate()
}

// Status reports whether the supervisor of name runs. A pid file whose
// process is gone, is a zombie, or is another program (pid reuse) counts as
// not running.
func (s *Supervisor) Status(_ context.Context, name string) (Status, error) {
	path := s.specPath(name)
	st := Status{}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		st.Installed = true
	}
	pid := readPid(pidPath(path))
	if pid > 0 && alive(pid) && cmdlineHas(pid, path) {
		st.Running = true
		st.Pid = pid
		if c := readPid(childPidPath(path)); c > 0 && alive(c) {
			st.ChildPid = c
		}
	}
	return st, nil
}

// Start starts a supervisor for name unless one runs, and waits until it has
// written its pid file.
func (s *Supervisor) Start(ctx context.Context, name string) (bool, error) {
	st, err := s.Status(ctx, name)
	if err != nil || st.Running {
		return false, err
	}
	spec, err := s.readSpec(name)
	if err != nil {
		return false, fmt.Errorf("starting %s: %w", name, err)
	}
	if len(s.Self) == 0 {
		return false, fmt.Errorf("starting %s: no supervisor command", name)
	}
	path := s.specPath(name)
	os.Remove(pidPath(path))
	os.Remove(childPidPath(path))

	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return false, fmt.Errorf("starting %s: %w", name, err)
	}
	defer devnull.Close()
	out := devnull
	if spec.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogFile), 0o755); err != nil {
			return false, fmt.Errorf("starting %s: %w", name, err)
		}
		f, err := safefile.OpenAppend(spec.LogFile, 0o640)
		if err != nil {
			return false, fmt.Errorf("starting %s: %w", name, err)
		}
		defer f.Close()
		out = f
	}
	argv := append(append([]string{}, s.Self...), path)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(supervisorEnv(os.Environ()), s.ExtraEnv...)
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("starting supervisor of %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it exits while this process lives; once this (hook)
	// process exits, init or the subreaper adopts it.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if readPid(pidPath(path)) == pid {
			return true, nil
		}
		select {
		case <-exited:
			return false, fmt.Errorf("starting %s: supervisor exited at once (see %s)", name, spec.LogFile)
		case <-deadline.C:
			return false, fmt.Errorf("starting %s: supervisor wrote no pid file in 10s", name)
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// supervisorEnv is the environment minus the hook's JUJU_* variables (a
// daemon must not look like a hook, and must not hold a context id that
// dies with the hook).
func supervisorEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if strings.HasPrefix(e, "JUJU_") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Stop sends SIGTERM to the supervisor and waits until it has gone (it
// stops its daemon first). It waits for the daemon's stop timeout plus a
// margin, then kills both.
func (s *Supervisor) Stop(ctx context.Context, name string) (bool, error) {
	st, err := s.Status(ctx, name)
	if err != nil || !st.Running {
		return false, err
	}
	timeout := DefaultStopTimeout
	if spec, err := s.readSpec(name); err == nil {
		timeout = spec.stopTimeout()
	}
	if err := syscall.Kill(st.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("stopping %s: %w", name, err)
	}
	if err := waitGone(ctx, st.Pid, timeout+5*time.Second); err != nil {
		syscall.Kill(st.Pid, syscall.SIGKILL)
		if st.ChildPid > 0 {
			syscall.Kill(-st.ChildPid, syscall.SIGKILL)
		}
		if err := waitGone(ctx, st.Pid, 10*time.Second); err != nil {
			return true, fmt.Errorf("stopping %s: %w", name, err)
		}
	}
	if st.ChildPid > 0 {
		if err := waitGone(ctx, st.ChildPid, 10*time.Second); err != nil {
			return true, fmt.Errorf("stopping %s: %w", name, err)
		}
	}
	return true, nil
}

// Restart stops the supervisor (if it runs) and starts a new one, which
// reads the current spec.
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	if _, err := s.Stop(ctx, name); err != nil {
		return err
	}
	_, err := s.Start(ctx, name)
	return err
}

// Remove stops the supervisor and deletes the spec.
func (s *Supervisor) Remove(ctx context.Context, name string) (bool, error) {
	changed, err := s.Stop(ctx, name)
	if err != nil {
		return changed, err
	}
	path := s.specPath(name)
	for _, p := range []string{path, pidPath(path), childPidPath(path)} {
		if err := os.Remove(p); err == nil {
			changed = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return changed, fmt.Errorf("removing %s: %w", name, err)
		}
	}
	return changed, nil
}

func readPid(path string) int {
	data, err := safefile.ReadTrusted(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself
	// contain parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	return data[i+2] != 'Z' && data[i+2] != 'X'
}

func cmdlineHas(pid int, arg string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	for _, a := range bytes.Split(data, []byte{0}) {
		if string(a) == arg {
			return true
		}
	}
	return false
}

// waitGone waits until pid has exited (gone from /proc or a zombie whose
// parent will reap it).
func waitGone(ctx context.Context, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still running after %s", pid, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
