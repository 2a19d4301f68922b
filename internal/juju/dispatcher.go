package juju

import (
	"context"
	"fmt"
	"log/slog"
)

// Hook is what a handler gets: the event, the environment, the hook tools,
// a logger, the redactor behind that logger (register every secret the
// handler sees with it; model.Options takes it) and the status collector of
// this dispatch.
type Hook struct {
	Event    Event
	Env      Env
	Meta     *Metadata
	Backend  Backend
	Log      *slog.Logger
	Redactor *Redactor
	Status   *StatusCollector
}

// Handler handles one event. An error fails the hook (or action), so Juju
// discards its buffered changes and retries; what a user can fix should be a
// Blocked status instead.
type Handler func(ctx context.Context, h *Hook) error

type handlerKey struct {
	kind EventKind
	name string
}

// Dispatcher maps events to handlers. Lookup order: the exact name (hook,
// action or custom event), then the kind, then the fallback. An event with
// no handler is a successful no-op, logged at debug level.
type Dispatcher struct {
	byName   map[handlerKey]Handler
	byKind   map[EventKind]Handler
	fallback Handler
}

// NewDispatcher returns an empty dispatcher.
func NewDispatcher() *Dispatcher {
	return &Dispatcher{byName: map[handlerKey]Handler{}, byKind: map[EventKind]Handler{}}
}

// HandleHook registers h for one hook or custom event name
// ("db-relation-changed", "role-changed"). Registering twice panics.
func (d *Dispatcher) HandleHook(name string, h Handler) {
	d.register(handlerKey{"", name}, h)
}

// HandleAction registers h for an action.
func (d *Dispatcher) HandleAction(name string, h Handler) {
	d.register(handlerKey{KindAction, name}, h)
}

// HandleKind registers h for every event of a kind, e.g. every
// relation-changed whatever the endpoint.
func (d *Dispatcher) HandleKind(kind EventKind, h Handler) {
	if _, dup := d.byKind[kind]; dup {
		panic(fmt.Sprintf("juju: two handlers for event kind %q", kind))
	}
	d.byKind[kind] = h
}

// HandleOther registers h for every hook or custom event (not actions) that
// has no handler of its own: the charm's reconcile pass.
func (d *Dispatcher) HandleOther(h Handler) {
	if d.fallback != nil {
		panic("juju: two fallback handlers")
	}
	d.fallback = h
}

func (d *Dispatcher) register(k handlerKey, h Handler) {
	if _, dup := d.byName[k]; dup {
		panic(fmt.Sprintf("juju: two handlers for %s %q", k.kind, k.name))
	}
	d.byName[k] = h
}

// Handler returns the handler for ev.
func (d *Dispatcher) Handler(ev Event) (Handler, bool) {
	if ev.Kind == KindAction {
		h, ok := d.byName[handlerKey{KindAction, ev.Name}]
		return h, ok
	}
	if h, ok := d.byName[handlerKey{"", ev.Name}]; ok {
		return h, true
	}
	if h, ok := d.byKind[ev.Kind]; ok {
		return h, true
	}
	return d.fallback, d.fallback != nil
}

// Actions lists the registered action names, for checking them against
// actions.yaml.
func (d *Dispatcher) Actions() []string {
	var names []string
	for k := range d.byName {
		if k.kind == KindAction {
			names = append(names, k.name)
		}
	}
	return names
}

// Dispatch runs the handler for h.Event and then, if it succeeded, sets
// the collected status once. h.Log, h.Redactor and h.Status may be nil.
func (d *Dispatcher) Dispatch(ctx context.Context, h *Hook) error {
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	if h.Redactor == nil {
		h.Redactor = &Redactor{}
	}
	if h.Status == nil {
		h.Status = &StatusCollector{}
	}
	handler, ok := d.Handler(h.Event)
	if !ok {
		h.Log.Debug("no handler for event", "event", h.Event.Name, "kind", string(h.Event.Kind))
		return nil
	}
	if err := handler(ctx, h); err != nil {
		return fmt.Errorf("handling %s: %w", h.Event, err)
	}
	return h.Status.Apply(ctx, h.Backend)
}
