package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

// Life is the lifecycle of a unit or relation, as in Juju.
type Life string

// Lives.
const (
	Alive Life = "alive"
	Dying Life = "dying"
	Dead  Life = "dead"
)

// state is everything the controller persists. All fields are guarded by
// Model.mu. JSON is the persistence format, so every field is exported.
type state struct {
	UUID   string
	Name   string
	Subnet string // machine network, e.g. 10.150.0.0/24
	NetNS  string // model namespace name; machines are <NetNS>-m<id>
	// MachinesRoot holds the machines' directories (agents, tools, storage).
	MachinesRoot string

	UpdateStatusInterval time.Duration
	LeaseDuration        time.Duration
	// AgentVersion is the Juju version the model emulates; "" is
	// JujuVersion. Set before the first deploy only.
	AgentVersion string `json:",omitempty"`
	// SecretRotateScale is a localjuju test knob, not a Juju setting: the
	// wall-clock length of one hour of secret timing (rotation periods and
	// Juju's 5-minute rotate/expire retry delays); 0 is real time.
	SecretRotateScale time.Duration `json:",omitempty"`

	NextMachine  int
	NextRelation int
	NextAction   int
	NextStorage  map[string]int // per storage name
	NextSecret   int

	Apps      map[string]*appState
	Relations map[int]*relationState
	Secrets   map[string]*secretState // by URI
	Actions   map[int]*actionState
}

type appState struct {
	Name     string
	CharmDir string // the source copy every unit's charm dir is made from
	Config   map[string]any
	// ConfigVersion moves on every effective config change.
	ConfigVersion int
	NextUnit      int
	Units         []string // unit names, in creation order
	Leader        string
	LeaseExpiry   time.Time
	// LeaderTerm moves on every election; LeaderSettingsVersion on every
	// leader-set and every election (both queue hooks, contract §3.8).
	LeaderTerm            int
	LeaderSettings        map[string]string
	LeaderSettingsVersion int
	Status                hooktools.StatusInfo
	StatusSince           time.Time
	Version               string
	PeerRelation          map[string]int // peer endpoint -> relation id
}

type unitState struct {
	Name    string
	App     string
	Machine int
	Address string
	Life    Life

	Workload      hooktools.StatusInfo
	WorkloadSince time.Time
	AgentStatus   string // allocating, executing, idle, error, lost
	AgentMessage  string
	AgentData     map[string]any

	CharmState map[string]string
	Ports      []hooktools.OpenedPort
	Storage    []string // storage ids, e.g. pgdata/0

	// Local uniter state: what this unit's agent has seen and done.
	Local localState
}

// localState is the uniter's own bookkeeping (Juju keeps it in the agent's
// state file); resolve compares it with the model to pick the next hook.
type localState struct {
	StorageAttached  map[string]bool
	Installed        bool
	Started          bool
	ConfigVersion    int // -1: config-changed never ran
	LeaderTerm       int
	LeaderSettings   int
	Relations        map[int]*localRelation
	FailedHook       *hookSpec // the hook the unit is stuck on
	Retries          int
	RetryAt          time.Time
	RestartPending   bool // machine rebooted: run start
	Stopped          bool // stop ran
	UpdateStatusNext time.Time
	// StatusSetByCharm: the charm called status-set at least once; start
	// leaves the workload "unknown" otherwise (§3.2).
	StatusSetByCharm bool
	// SecretsSeen: revision of each tracked secret secret-changed was run for.
	SecretsSeen map[string]int
}

type localRelation struct {
	Created bool
	// Members this unit has run -joined for, with the settings version seen.
	Members    map[string]int
	AppVersion int
	Broken     bool
	// PendingChanged is the unit whose -changed must directly follow its -joined.
	PendingChanged string
}

