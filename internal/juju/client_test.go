package juju

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The test binary re-executes itself as a fake hook tool (as golang/go's
// os/exec tests do): fakeTools symlinks each tool name to os.Args[0] in a
// temp dir put on the client's PATH, and TestMain, seeing FAKE_TOOL_DIR,
// behaves as the tool named by argv[0].

const fakeToolDirEnv = "FAKE_TOOL_DIR"

// fakeReply is what a fake tool prints and how it exits.
type fakeReply struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
}

// fakeCall is what a fake tool saw.
type fakeCall struct {
	Tool  string   `json:"tool"`
	Args  []string `json:"args"`
	Stdin string   `json:"stdin,omitempty"`
	// File is the content of a --file argument other than "-", read while
	// the tool ran, and FileMode its permission bits.
	File     string `json:"file,omitempty"`
	FileMode string `json:"fileMode,omitempty"`
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeToolDirEnv); dir != "" {
		os.Exit(runFakeTool(dir))
	}
	os.Exit(m.Run())
}

func runFakeTool(dir string) int {
	tool := filepath.Base(os.Args[0])
	c := fakeCall{Tool: tool, Args: os.Args[1:]}
	for i, a := range c.Args {
		if a == "--file" && i+1 < len(c.Args) {
			if p := c.Args[i+1]; p == "-" {
				in, _ := io.ReadAll(os.Stdin)
				c.Stdin = string(in)
			} else if fi, err := os.Stat(p); err == nil {
				data, _ := os.ReadFile(p)
				c.File, c.FileMode = string(data), fi.Mode().Perm().String()
			}
		}
	}
	rec, _ := json.Marshal(c)
	f, err := os.OpenFile(filepath.Join(dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 99
	}
	f.Write(append(rec, '\n'))
	f.Close()
	var r fakeReply
	if data, err := os.ReadFile(filepath.Join(dir, tool+".reply")); err == nil {
		json.Unmarshal(data, &r)
	}
	fmt.Fprint(os.Stdout, r.Stdout)
	fmt.Fprint(os.Stderr, r.Stderr)
	return r.Exit
}

// fakeTools is a PATH of fake tools.
type fakeTools struct {
	t   *testing.T
	dir string
}

func newFakeTools(t *testing.T, tools ...string) *fakeTools {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		if err := os.Symlink(self, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeTools{t: t, dir: dir}
}

func (f *fakeTools) reply(tool string, r fakeReply) {
	data, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(f.dir, tool+".reply"), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeTools) client() *Client {
	return &Client{Environ: []string{"PATH=" + f.dir, fakeToolDirEnv + "=" + f.dir}}
}

func (f *fakeTools) calls() []fakeCall {
	data, err := os.ReadFile(filepath.Join(f.dir, "calls.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var calls []fakeCall
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c fakeCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			f.t.Fatal(err)
		}
		calls = append(calls, c)
	}
	os.Remove(filepath.Join(f.dir, "calls.jsonl"))
	return calls
}

// allTools are the tools the client runs.
var allTools = []string{
	"relation-get", "relation-set", "relation-ids", "relation-list",
	"config-get", "unit-get", "network-get", "is-leader", "leader-get",
	"leader-set", "status-set", "application-version-set", "action-get",
	"action-set", "action-fail", "action-log", "juju-log", "open-port",
	"close-port", "opened-ports", "state-get", "state-set", "state-delete",
	"secret-add", "secret-get", "secret-set", "secret-grant", "secret-revoke",
	"secret-remove", "secret-ids", "secret-info-get", "storage-get",
	"storage-list", "goal-state",
}

// TestClientArgv runs every tool func once and checks the argv and stdin
// the tool saw and the decoded output.
func TestClientArgv(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		reply fakeReply
		run   func(cl *Client) (any, error)
		want  any
		call  fakeCall
	}{
		{
			name:  "relation-get reads a remote unit's whole bag as JSON",
			reply: fakeReply{Stdout: `{"private-address":"10.0.0.5"}`},
			run: func(cl *Client) (any, error) {
				return cl.RelationGet(ctx, "db:3", "pg-client/0", false)
			},
			want: map[string]string{"private-address": "10.0.0.5"},
			call: fakeCall{Tool: "relation-get", Args: []string{"--format=json", "-r", "db:3", "-", "pg-client/0"}},
		},
		{
			name:  "relation-get of an app bag passes --app; null reads as empty",
			reply: fakeReply{Stdout: "null\n"},
			run: func(cl *Client) (any, error) {
				return cl.RelationGet(ctx, "db:3", "pg-client", true)
			},
			want: map[string]string{},
			call: fakeCall{Tool: "relation-get", Args: []string{"--format=json", "-r", "db:3", "--app", "-", "pg-client"}},
		},
		{
			name: "relation-set sends values as JSON on stdin, never in argv",
			run: func(cl *Client) (any, error) {
				return nil, cl.RelationSet(ctx, "database:7", true, map[string]string{"password": "s3cr3t-value", "gone": ""})
			},
			call: fakeCall{Tool: "relation-set", Args: []string{"-r", "database:7", "--app", "--file", "-"},
				Stdin: `{"gone":"","password":"s3cr3t-value"}`},
		},
		{
			name:  "relation-ids of an endpoint",
			reply: fakeReply{Stdout: `["db:3","db:5"]`},
			run:   func(cl *Client) (any, error) { return cl.RelationIDs(ctx, "db") },
			want:  []string{"db:3", "db:5"},
			call:  fakeCall{Tool: "relation-ids", Args: []string{"--format=json", "db"}},
		},
		{
			name:  "relation-list of the hook's relation",
			reply: fakeReply{Stdout: `[]`},
			run:   func(cl *Client) (any, error) { return cl.RelationList(ctx, "") },
			want:  []string{},
			call:  fakeCall{Tool: "relation-list", Args: []string{"--format=json"}},
		},
		{
			name:  "relation-list --app names the remote app",
			reply: fakeReply{Stdout: `"pg-client"`},
			run:   func(cl *Client) (any, error) { return cl.RelationRemoteApp(ctx, "db:3") },
			want:  "pg-client",
			call:  fakeCall{Tool: "relation-list", Args: []string{"--format=json", "--app", "-r", "db:3"}},
		},
		{
			name:  "config-get keeps numbers exact",
			reply: fakeReply{Stdout: `{"listen_port":5432,"locale":"C.UTF-8"}`},
			run:   func(cl *Client) (any, error) { return cl.ConfigGet(ctx) },
			want:  map[string]any{"listen_port": json.Number("5432"), "locale": "C.UTF-8"},
			call:  fakeCall{Tool: "config-get", Args: []string{"--format=json"}},
		},
		{
			name:  "unit-get private-address",
			reply: fakeReply{Stdout: `"10.0.0.5"`},
			run:   func(cl *Client) (any, error) { return cl.UnitGet(ctx, "private-address") },
			want:  "10.0.0.5",
			call:  fakeCall{Tool: "unit-get", Args: []string{"--format=json", "private-address"}},
		},
		{
			name:  "network-get of a binding",
			reply: fakeReply{Stdout: `{"bind-addresses":[{"mac-address":"m","interface-name":"eth0","addresses":[{"hostname":"","value":"10.0.0.5","cidr":"10.0.0.0/24"}]}],"egress-subnets":["10.0.0.5/32"],"ingress-addresses":["10.0.0.6"]}`},
			run: func(cl *Client) (any, error) {
				n, err := cl.NetworkGet(ctx, "database-peers", "")
				return []string{n.BindAddress(), n.IngressAddress()}, err
			},
			want: []string{"10.0.0.5", "10.0.0.6"},
			call: fakeCall{Tool: "network-get", Args: []string{"--format=json", "database-peers"}},
		},
		{
			name:  "is-leader",
			reply: fakeReply{Stdout: "true\n"},
			run:   func(cl *Client) (any, error) { return cl.IsLeader(ctx) },
			want:  true,
			call:  fakeCall{Tool: "is-leader", Args: []string{"--format=json"}},
		},
		{
			name:  "leader-get",
			reply: fakeReply{Stdout: `{"a":"b"}`},
			run:   func(cl *Client) (any, error) { return cl.LeaderGet(ctx) },
			want:  map[string]string{"a": "b"},
			call:  fakeCall{Tool: "leader-get", Args: []string{"--format=json", "-"}},
		},
		{
			name:  "leader-set sorts its key=value arguments",
			run:   func(cl *Client) (any, error) { return nil, cl.LeaderSet(ctx, map[string]string{"b": "2", "a": ""}) },
			call:  fakeCall{Tool: "leader-set", Args: []string{"a=", "b=2"}},
			reply: fakeReply{},
		},
		{
			name: "status-set of the application",
			run:  func(cl *Client) (any, error) { return nil, cl.StatusSet(ctx, Blocked("bad config"), true) },
			call: fakeCall{Tool: "status-set", Args: []string{"--application", "blocked", "bad config"}},
		},
		{
			name: "application-version-set",
			run:  func(cl *Client) (any, error) { return nil, cl.ApplicationVersionSet(ctx, "15.4") },
			call: fakeCall{Tool: "application-version-set", Args: []string{"15.4"}},
		},
		{
			name:  "action-get",
			reply: fakeReply{Stdout: `{"username":"operator"}`},
			run:   func(cl *Client) (any, error) { return cl.ActionGet(ctx) },
			want:  map[string]any{"username": "operator"},
			call:  fakeCall{Tool: "action-get", Args: []string{"--format=json"}},
		},
		{
			name: "action-set",
			run: func(cl *Client) (any, error) {
				return nil, cl.ActionSet(ctx, map[string]string{"primary": "postgresql/0"})
			},
			call: fakeCall{Tool: "action-set", Args: []string{"primary=postgresql/0"}},
		},
		{
			name: "action-fail",
			run:  func(cl *Client) (any, error) { return nil, cl.ActionFail(ctx, "no primary") },
			call: fakeCall{Tool: "action-fail", Args: []string{"no primary"}},
		},
		{
			name: "action-log",
			run:  func(cl *Client) (any, error) { return nil, cl.ActionLog(ctx, "restarting") },
			call: fakeCall{Tool: "action-log", Args: []string{"restarting"}},
		},
		{
			name: "juju-log ends flags before a message that starts with a dash",
			run:  func(cl *Client) (any, error) { return nil, cl.JujuLog(ctx, LogWarning, "-x retrying") },
			call: fakeCall{Tool: "juju-log", Args: []string{"--log-level", "WARNING", "--", "-x retrying"}},
		},
		{
			name: "open-port",
			run:  func(cl *Client) (any, error) { return nil, cl.OpenPort(ctx, TCP(5432)) },
			call: fakeCall{Tool: "open-port", Args: []string{"5432/tcp"}},
		},
		{
			name: "close-port of a range",
			run:  func(cl *Client) (any, error) { return nil, cl.ClosePort(ctx, Port{"udp", 8000, 8010}) },
			call: fakeCall{Tool: "close-port", Args: []string{"8000-8010/udp"}},
		},
		{
			name:  "opened-ports parses Juju's forms",
			reply: fakeReply{Stdout: `["5432/tcp","8000-8010/udp","icmp","8008/tcp (*)"]`},
			run:   func(cl *Client) (any, error) { return cl.OpenedPorts(ctx) },
			want:  []Port{TCP(5432), {"udp", 8000, 8010}, {Protocol: "icmp"}, TCP(8008)},
			call:  fakeCall{Tool: "opened-ports", Args: []string{"--format=json"}},
		},
		{
			name:  "state-get",
			reply: fakeReply{Stdout: `{"k":"v"}`},
			run:   func(cl *Client) (any, error) { return cl.StateGet(ctx) },
			want:  map[string]string{"k": "v"},
			call:  fakeCall{Tool: "state-get", Args: []string{"--format=json"}},
		},
		{
			name: "state-set sends JSON on stdin",
			run:  func(cl *Client) (any, error) { return nil, cl.StateSet(ctx, map[string]string{"k": " v "}) },
			call: fakeCall{Tool: "state-set", Args: []string{"--file", "-"}, Stdin: `{"k":" v "}`},
		},
		{
			name: "state-delete",
			run:  func(cl *Client) (any, error) { return nil, cl.StateDelete(ctx, "k") },
			call: fakeCall{Tool: "state-delete", Args: []string{"k"}},
		},
		{
			name:  "secret-get by label with --refresh",
			reply: fakeReply{Stdout: `{"operator-password":"pw"}`},
			run: func(cl *Client) (any, error) {
				return cl.SecretGet(ctx, "", SecretGetOptions{Label: "system-users", Refresh: true})
			},
			want: map[string]string{"operator-password": "pw"},
			call: fakeCall{Tool: "secret-get", Args: []string{"--format=json", "--label", "system-users", "--refresh"}},
		},
		{
			name: "secret-set without content changes only metadata",
			run: func(cl *Client) (any, error) {
				return nil, cl.SecretSet(ctx, "secret://m/x", nil, SecretSetOptions{Rotate: "monthly"})
			},
			call: fakeCall{Tool: "secret-set", Args: []string{"secret://m/x", "--rotate", "monthly"}},
		},
		{
			name: "secret-grant to a unit",
			run:  func(cl *Client) (any, error) { return nil, cl.SecretGrant(ctx, "secret://m/x", "database:7", "app/0") },
			call: fakeCall{Tool: "secret-grant", Args: []string{"secret://m/x", "-r", "database:7", "--unit", "app/0"}},
		},
		{
			name: "secret-revoke from a relation",
			run: func(cl *Client) (any, error) {
				return nil, cl.SecretRevoke(ctx, "secret://m/x", SecretRevokeOptions{RelationID: "database:7"})
			},
			call: fakeCall{Tool: "secret-revoke", Args: []string{"secret://m/x", "-r", "database:7"}},
		},
		{
			name: "secret-remove of one revision",
			run:  func(cl *Client) (any, error) { return nil, cl.SecretRemove(ctx, "secret://m/x", 2) },
			call: fakeCall{Tool: "secret-remove", Args: []string{"secret://m/x", "--revision", "2"}},
		},
		{
			name:  "secret-ids",
			reply: fakeReply{Stdout: `["secret://m/x"]`},
			run:   func(cl *Client) (any, error) { return cl.SecretIDs(ctx) },
			want:  []string{"secret://m/x"},
			call:  fakeCall{Tool: "secret-ids", Args: []string{"--format=json"}},
		},
		{
			name:  "secret-info-get",
			reply: fakeReply{Stdout: `{"secret://m/x":{"revision":3,"label":"l","owner":"application","rotation":"monthly"}}`},
			run:   func(cl *Client) (any, error) { return cl.SecretInfoGet(ctx, "secret://m/x", "") },
			want:  map[string]SecretInfo{"secret://m/x": {Revision: 3, Label: "l", Owner: "application", Rotation: "monthly"}},
			call:  fakeCall{Tool: "secret-info-get", Args: []string{"--format=json", "secret://m/x"}},
		},
		{
			name:  "storage-get of an instance",
			reply: fakeReply{Stdout: `{"kind":"filesystem","location":"/srv/pgdata"}`},
			run:   func(cl *Client) (any, error) { return cl.StorageGet(ctx, "pgdata/0") },
			want:  StorageInfo{Kind: "filesystem", Location: "/srv/pgdata"},
			call:  fakeCall{Tool: "storage-get", Args: []string{"--format=json", "-s", "pgdata/0"}},
		},
		{
			name:  "storage-list of a storage name",
			reply: fakeReply{Stdout: `["pgdata/0"]`},
			run:   func(cl *Client) (any, error) { return cl.StorageList(ctx, "pgdata") },
			want:  []string{"pgdata/0"},
			call:  fakeCall{Tool: "storage-list", Args: []string{"--format=json", "pgdata"}},
		},
		{
			name:  "goal-state",
			reply: fakeReply{Stdout: `{"units":{"postgresql/0":{"status":"active"}},"relations":{}}`},
			run:   func(cl *Client) (any, error) { return cl.GoalState(ctx) },
			want:  GoalState{Units: map[string]GoalStatus{"postgresql/0": {Status: "active"}}, Relations: map[string]map[string]GoalStatus{}},
			call:  fakeCall{Tool: "goal-state", Args: []string{"--format=json"}},
		},
	}
	f := newFakeTools(t, allTools...)
	cl := f.client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.reply(tt.call.Tool, tt.reply)
			got, err := tt.run(cl)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff([]fakeCall{tt.call}, f.calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSecretContentNeverInArgv checks secret-add and secret-set pass content
// in a 0600 file that is gone afterwards.
func TestSecretContentNeverInArgv(t *testing.T) {
	ctx := context.Background()
	f := newFakeTools(t, "secret-add", "secret-set")
	cl := f.client()
	const pw = "correct-horse-battery-staple-42"
	f.reply("secret-add", fakeReply{Stdout: "secret://m/cq5bbb\n"})
	id, err := cl.SecretAdd(ctx, map[string]string{"operator-password": pw}, SecretAddOptions{Label: "system-users", Owner: SecretOwnerApplication})
	if err != nil {
		t.Fatal(err)
	}
	if id != "secret://m/cq5bbb" {
		t.Errorf("id = %q", id)
	}
	if err := cl.SecretSet(ctx, id, map[string]string{"operator-password": pw + "x"}, SecretSetOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := f.calls()
	if len(calls) != 2 {
		t.Fatalf("calls = %+v", calls)
	}
	for _, c := range calls {
		for _, a := range c.Args {
			if strings.Contains(a, pw) {
				t.Errorf("%s argv holds the secret: %q", c.Tool, c.Args)
			}
		}
		if c.FileMode != "-rw-------" {
			t.Errorf("%s content file mode = %q, want -rw-------", c.Tool, c.FileMode)
		}
		if !strings.Contains(c.File, pw) {
			t.Errorf("%s content file = %q", c.Tool, c.File)
		}
		path := c.Args[len(c.Args)-1]
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s content file %s left behind", c.Tool, path)
		}
	}
	wantAdd := []string{"--label", "system-users", "--owner", "application", "--file"}
	if diff := cmp.Diff(wantAdd, calls[0].Args[:len(calls[0].Args)-1]); diff != "" {
		t.Errorf("secret-add args (-want +got):\n%s", diff)
	}
}

// TestToolErrors checks exit codes 1 and 2 become a *ToolError matching the
// right sentinels, with secret values redacted from Args.
func TestToolErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		tool      string
		reply     fakeReply
		run       func(cl *Client) error
		want      *ToolError
		is, isNot []error
	}{
		{
			name:  "non-leader reading its own app bag: exit 1 permission denied",
			tool:  "relation-get",
			reply: fakeReply{Stderr: "ERROR permission denied\n", Exit: 1},
			run: func(cl *Client) error {
				_, err := cl.RelationGet(ctx, "db:3", "postgresql", true)
				return err
			},
			want: &ToolError{Command: "relation-get", Args: []string{"--format=json", "-r", "db:3", "--app", "-", "postgresql"},
				ExitCode: 1, Stderr: "ERROR permission denied"},
			is:    []error{ErrPermissionDenied},
			isNot: []error{ErrUsage, ErrNotLeader, ErrNotFound},
		},
		{
			name:  "unknown relation id: exit 2 usage",
			tool:  "relation-get",
			reply: fakeReply{Stderr: `ERROR invalid value "db:99" for option -r: relation not found` + "\n", Exit: 2},
			run: func(cl *Client) error {
				_, err := cl.RelationGet(ctx, "db:99", "pg-client/0", false)
				return err
			},
			want: &ToolError{Command: "relation-get", Args: []string{"--format=json", "-r", "db:99", "-", "pg-client/0"},
				ExitCode: 2, Stderr: `ERROR invalid value "db:99" for option -r: relation not found`},
			is:    []error{ErrUsage, ErrNotFound},
			isNot: []error{ErrPermissionDenied},
		},
		{
			name:  "leader-set as non-leader: not the leader, values redacted",
			tool:  "leader-set",
			reply: fakeReply{Stderr: "ERROR cannot write leadership settings: cannot write settings: not the leader\n", Exit: 1},
			run: func(cl *Client) error {
				return cl.LeaderSet(ctx, map[string]string{"replication-password": "hunter2hunter2"})
			},
			want: &ToolError{Command: "leader-set", Args: []string{"replication-password=<redacted>"}, ExitCode: 1,
				Stderr: "ERROR cannot write leadership settings: cannot write settings: not the leader"},
			is: []error{ErrNotLeader},
		},
		{
			name:  "status-set --application as non-leader",
			tool:  "status-set",
			reply: fakeReply{Stderr: "ERROR this unit is not the leader\n", Exit: 1},
			run:   func(cl *Client) error { return cl.StatusSet(ctx, Active(""), true) },
			want: &ToolError{Command: "status-set", Args: []string{"--application", "active", ""}, ExitCode: 1,
				Stderr: "ERROR this unit is not the leader"},
			is: []error{ErrNotLeader},
		},
		{
			name:  "action-set outside an action, values redacted",
			tool:  "action-set",
			reply: fakeReply{Stderr: "ERROR not running an action\n", Exit: 1},
			run:   func(cl *Client) error { return cl.ActionSet(ctx, map[string]string{"result": "pw-abc"}) },
			want: &ToolError{Command: "action-set", Args: []string{"result=<redacted>"}, ExitCode: 1,
				Stderr: "ERROR not running an action"},
			is: []error{ErrNotRunningAction},
		},
		{
			name:  "secret-get of a missing label",
			tool:  "secret-get",
			reply: fakeReply{Stderr: "ERROR secret not found\n", Exit: 1},
			run: func(cl *Client) error {
				_, err := cl.SecretGet(ctx, "", SecretGetOptions{Label: "nope"})
				return err
			},
			want: &ToolError{Command: "secret-get", Args: []string{"--format=json", "--label", "nope"}, ExitCode: 1,
				Stderr: "ERROR secret not found"},
			is: []error{ErrNotFound},
		},
	}
	f := newFakeTools(t, "relation-get", "leader-set", "status-set", "action-set", "secret-get")
	cl := f.client()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.reply(tt.tool, tt.reply)
			err := tt.run(cl)
			f.calls()
			var te *ToolError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *ToolError", err)
			}
			if diff := cmp.Diff(tt.want, te); diff != "" {
				t.Errorf("ToolError (-want +got):\n%s", diff)
			}
			for _, s := range tt.is {
				if !errors.Is(err, s) {
					t.Errorf("errors.Is(err, %v) = false", s)
				}
			}
			for _, s := range tt.isNot {
				if errors.Is(err, s) {
					t.Errorf("errors.Is(err, %v) = true", s)
				}
			}
		})
	}
}

func TestToolMissing(t *testing.T) {
	cl := &Client{Environ: []string{"PATH=" + t.TempDir()}}
	_, err := cl.IsLeader(context.Background())
	if !errors.Is(err, ErrToolMissing) {
		t.Errorf("err = %v, want ErrToolMissing", err)
	}
}

func TestBadJSONOutput(t *testing.T) {
	f := newFakeTools(t, "is-leader")
	f.reply("is-leader", fakeReply{Stdout: "True\n"})
	_, err := f.client().IsLeader(context.Background())
	if err == nil || !strings.Contains(err.Error(), "decoding is-leader output") {
		t.Errorf("err = %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	f := newFakeTools(t, "is-leader")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.client().IsLeader(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
