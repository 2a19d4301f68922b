package observer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/safefile"
	"github.com/pgjuju/pgjuju/internal/service"
)

// RoleChangedHook is the custom event juju-exec dispatches.
const RoleChangedHook = "role-changed"

// observeInterval is how often the observer reads its member's role and
// the cluster's primary: the local API answers in milliseconds, and a
// client's endpoints should follow a new primary within 5 s (issue 10:
// this interval is the first hop of that).
const observeInterval = time.Second

// FindJujuExec finds juju-exec (Juju 3) or juju-run (2.9) on the hook's
// PATH (Juju and localjuju set it), as an absolute path: the observer runs
// without that PATH.
func FindJujuExec() string {
	for _, name := range []string{"juju-exec", "juju-run"} {
		if p, err := exec.LookPath(name); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
		}
	}
	return ""
}

// Spec is the unit's role observer service. When Patroni's REST API has
// TLS, the observer (root, like the charm) presents the charm's client
// certificate and trusts the cluster CA alone: it gets their paths, and
// reads the files itself.
func Spec(cfg pgconf.UnitConfig, charmBinary, jujuExec string) service.Spec {
	exec := []string{charmBinary, "observe", jujuExec, cfg.Unit, cfg.PatroniURL()}
	if cfg.PatroniTLS() {
		l := cfg.Layout
		exec = append(exec, l.EtcdCACertPath(), l.CharmEtcdCertPath(), l.CharmEtcdKeyPath())
	}
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "observer"), Description: "Patroni role observer for " + cfg.Unit,
		Exec:    exec,
		LogFile: filepath.Join(cfg.Layout.LogDir, "observer.log"),
	}
}

// Run is "dispatch observe <juju-exec> <unit> <patroni-url> [<ca> <cert>
// <key>]". It runs until killed.
func Run(args []string, log io.Writer) int {
	if (len(args) != 3 && len(args) != 6) || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(log, "usage: dispatch observe <juju-exec> <unit> <patroni-url> [<ca-file> <cert-file> <key-file>]")
		return 2
	}
	jujuExec, unit, api := args[0], args[1], args[2]
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(log, "observe: %v\n", err)
		return 1
	}
	client := &http.Client{Timeout: 5 * time.Second}
	if len(args) == 6 {
		tr, err := clientTransport(args[3], args[4], args[5])
		if err != nil {
			fmt.Fprintf(log, "observe: %v\n", err)
			return 1
		}
		client.Transport = tr
	}
	w := &watcher{clk: clock.Real{}, log: log, unit: unit,
		read: func() string { return observed(client, api) },
		fire: func() error { return fireRoleChanged(jujuExec, unit, exe) }}
	for {
		w.look()
		clock.Sleep(context.Background(), w.clk, observeInterval)
	}
}

// watcher is the observer's loop state, its effects injected.
type watcher struct {
	clk  clock.Clock
	log  io.Writer
	unit string
	// read returns the member's role ("" when Patroni does not answer);
	// fire runs the role-changed event.
	read func() string
	fire func() error
	// last is the role last seen.
	last string
}

// look reads the role once and fires role-changed when it changed since
// the last look; a failed fire is tried again at the next look. The first
// role seen fires nothing: the hook that started the observer published it.
func (w *watcher) look() {
	role := w.read()
	if role != "" && w.last != "" && role != w.last {
		w.logf("%s role %s -> %s: running %s", w.unit, w.last, role, RoleChangedHook)
		if err := w.fire(); err != nil {
			w.logf("%v", err)
			role = w.last
		}
	}
	if role != "" {
		w.last = role
	}
}

