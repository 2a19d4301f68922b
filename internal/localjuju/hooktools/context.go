package hooktools

import (
	"errors"
	"strconv"
)

// Context is the running hook, action or juju-exec context as the hook tools
// see it. The localjuju unit agent implements it; this package only parses
// command lines, calls Context and formats results, so every semantic rule
// (permissions, buffering, leadership) lives behind this interface.
//
// Errors returned by Context methods are run errors: the tool prints
// "ERROR <err>" and exits 1. Errors wrapped around ErrUsage (see UsageError)
// are reported the same way but exit 2, which is how an invalid -r value is
// reported by Juju (contract §2.1).
type Context interface {
	// UnitName is the unit this context runs for, e.g. "postgresql/0".
	UnitName() string
	// ModelUUID is the model's uuid (used in secret URIs and relation-model-get).
	ModelUUID() string

	// HookRelationID is the relation of the current relation hook, or -1.
	HookRelationID() int
	// RemoteUnit is JUJU_REMOTE_UNIT of the context ("" when none).
	RemoteUnit() string
	// RemoteApp is JUJU_REMOTE_APP of the context ("" when none).
	RemoteApp() string
	// HookStorageID is JUJU_STORAGE_ID ("pgdata/0") in storage hooks, else "".
	HookStorageID() string

	// Relation resolves a relation id known to this unit (one it is in,
	// including the relation of a running -broken hook). ok is false for
	// unknown ids.
	Relation(id int) (info RelationInfo, ok bool)
	// RelationIDs lists the non-broken relations of the endpoint, sorted by id.
	// An endpoint the charm does not declare is an error. (relation-ids also
	// drops ids whose RelationInfo.Broken is set.)
	RelationIDs(endpoint string) ([]int, error)
	// RelationMembers lists the remote units currently in the relation, sorted.
	RelationMembers(id int) ([]string, error)
	// RelationGet reads a databag: of a unit ("pg-client/0"), or of an
	// application when app is true ("pg-client"). The local unit's and (for a
	// leader) the local app's bag include this context's pending writes.
	RelationGet(id int, entity string, app bool) (map[string]string, error)
	// RelationSet buffers writes to the local unit's (or, app=true, the local
	// application's) bag; an empty value deletes the key. relation-set --app
	// checks IsLeader itself first ("cannot write relation settings").
	RelationSet(id int, app bool, settings map[string]string) error

	// Config returns the charm config: options with a value or a non-null
	// default; with all=true, every option, unset ones as nil.
	Config(all bool) (map[string]any, error)

	// IsLeader claims or checks the leadership lease. is-leader prefixes its
	// error with "leadership status unknown: ".
	IsLeader() (bool, error)
	LeaderGet() (map[string]string, error)
	// LeaderSet is immediate; empty values delete. The tool prefixes the error
	// with "cannot write leadership settings: ", so a non-leader should return
	// "cannot write settings: not the leader".
	LeaderSet(settings map[string]string) error

	// SetStatus is immediate. app=true sets the application status (leader only).
	SetStatus(app bool, status, message string) error
	// UnitStatus returns this unit's workload status.
	UnitStatus() (StatusInfo, error)
	// ApplicationStatus returns the application status and its units' statuses
	// (leader only).
	ApplicationStatus() (StatusInfo, map[string]StatusInfo, error)
	SetApplicationVersion(version string) error
	// Log writes a juju-log line; level is already normalised to one of
	// TRACE DEBUG INFO WARNING ERROR CRITICAL.
	Log(level, message string) error

	// PrivateAddress / PublicAddress of the unit's machine. An empty public
	// address means none ("public address not found").
	PrivateAddress() (string, error)
	PublicAddress() (string, error)
	// NetworkInfo for a binding name (an endpoint or extra-binding); relID is
	// the -r relation, which defaults (as in Juju) to the hook's relation, so
	// it is -1 only outside relation hooks without -r. No BindAddresses means
	// "no network config found for binding".
	NetworkInfo(binding string, relID int) (NetworkInfo, error)

	// Ports; buffered until commit. OpenedPorts excludes this context's
	// pending changes.
	OpenPort(endpoints []string, p PortRange) error
	ClosePort(endpoints []string, p PortRange) error
	OpenedPorts() ([]OpenedPort, error)

	// Charm state (state-get/-set/-delete); writes buffered, reads see them.
	StateGet() (map[string]string, error)
	StateSet(settings map[string]string) error
	StateDelete(key string) error

	// Actions. All return ErrNotRunningAction outside an action.
	ActionParams() (map[string]any, error)
	// ActionSet sets a nested result value; path is already validated.
	ActionSet(path []string, value string) error
	ActionFail(message string) error
	ActionLog(message string) error

	// Secrets (all transactional). Content maps hold plain values: the tools
	// decode key#base64 arguments and encode for secret-get key#base64. URIs
	// are passed as the charm gave them ("secret:<xid>", "secret://<model>/<xid>"
	// or a bare xid), already checked for a valid xid.
	SecretAdd(args SecretAddArgs) (uri string, err error)
	// SecretGet resolves a secret by uri or (uri=="") by label.
	SecretGet(uri, label string, peek, refresh bool) (map[string]string, error)
	SecretSet(uri string, args SecretUpdateArgs) error
	SecretRemove(uri string, revision int) error // revision 0 = all
	SecretGrant(uri string, relID int, unit string) error
	SecretRevoke(uri string, relID int, app, unit string) error
	SecretIDs() ([]string, error)
	SecretInfo(uri, label string) (map[string]SecretInfo, error)

	// Storage. id like "pgdata/0".
	StorageGet(id string) (StorageInfo, error)
	StorageList(name string) ([]string, error)
	StorageAdd(constraints map[string]int) error

	GoalState() (GoalState, error)
}

