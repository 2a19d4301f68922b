package charm

import (
	"maps"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func testCatalogue(t *testing.T) pgconf.Catalogue {
	t.Helper()
	f, err := os.Open("../pgconf/testdata/describe-config-15.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := pgconf.ParseCatalogue(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// baseSnapshot is a leader with everything in place and nothing applied.
func baseSnapshot(t *testing.T) Snapshot {
	return Snapshot{
		Unit: "postgresql/0", App: "postgresql", Leader: true,
		Address: netip.MustParseAddr("10.201.0.10"), Storage: "/srv/pgdata",
		Passwords: &pgconf.Passwords{Operator: "o", Replication: "r", Rewind: "w", PatroniAPI: "p", Etcd: "e"},
		PGVersion: "15", Catalogue: testCatalogue(t), MemBytes: 4 << 30,
		CharmBinary: "/charm/dispatch",
	}
}

// applied returns what a pass over s would save as applied.
func applied(t *testing.T, s Snapshot) map[string]string {
	for _, st := range Decide(s).Steps {
		if st.Kind == StepSaveApplied {
			return st.Params
		}
	}
	t.Fatal("no save-applied step")
	return nil
}

func TestDecide(t *testing.T) {
	bootstrapped := func(s Snapshot) Snapshot { s.Applied = applied(t, s); return s }
	cases := []struct {
		name   string
		snap   func(Snapshot) Snapshot
		kinds  []StepKind
		status juju.Status
		again  bool
		reason string // substring of some step's reason
	}{
		{"packages missing: install them first and decide again",
			func(s Snapshot) Snapshot { s.MissingPackages = []string{"patroni", "etcd-server"}; return s },
			[]StepKind{StepInstallPackages}, juju.Status{}, true, "not installed: patroni, etcd-server"},
		{"leader without the secret creates it and decides again",
			func(s Snapshot) Snapshot { s.Passwords = nil; return s },
			[]StepKind{StepCreateSecret}, juju.Status{}, true, ""},
		{"non-leader without the secret waits",
			func(s Snapshot) Snapshot { s.Passwords, s.Leader = nil, false; return s },
			nil, juju.Waiting("waiting for the leader to create the system users"), false, ""},
		{"no storage yet: wait",
			func(s Snapshot) Snapshot { s.Storage = ""; return s },
			nil, juju.Waiting("waiting for pgdata storage"), false, ""},
		{"a bad option blocks and applies nothing",
			func(s Snapshot) Snapshot { s.Options.ExtraPgAuth = "host all all 0.0.0.0/0 trust"; return s },
			nil, juju.Blocked("invalid extra_pg_auth: line 1: trust is refused: use scram-sha-256"), false, ""},
		{"several bad options: the first is named, the rest counted",
			func(s Snapshot) Snapshot { s.Options.ListenPort, s.Options.AdminAddresses = 80, "nope"; return s },
			nil, juju.Blocked("invalid listen_port: 80 is outside 1024–65535 (and 1 more)"), false, ""},
		{"first bootstrap of the leader",
			func(s Snapshot) Snapshot { return s },
			[]StepKind{StepWriteFiles, StepStartEtcd, StepEnsureEtcdAuth, StepStartPatroni, StepOpenPort, StepSaveApplied}, juju.Status{}, false, ""},
		{"nothing changed: no reload, restart or save",
			bootstrapped,
			[]StepKind{StepWriteFiles, StepStartEtcd, StepEnsureEtcdAuth, StepStartPatroni, StepOpenPort}, juju.Status{}, false, ""},
		{"steady: port open and etcd auth enabled before, only the idempotent ensures run",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.OpenedPort, s.EtcdAuthEnabled = 5432, true; return s },
			[]StepKind{StepWriteFiles, StepStartEtcd, StepStartPatroni}, juju.Status{}, false, ""},
		{"listen_port changed: PostgreSQL restarts on it, the new port is opened (and the old closed)",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.OpenedPort, s.EtcdAuthEnabled, s.Options.ListenPort = 5432, true, 5433
				return s
			},
			[]StepKind{StepWriteFiles, StepStartEtcd, StepStartPatroni, StepReload, StepRestart, StepOpenPort, StepSaveApplied}, juju.Status{}, false, "needs a restart: port"},
		{"applied parameters recorded without the port (an older charm): no restart on upgrade",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				delete(s.Applied, "port")
				s.OpenedPort, s.EtcdAuthEnabled = 5432, true
				return s
			},
			[]StepKind{StepWriteFiles, StepStartEtcd, StepStartPatroni, StepSaveApplied}, juju.Status{}, false, ""},
		{"a reloadable setting changed: reload only",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.ExtraPgConf = "work_mem = 64MB"; return s },
			[]StepKind{StepWriteFiles, StepStartEtcd, StepEnsureEtcdAuth, StepStartPatroni, StepReload, StepOpenPort, StepSaveApplied}, juju.Status{}, false, "changed: work_mem"},
		{"shared_buffers changed: reload and restart",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.SharedBuffers = "256MB"; return s },
			[]StepKind{StepWriteFiles, StepStartEtcd, StepEnsureEtcdAuth, StepStartPatroni, StepReload, StepRestart, StepOpenPort, StepSaveApplied}, juju.Status{}, false, "needs a restart: shared_buffers"},
		{"max_connections changed: patch the DCS, reload, restart",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.MaxConnections = 300; return s },
			[]StepKind{StepWriteFiles, StepStartEtcd, StepEnsureEtcdAuth, StepStartPatroni, StepPatchDCS, StepReload, StepRestart, StepOpenPort, StepSaveApplied}, juju.Status{}, false, "changed cluster-wide: max_connections"},
		{"locale changed after bootstrap: blocked until reverted",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.Locale = "en_US.UTF-8"; return s },
			nil, juju.Blocked("invalid locale: the cluster was initialised with C.UTF-8; set it back"), false, ""},
		{"locale and encoding changed after bootstrap: the first is named",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.Options.Locale, s.Options.Encoding = "C", "LATIN1"
				return s
			},
			nil, juju.Blocked("invalid locale: the cluster was initialised with C.UTF-8; set it back"), false, ""},
		{"non-leader never bootstrapped waits to join",
			func(s Snapshot) Snapshot { s.Leader = false; return s },
			nil, juju.Waiting("waiting to join the cluster as a replica"), false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.snap(baseSnapshot(t))
			orig := in
			orig.Applied = maps.Clone(in.Applied)
			plan := Decide(in)
			if !reflect.DeepEqual(orig.Applied, in.Applied) {
				t.Error("Decide changed its input")
			}
			if diff := cmp.Diff(tc.kinds, plan.Kinds()); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if plan.Status != tc.status || plan.Again != tc.again {
				t.Errorf("status %v again %v, want %v %v", plan.Status, plan.Again, tc.status, tc.again)
			}
			if tc.reason != "" {
				found := false
				for _, st := range plan.Steps {
					found = found || strings.Contains(st.Reason, tc.reason)
				}
				if !found {
					t.Errorf("no step reason contains %q: %+v", tc.reason, plan.Steps)
				}
			}
			for _, st := range plan.Steps {
				if st.Reason == "" {
					t.Errorf("step %s has no reason", st.Kind)
				}
			}
		})
	}
}

