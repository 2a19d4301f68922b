package charm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/pgconf/pgconftest"
	"github.com/pgjuju/pgjuju/internal/pki"

	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// fakeWorkload is a FAKE Workload for harness tests: nothing is installed
// or started. Patroni is an httptest server reporting one running primary;
// it models what password rotation depends on: patroni.yml as written,
// the passwords Patroni runs with (loaded on reload, SIGHUP or restart),
// its REST API refusing any other API password, etcd's root password and
// Patroni's etcd token (valid until the root password changes, renewed
// only with the password etcd has), and the system roles' passwords.
type fakeWorkload struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// calls records the lifecycle effects asked for, in order.
	calls []string
	// pending is Patroni's pending_restart until a POST /restart;
	// requests lists the unsafe requests Patroni accepted.
	pending  bool
	requests []string
	// restarts counts POST /restart: /patroni's postmaster start time
	// changes with it.
	restarts int
	written  *pgconf.Passwords // patroni.yml
	loaded   *pgconf.Passwords // what Patroni runs with
	etcdRoot string            // "" until EnsureEtcdAuth
	// etcdFound, when set, is what EnsureEtcdAuth finds untrusted.
	etcdFound string
	// patroniStarts counts StartPatroni.
	patroniStarts int
	token         bool              // Patroni's etcd token is valid
	roles         map[string]string // system role → password
	// etcdSetErr is what SetEtcdRootPassword fails with, when set.
	etcdSetErr error
	// state is PostgreSQL's state as Patroni reports it ("" is running).
	state string
	// refuse are the parameter values CheckParameters refuses, by name,
	// with the server's message; checks counts its calls.
	refuse map[string]string
	checks int
	// locales is what Locales lists.
	locales []string
}

func (f *fakeWorkload) setState(st string) { f.mu.Lock(); f.state = st; f.mu.Unlock() }

// pgState is called with mu held.
func (f *fakeWorkload) pgState() patroni.State {
	if f.state == "" {
		return patroni.StateRunning
	}
	return patroni.State(f.state)
}

func newFakeWorkload(t *testing.T, unit, addr string) *fakeWorkload {
	f := &fakeWorkload{t: t, token: true, roles: map[string]string{},
		locales: []string{"C", "C.utf8", "POSIX", "en_US.utf8"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/patroni", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st := patroni.NodeStatus{State: f.pgState(), Role: patroni.RoleMaster, ServerVersion: 150010, PendingRestart: f.pending,
			PostmasterStartTime: fmt.Sprintf("2026-12-07 00:00:%02d+00:00", f.restarts)}
		if f.loaded != nil && f.loaded.Generation != "" {
			st.Tags = map[string]any{pgconf.PasswordsTag: f.loaded.Generation}
		}
		json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("/cluster", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.dcsOK() {
			http.Error(w, "etcd: authentication failed", http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(patroni.Cluster{Members: []patroni.Member{{Name: pgconf.UnitSlug(unit), Role: patroni.RoleLeader, State: f.pgState(), Host: addr, Port: 5432, PendingRestart: f.pending}}})
	})
	unsafe := func(code int, also func()) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if u, p, _ := r.BasicAuth(); f.loaded != nil && (u != pgconf.PatroniAPIUser || p != f.loaded.PatroniAPI) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			f.requests = append(f.requests, r.Method+" "+r.URL.Path)
			if also != nil {
				also()
			}
			w.WriteHeader(code)
		}
	}
	mux.HandleFunc("/reload", unsafe(http.StatusAccepted, func() { f.reload("api reload") }))
	mux.HandleFunc("/restart", unsafe(http.StatusOK, func() { f.pending = false; f.restarts++ }))
	patchConfig := unsafe(http.StatusOK, nil)
	mux.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			patchConfig(w, r)
			return
		}
		// Patroni asks no password for a read.
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		w.Write([]byte("{}"))
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// dcsOK: Patroni reads etcd with its token, or gets a new one with the
// password it runs with. Called with mu held.
func (f *fakeWorkload) dcsOK() bool {
	if !f.token && f.loaded != nil && f.etcdRoot != "" && f.loaded.Etcd == f.etcdRoot {
		f.token = true
	}
	return f.token
}

// reload makes Patroni run with patroni.yml. Called with mu held.
func (f *fakeWorkload) reload(how string) {
	if f.written != nil {
		w := *f.written
		f.loaded = &w
	}
	f.calls = append(f.calls, how)
}

func (f *fakeWorkload) setPending(p bool) { f.mu.Lock(); f.pending = p; f.mu.Unlock() }

func (f *fakeWorkload) patroniRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeWorkload) MissingPackages(context.Context) []string        { return nil }
func (f *fakeWorkload) InstallPackages(context.Context, []string) error { return nil }
func (f *fakeWorkload) PGVersion() string                               { return "15" }
func (f *fakeWorkload) MemBytes() uint64                                { return 4 << 30 }

// CheckParameters accepts every value but those named in refuse.
func (f *fakeWorkload) CheckParameters(_ context.Context, _ string, params map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if msg, ok := f.refuse[name]; ok {
			return &instance.ParameterError{Message: msg}
		}
	}
	return nil
}

func (f *fakeWorkload) paramChecks() int { f.mu.Lock(); defer f.mu.Unlock(); return f.checks }

