package charm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// plainPatroniCommit is the last commit whose charm had the cluster CA
// (etcd on TLS) and Patroni's REST API in plain HTTP.
// PGJUJU_PLAIN_PATRONI_COMMIT overrides it.
const plainPatroniCommit = "bbe1a84"

// TestUpgradeToPatroniTLS deploys two units of the charm of
// plainPatroniCommit, then refreshes them in turn to the current charm.
// Each upgraded unit's Patroni must move its REST API to TLS without a
// restart of PostgreSQL (the charm reloads it by signal, since the
// charm itself then talks TLS), the members must advertise https
// api_urls, plain HTTP must be refused, and a switchover (which has
// Patroni call the candidate's REST API over TLS) must still work.
func TestUpgradeToPatroniTLS(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	commit := plainPatroniCommit
	if c := os.Getenv("PGJUJU_PLAIN_PATRONI_COMMIT"); c != "" {
		commit = c
	}
	old := buildCharmAt(t, commit)
	e := newEnv(t)
	units := []string{app + "/0", app + "/1"}
	if err := e.m.Deploy(controller.DeployArgs{Charm: old, App: app, NumUnits: len(units)}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	for _, u := range units {
		e.waitStatus(u, "active", nil)
	}
	for _, u := range units {
		if code, err := e.patroniGet(u, "http", "/cluster"); err != nil || code != http.StatusOK {
			t.Fatalf("%s: the old charm's Patroni does not answer plain HTTP (%d, %v): not the old charm", u, code, err)
		}
	}
	password := e.password(units[0], "operator")
	primary := e.primaryOf(units, password)
	const row = "written before Patroni's TLS"
	if err := e.targetOf(primary).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "CREATE TABLE upgrade_tls (note text)"); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "INSERT INTO upgrade_tls VALUES ($1)", row)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	startedBefore := map[string]string{}
	for _, u := range units {
		startedBefore[u] = e.postmasterStart(u, password)
	}

	newDispatch := filepath.Join(filepath.Dir(charmFile), "charm", "dispatch")
	for _, u := range units {
		e.replaceDispatch(u, newDispatch)
		start := time.Now()
		e.runHook(u, "upgrade-charm")
		t.Logf("upgrade-charm on %s: %.1fs", u, time.Since(start).Seconds())
		e.waitStatus(u, "active", nil)
		e.waitFor(u+"'s Patroni on TLS", func() error {
			if code, err := e.patroniGet(u, "https", "/patroni"); err != nil || code != http.StatusOK {
				return fmt.Errorf("https with the cluster's certificate: %d %v", code, err)
			}
			if code, err := e.patroniGet(u, "http", "/cluster"); err == nil && code == http.StatusOK {
				return fmt.Errorf("plain HTTP still answers 200")
			}
			return nil
		})
	}
	for _, u := range units {
		// The role observer reads Patroni too: the running one, not only
		// its spec, must have moved to https with the certificate.
		l := pgconf.DefaultLayout(e.m.UUID(), u, "")
		e.waitFor(u+"'s role observer on https", func() error {
			b, err := os.ReadFile(filepath.Join(l.RunDir, pgconf.ServiceName(u, "observer")+".child.pid"))
			if err != nil {
				return err
			}
			cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/cmdline")
			if err != nil {
				return err
			}
			if args := strings.Split(string(cmdline), "\x00"); !slices.Contains(args, "https://"+e.targetOf(u).host+":8008") ||
				!slices.Contains(args, l.CharmEtcdKeyPath()) {
				return fmt.Errorf("the running observer's arguments: %q", args)
			}
			return nil
		})
		if got := e.postmasterStart(u, password); got != startedBefore[u] {
			t.Errorf("%s: PostgreSQL restarted during the upgrade (started %s, now %s)", u, startedBefore[u], got)
		}
	}
	e.waitFor("every member's api_url is https", func() error {
		urls, err := e.apiURLs(units[0])
		if err != nil {
			return err
		}
		for name, u := range urls {
			if !strings.HasPrefix(u, "https://") {
				return fmt.Errorf("%s: api_url %s", name, u)
			}
		}
		if len(urls) != len(units) {
			return fmt.Errorf("api_urls %v", urls)
		}
		return nil
	})

	// A switchover to the replica: Patroni on the primary asks the
	// candidate's REST API (with its member certificate) before it steps
	// down.
	primary = e.primaryOf(units, password)
	replica := units[0]
	if replica == primary {
		replica = units[1]
	}
	e.waitStatus(replica, "active", func() error {
		if m := e.unitStatus(replica).WorkloadStatus.Message; !strings.Contains(m, "sync") {
			return fmt.Errorf("%s is %q, not yet a sync standby", replica, m)
		}
		return nil
	})
	e.mustAction(replica, "promote-to-primary", nil)
	if got := e.primaryOf(units, password); got != replica {
		t.Errorf("after promote-to-primary on %s the primary is %s", replica, got)
	}
	var got string
	if err := e.targetOf(replica).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT note FROM upgrade_tls").Scan(&got)
	}); err != nil || got != row {
		t.Errorf("the row after the upgrade and switchover: %q %v", got, err)
	}
	e.waitStatus(primary, "active", func() error {
		if m := e.unitStatus(primary).WorkloadStatus.Message; !strings.Contains(m, "Replica") {
			return fmt.Errorf("the old primary %s says %q", primary, m)
		}
		return nil
	})
}

// patroniGet is GET path on unit's Patroni from unit's own machine, in
// scheme ("http", or "https" with the unit's charm certificate), and the
// answer's status code.
func (e *env) patroniGet(unit, scheme, path string) (int, error) {
	cfg, err := e.clusterTLS(unit)
	if err != nil && scheme == "https" {
		return 0, err
	}
	c, err := e.machineHTTP(unit, cfg)
	if err != nil {
		return 0, err
	}
	res, err := c.Get(scheme + "://" + net.JoinHostPort(e.targetOf(unit).host, strconv.Itoa(pgconf.DefaultPatroniPort)) + path)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

// apiURLs are the members' api_url in /cluster on unit, by name.
func (e *env) apiURLs(unit string) (map[string]string, error) {
	cfg, err := e.clusterTLS(unit)
	if err != nil {
		return nil, err
	}
	c, err := e.machineHTTP(unit, cfg)
	if err != nil {
		return nil, err
	}
	res, err := c.Get("https://" + net.JoinHostPort(e.targetOf(unit).host, strconv.Itoa(pgconf.DefaultPatroniPort)) + "/cluster")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var cl struct {
		Members []struct {
			Name   string `json:"name"`
			APIURL string `json:"api_url"`
		} `json:"members"`
	}
	if err := json.NewDecoder(res.Body).Decode(&cl); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range cl.Members {
		out[m.Name] = m.APIURL
	}
	return out, nil
}

// postmasterStart is pg_postmaster_start_time() on unit.
func (e *env) postmasterStart(unit, password string) string {
	e.t.Helper()
	var s string
	if err := e.targetOf(unit).withConn(password, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time()::text").Scan(&s)
	}); err != nil {
		e.t.Fatalf("postmaster start time on %s: %v", unit, err)
	}
	return s
}
