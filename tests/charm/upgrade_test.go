package charm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// oldLayoutCommit is the last commit whose charm kept etcd's data and the
// service specs in postgres-owned directories (before issue 9 item 2).
// PGJUJU_OLD_LAYOUT_COMMIT overrides it.
const oldLayoutCommit = "2b5ffe2"

// TestUpgradeFromOldLayout deploys two units of the charm built from
// oldLayoutCommit, writes a row, then replaces each unit's charm with the
// current one and runs upgrade-charm, one unit after the other, as Juju's
// refresh does. Each unit must move to the new layout (root-owned tree,
// etcd's data owned by and run as the etcd user) and keep its data and
// its etcd membership: same member ids, the row still there, both
// members running.
func TestUpgradeFromOldLayout(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	old := buildOldCharm(t)
	e := newEnv(t)
	units := []string{app + "/0", app + "/1"}
	if err := e.m.Deploy(controller.DeployArgs{Charm: old, App: app, NumUnits: len(units)}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	for _, u := range units {
		e.waitStatus(u, "active", nil)
	}
	for _, u := range units {
		l := pgconf.DefaultLayout(e.m.UUID(), u, "")
		if uidOf(t, l.ConfDir) == 0 {
			t.Fatalf("%s: the old charm made a root-owned %s: not the old layout", u, l.ConfDir)
		}
		if _, err := os.Stat(filepath.Join(l.ConfDir, "etcd", "member")); err != nil {
			t.Fatalf("%s: no etcd data in the old place: %v", u, err)
		}
	}
	password := e.password(units[0], "operator")
	primary := e.primaryOf(units, password)
	const row = "written by the old layout"
	if err := e.targetOf(primary).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "CREATE TABLE upgrade_it (note text)"); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "INSERT INTO upgrade_it VALUES ($1)", row)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	membersBefore := e.etcdMembers(units[0])
	if len(membersBefore) != len(units) {
		t.Fatalf("etcd members before: %v", membersBefore)
	}

	newDispatch := filepath.Join(filepath.Dir(charmFile), "charm", "dispatch")
	for _, u := range units {
		e.replaceDispatch(u, newDispatch)
		e.runHook(u, "upgrade-charm")
		e.waitStatus(u, "active", nil)
	}

	for _, u := range units {
		l := pgconf.DefaultLayout(e.m.UUID(), u, "")
		for _, d := range l.Dirs() {
			want := ownerUID(t, d.User)
			if got := uidOf(t, d.Path); got != want {
				t.Errorf("%s: %s owned by uid %d, want %s", u, d.Path, got, d.User)
			}
		}
		if _, err := os.Stat(filepath.Join(l.EtcdDataDir, "member")); err != nil {
			t.Errorf("%s: etcd's data did not move: %v", u, err)
		}
		for _, f := range []string{"patroni.yml", "etcd.conf.yml", "pgpass"} {
			if _, err := os.Lstat(filepath.Join(l.ConfDir, f)); err == nil {
				t.Errorf("%s: the old %s is still in %s", u, f, l.ConfDir)
			}
		}
		if uid := childUID(t, l, u, "etcd"); uid != ownerUID(t, "etcd") {
			t.Errorf("%s: etcd runs as uid %d, want the etcd user", u, uid)
		}
	}
	if after := e.etcdMembers(units[1]); strings.Join(after, ",") != strings.Join(membersBefore, ",") {
		t.Errorf("etcd members changed: before %v after %v", membersBefore, after)
	}
	primary = e.primaryOf(units, password)
	var got string
	if err := e.targetOf(primary).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT note FROM upgrade_it").Scan(&got)
	}); err != nil || got != row {
		t.Errorf("the row after the upgrade: %q %v", got, err)
	}
	// Both members run and the replica streams again.
	e.waitFor("both members running after the upgrade", func() error {
		states := map[string]string{}
		for _, u := range units {
			st := e.unitStatus(u).WorkloadStatus
			states[u] = st.Message
			if st.Current != "active" {
				return fmt.Errorf("%s is %s (%s)", u, st.Current, st.Message)
			}
		}
		roles := 0
		for _, m := range states {
			if strings.Contains(m, "Primary") || strings.Contains(m, "Replica") || strings.Contains(m, "Standby") {
				roles++
			}
		}
		if roles != len(units) {
			return fmt.Errorf("statuses %v", states)
		}
		return nil
	})
}

