package charm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// withClients adds n served client relations, db and database in turn,
// each with one client unit.
func withClients(h *harness, st jujutest.State, n int) jujutest.State {
	for i := 0; i < n; i++ {
		id, app := 10+i, fmt.Sprintf("c%d", i)
		rel := jujutest.Relation{ID: id, Endpoint: "db", RemoteApp: app,
			RemoteUnitsData: map[string]map[string]string{app + "/0": clientUnit(fmt.Sprintf("10.0.1.%d", i+1))}}
		if i%2 == 1 {
			rel.Endpoint = "database"
			rel.RemoteAppData = map[string]string{"database": app, "requested-secrets": `["username","password","tls","tls-ca","uris"]`}
		}
		st.Relations = append(st.Relations, rel)
		st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, fmt.Sprintf("%s:%d", rel.Endpoint, id), app+"/0"))
	}
	return h.run(st, h.ch.Hook("config-changed"))
}

// readTools are the hook tools a pass may run per client relation when
// nothing changed: it reads the relation (its units, the remote
// application, the databags) and this unit's address on it.
var readTools = []string{"relation-list", "relation-remote-app", "relation-get", "network-get"}

// TestSteadyHooksDoNotGrowWithRelations: with nothing to change, a hook
// on the leader costs a fixed number of tool calls plus reading each
// relation; it writes no relation data, reads no secret, runs no SQL, and
// update-status checks every relation for drift in one call.
func TestSteadyHooksDoNotGrowWithRelations(t *testing.T) {
	count := func(n int, hook string) (map[string]int, *harness) {
		h, st := newHarness(t)
		st = withClients(h, st, n)
		st = h.run(st, h.ch.Hook(hook))
		served, checks := len(h.db.served), h.db.driftChecks
		_, calls := h.runCounted(st, h.ch.Hook(hook))
		if len(h.db.served) != served {
			t.Errorf("%s with %d relations and nothing changed ran SQL for %d of them", hook, n, len(h.db.served)-served)
		}
		if hook == "update-status" && h.db.driftChecks != checks+1 {
			t.Errorf("update-status with %d relations ran %d drift checks, want 1", n, h.db.driftChecks-checks)
		}
		m := map[string]int{}
		for _, c := range calls {
			m[c]++
		}
		return m, h
	}
	for _, hook := range []string{"config-changed", "update-status"} {
		one, _ := count(1, hook)
		six, _ := count(7, hook)
		total := func(m map[string]int) (n int) {
			for _, c := range m {
				n += c
			}
			return n
		}
		t.Logf("%s: %d tool calls with one relation, %d with seven", hook, total(one), total(six))
		// Per relation: relation-list, relation-get of the remote
		// application and of each remote unit, network-get, and on the
		// leader the application databag of a database relation.
		if per := float64(total(six)-total(one)) / 6; per > 5 {
			t.Errorf("%s: %.1f tool calls per relation, want at most 5", hook, per)
		}
		for tool, n := range six {
			grew := n - one[tool]
			switch {
			case grew > 0 && !slices.Contains(readTools, tool):
				t.Errorf("%s: %s grows with the relations (%d with one, %d with seven)", hook, tool, one[tool], n)
			case grew > 6*3:
				t.Errorf("%s: %s %d calls more for six more relations", hook, tool, grew)
			}
		}
		for _, tool := range []string{"relation-set", "secret-get", "secret-info-get", "secret-set", "state-set"} {
			if six[tool] > one[tool] {
				t.Errorf("%s: a steady hook ran %s %d times", hook, tool, six[tool])
			}
		}
	}
}

// TestPublishedDataComesBackWhenItMayHaveChanged: a steady hook skips
// publishing what a relation was last published with, but a new leader
// term (another leader may have rewritten the application databag) and an
// upgrade (the charm may render differently) publish again.
func TestPublishedDataComesBackWhenItMayHaveChanged(t *testing.T) {
	h, st := newHarness(t)
	st.Relations = append(st.Relations, jujutest.Relation{ID: 7, Endpoint: "database", RemoteApp: "myapp",
		RemoteAppData:   map[string]string{"database": "app"},
		RemoteUnitsData: map[string]map[string]string{"myapp/0": clientUnit("10.0.0.31")}})
	st = h.run(st, h.relationEvent(st, juju.KindRelationChanged, "database:7", ""))
	i := relationIndex(st, "database:7")
	if got := st.Relations[i].LocalAppData["endpoints"]; got != "10.0.0.10:5432" {
		t.Fatalf("endpoints %q after the first hook", got)
	}
	for _, hook := range []string{"config-changed", "leader-elected", "upgrade-charm"} {
		// What another leader's term, or an older charm, left behind.
		st.Relations[i].LocalAppData["endpoints"] = "10.0.0.99:5432"
		st = h.run(st, h.ch.Hook(hook))
		got := st.Relations[i].LocalAppData["endpoints"]
		republished := got == "10.0.0.10:5432"
		if want := hook != "config-changed"; republished != want {
			t.Errorf("%s: endpoints %q (republished %v, want %v)", hook, got, republished, want)
		}
		st.Relations[i].LocalAppData["endpoints"] = "10.0.0.10:5432"
	}
}

// TestUpgradeServesEveryRelationAgain: a new charm may do more in
// PostgreSQL for the same request, so upgrade-charm runs every relation's
// SQL, which other steady hooks skip.
func TestUpgradeServesEveryRelationAgain(t *testing.T) {
	h, st := newHarness(t)
	st = withClients(h, st, 3)
	for _, hook := range []string{"config-changed", "upgrade-charm"} {
		before := len(h.db.served)
		st = h.run(st, h.ch.Hook(hook))
		served := len(h.db.served) - before
		if want := map[string]int{"config-changed": 0, "upgrade-charm": 3}[hook]; served != want {
			t.Errorf("%s served %d relations, want %d", hook, served, want)
		}
	}
}
