package charm

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/deepcopy"
	"github.com/pgjuju/pgjuju/internal/pgconf/pgconftest"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// baseSnapshot is a leader with everything in place and nothing applied.
func baseSnapshot(t *testing.T) Snapshot {
	return Snapshot{
		Unit: "postgresql/0", App: "postgresql", Leader: true,
		Address:   netip.MustParseAddr("10.201.0.10"),
		Passwords: &pgconf.Passwords{Operator: "o", Replication: "r", Rewind: "w", PatroniAPI: "p", Etcd: "e"},
		Facts: instance.Facts{Storage: "/srv/pgdata", PGVersion: "15", Catalogue: pgconftest.Catalogue15(t), MemBytes: 4 << 30,
			Options: pgconf.DefaultOptions(), Locales: []string{"C", "C.utf8", "POSIX", "en_US.utf8"}},
		CharmBinary: "/charm/dispatch", VaultReady: true, SecretsAvailable: true, CA: testCA(t),
		Sync: cluster.DefaultSyncOptions(),
	}
}

// applied returns what a pass over s would save as applied.
func applied(t *testing.T, s Snapshot) map[string]string {
	for _, st := range Decide(s).Steps {
		if st.Kind == plan.SaveApplied {
			return st.Applied
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
		kinds  []plan.Kind
		status juju.Status
		again  bool
		reason string // substring of some step's reason
	}{
		{"Juju without secrets: the leader waits for the peer relation to store the passwords in",
			func(s Snapshot) Snapshot { s.Passwords, s.VaultReady, s.SecretsAvailable = nil, false, false; return s },
			nil, juju.Waiting("waiting for the peer relation to store the system users"), false, ""},
		{"packages missing: install them first and decide again",
			func(s Snapshot) Snapshot { s.MissingPackages = []string{"patroni", "etcd-server"}; return s },
			[]plan.Kind{plan.InstallPackages}, juju.Status{}, true, "not installed: patroni, etcd-server"},
		{"leader without the secret creates it and decides again",
			func(s Snapshot) Snapshot { s.Passwords = nil; return s },
			[]plan.Kind{plan.CreateSecret}, juju.Status{}, true, ""},
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
		{"synchronous_node_count 0 blocks naming the option, and applies nothing",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Sync.NodeCount = "0"; return s },
			nil, juju.Blocked("invalid synchronous_node_count: 0: at least 1 sync standby is needed (synchronous replication is off only on a single unit)"), false, ""},
		{"synchronous_node_count not a number blocks",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Sync.NodeCount = "lots"; return s },
			nil, juju.Blocked(`invalid synchronous_node_count: "lots" is not a number; use a positive number, "all" or "majority"`), false, ""},
		{"first bootstrap of the leader",
			func(s Snapshot) Snapshot { return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, ""},
		{"stopped by stop-database: Patroni is not started, and a setting needing a restart waits for start-database",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.DatabaseStopped, s.Options.MaxConnections = true, 300
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.OpenPort}, juju.Status{}, false, ""},
		{"nothing changed: no reload, restart or save",
			bootstrapped,
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.OpenPort}, juju.Status{}, false, ""},
		{"steady: port open and etcd auth enabled before, only the idempotent ensures run",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.OpenedPort, s.EtcdAuthEnabled = 5432, true; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni}, juju.Status{}, false, ""},
		{"listen_port changed: PostgreSQL restarts on it, the new port is opened (and the old closed)",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.OpenedPort, s.EtcdAuthEnabled, s.Options.ListenPort = 5432, true, 5433
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni, plan.Reload, plan.Restart, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, "needs a rolling restart: port"},
		{"admin_addresses changed: reload only, announced by the option's name",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.OpenedPort, s.EtcdAuthEnabled, s.Options.AdminAddresses = 5432, true, "10.1.2.0/24"
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni, plan.Reload, plan.SaveApplied}, juju.Status{}, false, "changed: admin_addresses"},
		{"extra_pg_auth changed: reload only",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.OpenedPort, s.EtcdAuthEnabled, s.Options.ExtraPgAuth = 5432, true, "host all all 10.9.0.0/16 scram-sha-256"
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni, plan.Reload, plan.SaveApplied}, juju.Status{}, false, "changed: extra_pg_auth"},
		{"applied parameters recorded without the port (an older charm): no restart on upgrade",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				delete(s.Applied, "port")
				delete(s.Applied, "hba:admin_addresses")
				delete(s.Applied, "hba:extra_pg_auth")
				s.OpenedPort, s.EtcdAuthEnabled = 5432, true
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni, plan.SaveApplied}, juju.Status{}, false, ""},
		{"a reloadable setting changed: reload only",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.ExtraPgConf = "work_mem = 64MB"; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.Reload, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, "changed: work_mem"},
		{"shared_buffers changed: reload and restart",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.SharedBuffers = "256MB"; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.Reload, plan.Restart, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, "needs a rolling restart: shared_buffers"},
		{"max_connections changed: patch the DCS, reload, restart",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.MaxConnections = 300; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.PatchDCS, plan.Reload, plan.Restart, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, "changed cluster-wide: max_connections"},
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
		{"the server refused an extra_pg_conf value: blocked with its words, nothing applied",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.Options.ExtraPgConf = "huge_pages = maybe"
				s.ParameterProblem = `invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`
				return s
			},
			nil, juju.Blocked(`invalid extra_pg_conf: invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`), false, ""},
		{"a refused value and another bad option: both counted",
			func(s Snapshot) Snapshot {
				s.Options.AdminAddresses = "nope"
				s.ParameterProblem = `-5000 ms is outside the valid range for parameter "statement_timeout" (0 .. 2147483647)`
				return s
			},
			nil, juju.Blocked(`invalid admin_addresses: "nope" is not a CIDR (and 1 more)`), false, ""},
		{"listen_port on Patroni's REST API port: blocked",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.ListenPort = 8008; return s },
			nil, juju.Blocked("invalid listen_port: 8008 is used by Patroni's REST API"), false, ""},
		{"listen_port on etcd's client port: blocked",
			func(s Snapshot) Snapshot { s.Options.ListenPort = 2379; return s },
			nil, juju.Blocked("invalid listen_port: 2379 is used by etcd's client endpoint"), false, ""},
		{"an explicit 0 listen_port is refused, not taken as the default",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.ListenPort = 0; return s },
			nil, juju.Blocked("invalid listen_port: 0 is outside 1024–65535"), false, ""},
		{"an explicit 0 max_connections is refused, not taken as the default",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Options.MaxConnections = 0; return s },
			nil, juju.Blocked("invalid max_connections: 0 is outside 10–262143"), false, ""},
		{"before bootstrap, a locale the machine lacks: blocked, naming it",
			func(s Snapshot) Snapshot { s.Options.Locale = "xx_YY.UTF-8"; return s },
			nil, juju.Blocked("invalid locale: xx_YY.UTF-8 is not available on this machine (see locale -a)"), false, ""},
		{"before bootstrap, a locale the machine has under glibc's name: bootstrap",
			func(s Snapshot) Snapshot { s.Options.Locale = "en_US.UTF-8"; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, ""},
		{"before bootstrap, the machine's locales unknown: initdb decides",
			func(s Snapshot) Snapshot { s.Options.Locale, s.Locales = "xx_YY.UTF-8", nil; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, ""},
		{"a malformed locale name is reported once",
			func(s Snapshot) Snapshot { s.Options.Locale = "en US"; return s },
			nil, juju.Blocked(`invalid locale: "en US" is not a locale name (like C.UTF-8 or en_US.UTF-8)`), false, ""},
		{"a non-leader waiting to join checks the locale too (its PostgreSQL would not start)",
			func(s Snapshot) Snapshot { s.Leader, s.Options.Locale = false, "xx_YY.UTF-8"; return s },
			nil, juju.Blocked("invalid locale: xx_YY.UTF-8 is not available on this machine (see locale -a)"), false, ""},
		{"after bootstrap the locale is not looked up again",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Locales = []string{"C"}; return s },
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.EnsureEtcdAuth, plan.StartPatroni, plan.OpenPort}, juju.Status{}, false, ""},
		{"non-leader before the leader bootstrapped waits",
			func(s Snapshot) Snapshot { s.Leader = false; return s },
			nil, juju.Waiting("waiting for the leader to bootstrap the cluster"), false, ""},
		{"non-leader of a running cluster not yet an etcd member waits for the leader to add it",
			func(s Snapshot) Snapshot {
				s.Leader, s.PeerRelation = false, true
				s.EtcdMembers = map[string]cluster.Member{"postgresql/1": {Address: netip.MustParseAddr("10.201.0.11"), Voter: true}}
				return s
			},
			nil, juju.Waiting("waiting for the leader to add this unit to the etcd cluster"), false, ""},
		{"non-leader added as a learner joins: etcd as an existing member, then Patroni makes it a replica",
			func(s Snapshot) Snapshot {
				s.Leader, s.PeerRelation = false, true
				s.EtcdMembers = map[string]cluster.Member{"postgresql/1": {Address: netip.MustParseAddr("10.201.0.11"), Voter: true},
					"postgresql/0": {Address: s.Address}}
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.PublishEtcdStarted, plan.StartPatroni, plan.OpenPort, plan.SaveApplied}, juju.Status{}, false, "etcd is Patroni's"},
		{"leader with a new peer adds it to etcd as a learner and records it",
			func(s Snapshot) Snapshot {
				s = bootstrapped(s)
				s.OpenedPort, s.EtcdAuthEnabled, s.PeerRelation, s.EtcdStartedPublished = 5432, true, true, true
				s.EtcdMembers = map[string]cluster.Member{"postgresql/0": {Address: s.Address, Voter: true}}
				s.Peers = []pgconf.Member{{Unit: "postgresql/1", Address: netip.MustParseAddr("10.201.0.11")}}
				return s
			},
			[]plan.Kind{plan.WriteFiles, plan.StartEtcd, plan.StartPatroni, plan.EtcdMembership}, juju.Status{}, false, "add postgresql/1"},
		{"a unit being removed only leaves the cluster, whatever its config",
			func(s Snapshot) Snapshot { s = bootstrapped(s); s.Departing, s.Options.ListenPort = true, 80; return s },
			[]plan.Kind{plan.LeaveCluster}, juju.Maintenance("leaving the cluster"), false, "being removed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.snap(baseSnapshot(t))
			orig := deepcopy.Of(in)
			pl := Decide(in)
			if !reflect.DeepEqual(orig, in) {
				t.Error("Decide changed its input")
			}
			if diff := cmp.Diff(tc.kinds, stepKinds(pl)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if pl.Status != tc.status || pl.Again != tc.again {
				t.Errorf("status %v again %v, want %v %v", pl.Status, pl.Again, tc.status, tc.again)
			}
			if tc.reason != "" {
				found := false
				for _, st := range pl.Steps {
					found = found || strings.Contains(st.Reason, tc.reason)
				}
				if !found {
					t.Errorf("no step reason contains %q: %+v", tc.reason, pl.Steps)
				}
			}
			for _, st := range pl.Steps {
				if st.Reason == "" {
					t.Errorf("step %s has no reason", st.Kind)
				}
			}
		})
	}
}

