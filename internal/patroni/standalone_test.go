package patroni_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/service"
)

// TestMain lets the test binary act as the charm binary's supervise
// subcommand.
func TestMain(m *testing.M) {
	if os.Getenv("PGJUJU_TEST_SUPERVISE") == "1" {
		os.Exit(service.RunSupervisor(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

const pgVersion = "15"

// requireWorkload skips the test, saying why, unless it runs as root with
// the workload installed.
func requireWorkload(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping workload test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: the workload test needs root (network namespaces, the postgres user)")
	}
	for _, bin := range []string{"/usr/bin/etcd", "/usr/bin/patroni", "/usr/sbin/ip", pgconf.BinDir(pgVersion) + "/postgres"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("skipping: %s is missing (install postgresql-%s, patroni, etcd-server, iproute2)", bin, pgVersion)
		}
	}
	if _, err := user.Lookup("postgres"); err != nil {
		t.Skip("skipping: no postgres user")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// nsDialer returns a dial function whose sockets live in the network
// namespace ns: the socket is created on a locked OS thread switched into
// ns, and stays there after the thread switches back.
func nsDialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("entering netns %s: %w", ns, err)
		}
		var d net.Dialer
		conn, dialErr := d.DialContext(ctx, network, addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime discards it when
			// this goroutine ends, so no other goroutine runs in ns.
			if conn != nil {
				conn.Close()
			}
			return nil, fmt.Errorf("leaving netns %s: %w", ns, err)
		}
		runtime.UnlockOSThread()
		return conn, dialErr
	}
}

// nsPids lists the processes in network namespace ns.
func nsPids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func waitProcGone(t *testing.T, pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still in /proc after %s", pid, d)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func chown(t *testing.T, u *user.User, paths ...string) {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStandaloneWorkload runs one unit's etcd and Patroni, rendered by
// pgconf and supervised by service.Supervisor, in a network namespace of
// its own with one address on a dummy interface, and writes and reads a row
// over that address. Nothing is added to the host's network namespace.
func TestStandaloneWorkload(t *testing.T) {
	requireWorkload(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, _ := user.Lookup("postgres")

	rnd := make([]byte, 4)
	rand.Read(rnd)
	id := hex.EncodeToString(rnd)
	ns := "lj-wl-" + id
	addr := netip.MustParseAddr("10.201.0.10")
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { run(t, "ip", "netns", "del", ns) })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	// A dummy interface where the kernel has the module, else a veth pair
	// with both ends inside the namespace.
	if exec.Command("ip", "-n", ns, "link", "add", "d0", "type", "dummy").Run() != nil {
		run(t, "ip", "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
		run(t, "ip", "-n", ns, "link", "set", "d1", "up")
	}
	run(t, "ip", "-n", ns, "addr", "add", addr.String()+"/24", "dev", "d0")
	run(t, "ip", "-n", ns, "link", "set", "d0", "up")

	base := filepath.Join(os.TempDir(), ns)
	layout := pgconf.NewLayout(filepath.Join(base, "conf"), filepath.Join(base, "run"), filepath.Join(base, "log"),
		filepath.Join(base, "storage"))
	// The charm's ownership (pgconf.Layout.Dirs), except that etcd runs as
	// root here and needs no directory of its own user.
	for _, d := range []string{base, layout.ConfDir, layout.PatroniDir, layout.EtcdConfDir, layout.RunDir, layout.SocketDir,
		layout.LogDir, filepath.Dir(layout.PGData)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{layout.PatroniDir, layout.SocketDir, filepath.Dir(layout.PGData)} {
		os.Chmod(d, 0o700)
	}
	chown(t, pg, layout.PatroniDir, layout.SocketDir, filepath.Dir(layout.PGData))
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"etcd.log", "patroni.log"} {
				b, _ := os.ReadFile(filepath.Join(layout.LogDir, f))
				t.Logf("%s:\n%s", f, b)
			}
		}
		os.RemoveAll(base)
	})

	var pw pgconf.Passwords
	for _, p := range []*string{&pw.Operator, &pw.Replication, &pw.Rewind, &pw.PatroniAPI, &pw.Etcd} {
		var err error
		if *p, err = postgres.GeneratePassword(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(pgconf.BinDir(pgVersion) + "/postgres")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	desc, err := exec.Command(pgconf.BinDir(pgVersion)+"/postgres", "--describe-config").Output()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := pgconf.ParseCatalogue(strings.NewReader(string(desc)))
	if err != nil {
		t.Fatal(err)
	}
	settings, err := pgconf.Validate(pgconf.Options{SharedBuffers: "128MB", ExtraPgConf: "work_mem = 8MB"}, cat, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	unit := "postgresql/0"
	cfg := pgconf.UnitConfig{
		App: "postgresql", Unit: unit, Address: addr, Layout: layout, PGVersion: pgVersion,
		Settings: settings, Passwords: pw,
	}
	etcdConf, err := pgconf.RenderEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	patroniConf, err := pgconf.RenderPatroni(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.EtcdConfigPath(), []byte(etcdConf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.PatroniConfigPath(), []byte(patroniConf), 0o600); err != nil {
		t.Fatal(err)
	}
	chown(t, pg, layout.PatroniConfigPath())

	exe, _ := os.Executable()
	sup := &service.Supervisor{
		Dir:      layout.RunDir,
		Self:     []string{"/usr/sbin/ip", "netns", "exec", ns, exe, "-test.run=^$"},
		ExtraEnv: []string{"PGJUJU_TEST_SUPERVISE=1"},
	}
	etcdSvc := service.Spec{
		Name: pgconf.ServiceName(unit, "etcd"), Description: "etcd for " + unit,
		Exec:    []string{"/usr/bin/etcd", "--config-file", layout.EtcdConfigPath()},
		LogFile: filepath.Join(layout.LogDir, "etcd.log"), StopTimeout: 10 * time.Second,
	}
	patroniSvc := service.Spec{
		Name: pgconf.ServiceName(unit, "patroni"), Description: "Patroni for " + unit,
		Exec: []string{"/usr/bin/patroni", layout.PatroniConfigPath()}, User: "postgres",
		LogFile: filepath.Join(layout.LogDir, "patroni.log"), KillMode: "process", StopTimeout: 60 * time.Second,
	}
	t.Cleanup(func() {
		// Stop what we started, then make sure nothing is left in the
		// namespace (only our processes can be there) and wait for /proc.
		stopCtx := context.Background()
		for _, s := range []string{patroniSvc.Name, etcdSvc.Name} {
			if _, err := sup.Stop(stopCtx, s); err != nil {
				t.Errorf("stopping %s: %v", s, err)
			}
		}
		left := nsPids(ns)
		if len(left) > 0 {
			t.Errorf("processes left in %s after stopping the services: %v", ns, left)
		}
		for _, p := range left {
			unix.Kill(p, unix.SIGKILL)
		}
		for _, p := range left {
			waitProcGone(t, p, 10*time.Second)
		}
	})

	dial := nsDialer(ns)
	for _, s := range []service.Spec{etcdSvc, patroniSvc} {
		if _, err := sup.Install(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Now()
	if _, err := sup.Start(ctx, etcdSvc.Name); err != nil {
		t.Fatal(err)
	}
	ec, err := etcd.Connect(etcd.Config{
		Endpoints: []string{cfg.ClientURL(addr)},
		Dial:      func(ctx context.Context, a string) (net.Conn, error) { return dial(ctx, "tcp", a) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var members []etcd.Member
	for {
		if members, err = ec.Members(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("etcd did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	etcdUp := time.Since(t0)
	if len(members) != 1 || members[0].Name != "postgresql-0" {
		t.Fatalf("etcd members %+v", members)
	}
	if changed, _, err := ec.EnsureMember(ctx, cfg.PeerURL(addr)); err != nil || changed {
		t.Fatalf("EnsureMember(self) = %v, %v", changed, err)
	}
	if changed, err := ec.EnsureAuth(ctx, pw.Etcd); err != nil || !changed {
		t.Fatalf("EnsureAuth = %v, %v", changed, err)
	}
	ec.Close()
	ec, err = etcd.Connect(etcd.Config{
		Endpoints: []string{cfg.ClientURL(addr)}, Username: "root", Password: pw.Etcd,
		Dial: func(ctx context.Context, a string) (net.Conn, error) { return dial(ctx, "tcp", a) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := ec.EnsureAuth(ctx, pw.Etcd); err != nil || changed {
		t.Fatalf("EnsureAuth again = %v, %v", changed, err)
	}
	ec.Close()

	t1 := time.Now()
	if _, err := sup.Start(ctx, patroniSvc.Name); err != nil {
		t.Fatal(err)
	}
	api := &patroni.Client{
		BaseURL:  "http://" + netip.AddrPortFrom(addr, pgconf.DefaultPatroniPort).String(),
		Username: pgconf.PatroniAPIUser, Password: pw.PatroniAPI,
		HTTP: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dial}},
	}
	// Leader and running in /cluster (during bootstrap /patroni already
	// says master/running while /cluster still says starting).
	waitLeader := func(what string) {
		for {
			cl, err := api.Cluster(ctx)
			if l, ok := cl.Leader(); err == nil && ok && l.Name == "postgresql-0" && l.State == "running" {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: no running leader: %+v %v", what, cl, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLeader("bootstrap")
	toLeader := time.Since(t1)
	t.Logf("etcd answering after %s; Patroni start to leader/running (including initdb) %s", etcdUp.Round(time.Millisecond), toLeader.Round(time.Millisecond))

	hba, err := os.ReadFile(filepath.Join(layout.PGData, "pg_hba.conf"))
	if err != nil || strings.Contains(string(hba), "trust") || !strings.Contains(string(hba), "scram-sha-256") {
		t.Errorf("pg_hba.conf in the data directory (%v):\n%s", err, hba)
	}

	cl, err := api.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := cl.Leader(); !ok || l.Name != "postgresql-0" {
		t.Errorf("cluster %+v", cl)
	}
	if ok, err := api.Health(ctx); !ok || err != nil {
		t.Errorf("health %v %v", ok, err)
	}

	conn, err := postgres.Connect(ctx, postgres.ConnConfig{
		Host: addr.String(), Port: uint16(settings.ListenPort), User: pgconf.OperatorUser, Password: pw.Operator, Dial: dial,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE charm_check (id int PRIMARY KEY, note text)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO charm_check VALUES ($1, $2)`, 1, "written over "+addr.String()); err != nil {
		t.Fatal(err)
	}
	var note string
	if err := conn.QueryRow(ctx, `SELECT note FROM charm_check WHERE id = $1`, 1).Scan(&note); err != nil || note != "written over 10.201.0.10" {
		t.Fatalf("read back %q, %v", note, err)
	}
	ver, num, err := postgres.ServerVersion(ctx, conn)
	if err != nil || num/10000 != 15 {
		t.Errorf("version %s %d %v", ver, num, err)
	}
	for name, want := range map[string]string{
		"work_mem": "8MB", "shared_buffers": "128MB", "listen_addresses": "10.201.0.10",
		"unix_socket_directories": layout.SocketDir, "password_encryption": "scram-sha-256", "max_connections": "100",
	} {
		if got, err := postgres.Show(ctx, conn, name); err != nil || got != want {
			t.Errorf("SHOW %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if pending, err := postgres.PendingRestart(ctx, conn); err != nil || len(pending) != 0 {
		t.Errorf("pending restart %v %v", pending, err)
	}

	// A user whose SCRAM verifier was computed here logs in, over the
	// socket (local scram rule); EnsureUser is idempotent.
	userPw, _ := postgres.GeneratePassword()
	for i, want := range []bool{true, false} {
		if changed, err := postgres.EnsureUser(ctx, conn, "charm_probe", userPw); err != nil || changed != want {
			t.Fatalf("EnsureUser #%d = %v, %v", i, changed, err)
		}
	}
	probe, err := postgres.Connect(ctx, postgres.ConnConfig{Host: layout.SocketDir, Port: uint16(settings.ListenPort), User: "charm_probe", Password: userPw})
	if err != nil {
		t.Fatalf("logging in with a client-side verifier: %v", err)
	}
	probe.Close(ctx)
	if _, err := postgres.Connect(ctx, postgres.ConnConfig{Host: addr.String(), Port: uint16(settings.ListenPort), User: "charm_probe", Password: userPw, Dial: dial}); err == nil {
		t.Error("charm_probe logged in over TCP although pg_hba lists no rule for it")
	}
	if _, err := postgres.Connect(ctx, postgres.ConnConfig{Host: addr.String(), Port: uint16(settings.ListenPort), User: pgconf.OperatorUser, Password: "wrong-password-but-long-enough", Dial: dial}); err == nil {
		t.Error("operator logged in with a wrong password")
	}

	// Reload through Patroni: a reloadable setting changes with no restart.
	settings.ExtraParameters["log_min_duration_statement"] = "250ms"
	cfg.Settings = settings
	patroniConf, _ = pgconf.RenderPatroni(cfg)
	os.WriteFile(layout.PatroniConfigPath(), []byte(patroniConf), 0o600)
	if err := api.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		got, _ := postgres.Show(ctx, conn, "log_min_duration_statement")
		if got == "250ms" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("reload not applied: %q", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The supervisor restarts Patroni when it dies; Patroni finds its
	// postgres still running and carries on as leader.
	sst, _ := sup.Status(ctx, patroniSvc.Name)
	unix.Kill(sst.ChildPid, unix.SIGKILL)
	for {
		st2, _ := sup.Status(ctx, patroniSvc.Name)
		if st2.ChildPid != 0 && st2.ChildPid != sst.ChildPid {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("Patroni not restarted after being killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLeader("after Patroni was killed")
	if err := conn.QueryRow(ctx, `SELECT note FROM charm_check WHERE id = 1`).Scan(&note); err != nil {
		t.Errorf("reading after Patroni restart: %v", err)
	}
}