// ErrNotRunningAction is returned by action-* context methods outside actions;
// its text is Juju's.
var ErrNotRunningAction = errors.New("not running an action")

// RelationInfo describes one relation as seen from the local unit.
type RelationInfo struct {
	ID        int
	Endpoint  string // local endpoint name
	RemoteApp string // remote application ("" for peers: the local app)
	Peer      bool
	// Broken: a non-peer relation that is dying (or suspended) with no
	// remote members left in the unit's view, as in its -broken hook; not
	// yet during the -departed hooks before it (contract §2.3 relation-ids).
	Broken bool
}

// Key is "<endpoint>:<id>".
func (r RelationInfo) Key() string { return r.Endpoint + ":" + strconv.Itoa(r.ID) }

// StatusInfo is a workload status.
type StatusInfo struct {
	Status  string         `json:"status" yaml:"status"`
	Message string         `json:"message" yaml:"message"`
	Data    map[string]any `json:"status-data" yaml:"status-data"`
}

// NetworkInfo is network-get's full structure.
type NetworkInfo struct {
	BindAddresses    []BindAddress `json:"bind-addresses" yaml:"bind-addresses"`
	EgressSubnets    []string      `json:"egress-subnets" yaml:"egress-subnets"`
	IngressAddresses []string      `json:"ingress-addresses" yaml:"ingress-addresses"`
}

// BindAddress is one interface of a binding.
type BindAddress struct {
	MACAddress    string          `json:"mac-address" yaml:"mac-address"`
	InterfaceName string          `json:"interface-name" yaml:"interface-name"`
	Addresses     []InterfaceAddr `json:"addresses" yaml:"addresses"`
}

// InterfaceAddr is an address on an interface.
type InterfaceAddr struct {
	Hostname string `json:"hostname" yaml:"hostname"`
	Value    string `json:"value" yaml:"value"`
	CIDR     string `json:"cidr" yaml:"cidr"`
}

// PortRange is a port or range with protocol; ICMP has From=To=0.
type PortRange struct {
	From, To int
	Protocol string // tcp, udp, icmp
}

// OpenedPort is a port range and the endpoints it was opened for (empty: all).
type OpenedPort struct {
	Range     PortRange
	Endpoints []string
}

// SecretAddArgs are secret-add's inputs after parsing.
type SecretAddArgs struct {
	Label, Description string
	Expire             string // RFC3339 UTC time computed by the tool (durations added to now); "" = none
	Rotate             string // never, hourly, ... ("" = unset)
	Owner              string // application (default) or unit
	Content            map[string]string
}

// SecretUpdateArgs are secret-set's inputs; nil/empty fields are unchanged.
// Expire, when set, is an RFC3339 UTC time as in SecretAddArgs.
type SecretUpdateArgs struct {
	Label, Description, Expire, Rotate *string
	Content                            map[string]string
}

// SecretInfo is secret-info-get's value for one secret.
type SecretInfo struct {
	Revision    int            `json:"revision" yaml:"revision"`
	Label       string         `json:"label,omitempty" yaml:"label,omitempty"`
	Description string         `json:"description,omitempty" yaml:"description,omitempty"`
	Expiry      string         `json:"expiry,omitempty" yaml:"expiry,omitempty"`
	Owner       string         `json:"owner" yaml:"owner"`
	Rotation    string         `json:"rotation,omitempty" yaml:"rotation,omitempty"`
	Rotates     string         `json:"rotates,omitempty" yaml:"rotates,omitempty"`
	Access      []SecretAccess `json:"access,omitempty" yaml:"access,omitempty"`
}

// SecretAccess is one grant.
type SecretAccess struct {
	Target string `json:"target" yaml:"target"`
	Scope  string `json:"scope" yaml:"scope"`
	Role   string `json:"role" yaml:"role"`
}

// StorageInfo is storage-get's map.
type StorageInfo struct {
	Kind     string `json:"kind" yaml:"kind"`
	Location string `json:"location" yaml:"location"`
}

// GoalState is goal-state's output.
type GoalState struct {
	Units     map[string]GoalStatus            `json:"units" yaml:"units"`
	Relations map[string]map[string]GoalStatus `json:"relations" yaml:"relations"`
}

// GoalStatus is a unit's or application's goal status.
type GoalStatus struct {
	Status string `json:"status" yaml:"status"`
	Since  string `json:"since,omitempty" yaml:"since,omitempty"`
}
