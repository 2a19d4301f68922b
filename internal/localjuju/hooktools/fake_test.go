package hooktools

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// fakeContext is an in-memory Context for tests. It is a fake: it keeps just
// enough of Juju's rules to exercise the tools, and records every write in
// calls so a test can check what a tool asked for.
type fakeContext struct {
	unit, model           string
	hookRel               int
	remoteUnit, remoteApp string
	hookStorage           string
	relations             map[int]RelationInfo
	members               map[int][]string
	bags                  map[string]map[string]string // "<id>/<entity>" → settings
	config                map[string]any
	leader                bool
	leaderSettings        map[string]string
	unitStatus, appStatus StatusInfo
	unitStatuses          map[string]StatusInfo
	private, public       string
	network               map[string]NetworkInfo
	opened                []OpenedPort
	state                 map[string]string
	action                map[string]any // nil: not in an action
	secrets               map[string]map[string]string
	secretInfo            map[string]SecretInfo
	storage               map[string]StorageInfo
	goal                  GoalState
	calls                 []string
	failWith              error // returned by every Context call that can fail
}

func newFake() *fakeContext {
	return &fakeContext{
		unit: "postgresql/0", model: "cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c", hookRel: -1,
		relations: map[int]RelationInfo{
			1: {ID: 1, Endpoint: "replicas", RemoteApp: "postgresql", Peer: true},
			3: {ID: 3, Endpoint: "db", RemoteApp: "pg-client"},
			5: {ID: 5, Endpoint: "db", RemoteApp: "other-client"},
			7: {ID: 7, Endpoint: "db", RemoteApp: "gone-client", Broken: true},
		},
		members: map[int][]string{3: {"pg-client/0", "pg-client/1"}, 1: {"postgresql/1"}},
		bags: map[string]map[string]string{
			"3/pg-client/0":  {"private-address": "10.0.0.5", "ingress-address": "10.0.0.5", "egress-subnets": "10.0.0.5/32"},
			"3/pg-client":    {"database": "app"},
			"3/postgresql/0": {"private-address": "10.0.0.9"},
		},
		config:         map[string]any{"port": 5432, "tls": false, "name": "pg", "empty": nil},
		leaderSettings: map[string]string{"password": "s3cret"},
		unitStatus:     StatusInfo{Status: "active", Message: "ready", Data: map[string]any{}},
		appStatus:      StatusInfo{Status: "active", Message: "all good"},
		unitStatuses:   map[string]StatusInfo{"postgresql/0": {Status: "active", Message: "ready"}},
		private:        "10.0.0.9",
		network: map[string]NetworkInfo{"db": {
			BindAddresses: []BindAddress{{MACAddress: "00:16:3e:aa:bb:cc", InterfaceName: "eth0",
				Addresses: []InterfaceAddr{{Value: "10.0.0.5", CIDR: "10.0.0.0/24"}}}},
			EgressSubnets:    []string{"10.0.0.5/32"},
			IngressAddresses: []string{"10.0.0.5"},
		}},
		state:   map[string]string{"a": "1"},
		secrets: map[string]map[string]string{"secret:cj4s2b3p0s8c73aa6k5g": {"password": "hunter2", "user": "pg"}},
		storage: map[string]StorageInfo{"pgdata/0": {Kind: "filesystem", Location: "/srv/pgdata"}},
	}
}

// inRelationHook puts the fake in "<endpoint>-relation-changed" for id with
// remote unit u ("" for app-level or -broken hooks).
func (f *fakeContext) inRelationHook(id int, u string) *fakeContext {
	f.hookRel, f.remoteUnit, f.remoteApp = id, u, f.relations[id].RemoteApp
	return f
}

