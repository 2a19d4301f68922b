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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// TestPostgresUserCannotReachRoot is issue 9 item 2: the OS user postgres
// (what any database superuser is, through COPY … TO PROGRAM) must not be
// able to write what root-run code later trusts. Acting as postgres on the
// unit's machine, it tries to edit the supervisor's specs and pid files,
// to write into etcd's configuration and data, and plants symbolic links
// where the charm writes patroni.yml (at the file and at every temporary
// name the old writer could pick) pointing at a canary outside the unit's
// tree. Then config-changed, update-status and upgrade-charm run. postgres
// must have been refused the first two, the canary must be unchanged, and
// no planted command may have run.
func TestPostgresUserCannotReachRoot(t *testing.T) {
	e := newEnv(t)
	const unit = app + "/0"
	if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	e.waitStatus(unit, "active", nil)
	l := pgconf.DefaultLayout(e.m.UUID(), unit, "")
	mach, err := e.m.Machine(unit)
	if err != nil {
		t.Fatal(err)
	}

	// A world-readable scratch directory that only root may write: the
	// canary lives there, and so does the marker a planted command would
	// create (postgres cannot create it itself).
	scratch, err := os.MkdirTemp("", "pgsec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(scratch) })
	os.Chmod(scratch, 0o755)
	canary := filepath.Join(scratch, "canary")
	const canaryText = "canary: the charm must never write here\n"
	if err := os.WriteFile(canary, []byte(canaryText), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(canary, 0o666) // so that a write through a link would succeed
	marker := filepath.Join(scratch, "planted-ran")
	planted := filepath.Join(scratch, "planted.json")
	spec := map[string]any{"name": pgconf.ServiceName(unit, "patroni"), "description": "planted",
		"exec": []string{"/bin/sh", "-c", "touch " + marker + "; exec sleep 600"}}
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(planted, data, 0o644); err != nil {
		t.Fatal(err)
	}

	asPostgres := func(script string) (string, error) {
		cmd := exec.Command("runuser", "-u", "postgres", "--", "/bin/sh", "-c", script)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := mach.Run(cmd)
		return strings.TrimSpace(out.String()), err
	}
	patroniSpec := filepath.Join(l.RunDir, pgconf.ServiceName(unit, "patroni")+".json")
	patroniPid := filepath.Join(l.RunDir, pgconf.ServiceName(unit, "patroni")+".pid")
	etcdConfDir := filepath.Dir(l.EtcdConfigPath())
	mustFail := map[string]string{
		"(a) create a spec in the supervisor's directory": fmt.Sprintf("cat %s > %s", planted, filepath.Join(l.RunDir, "planted.json")),
		"(a) replace the Patroni spec":                    fmt.Sprintf("cp %s %s.tmp && mv -f %s.tmp %s", planted, patroniSpec, patroniSpec, patroniSpec),
		"(a) overwrite a pid file":                        fmt.Sprintf("echo 1 > %s", patroniPid),
		"(a) remove a pid file":                           fmt.Sprintf("rm %s", patroniPid),
		"(c) create a file in etcd's config directory":    fmt.Sprintf(": > %s", filepath.Join(etcdConfDir, "planted")),
		"(c) append to etcd's config":                     fmt.Sprintf("echo 'data-dir: /tmp' >> %s", l.EtcdConfigPath()),
		"(c) write into etcd's data directory":            fmt.Sprintf(": > %s", filepath.Join(l.EtcdDataDir, "planted")),
	}
	for what, script := range mustFail {
		if out, err := asPostgres(script); err == nil {
			t.Errorf("postgres could %s (%s)", what, script)
		} else {
			t.Logf("refused as it should: %s: %s", what, out)
		}
	}

	// (b) Symbolic links where the charm writes patroni.yml: at the file,
	// and at every name the old writer's temporary file could have.
	pyml := l.PatroniConfigPath()
	plant := fmt.Sprintf(`python3 - <<'EOF'
import os
target, canary = %q, %q
tmp = target + ".tmp-link"
os.symlink(canary, tmp)
os.rename(tmp, target)
for pid in range(1, 32769):
    try:
        os.symlink(canary, "%%s.new-%%d" %% (target, pid))
    except FileExistsError:
        pass
EOF`, pyml, canary)
	// A pass may still run from the unit's start (the role observer's
	// first role-changed): it replaces a link at patroni.yml, as it must.
	// Plant again until the link stays through an idle model.
	for attempt := 1; ; attempt++ {
		if out, err := asPostgres(plant); err != nil {
			t.Fatalf("postgres could not plant links in its own directory: %v: %s", err, out)
		}
		e.waitIdle()
		fi, err := os.Lstat(pyml)
		if err == nil && fi.Mode()&os.ModeSymlink != 0 {
			break
		}
		if attempt == 5 {
			t.Fatalf("the link was not planted (replaced %d times): %v", attempt, err)
		}
		t.Logf("a pass replaced the planted link at %s (as it must); planting again", pyml)
	}

	// The hooks: config-changed, update-status and upgrade-charm.
	e.setConfig(map[string]string{"extra_pg_conf": "work_mem=8MB"})
	e.waitIdle()
	if err := e.m.RunUpdateStatus(unit); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	e.runHook(unit, "upgrade-charm")
	e.waitStatus(unit, "active", nil)

	if b, err := os.ReadFile(canary); err != nil || string(b) != canaryText {
		t.Errorf("the canary outside the unit's tree changed: %q %v", b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(canary, &st); err != nil || st.Uid != 0 {
		t.Errorf("the canary's owner changed to %d (%v)", st.Uid, err)
	}
	if _, err := os.Lstat(marker); err == nil {
		t.Errorf("a planted command ran as root")
	}
	if fi, err := os.Lstat(pyml); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("patroni.yml is not a regular file again: %v %v", fi, err)
	}
	// The unit still works.
	password := e.password(unit, "operator")
	if err := e.targetOf(unit).withConn(password, func(context.Context, *pgx.Conn) error { return nil }); err != nil {
		t.Errorf("connecting as operator after the hooks: %v", err)
	}
}

// runHook runs a standard hook by hand through juju-exec, the way an
// operator would (`juju exec -- JUJU_DISPATCH_PATH=hooks/NAME ./dispatch`):
// localjuju has no upgrade-charm of its own.
func (e *env) runHook(unit, hook string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
	defer cancel()
	res, err := e.m.Exec(ctx, controller.ExecArgs{Unit: unit, RelationID: -1,
		Commands: fmt.Sprintf(`JUJU_DISPATCH_PATH=hooks/%s "$JUJU_CHARM_DIR/dispatch"`, hook)})
	if err != nil || res.Code != 0 {
		e.t.Fatalf("hook %s on %s: code %d err %v\n%s\n%s", hook, unit, res.Code, err, res.Stdout, res.Stderr)
	}
}

// TestOperatorSessionsAndPatroniAPI is issue 9 item 7: the charm's own
// sessions with its PostgreSQL go through the unit's socket directory,
// not TCP (where a process that took the port while PostgreSQL was down
// would receive them), and Patroni's unsafe REST endpoints answer only
// the unit itself and the cluster's members: another machine of the
// model gets 403 without even reaching authentication. Patroni 3.0.2
// applies restapi.allowlist to the unsafe endpoints only (its
// check_access decorates the POST, PATCH, PUT and DELETE handlers), so
// GET /cluster, /config and /history answered any machine: the REST API
// is therefore on TLS with verify_client: required, and another machine
// of the model reads nothing without the cluster's client certificate.
func TestOperatorSessionsAndPatroniAPI(t *testing.T) {
	e := newEnv(t)
	const unit = app + "/0"
	if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if err := e.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: "myapp", NumUnits: 1}); err != nil {
		t.Fatalf("deploy client: %v", err)
	}
	if _, err := e.m.Integrate(app+":database", "myapp:database"); err != nil {
		t.Fatalf("integrate: %v", err)
	}
	e.waitStatus(unit, "active", nil)
	e.waitStatus("myapp/0", "active", nil)
	tg := e.targetOf(unit)
	password := e.password(unit, "operator")

	t.Run("the charm's operator sessions are unix-socket sessions", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), convergeTimeout)
		defer cancel()
		c, err := tg.connect(ctx, "operator", password, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		// The charm's sessions are short: watch pg_stat_activity while
		// update-status runs until one has been seen.
		seen := map[string]int{}
		for sum := 0; sum < 3 && ctx.Err() == nil; {
			if err := e.m.RunUpdateStatus(unit); err != nil {
				t.Fatal(err)
			}
			for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
				rows, err := c.Query(ctx, `SELECT coalesce(host(client_addr), 'unix socket') FROM pg_catalog.pg_stat_activity
					WHERE application_name = 'postgresql-charm' AND usename = 'operator' AND pid <> pg_catalog.pg_backend_pid()`)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var a string
					rows.Scan(&a)
					seen[a]++
					sum++
				}
				rows.Close()
			}
		}
		if seen["unix socket"] == 0 || len(seen) != 1 {
			t.Errorf("the charm's sessions came from %v; want only the unix socket", seen)
		}
	})

	t.Run("another machine of the model cannot read Patroni's state", func(t *testing.T) {
		// Before the REST API had TLS, GET /cluster, /config and /history
		// answered 200 from here (the allowlist covers unsafe methods only).
		if err := e.patroniRefusesOutsider("myapp/0", unit); err != nil {
			t.Error(err)
		}
	})

	t.Run("another machine of the model is refused Patroni's unsafe endpoints", func(t *testing.T) {
		// Even with the cluster's own client certificate (as if stolen),
		// another machine gets 403 from the allowlist before
		// authentication: TLS and the allowlist each hold on their own.
		clusterTLS, err := e.clusterTLS(unit)
		if err != nil {
			t.Fatal(err)
		}
		client, err := e.machineHTTP("myapp/0", clusterTLS)
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("https://%s:%d", tg.host, pgconf.DefaultPatroniPort)
		resp, err := client.Post(url+"/restart", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /restart from another machine: %d %s; want 403 (allowlist)", resp.StatusCode, body)
		}
		// The unit itself, with the cluster's certificate, reads the
		// cluster (so the refusals above are not a Patroni that is down)
		// and reaches the unsafe endpoints (the charm's own requests).
		own, err := e.machineHTTP(unit, clusterTLS)
		if err != nil {
			t.Fatal(err)
		}
		resp, err = own.Get(url + "/cluster")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /cluster from the unit with the cluster's certificate: %d; want 200", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, url+"/reload", nil)
		resp, err = own.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /reload from the unit without credentials: %d; want 401 (allowed in, then asked for a password)", resp.StatusCode)
		}
	})
}
