package jujutest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// Fake is an in-memory juju.Backend over a State. It is a FAKE for tests
// and must never be used in production.
//
// Transactional tools change only the working state; immediate tools change
// both it and the committed state, so Output(false) is what Juju keeps of a
// failed hook.
type Fake struct {
	charm     *Charm
	unit, app string
	work      State
	committed State
	action    *fakeAction
	nextID    int
}

type fakeAction struct {
	params map[string]any
	out    ActionOutput
}

// NewFake returns a fake backend over a copy of in. It does not check in;
// Charm.Run does.
func NewFake(c *Charm, in State) *Fake {
	in = in.Clone()
	if in.UnitName == "" {
		in.UnitName = c.Meta.Name + "/0"
	}
	app := juju.AppOf(in.UnitName)
	for i := range in.Relations {
		if c.Meta.IsPeer(in.Relations[i].Endpoint) && in.Relations[i].RemoteApp == "" {
			in.Relations[i].RemoteApp = app
		}
	}
	for i := range in.Secrets {
		if in.Secrets[i].ID == "" {
			in.Secrets[i].ID = fmt.Sprintf("secret://fake-model/fakesecret%011d", i)
		}
		if in.Secrets[i].Owner == "" {
			in.Secrets[i].Owner = juju.SecretOwnerApplication
		}
		if in.Secrets[i].Revision == 0 {
			in.Secrets[i].Revision = 1
		}
	}
	if in.JujuVersion == "" {
		in.JujuVersion = "3.6.25"
	}
	if in.PrivateAddress == "" {
		in.PrivateAddress = "10.0.0.10"
	}
	return &Fake{charm: c, unit: in.UnitName, app: app, work: in, committed: in.Clone()}
}

// Output returns the state after the event: everything when the handler
// succeeded, only immediate changes when it failed.
func (f *Fake) Output(success bool) State {
	if success {
		return f.work.Clone()
	}
	return f.committed.Clone()
}

// immediate applies fn to both states.
func (f *Fake) immediate(fn func(s *State)) {
	fn(&f.work)
	fn(&f.committed)
}

func toolErr(cmd string, code int, msg string, args ...string) error {
	return &juju.ToolError{Command: cmd, Args: args, ExitCode: code, Stderr: "ERROR " + msg}
}

// relation finds a relation by key ("db:3", or "" for none).
func (f *Fake) relation(cmd, key string) (*Relation, error) {
	for i := range f.work.Relations {
		r := &f.work.Relations[i]
		if r.Key() == key || (!strings.Contains(key, ":") && strconv.Itoa(r.ID) == key) {
			return r, nil
		}
	}
	if key == "" {
		return nil, toolErr(cmd, 2, "no relation id specified")
	}
	return nil, toolErr(cmd, 2, fmt.Sprintf("invalid value %q for option -r: relation not found", key), "-r", key)
}

