package localjuju_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// recorderScripts makes the recorder's relation hooks record what the
// contract says they see.
func recorderScripts(e *env) {
	// §3.4/§3.5: the leader writes its app databag when the relation is
	// created, so the other side gets an app-level -changed.
	for _, ep := range []string{"source", "sink"} {
		e.script("all", ep+"-relation-created", `if [ "$(is-leader)" = True ]; then relation-set --app app-key="from-$JUJU_UNIT_NAME"; fi`)
		e.script("all", ep+"-relation-changed", `if [ -z "$JUJU_REMOTE_UNIT" ]; then relation-get --format=json - > "$dir/appchanged.$tag.json"; fi`)
		e.script("all", ep+"-relation-broken", `relation-ids "$JUJU_RELATION" --format=json > "$dir/broken-ids.$tag.json"
relation-list -r "$JUJU_RELATION_ID" --format=json > "$dir/broken-list.$tag.json"`)
	}
	for _, ep := range []string{"source", "sink", "cluster"} {
		e.script("all", ep+"-relation-departed", `r="${JUJU_REMOTE_UNIT/\//-}"
relation-list --format=json > "$dir/departed-list.$tag.$JUJU_RELATION.$r.json"
relation-get --format=json - "$JUJU_REMOTE_UNIT" > "$dir/departed-get.$tag.$JUJU_RELATION.$r.json"
relation-ids "$JUJU_RELATION" --format=json > "$dir/departed-ids.$tag.$JUJU_RELATION.$r.json"
for x in $(relation-list); do relation-get private-address "$x" >> "$dir/departed-rest.$tag.$JUJU_RELATION.$r"; done`)
	}
	// §3.2/§3.7: the agent's own statuses before install, stop and remove.
	for _, h := range []string{"install", "stop", "remove"} {
		e.script("all", h, `status-get --include-data --format=json > "$dir/status-in-`+h+`.$tag.json"`)
	}
	e.script("all", "cluster-relation-joined", `relation-list --format=json > "$dir/joined-list.$tag.${JUJU_REMOTE_UNIT/\//-}.json"`)
	e.script("all", "data-storage-attached", `storage-get --format=json > "$dir/storage.$tag.json"
storage-get location > "$dir/storage-location.$tag"`)
}

// checkDeployOrder checks §3.2 on one unit's events.
func checkDeployOrder(t *testing.T, e *env, unit string, leader bool) {
	t.Helper()
	evs := e.since(0, unit)
	leaderHook := "leader-settings-changed"
	if leader {
		leaderHook = "leader-elected"
	}
	want := []string{"data-storage-attached", "install", "cluster-relation-created", leaderHook, "config-changed", "start"}
	if len(evs) < len(want) || !reflect.DeepEqual(hooks(evs[:len(want)]), want) {
		t.Fatalf("§3.2 deploy order of %s:\n got %v\nwant %v...", unit, hooks(evs), want)
	}
}

