package localjuju_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestLeaderReElection covers §3.8: a new leader after the leader's machine
// is killed (lease expiry) and after the leader is removed (resignation),
// leader-elected on the new leader and leader-settings-changed elsewhere,
// never two leaders.
func TestLeaderReElection(t *testing.T) {
	e := newEnv(t, controller.Options{LeaseDuration: 3 * time.Second})
	t.Parallel()
	e.deploy("lead", 3, nil)
	e.waitIdle()
	leaders := func() []string {
		var out []string
		for name, u := range e.m.Status().Applications["lead"].Units {
			if u.Leader {
				out = append(out, name)
			}
		}
		return out
	}
	// waitNewLeader polls status for a leader other than old, checking
	// there is never more than one.
	waitNewLeader := func(t *testing.T, old string) string {
		t.Helper()
		var got string
		waitUntil(t, "a new leader", func() bool {
			ls := leaders()
			if len(ls) > 1 {
				t.Fatalf("two leaders at once: %v", ls)
			}
			if len(ls) == 1 && ls[0] != old {
				got = ls[0]
				return true
			}
			return false
		})
		return got
	}
	l0 := e.leader("lead")
	if l0 == "" {
		t.Fatal("no leader")
	}

	var l1 string
	t.Run("§3.8 kill-machine of the leader", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := e.m.KillMachine(ctx, l0); err != nil {
			t.Fatal(err)
		}
		l1 = waitNewLeader(t, l0)
		e.waitFor("leader-elected on "+l1, func([]event) bool {
			return count(e.since(mk, l1), func(ev event) bool { return ev.Hook == "leader-elected" }) == 1
		})
		e.waitIdle()
		if got := e.mustExec(l1, "is-leader"); got != "True\n" {
			t.Errorf("is-leader on the new leader %s: %q", l1, got)
		}
		for _, u := range e.units("lead") {
			evs := e.since(mk, u)
			switch u {
			case l0:
				if len(evs) != 0 {
					t.Errorf("the killed unit ran hooks: %v", evs)
				}
			case l1:
				if hs := hooks(evs); len(hs) != 1 || hs[0] != "leader-elected" {
					t.Errorf("new leader %s: %v, want [leader-elected]", u, hs)
				}
			default:
				if hs := hooks(evs); len(hs) != 1 || hs[0] != "leader-settings-changed" {
					t.Errorf("follower %s after a change of leader: %v, want [leader-settings-changed]", u, hs)
				}
				if got := e.mustExec(u, "is-leader"); got != "False\n" {
					t.Errorf("is-leader on %s: %q", u, got)
				}
			}
		}
		if got := e.m.Status().Applications["lead"].Units[l0].JujuStatus.Current; got != "lost" {
			t.Errorf("agent status of a killed machine %q, want lost", got)
		}
	})
	if l1 == "" {
		t.FailNow()
	}
	t.Run("§3.8 remove-unit of the leader", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		if err := e.m.RemoveUnit(l1); err != nil {
			t.Fatal(err)
		}
		l2 := waitNewLeader(t, l1)
		if l2 == l0 {
			t.Fatalf("the killed unit %s was elected", l0)
		}
		e.waitFor("leader-elected on "+l2, func([]event) bool {
			return count(e.since(mk, l2), func(ev event) bool { return ev.Hook == "leader-elected" }) == 1
		})
		waitUntil(t, l1+" removed", func() bool { _, ok := e.m.Status().Applications["lead"].Units[l1]; return !ok })
		e.waitIdle()
		for _, ev := range e.since(mk, l1) {
			if strings.HasPrefix(ev.Hook, "leader-") {
				t.Errorf("the dying leader ran %s (it resigns without a hook)", ev.Hook)
			}
		}
		if got := e.mustExec(l2, "is-leader"); got != "True\n" {
			t.Errorf("is-leader on %s: %q", l2, got)
		}
	})
	t.Run("restart-machine: agent back, start runs, not leader", func(t *testing.T) {
		e := e.with(t)
		mk := e.mark()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := e.m.RestartMachine(ctx, l0); err != nil {
			t.Fatal(err)
		}
		e.waitFor("start on "+l0, func([]event) bool {
			return count(e.since(mk, l0), func(ev event) bool { return ev.Hook == "start" }) == 1
		})
		e.waitIdle()
		if got := e.mustExec(l0, "is-leader"); got != "False\n" {
			t.Errorf("is-leader on the restarted former leader: %q", got)
		}
		if n := count(e.since(mk, l0), func(ev event) bool { return ev.Hook == "leader-settings-changed" }); n != 1 {
			t.Errorf("§3.8 restarted unit got %d leader-settings-changed after the change of leader, want 1: %v", n, e.since(mk, l0))
		}
		if got := e.m.Status().Applications["lead"].Units[l0].JujuStatus.Current; got == "lost" {
			t.Errorf("agent still lost after restart")
		}
	})
}

