package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// usageMsg is the message of a usage error (exit 2), "" for nil; another
// error type fails the test.
func usageMsg(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not a usageError", err, err)
	}
	return ue.msg
}

func TestParseArgs(t *testing.T) {
	valued := map[string]string{"n": "n", "num-units": "n", "config": "config"}
	boolean := map[string]string{"force": "force"}
	tests := []struct {
		name    string
		args    []string
		want    parsed
		wantErr string
	}{
		{name: "positional only", args: []string{"a", "b"}, want: parsed{pos: []string{"a", "b"}}},
		{name: "-n value", args: []string{"-n", "3"}, want: parsed{flags: map[string][]string{"n": {"3"}}}},
		{name: "--n value", args: []string{"--n", "3"}, want: parsed{flags: map[string][]string{"n": {"3"}}}},
		{name: "-n=value", args: []string{"-n=3"}, want: parsed{flags: map[string][]string{"n": {"3"}}}},
		{name: "alias maps to its canonical name", args: []string{"--num-units=2"}, want: parsed{flags: map[string][]string{"n": {"2"}}}},
		{name: "repeated values kept in order", args: []string{"--config", "a=1", "--config=b=2"},
			want: parsed{flags: map[string][]string{"config": {"a=1", "b=2"}}}},
		{name: "empty value", args: []string{"--config="}, want: parsed{flags: map[string][]string{"config": {""}}}},
		{name: "value that looks like an option", args: []string{"--config", "--force"},
			want: parsed{flags: map[string][]string{"config": {"--force"}}}},
		{name: "boolean", args: []string{"--force"}, want: parsed{flags: map[string][]string{"force": {"true"}}}},
		{name: "options between positionals", args: []string{"pg", "-n", "2", "x", "--force"},
			want: parsed{pos: []string{"pg", "x"}, flags: map[string][]string{"n": {"2"}, "force": {"true"}}}},
		{name: "lone - is positional", args: []string{"-"}, want: parsed{pos: []string{"-"}}},
		{name: "-- keeps the rest apart", args: []string{"pg", "--", "ls", "-n", "--force"},
			want: parsed{pos: []string{"pg"}, rest: []string{"ls", "-n", "--force"}}},
		{name: "unknown option", args: []string{"pg", "--all"}, wantErr: "option provided but not defined: --all"},
		{name: "boolean flag list does not make valued flags", args: []string{"--n"}, wantErr: "option needs an argument: --n"},
		{name: "missing value", args: []string{"-n"}, wantErr: "option needs an argument: -n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args, valued, boolean)
			if diff := cmp.Diff(tt.wantErr, usageMsg(t, err)); diff != "" {
				t.Fatalf("parseArgs(%q) error (-want +got):\n%s", tt.args, diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(parsed{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseArgs(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestParsedGetHas(t *testing.T) {
	p, err := parseArgs([]string{"-n", "1", "--n=2", "--force"}, map[string]string{"n": "n"}, map[string]string{"force": "force"})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{p.get("n", "x"), p.get("m", "dflt"), p.has("force"), p.has("n"), p.has("m")}
	if diff := cmp.Diff([]any{"2", "dflt", true, true, false}, got); diff != "" {
		t.Errorf("get/has (-want +got):\n%s", diff)
	}
}

// TestParseExecArgs covers `localjuju exec`, the CLI's counterpart of
// `juju exec --unit` (one unit; juju's --all, --app, --machine and
// --operator are not offered).
func TestParseExecArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    controller.ExecArgs
		wantErr string
	}{
		{name: "--unit and the command after --", args: []string{"--unit", "pg/0", "--", "ls", "-la"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "ls -la", RelationID: -1}},
		{name: "-u and one command string", args: []string{"-u", "pg/0", "echo hi; exit 3"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "echo hi; exit 3", RelationID: -1}},
		{name: "--unit=", args: []string{"--unit=pg/0", "hostname"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "hostname", RelationID: -1}},
		{name: "unit after the command", args: []string{"hostname", "--unit", "pg/1"},
			want: controller.ExecArgs{Unit: "pg/1", Commands: "hostname", RelationID: -1}},
		{name: "last --unit wins", args: []string{"-u", "pg/0", "-u", "pg/1", "ls"},
			want: controller.ExecArgs{Unit: "pg/1", Commands: "ls", RelationID: -1}},
		{name: "several arguments shell-quoted", args: []string{"-u", "pg/0", "--", "echo", "a b", "$X"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "echo 'a b' '$X'", RelationID: -1}},
		{name: "positional arguments, then those after --", args: []string{"-u", "pg/0", "echo", "--", "-n", "x"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "echo -n x", RelationID: -1}},
		{name: "--timeout and --format accepted", args: []string{"--timeout", "5m", "--format=json", "-u", "pg/0", "--", "true"},
			want: controller.ExecArgs{Unit: "pg/0", Commands: "true", RelationID: -1}},
		{name: "missing --unit", args: []string{"--", "ls"}, wantErr: "missing --unit"},
		{name: "empty --unit", args: []string{"--unit=", "ls"}, wantErr: "missing --unit"},
		{name: "no commands", args: []string{"-u", "pg/0"}, wantErr: "no commands specified"},
		{name: "nothing after --", args: []string{"-u", "pg/0", "--"}, wantErr: "no commands specified"},
		{name: "--unit without value", args: []string{"--unit"}, wantErr: "option needs an argument: --unit"},
		{name: "--all is not offered", args: []string{"--all", "--", "ls"}, wantErr: "option provided but not defined: --all"},
		{name: "--app is not offered", args: []string{"--app", "pg", "--", "ls"}, wantErr: "option provided but not defined: --app"},
		{name: "--operator is not offered", args: []string{"--operator", "-u", "pg/0", "--", "ls"}, wantErr: "option provided but not defined: --operator"},
		{name: "command option without --", args: []string{"-u", "pg/0", "ls", "-la"}, wantErr: "option provided but not defined: -la"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExecArgs(tt.args)
			if diff := cmp.Diff(tt.wantErr, usageMsg(t, err)); diff != "" {
				t.Fatalf("parseExecArgs(%q) error (-want +got):\n%s", tt.args, diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseExecArgs(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

var testModel = controller.ModelStatus{Name: "test", Type: "iaas", Controller: "localjuju", Cloud: "localjuju", Version: "3.6.4"}

// unitStatus is a unit's status for the table tests.
func unitStatus(workload, agent, machine, addr, msg string, leader bool, ports ...string) controller.UnitStatus {
	return controller.UnitStatus{
		WorkloadStatus: controller.StatusValue{Current: workload, Message: msg, Since: "2025-01-01T00:00:00Z"},
		JujuStatus:     controller.StatusValue{Current: agent, Version: "3.6.4"},
		Leader:         leader, Machine: machine, PublicAddress: addr, OpenPorts: ports,
	}
}

// twoApps is postgresql (one unit) integrated with myapp, plus a peer
// relation.
var twoApps = controller.Status{
	Model: testModel,
	Applications: map[string]controller.AppStatus{
		"postgresql": {
			Charm: "postgresql", Version: "14.11", ApplicationStatus: controller.StatusValue{Current: "active"},
			Units: map[string]controller.UnitStatus{"postgresql/0": unitStatus("active", "idle", "0", "10.0.0.2", "Primary", true, "5432/tcp")},
			Relations: map[string][]controller.RelatedApp{
				"restart":  {{RelatedApplication: "postgresql", Interface: "rolling_op", Scope: "global"}},
				"database": {{RelatedApplication: "myapp", Interface: "postgresql_client", Scope: "global"}},
			},
		},
		"myapp": {
			Charm: "myapp", ApplicationStatus: controller.StatusValue{Current: "waiting", Message: "waiting for db"},
			Units:     map[string]controller.UnitStatus{"myapp/0": unitStatus("waiting", "idle", "3", "10.0.0.5", "waiting for db", true)},
			Relations: map[string][]controller.RelatedApp{"db": {{RelatedApplication: "postgresql", Interface: "postgresql_client", Scope: "global"}}},
		},
	},
}

// twoAppsTables are the model, application and unit tables of twoApps.
var twoAppsTables = []string{
	"Model  Controller  Cloud      Version",
	"test   localjuju   localjuju  3.6.4",
	"",
	"App         Version  Status   Scale  Charm       Message",
	"myapp                waiting  1      myapp       waiting for db",
	"postgresql  14.11    active   1      postgresql",
	"",
	"Unit           Workload  Agent  Machine  Address   Ports     Message",
	"myapp/0*       waiting   idle   3        10.0.0.5            waiting for db",
	"postgresql/0*  active    idle   0        10.0.0.2  5432/tcp  Primary",
}

func TestStatusTable(t *testing.T) {
	tests := []struct {
		name      string
		st        controller.Status
		relations bool
		want      []string // lines
	}{
		{name: "empty model", st: controller.Status{Model: testModel}, want: []string{
			"Model  Controller  Cloud      Version",
			"test   localjuju   localjuju  3.6.4",
			"",
			"App  Version  Status  Scale  Charm  Message",
			"",
			"Unit  Workload  Agent  Machine  Address  Ports  Message",
		}},
		{name: "empty model with --relations", st: controller.Status{Model: testModel}, relations: true, want: []string{
			"Model  Controller  Cloud      Version",
			"test   localjuju   localjuju  3.6.4",
			"",
			"App  Version  Status  Scale  Charm  Message",
			"",
			"Unit  Workload  Agent  Machine  Address  Ports  Message",
		}},
		{name: "leader, ports, messages, unit in error, workload version", st: threeUnits, want: threeUnitsTables},
		{name: "--relations without integrations", st: threeUnits, relations: true, want: threeUnitsTables},
		{name: "integrations hidden without --relations", st: twoApps, want: twoAppsTables},
		{name: "--relations: sorted integrations, peer included", st: twoApps, relations: true, want: append(slices.Clone(twoAppsTables),
			"",
			"Integration          Related     Interface",
			"myapp:db             postgresql  postgresql_client",
			"postgresql:database  myapp       postgresql_client",
			"postgresql:restart   postgresql  rolling_op",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.Join(tt.want, "\n") + "\n"
			if diff := cmp.Diff(want, statusTable(tt.st, tt.relations)); diff != "" {
				t.Errorf("statusTable (-want +got):\n%s", diff)
			}
		})
	}
}

// threeUnits is one application whose units show the table's cases: the
// leader, several ports, no message, a failed hook, a lost agent.
var threeUnits = controller.Status{
	Model: testModel,
	Applications: map[string]controller.AppStatus{
		"postgresql": {
			Charm: "postgresql", Version: "14.11",
			ApplicationStatus: controller.StatusValue{Current: "error", Message: `hook failed: "install"`},
			Units: map[string]controller.UnitStatus{
				"postgresql/2": unitStatus("error", "idle", "2", "10.0.0.4", `hook failed: "install"`, false),
				"postgresql/0": unitStatus("active", "idle", "0", "10.0.0.2", "Primary", true, "5432/tcp"),
				"postgresql/1": unitStatus("active", "executing", "1", "10.0.0.3", "", false, "5432/tcp", "8008/tcp"),
				"postgresql/3": unitStatus("unknown", "lost", "4", "", "agent lost, see 'juju show-status-log postgresql/3'", false),
			},
		},
	},
}

var threeUnitsTables = []string{
	"Model  Controller  Cloud      Version",
	"test   localjuju   localjuju  3.6.4",
	"",
	"App         Version  Status  Scale  Charm       Message",
	`postgresql  14.11    error   4      postgresql  hook failed: "install"`,
	"",
	"Unit           Workload  Agent      Machine  Address   Ports              Message",
	"postgresql/0*  active    idle       0        10.0.0.2  5432/tcp           Primary",
	"postgresql/1   active    executing  1        10.0.0.3  5432/tcp,8008/tcp",
	`postgresql/2   error     idle       2        10.0.0.4                     hook failed: "install"`,
	"postgresql/3   unknown   lost       4                                     agent lost, see 'juju show-status-log postgresql/3'",
}