func (w *watcher) logf(format string, args ...any) {
	fmt.Fprintf(w.log, "%s observe: %s\n", w.clk.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// readRole returns the member's role ("master", "primary", "replica",
// ...) with what else its unit's status shows: "+sync" for a sync
// standby, "+sync=N" for a primary with N sync standbys streaming, and
// "+paused" in maintenance mode, so that a standby becoming sync or
// async, a primary losing its sync standby (durability degraded) and
// maintenance mode set on another unit reach the unit's status at once
// rather than at the next update-status. "" when Patroni does not
// answer.
func readRole(client *http.Client, api string) string {
	resp, err := client.Get(api + "/patroni")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Role        string `json:"role"`
		SyncStandby bool   `json:"sync_standby"`
		Pause       bool   `json:"pause"`
		Replication []struct {
			State     string `json:"state"`
			SyncState string `json:"sync_state"`
		} `json:"replication"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || st.Role == "" {
		return ""
	}
	role := st.Role
	if st.SyncStandby {
		role += "+sync"
	}
	if len(st.Replication) > 0 {
		n := 0
		for _, r := range st.Replication {
			if r.State == "streaming" && (r.SyncState == "sync" || r.SyncState == "quorum") {
				n++
			}
		}
		role += fmt.Sprintf("+sync=%d", n)
	}
	if st.Pause {
		role += "+paused"
	}
	return role
}

// observed is what the observer compares between looks: this member's
// role (readRole) and which member the cluster's primary is
// (readPrimary); "" when Patroni does not answer. The primary is there so
// that every unit, and the Juju leader above all, hears of a failover at
// once, not only the unit promoted: the leader rewrites the database
// endpoints in its own pass rather than after the new primary's pass
// reaches it through the peer relation, and the replicas publish
// "failover" on db relations while no primary runs.
func observed(client *http.Client, api string) string {
	role := readRole(client, api)
	if role == "" {
		return ""
	}
	primary := readPrimary(client, api)
	if primary == "" {
		return "" // a look that fails changes nothing (no spurious event)
	}
	return role + "+primary=" + primary
}

// readPrimary returns the name of the running member that holds the
// leader key in the cluster view of this member's Patroni, "none" when
// none does, "" when the view cannot be read.
func readPrimary(client *http.Client, api string) string {
	resp, err := client.Get(api + "/cluster")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var cl struct {
		Members []struct {
			Name  string `json:"name"`
			Role  string `json:"role"`
			State string `json:"state"`
		} `json:"members"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&cl) != nil {
		return ""
	}
	for _, m := range cl.Members {
		switch m.Role {
		case "leader", "master", "primary", "standby_leader":
			if m.State == "running" {
				return m.Name
			}
		}
	}
	return "none"
}

// fireRoleChanged runs the charm as the role-changed event through
// juju-exec, which waits for the unit's running hook and the machine lock.
func fireRoleChanged(jujuExec, unit, exe string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jujuExec, "-u", unit, "JUJU_DISPATCH_PATH=hooks/"+RoleChangedHook+" "+exe)
	cmd.Env = withoutContext(os.Environ())
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", jujuExec, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// withoutContext drops JUJU_CONTEXT_ID: juju-exec refuses to run from
// within a hook context (contract §5.2).
func withoutContext(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "JUJU_CONTEXT_ID=") {
			out = append(out, kv)
		}
	}
	return out
}

// clientTransport trusts the CA in caFile alone and presents the
// certificate in certFile with the key in keyFile, read at each
// handshake: the charm re-issues them (near expiry) while the observer
// runs.
func clientTransport(caFile, certFile, keyFile string) (*http.Transport, error) {
	caPEM, err := safefile.ReadTrusted(caFile)
	if err != nil {
		return nil, fmt.Errorf("the cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the cluster CA in %s does not parse", caFile)
	}
	clientCert := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		certPEM, err := safefile.ReadTrusted(certFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := safefile.ReadTrusted(keyFile)
		if err != nil {
			return nil, err
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		return &c, err
	}
	return &http.Transport{
		DialContext:         patroni.DialQuickAck(&net.Dialer{Timeout: 5 * time.Second}),
		TLSClientConfig:     &tls.Config{RootCAs: pool, GetClientCertificate: clientCert, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second, IdleConnTimeout: 30 * time.Second,
	}, nil
}
