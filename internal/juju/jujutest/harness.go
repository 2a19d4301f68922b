package jujutest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// Charm is the charm under test: its metadata, config options and actions.
type Charm struct {
	Meta    *juju.Metadata
	Config  *juju.ConfigSpec
	Actions map[string]juju.ActionSpec
}

// LoadCharm reads metadata.yaml, config.yaml and actions.yaml (the last two
// optional) from a charm directory, e.g. the repository root.
func LoadCharm(dir string) (*Charm, error) {
	meta, err := juju.LoadMetadata(dir)
	if err != nil {
		return nil, err
	}
	c := &Charm{Meta: meta, Config: &juju.ConfigSpec{}}
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
		if c.Config, err = juju.LoadConfigSpec(dir); err != nil {
			return nil, err
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "actions.yaml")); err == nil {
		if c.Actions, err = juju.ParseActions(data); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ErrInconsistent: the input state or event could not happen under Juju.
var ErrInconsistent = errors.New("inconsistent test input")

// Check refuses input Juju could not produce: an undeclared endpoint,
// config key or storage, a config value of the wrong type, duplicate
// relation ids or secret labels, remote units of another application, a
// relation event whose relation or remote unit is not in the state.
func (c *Charm) Check(in State, ev juju.Event) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInconsistent}, args...)...))
	}
	unit := in.UnitName
	if unit == "" {
		unit = c.Meta.Name + "/0"
	}
	if juju.AppOf(unit) != c.Meta.Name {
		bad("unit %q is not a unit of %q", unit, c.Meta.Name)
	}
	for k, v := range in.Config {
		o, ok := c.Config.Options[k]
		if !ok {
			bad("config key %q is not in config.yaml", k)
			continue
		}
		if err := juju.CheckConfigValue(o.Type, v); err != nil {
			bad("config %q: %v", k, err)
		}
	}
	ids := map[int]bool{}
	for _, r := range in.Relations {
		if ids[r.ID] {
			bad("relation id %d used twice", r.ID)
		}
		ids[r.ID] = true
		if !c.Meta.HasEndpoint(r.Endpoint) {
			bad("relation %s: endpoint %q is not in metadata.yaml", r.Key(), r.Endpoint)
			continue
		}
		remoteApp := r.RemoteApp
		if c.Meta.IsPeer(r.Endpoint) {
			if remoteApp != "" && remoteApp != c.Meta.Name {
				bad("peer relation %s: remote app %q is not %q", r.Key(), remoteApp, c.Meta.Name)
			}
			remoteApp = c.Meta.Name
		} else if remoteApp == "" {
			bad("relation %s: no remote app", r.Key())
		}
		for u := range r.RemoteUnitsData {
			if juju.AppOf(u) != remoteApp || u == unit {
				bad("relation %s: %q is not a remote unit of %q", r.Key(), u, remoteApp)
			}
		}
	}
	labels := map[string]bool{}
	for _, s := range in.Secrets {
		if s.Label != "" && labels[s.Label] {
			bad("secret label %q used twice", s.Label)
		}
		labels[s.Label] = true
	}
	for _, s := range in.Storage {
		if !c.Meta.HasStorage(s.Name) {
			bad("storage %q is not in metadata.yaml", s.Name)
		}
	}
	errs = append(errs, c.checkEvent(in, ev)...)
	return errors.Join(errs...)
}

func (c *Charm) checkEvent(in State, ev juju.Event) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInconsistent}, args...)...))
	}
	switch {
	case ev.Kind == juju.KindAction:
		if _, ok := c.Actions[ev.Name]; !ok {
			bad("action %q is not in actions.yaml", ev.Name)
		}
	case ev.IsRelation():
		r, ok := in.RelationByKey(ev.RelationID)
		if !ok || r.Endpoint != ev.Endpoint {
			bad("event %s: relation %q is not in the state", ev.Name, ev.RelationID)
			break
		}
		if ev.RemoteUnit != "" && ev.Kind != juju.KindRelationDeparted {
			if _, ok := r.RemoteUnitsData[ev.RemoteUnit]; !ok {
				bad("event %s: remote unit %q is not in relation %s", ev.Name, ev.RemoteUnit, ev.RelationID)
			}
		}
	case ev.StorageName != "":
		if !c.Meta.HasStorage(ev.StorageName) {
			bad("event %s: storage %q is not in metadata.yaml", ev.Name, ev.StorageName)
		}
	}
	return errs
}

