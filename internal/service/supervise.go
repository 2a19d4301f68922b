package service

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/safefile"
)

// Back-off between restarts of a daemon that exits: doubled after each quick
// exit, reset after a run of at least backoffReset.
const (
	backoffMin   = 1 * time.Second
	backoffMax   = 30 * time.Second
	backoffReset = 30 * time.Second
)

// RunSupervisor is the supervisor process: the charm binary's "supervise
// <spec>" subcommand. It writes its pid file, runs the daemon described by
// the spec and restarts it with back-off whenever it exits. SIGHUP restarts
// the daemon at once; SIGTERM or SIGINT stops it (SIGTERM, then SIGKILL to
// its process group after the stop timeout) and exits. It returns the exit
// code.
func RunSupervisor(specPath string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("supervisor", specPath)
	spec, err := readSpec(specPath)
	if err != nil {
		log.Error("reading spec", "err", err)
		return 1
	}
	log = log.With("service", spec.Name)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := writePid(pidPath(specPath), os.Getpid()); err != nil {
		log.Error("writing pid file", "err", err)
		return 1
	}
	defer os.Remove(pidPath(specPath))
	defer os.Remove(childPidPath(specPath))

	backoff := backoffMin
	for {
		started := time.Now()
		cmd, err := daemonCommand(spec)
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			log.Error("starting daemon", "err", err, "retry_in", backoff)
			if stop := sleepOrSignal(sigs, backoff); stop {
				return 0
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		log.Info("started daemon", "pid", cmd.Process.Pid)
		if err := writePid(childPidPath(specPath), cmd.Process.Pid); err != nil {
			log.Warn("writing child pid file", "err", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		stopping, restarting := false, false
	wait:
		for {
			select {
			case err := <-done:
				log.Info("daemon exited", "err", err, "ran", time.Since(started).Round(time.Millisecond))
				break wait
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					restarting = true
				} else {
					stopping = true
				}
				log.Info("stopping daemon", "signal", sig.String())
				stopDaemon(cmd, spec, done, log)
				break wait
			}
		}
		os.Remove(childPidPath(specPath))
		if stopping {
			return 0
		}
		if restarting {
			backoff = backoffMin
			continue
		}
		if time.Since(started) >= backoffReset {
			backoff = backoffMin
		}
		log.Warn("restarting daemon", "in", backoff)
		if stop := sleepOrSignal(sigs, backoff); stop {
			return 0
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// stopDaemon sends SIGTERM (to the process, or to its whole process group
// unless the kill mode is "process") and waits for done; after the stop
// timeout it kills the process group.
func stopDaemon(cmd *exec.Cmd, spec Spec, done <-chan error, log *slog.Logger) {
	pid := cmd.Process.Pid
	target := -pid
	if spec.KillMode == "process" {
		target = pid
	}
	syscall.Kill(target, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(spec.stopTimeout()):
		log.Warn("daemon did not stop, killing it", "timeout", spec.stopTimeout())
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	if spec.KillMode != "process" {
		// Leave nothing of the group behind.
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// sleepOrSignal sleeps d; it returns true if SIGTERM or SIGINT came first.
func sleepOrSignal(sigs <-chan os.Signal, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return false
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				return true
			}
		}
	}
}

// daemonCommand builds the daemon's process: its own process group, the
// spec's user (with that user's groups, HOME, USER and LOGNAME), a minimal
// environment plus the spec's, output inherited from the supervisor (the
// log file).
func daemonCommand(spec Spec) (*exec.Cmd, error) {
	cmd := exec.Command(spec.Exec[0], spec.Exec[1:]...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Dir = spec.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if spec.User != "" && spec.User != "root" {
		u, err := user.Lookup(spec.User)
		if err != nil {
			return nil, fmt.Errorf("looking up user %s: %w", spec.User, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		var groups []uint32
		if ids, err := u.GroupIds(); err == nil {
			for _, g := range ids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					groups = append(groups, uint32(n))
				}
			}
		}
		if !spec.SwitchesUser {
			attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
		}
		env = append(env, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
	} else {
		env = append(env, "HOME=/root", "USER=root", "LOGNAME=root")
	}
	cmd.SysProcAttr = attr
	cmd.Env = append(env, spec.Env...)
	return cmd, nil
}

func writePid(path string, pid int) error {
	_, err := safefile.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644, safefile.Root)
	return err
}
