package localjuju_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/netns"
)

// cli runs the localjuju CLI against one model home.
type cli struct {
	t    *testing.T
	home string
}

func (c cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	cmd := exec.Command(toolsBin, args...)
	cmd.Env = append(os.Environ(), "LOCALJUJU_HOME="+c.home)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		c.t.Fatalf("localjuju %q did not finish", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("localjuju %q: %v", args, err)
	}
	return code, so.String(), se.String()
}

func (c cli) must(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("localjuju %q: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

// cliStatus is the part of `status --format json` the tests read.
type cliStatus struct {
	Machines map[string]struct {
		InstanceID string `json:"instance-id"`
	} `json:"machines"`
	Applications map[string]struct {
		ApplicationStatus struct{ Current string } `json:"application-status"`
		Relations         map[string][]struct {
			RelatedApplication string `json:"related-application"`
		} `json:"relations"`
		Units map[string]struct {
			WorkloadStatus struct{ Current, Message string } `json:"workload-status"`
			JujuStatus     struct{ Current, Message string } `json:"juju-status"`
			Leader         bool                              `json:"leader"`
			PublicAddress  string                            `json:"public-address"`
		} `json:"units"`
	} `json:"applications"`
}

// shape is what must not change when a command is refused: applications,
// units, relations and config.
func (c cli) shape() string {
	c.t.Helper()
	var st cliStatus
	if err := json.Unmarshal([]byte(c.must("status", "--format", "json")), &st); err != nil {
		c.t.Fatal(err)
	}
	var lines []string
	for app, a := range st.Applications {
		for u := range a.Units {
			lines = append(lines, "unit "+u)
		}
		for ep, rs := range a.Relations {
			for _, r := range rs {
				lines = append(lines, "rel "+app+":"+ep+" "+r.RelatedApplication)
			}
		}
		lines = append(lines, "config "+app+" "+c.must("config", app, "--format", "json"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestCLI covers the CLI's bad-input handling (issue 2: clear message,
// non-zero exit, model unchanged), the juju shape of status --format json,
// run's exit code and destroy.
func TestCLI(t *testing.T) {
	needRoot(t)
	t.Parallel()
	c := cli{t: t, home: filepath.Join(t.TempDir(), "home")}
	scripts := t.TempDir()
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			c.run("destroy")
		}
	})
	other := writeCharm(t, map[string]string{
		"metadata.yaml": "name: other\nsummary: s\ndescription: d\nrequires:\n  db:\n    interface: pgsql\n",
		"dispatch":      "#!/bin/bash\nexit 0\n",
	}, map[string]os.FileMode{"dispatch": 0o755})
	// §6: an endpoint limit, a charm without bases, a subordinate.
	lim := writeCharm(t, map[string]string{
		"metadata.yaml": "name: lim\nsummary: s\ndescription: d\nrequires:\n  db:\n    interface: recorder-data\n    limit: 1\n",
		"dispatch":      "#!/bin/bash\nexit 0\n",
	}, map[string]os.FileMode{"dispatch": 0o755})
	noBases := writeCharm(t, map[string]string{
		"metadata.yaml": "name: nobases\nsummary: s\ndescription: d\n",
		"manifest.yaml": "",
	}, nil)
	sub := writeCharm(t, map[string]string{
		"metadata.yaml": "name: sub\nsummary: s\ndescription: d\nsubordinate: true\nrequires:\n  juju-info:\n    interface: juju-info\n    scope: container\n",
	}, nil)

	c.must("deploy", recorderDir, "rec", "-n", "2", "--config", "scripts-dir="+scripts)
	c.must("deploy", recorderDir, "rec2", "--config", "scripts-dir="+scripts)
	c.must("deploy", other, "other")
	c.must("deploy", lim, "lim", "--base", "ubuntu@22.04")
	c.must("integrate", "rec:source", "rec2:sink")
	c.must("integrate", "lim", "rec2")
	c.must("wait-idle", "--timeout", "2m")

	t.Run("show-secret shows a charm's secret, its content only with --reveal", func(t *testing.T) {
		// rec/0 may not lead: exec on the leader, which owns app secrets.
		var st cliStatus
		_ = json.Unmarshal([]byte(c.must("status", "--format", "json")), &st)
		leader := ""
		for name, u := range st.Applications["rec"].Units {
			if u.Leader {
				leader = name
			}
		}
		id := strings.TrimSpace(c.must("exec", "--unit", leader, "--", "secret-add", "--label", "cli-test", "token=s3cr3t-value"))
		if !strings.HasPrefix(id, "secret:") {
			t.Fatalf("secret-add printed %q", id)
		}
		hidden := c.must("show-secret", id)
		if strings.Contains(hidden, "s3cr3t-value") || !strings.Contains(hidden, "label: cli-test") {
			t.Errorf("show-secret without --reveal:\n%s", hidden)
		}
		if shown := c.must("show-secret", id, "--reveal"); !strings.Contains(shown, "token: s3cr3t-value") {
			t.Errorf("show-secret --reveal:\n%s", shown)
		}
	})

	t.Run("status --format json has the juju shape", func(t *testing.T) {
		var raw map[string]any
		out := c.must("status", "--format", "json")
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var st cliStatus
		_ = json.Unmarshal([]byte(out), &st)
		rec := st.Applications["rec"]
		if rec.ApplicationStatus.Current == "" || len(rec.Units) != 2 {
			t.Fatalf("status: %s", out)
		}
		leaders := 0
		for name, u := range rec.Units {
			if u.WorkloadStatus.Current != "unknown" || u.JujuStatus.Current != "idle" || u.PublicAddress == "" {
				t.Errorf("%s: %+v", name, u)
			}
			if u.Leader {
				leaders++
			}
		}
		if leaders != 1 {
			t.Errorf("%d leaders", leaders)
		}
		if rs := rec.Relations["source"]; len(rs) != 1 || rs[0].RelatedApplication != "rec2" {
			t.Errorf("relations: %+v", rec.Relations)
		}
		if u := raw["applications"].(map[string]any)["rec"].(map[string]any)["units"].(map[string]any)["rec/0"].(map[string]any); u["workload-status"] == nil || u["juju-status"] == nil {
			t.Errorf("unit keys: %v", u)
		}
	})

	before := c.shape()
	bad := []struct {
		name string
		args []string
		msg  string // expected in stderr
	}{
		{"unknown charm path", []string{"deploy", "/nonexistent/charm", "x"}, "nonexistent"},
		{"duplicate application", []string{"deploy", recorderDir, "rec"}, "already exists"},
		{"unknown config key at deploy", []string{"deploy", recorderDir, "rec3", "--config", "nosuch=1"}, "nosuch"},
		{"unknown app add-unit", []string{"add-unit", "nosuch"}, `"nosuch" not found`},
		{"unknown unit remove-unit", []string{"remove-unit", "rec/9"}, `"rec/9" not found`},
		{"invalid unit name", []string{"remove-unit", "rec"}, "rec"},
		{"unknown app integrate", []string{"integrate", "rec", "nosuch"}, "nosuch"},
		{"unknown endpoint", []string{"integrate", "rec:nosuch", "rec2:sink"}, "nosuch"},
		{"interfaces do not match", []string{"integrate", "rec", "other"}, "no matching interfaces"},
		{"interfaces do not match with endpoints", []string{"integrate", "rec:source", "other:db"}, "other"},
		{"relation already exists", []string{"integrate", "rec:source", "rec2:sink"}, "already exists"},
		{"unknown relation remove-relation", []string{"remove-relation", "rec", "other"}, "not found"},
		{"unknown config key", []string{"config", "rec", "nosuch=1"}, "nosuch"},
		{"wrong-typed int", []string{"config", "rec", "port=abc"}, "port"},
		{"wrong-typed bool", []string{"config", "rec", "debug=maybe"}, "debug"},
		{"wrong-typed float", []string{"config", "rec", "ratio=x"}, "ratio"},
		{"unknown app config", []string{"config", "nosuch", "port=1"}, "nosuch"},
		{"unknown action", []string{"run", "rec/0", "nosuch"}, "nosuch"},
		{"unknown unit run", []string{"run", "rec/9", "echo", "message=x"}, "rec/9"},
		{"unknown action param", []string{"run", "rec/0", "echo", "message=x", "bogus=1"}, "bogus"},
		{"wrong-typed action param", []string{"run", "rec/0", "echo", "message=x", "count=abc"}, "count"},
		{"missing required action param", []string{"run", "rec/0", "echo"}, "message"},
		{"unknown unit exec", []string{"exec", "--unit", "rec/9", "--", "true"}, "rec/9"},
		{"unknown secret show-secret", []string{"show-secret", "d0nosuchsecret000000"}, "not found"},
		{"show-secret without an id", []string{"show-secret"}, "usage"},
		{"unknown verb", []string{"frobnicate"}, "frobnicate"},
		{"§6 charm without bases", []string{"deploy", noBases, "nb"}, "charm does not define any bases, not valid"},
		{"§6 --base the charm does not declare", []string{"deploy", recorderDir, "rec3", "--base", "ubuntu@20.04"},
			`base "ubuntu@20.04/stable" is not supported, supported bases are: ubuntu@22.04`},
		{"§6 --series the charm does not declare", []string{"deploy", recorderDir, "rec3", "--series", "focal"},
			`base "ubuntu@20.04/stable" is not supported`},
		{"§6 --base Juju does not support", []string{"deploy", recorderDir, "rec3", "--base", "ubuntu@16.04"},
			"recorder is not available on the following base: ubuntu@16.04/stable"},
		{"§6 subordinate charm", []string{"deploy", sub, "sub"}, "subordinate charms are not supported by localjuju"},
		{"§6 endpoint limit", []string{"integrate", "lim", "rec"},
			`cannot add relation "lim:db rec:source": establishing a new relation for lim:db would exceed its maximum relation limit of 1 (quota limit exceeded)`},
	}
	for _, b := range bad {
		t.Run("bad input/"+b.name, func(t *testing.T) {
			code, out, errOut := c.run(b.args...)
			if code == 0 {
				t.Errorf("localjuju %q succeeded: %s", b.args, out)
			}
			if !strings.HasPrefix(errOut, "ERROR ") || !strings.Contains(errOut, b.msg) {
				t.Errorf("localjuju %q: stderr %q, want ERROR ... %q", b.args, errOut, b.msg)
			}
		})
	}
	c.must("wait-idle", "--timeout", "2m")
	if after := c.shape(); after != before {
		t.Errorf("refused commands changed the model:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	t.Run("run: results, exit code of a failed action", func(t *testing.T) {
		out := c.must("run", "rec/0", "echo", "message=hello", "--format", "json")
		var got map[string]struct {
			Status  string
			Results map[string]any
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got["rec/0"].Status != "completed" || got["rec/0"].Results["echo"] != "hello" {
			t.Errorf("run echo: %s", out)
		}
		if code, _, errOut := c.run("run", "rec/0", "fail"); code == 0 || !strings.Contains(errOut, "asked to fail") {
			t.Errorf("run fail: exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("run --params merges the file under the arguments, --string-args keeps strings", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		params := filepath.Join(t.TempDir(), "params.yaml")
		if err := os.WriteFile(params, []byte("top: x\nnested:\n  a: 1\n  b: from-file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := func(args ...string) string {
			t.Helper()
			var got map[string]struct{ Results map[string]any }
			raw := c.must(append([]string{"run", "rec/0", "dump", "--params", params, "--format", "json"}, args...)...)
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			s, _ := got["rec/0"].Results["params"].(string)
			return s
		}
		if got, want := out("nested.b=from-arg", "nested.c=5"), `{"nested":{"a":1,"b":"from-arg","c":5},"top":"x"}`; got != want {
			t.Errorf("run --params with arguments: action-get %s, want %s", got, want)
		}
		if got, want := out("nested.c=5", "--string-args"), `{"nested":{"a":1,"b":"from-file","c":"5"},"top":"x"}`; got != want {
			t.Errorf("run --params --string-args: action-get %s, want %s", got, want)
		}
		// Validation against actions.yaml still happens before queueing.
		if code, _, errOut := c.run("run", "rec/0", "echo", "message=5"); code == 0 || !strings.Contains(errOut, "message") {
			t.Errorf("run echo message=5 (an int): exit %d, stderr %q", code, errOut)
		}
		if got := c.must("run", "rec/0", "echo", "message=5", "--string-args", "--format", "json"); !strings.Contains(got, `"echo":"5"`) {
			t.Errorf("run echo message=5 --string-args: %s", got)
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte("message: hi\nbogus: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := c.run("run", "rec/0", "echo", "--params", bad); code == 0 || !strings.Contains(errOut, "bogus") {
			t.Errorf("run --params with an unknown param: exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("debug-log --include takes unit tags and applications", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		for include, prefix := range map[string]string{"unit-rec-0": "unit-rec-0: ", "rec/0": "unit-rec-0: ", "rec2": "unit-rec2-0: "} {
			out := c.must("debug-log", "--include", include, "--replay", "--no-tail")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if out == "" || len(lines) == 0 {
				t.Errorf("debug-log --include %s: no lines", include)
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, prefix) {
					t.Errorf("debug-log --include %s: line %q", include, l)
					break
				}
			}
		}
	})
	t.Run("ssh passes everything after the unit through", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		var st cliStatus
		_ = json.Unmarshal([]byte(c.must("status", "--format", "json")), &st)
		addr := st.Applications["rec"].Units["rec/0"].PublicAddress
		if out := c.must("ssh", "rec/0", "ip", "-4", "-o", "addr", "show"); addr == "" || !strings.Contains(out, " "+addr+"/") {
			t.Errorf("ssh rec/0 ip -4 -o addr show: %q, want the unit's address %s", out, addr)
		}
	})
	t.Run("§3.9 status of a unit in error; remove-unit --force", func(t *testing.T) {
		c := cli{t: t, home: c.home}
		failing := writeCharm(t, map[string]string{
			"metadata.yaml": "name: failing\nsummary: s\ndescription: d\n",
			"dispatch":      "#!/bin/bash\n[ \"$JUJU_HOOK_NAME\" = install ] && exit 1\nexit 0\n",
		}, map[string]os.FileMode{"dispatch": 0o755})
		c.must("deploy", failing, "failing")
		unit := func() (struct{ Workload, Agent, Message, AgentMessage string }, bool) {
			var st cliStatus
			_ = json.Unmarshal([]byte(c.must("status", "--format", "json")), &st)
			u, ok := st.Applications["failing"].Units["failing/0"]
			return struct{ Workload, Agent, Message, AgentMessage string }{u.WorkloadStatus.Current, u.JujuStatus.Current, u.WorkloadStatus.Message, u.JujuStatus.Message}, ok
		}
		waitUntil(t, "failing/0 in error", func() bool { u, _ := unit(); return u.Workload == "error" })
		if u, _ := unit(); u.Message != `hook failed: "install"` || u.Agent != "idle" || u.AgentMessage != "" {
			t.Errorf("status --format json of a unit whose hook failed: %+v, want workload error `hook failed: \"install\"`, juju-status idle", u)
		}
		row := ""
		for _, l := range strings.Split(c.must("status"), "\n") {
			if strings.HasPrefix(l, "failing/0") {
				row = l
			}
		}
		if f := strings.Fields(row); len(f) < 3 || f[1] != "error" || f[2] != "idle" || !strings.HasSuffix(row, `hook failed: "install"`) {
			t.Errorf("tabular status row of a unit in error: %q, want Workload error, Agent idle, the hook message", row)
		}
		if code, _, errOut := c.run("wait-idle", "--timeout", "30s"); code == 0 || !strings.Contains(errOut, "failing/0") {
			t.Errorf("wait-idle with a unit in error: exit %d, stderr %q", code, errOut)
		}
		// Its agent cannot run the teardown (the failed hook comes first):
		// --force removes it anyway.
		c.must("remove-unit", "--force", "failing/0")
		waitUntil(t, "failing/0 gone", func() bool { _, ok := unit(); return !ok })
		c.must("wait-idle", "--timeout", "2m")
	})
	t.Run("exec passes the exit code through", func(t *testing.T) {
		code, out, _ := c.run("exec", "--unit", "rec/1", "--", "echo $JUJU_UNIT_NAME; exit 3")
		if code != 3 || out != "rec/1\n" {
			t.Errorf("exec: exit %d, stdout %q", code, out)
		}
	})
	t.Run("destroy leaves no namespace", func(t *testing.T) {
		var st cliStatus
		_ = json.Unmarshal([]byte(c.must("status", "--format", "json")), &st)
		prefix := ""
		for _, m := range st.Machines {
			if i := strings.LastIndex(m.InstanceID, "-m"); i > 0 {
				prefix = m.InstanceID[:i]
			}
		}
		if prefix == "" {
			t.Fatalf("no machine instance id in status")
		}
		if names, _ := netns.List(prefix); len(names) == 0 {
			t.Fatalf("no namespace %s* before destroy", prefix)
		}
		c.must("destroy")
		destroyed = true
		if names, err := netns.List(prefix); err != nil || len(names) != 0 {
			t.Errorf("namespaces left after destroy: %v %v", names, err)
		}
		if _, err := os.Stat(filepath.Join(c.home, "model.json")); !os.IsNotExist(err) {
			t.Errorf("model state left after destroy: %v", err)
		}
	})
}