// Hook returns the event of a hook that is not a relation, storage or
// action event: "install", "config-changed", or a custom "role-changed".
func (c *Charm) Hook(name string) juju.Event {
	ev, _ := juju.ParseEvent(juju.Env{DispatchPath: "hooks/" + name, HookName: name}, "", c.Meta)
	return ev
}

// RelationEvent returns a relation event of r ("relation-changed") from
// remoteUnit ("" for app-level or -created/-broken).
func (c *Charm) RelationEvent(kind juju.EventKind, r Relation, remoteUnit string) juju.Event {
	remoteApp := r.RemoteApp
	if remoteApp == "" {
		remoteApp = c.Meta.Name
	}
	ev := juju.Event{Kind: kind, Name: r.Endpoint + "-" + string(kind), Endpoint: r.Endpoint,
		RelationID: r.Key(), RemoteUnit: remoteUnit, RemoteApp: remoteApp}
	if kind == juju.KindRelationDeparted {
		ev.DepartingUnit = remoteUnit
	}
	return ev
}

// Run checks in and ev, dispatches ev with d against a Fake over in, and
// returns the state after it with the handler's error. A failed handler
// keeps only immediate changes, as Juju does.
func (c *Charm) Run(ctx context.Context, d *juju.Dispatcher, in State, ev juju.Event) (State, error) {
	out, _, err := c.run(ctx, d, in, ev, nil)
	return out, err
}

// RunAction runs an action with params.
func (c *Charm) RunAction(ctx context.Context, d *juju.Dispatcher, in State, name string, params map[string]any) (State, ActionOutput, error) {
	ev := juju.Event{Kind: juju.KindAction, Name: name}
	if params == nil {
		params = map[string]any{}
	}
	return c.run(ctx, d, in, ev, &fakeAction{params: params})
}

func (c *Charm) run(ctx context.Context, d *juju.Dispatcher, in State, ev juju.Event, action *fakeAction) (State, ActionOutput, error) {
	if err := c.Check(in, ev); err != nil {
		return State{}, ActionOutput{}, err
	}
	f := NewFake(c, in)
	f.action = action
	env := juju.Env{UnitName: f.unit, ModelName: "test", Version: f.work.JujuVersion,
		Relation: ev.Endpoint, RelationID: ev.RelationID, RemoteUnit: ev.RemoteUnit,
		RemoteApp: ev.RemoteApp, DepartingUnit: ev.DepartingUnit, StorageID: ev.StorageID,
		SecretID: ev.SecretID, SecretLabel: ev.SecretLabel, SecretRevision: ev.SecretRevision}
	if ev.Kind == juju.KindAction {
		env.ActionName = ev.Name
		env.DispatchPath = "actions/" + ev.Name
	} else {
		env.DispatchPath = "hooks/" + ev.Name
		if !ev.ViaExec {
			env.HookName = ev.Name
		}
	}
	red := &juju.Redactor{}
	h := &juju.Hook{
		Event:    ev,
		Env:      env,
		Meta:     c.Meta,
		Backend:  f,
		Log:      slog.New(juju.NewLogHandler(f, juju.LogOptions{Redactor: red})),
		Redactor: red,
		Status:   &juju.StatusCollector{},
	}
	err := d.Dispatch(ctx, h)
	var out ActionOutput
	if action != nil {
		out = action.out
	}
	return f.Output(err == nil), out, err
}

// NextRelationID returns an unused relation id for in.
func NextRelationID(in State) int {
	id := 0
	for _, r := range in.Relations {
		if r.ID >= id {
			id = r.ID + 1
		}
	}
	return id
}