// RelationGet implements juju.Backend.
func (f *Fake) RelationGet(_ context.Context, relationID, target string, app bool) (map[string]string, error) {
	r, err := f.relation("relation-get", relationID)
	if err != nil {
		return nil, err
	}
	peer := f.charm.Meta.IsPeer(r.Endpoint)
	var data map[string]string
	switch {
	case app && target == f.app:
		if !peer && !f.work.Leader {
			return nil, toolErr("relation-get", 1, "permission denied")
		}
		data = r.LocalAppData
	case app && target == r.RemoteApp:
		data = r.RemoteAppData
	case app:
		return nil, toolErr("relation-get", 1, fmt.Sprintf("application %q not in relation %s", target, r.Key()))
	case target == f.unit:
		data = r.LocalUnitData
	default:
		d, ok := r.RemoteUnitsData[target]
		if !ok {
			return nil, toolErr("relation-get", 1, fmt.Sprintf("cannot read settings for unit %q in relation %q: unit %q: settings not found", target, r.Key(), target))
		}
		data = d
	}
	out := maps.Clone(data)
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// RelationSet implements juju.Backend (transactional).
func (f *Fake) RelationSet(_ context.Context, relationID string, app bool, data map[string]string) error {
	r, err := f.relation("relation-set", relationID)
	if err != nil {
		return err
	}
	if app && !f.work.Leader {
		return toolErr("relation-set", 1, "cannot write relation settings")
	}
	bag := &r.LocalUnitData
	if app {
		bag = &r.LocalAppData
	}
	applyChanges(bag, data)
	return nil
}

// applyChanges sets keys, deleting those with empty values.
func applyChanges(bag *map[string]string, changes map[string]string) {
	if *bag == nil {
		*bag = map[string]string{}
	}
	for k, v := range changes {
		if v == "" {
			delete(*bag, k)
		} else {
			(*bag)[k] = v
		}
	}
}

// RelationIDs implements juju.Backend.
func (f *Fake) RelationIDs(_ context.Context, endpoint string) ([]string, error) {
	if !f.charm.Meta.HasEndpoint(endpoint) {
		return nil, toolErr("relation-ids", 1, fmt.Sprintf("unknown endpoint %q", endpoint))
	}
	var ids []int
	for _, r := range f.work.Relations {
		if r.Endpoint == endpoint {
			ids = append(ids, r.ID)
		}
	}
	sort.Ints(ids)
	keys := []string{}
	for _, id := range ids {
		keys = append(keys, endpoint+":"+strconv.Itoa(id))
	}
	return keys, nil
}

// RelationList implements juju.Backend.
func (f *Fake) RelationList(_ context.Context, relationID string) ([]string, error) {
	r, err := f.relation("relation-list", relationID)
	if err != nil {
		return nil, err
	}
	return r.RemoteUnits(), nil
}

// RelationRemoteApp implements juju.Backend.
func (f *Fake) RelationRemoteApp(_ context.Context, relationID string) (string, error) {
	r, err := f.relation("relation-list", relationID)
	if err != nil {
		return "", err
	}
	return r.RemoteApp, nil
}

// ConfigGet implements juju.Backend: defaults overlaid with State.Config,
// numbers as json.Number like the real client.
func (f *Fake) ConfigGet(context.Context) (map[string]any, error) {
	cfg := map[string]any{}
	if f.charm.Config != nil {
		for k, o := range f.charm.Config.Options {
			if o.Default != nil {
				cfg[k] = o.Default
			}
		}
	}
	maps.Copy(cfg, f.work.Config)
	// Round-trip through JSON so values have the types config-get gives.
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// UnitGet implements juju.Backend.
func (f *Fake) UnitGet(_ context.Context, key string) (string, error) {
	switch key {
	case "private-address", "public-address":
		return f.work.PrivateAddress, nil
	}
	return "", toolErr("unit-get", 2, fmt.Sprintf("unknown setting %q", key), key)
}

// NetworkGet implements juju.Backend: one interface with PrivateAddress.
func (f *Fake) NetworkGet(_ context.Context, binding, _ string) (juju.NetworkInfo, error) {
	if !f.charm.Meta.HasEndpoint(binding) {
		return juju.NetworkInfo{}, toolErr("network-get", 1, fmt.Sprintf("no network config found for binding %q", binding), binding)
	}
	a := f.work.PrivateAddress
	return juju.NetworkInfo{
		BindAddresses: []juju.BindAddress{{InterfaceName: "eth0",
			Addresses: []juju.InterfaceAddr{{Value: a, CIDR: a + "/24"}}}},
		EgressSubnets:    []string{a + "/32"},
		IngressAddresses: []string{a},
	}, nil
}

// IsLeader implements juju.Backend.
func (f *Fake) IsLeader(context.Context) (bool, error) { return f.work.Leader, nil }

// LeaderGet implements juju.Backend.
func (f *Fake) LeaderGet(context.Context) (map[string]string, error) {
	out := maps.Clone(f.work.LeaderData)
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// LeaderSet implements juju.Backend (immediate, leader only).
func (f *Fake) LeaderSet(_ context.Context, data map[string]string) error {
	if !f.work.Leader {
		return toolErr("leader-set", 1, "cannot write leadership settings: cannot write settings: not the leader")
	}
	f.immediate(func(s *State) { applyChanges(&s.LeaderData, data) })
	return nil
}

// StatusSet implements juju.Backend (immediate).
func (f *Fake) StatusSet(_ context.Context, st juju.Status, app bool) error {
	switch st.Level {
	case juju.StatusActive, juju.StatusBlocked, juju.StatusMaintenance, juju.StatusWaiting:
	default:
		return toolErr("status-set", 2, fmt.Sprintf("invalid status %q, expected one of [maintenance blocked waiting active]", st.Level))
	}
	if app && !f.work.Leader {
		return toolErr("status-set", 1, "this unit is not the leader")
	}
	f.immediate(func(s *State) {
		if app {
			s.AppStatus = st
		} else {
			s.UnitStatus = st
		}
		s.StatusHistory = append(s.StatusHistory, StatusCall{App: app, Status: st})
	})
	return nil
}

// ApplicationVersionSet implements juju.Backend (immediate).
func (f *Fake) ApplicationVersionSet(_ context.Context, v string) error {
	if v == "" {
		return toolErr("application-version-set", 2, "no version specified")
	}
	f.immediate(func(s *State) { s.WorkloadVersion = v })
	return nil
}

func (f *Fake) requireAction(cmd string) error {
	if f.action == nil {
		return toolErr(cmd, 1, "not running an action")
	}
	return nil
}

// ActionGet implements juju.Backend.
func (f *Fake) ActionGet(context.Context) (map[string]any, error) {
	if err := f.requireAction("action-get"); err != nil {
		return nil, err
	}
	return maps.Clone(f.action.params), nil
}

// ActionSet implements juju.Backend.
func (f *Fake) ActionSet(_ context.Context, results map[string]string) error {
	if err := f.requireAction("action-set"); err != nil {
		return err
	}
	for k := range results {
		switch k {
		case "stdout", "stdout-encoding", "stderr", "stderr-encoding":
			return toolErr("action-set", 2, fmt.Sprintf("cannot set reserved action key %q", k))
		}
	}
	if f.action.out.Results == nil {
		f.action.out.Results = map[string]string{}
	}
	maps.Copy(f.action.out.Results, results)
	return nil
}

// ActionFail implements juju.Backend.
func (f *Fake) ActionFail(_ context.Context, msg string) error {
	if err := f.requireAction("action-fail"); err != nil {
		return err
	}
	if msg == "" {
		msg = "action failed without reason given, check action for errors"
	}
	f.action.out.Failed, f.action.out.Message = true, msg
	return nil
}

// ActionLog implements juju.Backend.
func (f *Fake) ActionLog(_ context.Context, msg string) error {
	if err := f.requireAction("action-log"); err != nil {
		return err
	}
	f.action.out.Logs = append(f.action.out.Logs, msg)
	return nil
}

// JujuLog implements juju.Backend and juju.LogSink (immediate).
func (f *Fake) JujuLog(_ context.Context, level juju.LogLevel, msg string) error {
	f.immediate(func(s *State) { s.Logs = append(s.Logs, LogLine{level, msg}) })
	return nil
}

// OpenPort implements juju.Backend (transactional).
func (f *Fake) OpenPort(_ context.Context, p juju.Port) error {
	if !slices.Contains(f.work.OpenedPorts, p) {
		f.work.OpenedPorts = append(f.work.OpenedPorts, p)
	}
	return nil
}

// ClosePort implements juju.Backend (transactional).
func (f *Fake) ClosePort(_ context.Context, p juju.Port) error {
	f.work.OpenedPorts = slices.DeleteFunc(f.work.OpenedPorts, func(q juju.Port) bool { return q == p })
	return nil
}

// OpenedPorts implements juju.Backend: like Juju, without this hook's changes.
func (f *Fake) OpenedPorts(context.Context) ([]juju.Port, error) {
	return append([]juju.Port{}, f.committed.OpenedPorts...), nil
}

// StateGet implements juju.Backend.
func (f *Fake) StateGet(context.Context) (map[string]string, error) {
	out := maps.Clone(f.work.StoredState)
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// StateSet implements juju.Backend (transactional).
func (f *Fake) StateSet(_ context.Context, data map[string]string) error {
	for k, v := range data {
		if len(k) > 256 || len(v) > 64<<10 {
			return toolErr("state-set", 1, fmt.Sprintf("state key %q or its value exceeds the quota", k))
		}
	}
	applyChanges(&f.work.StoredState, data)
	return nil
}

// StateDelete implements juju.Backend (transactional).
func (f *Fake) StateDelete(_ context.Context, key string) error {
	delete(f.work.StoredState, key)
	return nil
}

// StorageGet implements juju.Backend.
func (f *Fake) StorageGet(_ context.Context, id string) (juju.StorageInfo, error) {
	for _, s := range f.work.Storage {
		if s.ID() == id {
			kind := s.Kind
			if kind == "" {
				kind = "filesystem"
			}
			return juju.StorageInfo{Kind: kind, Location: s.Location}, nil
		}
	}
	if id == "" {
		return juju.StorageInfo{}, toolErr("storage-get", 2, "no storage instance specified")
	}
	return juju.StorageInfo{}, toolErr("storage-get", 2, fmt.Sprintf("invalid value %q for option -s: storage not found", id))
}

// StorageList implements juju.Backend.
func (f *Fake) StorageList(_ context.Context, name string) ([]string, error) {
	ids := []string{}
	for _, s := range f.work.Storage {
		if name == "" || s.Name == name {
			ids = append(ids, s.ID())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// GoalState implements juju.Backend: the current members as goal.
func (f *Fake) GoalState(context.Context) (juju.GoalState, error) {
	g := juju.GoalState{Units: map[string]juju.GoalStatus{f.unit: {Status: "active"}},
		Relations: map[string]map[string]juju.GoalStatus{}}
	for _, r := range f.work.Relations {
		if f.charm.Meta.IsPeer(r.Endpoint) {
			for _, u := range r.RemoteUnits() {
				g.Units[u] = juju.GoalStatus{Status: "active"}
			}
			continue
		}
		m := g.Relations[r.Endpoint]
		if m == nil {
			m = map[string]juju.GoalStatus{}
			g.Relations[r.Endpoint] = m
		}
		m[r.RemoteApp] = juju.GoalStatus{Status: "joined"}
		for _, u := range r.RemoteUnits() {
			m[u] = juju.GoalStatus{Status: "joined"}
		}
	}
	return g, nil
}

var _ juju.Backend = (*Fake)(nil)