func TestDecideStatus(t *testing.T) {
	ready := Plan{Config: pgconf.UnitConfig{Unit: "postgresql/0"}}
	for _, tc := range []struct {
		name string
		plan Plan
		node *patroni.NodeStatus
		want juju.Status
	}{
		{"blocked plan wins", Plan{Status: juju.Blocked("invalid x: y")}, &patroni.NodeStatus{State: "running", Role: "master"}, juju.Blocked("invalid x: y")},
		{"Patroni silent", ready, nil, juju.Waiting("waiting for Patroni to start")},
		{"starting", ready, &patroni.NodeStatus{State: "starting", Role: "replica"}, juju.Waiting("PostgreSQL is starting")},
		{"primary (3.0 says master)", ready, &patroni.NodeStatus{State: "running", Role: "master"}, juju.Active("Primary")},
		{"primary pending restart", ready, &patroni.NodeStatus{State: "running", Role: "primary", PendingRestart: true}, juju.Active("Primary (pending restart)")},
		{"replica", ready, &patroni.NodeStatus{State: "running", Role: "replica"}, juju.Active("Replica")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideStatus(tc.plan, tc.node); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnitOfMember(t *testing.T) {
	if got := unitOfMember("postgresql", "postgresql-12"); got != "postgresql/12" {
		t.Error(got)
	}
	if got := unitOfMember("my-pg", "my-pg-0"); got != "my-pg/0" {
		t.Error(got)
	}
}
