//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultKillTimeout bounds KillAll (and Destroy) when ctx has no deadline.
const DefaultKillTimeout = 60 * time.Second

const pollInterval = 50 * time.Millisecond

type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{uint64(st.Dev), st.Ino}, nil
}

// nsPids lists the processes (thread-group leaders) whose network namespace
// is the one mounted at path, never the calling process. A missing path
// gives no pids and no error.
func nsPids(path string) ([]int, error) {
	want, err := statNS(path)
	if errors.Is(err, syscall.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: stat %s: %w", path, err)
	}
	if ok, err := isNamespacePath(path); err != nil || !ok {
		return nil, err
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("netns: read /proc: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		// Fails for zombies and vanished processes: neither is in a namespace.
		if id, err := statNS("/proc/" + name + "/ns/net"); err == nil && id == want && !borrowed(name, want) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// borrowed reports whether process pid has a thread outside namespace want.
// Its main thread is then only visiting (another process using this package,
// whose Go runtime happened to run Start or Dial on its main thread): every
// thread of a process that really lives in a machine is in the namespace.
func borrowed(pid string, want nsID) bool {
	tasks, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		return false
	}
	for _, t := range tasks {
		if id, err := statNS("/proc/" + pid + "/task/" + t.Name() + "/ns/net"); err == nil && id != want {
			return true
		}
	}
	return false
}

func isNamespacePath(path string) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("netns: statfs %s: %w", path, err)
	}
	return st.Type == nsfsMagic, nil
}

// signalPids sends sig to each pid that is still in the namespace at path
// (rechecked just before signalling, against pid reuse).
func signalPids(path string, pids []int, sig syscall.Signal) error {
	want, err := statNS(path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("netns: stat %s: %w", path, err)
	}
	var errs []error
	for _, pid := range pids {
		if id, err := statNS("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil || id != want {
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("netns: kill %d %v: %w", pid, sig, err))
		}
	}
	return errors.Join(errs...)
}

// signalUntilStable signals every process in the namespace, repeating while
// new ones show up (at most a few rounds).
func signalUntilStable(path string, sig syscall.Signal) error {
	done := map[int]bool{}
	for round := 0; round < 10; round++ {
		pids, err := nsPids(path)
		if err != nil {
			return err
		}
		var todo []int
		for _, p := range pids {
			if !done[p] {
				todo = append(todo, p)
				done[p] = true
			}
		}
		if len(todo) == 0 {
			return nil
		}
		if err := signalPids(path, todo, sig); err != nil {
			return err
		}
	}
	return nil
}

type procStat struct {
	state     byte
	ppid      int
	startTime uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("netns: bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("netns: bad /proc/%d/stat", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	st, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{state: f[0][0], ppid: ppid, startTime: st}, nil
}

// killAll sends SIGKILL to every process in the namespace at path until none
// remains, then waits until each killed process is gone from /proc, or is a
// zombie the calling process has to reap itself.
func killAll(ctx context.Context, path string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultKillTimeout)
		defer cancel()
	}
	self := os.Getpid()
	killed := map[int]uint64{} // pid -> start time
	for {
		pids, err := nsPids(path)
		if err != nil {
			return err
		}
		for _, p := range pids {
			if _, ok := killed[p]; !ok {
				if st, err := readStat(p); err == nil {
					killed[p] = st.startTime
				}
			}
		}
		if err := signalPids(path, pids, syscall.SIGKILL); err != nil {
			return err
		}
		var left []int
		for p, start := range killed {
			st, err := readStat(p)
			switch {
			case err != nil, st.startTime != start: // gone (or pid reused)
				delete(killed, p)
			case st.state == 'Z' && st.ppid == self:
				delete(killed, p) // the caller's exec.Cmd.Wait reaps it
			default:
				left = append(left, p)
			}
		}
		if len(pids) == 0 && len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			slices.Sort(left)
			return fmt.Errorf("netns: processes of %s still present (in namespace: %v; killed, not yet reaped: %v): %w",
				path, pids, left, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