func (f *fakeContext) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func sortedKV(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (f *fakeContext) UnitName() string      { return f.unit }
func (f *fakeContext) ModelUUID() string     { return f.model }
func (f *fakeContext) HookRelationID() int   { return f.hookRel }
func (f *fakeContext) RemoteUnit() string    { return f.remoteUnit }
func (f *fakeContext) RemoteApp() string     { return f.remoteApp }
func (f *fakeContext) HookStorageID() string { return f.hookStorage }

func (f *fakeContext) Relation(id int) (RelationInfo, bool) {
	r, ok := f.relations[id]
	return r, ok
}

func (f *fakeContext) RelationIDs(endpoint string) ([]int, error) {
	if f.failWith != nil {
		return nil, f.failWith
	}
	var ids []int
	for id, r := range f.relations {
		if r.Endpoint == endpoint {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

func (f *fakeContext) RelationMembers(id int) ([]string, error) { return f.members[id], f.failWith }

func (f *fakeContext) RelationGet(id int, entity string, app bool) (map[string]string, error) {
	f.record("relation-get %d %s app=%v", id, entity, app)
	if f.failWith != nil {
		return nil, f.failWith
	}
	if app && entity == "postgresql" && !f.leader && !f.relations[id].Peer {
		return nil, errors.New("permission denied")
	}
	return f.bags[fmt.Sprintf("%d/%s", id, entity)], nil
}

func (f *fakeContext) RelationSet(id int, app bool, s map[string]string) error {
	f.record("relation-set %d app=%v %s", id, app, sortedKV(s))
	return f.failWith
}

func (f *fakeContext) Config(all bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range f.config {
		if v != nil || all {
			out[k] = v
		}
	}
	return out, f.failWith
}

func (f *fakeContext) IsLeader() (bool, error) { return f.leader, f.failWith }
func (f *fakeContext) LeaderGet() (map[string]string, error) {
	return f.leaderSettings, f.failWith
}

func (f *fakeContext) LeaderSet(s map[string]string) error {
	f.record("leader-set %s", sortedKV(s))
	if !f.leader {
		return errors.New("cannot write settings: not the leader")
	}
	return f.failWith
}

func (f *fakeContext) SetStatus(app bool, status, message string) error {
	f.record("status-set app=%v %s %q", app, status, message)
	if app && !f.leader {
		return errors.New("this unit is not the leader")
	}
	return f.failWith
}

func (f *fakeContext) UnitStatus() (StatusInfo, error) { return f.unitStatus, f.failWith }

func (f *fakeContext) ApplicationStatus() (StatusInfo, map[string]StatusInfo, error) {
	if !f.leader {
		return StatusInfo{}, nil, errors.New("this unit is not the leader")
	}
	return f.appStatus, f.unitStatuses, f.failWith
}

func (f *fakeContext) SetApplicationVersion(v string) error {
	f.record("application-version-set %s", v)
	return f.failWith
}

func (f *fakeContext) Log(level, message string) error {
	f.record("log %s %s", level, message)
	return f.failWith
}

func (f *fakeContext) PrivateAddress() (string, error) { return f.private, f.failWith }
func (f *fakeContext) PublicAddress() (string, error)  { return f.public, f.failWith }

func (f *fakeContext) NetworkInfo(binding string, relID int) (NetworkInfo, error) {
	f.record("network-info %s %d", binding, relID)
	if f.failWith != nil {
		return NetworkInfo{}, f.failWith
	}
	return f.network[binding], nil
}

func (f *fakeContext) OpenPort(eps []string, p PortRange) error {
	f.record("open-port %v %+v", eps, p)
	return f.failWith
}

func (f *fakeContext) ClosePort(eps []string, p PortRange) error {
	f.record("close-port %v %+v", eps, p)
	return f.failWith
}

func (f *fakeContext) OpenedPorts() ([]OpenedPort, error) { return f.opened, f.failWith }

func (f *fakeContext) StateGet() (map[string]string, error) { return f.state, f.failWith }

func (f *fakeContext) StateSet(s map[string]string) error {
	f.record("state-set %s", sortedKV(s))
	return f.failWith
}

func (f *fakeContext) StateDelete(k string) error {
	f.record("state-delete %s", k)
	return f.failWith
}

func (f *fakeContext) ActionParams() (map[string]any, error) {
	if f.action == nil {
		return nil, ErrNotRunningAction
	}
	return f.action, nil
}

func (f *fakeContext) ActionSet(path []string, value string) error {
	if f.action == nil {
		return ErrNotRunningAction
	}
	f.record("action-set %s=%s", strings.Join(path, "."), value)
	return nil
}

func (f *fakeContext) ActionFail(m string) error {
	if f.action == nil {
		return ErrNotRunningAction
	}
	f.record("action-fail %s", m)
	return nil
}

func (f *fakeContext) ActionLog(m string) error {
	if f.action == nil {
		return ErrNotRunningAction
	}
	f.record("action-log %s", m)
	return nil
}

func (f *fakeContext) SecretAdd(a SecretAddArgs) (string, error) {
	f.record("secret-add label=%q desc=%q expire=%q rotate=%q owner=%s %s", a.Label, a.Description, a.Expire, a.Rotate, a.Owner, sortedKV(a.Content))
	if f.failWith != nil {
		return "", f.failWith
	}
	if a.Owner == "application" && !f.leader {
		return "", errors.New("this unit is not the leader")
	}
	return "secret://" + f.model + "/cj4s2b3p0s8c73aa6k60", nil
}

func (f *fakeContext) SecretGet(uri, label string, peek, refresh bool) (map[string]string, error) {
	f.record("secret-get %s label=%q peek=%v refresh=%v", uri, label, peek, refresh)
	if c, ok := f.secrets[uri]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("secret %q not found", uri+label)
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func (f *fakeContext) SecretSet(uri string, a SecretUpdateArgs) error {
	f.record("secret-set %s label=%s desc=%s expire=%s rotate=%s %s", uri, str(a.Label), str(a.Description), str(a.Expire), str(a.Rotate), sortedKV(a.Content))
	return f.failWith
}

func (f *fakeContext) SecretRemove(uri string, rev int) error {
	f.record("secret-remove %s %d", uri, rev)
	return f.failWith
}

func (f *fakeContext) SecretGrant(uri string, relID int, unit string) error {
	f.record("secret-grant %s %d %q", uri, relID, unit)
	return f.failWith
}

func (f *fakeContext) SecretRevoke(uri string, relID int, app, unit string) error {
	f.record("secret-revoke %s %d %q %q", uri, relID, app, unit)
	return f.failWith
}

func (f *fakeContext) SecretIDs() ([]string, error) {
	var ids []string
	for id := range f.secrets {
		ids = append(ids, id)
	}
	return ids, f.failWith
}

func (f *fakeContext) SecretInfo(uri, label string) (map[string]SecretInfo, error) {
	out := map[string]SecretInfo{}
	for id, in := range f.secretInfo {
		if id == uri || (label != "" && in.Label == label) {
			out[id] = in
		}
	}
	return out, f.failWith
}

func (f *fakeContext) StorageGet(id string) (StorageInfo, error) {
	s, ok := f.storage[id]
	if !ok {
		return StorageInfo{}, fmt.Errorf("storage %q not found", id)
	}
	return s, nil
}

func (f *fakeContext) StorageList(name string) ([]string, error) {
	var ids []string
	for id := range f.storage {
		if name == "" || strings.HasPrefix(id, name+"/") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, f.failWith
}

func (f *fakeContext) StorageAdd(c map[string]int) error {
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	f.record("storage-add %s", strings.Join(parts, " "))
	return f.failWith
}

func (f *fakeContext) GoalState() (GoalState, error) { return f.goal, f.failWith }

// toolCase is one hook tool invocation and its expected result.
type toolCase struct {
	name   string // a sentence, citing the contract section
	fake   func() *fakeContext
	tool   string
	args   []string
	in     Input
	code   int
	stdout string
	stderr string
	calls  []string // nil: not checked
	check  func(t *testing.T, f *fakeContext, r Result)
}

func runCases(t *testing.T, cases []toolCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.fake != nil {
				f = tc.fake()
			}
			r := Run(f, tc.tool, tc.args, tc.in)
			if r.Code != tc.code {
				t.Errorf("%s %q: code = %d, want %d (stderr %q)", tc.tool, tc.args, r.Code, tc.code, r.Stderr)
			}
			if got := string(r.Stdout); got != tc.stdout && (tc.check == nil || tc.stdout != "") {
				t.Errorf("%s %q: stdout:\n got %q\nwant %q", tc.tool, tc.args, got, tc.stdout)
			}
			if got := string(r.Stderr); got != tc.stderr {
				t.Errorf("%s %q: stderr:\n got %q\nwant %q", tc.tool, tc.args, got, tc.stderr)
			}
			if tc.calls != nil && strings.Join(f.calls, "\n") != strings.Join(tc.calls, "\n") {
				t.Errorf("%s %q: calls:\n got %q\nwant %q", tc.tool, tc.args, f.calls, tc.calls)
			}
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

func relHook(id int, unit string) func() *fakeContext {
	return func() *fakeContext { return newFake().inRelationHook(id, unit) }
}

func leaderFake() *fakeContext {
	f := newFake()
	f.leader = true
	return f
}

func actionFake() *fakeContext {
	f := newFake()
	f.action = map[string]any{"timeout": 30, "db": map[string]any{"name": "main"}, "verbose": true}
	return f
}

var _ Context = (*fakeContext)(nil)