// TestConfigValidationHarness: through the hooks, a value the server
// refuses, or an explicit 0, blocks the unit naming the option; nothing
// is applied (no Patroni request, the applied parameters unchanged); a
// steady hook runs no parameter check.
func TestConfigValidationHarness(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		refuse map[string]string
		want   juju.Status
	}{
		{"the server refuses a value", map[string]any{"extra_pg_conf": "work_mem = 8MB\nhuge_pages = maybe"},
			map[string]string{"huge_pages": `invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`},
			juju.Blocked(`invalid extra_pg_conf: invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`)},
		{"an explicit 0 listen_port", map[string]any{"listen_port": 0}, nil,
			juju.Blocked("invalid listen_port: 0 is outside 1024–65535")},
		{"an explicit 0 max_connections", map[string]any{"max_connections": 0}, nil,
			juju.Blocked("invalid max_connections: 0 is outside 10–262143")},
		{"listen_port on etcd's peer port", map[string]any{"listen_port": 2380}, nil,
			juju.Blocked("invalid listen_port: 2380 is used by etcd's peer endpoint")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHarness(t)
			st = h.run(st, h.ch.Hook("update-status"))
			checks := h.wl.paramChecks()
			st = h.run(st, h.ch.Hook("update-status"))
			if n := h.wl.paramChecks() - checks; n != 0 {
				t.Errorf("a steady hook ran %d parameter checks", n)
			}
			h.wl.refuse = tc.refuse
			if st.Config == nil {
				st.Config = map[string]any{}
			}
			for k, v := range tc.config {
				st.Config[k] = v
			}
			before := len(h.wl.patroniRequests())
			out := h.run(st, h.ch.Hook("config-changed"))
			if out.UnitStatus != tc.want {
				t.Errorf("status %v, want %v", out.UnitStatus, tc.want)
			}
			if got := h.wl.patroniRequests()[before:]; len(got) > 0 {
				t.Errorf("Patroni requests after a refused value: %v", got)
			}
			if diff := cmp.Diff(st.StoredState[string(instance.AppliedKey)], out.StoredState[string(instance.AppliedKey)]); diff != "" {
				t.Errorf("applied parameters changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestDecideStatus(t *testing.T) {
	ready := Plan{Config: pgconf.UnitConfig{Unit: "postgresql/0", CA: testCA(t)}}
	withSync := func(o cluster.SyncOptions, units int) Plan {
		p := ready
		p.Sync = cluster.DecideSync(o, units)
		return p
	}
	syncOn := withSync(cluster.DefaultSyncOptions(), 3)
	strict := withSync(cluster.SyncOptions{NodeCount: "1", Strict: true}, 2)
	capped := withSync(cluster.SyncOptions{NodeCount: "5"}, 3)
	primaryWith := func(syncStates ...string) *patroni.NodeStatus {
		n := &patroni.NodeStatus{State: "running", Role: "master"}
		for i, s := range syncStates {
			n.Replication = append(n.Replication, patroni.WALSender{ApplicationName: fmt.Sprintf("postgresql-%d", i+1), State: "streaming", SyncState: s})
		}
		return n
	}
	for _, tc := range []struct {
		name string
		pl   Plan
		node *patroni.NodeStatus
		want juju.Status
	}{
		{"blocked pl wins", Plan{Status: juju.Blocked("invalid x: y")}, &patroni.NodeStatus{State: "running", Role: "master"}, juju.Blocked("invalid x: y")},
		{"Patroni silent", ready, nil, juju.Waiting("waiting for Patroni to start")},
		{"starting", ready, &patroni.NodeStatus{State: "starting", Role: "replica"}, juju.Waiting("PostgreSQL is starting")},
		{"primary (3.0 says master)", ready, &patroni.NodeStatus{State: "running", Role: "master"}, juju.Active("Primary")},
		{"primary pending restart", ready, &patroni.NodeStatus{State: "running", Role: "primary", PendingRestart: true}, juju.Active("Primary (pending restart)")},
		{"replica", ready, &patroni.NodeStatus{State: "running", Role: "replica"}, juju.Active("Replica (async)")},
		{"sync standby", syncOn, &patroni.NodeStatus{State: "running", Role: "replica", SyncStandby: true}, juju.Active("Replica (sync)")},
		{"primary with its sync standby", syncOn, primaryWith("sync", "async"), juju.Active("Primary")},
		{"primary with no sync standby left, not strict: degraded", syncOn, primaryWith("async"),
			juju.Active("Primary (durability degraded: no sync standby)")},
		{"primary alone, strict: writes wait", strict, primaryWith(), juju.Active("Primary (no sync standby: writes wait for one)")},
		{"a single unit has no synchronous mode: plain Primary", ready, primaryWith(), juju.Active("Primary")},
		{"count capped at the replicas", capped, primaryWith("sync", "sync"),
			juju.Active("Primary (synchronous_node_count 5 capped at 2 replicas)")},
		{"maintenance mode on a replica", ready, &patroni.NodeStatus{State: "running", Role: "replica", Paused: true},
			juju.Active("Replica (async); maintenance mode: no automatic failover")},
		{"maintenance mode with PostgreSQL down", ready, &patroni.NodeStatus{State: "stopped", Role: "replica", Paused: true},
			juju.Waiting("PostgreSQL is stopped; maintenance mode: no automatic failover")},
		{"stopped by stop-database", Plan{Config: ready.Config, DatabaseStopped: true}, nil,
			juju.Maintenance("database stopped by stop-database (run start-database to start it)")},
		{"etcd without TLS (deployed before it): the status says so", Plan{Config: pgconf.UnitConfig{Unit: "postgresql/0"}},
			&patroni.NodeStatus{State: "running", Role: "replica"}, juju.Active("Replica (async)" + LegacyEtcdNote)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideStatus(tc.pl, tc.node); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// stepKinds lists a plan's step kinds.
func stepKinds(p Plan) []plan.Kind {
	var k []plan.Kind
	for _, s := range p.Steps {
		k = append(k, s.Kind)
	}
	return k
}