// TestFailingHook covers §2.4 (commit only on exit 0; status-set and
// leader-set immediate) and §3.9 (error status, same hook retried, nothing
// else runs, actions still run).
func TestFailingHook(t *testing.T) {
	e := newEnv(t, controller.Options{})
	t.Parallel()
	e.deploy("fl", 2, nil)
	e.waitIdle()
	l := e.leader("fl")
	f := "fl/0"
	if l == "fl/0" {
		f = "fl/1"
	}
	peer := strings.TrimSpace(e.mustExec(l, "relation-ids cluster"))
	e.script(l, "config-changed", `if [ -f "$dir/fail" ]; then
  relation-set -r $(relation-ids cluster) k=bad
  state-set s=bad
  open-port 9999
  status-set blocked "from failing hook"
  leader-set lk=fromfail
  exit 1
fi
relation-set -r $(relation-ids cluster) k=good`)
	if err := os.WriteFile(filepath.Join(e.dir, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mk := e.mark()
	if err := e.m.SetConfig("fl", map[string]string{"port": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, l+" in error", func() bool {
		return e.m.Status().Applications["fl"].Units[l].WorkloadStatus.Current == "error"
	})

	t.Run("§3.9 error status", func(t *testing.T) {
		// Juju reports a hook error as the workload's, the agent idle.
		us := e.m.Status().Applications["fl"].Units[l]
		if us.WorkloadStatus.Message != `hook failed: "config-changed"` {
			t.Errorf("workload message %q", us.WorkloadStatus.Message)
		}
		if us.WorkloadStatus.Data["hook"] != "config-changed" {
			t.Errorf("status data %v", us.WorkloadStatus.Data)
		}
		if us.JujuStatus.Current != "idle" || us.JujuStatus.Message != "" {
			t.Errorf("juju-status of a unit whose hook failed: %+v, want idle without message", us.JujuStatus)
		}
		if as := e.m.Status().Applications["fl"].ApplicationStatus; as.Current != "error" || as.Message != `hook failed: "config-changed"` {
			t.Errorf("application status with a unit in error: %+v", as)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		err := e.m.WaitIdle(ctx, time.Second)
		if err == nil || !strings.Contains(err.Error(), l) || !strings.Contains(err.Error(), `hook failed: "config-changed"`) {
			t.Errorf("wait-idle with a unit in error: %v", err)
		}
	})
	t.Run("§2.4 immediate tools applied, transactional discarded", func(t *testing.T) {
		e := e.with(t)
		e.waitFor("leader-settings-changed on "+f, func([]event) bool {
			return count(e.since(mk, f), func(ev event) bool { return ev.Hook == "leader-settings-changed" }) == 1
		})
		if got := e.mustExec(f, "leader-get lk"); got != "fromfail\n" {
			t.Errorf("leader-set in a failing hook not applied: %q", got)
		}
		if got := e.mustExec(f, "relation-get -r "+peer+" k "+l); got != "" {
			t.Errorf("relation-set of a failing hook visible to the remote: %q", got)
		}
		if ports := e.m.Status().Applications["fl"].Units[l].OpenPorts; len(ports) != 0 {
			t.Errorf("open-port of a failing hook applied: %v", ports)
		}
	})
	t.Run("§3.9 actions still run; §2.4 status-set applied", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		id, err := e.m.EnqueueAction(l, "sh", map[string]any{"cmd": "status-get --include-data --format=json; state-get s"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.m.WaitAction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"message":"from failing hook","status":"blocked","status-data":{}}`
		if res.Status != "completed" || res.Results["out"] != want {
			t.Errorf("action on a unit in error: %+v, want out %s (and no state s)", res, want)
		}
	})
	// Another hook becomes due while the unit is in error.
	mkPeer := e.mark()
	e.mustExec(f, "relation-set -r "+peer+" k2=v")
	t.Run("§3.9 the same hook is retried, nothing else runs", func(t *testing.T) {
		e := e.with(t)
		// A retry has run and failed again: the unit is back in error.
		waitUntil(t, "a failed retry of config-changed on "+l, func() bool {
			return count(e.since(mk, l), func(ev event) bool { return ev.Hook == "config-changed" }) >= 2 &&
				e.m.Status().Applications["fl"].Units[l].WorkloadStatus.Current == "error"
		})
		for _, ev := range e.since(mk, l) {
			if ev.Hook != "config-changed" && ev.Hook != "sh" {
				t.Errorf("hook %s ran while %s was in error", ev.Hook, l)
			}
		}
		if err := os.Remove(filepath.Join(e.dir, "fail")); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, l+" out of error", func() bool {
			return e.m.Status().Applications["fl"].Units[l].WorkloadStatus.Current != "error"
		})
		e.waitIdle()
		evs := e.since(mkPeer, l)
		last := -1
		for i, ev := range evs {
			if ev.Hook == "config-changed" {
				last = i
			}
		}
		i := find(evs, func(ev event) bool { return ev.Hook == "cluster-relation-changed" && ev.Remote == f })
		if i < 0 || i < last {
			t.Errorf("cluster-relation-changed must follow the successful retry: %v", evs)
		}
		if got := e.mustExec(f, "relation-get -r "+peer+" k "+l); got != "good\n" {
			t.Errorf("after the successful retry the remote sees k=%q", got)
		}
		if st := e.m.Status().Applications["fl"].Units[l]; st.JujuStatus.Current != "idle" ||
			st.WorkloadStatus.Current != "blocked" || st.WorkloadStatus.Message != "from failing hook" {
			t.Errorf("§3.9 after the retry succeeded the stored workload status comes back: %+v", st)
		}
	})
}

// TestUpdateStatus covers §3.8: update-status runs when the unit is idle,
// at the model's interval.
func TestUpdateStatus(t *testing.T) {
	e := newEnv(t, controller.Options{UpdateStatusInterval: time.Second})
	t.Parallel()
	e.deploy("us", 1, nil)
	e.waitFor("update-status", func(evs []event) bool {
		return count(evs, func(ev event) bool { return ev.Hook == "update-status" }) >= 2
	})
	evs := e.events()
	i := find(evs, func(ev event) bool { return ev.Hook == "update-status" })
	if j := find(evs, func(ev event) bool { return ev.Hook == "start" }); j < 0 || j > i {
		t.Errorf("update-status before start: %v", hooks(evs))
	}
	got := e.hookEnv(evs[i])
	checkEnvKeys(t, "update-status", got, true)
	if got["JUJU_HOOK_NAME"] != "update-status" {
		t.Errorf("JUJU_HOOK_NAME=%q", got["JUJU_HOOK_NAME"])
	}
}

// writeCharm writes a minimal charm into a temp dir.
func writeCharm(t *testing.T, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	base := map[string]string{
		"metadata.yaml": "name: mini\nsummary: s\ndescription: d\n",
		"manifest.yaml": "bases:\n  - name: ubuntu\n    channel: \"22.04\"\n    architectures: [amd64]\n",
	}
	for k, v := range files {
		base[k] = v
	}
	for name, content := range base {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if m, ok := modes[name]; ok {
			mode = m
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHandlers covers §1.1 and §1.2: hooks/<name> without dispatch, missing
// hooks are successes, a non-executable dispatch fails the hook, the
// handler runs with no arguments and an absolute argv[0].
func TestHandlers(t *testing.T) {
	e := newEnv(t, controller.Options{})
	t.Parallel()
	out := filepath.Join(e.dir, "hooks.log")
	hooksCharm := writeCharm(t, map[string]string{
		"hooks/install": "#!/bin/bash\necho \"$0|$#|$JUJU_DISPATCH_PATH|$JUJU_HOOK_NAME|$(pwd)\" >> " + out + "\n",
		"hooks/start":   "#!/bin/bash\necho \"$0|$#|$JUJU_DISPATCH_PATH|$JUJU_HOOK_NAME|$(pwd)\" >> " + out + "\n",
	}, map[string]os.FileMode{"hooks/install": 0o755, "hooks/start": 0o755})
	if err := e.m.Deploy(controller.DeployArgs{Charm: hooksCharm, App: "hooks"}); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("hooks ran: %q", lines)
	}
	for i, hook := range []string{"install", "start"} {
		f := strings.Split(lines[i], "|")
		if len(f) != 5 || !filepath.IsAbs(f[0]) || !strings.HasSuffix(f[0], "/charm/hooks/"+hook) || f[1] != "0" ||
			f[2] != "hooks/"+hook || f[3] != hook || !strings.HasSuffix(f[4], "/charm") {
			t.Errorf("§1.2 hooks/%s saw argv0|argc|JUJU_DISPATCH_PATH|JUJU_HOOK_NAME|cwd = %q", hook, lines[i])
		}
	}
	if st := e.m.Status().Applications["hooks"].Units["hooks/0"]; st.JujuStatus.Current != "idle" || st.WorkloadStatus.Current != "unknown" {
		t.Errorf("§1.1/§3.2 missing hooks are successes, start without status-set gives unknown: %+v", st)
	}

	bad := writeCharm(t, map[string]string{"dispatch": "#!/bin/bash\nexit 0\n"}, map[string]os.FileMode{"dispatch": 0o644})
	if err := e.m.Deploy(controller.DeployArgs{Charm: bad, App: "bad"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bad/0 in error", func() bool {
		return e.m.Status().Applications["bad"].Units["bad/0"].WorkloadStatus.Current == "error"
	})
	if msg := e.m.Status().Applications["bad"].Units["bad/0"].WorkloadStatus.Message; msg != `hook failed: "install"` {
		t.Errorf("§1.1 non-executable dispatch: %q, want hook failed: \"install\"", msg)
	}
}

// TestFreezeThaw covers §3.8 with the freeze fault: a frozen leader cannot
// renew its lease, so another unit is elected when it expires; once thawed
// the old leader is a follower (is-leader False, leader-settings-changed
// for the change of leader) and there is one leader throughout.
func TestFreezeThaw(t *testing.T) {
	e := newEnv(t, controller.Options{LeaseDuration: 3 * time.Second})
	t.Parallel()
	e.deploy("fz", 2, nil)
	e.waitIdle()
	l0 := e.leader("fz")
	if l0 == "" {
		t.Fatal("no leader")
	}
	mk := e.mark()
	if err := e.m.Freeze(l0); err != nil {
		t.Fatal(err)
	}
	var l1 string
	waitUntil(t, "a new leader while "+l0+" is frozen", func() bool {
		var ls []string
		for name, u := range e.m.Status().Applications["fz"].Units {
			if u.Leader {
				ls = append(ls, name)
			}
		}
		if len(ls) > 1 {
			t.Fatalf("two leaders at once: %v", ls)
		}
		if len(ls) == 1 && ls[0] != l0 {
			l1 = ls[0]
			return true
		}
		return false
	})
	e.waitFor("leader-elected on "+l1, func([]event) bool {
		return count(e.since(mk, l1), func(ev event) bool { return ev.Hook == "leader-elected" }) == 1
	})
	if err := e.m.Thaw(l0); err != nil {
		t.Fatal(err)
	}
	e.waitFor("leader-settings-changed on the thawed "+l0, func([]event) bool {
		return count(e.since(mk, l0), func(ev event) bool { return ev.Hook == "leader-settings-changed" }) == 1
	})
	e.waitIdle()
	if got := e.mustExec(l0, "is-leader"); got != "False\n" {
		t.Errorf("§3.8 is-leader on the thawed former leader %s: %q, want False", l0, got)
	}
	if got := e.mustExec(l1, "is-leader"); got != "True\n" {
		t.Errorf("§3.8 is-leader on the new leader %s: %q, want True", l1, got)
	}
	if got := e.leader("fz"); got != l1 {
		t.Errorf("leader after thaw %q, want %s", got, l1)
	}
	if n := count(e.since(mk, l0), func(ev event) bool { return ev.Hook == "leader-elected" }); n != 0 {
		t.Errorf("the thawed former leader ran leader-elected")
	}
}

// TestForceRemoval covers `remove-unit --force` and `remove-relation
// --force` on units whose machine was killed: the killed unit cannot run
// its teardown (§3.7), so only --force takes it out; the other units then
// run -relation-departed for it (§3.6) and the relation can finish.
func TestForceRemoval(t *testing.T) {
	e := newEnv(t, controller.Options{LeaseDuration: 3 * time.Second})
	t.Parallel()
	e.deploy("fa", 2, nil)
	e.deploy("fb", 2, nil)
	if _, err := e.m.Integrate("fa:source", "fb:sink"); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	kill := func(t *testing.T, unit string) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := e.m.KillMachine(ctx, unit); err != nil {
			t.Fatal(err)
		}
	}
	inStatus := func(unit string) bool { _, ok := e.m.Status().Applications["fb"].Units[unit]; return ok }

	t.Run("§3.7 remove-unit --force of a killed unit", func(t *testing.T) {
		e := e.with(t)
		kill(t, "fb/1")
		if err := e.m.RemoveUnit("fb/1"); err != nil {
			t.Fatal(err)
		}
		e.waitIdle()
		if !inStatus("fb/1") {
			t.Fatalf("without --force a unit whose agent is down left the model")
		}
		mk := e.mark()
		if err := e.m.ForceRemoveUnit("fb/1"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "fb/1 gone from status", func() bool { return !inStatus("fb/1") })
		departed := func(u, hook string) func([]event) bool {
			return func([]event) bool {
				return count(e.since(mk, u), func(ev event) bool {
					return ev.Hook == hook && ev.Remote == "fb/1" && ev.Departing == "fb/1"
				}) == 1
			}
		}
		for _, u := range []string{"fa/0", "fa/1"} {
			e.waitFor(u+" source-relation-departed fb/1", departed(u, "source-relation-departed"))
		}
		e.waitFor("fb/0 cluster-relation-departed fb/1", departed("fb/0", "cluster-relation-departed"))
		e.waitIdle()
		if evs := e.since(mk, "fb/1"); len(evs) != 0 {
			t.Errorf("the killed unit ran hooks: %v", evs)
		}
	})
	t.Run("§3.6 remove-relation --force with a killed unit", func(t *testing.T) {
		e := e.with(t)
		kill(t, "fb/0")
		mk := e.mark()
		if err := e.m.RemoveRelation("fa", "fb"); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"fa/0", "fa/1"} {
			e.waitFor(u+" source-relation-broken", func([]event) bool {
				return count(e.since(mk, u), func(ev event) bool { return ev.Hook == "source-relation-broken" }) == 1
			})
		}
		e.waitIdle()
		if rels := e.m.Status().Applications["fa"].Relations["source"]; len(rels) != 1 {
			t.Fatalf("without --force the relation went although fb/0 cannot run -broken: %v", rels)
		}
		if err := e.m.ForceRemoveRelation("fa", "fb"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the relation gone from status", func() bool {
			return len(e.m.Status().Applications["fa"].Relations["source"]) == 0
		})
		if got := e.mustExec("fa/0", "relation-ids source --format=json"); got != "[]\n" {
			t.Errorf("relation-ids after the forced removal: %q", got)
		}
	})
}
