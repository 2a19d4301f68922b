package localjuju_test

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// secretHour is the secret-rotate-scale of TestSecretOwnerHooks: one hour of
// secret timing lasts 4s, so --rotate hourly is due after 4s and Juju's
// 5-minute rotate/expire retry delay is 1/3s.
const (
	secretHour  = 4 * time.Second
	secretRetry = secretHour / 12
)

// secretOwnerScripts make the recorder's owner-side secret hooks act as a
// charm would, keyed by the secret's label: secret-remove removes the
// revision it names; secret-expired removes it on its second run (the first
// run leaves it, so Juju runs the hook again); secret-rotate adds a revision
// on its second run.
func secretOwnerScripts(e *env) {
	e.script("all", "secret-remove", `secret-remove "$JUJU_SECRET_ID" --revision "$JUJU_SECRET_REVISION"`)
	e.script("all", "secret-expired", `f="$dir/expired.$JUJU_SECRET_LABEL"; n=$(( $(cat "$f" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$f"
if [ "$n" -ge 2 ]; then secret-remove "$JUJU_SECRET_ID" --revision "$JUJU_SECRET_REVISION"; fi`)
	e.script("all", "secret-rotate", `f="$dir/rotated.$JUJU_SECRET_LABEL"; n=$(( $(cat "$f" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$f"
if [ "$n" = 2 ]; then secret-set "$JUJU_SECRET_ID" value=rotated; fi`)
}

// secretEvents are one unit's runs of a secret hook for a label, oldest first.
func (e *env) secretEvents(unit, hook, label string) []event {
	var out []event
	for _, ev := range e.since(0, unit) {
		if ev.Hook == hook && e.hookEnv(ev)["JUJU_SECRET_LABEL"] == label {
			out = append(out, ev)
		}
	}
	return out
}

// waitSecretEvents waits until unit ran hook for label n times.
func (e *env) waitSecretEvents(unit, hook, label string, n int) []event {
	e.t.Helper()
	var evs []event
	e.waitFor(fmt.Sprintf("%d %s (label %s) on %s", n, hook, label, unit), func([]event) bool {
		evs = e.secretEvents(unit, hook, label)
		return len(evs) >= n
	})
	return evs
}

// eventTime is when the recorder saw an event (its env file's nanoseconds).
func eventTime(t *testing.T, ev event) time.Time {
	t.Helper()
	ns, err := strconv.ParseInt(ev.EnvFile[strings.LastIndex(ev.EnvFile, ".")+1:], 10, 64)
	if err != nil {
		t.Fatalf("env file name %q: %v", ev.EnvFile, err)
	}
	return time.Unix(0, ns)
}

// checkOwnerSecretEnv checks §1.4 for an owner-side secret hook.
func checkOwnerSecretEnv(t *testing.T, e *env, ev event, uri, label string, revision int) {
	t.Helper()
	got := e.hookEnv(ev)
	extra := append([]string{}, secretVars...)
	if revision > 0 {
		extra = append(extra, "JUJU_SECRET_REVISION")
	}
	checkEnvKeys(t, ev.Hook, got, true, extra)
	checkCommonValues(t, e, ev.Hook, ev.Unit, ev.Hook, got)
	if got["JUJU_HOOK_NAME"] != ev.Hook || got["JUJU_DISPATCH_PATH"] != "hooks/"+ev.Hook {
		t.Errorf("§1.4 %s: JUJU_HOOK_NAME=%q JUJU_DISPATCH_PATH=%q", ev.Hook, got["JUJU_HOOK_NAME"], got["JUJU_DISPATCH_PATH"])
	}
	if got["JUJU_SECRET_ID"] != uri || got["JUJU_SECRET_LABEL"] != label {
		t.Errorf("§1.4 %s: JUJU_SECRET_ID=%q JUJU_SECRET_LABEL=%q, want %q %q", ev.Hook, got["JUJU_SECRET_ID"], got["JUJU_SECRET_LABEL"], uri, label)
	}
	if revision > 0 && got["JUJU_SECRET_REVISION"] != strconv.Itoa(revision) {
		t.Errorf("§1.4 %s: JUJU_SECRET_REVISION=%q, want %d", ev.Hook, got["JUJU_SECRET_REVISION"], revision)
	}
}