// buildOldCharm builds the charm of oldLayoutCommit: its dispatch binary
// (templates are embedded) with the current build's metadata, packed.
func buildOldCharm(t *testing.T) string {
	t.Helper()
	commit := oldLayoutCommit
	if c := os.Getenv("PGJUJU_OLD_LAYOUT_COMMIT"); c != "" {
		commit = c
	}
	return buildCharmAt(t, commit)
}

// buildCharmAt builds the charm of commit (see buildOldCharm).
func buildCharmAt(t *testing.T, commit string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("git", "-C", root, "cat-file", "-e", commit+"^{commit}").Run(); err != nil {
		t.Skipf("skipping: commit %s of the old layout is not in this repository (set PGJUJU_OLD_LAYOUT_COMMIT)", commit)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	archive := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive %q | tar -x -C %q", root, commit, src))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", commit, err, out)
	}
	charmDir := filepath.Join(dir, "charm")
	if err := os.MkdirAll(filepath.Join(charmDir, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(charmDir, "dispatch"), "./cmd/postgresql-charm")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the old charm: %v\n%s", err, out)
	}
	for _, f := range []string{"metadata.yaml", "config.yaml", "actions.yaml", "manifest.yaml"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(charmDir, f), data, 0o644)
	}
	for _, h := range []string{"install", "start", "upgrade-charm"} {
		os.Symlink("../dispatch", filepath.Join(charmDir, "hooks", h))
	}
	out := filepath.Join(dir, "postgresql-old.charm")
	if b, err := exec.Command(toolsBin, "pack", charmDir, out).CombinedOutput(); err != nil {
		t.Fatalf("pack: %v\n%s", err, b)
	}
	return out
}

// replaceDispatch puts a new charm binary in the unit's charm directory
// (what a refresh does before upgrade-charm), by rename.
func (e *env) replaceDispatch(unit, binary string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := e.m.Exec(ctx, controller.ExecArgs{Unit: unit, RelationID: -1, Commands: `echo "$JUJU_CHARM_DIR"`})
	if err != nil || res.Code != 0 {
		e.t.Fatalf("charm dir of %s: %v", unit, err)
	}
	dir := strings.TrimSpace(string(res.Stdout))
	data, err := os.ReadFile(binary)
	if err != nil {
		e.t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".dispatch.new")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "dispatch")); err != nil {
		e.t.Fatal(err)
	}
}

// primaryOf returns the unit whose PostgreSQL is not in recovery.
func (e *env) primaryOf(units []string, password string) string {
	e.t.Helper()
	var primary string
	e.waitFor("a primary", func() error {
		for _, u := range units {
			var rec bool
			err := e.targetOf(u).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
				return c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec)
			})
			if err == nil && !rec {
				primary = u
				return nil
			}
		}
		return fmt.Errorf("no unit is primary")
	})
	return primary
}

// etcdMembers lists etcd's members ("id=name") through the unit's client
// port (the member list needs no credentials).
func (e *env) etcdMembers(unit string) []string {
	e.t.Helper()
	var out []string
	e.waitFor("etcd's member list on "+unit, func() error {
		mach, err := e.m.Machine(unit)
		if err != nil {
			return err
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: mach.Dial}}
		resp, err := c.Post(fmt.Sprintf("http://%s:%d/v3/cluster/member/list", mach.Addr, pgconf.EtcdClientPort), "application/json", bytes.NewReader([]byte("{}")))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var ml struct {
			Members []struct {
				ID   string `json:"ID"`
				Name string `json:"name"`
			} `json:"members"`
		}
		if err := json.Unmarshal(body, &ml); err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("member list: %d %s", resp.StatusCode, body)
		}
		out = out[:0]
		for _, m := range ml.Members {
			out = append(out, m.ID+"="+m.Name)
		}
		sort.Strings(out)
		return nil
	})
	return out
}

// waitFor polls f until it returns nil, failing the test after
// convergeTimeout with f's last error.
func (e *env) waitFor(what string, f func() error) {
	e.t.Helper()
	deadline := time.Now().Add(convergeTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %s: %v", what, convergeTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func uidOf(t *testing.T, p string) int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid)
}

func ownerUID(t *testing.T, name string) int {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("id -u %s: %v", name, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// childUID is the real uid of the unit's daemon component, from the
// supervisor's child pid file.
func childUID(t *testing.T, l pgconf.Layout, unit, component string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.RunDir, pgconf.ServiceName(unit, component)+".child.pid"))
	if err != nil {
		t.Fatalf("%s's child pid: %v", component, err)
	}
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}
