package hooktools

import "testing"

func TestStorageAndMisc(t *testing.T) {
	storageHook := func() *fakeContext { f := newFake(); f.hookStorage = "pgdata/0"; return f }
	runCases(t, []toolCase{
		{name: "storage-get in a storage hook prints the instance (§2.3 others)",
			fake: storageHook, tool: "storage-get", stdout: "kind: filesystem\nlocation: /srv/pgdata\n"},
		{name: "storage-get -s json (§2.3 others)",
			tool: "storage-get", args: []string{"-s", "pgdata/0", "--format=json"}, stdout: `{"kind":"filesystem","location":"/srv/pgdata"}` + "\n"},
		{name: "storage-get of a key (§2.3 others)",
			tool: "storage-get", args: []string{"-s", "pgdata/0", "location"}, stdout: "/srv/pgdata\n"},
		{name: "storage-get of a bad key is a run error (§2.3 others)",
			fake: storageHook, tool: "storage-get", args: []string{"size"}, code: 1, stderr: "ERROR invalid storage attribute \"size\"\n"},
		{name: "storage-get outside storage hooks needs -s (§2.3 others)",
			tool: "storage-get", code: 2, stderr: "ERROR no storage instance specified\n"},
		{name: "storage-get -s with a malformed id is a bad flag value (§2.1)",
			tool: "storage-get", args: []string{"-s", "pgdata"}, code: 2,
			stderr: "ERROR invalid value \"pgdata\" for option -s: invalid storage ID \"pgdata\"\n"},
		{name: "storage-list lists instances (§2.3 others)",
			tool: "storage-list", args: []string{"--format=json"}, stdout: `["pgdata/0"]` + "\n"},
		{name: "storage-list of a name without instances is [] (§2.3 others)",
			tool: "storage-list", args: []string{"logs", "--format=json"}, stdout: "[]\n"},
		{name: "storage-add takes names with optional counts (§2.3 others)",
			tool: "storage-add", args: []string{"pgdata", "logs=2"}, calls: []string{"storage-add logs=2 pgdata=1"}},
		{name: "storage-add without a directive is a usage error (§2.3 others)",
			tool: "storage-add", code: 2, stderr: "ERROR storage add requires a storage directive\n"},
		{name: "storage-add with a size is a usage error (§2.3 others)",
			tool: "storage-add", args: []string{"pgdata=10G"}, code: 2, stderr: "ERROR only count can be specified for \"pgdata\"\n"},
		{name: "goal-state prints YAML by default (§2.3 others)",
			fake: func() *fakeContext {
				f := newFake()
				f.goal = GoalState{Units: map[string]GoalStatus{"postgresql/0": {Status: "active"}},
					Relations: map[string]map[string]GoalStatus{"db": {"pg-client": {Status: "joined"}}}}
				return f
			}, tool: "goal-state",
			stdout: "units:\n  postgresql/0:\n    status: active\nrelations:\n  db:\n    pg-client:\n      status: joined\n"},
		{name: "goal-state json (§2.3 others)",
			tool: "goal-state", args: []string{"--format=json"}, stdout: `{"units":{},"relations":{}}` + "\n"},
		{name: "juju-reboot is not supported in localjuju (§2.3 others)",
			tool: "juju-reboot", code: 1, stderr: "ERROR juju-reboot is not supported in localjuju\n"},
		{name: "juju-reboot in an action gives Juju's error (§2.3 others)",
			fake: actionFake, tool: "juju-reboot", args: []string{"--now"}, code: 1,
			stderr: "ERROR juju-reboot is not supported when running an action.\n"},
		{name: "credential-get fails for an untrusted application (§2.3 others)",
			tool: "credential-get", code: 1, stderr: "ERROR cannot access cloud credentials: permission denied\n"},
	})
}