// TestSecretOwnerHooks covers the owner side of §3.10 (and §1.4's
// JUJU_SECRET_* variables, §2.3's secret-remove): secret-remove when a
// revision is no longer tracked, secret-expired until the revision goes,
// secret-rotate until a new revision is set, and due times surviving a
// controller restart.
func TestSecretOwnerHooks(t *testing.T) {
	e := newEnv(t, controller.Options{SecretRotateScale: secretHour})
	t.Parallel()
	secretOwnerScripts(e)
	e.deploy("keeper", 2, nil)
	e.deploy("taker", 1, nil)
	relID, err := e.m.Integrate("keeper:source", "taker:sink")
	if err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	leader := e.leader("keeper")
	follower := "keeper/1"
	if leader == follower {
		follower = "keeper/0"
	}
	if leader == "" {
		t.Fatal("§3.8 no leader for keeper")
	}

	// The rotating and the expiring secret are added first, then the
	// controller restarts (§3.10: due times are model state and survive
	// it, and so does the test knob: it is not given again). Their timers
	// run while the subtests check one thing after another.
	rotAdded := time.Now()
	rotURI := strings.TrimSpace(e.mustExec(leader, "secret-add --label rot --rotate hourly value=one"))
	// A unit-owned secret: the owning unit gets the hook, leader or not.
	exAdded := time.Now()
	exURI := strings.TrimSpace(e.mustExec(follower, "secret-add --owner unit --label ex --expire 2s value=one"))
	e.restart(t, controller.Options{})

	t.Run("§3.10 secret-remove once a consumer moves on", func(t *testing.T) {
		e := e.with(t)
		uri := strings.TrimSpace(e.mustExec(leader, "secret-add --label pw pass=one"))
		e.mustExec(leader, fmt.Sprintf("secret-grant %s -r source:%d", uri, relID))
		if got := e.mustExec("taker/0", "secret-get "+uri+" pass"); got != "one\n" {
			t.Fatalf("consumer read %q", got)
		}
		e.mustExec(leader, "secret-set "+uri+" pass=two")
		e.waitFor("secret-changed on taker/0", func([]event) bool {
			return len(e.secretEvents("taker/0", "secret-changed", "")) > 0
		})
		e.waitIdle()
		if evs := e.secretEvents(leader, "secret-remove", "pw"); len(evs) != 0 {
			t.Fatalf("§3.10 secret-remove while the consumer still tracks revision 1: %v", evs)
		}
		if revs, err := e.m.SecretRevisions(uri); err != nil || !reflect.DeepEqual(revs, []int{1, 2}) {
			t.Fatalf("revisions before the consumer refreshes: %v %v", revs, err)
		}
		// §2.3 secret-remove flags: a bad --revision is a usage error;
		// only the leader may remove an application's secret.
		if r := e.exec(leader, "secret-remove "+uri+" --revision x"); r.Code != 2 ||
			r.Stderr != "ERROR invalid value \"x\" for option --revision: strconv.ParseInt: parsing \"x\": invalid syntax\n" {
			t.Errorf("§2.1 secret-remove --revision x: %+v", r)
		}
		if r := e.exec(follower, "secret-remove "+uri+" --revision 1"); r.Code != 1 || r.Stderr != "ERROR this unit is not the leader\n" {
			t.Errorf("§2.3 secret-remove on a follower: %+v", r)
		}
		// A revision that does not exist is not an error (Juju removes
		// the revisions that exist).
		if r := e.exec(leader, "secret-remove "+uri+" --revision 9"); r.Code != 0 {
			t.Errorf("§2.3 secret-remove of an unknown revision: %+v", r)
		}

		if got := e.mustExec("taker/0", "secret-get "+uri+" pass --refresh"); got != "two\n" {
			t.Fatalf("secret-get --refresh: %q", got)
		}
		evs := e.waitSecretEvents(leader, "secret-remove", "pw", 1)
		checkOwnerSecretEnv(t, e, evs[0], uri, "pw", 1)
		waitUntil(t, "revision 1 removed", func() bool {
			revs, err := e.m.SecretRevisions(uri)
			return err == nil && reflect.DeepEqual(revs, []int{2})
		})
		e.waitIdle()
		if n := len(e.secretEvents(leader, "secret-remove", "pw")); n != 1 {
			t.Errorf("§3.10 %d secret-remove for revision 1, want 1", n)
		}
		for _, u := range []string{follower, "taker/0"} {
			if evs := e.secretEvents(u, "secret-remove", "pw"); len(evs) != 0 {
				t.Errorf("§3.10 %s is not the owner but got secret-remove: %v", u, evs)
			}
		}
		if got := e.mustExec("taker/0", "secret-get "+uri+" pass"); got != "two\n" {
			t.Errorf("consumer after the owner removed revision 1: %q", got)
		}
	})

	t.Run("§3.10 secret-expired until the revision is removed, across a restart", func(t *testing.T) {
		e := e.with(t)
		evs := e.waitSecretEvents(follower, "secret-expired", "ex", 2)
		// --expire is kept to the second, so it may fire up to 1s early.
		if first := eventTime(t, evs[0]); first.Before(exAdded.Add(time.Second)) {
			t.Errorf("§3.10 secret-expired %v after secret-add --expire 2s", first.Sub(exAdded))
		}
		if gap := eventTime(t, evs[1]).Sub(eventTime(t, evs[0])); gap < secretRetry*8/10 {
			t.Errorf("§3.10 secret-expired re-ran after %v, want the retry delay %v", gap, secretRetry)
		}
		for _, ev := range evs {
			checkOwnerSecretEnv(t, e, ev, exURI, "ex", 1)
		}
		waitUntil(t, "the expired secret removed", func() bool { _, err := e.m.SecretRevisions(exURI); return err != nil })
		time.Sleep(4 * secretRetry)
		e.waitIdle()
		if n := len(e.secretEvents(follower, "secret-expired", "ex")); n != 2 {
			t.Errorf("§3.10 %d secret-expired, want 2 (it stops once the revision is removed)", n)
		}
		if evs := e.secretEvents(leader, "secret-expired", "ex"); len(evs) != 0 {
			t.Errorf("§3.10 the leader got secret-expired for %s's own secret: %v", follower, evs)
		}
	})

	t.Run("§3.10 secret-rotate until a new revision is set, across a restart", func(t *testing.T) {
		e := e.with(t)
		if info := e.mustExec(leader, "secret-info-get --label rot --format json"); !strings.Contains(info, `"rotation":"hourly"`) {
			t.Errorf("§2.3 secret-info-get of a rotating secret: %s", info)
		}
		evs := e.waitSecretEvents(leader, "secret-rotate", "rot", 2)
		t1, t2 := eventTime(t, evs[0]), eventTime(t, evs[1])
		if t1.Sub(rotAdded) < secretHour-time.Second/2 {
			t.Errorf("§3.10 hourly secret-rotate after %v, want one (scaled) hour %v", t1.Sub(rotAdded), secretHour)
		}
		if gap := t2.Sub(t1); gap < secretRetry*8/10 || gap > secretHour/2 {
			t.Errorf("§3.10 secret-rotate without a new revision re-ran after %v, want the retry delay %v", gap, secretRetry)
		}
		for _, ev := range evs {
			checkOwnerSecretEnv(t, e, ev, rotURI, "rot", 0)
		}
		// The second run set revision 2: rotation is next due a whole
		// period later, and revision 1, tracked by nobody, is obsolete.
		e.waitSecretEvents(leader, "secret-remove", "rot", 1)
		if wait := time.Until(t2.Add(secretHour / 2)); wait > 0 {
			time.Sleep(wait)
		}
		if n := len(e.secretEvents(leader, "secret-rotate", "rot")); n != 2 {
			t.Errorf("§3.10 %d secret-rotate within half a period of the new revision, want 2", n)
		}
		if revs, err := e.m.SecretRevisions(rotURI); err != nil || !reflect.DeepEqual(revs, []int{2}) {
			t.Errorf("revisions after rotation: %v %v", revs, err)
		}
		if evs := e.secretEvents(follower, "secret-rotate", "rot"); len(evs) != 0 {
			t.Errorf("§3.10 a non-leader got secret-rotate for an application secret: %v", evs)
		}
		if info := e.mustExec(leader, "secret-info-get --label rot --format json"); !strings.Contains(info, `"rotates":"`) {
			t.Errorf("§2.3 secret-info-get of a rotating secret has no next rotation: %s", info)
		}
		// --rotate never stops it.
		e.mustExec(leader, "secret-set "+rotURI+" --rotate never")
		if info := e.mustExec(leader, "secret-info-get --label rot --format json"); strings.Contains(info, `"rotates"`) {
			t.Errorf("§2.3 secret-info-get after --rotate never: %s", info)
		}
	})
}
