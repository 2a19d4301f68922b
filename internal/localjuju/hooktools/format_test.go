package hooktools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	cases := []struct {
		name   string
		format string
		value  any
		want   string
	}{
		{"smart prints a string raw with a newline (§2.1)", formatSmart, "v", "v\n"},
		{"smart prints nothing for an empty string (§2.1)", formatSmart, "", ""},
		{"smart prints nothing for nil (§2.1)", formatSmart, nil, ""},
		{"smart prints a string list one per line (§2.1)", formatSmart, []string{"a", "b"}, "a\nb\n"},
		{"smart prints True for true (§2.1)", formatSmart, true, "True\n"},
		{"smart prints False for false (§2.1)", formatSmart, false, "False\n"},
		{"smart prints a map as YAML with sorted keys (§2.1)", formatSmart, map[string]any{"b": 1, "a": "x"}, "a: x\nb: 1\n"},
		{"smart prints a number as YAML (§2.1)", formatSmart, 5432, "5432\n"},
		{"json quotes a string (§2.1)", formatJSON, "v", "\"v\"\n"},
		{"json prints null for nil (§2.1)", formatJSON, nil, "null\n"},
		{"json prints a list (§2.1)", formatJSON, []string{"a", "b"}, "[\"a\",\"b\"]\n"},
		{"json prints booleans lower case (§2.1)", formatJSON, false, "false\n"},
		{"json escapes <, > and & (§2.1)", formatJSON, map[string]string{"k": "<a&b>"}, `{"k":"\u003ca\u0026b\u003e"}` + "\n"},
		{"yaml prints a string bare (§2.1)", formatYAML, "v", "v\n"},
		{"yaml prints nothing for nil (§2.1)", formatYAML, nil, ""},
		{"yaml prints true lower case (§2.1)", formatYAML, true, "true\n"},
		{"yaml quotes strings that would read as other types (§2.1)", formatYAML, map[string]string{"a": "123", "b": "yes", "c": ""}, "a: \"123\"\nb: \"yes\"\nc: \"\"\n"},
		{"yaml puts sequences at their key's column like yaml.v2 (§2.1)", formatYAML,
			map[string]any{"l": []any{"x", map[string]any{"k": "v", "j": []string{"q"}}}, "m": map[string]any{"nn": map[string]any{}}},
			"l:\n- x\n- j:\n  - q\n  k: v\nm:\n  nn: {}\n"},
		{"yaml prints multi-line strings as literal blocks (§2.1)", formatYAML, map[string]string{"cert": "line1\nline2"}, "cert: |-\n  line1\n  line2\n"},
		{"yaml prints an empty list as [] (§2.1)", formatYAML, []string{}, "[]\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(tc.format, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFlagsAndOutput(t *testing.T) {
	runCases(t, []toolCase{
		{name: "--help prints usage on stdout and exits 0 (§2.1)",
			tool: "config-get", args: []string{"--help"},
			check: func(t *testing.T, _ *fakeContext, r Result) {
				if !strings.HasPrefix(string(r.Stdout), "Usage: config-get [options] [<key>]\n") {
					t.Errorf("stdout %q", r.Stdout)
				}
			}},
		{name: "-h prints usage too (§2.1)", tool: "is-leader", args: []string{"-h"},
			check: func(t *testing.T, _ *fakeContext, r Result) {
				if !strings.HasPrefix(string(r.Stdout), "Usage: is-leader") {
					t.Errorf("stdout %q", r.Stdout)
				}
			}},
		{name: "an unknown long flag is a usage error (§2.1)",
			tool: "config-get", args: []string{"--bogus"}, code: 2, stderr: "ERROR option provided but not defined: --bogus\n"},
		{name: "an unknown short flag is a usage error (§2.1)",
			tool: "config-get", args: []string{"-x"}, code: 2, stderr: "ERROR option provided but not defined: -x\n"},
		{name: "a single dash long name is read as short flags (§2.1)",
			tool: "relation-get", args: []string{"-app"}, code: 2, stderr: "ERROR option provided but not defined: -a\n"},
		{name: "a flag without its value is a usage error (§2.1)",
			tool: "relation-get", args: []string{"-r"}, code: 2, stderr: "ERROR option needs an argument: -r\n"},
		{name: "an unknown format is a bad flag value (§2.1)",
			tool: "config-get", args: []string{"--format", "xml"}, code: 2,
			stderr: "ERROR invalid value \"xml\" for option --format: unknown format \"xml\"\n"},
		{name: "-- ends flag parsing (§2.1)",
			tool: "juju-log", args: []string{"--", "--not-a-flag"}, calls: []string{"log INFO --not-a-flag"}},
		{name: "an unknown tool is refused like the jujuc server does (§1.7)",
			tool: "pod-spec-set", code: 1, stderr: "ERROR bad request: unknown command: pod-spec-set\n"},
	})
	t.Run("-o file content is the formatted value (§2.1)", func(t *testing.T) {
		dir := t.TempDir()
		r := Run(newFake(), "config-get", []string{"--format=json", "--output", "o.json"}, Input{Dir: dir})
		b, err := os.ReadFile(filepath.Join(dir, "o.json"))
		if err != nil || r.Code != 0 || len(r.Stdout) != 0 {
			t.Fatalf("code %d stdout %q err %v", r.Code, r.Stdout, err)
		}
		if want := `{"name":"pg","port":5432,"tls":false}` + "\n"; string(b) != want {
			t.Errorf("got %q want %q", b, want)
		}
	})
}

func TestNames(t *testing.T) {
	want := []string{
		"action-fail", "action-get", "action-log", "action-set", "application-version-set",
		"close-port", "config-get", "credential-get", "goal-state", "is-leader", "juju-log",
		"juju-reboot", "leader-get", "leader-set", "network-get", "open-port", "opened-ports",
		"relation-get", "relation-ids", "relation-list", "relation-model-get", "relation-set",
		"secret-add", "secret-get", "secret-grant", "secret-ids", "secret-info-get", "secret-remove",
		"secret-revoke", "secret-set", "state-delete", "state-get", "state-set", "status-get",
		"status-set", "storage-add", "storage-get", "storage-list", "unit-get",
	}
	if got := strings.Join(Names(), " "); got != strings.Join(want, " ") {
		t.Errorf("Names() = %s\nwant      %s", got, strings.Join(want, " "))
	}
}
