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
			WorkloadStatus struct{ Current string } `json:"workload-status"`
			JujuStatus     struct{ Current string } `json:"juju-status"`
			Leader         bool                     `json:"leader"`
			PublicAddress  string                   `json:"public-address"`
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

	c.must("deploy", recorderDir, "rec", "-n", "2", "--config", "scripts-dir="+scripts)
	c.must("deploy", recorderDir, "rec2", "--config", "scripts-dir="+scripts)
	c.must("deploy", other, "other")
	c.must("integrate", "rec:source", "rec2:sink")
	c.must("wait-idle", "--timeout", "2m")

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
		{"unknown verb", []string{"frobnicate"}, "frobnicate"},
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
