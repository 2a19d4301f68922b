package juju

import "context"

// Backend is every hook tool as a Go call. *Client implements it by running
// the tools; jujutest.Fake implements it in memory. Package model builds the
// typed model, with Juju's rules, over a Backend.
//
// relationID is "<endpoint>:<id>" (or "" for the hook's own relation); unit
// and application names are Juju's ("postgresql/0", "postgresql").
type Backend interface {
	// RelationGet reads the whole databag of target, a unit or (app true)
	// an application. A missing bag reads as an empty map.
	RelationGet(ctx context.Context, relationID, target string, app bool) (map[string]string, error)
	// RelationSet writes keys of the local unit's (or, app true, the local
	// application's) databag; an empty value deletes the key.
	RelationSet(ctx context.Context, relationID string, app bool, data map[string]string) error
	// RelationIDs lists the relations of an endpoint, like "db:3".
	RelationIDs(ctx context.Context, endpoint string) ([]string, error)
	// RelationList lists the remote units in a relation.
	RelationList(ctx context.Context, relationID string) ([]string, error)
	// RelationRemoteApp names the remote application of a relation.
	RelationRemoteApp(ctx context.Context, relationID string) (string, error)

	// ConfigGet returns every option with a value or a default; numbers
	// are json.Number.
	ConfigGet(ctx context.Context) (map[string]any, error)
	// UnitGet reads "private-address" or "public-address".
	UnitGet(ctx context.Context, key string) (string, error)
	// NetworkGet returns a binding's network (relationID optional).
	NetworkGet(ctx context.Context, binding, relationID string) (NetworkInfo, error)

	IsLeader(ctx context.Context) (bool, error)
	LeaderGet(ctx context.Context) (map[string]string, error)
	// LeaderSet is immediate; values appear in the tool's argv, so keep
	// secrets out of leader settings.
	LeaderSet(ctx context.Context, data map[string]string) error

	// StatusSet sets the unit's (or, app true, the application's) status.
	StatusSet(ctx context.Context, s Status, app bool) error
	ApplicationVersionSet(ctx context.Context, version string) error

	ActionGet(ctx context.Context) (map[string]any, error)
	// ActionSet sets results; keys may be dotted ("a.b") for nesting.
	ActionSet(ctx context.Context, results map[string]string) error
	ActionFail(ctx context.Context, message string) error
	ActionLog(ctx context.Context, message string) error

	JujuLog(ctx context.Context, level LogLevel, message string) error

	OpenPort(ctx context.Context, p Port) error
	ClosePort(ctx context.Context, p Port) error
	OpenedPorts(ctx context.Context) ([]Port, error)

	// StateGet returns the unit's whole charm state map.
	StateGet(ctx context.Context) (map[string]string, error)
	// StateSet writes keys of the charm state; an empty value deletes.
	StateSet(ctx context.Context, data map[string]string) error
	StateDelete(ctx context.Context, key string) error

	// SecretAdd creates a secret and returns its URI.
	SecretAdd(ctx context.Context, content map[string]string, opts SecretAddOptions) (string, error)
	// SecretGet reads a secret by id, label or both.
	SecretGet(ctx context.Context, id string, opts SecretGetOptions) (map[string]string, error)
	// SecretSet creates a new revision (content may be nil to change only
	// the metadata).
	SecretSet(ctx context.Context, id string, content map[string]string, opts SecretSetOptions) error
	SecretGrant(ctx context.Context, id, relationID, unit string) error
	SecretRevoke(ctx context.Context, id string, opts SecretRevokeOptions) error
	// SecretRemove removes one revision, or every revision when revision is 0.
	SecretRemove(ctx context.Context, id string, revision int) error
	SecretIDs(ctx context.Context) ([]string, error)
	// SecretInfoGet returns the metadata of a secret the unit owns, keyed
	// by its id.
	SecretInfoGet(ctx context.Context, id, label string) (map[string]SecretInfo, error)

	// StorageGet reads a storage instance ("pgdata/0"; "" in a storage hook).
	StorageGet(ctx context.Context, id string) (StorageInfo, error)
	// StorageList lists storage ids, optionally of one storage name.
	StorageList(ctx context.Context, name string) ([]string, error)
	GoalState(ctx context.Context) (GoalState, error)
}

var _ Backend = (*Client)(nil)