func (f *fakeWorkload) Locales(context.Context) ([]string, error) {
	return slices.Clone(f.locales), nil
}

// WriteFiles records patroni.yml's passwords; the first write is what
// Patroni starts with, and sets up the roles.
func (f *fakeWorkload) WriteFiles(_ context.Context, cfg pgconf.UnitConfig) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := f.written == nil || *f.written != cfg.Passwords
	w := cfg.Passwords
	f.written = &w
	if f.loaded == nil {
		l := w
		f.loaded = &l
		f.roles = map[string]string{pgconf.OperatorUser: w.Operator, pgconf.ReplicationUser: w.Replication, pgconf.RewindUser: w.Rewind}
	}
	return changed, nil
}
func (f *fakeWorkload) StartEtcd(context.Context, pgconf.UnitConfig) (bool, error) { return false, nil }
func (f *fakeWorkload) EnsureEtcdAuth(_ context.Context, cfg pgconf.UnitConfig) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.etcdFound != "" {
		return false, &etcd.UntrustedError{Found: f.etcdFound}
	}
	if f.etcdRoot == "" {
		f.etcdRoot = cfg.Passwords.Etcd
		return true, nil
	}
	return false, nil
}
func (f *fakeWorkload) StartPatroni(context.Context, pgconf.UnitConfig) (bool, error) {
	f.mu.Lock()
	f.patroniStarts++
	f.mu.Unlock()
	return false, nil
}
func (f *fakeWorkload) StopServices(context.Context, string, string) (bool, error) { return false, nil }
func (f *fakeWorkload) RemoveServices(_ context.Context, _, unit string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "remove-services "+unit)
	return false, nil
}
func (f *fakeWorkload) RemoveUnitDirs(_ context.Context, _, unit, storage string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "remove-dirs "+unit+" keep "+storage)
	return false, nil
}
func (f *fakeWorkload) StopPatroni(_ context.Context, _, unit string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop-patroni "+unit)
	return true, nil
}
func (f *fakeWorkload) RestartPatroniService(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload("restart patroni")
	return nil
}
func (f *fakeWorkload) ReloadPatroniService(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload("sighup patroni")
	return nil
}
func (f *fakeWorkload) SetSystemRolePassword(_ context.Context, primary postgres.Target, user string, _ []postgres.RoleAttr, password string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if primary.Password != f.roles[pgconf.OperatorUser] {
		return errors.New("password authentication failed for user \"operator\"")
	}
	f.roles[user] = password
	f.calls = append(f.calls, "alter role "+user)
	return nil
}
func (f *fakeWorkload) CheckEtcdRoot(_ context.Context, cfg pgconf.UnitConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.Passwords.Etcd != f.etcdRoot {
		return errors.New("etcdserver: authentication failed, invalid user ID or password")
	}
	return nil
}
func (f *fakeWorkload) SetEtcdRootPassword(_ context.Context, cfg pgconf.UnitConfig, password string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.Passwords.Etcd != f.etcdRoot {
		return errors.New("etcdserver: authentication failed, invalid user ID or password")
	}
	if f.etcdSetErr != nil {
		return f.etcdSetErr
	}
	f.etcdRoot, f.token = password, false
	f.calls = append(f.calls, "etcd root password")
	return nil
}
func (f *fakeWorkload) Catalogue(context.Context, string) (pgconf.Catalogue, error) {
	return pgconftest.Catalogue15(f.t), nil
}
func (f *fakeWorkload) Patroni(cfg pgconf.UnitConfig) *patroni.Client {
	return &patroni.Client{BaseURL: f.srv.URL, HTTP: f.srv.Client(), Username: pgconf.PatroniAPIUser, Password: cfg.Passwords.PatroniAPI}
}

func (f *fakeWorkload) ResetEtcd(context.Context, string, pgconf.UnitConfig) error { return nil }

func (f *fakeWorkload) EtcdMembership(_ context.Context, _ pgconf.UnitConfig, ch cluster.Change) (map[string]cluster.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]cluster.Member{}
	for u, m := range ch.Members {
		switch ch.Actions[u] {
		case cluster.Promote:
			m.Voter = true
		case cluster.Remove:
			continue
		}
		out[u] = m
	}
	for _, u := range slices.Sorted(maps.Keys(ch.Actions)) {
		f.calls = append(f.calls, "etcd "+string(ch.Actions[u])+" "+u)
	}
	return out, nil
}

func (f *fakeWorkload) LeaveCluster(context.Context, string, pgconf.UnitConfig) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "leave cluster")
	return true, nil
}

func (f *fakeWorkload) StartObserver(context.Context, pgconf.UnitConfig, string, string) (bool, error) {
	return false, nil
}

// testCA is one cluster CA for the package's tests (generating one per
// test would cost nothing worth it).
var testCAOnce = sync.OnceValues(func() (pki.CA, error) { return pki.NewCA("test CA", time.Now()) })

func testCA(t *testing.T) pki.CA {
	t.Helper()
	ca, err := testCAOnce()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// withTestCA adds testCA to a system-users secret's content, as a
// deployment with etcd TLS has it.
func withTestCA(t *testing.T, content map[string]string) map[string]string {
	ca := testCA(t)
	content[credentials.CACertKey], content[credentials.CAKeyKey] = string(ca.CertPEM), string(ca.KeyPEM)
	return content
}