// TestConformance drives two recorder applications through the life of a
// model: deploy, tools, exec, leader-set, integrate, relation data, actions,
// secrets, add-unit, remove-unit and remove-relation.
func TestConformance(t *testing.T) {
	e := newEnv(t, controller.Options{})
	t.Parallel()
	recorderScripts(e)
	e.deploy("alpha", 2, nil)
	e.deploy("beta", 1, nil)
	e.waitIdle()
	leader := e.leader("alpha")
	follower := "alpha/1"
	if leader == "alpha/1" {
		follower = "alpha/0"
	}
	if leader == "" {
		t.Fatalf("§3.8 no leader for alpha")
	}
	addr := map[string]string{}
	for _, u := range []string{"alpha/0", "alpha/1", "beta/0"} {
		addr[u] = e.address(u)
	}

	t.Run("§3.2 deploy order", func(t *testing.T) {
		e := e.with(t)
		checkDeployOrder(t, e, "alpha/0", leader == "alpha/0")
		checkDeployOrder(t, e, "alpha/1", leader == "alpha/1")
		checkDeployOrder(t, e, "beta/0", true)
		if n := count(e.since(0, "beta/0"), func(ev event) bool { return strings.HasPrefix(ev.Hook, "cluster-relation-joined") }); n != 0 {
			t.Errorf("§3.2 a lone unit got %d peer -joined", n)
		}
	})
	t.Run("§3.4 peers: joined immediately followed by changed", func(t *testing.T) {
		e := e.with(t)
		for _, u := range []string{"alpha/0", "alpha/1"} {
			other := map[string]string{"alpha/0": "alpha/1", "alpha/1": "alpha/0"}[u]
			evs := e.since(0, u)
			i := find(evs, func(ev event) bool { return ev.Hook == "cluster-relation-joined" })
			if i < 0 || i+1 >= len(evs) {
				t.Fatalf("%s: no cluster-relation-joined followed by a hook: %v", u, evs)
			}
			if evs[i].Remote != other || evs[i+1].Hook != "cluster-relation-changed" || evs[i+1].Remote != other {
				t.Errorf("%s: %v then %v, want joined %s then changed %s", u, evs[i], evs[i+1], other, other)
			}
			if find(evs, func(ev event) bool { return ev.Hook == "start" }) > i {
				t.Errorf("%s: peer -joined before start", u)
			}
		}
	})
	t.Run("§1.4 hook environment", func(t *testing.T) {
		e := e.with(t)
		evs := e.since(0, "alpha/0")
		for _, ev := range evs[:6] {
			got := e.hookEnv(ev)
			var extra [][]string
			switch {
			case strings.HasSuffix(ev.Hook, "-storage-attached"):
				extra = append(extra, storageVars)
			case strings.Contains(ev.Hook, "-relation-"):
				extra = append(extra, relationVars)
			}
			checkEnvKeys(t, ev.Hook, got, true, extra...)
			checkCommonValues(t, e, ev.Hook, "alpha/0", ev.Hook, got)
			if got["JUJU_HOOK_NAME"] != ev.Hook || got["JUJU_DISPATCH_PATH"] != "hooks/"+ev.Hook {
				t.Errorf("§1.4 %s: JUJU_HOOK_NAME=%q JUJU_DISPATCH_PATH=%q", ev.Hook, got["JUJU_HOOK_NAME"], got["JUJU_DISPATCH_PATH"])
			}
			switch ev.Hook {
			case "data-storage-attached":
				if got["JUJU_STORAGE_ID"] != "data/0" || got["JUJU_STORAGE_KIND"] != "filesystem" || got["JUJU_STORAGE_LOCATION"] == "" {
					t.Errorf("§1.4 storage vars: %q %q %q", got["JUJU_STORAGE_ID"], got["JUJU_STORAGE_KIND"], got["JUJU_STORAGE_LOCATION"])
				}
			case "cluster-relation-created":
				if got["JUJU_RELATION"] != "cluster" || !regexp.MustCompile(`^cluster:\d+$`).MatchString(got["JUJU_RELATION_ID"]) ||
					got["JUJU_REMOTE_UNIT"] != "" || got["JUJU_REMOTE_APP"] != "alpha" {
					t.Errorf("§1.4 peer -created: RELATION=%q RELATION_ID=%q REMOTE_UNIT=%q REMOTE_APP=%q",
						got["JUJU_RELATION"], got["JUJU_RELATION_ID"], got["JUJU_REMOTE_UNIT"], got["JUJU_REMOTE_APP"])
				}
			}
		}
		i := find(e.since(0, "alpha/0"), func(ev event) bool { return ev.Hook == "cluster-relation-joined" })
		if i >= 0 {
			ev := e.since(0, "alpha/0")[i]
			got := e.hookEnv(ev)
			checkEnvKeys(t, ev.Hook, got, true, relationVars)
			if got["JUJU_REMOTE_UNIT"] != "alpha/1" || got["JUJU_REMOTE_APP"] != "alpha" {
				t.Errorf("§1.4 peer -joined: REMOTE_UNIT=%q REMOTE_APP=%q", got["JUJU_REMOTE_UNIT"], got["JUJU_REMOTE_APP"])
			}
		}
	})
	t.Run("§3.2 install starts in maintenance", func(t *testing.T) {
		e := e.with(t)
		want := `{"message":"installing charm software","status":"maintenance","status-data":{}}` + "\n"
		if got := e.readFile("status-in-install." + tag("alpha/0") + ".json"); got != want {
			t.Errorf("status-get in install: %q, want %q", got, want)
		}
		if got := e.m.Status().Applications["beta"].Units["beta/0"].WorkloadStatus.Current; got != "unknown" {
			t.Errorf("§3.2 workload status after start without status-set: %q, want unknown", got)
		}
	})
	t.Run("§2.3 relation-list in -joined lists the joining unit", func(t *testing.T) {
		e := e.with(t)
		if got := e.readFile("joined-list." + tag("alpha/0") + ".alpha-1.json"); got != `["alpha/1"]`+"\n" {
			t.Errorf("relation-list in cluster-relation-joined alpha/1: %q", got)
		}
	})
	t.Run("§2.3 storage-get in storage-attached", func(t *testing.T) {
		e := e.with(t)
		loc := strings.TrimSpace(e.readFile("storage-location." + tag("alpha/0")))
		var got map[string]string
		if err := json.Unmarshal([]byte(e.readFile("storage."+tag("alpha/0")+".json")), &got); err != nil {
			t.Fatal(err)
		}
		if got["kind"] != "filesystem" || got["location"] != loc || loc == "" {
			t.Errorf("storage-get: %v, location %q", got, loc)
		}
		if fi, err := os.Stat(loc); err != nil || !fi.IsDir() {
			t.Errorf("storage location %q is not a directory: %v", loc, err)
		}
	})

	storageLoc := strings.TrimSpace(e.readFile("storage-location." + tag("alpha/0")))
	t.Run("§2.3 tool outputs without relations", func(t *testing.T) {
		e := e.with(t)
		l := leader
		f := follower
		a := addr[l]
		e.checkTools(t, []toolCase{
			{name: "config-get int smart", unit: l, cmd: "config-get port", stdout: "8080\n"},
			{name: "config-get int json", unit: l, cmd: "config-get port --format=json", stdout: "8080\n"},
			{name: "config-get int yaml", unit: l, cmd: "config-get port --format=yaml", stdout: "8080\n"},
			{name: "config-get float json", unit: l, cmd: "config-get ratio --format=json", stdout: "0.5\n"},
			{name: "config-get bool smart", unit: l, cmd: "config-get debug", stdout: "False\n"},
			{name: "config-get bool json", unit: l, cmd: "config-get debug --format=json", stdout: "false\n"},
			{name: "config-get bool yaml", unit: l, cmd: "config-get debug --format=yaml", stdout: "false\n"},
			{name: "config-get string smart", unit: l, cmd: "config-get scripts-dir", stdout: e.dir + "\n"},
			{name: "config-get string json", unit: l, cmd: "config-get scripts-dir --format=json", stdout: strconv.Quote(e.dir) + "\n"},
			{name: "config-get unset key smart prints nothing", unit: l, cmd: "config-get name", stdout: ""},
			{name: "config-get unset key json null", unit: l, cmd: "config-get name --format=json", stdout: "null\n"},
			{name: "config-get unknown key json null exit 0", unit: l, cmd: "config-get nosuch --format=json", stdout: "null\n"},
			{name: "config-get map json omits unset", unit: l, cmd: "config-get --format=json",
				stdout: fmt.Sprintf(`{"debug":false,"port":8080,"ratio":0.5,"scripts-dir":%q}`, e.dir) + "\n"},
			{name: "config-get --all json adds null", unit: l, cmd: "config-get --all --format=json",
				stdout: fmt.Sprintf(`{"debug":false,"name":null,"port":8080,"ratio":0.5,"scripts-dir":%q}`, e.dir) + "\n"},
			{name: "config-get map yaml", unit: l, cmd: "config-get --format=yaml",
				stdout: fmt.Sprintf("debug: false\nport: 8080\nratio: 0.5\nscripts-dir: %s\n", e.dir)},
			{name: "config-get map smart is yaml", unit: l, cmd: "config-get",
				stdout: fmt.Sprintf("debug: false\nport: 8080\nratio: 0.5\nscripts-dir: %s\n", e.dir)},
			{name: "config-get --all with key exit 2", unit: l, cmd: "config-get --all port", code: 2,
				stderr: "ERROR cannot use argument --all together with key \"port\"\n"},
			{name: "is-leader smart leader", unit: l, cmd: "is-leader", stdout: "True\n"},
			{name: "is-leader smart follower", unit: f, cmd: "is-leader", stdout: "False\n"},
			{name: "is-leader json", unit: l, cmd: "is-leader --format=json", stdout: "true\n"},
			{name: "is-leader yaml", unit: f, cmd: "is-leader --format=yaml", stdout: "false\n"},
			{name: "unit-get private-address", unit: l, cmd: "unit-get private-address", stdout: a + "\n"},
			{name: "unit-get public-address", unit: l, cmd: "unit-get public-address", stdout: a + "\n"},
			{name: "unit-get unknown exit 2", unit: l, cmd: "unit-get foo", code: 2, stderr: "ERROR unknown setting \"foo\"\n"},
			{name: "unit-get none exit 2", unit: l, cmd: "unit-get", code: 2, stderr: "ERROR no setting specified\n"},
			{name: "network-get ingress-address", unit: l, cmd: "network-get admin --ingress-address", stdout: a + "\n"},
			{name: "network-get ingress json", unit: l, cmd: "network-get source --ingress-address --format=json", stdout: strconv.Quote(a) + "\n"},
			{name: "network-get egress-subnets", unit: l, cmd: "network-get cluster --egress-subnets --format=json", stdout: `["` + a + `/32"]` + "\n"},
			{name: "network-get several selectors json", unit: l, cmd: "network-get admin --bind-address --ingress-address --format=json",
				stdout: fmt.Sprintf(`{"bind-address":%q,"ingress-address":%q}`, a, a) + "\n"},
			{name: "network-get no args exit 2", unit: l, cmd: "network-get", code: 2, stderr: "ERROR no arguments specified\n"},
			{name: "network-get unknown binding exit 1", unit: l, cmd: "network-get nosuch", code: 1, stderr: "ERROR no network config found for binding \"nosuch\"\n"},
			{name: "storage-get json", unit: "alpha/0", cmd: "storage-get -s data/0 --format=json",
				stdout: fmt.Sprintf(`{"kind":"filesystem","location":%q}`, storageLoc) + "\n"},
			{name: "storage-get yaml", unit: "alpha/0", cmd: "storage-get -s data/0 --format=yaml",
				stdout: fmt.Sprintf("kind: filesystem\nlocation: %s\n", storageLoc)},
			{name: "storage-get key smart", unit: "alpha/0", cmd: "storage-get -s data/0 kind", stdout: "filesystem\n"},
			{name: "storage-get bad key", unit: "alpha/0", cmd: "storage-get -s data/0 nosuch", code: 1, stderr: "ERROR invalid storage attribute \"nosuch\"\n"},
			{name: "storage-list json", unit: "alpha/0", cmd: "storage-list --format=json", stdout: `["data/0"]` + "\n"},
			{name: "status-set then status-get smart", unit: l, cmd: "status-set active 'all good' && status-get", stdout: "active\n"},
			{name: "status-get --include-data json", unit: l, cmd: "status-get --include-data --format=json",
				stdout: `{"message":"all good","status":"active","status-data":{}}` + "\n"},
			{name: "status-get --include-data yaml", unit: l, cmd: "status-get --include-data --format=yaml",
				stdout: "message: all good\nstatus: active\nstatus-data: {}\n"},
			{name: "status-set bad word exit 2", unit: l, cmd: "status-set happy", code: 2,
				stderr: "ERROR invalid status \"happy\", expected one of [maintenance blocked waiting active]\n"},
			{name: "status-get --application on follower", unit: f, cmd: "status-get --application", code: 1,
				stderr: "ERROR finding application status: this unit is not the leader\n"},
			{name: "status-set --application on follower", unit: f, cmd: "status-set --application active", code: 1,
				stderr: "ERROR this unit is not the leader\n"},
			{name: "§2.2 action-get outside an action", unit: l, cmd: "action-get", code: 1, stderr: "ERROR not running an action\n"},
			{name: "§2.2 action-set outside an action", unit: l, cmd: "action-set a=b", code: 1, stderr: "ERROR not running an action\n"},
			{name: "§2.2 action-fail outside an action", unit: l, cmd: "action-fail", code: 1, stderr: "ERROR not running an action\n"},
			{name: "§2.2 action-log outside an action", unit: l, cmd: "action-log hi", code: 1, stderr: "ERROR not running an action\n"},
			{name: "leader-set on follower", unit: f, cmd: "leader-set k=v", code: 1,
				stderr: "ERROR cannot write leadership settings: cannot write settings: not the leader\n"},
			{name: "leader-set key with = exit 2", unit: l, cmd: "leader-get a=b", code: 2, stderr: "ERROR invalid key \"a=b\"\n"},
			{name: "relation-ids without endpoint exit 2", unit: l, cmd: "relation-ids", code: 2, stderr: "ERROR no endpoint name specified\n"},
			{name: "relation-get without -r outside relation hooks", unit: l, cmd: "relation-get", code: 2, stderr: "ERROR no relation id specified\n"},
			{name: "§2.1 relation-get -r unknown id", unit: l, cmd: "relation-get -r cluster:99 - alpha/1", code: 2,
				stderr: "ERROR invalid value \"cluster:99\" for option -r: relation not found\n"},
			{name: "§2.1 relation-get -r non-numeric", unit: l, cmd: "relation-get -r cluster:x - alpha/1", code: 2,
				stderr: "ERROR invalid value \"cluster:x\" for option -r: invalid relation id\n"},
			{name: "§2.1 juju-log no message exit 2", unit: l, cmd: "juju-log", code: 2, stderr: "ERROR no message specified\n"},
			{name: "§2.1 tool --help exit 0", unit: l, cmd: "relation-get --help >/dev/null", code: 0},
			{name: "§2.1 unknown flag exit 2", unit: l, cmd: "is-leader --bogus 2>/dev/null", code: 2},
			{name: "§1.7 another context id is refused", unit: l, cmd: `JUJU_CONTEXT_ID=` + l + `-install-0123 is-leader 2>&1 | grep -o 'bad request: wrong context ID; got "[^"]*"'; exit ${PIPESTATUS[0]}`,
				code: 1, stdout: `bad request: wrong context ID; got "` + l + `-install-0123"` + "\n"},
		})
	})
	t.Run("§2.3 network-get full structure", func(t *testing.T) {
		e := e.with(t)
		var got struct {
			BindAddresses []struct {
				InterfaceName string `json:"interface-name"`
				MACAddress    string `json:"mac-address"`
				Addresses     []struct {
					Value string `json:"value"`
					CIDR  string `json:"cidr"`
				} `json:"addresses"`
			} `json:"bind-addresses"`
			EgressSubnets    []string `json:"egress-subnets"`
			IngressAddresses []string `json:"ingress-addresses"`
		}
		out := e.mustExec(leader, "network-get admin --format=json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		a := addr[leader]
		if len(got.BindAddresses) != 1 || len(got.BindAddresses[0].Addresses) != 1 || got.BindAddresses[0].Addresses[0].Value != a ||
			got.BindAddresses[0].Addresses[0].CIDR == "" || got.BindAddresses[0].InterfaceName == "" ||
			!reflect.DeepEqual(got.IngressAddresses, []string{a}) || !reflect.DeepEqual(got.EgressSubnets, []string{a + "/32"}) {
			t.Errorf("network-get admin: %s", out)
		}
		y := e.mustExec(leader, "network-get admin --format=yaml")
		for _, k := range []string{"interfacename:", "macaddress:", "address: " + a, "bind-addresses:", "ingress-addresses:"} {
			if !strings.Contains(y, k) {
				t.Errorf("network-get yaml lacks %q (legacy duplicates):\n%s", k, y)
			}
		}
		if s := e.mustExec(leader, "network-get admin"); !strings.Contains(s, "bind-addresses:") {
			t.Errorf("network-get smart is not YAML:\n%s", s)
		}
	})
	t.Run("§2.3 status-get --application nests units", func(t *testing.T) {
		e := e.with(t)
		out := e.mustExec(leader, "status-set --application blocked 'app msg' && status-get --application --include-data --format=json")
		var got map[string]map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		as := got["application-status"]
		units, _ := as["units"].(map[string]any)
		if as["status"] != "blocked" || as["message"] != "app msg" || units[leader] == nil || units[follower] == nil {
			t.Errorf("status-get --application: %s", out)
		}
		if st := e.m.Status().Applications["alpha"].ApplicationStatus; st.Current != "blocked" || st.Message != "app msg" {
			t.Errorf("application status after status-set --application: %+v", st)
		}
		e.mustExec(leader, "status-set --application active")
	})

	t.Run("§5.3 juju-exec context environment", func(t *testing.T) {
		e := e.with(t)
		got := parseEnv(e.mustExec("alpha/0", "env | sort"))
		checkEnvKeys(t, "juju-exec", got, false)
		checkCommonValues(t, e, "juju-exec", "alpha/0", "run-commands", got)
		if v, ok := got["JUJU_HOOK_NAME"]; !ok || v != "" {
			t.Errorf("§1.4 juju-exec: JUJU_HOOK_NAME=%q (present %v), want empty", v, ok)
		}
		peer := strings.TrimSpace(e.mustExec("alpha/0", "relation-ids cluster"))
		id, _ := strconv.Atoi(peer[strings.Index(peer, ":")+1:])
		got = parseEnv(e.execRel("alpha/0", id, "", "env | sort").Stdout)
		checkEnvKeys(t, "juju-exec -r", got, false, relationVars)
		if got["JUJU_RELATION"] != "cluster" || got["JUJU_RELATION_ID"] != peer || got["JUJU_REMOTE_UNIT"] != "alpha/1" || got["JUJU_REMOTE_APP"] != "" {
			t.Errorf("§5.3 juju-exec -r: RELATION=%q RELATION_ID=%q REMOTE_UNIT=%q (inferred) REMOTE_APP=%q (want empty)",
				got["JUJU_RELATION"], got["JUJU_RELATION_ID"], got["JUJU_REMOTE_UNIT"], got["JUJU_REMOTE_APP"])
		}
	})
	t.Run("§5.2 juju-exec refuses inside a context", func(t *testing.T) {
		e := e.with(t)
		r := e.exec("alpha/0", "juju-exec -u alpha/0 true")
		re := regexp.MustCompile(`^ERROR juju-exec cannot be called from within a hook, have context "alpha/0-run-commands-` + hex32 + `"\n$`)
		if r.Code != 2 || !re.MatchString(r.Stderr) {
			t.Errorf("juju-exec in a context: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
	t.Run("§5.2 exit code passed through, §5.3 writes committed anyway", func(t *testing.T) {
		e := e.with(t)
		r := e.exec("alpha/0", "state-set from-exec=yes; exit 7")
		if r.Code != 7 {
			t.Errorf("exit code %d, want 7", r.Code)
		}
		if got := e.mustExec("alpha/0", "state-get from-exec"); got != "yes\n" {
			t.Errorf("§5.3 state-set in a juju-exec that exited 7 was not committed: state-get %q", got)
		}
		if st := e.m.Status().Applications["alpha"].Units["alpha/0"].WorkloadStatus.Current; st == "error" {
			t.Errorf("§5.3 a failing juju-exec put the unit in error")
		}
	})

	t.Run("§1.3 one operation at a time per unit", func(t *testing.T) {
		e := e.with(t)
		f := filepath.Join(e.dir, "serial")
		e.script("alpha/0", "sh", `echo action >> "$dir/serial"`)
		done := make(chan execResult, 1)
		go func() { done <- e.exec("alpha/0", "echo start >> "+f+"; sleep 1; echo end >> "+f) }()
		waitUntil(t, "the command started", func() bool { b, _ := os.ReadFile(f); return len(b) > 0 })
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		id, err := e.m.EnqueueAction("alpha/0", "sh", map[string]any{"cmd": "true"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.WaitAction(ctx, id); err != nil {
			t.Fatal(err)
		}
		<-done
		if got := e.readFile("serial"); got != "start\nend\naction\n" {
			t.Errorf("an action overlapped a juju-exec command: %q", got)
		}
		e.removeScript("alpha/0", "sh")
	})
	t.Run("§3.8 leader-set triggers leader-settings-changed on the others", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		e.mustExec(leader, "leader-set color=blue")
		e.waitFor("leader-settings-changed on "+follower, func([]event) bool {
			return count(e.since(mk, follower), func(ev event) bool { return ev.Hook == "leader-settings-changed" }) == 1
		})
		e.waitIdle()
		if n := count(e.since(mk, leader), func(ev event) bool { return ev.Hook == "leader-settings-changed" }); n != 0 {
			t.Errorf("the leader got %d leader-settings-changed for its own leader-set", n)
		}
		if got := e.mustExec(follower, "leader-get color"); got != "blue\n" {
			t.Errorf("leader-get on follower: %q", got)
		}
		if got := e.mustExec(follower, "leader-get --format=json"); got != `{"color":"blue"}`+"\n" {
			t.Errorf("leader-get json: %q", got)
		}
	})

	// ---- integrate ----
	mk := e.mark()
	relID, err := e.m.Integrate("alpha:source", "beta:sink")
	if err != nil {
		t.Fatalf("integrate: %v", err)
	}
	src, snk := fmt.Sprintf("source:%d", relID), fmt.Sprintf("sink:%d", relID)
	e.waitIdle()
	t.Run("§3.4 integrate", func(t *testing.T) {
		e := e.with(t)
		for _, u := range []string{"alpha/0", "alpha/1", "beta/0"} {
			ep, remoteApp, rid := "source", "beta", src
			remotes := []string{"beta/0"}
			if u == "beta/0" {
				ep, remoteApp, rid = "sink", "alpha", snk
				remotes = []string{"alpha/0", "alpha/1"}
			}
			var evs []event
			for _, ev := range e.since(mk, u) {
				if ev.Rel == rid {
					evs = append(evs, ev)
				}
			}
			if len(evs) == 0 || evs[0].Hook != ep+"-relation-created" {
				t.Errorf("%s: first event of %s is not -created: %v", u, rid, evs)
				continue
			}
			if n := count(evs, func(ev event) bool { return ev.Hook == ep+"-relation-created" }); n != 1 {
				t.Errorf("%s: %d -created hooks", u, n)
			}
			for _, x := range remotes {
				i := find(evs, func(ev event) bool { return ev.Hook == ep+"-relation-joined" && ev.Remote == x })
				if i < 0 || i+1 >= len(evs) || evs[i+1].Hook != ep+"-relation-changed" || evs[i+1].Remote != x {
					t.Errorf("%s: -joined %s not immediately followed by -changed %s: %v", u, x, x, evs)
				}
			}
			appChanged := func(ev event) bool { return ev.Hook == ep+"-relation-changed" && ev.Remote == "" }
			if n := count(evs, appChanged); n != 1 {
				t.Errorf("%s: %d app-level -changed, want 1: %v", u, n, evs)
				continue
			}
			ev := evs[find(evs, appChanged)]
			got := e.hookEnv(ev)
			if v, ok := got["JUJU_REMOTE_UNIT"]; !ok || v != "" || got["JUJU_REMOTE_APP"] != remoteApp {
				t.Errorf("§1.4 %s app-level -changed: JUJU_REMOTE_UNIT=%q (exported %v) JUJU_REMOTE_APP=%q", u, v, ok, got["JUJU_REMOTE_APP"])
			}
			// §2.3: with no remote unit relation-get defaults to the remote app.
			remoteLeader := e.leader(remoteApp)
			want := fmt.Sprintf(`{"app-key":"from-%s"}`, remoteLeader) + "\n"
			if got := e.readFile("appchanged." + tag(u) + ".json"); got != want {
				t.Errorf("§2.3 relation-get in app-level -changed of %s: %q, want %q", u, got, want)
			}
			cr := e.hookEnv(evs[0])
			if v, ok := cr["JUJU_REMOTE_UNIT"]; !ok || v != "" || cr["JUJU_REMOTE_APP"] != remoteApp || cr["JUJU_RELATION_ID"] != rid {
				t.Errorf("§1.4 %s -created env: REMOTE_UNIT=%q REMOTE_APP=%q RELATION_ID=%q", u, v, cr["JUJU_REMOTE_APP"], cr["JUJU_RELATION_ID"])
			}
		}
		// §3.4 beta's -joined come in sorted order when both were in scope.
		var joined []string
		for _, ev := range e.since(mk, "beta/0") {
			if ev.Hook == "sink-relation-joined" {
				joined = append(joined, ev.Remote)
			}
		}
		if !reflect.DeepEqual(joined, []string{"alpha/0", "alpha/1"}) {
			t.Logf("§3.4 beta/0 joined order %v (sorted only among units in scope at the time)", joined)
		}
	})

	t.Run("§2.3 relation tool outputs", func(t *testing.T) {
		e := e.with(t)
		a0, b0 := addr["alpha/0"], addr["beta/0"]
		prefilled := func(a string) string {
			return fmt.Sprintf(`{"egress-subnets":"%s/32","ingress-address":"%s","private-address":"%s"}`, a, a, a) + "\n"
		}
		prefilledYAML := func(a string) string {
			return fmt.Sprintf("egress-subnets: %s/32\ningress-address: %s\nprivate-address: %s\n", a, a, a)
		}
		e.checkTools(t, []toolCase{
			{name: "relation-get pre-filled json", unit: "alpha/0", cmd: "relation-get -r " + src + " --format=json - beta/0", stdout: prefilled(b0)},
			{name: "relation-get pre-filled smart", unit: "alpha/0", cmd: "relation-get -r " + src + " - beta/0", stdout: prefilledYAML(b0)},
			{name: "relation-get pre-filled yaml", unit: "beta/0", cmd: "relation-get -r " + snk + " --format=yaml - alpha/0", stdout: prefilledYAML(a0)},
			{name: "relation-get -r bare id", unit: "alpha/0", cmd: fmt.Sprintf("relation-get -r %d private-address beta/0", relID), stdout: b0 + "\n"},
			{name: "relation-get key json", unit: "alpha/0", cmd: "relation-get -r " + src + " --format=json ingress-address beta/0", stdout: strconv.Quote(b0) + "\n"},
			{name: "relation-get missing key json null", unit: "alpha/0", cmd: "relation-get -r " + src + " --format=json nosuchkey beta/0", stdout: "null\n"},
			{name: "relation-get missing key smart nothing", unit: "alpha/0", cmd: "relation-get -r " + src + " nosuchkey beta/0", stdout: ""},
			{name: "relation-get own unit", unit: "alpha/0", cmd: "relation-get -r " + src + " --format=json - alpha/0", stdout: prefilled(a0)},
			{name: "relation-get remote app", unit: "alpha/0", cmd: "relation-get -r " + src + " --app --format=json - beta", stdout: `{"app-key":"from-beta/0"}` + "\n"},
			{name: "relation-get --app with unit name reads its app", unit: "alpha/0", cmd: "relation-get -r " + src + " --app app-key beta/0", stdout: "from-beta/0\n"},
			{name: "§4 leader reads own app bag", unit: leader, cmd: "relation-get -r " + src + " --app --format=json - alpha", stdout: fmt.Sprintf(`{"app-key":"from-%s"}`, leader) + "\n"},
			{name: "relation-get app name without --app exit 2", unit: "alpha/0", cmd: "relation-get -r " + src + " - beta", code: 2,
				stderr: "ERROR expected unit name, got application name \"beta\"\n"},
			{name: "relation-get bad unit name exit 2", unit: "alpha/0", cmd: "relation-get -r " + src + " - Beta/x", code: 2,
				stderr: "ERROR invalid unit name \"Beta/x\"\n"},
			{name: "relation-get nothing to default to exit 2", unit: "alpha/0", cmd: "relation-get -r " + src + " -", code: 2,
				stderr: "ERROR no unit or application specified\n"},
			{name: "relation-get never joined unit exit 1", unit: "alpha/0", cmd: "relation-get -r " + src + " - beta/7", code: 1,
				stderr: fmt.Sprintf("ERROR cannot read settings for unit \"beta/7\" in relation \"beta:sink alpha:source\": unit \"beta/7\": settings not found\n")},
			{name: "§2.1 relation-get -r unknown id", unit: "beta/0", cmd: "relation-get -r sink:99 - alpha/0", code: 2,
				stderr: "ERROR invalid value \"sink:99\" for option -r: relation not found\n"},
			{name: "relation-ids smart", unit: "alpha/0", cmd: "relation-ids source", stdout: src + "\n"},
			{name: "relation-ids json", unit: "alpha/0", cmd: "relation-ids source --format=json", stdout: `["` + src + `"]` + "\n"},
			{name: "relation-ids yaml", unit: "alpha/0", cmd: "relation-ids source --format=yaml", stdout: "- " + src + "\n"},
			{name: "relation-ids empty json", unit: "alpha/0", cmd: "relation-ids sink --format=json", stdout: "[]\n"},
			{name: "relation-list smart", unit: "beta/0", cmd: "relation-list -r " + snk, stdout: "alpha/0\nalpha/1\n"},
			{name: "relation-list json", unit: "beta/0", cmd: "relation-list -r " + snk + " --format=json", stdout: `["alpha/0","alpha/1"]` + "\n"},
			{name: "relation-list yaml", unit: "beta/0", cmd: "relation-list -r " + snk + " --format=yaml", stdout: "- alpha/0\n- alpha/1\n"},
			{name: "relation-list --app smart", unit: "beta/0", cmd: "relation-list -r " + snk + " --app", stdout: "alpha\n"},
			{name: "relation-list --app json", unit: "beta/0", cmd: "relation-list -r " + snk + " --app --format=json", stdout: `"alpha"` + "\n"},
			{name: "§4 follower reads own app bag in a non-peer relation", unit: follower, cmd: "relation-get -r " + src + " --app - alpha", code: 1,
				stderr: "ERROR permission denied\n"},
			{name: "§4 follower writes app bag", unit: follower, cmd: "relation-set -r " + src + " --app k=v", code: 1,
				stderr: "ERROR cannot write relation settings\n"},
			{name: "§4 follower reads own app bag in a peer relation", unit: follower, cmd: "relation-get -r $(relation-ids cluster) --app --format=json - alpha", stdout: "{}\n"},
			{name: "§4 follower writes peer app bag", unit: follower, cmd: "relation-set -r $(relation-ids cluster) --app k=v", code: 1,
				stderr: "ERROR cannot write relation settings\n"},
			{name: "§2.1 relation-set bad pair exit 2", unit: "alpha/0", cmd: "relation-set -r " + src + " novalue", code: 2,
				stderr: "ERROR expected \"key=value\", got \"novalue\"\n"},
			{name: "§2.1 relation-set duplicate key exit 2", unit: "alpha/0", cmd: "relation-set -r " + src + " a=1 a=2", code: 2,
				stderr: "ERROR key \"a\" specified more than once\n"},
			{name: "§2.1 JSON escapes <>&", unit: "alpha/0",
				cmd: "relation-set -r " + src + " 'html=<a&b>' && relation-get -r " + src + " --format=json html alpha/0", stdout: `"\u003ca\u0026b\u003e"` + "\n"},
			{name: "§2.1 empty value deletes", unit: "alpha/0",
				cmd: "relation-set -r " + src + " gone=x && relation-set -r " + src + " gone= && relation-get -r " + src + " --format=json gone alpha/0", stdout: "null\n"},
			{name: "§2.1 --file - reads JSON from stdin", unit: "alpha/0",
				cmd:    `echo '{"f1":"v1","f2":" keep "}' | relation-set -r ` + src + ` --file - f2=over && relation-get -r ` + src + ` --format=json - alpha/0 | grep -o '"f[12]":"[^"]*"'`,
				stdout: "\"f1\":\"v1\"\n\"f2\":\"over\"\n"},
			{name: "§2.1 -o writes relative to cwd", unit: "alpha/0", cmd: `cd "$(mktemp -d)" && relation-ids source -o out && cat out`, stdout: src + "\n"},
			{name: "§2.3 open-port transactional, opened-ports excludes this context's", unit: "alpha/0",
				cmd: "open-port 8000/udp && opened-ports --format=json", stdout: "[]\n"},
			{name: "§2.3 opened-ports after commit", unit: "alpha/0", cmd: "opened-ports --format=json", stdout: `["8000/udp"]` + "\n"},
			{name: "§2.3 open-port without args exit 2", unit: "alpha/0", cmd: "open-port", code: 2, stderr: "ERROR no port or range specified\n"},
			{name: "§2.3 state-get --strict missing", unit: "alpha/0", cmd: "state-get nosuch --strict", code: 1, stderr: "ERROR \"nosuch\" not found\n"},
			{name: "§2.3 state-get missing prints nothing", unit: "alpha/0", cmd: "state-get nosuch", stdout: ""},
			{name: "§2.4 own pending writes visible, TrimSpace", unit: "alpha/0",
				cmd: "relation-set -r " + src + " ' spaced = padded ' && relation-get -r " + src + " spaced alpha/0", stdout: "padded\n"},
		})
	})

	t.Run("§2.3 goal-state", func(t *testing.T) {
		e := e.with(t)
		out := e.mustExec("alpha/0", "goal-state --format=json")
		var gs struct {
			Units     map[string]struct{ Status string } `json:"units"`
			Relations map[string]map[string]struct {
				Status string
			} `json:"relations"`
		}
		if err := json.Unmarshal([]byte(out), &gs); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if len(gs.Units) != 2 || gs.Units["alpha/0"].Status != "active" || gs.Units["alpha/1"].Status != "active" {
			t.Errorf("goal-state units: %s", out)
		}
		if _, ok := gs.Relations["cluster"]; ok {
			t.Errorf("goal-state lists the peer relation: %s", out)
		}
		if gs.Relations["source"]["beta"].Status != "joined" || gs.Relations["source"]["beta/0"].Status == "" {
			t.Errorf("goal-state relations: %s", out)
		}
		if y := e.mustExec("alpha/0", "goal-state"); !strings.Contains(y, "units:") || !strings.Contains(y, "relations:") {
			t.Errorf("goal-state default is not yaml: %s", y)
		}
	})

	t.Run("§3.5 changed only when remote data really changed", func(t *testing.T) {
		e := e.with(t)
		e.waitIdle()
		mk := e.mark()
		e.mustExec("beta/0", "relation-set -r "+snk+" color=red")
		for _, u := range []string{"alpha/0", "alpha/1"} {
			e.waitFor(u+" source-relation-changed", func([]event) bool {
				return count(e.since(mk, u), func(ev event) bool { return ev.Hook == "source-relation-changed" && ev.Remote == "beta/0" }) >= 1
			})
		}
		e.waitIdle()
		for _, u := range []string{"alpha/0", "alpha/1"} {
			if n := count(e.since(mk, u), func(ev event) bool { return ev.Rel == src }); n != 1 {
				t.Errorf("%s: %d hooks for one remote write, want 1: %v", u, n, e.since(mk, u))
			}
			if got := e.mustExec(u, "relation-get -r "+src+" color beta/0"); got != "red\n" {
				t.Errorf("%s sees color=%q", u, got)
			}
		}
		if n := len(e.since(mk, "beta/0")); n != 0 {
			t.Errorf("beta/0 got %d hooks for its own write: %v", n, e.since(mk, "beta/0"))
		}
		mk = e.mark()
		e.mustExec("beta/0", "relation-set -r "+snk+" color=red ingress-address="+addr["beta/0"])
		e.mustExec(leader, "relation-set -r "+src+" --app app-key=from-"+leader)
		e.waitIdle()
		if evs := e.since(mk, ""); len(evs) != 0 {
			t.Errorf("no-op writes fired hooks: %v", evs)
		}
		// An app databag change fires app-level -changed on the other side only.
		mk = e.mark()
		e.mustExec(leader, "relation-set -r "+src+" --app app-key=v2")
		e.waitFor("beta/0 app-level changed", func([]event) bool {
			return count(e.since(mk, "beta/0"), func(ev event) bool { return ev.Hook == "sink-relation-changed" && ev.Remote == "" }) == 1
		})
		e.waitIdle()
		if evs := e.since(mk, "alpha/0"); len(evs) != 0 {
			t.Errorf("alpha/0 got hooks for its app's own write: %v", evs)
		}
		if evs := e.since(mk, "alpha/1"); len(evs) != 0 {
			t.Errorf("alpha/1 got hooks for its app's own write: %v", evs)
		}
	})

	t.Run("§3.5 no app-level -changed for a peer leader about its own app bag", func(t *testing.T) {
		e := e.with(t)
		e.waitIdle()
		mk := e.mark()
		e.mustExec(leader, "relation-set -r $(relation-ids cluster) --app peer-key=1")
		e.waitFor(follower+" app-level cluster-relation-changed", func([]event) bool {
			return count(e.since(mk, follower), func(ev event) bool { return ev.Hook == "cluster-relation-changed" && ev.Remote == "" }) == 1
		})
		e.waitIdle()
		if evs := e.since(mk, leader); len(evs) != 0 {
			t.Errorf("peer leader got hooks for its own app bag write: %v", evs)
		}
		if got := e.mustExec(follower, "relation-get -r $(relation-ids cluster) --app peer-key alpha"); got != "1\n" {
			t.Errorf("follower reads peer app bag: %q", got)
		}
	})
	t.Run("§3.2 config change", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		if err := e.m.SetConfig("alpha", map[string]string{"debug": "true", "name": "x", "port": "9000", "ratio": "1.25"}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitIdle()
		for _, u := range []string{"alpha/0", "alpha/1"} {
			if got := hooks(e.since(mk, u)); !reflect.DeepEqual(got, []string{"config-changed"}) {
				t.Errorf("%s after config: %v, want [config-changed]", u, got)
			}
		}
		if evs := e.since(mk, "beta/0"); len(evs) != 0 {
			t.Errorf("beta/0 got hooks for alpha's config: %v", evs)
		}
		e.checkTools(t, []toolCase{
			{name: "config-get after change json", unit: "alpha/1", cmd: "config-get --format=json",
				stdout: fmt.Sprintf(`{"debug":true,"name":"x","port":9000,"ratio":1.25,"scripts-dir":%q}`, e.dir) + "\n"},
			{name: "config-get bool true smart", unit: "alpha/1", cmd: "config-get debug", stdout: "True\n"},
		})
		mk = e.mark()
		if err := e.m.SetConfig("alpha", map[string]string{"debug": "true"}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitIdle()
		if evs := e.since(mk, ""); len(evs) != 0 {
			t.Errorf("setting config to its current value fired hooks: %v", evs)
		}
	})

	t.Run("actions", func(t *testing.T) {
		e := e.with(t)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		mk := e.mark()
		id, err := e.m.EnqueueAction("alpha/0", "echo", map[string]any{"message": "hi there"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.m.WaitAction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "completed" || res.Results["echo"] != "hi there" {
			t.Errorf("echo action: %+v", res)
		}
		evs := e.since(mk, "alpha/0")
		if len(evs) != 1 || evs[0].Hook != "echo" {
			t.Fatalf("action events: %v", evs)
		}
		got := e.hookEnv(evs[0])
		checkEnvKeys(t, "action", got, true, actionVars)
		checkCommonValues(t, e, "action", "alpha/0", "echo", got)
		if v, ok := got["JUJU_HOOK_NAME"]; !ok || v != "" {
			t.Errorf("§1.4 action: JUJU_HOOK_NAME=%q, want exported and empty", v)
		}
		if got["JUJU_DISPATCH_PATH"] != "actions/echo" || got["JUJU_ACTION_NAME"] != "echo" ||
			got["JUJU_ACTION_UUID"] != strconv.Itoa(id) || got["JUJU_ACTION_TAG"] != "action-"+strconv.Itoa(id) {
			t.Errorf("§1.4 action vars: DISPATCH_PATH=%q NAME=%q UUID=%q TAG=%q (id %d)", got["JUJU_DISPATCH_PATH"],
				got["JUJU_ACTION_NAME"], got["JUJU_ACTION_UUID"], got["JUJU_ACTION_TAG"], id)
		}

		for _, bad := range []struct {
			name   string
			action string
			params map[string]any
		}{
			{"unknown param refused", "echo", map[string]any{"message": "x", "bogus": 1}},
			{"wrong type refused", "echo", map[string]any{"message": 5}},
			{"wrong integer type refused", "echo", map[string]any{"message": "x", "count": "many"}},
			{"missing required refused", "echo", map[string]any{}},
			{"below minimum refused", "echo", map[string]any{"message": "x", "count": 0}},
			{"unknown action refused", "nosuch", nil},
		} {
			mk := e.mark()
			if id, err := e.m.EnqueueAction("alpha/0", bad.action, bad.params); err == nil {
				t.Errorf("%s: queued as %d", bad.name, id)
			}
			e.waitIdle()
			if evs := e.since(mk, ""); len(evs) != 0 {
				t.Errorf("%s: ran %v", bad.name, evs)
			}
		}

		// §2.3 action-fail still commits; the action ends failed.
		e.script("alpha/0", "fail", `relation-set -r `+src+` from-failed-action=yes
action-set partial=1
action-fail "asked to fail"`)
		mk = e.mark()
		id, err = e.m.EnqueueAction("alpha/0", "fail", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err = e.m.WaitAction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "failed" || res.Message != "asked to fail" || res.Results["partial"] != "1" {
			t.Errorf("failed action: %+v", res)
		}
		e.waitFor("beta/0 sees the failed action's write", func([]event) bool {
			return count(e.since(mk, "beta/0"), func(ev event) bool { return ev.Hook == "sink-relation-changed" && ev.Remote == "alpha/0" }) == 1
		})
		if got := e.mustExec("beta/0", "relation-get -r "+snk+" from-failed-action alpha/0"); got != "yes\n" {
			t.Errorf("§2.3 action-fail discarded the action's relation-set: %q", got)
		}
		if st := e.m.Status().Applications["alpha"].Units["alpha/0"].WorkloadStatus.Current; st == "error" {
			t.Errorf("§3.9 a failed action put the unit in error")
		}

		// §1.3 a non-zero exit fails the action and discards its writes.
		e.script("alpha/1", "sh", `relation-set -r `+src+` from-exit-4=yes
echo out; echo err >&2
exit 4`)
		mk = e.mark()
		id, err = e.m.EnqueueAction("alpha/1", "sh", map[string]any{"cmd": "true"})
		if err != nil {
			t.Fatal(err)
		}
		res, err = e.m.WaitAction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "failed" || fmt.Sprint(res.Results["return-code"]) != "4" || res.Results["stdout"] != "out\n" || res.Results["stderr"] != "err\n" {
			t.Errorf("§1.2 action exiting 4: %+v", res)
		}
		e.waitIdle()
		if got := e.mustExec("beta/0", "relation-get -r "+snk+" from-exit-4 alpha/1"); got != "" {
			t.Errorf("§2.4 writes of an action that exited 4 were committed: %q", got)
		}
		if evs := e.since(mk, "beta/0"); len(evs) != 0 {
			t.Errorf("beta/0 got hooks for a discarded write: %v", evs)
		}
		// §2.3 action-set reserved keys and key syntax.
		e.script("alpha/1", "sh", `action-set stdout=x; echo "rc=$?" > "$dir/reserved"
action-set BAD=x; echo "rc=$?" >> "$dir/reserved"
action-set a.b-c=nested`)
		id, _ = e.m.EnqueueAction("alpha/1", "sh", map[string]any{"cmd": "true"})
		res, _ = e.m.WaitAction(ctx, id)
		if got := e.readFile("reserved"); got != "rc=2\nrc=2\n" {
			t.Errorf("§2.3 action-set reserved/bad keys: %q", got)
		}
		if nested, _ := res.Results["a"].(map[string]any); nested["b-c"] != "nested" {
			t.Errorf("§2.3 action-set a.b-c: %+v", res.Results)
		}
	})

	t.Run("§5 juju-exec command line", func(t *testing.T) {
		e := e.with(t)
		jujuExec := func(unit string, args ...string) execResult {
			t.Helper()
			tools, err := e.m.ToolsDir(unit)
			if err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(tools, "juju-exec")
			cmd := exec.Command(bin, args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			var so, se strings.Builder
			cmd.Stdout, cmd.Stderr = &so, &se
			err = cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("juju-exec: %v", err)
			}
			return execResult{Code: code, Stdout: so.String(), Stderr: se.String()}
		}
		cases := []struct {
			name   string
			unit   string
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{"-u unit name", "alpha/0", []string{"-u", "alpha/0", "echo $JUJU_UNIT_NAME"}, 0, "alpha/0\n", ""},
			{"-u unit tag", "alpha/0", []string{"-u", "unit-alpha-0", "echo $JUJU_UNIT_NAME"}, 0, "alpha/0\n", ""},
			{"positional unit", "alpha/0", []string{"alpha/0", "echo", "$JUJU_UNIT_NAME"}, 0, "$JUJU_UNIT_NAME\n", ""},
			{"inferred unit (one agent on the machine)", "alpha/0", []string{"echo $JUJU_UNIT_NAME"}, 0, "alpha/0\n", ""},
			{"exit code passed through", "alpha/0", []string{"-u", "alpha/0", "exit 5"}, 5, "", ""},
			{"-r infers the only member", "alpha/0", []string{"-u", "alpha/0", "-r", src, "echo $JUJU_REMOTE_UNIT; relation-get private-address"}, 0,
				"beta/0\n" + addr["beta/0"] + "\n", ""},
			{"-r bare id", "alpha/0", []string{"-u", "alpha/0", "-r", strconv.Itoa(relID), "echo $JUJU_RELATION_ID"}, 0, src + "\n", ""},
			{"-r ambiguous", "beta/0", []string{"-u", "beta/0", "-r", snk, "true"}, 1, "",
				"ERROR ambiguous remote unit; possibilities are [alpha/0 alpha/1]\n"},
			{"--remote-unit", "beta/0", []string{"-u", "beta/0", "-r", snk, "--remote-unit", "alpha/1", "echo $JUJU_REMOTE_UNIT"}, 0, "alpha/1\n", ""},
			{"--remote-unit not a member", "beta/0", []string{"-u", "beta/0", "-r", snk, "--remote-unit", "alpha/7", "true"}, 1, "",
				"ERROR unknown remote unit alpha/7; possibilities are [alpha/0 alpha/1]\n"},
			{"--force-remote-unit", "beta/0", []string{"-u", "beta/0", "-r", snk, "--remote-unit", "alpha/7", "--force-remote-unit", "echo $JUJU_REMOTE_UNIT"}, 0, "alpha/7\n", ""},
			{"--remote-unit invalid", "beta/0", []string{"-u", "beta/0", "-r", snk, "--remote-unit", "Alpha", "true"}, 1, "", "ERROR invalid remote unit: Alpha\n"},
			{"unknown relation id", "alpha/0", []string{"-u", "alpha/0", "-r", "99", "true"}, 1, "", "ERROR unknown relation id: 99\n"},
			{"invalid relation id", "alpha/0", []string{"-u", "alpha/0", "-r", "x:y", "true"}, 1, "", "ERROR invalid relation id\n"},
			{"remote unit without relation", "alpha/0", []string{"-u", "alpha/0", "--remote-unit", "beta/0", "true"}, 1, "",
				"ERROR remote unit: beta/0, provided without a relation\n"},
			{"missing commands", "alpha/0", []string{"-u", "alpha/0"}, 2, "", "ERROR missing commands\n"},
			{"unit not on this machine", "alpha/0", []string{"-u", "alpha/1", "true"}, 1, "", "ERROR unit \"alpha/1\" not found on this machine\n"},
			{"--no-context with unit", "alpha/0", []string{"--no-context", "-u", "alpha/0", "true"}, 2, "",
				"ERROR -no-context cannot be passed with an explicit unit-name (-u \"alpha/0\")\n"},
			{"--no-context has no hook context", "alpha/0", []string{"--no-context", "echo ${JUJU_CONTEXT_ID:-none}"}, 0, "none\n", ""},
		}
		t.Run("§5.5 custom event through dispatch", func(t *testing.T) {
			e := e.with(t)
			mk := e.mark()
			r := jujuExec("alpha/1", "-u", "alpha/1", "JUJU_DISPATCH_PATH=hooks/role-changed $CHARM_DIR/dispatch")
			if r.Code != 0 {
				t.Fatalf("juju-exec dispatch: %+v", r)
			}
			evs := e.since(mk, "alpha/1")
			if len(evs) != 1 || evs[0].Hook != "role-changed" {
				t.Fatalf("events: %v", evs)
			}
			got := e.hookEnv(evs[0])
			checkEnvKeys(t, "custom event", got, true)
			checkCommonValues(t, e, "custom event", "alpha/1", "run-commands", got)
			if got["JUJU_HOOK_NAME"] != "" || got["JUJU_DISPATCH_PATH"] != "hooks/role-changed" {
				t.Errorf("§5.5 JUJU_HOOK_NAME=%q JUJU_DISPATCH_PATH=%q", got["JUJU_HOOK_NAME"], got["JUJU_DISPATCH_PATH"])
			}
		})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := jujuExec(c.unit, c.args...)
				if r.Code != c.code || r.Stdout != c.stdout || (c.stderr != "" && r.Stderr != c.stderr) {
					t.Errorf("juju-exec %q: exit %d stdout %q stderr %q; want exit %d stdout %q stderr %q",
						c.args, r.Code, r.Stdout, r.Stderr, c.code, c.stdout, c.stderr)
				}
			})
		}
	})

	t.Run("secrets §2.3 §3.10", func(t *testing.T) {
		e := e.with(t)
		out := e.exec(follower, "secret-add foo=bar")
		if out.Code != 1 || out.Stderr != "ERROR this unit is not the leader\n" {
			t.Errorf("secret-add on a follower: %+v", out)
		}
		uri := strings.TrimSpace(e.mustExec(leader, "secret-add --label mine foo=bar"))
		if !regexp.MustCompile(`^secret://` + regexp.QuoteMeta(e.m.UUID()) + `/[0-9a-v]{20}$`).MatchString(uri) {
			t.Fatalf("secret-add printed %q, want secret://<model-uuid>/<20-char xid>", uri)
		}
		e.mustExec(leader, "secret-grant "+uri+" -r "+src+" && relation-set -r "+src+" secret-id="+uri)
		if got := e.exec(leader, "secret-grant "+uri); got.Code == 0 || !strings.Contains(got.Stderr, "no relation id specified") {
			t.Errorf("secret-grant without -r: %+v", got)
		}
		e.waitIdle()
		id := strings.TrimSpace(e.mustExec("beta/0", "relation-get -r "+snk+" secret-id "+leader))
		if id != uri {
			t.Fatalf("consumer got secret id %q", id)
		}
		if got := e.mustExec("beta/0", "secret-get "+uri); got != "foo: bar\n" {
			t.Errorf("secret-get default yaml: %q", got)
		}
		if got := e.mustExec("beta/0", "secret-get "+uri+" --format=json"); got != `{"foo":"bar"}`+"\n" {
			t.Errorf("secret-get json: %q", got)
		}
		if got := e.mustExec("beta/0", "secret-get "+uri+" foo"); got != "bar\n" {
			t.Errorf("secret-get key: %q", got)
		}
		e.script("beta/0", "secret-changed", `secret-get "$JUJU_SECRET_ID" foo > "$dir/secret-pinned"
secret-get "$JUJU_SECRET_ID" foo --peek > "$dir/secret-peek"
secret-get "$JUJU_SECRET_ID" foo > "$dir/secret-pinned-after-peek"`)
		mk := e.mark()
		e.mustExec(leader, "secret-set "+uri+" foo=baz")
		e.waitFor("secret-changed on beta/0", func([]event) bool {
			return count(e.since(mk, "beta/0"), func(ev event) bool { return ev.Hook == "secret-changed" }) == 1
		})
		e.waitIdle()
		ev := e.since(mk, "beta/0")[find(e.since(mk, "beta/0"), func(ev event) bool { return ev.Hook == "secret-changed" })]
		got := e.hookEnv(ev)
		checkEnvKeys(t, "secret-changed", got, true, secretVars)
		if got["JUJU_SECRET_ID"] != uri {
			t.Errorf("§1.4 JUJU_SECRET_ID=%q, want %q", got["JUJU_SECRET_ID"], uri)
		}
		if evs := e.since(mk, leader); count(evs, func(ev event) bool { return ev.Hook == "secret-changed" }) != 0 {
			t.Errorf("the owner got secret-changed: %v", evs)
		}
		if p, pk, pa := e.readFile("secret-pinned"), e.readFile("secret-peek"), e.readFile("secret-pinned-after-peek"); p != "bar\n" || pk != "baz\n" || pa != "bar\n" {
			t.Errorf("in secret-changed: pinned %q, --peek %q, pinned after peek %q; want bar, baz, bar", p, pk, pa)
		}
		if got := e.mustExec("beta/0", "secret-get "+uri+" foo --refresh"); got != "baz\n" {
			t.Errorf("secret-get --refresh: %q", got)
		}
		if got := e.mustExec("beta/0", "secret-get "+uri+" foo"); got != "baz\n" {
			t.Errorf("secret-get after --refresh: %q", got)
		}
		if got := e.exec("beta/0", "secret-get "+uri+" --peek --refresh"); got.Code != 2 || got.Stderr != "ERROR specify one of --peek or --refresh but not both\n" {
			t.Errorf("--peek --refresh: %+v", got)
		}
		if got := e.mustExec(leader, "secret-ids --format=json"); got != `["`+strings.TrimPrefix(uri, "secret://"+e.m.UUID()+"/")+`"]`+"\n" && got != `["`+uri+`"]`+"\n" {
			t.Logf("secret-ids: %q", got)
		}
		// Transactional: a secret-add in a juju-exec is readable in it.
		if got := e.mustExec(leader, `u=$(secret-add key=v) && secret-get "$u" key`); got != "v\n" {
			t.Errorf("§2.3 secret added in a context not readable in it: %q", got)
		}
	})

	// ---- add-unit ----
	t.Run("§3.3 add-unit", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		names, err := e.m.AddUnit("alpha", 1)
		if err != nil || len(names) != 1 {
			t.Fatalf("add-unit: %v %v", names, err)
		}
		nu := names[0]
		e.waitIdle()
		evs := e.since(mk, nu)
		hs := hooks(evs)
		iInstall := find(evs, func(ev event) bool { return ev.Hook == "install" })
		iLeader := find(evs, func(ev event) bool { return ev.Hook == "leader-settings-changed" })
		iConfig := find(evs, func(ev event) bool { return ev.Hook == "config-changed" })
		iStart := find(evs, func(ev event) bool { return ev.Hook == "start" })
		iPeerCreated := find(evs, func(ev event) bool { return ev.Hook == "cluster-relation-created" })
		iSrcCreated := find(evs, func(ev event) bool { return ev.Hook == "source-relation-created" })
		if !(find(evs, func(ev event) bool { return ev.Hook == "data-storage-attached" }) == 0 && iInstall == 1 &&
			iPeerCreated > iInstall && iSrcCreated > iInstall && iLeader > iPeerCreated && iLeader > iSrcCreated &&
			iConfig > iLeader && iStart == iConfig+1) {
			t.Fatalf("new unit %s: %v", nu, hs)
		}
		if n := count(evs, func(ev event) bool { return ev.Hook == "leader-elected" }); n != 0 {
			t.Errorf("new unit got leader-elected")
		}
		for _, x := range []string{"alpha/0", "alpha/1"} {
			i := find(evs, func(ev event) bool { return ev.Hook == "cluster-relation-joined" && ev.Remote == x })
			if i < iStart || evs[i+1].Hook != "cluster-relation-changed" || evs[i+1].Remote != x {
				t.Errorf("new unit: peer -joined %s not after start and immediately followed by -changed: %v", x, evs)
			}
		}
		i := find(evs, func(ev event) bool { return ev.Hook == "source-relation-joined" && ev.Remote == "beta/0" })
		if i < iStart || evs[i+1].Hook != "source-relation-changed" || evs[i+1].Remote != "beta/0" {
			t.Errorf("new unit: -joined beta/0 not after start and immediately followed by -changed: %v", evs)
		}
		check := func(u, ep string) {
			evs := e.since(mk, u)
			i := find(evs, func(ev event) bool { return ev.Hook == ep+"-relation-joined" && ev.Remote == nu })
			if i < 0 || i+1 >= len(evs) || evs[i+1].Hook != ep+"-relation-changed" || evs[i+1].Remote != nu {
				t.Errorf("%s: %s-relation-joined %s then -changed: %v", u, ep, nu, evs)
			}
			if n := count(evs, func(ev event) bool { return ev.Hook == ep+"-relation-joined" }); n != 1 {
				t.Errorf("%s: %d joined", u, n)
			}
		}
		check("alpha/0", "cluster")
		check("alpha/1", "cluster")
		check("beta/0", "sink")

		// §3.7 remove-unit.
		mk = e.mark()
		if err := e.m.RemoveUnit(nu); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, nu+" gone from status", func() bool { _, ok := e.m.Status().Applications["alpha"].Units[nu]; return !ok })
		e.waitIdle()
		evs = e.since(mk, nu)
		n := len(evs)
		if n < 3 || hooks(evs[n-3:])[0] != "data-storage-detaching" || evs[n-2].Hook != "stop" || evs[n-1].Hook != "remove" {
			t.Fatalf("§3.7 dying unit: %v, want relations, data-storage-detaching, stop, remove", hooks(evs))
		}
		var departed []string
		for _, ev := range evs[:n-3] {
			switch ev.Hook {
			case "cluster-relation-departed", "source-relation-departed":
				departed = append(departed, ev.Hook+" "+ev.Remote)
				if ev.Departing != nu {
					t.Errorf("§3.7 %s on the dying unit: JUJU_DEPARTING_UNIT=%q, want the local unit %s", ev.Hook, ev.Departing, nu)
				}
			case "source-relation-broken":
				departed = append(departed, ev.Hook)
			default:
				t.Errorf("§3.7 unexpected hook on the dying unit: %v", ev)
			}
		}
		wantDeparted := map[string]bool{"cluster-relation-departed alpha/0": true, "cluster-relation-departed alpha/1": true,
			"source-relation-departed beta/0": true, "source-relation-broken": true}
		if len(departed) != len(wantDeparted) {
			t.Errorf("§3.7 relation teardown on the dying unit: %v", departed)
		}
		for _, d := range departed {
			if !wantDeparted[d] {
				t.Errorf("§3.7 relation teardown on the dying unit: %v", departed)
			}
		}
		if i, j := find(evs, func(ev event) bool { return ev.Hook == "source-relation-departed" }), find(evs, func(ev event) bool { return ev.Hook == "source-relation-broken" }); i > j {
			t.Errorf("§3.6 broken before departed: %v", hooks(evs))
		}
		if count(evs, func(ev event) bool { return ev.Hook == "cluster-relation-broken" }) != 0 {
			t.Errorf("§3.6 peer relation broken")
		}
		for _, ev := range evs {
			if ev.Hook == "cluster-relation-departed" {
				got := e.hookEnv(ev)
				checkEnvKeys(t, "departed", got, true, relationVars, []string{"JUJU_DEPARTING_UNIT"})
				if got["JUJU_DEPARTING_UNIT"] != nu {
					t.Errorf("§1.4 JUJU_DEPARTING_UNIT=%q", got["JUJU_DEPARTING_UNIT"])
				}
			}
		}
		for _, u := range []string{"alpha/0", "alpha/1"} {
			evs := e.since(mk, u)
			if len(evs) != 1 || evs[0].Hook != "cluster-relation-departed" || evs[0].Remote != nu || evs[0].Departing != nu {
				t.Errorf("§3.7 %s when %s leaves: %v", u, nu, evs)
			}
			var list []string
			_ = json.Unmarshal([]byte(e.readFile("departed-list."+tag(u)+".cluster."+strings.ReplaceAll(nu, "/", "-")+".json")), &list)
			for _, x := range list {
				if x == nu {
					t.Errorf("§2.3 relation-list in -departed of %s still lists it: %v", nu, list)
				}
			}
			var bag map[string]string
			_ = json.Unmarshal([]byte(e.readFile("departed-get."+tag(u)+".cluster."+strings.ReplaceAll(nu, "/", "-")+".json")), &bag)
			if bag["private-address"] == "" {
				t.Errorf("§3.6 departed unit's settings not readable in -departed: %v", bag)
			}
		}
		evsB := e.since(mk, "beta/0")
		if len(evsB) != 1 || evsB[0].Hook != "sink-relation-departed" || evsB[0].Remote != nu || evsB[0].Departing != nu {
			t.Errorf("§3.7 beta/0 when %s leaves: %v", nu, evsB)
		}
		for _, h := range []struct{ hook, want string }{
			{"stop", `{"message":"stopping charm software","status":"maintenance","status-data":{}}`},
			{"remove", `{"message":"cleaning up prior to charm deletion","status":"maintenance","status-data":{}}`},
		} {
			if got := strings.TrimSpace(e.readFile("status-in-" + h.hook + "." + tag(nu) + ".json")); got != h.want {
				t.Errorf("§3.7 status-get in %s: %s, want %s", h.hook, got, h.want)
			}
		}
		if r := e.exec("beta/0", "relation-get -r "+snk+" private-address "+nu); r.Code != 0 || r.Stdout == "" {
			t.Errorf("§2.3 a departed unit's settings stay readable until the relation is removed: %+v", r)
		}
		if st := e.m.Status().Applications["alpha"].Units; len(st) != 2 {
			t.Errorf("status after remove-unit: %d units", len(st))
		}
	})

	// ---- remove-relation ----
	t.Run("§3.6 remove-relation", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		if err := e.m.RemoveRelation("alpha:source", "beta:sink"); err != nil {
			t.Fatal(err)
		}
		e.waitIdle()
		for _, u := range []string{"alpha/0", "alpha/1", "beta/0"} {
			ep, remotes, rid := "source", []string{"beta/0"}, src
			if u == "beta/0" {
				ep, remotes, rid = "sink", []string{"alpha/0", "alpha/1"}, snk
			}
			evs := e.since(mk, u)
			var want []string
			for _, x := range remotes {
				want = append(want, ep+"-relation-departed "+x)
			}
			want = append(want, ep+"-relation-broken ")
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Hook+" "+ev.Remote)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s after remove-relation: %v, want %v", u, got, want)
				continue
			}
			for i, ev := range evs[:len(evs)-1] {
				env := e.hookEnv(ev)
				checkEnvKeys(t, "departed", env, true, relationVars, []string{"JUJU_DEPARTING_UNIT"})
				r := strings.ReplaceAll(ev.Remote, "/", "-")
				var list []string
				_ = json.Unmarshal([]byte(e.readFile("departed-list."+tag(u)+"."+ep+"."+r+".json")), &list)
				for _, x := range list {
					if x == ev.Remote {
						t.Errorf("§2.3 %s: relation-list in -departed %s still lists it: %v", u, ev.Remote, list)
					}
				}
				var bag map[string]string
				_ = json.Unmarshal([]byte(e.readFile("departed-get."+tag(u)+"."+ep+"."+r+".json")), &bag)
				if bag["private-address"] == "" {
					t.Errorf("§3.6 %s: settings of departed %s not readable: %v", u, ev.Remote, bag)
				}
				// §2.3 relation-ids: a dying relation is broken only once no
				// member is left, so the -departed hooks still list it.
				if got, want := e.readFile("departed-ids."+tag(u)+"."+ep+"."+r+".json"), `["`+rid+`"]`+"\n"; got != want {
					t.Errorf("§2.3 relation-ids in %s -departed %s after remove-relation: %q, want %q", u, ev.Remote, got, want)
				}
				// The members still there are listed and readable.
				rest, restAddrs := remotes[i+1:], ""
				for _, x := range rest {
					restAddrs += addr[x] + "\n"
				}
				if !reflect.DeepEqual(list, rest) {
					t.Errorf("§2.3 relation-list in %s -departed %s: %q, want %q", u, ev.Remote, list, rest)
				}
				got, _ := os.ReadFile(filepath.Join(e.dir, "departed-rest."+tag(u)+"."+ep+"."+r))
				if string(got) != restAddrs {
					t.Errorf("§2.3 relation-get of the remaining members in %s -departed %s: %q, want %q", u, ev.Remote, got, restAddrs)
				}
			}
			br := e.hookEnv(evs[len(evs)-1])
			if v, ok := br["JUJU_REMOTE_UNIT"]; !ok || v != "" {
				t.Errorf("§1.4 -broken: JUJU_REMOTE_UNIT=%q exported=%v, want exported and empty", v, ok)
			}
			if br["JUJU_RELATION_ID"] != rid {
				t.Errorf("§1.4 -broken: JUJU_RELATION_ID=%q, want %q (set although relation-ids no longer lists it)", br["JUJU_RELATION_ID"], rid)
			}
			if got := e.readFile("broken-ids." + tag(u) + ".json"); got != "[]\n" {
				t.Errorf("§2.3 relation-ids in -broken of %s: %q, want []", u, got)
			}
			if got := e.readFile("broken-list." + tag(u) + ".json"); got != "[]\n" {
				t.Errorf("§2.3 relation-list -r in -broken of %s: %q, want [] (and -r accepted)", u, got)
			}
		}
		if r := e.exec("alpha/0", "relation-get -r "+src+" - beta/0"); r.Code != 2 {
			t.Errorf("§2.3 -r of a removed relation: exit %d", r.Code)
		}
		if got := e.mustExec("alpha/0", "relation-ids source --format=json"); got != "[]\n" {
			t.Errorf("relation-ids after removal: %q", got)
		}
		if rels := e.m.Status().Applications["alpha"].Relations; len(rels["source"]) != 0 {
			t.Errorf("status still shows the relation: %v", rels)
		}
	})
}
