package localjuju_test

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/localjuju/netns"
)

func hostLinks(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatalf("ip -o link: %v", err)
	}
	// Only names and flags: counters and qdisc details are not ours.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 {
			lines = append(lines, f[1]+" "+f[2])
		}
	}
	return strings.Join(lines, "\n")
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is dead for our purpose.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// TestNetwork covers DESIGN §6 and issue 2's first "Done when": each unit has
// a machine with its own address, a hook's daemon lives in that machine, cut
// and restore partition it, kill-machine and destroy leave nothing behind.
func TestNetwork(t *testing.T) {
	needRoot(t)
	t.Parallel()
	linksBefore := hostLinks(t)
	home := filepath.Join(t.TempDir(), "home")
	m, err := controller.Open(controller.Options{Home: home, ToolsBinary: toolsBin})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, m: m, dir: t.TempDir()}
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			_ = m.Destroy(ctx)
		}
	})
	prefix := "lj-" + m.UUID()[:8]

	// A daemon started by install, detached as charms do: it must run in
	// the unit's machine and die with it.
	e.script("all", "install", `setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! > "$dir/daemon.$tag"`)
	e.deploy("net", 2, nil)
	e.waitIdle()

	st := m.Status()
	addr0 := st.Applications["net"].Units["net/0"].PublicAddress
	addr1 := st.Applications["net"].Units["net/1"].PublicAddress
	if addr0 == "" || addr1 == "" || addr0 == addr1 {
		t.Fatalf("public addresses %q and %q: want two distinct addresses", addr0, addr1)
	}
	m0, err := m.Machine("net/0")
	if err != nil {
		t.Fatal(err)
	}
	m1, err := m.Machine("net/1")
	if err != nil {
		t.Fatal(err)
	}
	if m0.Addr.String() != addr0 || m1.Addr.String() != addr1 {
		t.Errorf("machine addresses %s, %s differ from status %s, %s", m0.Addr, m1.Addr, addr0, addr1)
	}

	l, err := m0.Listen("tcp", net.JoinHostPort(addr0, "7000"))
	if err != nil {
		t.Fatalf("listen in net/0's machine: %v", err)
	}
	defer l.Close()
	accepted := make(chan net.Addr, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr()
			_, _ = io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	dial := func(timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := m1.Dial(ctx, "tcp", net.JoinHostPort(addr0, "7000"))
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		b, err := io.ReadAll(c)
		return string(b), err
	}

	t.Run("DESIGN6/client seen at its own unit address", func(t *testing.T) {
		got, err := dial(10 * time.Second)
		if err != nil || got != "hello\n" {
			t.Fatalf("dial from net/1: %q, %v", got, err)
		}
		ra := <-accepted
		host, _, _ := net.SplitHostPort(ra.String())
		if host != addr1 {
			t.Errorf("server saw the client at %s, want net/1's public-address %s", host, addr1)
		}
	})
	t.Run("DESIGN6/cut makes the machine unreachable, restore brings it back", func(t *testing.T) {
		if err := m.Cut("net/1"); err != nil {
			t.Fatal(err)
		}
		if got, err := dial(2 * time.Second); err == nil {
			t.Errorf("dial from a cut machine succeeded: %q", got)
		}
		if err := m.Restore("net/1"); err != nil {
			t.Fatal(err)
		}
		var got string
		waitUntil(t, "net/1 reachable after restore", func() bool {
			got, err = dial(2 * time.Second)
			return err == nil
		})
		if got != "hello\n" {
			t.Errorf("after restore: %q", got)
		}
	})

	pidOf := func(unit string) int {
		t.Helper()
		s := strings.TrimSpace(e.readFile("daemon." + tag(unit)))
		pid, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("daemon pid of %s: %q", unit, s)
		}
		return pid
	}
	pid0, pid1 := pidOf("net/0"), pidOf("net/1")

	t.Run("DESIGN6/a hook's daemon runs in the unit's machine", func(t *testing.T) {
		for unit, pid := range map[string]int{"net/0": pid0, "net/1": pid1} {
			mach, _ := m.Machine(unit)
			pids, err := mach.Pids()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(pids, pid) {
				t.Errorf("daemon %d of %s is not among its machine's processes %v", pid, unit, pids)
			}
			want, err1 := nsInode("/run/netns/" + mach.Namespace)
			got, err2 := nsInode("/proc/" + strconv.Itoa(pid) + "/ns/net")
			if err1 != nil || err2 != nil || want != got {
				t.Errorf("daemon %d of %s: netns inode %d, machine %d (%v %v)", pid, unit, got, want, err1, err2)
			}
		}
	})
	t.Run("DESIGN6/kill-machine kills the hook's daemon", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := m.KillMachine(ctx, "net/1"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "daemon of net/1 gone", func() bool { return !alive(pid1) })
		if !alive(pid0) {
			t.Errorf("kill-machine of net/1 killed net/0's daemon")
		}
		if got := m.Status().Applications["net"].Units["net/1"].JujuStatus.Current; got != "lost" {
			t.Logf("agent status of a killed machine: %q", got)
		}
	})
	t.Run("DESIGN6/destroy leaves no process, namespace or link", func(t *testing.T) {
		if names, _ := netns.List(prefix); len(names) == 0 {
			t.Fatalf("no namespace with prefix %s before destroy", prefix)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := m.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		destroyed = true
		if alive(pid0) {
			t.Errorf("daemon %d of net/0 survived destroy", pid0)
		}
		if names, err := netns.List(prefix); err != nil || len(names) != 0 {
			t.Errorf("namespaces left after destroy: %v %v", names, err)
		}
		if _, err := os.Stat(home); !os.IsNotExist(err) {
			t.Errorf("model home still exists after destroy: %v", err)
		}
		if after := hostLinks(t); after != linksBefore {
			t.Errorf("host links changed:\nbefore:\n%s\nafter:\n%s", linksBefore, after)
		}
	})
}