type relationState struct {
	ID        int
	Endpoints []endpointRef // one for peers, two otherwise
	Peer      bool
	Life      Life
	// Scope holds units that entered the relation scope; their bags exist.
	Scope       map[string]bool
	UnitBags    map[string]map[string]string
	UnitVersion map[string]int
	AppBags     map[string]map[string]string
	AppVersion  map[string]int
	// Broken records units (both sides) that ran -broken / finished teardown.
	Broken map[string]bool
}

type endpointRef struct {
	App       string
	Endpoint  string
	Interface string
	Role      string // provider, requirer, peer
}

type secretState struct {
	URI         string
	OwnerApp    string
	OwnerUnit   string // set when owned by a unit
	Label       string
	Description string
	// Expire is the latest revision's expiry (RFC3339 UTC), as
	// secret-info-get shows it; "" when the latest revision does not expire.
	Expire    string
	Rotate    string
	Revisions map[int]map[string]string
	Latest    int
	// Grants: relation id -> granted entity (app or unit name).
	Grants map[int][]string
	// Tracked revision and consumer labels per consumer unit.
	Tracked       map[string]int
	ConsumerLabel map[string]string

	// Owner-side triggers (§3.10), persisted so they survive a restart.
	// NextRotate is when secret-rotate is next due (zero: the policy does
	// not rotate), Juju's next-rotate-time.
	NextRotate time.Time
	// Expiry is each revision's expiry time; ExpireNext is when the owner's
	// next secret-expired for it is due: the expiry, then a retry delay
	// after each run until the revision is removed or its expiry changes
	// (Juju's secretexpire worker).
	Expiry     map[int]time.Time `json:",omitempty"`
	ExpireNext map[int]time.Time `json:",omitempty"`
	// Obsolete holds revisions no consumer tracks any more (Juju's obsolete
	// flag): false until the owner's secret-remove hook for it committed.
	Obsolete map[int]bool `json:",omitempty"`
}

type actionState struct {
	ID        int
	Unit      string
	Name      string
	Params    map[string]any
	Status    string // pending, running, completed, failed
	Message   string
	Results   map[string]any
	Log       []actionLogLine
	Enqueued  time.Time
	Started   time.Time
	Completed time.Time
}

type actionLogLine struct {
	Time    time.Time `json:"timestamp"`
	Message string    `json:"message"`
}

// hookSpec names a hook to run and its relation/unit context.
type hookSpec struct {
	Kind       string // install, start, relation-joined, ..., see hookName
	Name       string // full hook name, e.g. db-relation-joined
	RelationID int    // -1 when none
	RemoteUnit string
	RemoteApp  string
	Departing  string
	StorageID  string
	// Version is the model version the hook answers (settings version of
	// the remote unit or app bag, config version, leader term or leader
	// settings version); Version2 the leader settings version for
	// leader-elected. They are recorded in the local state at commit.
	Version    int
	Version2   int
	AppChanged bool // app-level -relation-changed (no remote unit)
	// SecretURI and SecretLabel for secret-* hooks; SecretRevision for
	// secret-remove and secret-expired (JUJU_SECRET_REVISION).
	SecretURI      string
	SecretLabel    string
	SecretRevision int `json:",omitempty"`
}

// save writes the state atomically.
func (m *Model) saveLocked() error {
	data, err := json.MarshalIndent(persisted{State: m.st, Units: m.units}, "", " ")
	if err != nil {
		return fmt.Errorf("encoding model state: %w", err)
	}
	tmp := filepath.Join(m.home, "model.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(m.home, "model.json"))
}

type persisted struct {
	State *state
	Units map[string]*unitState
}

func loadState(home string) (*state, map[string]*unitState, error) {
	data, err := os.ReadFile(filepath.Join(home, "model.json"))
	if err != nil {
		return nil, nil, err
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, nil, fmt.Errorf("decoding %s: %w", filepath.Join(home, "model.json"), err)
	}
	return p.State, p.Units, nil
}

func cloneBag(b map[string]string) map[string]string {
	if b == nil {
		return map[string]string{}
	}
	return maps.Clone(b)
}
