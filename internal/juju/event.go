package juju

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// EventKind is what kind of event a dispatch runs. Relation, storage and
// secret kinds drop the endpoint or storage name: "relation-changed" is the
// kind of "db-relation-changed".
type EventKind string

// Event kinds (contract §1.5), plus actions and custom events.
const (
	KindInstall               EventKind = "install"
	KindStart                 EventKind = "start"
	KindStop                  EventKind = "stop"
	KindRemove                EventKind = "remove"
	KindConfigChanged         EventKind = "config-changed"
	KindUpgradeCharm          EventKind = "upgrade-charm"
	KindUpdateStatus          EventKind = "update-status"
	KindLeaderElected         EventKind = "leader-elected"
	KindLeaderSettingsChanged EventKind = "leader-settings-changed"
	KindLeaderDeposed         EventKind = "leader-deposed"
	KindPreSeriesUpgrade      EventKind = "pre-series-upgrade"
	KindPostSeriesUpgrade     EventKind = "post-series-upgrade"
	KindCollectMetrics        EventKind = "collect-metrics"
	KindMeterStatusChanged    EventKind = "meter-status-changed"
	KindSecretChanged         EventKind = "secret-changed"
	KindSecretRotate          EventKind = "secret-rotate"
	KindSecretExpired         EventKind = "secret-expired"
	KindSecretRemove          EventKind = "secret-remove"

	KindRelationCreated  EventKind = "relation-created"
	KindRelationJoined   EventKind = "relation-joined"
	KindRelationChanged  EventKind = "relation-changed"
	KindRelationDeparted EventKind = "relation-departed"
	KindRelationBroken   EventKind = "relation-broken"

	KindStorageAttached  EventKind = "storage-attached"
	KindStorageDetaching EventKind = "storage-detaching"

	// KindAction is a Juju action; Event.Name is the action's name.
	KindAction EventKind = "action"
	// KindCustom is a hook name Juju never runs, reaching the charm through
	// juju-exec (contract §5.5), e.g. "role-changed" from Patroni's callback.
	KindCustom EventKind = "custom"
)

// simpleHooks are the hook names that are their own kind.
var simpleHooks = map[string]EventKind{}

func init() {
	for _, k := range []EventKind{
		KindInstall, KindStart, KindStop, KindRemove, KindConfigChanged,
		KindUpgradeCharm, KindUpdateStatus, KindLeaderElected,
		KindLeaderSettingsChanged, KindLeaderDeposed, KindPreSeriesUpgrade,
		KindPostSeriesUpgrade, KindCollectMetrics, KindMeterStatusChanged,
		KindSecretChanged, KindSecretRotate, KindSecretExpired, KindSecretRemove,
	} {
		simpleHooks[string(k)] = k
	}
}

var relationKinds = []EventKind{KindRelationCreated, KindRelationJoined,
	KindRelationChanged, KindRelationDeparted, KindRelationBroken}

var storageKinds = []EventKind{KindStorageAttached, KindStorageDetaching}

// Event is the event one dispatch handles.
type Event struct {
	Kind EventKind
	// Name is the hook name ("db-relation-changed"), the action name
	// ("get-password") or the custom event's name ("role-changed").
	Name string
	// ViaExec is true when the event came through juju-exec with a
	// JUJU_DISPATCH_PATH of its own (JUJU_HOOK_NAME is then empty): custom
	// events, or a standard hook name run by hand.
	ViaExec bool

	// Relation events.
	Endpoint      string // "db"
	RelationID    string // "db:3"
	RemoteUnit    string // empty in -created, -broken and app-level -changed
	RemoteApp     string
	DepartingUnit string

	// Storage events.
	StorageName string // "pgdata"
	StorageID   string // "pgdata/0"

	// Secret events.
	SecretID       string
	SecretLabel    string
	SecretRevision string
}

// String is the event's name, or "action <name>" for actions.
func (e Event) String() string {
	if e.Kind == KindAction {
		return "action " + e.Name
	}
	return e.Name
}

// IsRelation reports whether the event is a relation hook.
func (e Event) IsRelation() bool { return e.Endpoint != "" }

// ErrNoEvent: neither JUJU_DISPATCH_PATH nor argv[0] names an event.
var ErrNoEvent = errors.New("no event to dispatch")

// ParseEvent derives the event from the hook environment (contract §1.6):
// JUJU_DISPATCH_PATH "hooks/<hook>" or "actions/<action>"; when unset (Juju
// before 2.8, through a hooks/<name> symlink) the basename of argv0, or
// JUJU_ACTION_NAME for an action. Relation and storage hook names are split
// with the charm's endpoints and storage names from meta, so "db-admin-
// relation-joined" has endpoint "db-admin"; a name that matches no known
// hook is a custom event.
func ParseEvent(env Env, argv0 string, meta *Metadata) (Event, error) {
	var ev Event
	switch {
	case env.DispatchPath != "":
		dir, name, ok := strings.Cut(path.Clean(env.DispatchPath), "/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return Event{}, fmt.Errorf("%w: JUJU_DISPATCH_PATH %q is not hooks/<hook> or actions/<action>", ErrNoEvent, env.DispatchPath)
		}
		switch dir {
		case "actions":
			ev = Event{Kind: KindAction, Name: name}
			if env.ActionName != "" {
				ev.Name = env.ActionName
			}
			return ev, nil
		case "hooks":
			ev = classifyHook(name, env, meta)
			ev.ViaExec = env.HookName == ""
		default:
			return Event{}, fmt.Errorf("%w: JUJU_DISPATCH_PATH %q is not hooks/<hook> or actions/<action>", ErrNoEvent, env.DispatchPath)
		}
	case env.ActionName != "":
		return Event{Kind: KindAction, Name: env.ActionName}, nil
	default:
		name := path.Base(argv0)
		if name == "" || name == "." || name == "/" || name == "dispatch" {
			return Event{}, fmt.Errorf("%w: JUJU_DISPATCH_PATH is unset and argv[0] is %q", ErrNoEvent, argv0)
		}
		ev = classifyHook(name, env, meta)
	}
	if ev.IsRelation() {
		ev.RelationID = env.RelationID
		ev.RemoteUnit = env.RemoteUnit
		ev.RemoteApp = env.RemoteApp
		ev.DepartingUnit = env.DepartingUnit
	}
	if ev.StorageName != "" {
		ev.StorageID = env.StorageID
	}
	switch ev.Kind {
	case KindSecretChanged, KindSecretRotate, KindSecretExpired, KindSecretRemove:
		ev.SecretID = env.SecretID
		ev.SecretLabel = env.SecretLabel
		ev.SecretRevision = env.SecretRevision
	}
	return ev, nil
}

// classifyHook names the kind of a hook name.
func classifyHook(name string, env Env, meta *Metadata) Event {
	if k, ok := simpleHooks[name]; ok {
		return Event{Kind: k, Name: name}
	}
	for _, k := range relationKinds {
		ep, ok := strings.CutSuffix(name, "-"+string(k))
		if ok && ep != "" && (meta.HasEndpoint(ep) || ep == env.Relation) {
			return Event{Kind: k, Name: name, Endpoint: ep}
		}
	}
	for _, k := range storageKinds {
		st, ok := strings.CutSuffix(name, "-"+string(k))
		if ok && st != "" && (meta.HasStorage(st) || strings.HasPrefix(env.StorageID, st+"/")) {
			return Event{Kind: k, Name: name, StorageName: st}
		}
	}
	return Event{Kind: KindCustom, Name: name}
}
