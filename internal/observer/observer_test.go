package observer

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

func TestWatcherFiresOnceARoleChangesAndRetriesAFailure(t *testing.T) {
	roles := []string{"replica", "", "replica", "primary", "primary", "replica", "replica"}
	fails := map[int]bool{5: true} // the second change fails once
	var fired []int
	var log strings.Builder
	i := 0
	w := &watcher{clk: clock.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), log: &log, unit: "pg/0",
		read: func() string { return roles[i] },
		fire: func() error {
			fired = append(fired, i)
			if fails[i] {
				return errors.New("juju-exec: machine lock held")
			}
			return nil
		}}
	for i = range roles {
		w.look()
	}
	// Look 3 sees primary (fired); look 5 sees replica (fails), look 6
	// still replica: tried again. An unanswered look (1) changes nothing.
	if want := []int{3, 5, 6}; len(fired) != len(want) || fired[0] != 3 || fired[1] != 5 || fired[2] != 6 {
		t.Errorf("fired at looks %v, want %v", fired, want)
	}
	if !strings.Contains(log.String(), "2026-12-07T00:00:00Z observe: pg/0 role replica -> primary: running role-changed") ||
		!strings.Contains(log.String(), "machine lock held") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestReadRoleCarriesDurabilityAndMaintenance: what the unit's status
// shows besides the role is part of what the observer compares, so a
// change of it fires role-changed too.
func TestReadRoleCarriesDurabilityAndMaintenance(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"role":"replica"}`, "replica"},
		{`{"role":"replica","sync_standby":true}`, "replica+sync"},
		{`{"role":"master","replication":[{"state":"streaming","sync_state":"sync"},{"state":"streaming","sync_state":"async"}]}`, "master+sync=1"},
		{`{"role":"master","replication":[{"state":"streaming","sync_state":"async"}],"pause":true}`, "master+sync=0+paused"},
		{`not json`, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tc.body)) }))
		if got := readRole(srv.Client(), srv.URL); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.body, got, tc.want)
		}
		srv.Close()
	}
}

// TestObservedCarriesThePrimary: a failover elsewhere (the primary gone,
// then another) changes what every observer compares, so every unit runs
// role-changed, the Juju leader included.
func TestObservedCarriesThePrimary(t *testing.T) {
	for _, tc := range []struct{ cluster, want string }{
		{`{"members":[{"name":"pg-0","role":"leader","state":"running"},{"name":"pg-1","role":"sync_standby","state":"streaming"}]}`, "replica+primary=pg-0"},
		{`{"members":[{"name":"pg-0","role":"leader","state":"stopped"},{"name":"pg-1","role":"replica","state":"running"}]}`, "replica+primary=none"},
		{`{"members":[{"name":"pg-1","role":"replica","state":"running"}]}`, "replica+primary=none"},
		{`{"members":[{"name":"pg-2","role":"master","state":"running"}]}`, "replica+primary=pg-2"},
		{`oops`, ""}, // unreadable: no comparison this look
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/cluster" {
				w.Write([]byte(tc.cluster))
				return
			}
			w.Write([]byte(`{"role":"replica"}`))
		}))
		if got := observed(srv.Client(), srv.URL); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.cluster, got, tc.want)
		}
		srv.Close()
	}
	// Patroni not answering: nothing to compare, as before.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
	defer srv.Close()
	if got := observed(srv.Client(), srv.URL); got != "" {
		t.Errorf("Patroni down: got %q", got)
	}
}

// TestSpecPassesTheClusterCertificate: with the cluster CA, the observer
// gets the CA and the charm's client certificate and key (Patroni's REST
// API requires one) and an https URL; without, the plain URL alone.
func TestSpecPassesTheClusterCertificate(t *testing.T) {
	cfg := pgconf.UnitConfig{Unit: "postgresql/0", Address: netip.MustParseAddr("10.201.0.10"),
		Layout: pgconf.DefaultLayout("m", "postgresql/0", "")}
	plain := Spec(cfg, "/charm/dispatch", "/tools/juju-exec").Exec
	if want := []string{"/charm/dispatch", "observe", "/tools/juju-exec", "postgresql/0", "http://10.201.0.10:8008"}; !slices.Equal(plain, want) {
		t.Errorf("without a CA: %q, want %q", plain, want)
	}
	cfg.CA = pki.CA{CertPEM: []byte("a CA certificate")}
	l := cfg.Layout
	withTLS := Spec(cfg, "/charm/dispatch", "/tools/juju-exec").Exec
	want := []string{"/charm/dispatch", "observe", "/tools/juju-exec", "postgresql/0", "https://10.201.0.10:8008",
		l.EtcdCACertPath(), l.CharmEtcdCertPath(), l.CharmEtcdKeyPath()}
	if !slices.Equal(withTLS, want) {
		t.Errorf("with the CA: %q, want %q", withTLS, want)
	}
	if code := Run(withTLS[2:], io.Discard); code != 1 {
		t.Errorf("Run with unreadable certificate files = %d, want 1 (refused at start)", code)
	}
}
