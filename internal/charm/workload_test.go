package charm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/service"
)

const superviseFlag = "-pgjuju.supervise"

// TestMain lets the test binary act as the charm binary's supervise
// subcommand: System.Self is {test binary, superviseFlag}.
func TestMain(m *testing.M) {
	if n := len(os.Args); n >= 3 && os.Args[n-2] == superviseFlag {
		os.Exit(service.RunSupervisor(os.Args[n-1]))
	}
	os.Exit(m.Run())
}

// TestReconcileWorkload runs the charm's handlers, through the in-memory
// Juju harness, against the real workload: the test re-executes itself
// inside a fresh network namespace (lo plus 10.201.0.10 on a veth end), so
// every daemon binds there and nothing touches the host's network.
func TestReconcileWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping workload test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (network namespaces, the postgres user)")
	}
	for _, bin := range []string{"/usr/bin/etcd", "/usr/bin/patroni", "/usr/sbin/ip", "/usr/lib/postgresql"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("skipping: %s is missing (install postgresql, patroni, etcd-server, iproute2)", bin)
		}
	}
	if ns := os.Getenv("PGJUJU_TEST_NETNS"); ns != "" {
		reconcileScenario(t)
		return
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	ns := "lj-wl-" + hex.EncodeToString(rnd)
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	defer run("netns", "del", ns)
	defer func() {
		// Only our processes can be in our namespace: kill leftovers and
		// wait until /proc has let go of them.
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) > 0 {
			t.Errorf("processes left in %s: %v", ns, pids)
		}
		for _, p := range pids {
			n, _ := strconv.Atoi(p)
			unix.Kill(n, unix.SIGKILL)
			for i := 0; i < 200; i++ {
				if _, err := os.Stat("/proc/" + p); err != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	run("-n", ns, "link", "set", "d1", "up")
	run("-n", ns, "addr", "add", "10.201.0.10/24", "dev", "d0")
	run("-n", ns, "link", "set", "d0", "up")
	exe, _ := os.Executable()
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run=^TestReconcileWorkload$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGJUJU_TEST_NETNS="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("inside %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("scenario failed: %v", err)
	}
}

func reconcileScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ch, err := jujutest.LoadCharm("../..")
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 3)
	rand.Read(rnd)
	// The harness wants the charm's own application name; a random unit
	// number keeps the unit-scoped directories apart from anything else.
	app := "postgresql"
	unit := fmt.Sprintf("%s/%d", app, 1000+int(rnd[0])<<8|int(rnd[1]))
	base := filepath.Join(os.TempDir(), "lj-wl-"+pgconf.UnitSlug(unit))
	storage := filepath.Join(base, "pgdata")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	layout := pgconf.DefaultLayout("", unit, storage)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(layout.LogDir, "patroni.log"))
			t.Logf("patroni.log:\n%s", b)
		}
		for _, d := range append(layout.UnitDirs(), base) {
			os.RemoveAll(d)
		}
	}()
	exe, _ := os.Executable()
	c := &Charm{Workload: &instance.System{Self: []string{exe, superviseFlag}}}
	d := juju.NewDispatcher()
	c.Register(d)
	defer c.Workload.RemoveServices(context.Background(), "", unit)

	st := jujutest.State{
		UnitName: unit, Leader: true, PrivateAddress: "10.201.0.10",
		Storage:   []jujutest.Storage{{Name: "pgdata", Location: storage}},
		Relations: []jujutest.Relation{{ID: 0, Endpoint: PeerEndpoint, RemoteApp: app}},
		Config:    map[string]any{"shared_buffers": "128MB"},
	}
	step := func(name string, in jujutest.State) jujutest.State {
		t.Helper()
		t0 := time.Now()
		out, err := ch.Run(ctx, d, in, ch.Hook(name))
		if err != nil {
			t.Fatalf("%s: %v\nlogs: %v", name, err, out.Logs)
		}
		t.Logf("%s: %s in %s", name, out.UnitStatus, time.Since(t0).Round(time.Millisecond))
		return out
	}
	st = step("install", st)
	if st.UnitStatus != juju.Active("Primary") || !strings.HasPrefix(st.WorkloadVersion, "15.") {
		t.Fatalf("after install: %v, version %q", st.UnitStatus, st.WorkloadVersion)
	}
	st = step("start", st)
	st = step("update-status", st)

	_, res, err := ch.RunAction(ctx, d, st, "get-password", map[string]any{"username": "operator"})
	if err != nil || res.Failed {
		t.Fatalf("get-password: %v %+v", err, res)
	}
	if _, clear := res.Results["password"]; clear {
		t.Errorf("get-password results carry the password in clear")
	}
	var pw string
	for _, sec := range st.Secrets {
		if sec.ID == res.Results["secret-id"] {
			pw = sec.Content[res.Results["secret-key"]]
		}
	}
	connect := func(password string) error {
		conn, err := postgres.Connect(ctx, postgres.ConnConfig{Host: "10.201.0.10", Port: 5432, User: "operator", Password: password})
		if err != nil {
			return err
		}
		conn.Close(ctx)
		return nil
	}
	conn, err := postgres.Connect(ctx, postgres.ConnConfig{Host: "10.201.0.10", Port: 5432, User: "operator", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('row')`); err != nil {
		t.Fatal(err)
	}

	show := func(name string) string {
		c, err := postgres.Connect(ctx, postgres.ConnConfig{Host: "10.201.0.10", Port: 5432, User: "operator", Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		v, err := postgres.Show(ctx, c, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	st.Config["extra_pg_conf"] = "work_mem = 64MB"
	st = step("config-changed", st)
	// Patroni applies a reload in its next HA loop (loop_wait 2 s).
	t0 := time.Now()
	for show("work_mem") != "64MB" {
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("work_mem after reload = %s", show("work_mem"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("reload visible in SHOW after %s", time.Since(t0).Round(time.Millisecond))
	st.Config["shared_buffers"] = "256MB"
	st = step("config-changed", st)
	if got := show("shared_buffers"); got != "256MB" {
		t.Errorf("shared_buffers after restart = %s", got)
	}
	bad := st.Clone()
	bad.Config["extra_pg_auth"] = "host all all 0.0.0.0/0 trust"
	bad = step("config-changed", bad)
	if bad.UnitStatus.Level != juju.StatusBlocked || !strings.Contains(bad.UnitStatus.Message, "extra_pg_auth") {
		t.Errorf("bad config: %v", bad.UnitStatus)
	}
	var v string
	c2, err := postgres.Connect(ctx, postgres.ConnConfig{Host: "10.201.0.10", Port: 5432, User: "operator", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != "row" {
		t.Errorf("data after bad config: %q %v", v, err)
	}
	c2.Close(ctx)

	st2, res, err := ch.RunAction(ctx, d, st, "set-password", map[string]any{"username": "operator"})
	if err != nil || res.Failed {
		t.Fatalf("set-password: %v %+v", err, res)
	}
	newPw := res.Results["password"]
	if len(newPw) < 32 || newPw == pw {
		t.Fatalf("new password %d chars", len(newPw))
	}
	if err := connect(newPw); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := connect(pw); err == nil {
		t.Error("old password still works")
	}
	// Patroni re-read patroni.yml with the new superuser password: its
	// own connections (reconnected on restart) still work.
	_, res, err = ch.RunAction(ctx, d, st2, "restart", nil)
	if err != nil || res.Failed {
		t.Fatalf("restart action: %v %+v", err, res)
	}
	st2 = step("update-status", st2)
	if st2.UnitStatus != juju.Active("Primary") {
		t.Errorf("after rotation and restart: %v", st2.UnitStatus)
	}
	if b, _ := os.ReadFile(layout.PatroniConfigPath()); !strings.Contains(string(b), newPw) {
		t.Error("patroni.yml does not carry the new operator password")
	}
	// The Patroni REST API and etcd root passwords: Patroni keeps
	// working (it reads the cluster from etcd and takes the new API
	// password), and etcd takes only the new root password.
	for _, user := range []string{"patroni", "etcd"} {
		var res jujutest.ActionOutput
		st2, res, err = ch.RunAction(ctx, d, st2, "set-password", map[string]any{"username": user})
		if err != nil || res.Failed {
			t.Fatalf("set-password %s: %v %+v", user, err, res)
		}
		t.Logf("set-password %s: %s", user, strings.Join(res.Logs, "; "))
		// etcd speaks TLS: the charm's client certificate and the CA.
		cfg := pgconf.UnitConfig{Unit: unit, Address: netip.MustParseAddr("10.201.0.10"), Layout: layout}
		for _, sec := range st2.Secrets {
			if sec.Label == credentials.SecretLabel {
				cfg.CA = credentials.CAFrom(sec.Content)
			}
		}
		if !cfg.EtcdTLS() {
			t.Fatal("the system-users secret has no CA")
		}
		if user == "patroni" {
			cfg.Passwords.PatroniAPI = res.Results["password"]
			if err := c.Workload.Patroni(cfg).Reload(ctx); err != nil {
				t.Errorf("the new API password: %v", err)
			}
		} else {
			cfg.Passwords.Etcd = res.Results["password"]
			if err := c.Workload.CheckEtcdRoot(ctx, cfg); err != nil {
				t.Errorf("the new etcd root password: %v", err)
			}
		}
		st2 = step("update-status", st2)
		if st2.UnitStatus != juju.Active("Primary") {
			t.Errorf("after rotating %s: %v", user, st2.UnitStatus)
		}
	}
	st2 = step("secret-changed", st2)
	// An admin_addresses change touches only pg_hba: it must reach
	// PostgreSQL too.
	st2.Config["admin_addresses"] = "192.0.2.0/24"
	st2 = step("config-changed", st2)
	t0 = time.Now()
	for {
		c3, err := postgres.Connect(ctx, postgres.ConnConfig{Host: "10.201.0.10", Port: 5432, User: "operator", Password: newPw})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = c3.QueryRow(ctx, `SELECT count(*) FROM pg_hba_file_rules WHERE address = '192.0.2.0'`).Scan(&n)
		c3.Close(ctx)
		if err == nil && n == 1 {
			break
		}
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("admin_addresses not in pg_hba after 10 s: %d %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, res, err = ch.RunAction(ctx, d, st2, "get-primary", nil)
	if err != nil || res.Results["primary"] != unit {
		t.Errorf("get-primary: %v %+v", err, res)
	}
	st2 = step("stop", st2)
	if _, err := os.Stat(filepath.Join(layout.PGData, "postmaster.pid")); err == nil {
		t.Error("postmaster.pid still there after stop")
	}
	fmt.Fprintln(os.Stderr, "scenario done")
}
