package hooktools

import (
	"errors"
	"testing"
)

func TestLeadership(t *testing.T) {
	runCases(t, []toolCase{
		{name: "is-leader prints False in smart format (§2.3 is-leader)", tool: "is-leader", stdout: "False\n"},
		{name: "is-leader prints true in json (§2.3 is-leader)", fake: leaderFake, tool: "is-leader", args: []string{"--format=json"}, stdout: "true\n"},
		{name: "is-leader failure says leadership status unknown (§2.3 is-leader)",
			fake: func() *fakeContext { f := newFake(); f.failWith = errors.New("lease timeout"); return f },
			tool: "is-leader", code: 1, stderr: "ERROR leadership status unknown: lease timeout\n"},
		{name: "leader-get prints all settings (§2.3 leader-get)", tool: "leader-get", stdout: "password: s3cret\n"},
		{name: "leader-get - prints all settings too (§2.3 leader-get)", tool: "leader-get", args: []string{"-", "--format=json"}, stdout: `{"password":"s3cret"}` + "\n"},
		{name: "leader-get of a key (§2.3 leader-get)", tool: "leader-get", args: []string{"password"}, stdout: "s3cret\n"},
		{name: "leader-get of a missing key is null in json (§2.3 leader-get)", tool: "leader-get", args: []string{"x", "--format=json"}, stdout: "null\n"},
		{name: "leader-get of a key with = is a usage error (§2.3 leader-get)",
			tool: "leader-get", args: []string{"a=b"}, code: 2, stderr: "ERROR invalid key \"a=b\"\n"},
		{name: "leader-set on the leader writes immediately (§2.3 leader-set)",
			fake: leaderFake, tool: "leader-set", args: []string{"a=1", "b="}, calls: []string{"leader-set a=1 b="}},
		{name: "leader-set on a non-leader fails with Juju's message (§2.3 leader-set)",
			tool: "leader-set", args: []string{"a=1"}, code: 1,
			stderr: "ERROR cannot write leadership settings: cannot write settings: not the leader\n"},
		{name: "leader-set with a bad pair is a usage error (§2.1 key=value)",
			tool: "leader-set", args: []string{"a"}, code: 2, stderr: "ERROR expected \"key=value\", got \"a\"\n"},
	})
}

func TestStatus(t *testing.T) {
	runCases(t, []toolCase{
		{name: "status-set sets the unit status with a message (§2.3 status-set)",
			tool: "status-set", args: []string{"blocked", "need config"}, calls: []string{`status-set app=false blocked "need config"`}},
		{name: "status-set without a message (§2.3 status-set)",
			tool: "status-set", args: []string{"active"}, calls: []string{`status-set app=false active ""`}},
		{name: "status-set of another word is a usage error (§2.3 status-set)",
			tool: "status-set", args: []string{"error"}, code: 2,
			stderr: "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n"},
		{name: "status-set without arguments is a usage error (§2.3 status-set)",
			tool: "status-set", code: 2, stderr: "ERROR invalid args, require <status> [message]\n"},
		{name: "status-set with an extra argument is a usage error (§2.1)",
			tool: "status-set", args: []string{"active", "a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
		{name: "status-set --application on a non-leader is a run error (§2.3 status-set)",
			tool: "status-set", args: []string{"--application", "active"}, code: 1, stderr: "ERROR this unit is not the leader\n"},
		{name: "status-get prints the word in smart format (§2.3 status-get)", tool: "status-get", stdout: "active\n"},
		{name: "status-get json without data prints only the status (§2.3 status-get)",
			tool: "status-get", args: []string{"--format=json"}, stdout: `{"status":"active"}` + "\n"},
		{name: "status-get --include-data json (§2.3 status-get)",
			tool: "status-get", args: []string{"--include-data", "--format=json"},
			stdout: `{"message":"ready","status":"active","status-data":{}}` + "\n"},
		{name: "status-get --include-data smart is YAML (§2.3 status-get)",
			tool: "status-get", args: []string{"--include-data"}, stdout: "message: ready\nstatus: active\nstatus-data: {}\n"},
		{name: "status-get --application nests units inside application-status (§2.3 status-get)",
			fake: leaderFake, tool: "status-get", args: []string{"--application", "--include-data", "--format=json"},
			stdout: `{"application-status":{"message":"all good","status":"active","status-data":{},"units":{"postgresql/0":{"message":"ready","status":"active","status-data":{}}}}}` + "\n"},
		{name: "status-get --application smart prints the application's word (§2.3 status-get)",
			fake: leaderFake, tool: "status-get", args: []string{"--application"}, stdout: "active\n"},
		{name: "status-get --application on a non-leader (§2.3 status-get)",
			tool: "status-get", args: []string{"--application"}, code: 1,
			stderr: "ERROR finding application status: this unit is not the leader\n"},
		{name: "application-version-set sets the version (§2.3)",
			tool: "application-version-set", args: []string{"16.2"}, calls: []string{"application-version-set 16.2"}},
		{name: "application-version-set without a version is a usage error (§2.3)",
			tool: "application-version-set", code: 2, stderr: "ERROR no version specified\n"},
	})
}

func TestJujuLog(t *testing.T) {
	runCases(t, []toolCase{
		{name: "juju-log joins its arguments at INFO (§2.3 juju-log)",
			tool: "juju-log", args: []string{"hello", "world"}, calls: []string{"log INFO hello world"}},
		{name: "juju-log levels are case-insensitive (§2.3 juju-log)",
			tool: "juju-log", args: []string{"-l", "debug", "x"}, calls: []string{"log DEBUG x"}},
		{name: "juju-log WARN is WARNING (§2.3 juju-log)",
			tool: "juju-log", args: []string{"--log-level=warn", "x"}, calls: []string{"log WARNING x"}},
		{name: "juju-log --debug logs at DEBUG (§2.3 juju-log)",
			tool: "juju-log", args: []string{"--debug", "x"}, calls: []string{"log DEBUG x"}},
		{name: "juju-log with an invalid level warns and logs at INFO (§2.3 juju-log)",
			tool: "juju-log", args: []string{"-l", "loud", "x"},
			calls: []string{`log WARNING Specified log level of "loud" is not valid`, "log INFO x"}},
		{name: "juju-log prefixes the relation in relation hooks (§2.3 juju-log)",
			fake: relHook(3, "pg-client/0"), tool: "juju-log", args: []string{"joined"}, calls: []string{"log INFO db:3: joined"}},
		{name: "juju-log without a message is a usage error (§2.3 juju-log)",
			tool: "juju-log", args: []string{"-l", "INFO"}, code: 2, stderr: "ERROR no message specified\n"},
	})
}

func TestAnnotateDoesNotRepeatAPrefix(t *testing.T) {
	runCases(t, []toolCase{
		{name: "a Context error already carrying Juju's prefix is not prefixed twice (§2.3 leader-set)",
			fake: func() *fakeContext {
				f := leaderFake()
				f.failWith = errors.New("cannot write leadership settings: cannot write settings: not the leader")
				return f
			},
			tool: "leader-set", args: []string{"a=1"}, code: 1,
			stderr: "ERROR cannot write leadership settings: cannot write settings: not the leader\n"},
	})
}
