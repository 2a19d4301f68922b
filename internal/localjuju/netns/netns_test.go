//go:build linux

package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netns tests need root (network namespaces, veth pairs); skipping")
	}
	if _, err := os.Stat(ipPath()); err != nil {
		t.Skipf("netns tests need iproute2 (%s): %v", ipPath(), err)
	}
}

// hostState is everything about the host's own namespace a test must not
// change: link names/kinds, addresses and routes.
func hostState(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"-o", "link", "show"},
		{"-o", "addr", "show"},
		{"route", "show", "table", "all"},
	} {
		out, err := exec.Command(ipPath(), args...).Output()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			// Drop volatile fields (valid_lft counters etc.) but keep names.
			if i := strings.Index(line, "valid_lft"); i >= 0 {
				line = line[:i]
			}
			if strings.Contains(strings.Join(args, " "), "link") {
				// "N: name: <FLAGS> ..." keep index and name only.
				f := strings.Fields(line)
				if len(f) >= 2 {
					line = f[0] + " " + f[1]
				}
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newTestNetwork creates a network with a unique name in 10.200.0.0/16 and
// destroys it at cleanup, checking that nothing is left.
func newTestNetwork(t *testing.T) *Network {
	t.Helper()
	name := "ljt-" + randHex(4)
	var third [1]byte
	rand.Read(third[:])
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, third[0], 0}), 24)
	before := hostState(t)
	n, err := CreateNetwork(name, subnet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := n.Destroy(ctx); err != nil {
			t.Errorf("cleanup: Destroy: %v", err)
		}
		if left, _ := List(name); len(left) > 0 {
			t.Errorf("cleanup: namespaces left: %v", left)
		}
		if after := hostState(t); after != before {
			t.Errorf("host namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
	return n
}

func addMachine(t *testing.T, n *Network, id int) *Machine {
	t.Helper()
	m, err := n.AddMachine(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func poll(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func procState(pid int) (byte, error) {
	st, err := readStat(pid)
	return st.state, err
}

func nsInode(t *testing.T, path string) string {
	t.Helper()
	id, err := statNS(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("net:[%d]", id.ino)
}

func TestAddresses(t *testing.T) {
	n := OpenNetwork("x", netip.MustParsePrefix("10.200.7.0/24"))
	for id, want := range map[int]string{0: "10.200.7.10/24", 3: "10.200.7.13/24", 244: "10.200.7.254/24"} {
		got, err := n.machineAddr(id)
		if err != nil || got.String() != want {
			t.Errorf("machine %d: got %v, %v; want %s", id, got, err, want)
		}
	}
	for _, id := range []int{-1, 245, 1 << 30} {
		if got, err := n.machineAddr(id); err == nil {
			t.Errorf("machine %d: got %v, want error", id, got)
		}
	}
	if _, err := CreateNetwork("bad/name", n.Subnet); err == nil {
		t.Error("CreateNetwork accepted a name with a slash")
	}
	if _, err := CreateNetwork("ok", netip.MustParsePrefix("fd00::/64")); err == nil {
		t.Error("CreateNetwork accepted an IPv6 subnet")
	}
	for _, a := range []string{"example.com:80", ":80", "10.0.0.1"} {
		if _, err := literalAddress("tcp", a); err == nil {
			t.Errorf("literalAddress(%q) accepted", a)
		}
	}
	if a, err := literalAddress("tcp", "localhost:5"); err != nil || a != "127.0.0.1:5" {
		t.Errorf("literalAddress(localhost:5) = %q, %v", a, err)
	}
}

func TestNetwork(t *testing.T) {
	needRoot(t)
	n := newTestNetwork(t)
	// Idempotence.
	if _, err := CreateNetwork(n.Name, n.Subnet); err != nil {
		t.Fatalf("second CreateNetwork: %v", err)
	}
	m1 := addMachine(t, n, 1)
	m2 := addMachine(t, n, 2)
	if again := addMachine(t, n, 1); again.MAC != m1.MAC || again.Addr != m1.Addr {
		t.Fatalf("second AddMachine(1) = %+v, first %+v", again, m1)
	}
	if got := n.Machine(2); got.MAC != m2.MAC || got.Addr != m2.Addr || got.Namespace != m2.Namespace {
		t.Fatalf("Machine(2) = %+v, AddMachine(2) = %+v", got, m2)
	}
	if ids, err := n.Machines(); err != nil || !slices.Equal(ids, []int{1, 2}) {
		t.Fatalf("Machines() = %v, %v", ids, err)
	}
	t.Logf("m1 %s %v %s, m2 %s %v %s", m1.Namespace, m1.Prefix, m1.MAC, m2.Namespace, m2.Prefix, m2.MAC)
	if m1.Addr.String() != strings.TrimSuffix(n.Subnet.Addr().String(), "0")+"11" {
		t.Fatalf("m1 address %v in %v", m1.Addr, n.Subnet)
	}

	// A connection from m2 to m1 comes from m2's own address.
	l, err := m1.Listen("tcp", netip.AddrPortFrom(m1.Addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(m *Machine, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err := m.Dial(ctx, "tcp", l.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		// Use the connection from another goroutine than the dialling one.
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write([]byte("hi"))
			errc <- err
		}()
		if err := <-errc; err != nil {
			return err
		}
		select {
		case s := <-accepted:
			defer s.Close()
			buf := make([]byte, 2)
			s.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(s, buf); err != nil {
				return err
			}
			if got := s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != m.Addr {
				return fmt.Errorf("server saw %v, want %v", got, m.Addr)
			}
			if got := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); got != m.Addr {
				return fmt.Errorf("client local address %v, want %v", got, m.Addr)
			}
		case <-time.After(10 * time.Second):
			return errors.New("server accepted nothing")
		}
		return nil
	}
	if err := dial(m2, 10*time.Second); err != nil {
		t.Fatalf("m2 -> m1: %v", err)
	}

	// Loopback works inside a machine, and is the machine's own.
	ll, err := m1.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := m1.Dial(ctx, "tcp", ll.Addr().String()); err != nil {
		t.Fatalf("m1 -> m1 loopback: %v", err)
	} else {
		c.Close()
	}
	if c, err := m2.Dial(ctx, "tcp", ll.Addr().String()); err == nil {
		c.Close()
		t.Fatal("m2 reached m1's loopback listener")
	}
	if c, err := net.DialTimeout("tcp", ll.Addr().String(), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("the host reached m1's loopback listener")
	}
	if c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("the host reached m1's eth0 listener")
	}

	// A network cut: attempts fail while cut and work again after Restore.
	sleeper := exec.Command("sleep", "300")
	if err := m2.Start(sleeper); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	if err := m2.Cut(); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "dial while cut should fail", func() error {
		if err := dial(m2, 500*time.Millisecond); err == nil {
			return errors.New("dial succeeded while cut")
		}
		return nil
	})
	if err := dial(m2, 1*time.Second); err == nil {
		t.Fatal("dial succeeded while cut (second attempt)")
	}
	if st, err := procState(sleeper.Process.Pid); err != nil || st == 'Z' {
		t.Fatalf("process of a cut machine: state %c, %v", st, err)
	}
	if err := m2.Restore(); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "dial after restore", func() error { return dial(m2, 2*time.Second) })
}

func TestProcesses(t *testing.T) {
	needRoot(t)
	n := newTestNetwork(t)
	m1 := addMachine(t, n, 1)
	m2 := addMachine(t, n, 2)

	// Run puts the child in the machine's namespace.
	out, err := exec.Command(ipPath(), "-o", "-4", "addr", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	hostAddrs := string(out)
	cmd := exec.Command(ipPath(), "-o", "-4", "addr", "show")
	var buf strings.Builder
	cmd.Stdout = &buf
	if err := m1.Run(cmd); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), m1.Prefix.String()) || strings.Contains(buf.String(), m2.Addr.String()+"/") {
		t.Fatalf("ip addr inside m1:\n%s", buf.String())
	}
	if out, _ := exec.Command(ipPath(), "-o", "-4", "addr", "show").Output(); string(out) != hostAddrs {
		t.Fatalf("host addresses changed")
	}

	// Start / Pids / Freeze / Thaw / KillAll.
	sleep := exec.Command("sleep", "60")
	if err := m1.Start(sleep); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleep.Wait() }()
	pid := sleep.Process.Pid
	// A grandchild (orphaned to init when killed) and a process of m2.
	sh := exec.Command("sh", "-c", "sleep 60 & sleep 60 & wait")
	if err := m1.Start(sh); err != nil {
		t.Fatal(err)
	}
	go sh.Wait()
	other := exec.Command("sleep", "60")
	if err := m2.Start(other); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()

	poll(t, 10*time.Second, "Pids includes the sleep and sh's children", func() error {
		pids, err := m1.Pids()
		if err != nil {
			return err
		}
		if !slices.Contains(pids, pid) || !slices.Contains(pids, sh.Process.Pid) || len(pids) < 4 {
			return fmt.Errorf("pids %v, want %d, %d and two more", pids, pid, sh.Process.Pid)
		}
		if slices.Contains(pids, other.Process.Pid) || slices.Contains(pids, os.Getpid()) {
			return fmt.Errorf("pids %v include m2's %d or ourselves", pids, other.Process.Pid)
		}
		return nil
	})

	if err := m1.Freeze(); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "frozen", func() error {
		if st, err := procState(pid); err != nil || st != 'T' {
			return fmt.Errorf("state %c, %v", st, err)
		}
		return nil
	})
	if st, _ := procState(other.Process.Pid); st == 'T' {
		t.Fatal("Freeze of m1 stopped a process of m2")
	}
	if err := m1.Thaw(); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "thawed", func() error {
		if st, err := procState(pid); err != nil || st == 'T' {
			return fmt.Errorf("state %c, %v", st, err)
		}
		return nil
	})

	pids, _ := m1.Pids()
	if err := m1.Freeze(); err != nil { // KillAll must work on stopped processes
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := m1.KillAll(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("KillAll of %d processes took %v", len(pids), time.Since(start))
	if left, err := m1.Pids(); err != nil || len(left) != 0 {
		t.Fatalf("after KillAll: %v, %v", left, err)
	}
	for _, p := range pids {
		if st, err := readStat(p); err == nil && !(st.state == 'Z' && st.ppid == os.Getpid()) {
			t.Errorf("pid %d still in /proc (state %c, ppid %d)", p, st.state, st.ppid)
		}
	}
	if err := <-waited; err == nil {
		t.Fatal("killed sleep exited successfully")
	}
	if st, err := procState(other.Process.Pid); err != nil || st == 'Z' {
		t.Fatalf("KillAll of m1 hit m2's process: %c, %v", st, err)
	}

	// Destroy of the network kills m2's process too and leaves nothing.
	otherPid := other.Process.Pid
	if err := n.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if left, err := List(n.Name); err != nil || len(left) != 0 {
		t.Fatalf("after Destroy: namespaces %v, %v", left, err)
	}
	if st, err := readStat(otherPid); err == nil && st.state != 'Z' {
		t.Fatalf("m2's process survived Destroy: state %c", st.state)
	}
	// Idempotent.
	if err := n.Destroy(ctx); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if err := m1.Destroy(ctx); err != nil {
		t.Fatalf("Machine.Destroy after Network.Destroy: %v", err)
	}
}

// TestConcurrentStart checks that concurrent Starts each land in the right
// namespace and that no thread leaks a namespace into plain exec or sockets.
func TestConcurrentStart(t *testing.T) {
	needRoot(t)
	n := newTestNetwork(t)
	ms := []*Machine{addMachine(t, n, 0), addMachine(t, n, 1), addMachine(t, n, 2)}
	host := nsInode(t, "/proc/self/ns/net")
	want := map[string]string{"": host}
	for _, m := range ms {
		want[m.Namespace] = nsInode(t, nsPath(m.Namespace))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1000)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				var m *Machine
				if (g+i)%4 != 3 {
					m = ms[(g+i)%4]
				}
				cmd := exec.Command("readlink", "/proc/self/ns/net")
				var out []byte
				var err error
				ns := ""
				if m == nil {
					out, err = cmd.Output()
				} else {
					ns = m.Namespace
					var b strings.Builder
					cmd.Stdout = &b
					err = m.Run(cmd)
					out = []byte(b.String())
				}
				if err != nil {
					errc <- err
					return
				}
				if got := strings.TrimSpace(string(out)); got != want[ns] {
					errc <- fmt.Errorf("process for %q in %s, want %s", ns, got, want[ns])
					return
				}
				// A plain listener on the host's loopback must be in the host.
				if l, err := net.Listen("tcp", "127.0.0.1:0"); err != nil {
					errc <- err
				} else {
					c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
					if err != nil {
						errc <- fmt.Errorf("host loopback socket not in the host namespace? %v", err)
					} else {
						c.Close()
					}
					l.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// TestStartOverhead logs the median time of Machine.Start against a plain
// exec.Cmd.Start (both timed without Wait).
func TestStartOverhead(t *testing.T) {
	needRoot(t)
	n := newTestNetwork(t)
	m := addMachine(t, n, 1)
	runs := 300
	if testing.Short() {
		runs = 50
	}
	// Alternate the two on every iteration so that load from other work on
	// the host affects both alike.
	once := func(start func(*exec.Cmd) error) time.Duration {
		cmd := exec.Command("/bin/true")
		t0 := time.Now()
		if err := start(cmd); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t0)
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// For reference: a plain Start on a fresh goroutine, no namespace switch.
	// Machine.Start pays the same hop (see inNamespace).
	hop := func(cmd *exec.Cmd) error {
		errc := make(chan error, 1)
		go func() { errc <- cmd.Start() }()
		return <-errc
	}
	var plainDs, nsDs, hopDs []time.Duration
	for i := 0; i < runs; i++ {
		plainDs = append(plainDs, once((*exec.Cmd).Start))
		nsDs = append(nsDs, once(m.Start))
		hopDs = append(hopDs, once(hop))
	}
	plain, inNS := median(plainDs), median(nsDs)
	t.Logf("Start of /bin/true, median of %d: plain exec.Cmd.Start %v, Machine.Start %v, overhead %v (plain Start on a fresh goroutine: %v)",
		runs, plain, inNS, inNS-plain, median(hopDs))

	var ds, dsPlain []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		if err := inNamespace(nsPath(m.Namespace), func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
		t0 = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := m.Dial(ctx, "tcp", "127.0.0.1:1")
		cancel()
		if err == nil {
			c.Close()
		}
		dsPlain = append(dsPlain, time.Since(t0))
	}
	t.Logf("bare setns round trip (goroutine, lock, 2x setns, unlock), median: %v; Dial to a closed loopback port: %v", median(ds), median(dsPlain))
}

func BenchmarkStartPlain(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("/bin/true")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cmd.Wait()
		b.StartTimer()
	}
}

func BenchmarkStartInMachine(b *testing.B) {
	needRoot(b)
	name := "ljb-" + randHex(4)
	n, err := CreateNetwork(name, netip.MustParsePrefix("10.200.250.0/24"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Destroy(context.Background()) })
	m, err := n.AddMachine(1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("/bin/true")
		if err := m.Start(cmd); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cmd.Wait()
		b.StartTimer()
	}
}

// TestVisitorNotAMachineProcess checks that a process whose main thread is
// only visiting the namespace (a thread elsewhere stays on the host) is not
// counted as a machine process, while a multi-threaded process started inside
// is.
func TestVisitorNotAMachineProcess(t *testing.T) {
	needRoot(t)
	n := newTestNetwork(t)
	m := addMachine(t, n, 1)
	want, err := statNS(nsPath(m.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	// This test binary: its threads are on the host.
	if !borrowed(strconv.Itoa(os.Getpid()), want) {
		t.Fatal("borrowed(self) = false, want true")
	}
	// A process started inside: every thread inside.
	cmd := exec.Command("sleep", "60")
	if err := m.Start(cmd); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if borrowed(strconv.Itoa(cmd.Process.Pid), want) {
		t.Fatal("borrowed(child) = true, want false")
	}
}
