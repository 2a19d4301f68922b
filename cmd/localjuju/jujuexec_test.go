package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgjuju/pgjuju/internal/localjuju/api"
)

// execErr is a juju-exec error as the user sees it: exit code and message.
type execErr struct {
	Code int
	Msg  string
}

// asExecErr turns err into an execErr; nil stays nil and an error of
// another type fails the test.
func asExecErr(t *testing.T, err error) *execErr {
	t.Helper()
	if err == nil {
		return nil
	}
	var je *jujuExecError
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T) is not a *jujuExecError", err, err)
	}
	return &execErr{Code: je.code, Msg: je.msg}
}

// parseJujuExecTests are the cases of TestParseJujuExecArgs.
var parseJujuExecTests = []struct {
	name    string
	args    []string
	want    jujuExecArgs
	wantErr *execErr
}{
	// The unit.
	{name: "-u name then one command string", args: []string{"-u", "pg/0", "echo hi; exit 3"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"echo hi; exit 3"}}},
	{name: "--unit with a space", args: []string{"--unit", "pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"ls"}}},
	{name: "--unit=", args: []string{"--unit=pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"ls"}}},
	{name: "-u=", args: []string{"-u=pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"ls"}}},
	{name: "-u tag", args: []string{"-u", "unit-pg-client-12", "ls"},
		want: jujuExecArgs{Unit: "unit-pg-client-12", Commands: []string{"ls"}}},
	{name: "-u invalid name is kept for the request to refuse", args: []string{"-u", "PG/0", "ls"},
		want: jujuExecArgs{Unit: "PG/0", Commands: []string{"ls"}}},
	{name: "last -u wins", args: []string{"-u", "pg/0", "-u", "pg/1", "ls"},
		want: jujuExecArgs{Unit: "pg/1", Commands: []string{"ls"}}},
	{name: "-u makes every positional argument a command", args: []string{"-u", "pg/0", "pg/1", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"pg/1", "ls"}}},
	{name: "-u \"\" (infer) makes every positional argument a command", args: []string{"-u", "", "pg/1", "ls"},
		want: jujuExecArgs{Commands: []string{"pg/1", "ls"}}},
	{name: "positional unit name", args: []string{"pg/0", "echo", "a b"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"echo", "a b"}}},
	{name: "positional unit tag (juju-run 2.9 form)", args: []string{"unit-pg-0", "hostname"},
		want: jujuExecArgs{Unit: "unit-pg-0", Commands: []string{"hostname"}}},
	{name: "positional with a leading zero is a command", args: []string{"pg/01", "ls"},
		want: jujuExecArgs{Commands: []string{"pg/01", "ls"}}},
	{name: "positional application name is a command", args: []string{"pg", "ls"},
		want: jujuExecArgs{Commands: []string{"pg", "ls"}}},
	{name: "no unit: commands only (unit inferred later)", args: []string{"echo $JUJU_UNIT_NAME"},
		want: jujuExecArgs{Commands: []string{"echo $JUJU_UNIT_NAME"}}},
	{name: "only the first positional can be the unit", args: []string{"ls", "pg/0"},
		want: jujuExecArgs{Commands: []string{"ls", "pg/0"}}},
	{name: "unit only", args: []string{"pg/0"},
		want: jujuExecArgs{Unit: "pg/0"}},
	{name: "no arguments", args: nil, want: jujuExecArgs{}},

	// "--" and where options stop.
	{name: "-- ends the options", args: []string{"-u", "pg/0", "--", "ls", "-la"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"ls", "-la"}}},
	{name: "-- then a positional unit", args: []string{"--", "pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"ls"}}},
	{name: "-- then an option-like command", args: []string{"--", "-u"},
		want: jujuExecArgs{Commands: []string{"-u"}}},
	{name: "options stop at the first positional", args: []string{"pg/0", "-r", "db:3", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"-r", "db:3", "ls"}}},
	{name: "a lone - is positional", args: []string{"-u", "pg/0", "-", "x"},
		want: jujuExecArgs{Unit: "pg/0", Commands: []string{"-", "x"}}},

	// Relation context options.
	{name: "-r endpoint:id", args: []string{"-u", "pg/0", "-r", "db:3", "relation-get"},
		want: jujuExecArgs{Unit: "pg/0", Relation: "db:3", Commands: []string{"relation-get"}}},
	{name: "--relation=id", args: []string{"--relation=3", "-u", "pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Relation: "3", Commands: []string{"ls"}}},
	{name: "--remote-unit and --force-remote-unit", args: []string{"-u", "pg/0", "-r", "3", "--remote-unit", "app/7", "--force-remote-unit", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Relation: "3", RemoteUnit: "app/7", ForceRemoteUnit: true, Commands: []string{"ls"}}},
	{name: "--remote-app is accepted", args: []string{"-u", "pg/0", "-r", "3", "--remote-app=app", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Relation: "3", RemoteApp: "app", Commands: []string{"ls"}}},
	{name: "positional unit after options", args: []string{"-r", "db:3", "pg/0", "ls"},
		want: jujuExecArgs{Unit: "pg/0", Relation: "db:3", Commands: []string{"ls"}}},

	// --no-context.
	{name: "--no-context: commands only", args: []string{"--no-context", "hostname"},
		want: jujuExecArgs{NoContext: true, Commands: []string{"hostname"}}},
	{name: "--no-context: a unit-like first argument is a command", args: []string{"--no-context", "pg/0", "ls"},
		want: jujuExecArgs{NoContext: true, Commands: []string{"pg/0", "ls"}}},
	{name: "--no-context with -u", args: []string{"--no-context", "-u", "pg/0", "ls"},
		want: jujuExecArgs{NoContext: true, Unit: "pg/0", Commands: []string{"ls"}}},

	// Help.
	{name: "-h", args: []string{"-h"}, want: jujuExecArgs{Help: true}},
	{name: "--help after options", args: []string{"-u", "pg/0", "--help", "ls"}, want: jujuExecArgs{Help: true}},
	{name: "help after an unknown option is an error", args: []string{"--all", "-h"},
		wantErr: &execErr{2, "option provided but not defined: --all"}},

	// Errors, exit 2.
	{name: "unknown long option (juju exec's --all)", args: []string{"--all", "ls"},
		wantErr: &execErr{2, "option provided but not defined: --all"}},
	{name: "unknown option (juju exec's --app)", args: []string{"--app", "pg", "ls"},
		wantErr: &execErr{2, "option provided but not defined: --app"}},
	{name: "unknown option (juju exec's --timeout)", args: []string{"--timeout=5m", "-u", "pg/0", "ls"},
		wantErr: &execErr{2, "option provided but not defined: --timeout=5m"}},
	{name: "unknown short option", args: []string{"-x"},
		wantErr: &execErr{2, "option provided but not defined: -x"}},
	{name: "-u without its value", args: []string{"-u"},
		wantErr: &execErr{2, "flag needs an argument: -u"}},
	{name: "-r without its value", args: []string{"-u", "pg/0", "-r"},
		wantErr: &execErr{2, "flag needs an argument: -r"}},
	{name: "--remote-unit without its value", args: []string{"--remote-unit"},
		wantErr: &execErr{2, "flag needs an argument: --remote-unit"}},
	{name: "--remote-app without its value", args: []string{"--remote-app"},
		wantErr: &execErr{2, "flag needs an argument: --remote-app"}},
}

func TestParseJujuExecArgs(t *testing.T) {
	for _, tt := range parseJujuExecTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseJujuExecArgs(tt.args)
			if diff := cmp.Diff(tt.wantErr, asExecErr(t, err)); diff != "" {
				t.Fatalf("parseJujuExecArgs(%q) error (-want +got):\n%s", tt.args, diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseJujuExecArgs(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// noAgent is an agents directory with no unit, or with several.
const noAgent = ""

// jujuExecRequestTests are the cases of TestJujuExecRequest.
var jujuExecRequestTests = []struct {
	name     string
	args     []string
	inferred string // the only agent directory on the machine, or noAgent
	want     jujuExecRequest
	wantErr  *execErr
}{
	{name: "-u name", args: []string{"-u", "pg/0", "echo $JUJU_UNIT_NAME"}, inferred: "unit-other-1",
		want: jujuExecRequest{Tag: "unit-pg-0", Args: api.RunCommandsArgs{
			Commands: "echo $JUJU_UNIT_NAME", RelationID: -1, UnitName: "pg/0"}}},
	{name: "-u tag", args: []string{"-u", "unit-pg-client-12", "ls"},
		want: jujuExecRequest{Tag: "unit-pg-client-12", Args: api.RunCommandsArgs{
			Commands: "ls", RelationID: -1, UnitName: "pg-client/12"}}},
	{name: "positional unit, several commands shell-quoted", args: []string{"pg/0", "echo", "$JUJU_UNIT_NAME", "a b"},
		want: jujuExecRequest{Tag: "unit-pg-0", Args: api.RunCommandsArgs{
			Commands: `echo '$JUJU_UNIT_NAME' 'a b'`, RelationID: -1, UnitName: "pg/0"}}},
	{name: "juju-run 2.9: positional tag", args: []string{"unit-pg-3", "hostname"},
		want: jujuExecRequest{Tag: "unit-pg-3", Args: api.RunCommandsArgs{
			Commands: "hostname", RelationID: -1, UnitName: "pg/3"}}},
	{name: "inferred from the only agent", args: []string{"echo hi"}, inferred: "unit-pg-2",
		want: jujuExecRequest{Tag: "unit-pg-2", Args: api.RunCommandsArgs{
			Commands: "echo hi", RelationID: -1, UnitName: "pg/2"}}},
	{name: "-u \"\" infers", args: []string{"-u", "", "pg/1"}, inferred: "unit-pg-2",
		want: jujuExecRequest{Tag: "unit-pg-2", Args: api.RunCommandsArgs{
			Commands: "pg/1", RelationID: -1, UnitName: "pg/2"}}},
	{name: "-r endpoint:id", args: []string{"-u", "pg/0", "-r", "db:3", "relation-get"},
		want: jujuExecRequest{Tag: "unit-pg-0", Args: api.RunCommandsArgs{
			Commands: "relation-get", RelationID: 3, UnitName: "pg/0"}}},
	{name: "-r bare id, remote unit forced, remote app not passed on",
		args: []string{"-u", "pg/0", "-r", "7", "--remote-unit", "app/1", "--remote-app", "app", "--force-remote-unit", "ls"},
		want: jujuExecRequest{Tag: "unit-pg-0", Args: api.RunCommandsArgs{
			Commands: "ls", RelationID: 7, RemoteUnitName: "app/1", ForceRemoteUnit: true, UnitName: "pg/0"}}},
	{name: "-r with several colons uses the last part", args: []string{"-u", "pg/0", "-r", "a:b:4", "ls"},
		want: jujuExecRequest{Tag: "unit-pg-0", Args: api.RunCommandsArgs{
			Commands: "ls", RelationID: 4, UnitName: "pg/0"}}},

	{name: "no unit and none to infer", args: []string{"ls"}, inferred: noAgent,
		wantErr: &execErr{2, "missing unit-name"}},
	{name: "no arguments", args: nil, inferred: noAgent,
		wantErr: &execErr{2, "missing unit-name"}},
	{name: "unit without commands", args: []string{"-u", "pg/0"},
		wantErr: &execErr{2, "missing commands"}},
	{name: "positional unit without commands", args: []string{"pg/0"},
		wantErr: &execErr{2, "missing commands"}},
	{name: "inferred unit without commands", args: nil, inferred: "unit-pg-0",
		wantErr: &execErr{2, "missing commands"}},
	{name: "invalid -u", args: []string{"-u", "PG/0", "ls"},
		wantErr: &execErr{2, `invalid unit name "PG/0"`}},
	{name: "-u with a leading zero", args: []string{"-u", "pg/01", "ls"},
		wantErr: &execErr{2, `invalid unit name "pg/01"`}},
	{name: "-u application name", args: []string{"-u", "pg", "ls"},
		wantErr: &execErr{2, `invalid unit name "pg"`}},
	{name: "inferred directory that is no unit tag", args: []string{"ls"}, inferred: "unit-pg",
		wantErr: &execErr{2, `invalid unit name "unit-pg"`}},
	{name: "invalid relation id", args: []string{"-u", "pg/0", "-r", "x:y", "ls"},
		wantErr: &execErr{1, "invalid relation id"}},
	{name: "empty relation id after the colon", args: []string{"-u", "pg/0", "-r", "db:", "ls"},
		wantErr: &execErr{1, "invalid relation id"}},
	{name: "remote unit without a relation", args: []string{"-u", "pg/0", "--remote-unit", "app/0", "ls"},
		wantErr: &execErr{1, "remote unit: app/0, provided without a relation"}},
}

func TestJujuExecRequest(t *testing.T) {
	for _, tt := range jujuExecRequestTests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseJujuExecArgs(tt.args)
			if err != nil {
				t.Fatalf("parseJujuExecArgs(%q): %v", tt.args, err)
			}
			got, err := a.request(func() string { return tt.inferred })
			if diff := cmp.Diff(tt.wantErr, asExecErr(t, err)); diff != "" {
				t.Fatalf("request of %q error (-want +got):\n%s", tt.args, diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request of %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestJujuExecRequestInfersOnlyWithoutUnit: the agents directory is looked
// at only when no unit was given.
func TestJujuExecRequestInfersOnlyWithoutUnit(t *testing.T) {
	a, err := parseJujuExecArgs([]string{"-u", "pg/0", "ls"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.request(func() string { t.Error("infer called with -u given"); return "" }); err != nil {
		t.Fatal(err)
	}
}

func TestJujuExecNoContext(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr *execErr
	}{
		{name: "one command string passed as is", args: []string{"--no-context", "echo $HOME; exit 2"}, want: "echo $HOME; exit 2"},
		{name: "several arguments shell-quoted", args: []string{"--no-context", "pg/0", "echo", "it's"}, want: `pg/0 echo 'it'"'"'s'`},
		{name: "-u \"\" is no unit", args: []string{"--no-context", "-u", "", "ls"}, want: "ls"},
		{name: "after --", args: []string{"--no-context", "--", "ls", "-l"}, want: "ls -l"},
		{name: "with -u", args: []string{"--no-context", "-u", "pg/0", "ls"},
			wantErr: &execErr{2, `-no-context cannot be passed with an explicit unit-name (-u "pg/0")`}},
		{name: "-u after it", args: []string{"-u", "unit-pg-0", "--no-context", "ls"},
			wantErr: &execErr{2, `-no-context cannot be passed with an explicit unit-name (-u "unit-pg-0")`}},
		{name: "no commands", args: []string{"--no-context"},
			wantErr: &execErr{2, "missing commands"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseJujuExecArgs(tt.args)
			if err != nil {
				t.Fatalf("parseJujuExecArgs(%q): %v", tt.args, err)
			}
			if !a.NoContext {
				t.Fatalf("parseJujuExecArgs(%q): NoContext not set", tt.args)
			}
			got, err := a.noContextCommands()
			if diff := cmp.Diff(tt.wantErr, asExecErr(t, err)); diff != "" {
				t.Fatalf("noContextCommands of %q error (-want +got):\n%s", tt.args, diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("noContextCommands of %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestInHookError(t *testing.T) {
	tests := []struct {
		name      string
		binary    string
		contextID string
		want      *execErr
	}{
		{name: "juju-exec outside a hook", binary: "juju-exec", contextID: ""},
		{name: "juju-exec in a hook", binary: "juju-exec", contextID: "pg/0-install-0123",
			want: &execErr{2, `juju-exec cannot be called from within a hook, have context "pg/0-install-0123"`}},
		{name: "juju-run (2.9) in a hook", binary: "juju-run", contextID: "pg/0-install-42",
			want: &execErr{2, `juju-run cannot be called from within a hook, have context "pg/0-install-42"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, asExecErr(t, inHookError(tt.binary, tt.contextID))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestJoinCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"one argument as is", []string{"echo a b | wc -c; exit 3"}, "echo a b | wc -c; exit 3"},
		{"plain words joined", []string{"ls", "-la", "/tmp"}, "ls -la /tmp"},
		{"space quoted", []string{"echo", "a b"}, "echo 'a b'"},
		{"dollar quoted", []string{"echo", "$HOME"}, "echo '$HOME'"},
		{"single quote escaped", []string{"echo", "it's"}, `echo 'it'"'"'s'`},
		{"empty argument", []string{"echo", ""}, "echo ''"},
		{"glob and pipe quoted", []string{"ls", "*", "|"}, "ls '*' '|'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, joinCommands(tt.args)); diff != "" {
				t.Errorf("joinCommands(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}
