package charm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// TestSetPasswordHarness rotates every system user's password through the
// action and checks it is applied everywhere, in an order that keeps
// Patroni working, and never shown but in the result.
func TestSetPasswordHarness(t *testing.T) {
	for _, tc := range []struct {
		user string
		// effects are the fake workload's calls the action makes.
		effects []string
		// applied reports whether the password is in force where the
		// user authenticates.
		applied func(f *fakeWorkload, pw string) bool
	}{
		{pgconf.OperatorUser, []string{"alter role operator", "api reload"},
			func(f *fakeWorkload, pw string) bool {
				return f.roles[pgconf.OperatorUser] == pw && f.loaded.Operator == pw
			}},
		{pgconf.ReplicationUser, []string{"alter role replication", "api reload"},
			func(f *fakeWorkload, pw string) bool {
				return f.roles[pgconf.ReplicationUser] == pw && f.loaded.Replication == pw
			}},
		{pgconf.RewindUser, []string{"alter role rewind", "api reload"},
			func(f *fakeWorkload, pw string) bool {
				return f.roles[pgconf.RewindUser] == pw && f.loaded.Rewind == pw
			}},
		// The API refuses the new password until Patroni reloads: the
		// reload goes by signal.
		{pgconf.PatroniAPIUser, []string{"sighup patroni"},
			func(f *fakeWorkload, pw string) bool { return f.loaded.PatroniAPI == pw }},
		// Patroni runs with the new password before etcd changes it, so
		// it re-authenticates; no restart needed.
		{"etcd", []string{"api reload", "etcd root password"},
			func(f *fakeWorkload, pw string) bool { return f.etcdRoot == pw && f.loaded.Etcd == pw && f.dcsOK() }},
	} {
		t.Run(tc.user, func(t *testing.T) {
			h, st := newHarness(t)
			h.wl.calls = nil
			before, _ := st.SecretByLabel(credentials.SecretLabel)
			out, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", map[string]any{"username": tc.user})
			if err != nil || res.Failed {
				t.Fatalf("set-password: %v %+v", err, res)
			}
			pw := res.Results["password"]
			if len(pw) < 32 || res.Results["username"] != tc.user {
				t.Fatalf("results: user %q, password of %d characters", res.Results["username"], len(pw))
			}
			if diff := cmp.Diff(tc.effects, h.wl.calls); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
			if !tc.applied(h.wl, pw) {
				t.Errorf("the new password is not in force: written %+v loaded %+v", h.wl.written != nil, h.wl.loaded != nil)
			}
			sec, _ := out.SecretByLabel(credentials.SecretLabel)
			if sec.Content[userKey(tc.user)] != pw || sec.Content[credentials.GenerationKey] != "1" || sec.Revision <= before.Revision {
				t.Errorf("secret: revision %d → %d, generation %q, password stored %v", before.Revision, sec.Revision,
					sec.Content[credentials.GenerationKey], sec.Content[userKey(tc.user)] == pw)
			}
			for k, v := range before.Content {
				if k != userKey(tc.user) && sec.Content[k] != v {
					t.Errorf("secret key %s changed", k)
				}
			}
			if h.wl.loaded.Generation != "1" {
				t.Errorf("Patroni runs with passwords generation %q", h.wl.loaded.Generation)
			}
			if len(res.Logs) == 0 {
				t.Error("no action-log progress")
			}
			assertNotShown(t, pw, res.Logs, out.Logs)
		})
	}
}

func assertNotShown(t *testing.T, pw string, actionLogs []string, logs []jujutest.LogLine) {
	t.Helper()
	for _, l := range actionLogs {
		if strings.Contains(l, pw) {
			t.Errorf("action-log shows the password: %q", l)
		}
	}
	for _, l := range logs {
		if strings.Contains(l.Message, pw) {
			t.Errorf("juju-log shows the password: %q", l.Message)
		}
	}
}

func TestSetPasswordRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]any
		setup  func(h *harness, st *jujutest.State)
		want   string // substring of the failure message
	}{
		{"a password shorter than 16 characters", map[string]any{"username": "operator", "password": "short-pass-15ch"}, nil,
			"shorter than 16"},
		{"a non-ASCII password", map[string]any{"username": "rewind", "password": "pässwörd-long-enough"}, nil,
			"printable ASCII"},
		{"a non-leader", map[string]any{"username": "operator"}, func(h *harness, st *jujutest.State) { st.Leader = false },
			"leader"},
		{"etcd that does not take the current root password", map[string]any{"username": "etcd"},
			func(h *harness, st *jujutest.State) { h.wl.etcdRoot = "something-else-entirely" }, "root password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, st := newHarness(t)
			if tc.setup != nil {
				tc.setup(h, &st)
			}
			before, _ := st.SecretByLabel(credentials.SecretLabel)
			h.wl.calls = nil
			out, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", tc.params)
			if err != nil || !res.Failed || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("want a failure saying %q: %v %+v", tc.want, err, res)
			}
			if sec, _ := out.SecretByLabel(credentials.SecretLabel); sec.Revision != before.Revision {
				t.Errorf("the secret changed: revision %d → %d", before.Revision, sec.Revision)
			}
			if len(h.wl.calls) != 0 {
				t.Errorf("applied %v", h.wl.calls)
			}
		})
	}

	t.Run("a blocked unit refuses before anything changes", func(t *testing.T) {
		h, st := newHarness(t)
		st.Config = map[string]any{"listen_port": 80}
		before, _ := st.SecretByLabel(credentials.SecretLabel)
		h.wl.calls = nil
		out, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", map[string]any{"username": "operator"})
		if err != nil || !res.Failed || !strings.Contains(res.Message, "needs it running") {
			t.Fatalf("want a refusal: %v %+v", err, res)
		}
		if sec, _ := out.SecretByLabel(credentials.SecretLabel); sec.Revision != before.Revision || len(h.wl.calls) != 0 {
			t.Errorf("changed: revision %d → %d, calls %v", before.Revision, sec.Revision, h.wl.calls)
		}
	})

	t.Run("etcd refusing the new root password rolls back: the action exits non-zero, Patroni keeps the old password", func(t *testing.T) {
		h, st := newHarness(t)
		h.wl.etcdSetErr = errors.New("etcdserver: request timed out")
		before, _ := st.SecretByLabel(credentials.SecretLabel)
		oldEtcd := before.Content[userKey("etcd")]
		out, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", map[string]any{"username": "etcd"})
		if err == nil {
			t.Fatalf("the action exited 0 (%+v): Juju would commit a password etcd does not have", res)
		}
		if sec, _ := out.SecretByLabel(credentials.SecretLabel); sec.Revision != before.Revision || sec.Content[userKey("etcd")] != oldEtcd {
			t.Errorf("the new secret revision was kept")
		}
		if h.wl.loaded.Etcd != oldEtcd || h.wl.etcdRoot != oldEtcd {
			t.Errorf("after rollback Patroni runs with the new etcd password or etcd changed")
		}
		if !slices.ContainsFunc(res.Logs, func(l string) bool { return strings.Contains(l, "rolling back") }) {
			t.Errorf("action-log does not say it rolled back: %q", res.Logs)
		}
	})

	t.Run("a given password of 16 characters is used as given", func(t *testing.T) {
		h, st := newHarness(t)
		const pw = "exactly-16-chars"
		_, res, err := h.ch.RunAction(context.Background(), h.d, st, "set-password", map[string]any{"username": "patroni", "password": pw})
		if err != nil || res.Failed || res.Results["password"] != pw || h.wl.loaded.PatroniAPI != pw {
			t.Fatalf("%v %+v", err, res)
		}
		assertNotShown(t, pw, res.Logs, nil)
	})
}

// userKey is a system user's key in the system-users secret.
func userKey(name string) string {
	u, _ := credentials.Lookup(name)
	return u.SecretKey
}
