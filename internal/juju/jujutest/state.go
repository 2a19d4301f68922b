package jujutest

import (
	"maps"
	"slices"
	"strconv"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// State is what a unit sees of its model, before and after one event.
type State struct {
	// UnitName defaults to "<charm>/0".
	UnitName string
	// JujuVersion is JUJU_VERSION; default 3.6.25. Before 3.0.3 Juju has
	// no secret-* tools: they fail as missing from PATH.
	JujuVersion string
	Leader      bool
	// Config holds values the user set; the charm's defaults fill the rest.
	Config map[string]any
	// LeaderData are leader settings (leader-get/-set).
	LeaderData map[string]string
	Relations  []Relation
	Secrets    []Secret
	Storage    []Storage
	// PrivateAddress answers unit-get private-address and every
	// network-get; default 10.0.0.10.
	PrivateAddress string

	// StoredState is the charm state (state-get/-set).
	StoredState map[string]string
	OpenedPorts []juju.Port

	// Outputs; they may be set as input too.
	UnitStatus      juju.Status
	AppStatus       juju.Status
	WorkloadVersion string
	Logs            []LogLine
	// StatusHistory lists every status-set call of the event, in order, so
	// a test can check a dispatch sets status once.
	StatusHistory []StatusCall
}

// Relation is one relation with both sides' databags.
type Relation struct {
	ID       int
	Endpoint string
	// RemoteApp is the other application; for a peer relation it is the
	// local application (filled in when empty).
	RemoteApp     string
	LocalUnitData map[string]string
	LocalAppData  map[string]string
	RemoteAppData map[string]string
	// RemoteUnitsData has one entry per remote unit in the relation (an
	// empty map for a unit that has not written anything).
	RemoteUnitsData map[string]map[string]string
}

// Key is "<endpoint>:<id>", the form hook tools use.
func (r Relation) Key() string { return r.Endpoint + ":" + strconv.Itoa(r.ID) }

// RemoteUnits returns the remote units, sorted.
func (r Relation) RemoteUnits() []string {
	return slices.Sorted(maps.Keys(r.RemoteUnitsData))
}

// Secret is a secret the unit owns or can read.
type Secret struct {
	ID    string // "secret://<uuid>/<id>"; assigned when empty
	Label string
	Owner juju.SecretOwner // "" means application
	// Content is the latest revision.
	Content  map[string]string
	Revision int
	// Grants maps a relation key ("database:7") to the units or app
	// granted on it.
	Grants map[string][]string
	Info   juju.SecretInfo
}

// Storage is an attached storage instance.
type Storage struct {
	Name     string // "pgdata"
	Index    int    // the n in "pgdata/n"
	Location string
	Kind     string // "filesystem" (default) or "block"
}

// ID is "<name>/<index>".
func (s Storage) ID() string { return s.Name + "/" + strconv.Itoa(s.Index) }

// LogLine is one juju-log call.
type LogLine struct {
	Level   juju.LogLevel
	Message string
}

// StatusCall is one status-set call.
type StatusCall struct {
	App    bool
	Status juju.Status
}

// ActionOutput is what an action left.
type ActionOutput struct {
	Results map[string]string
	// Failed is set by action-fail, with its message.
	Failed  bool
	Message string
	Logs    []string
}

// Clone deep-copies a State.
func (s State) Clone() State {
	c := s
	c.Config = maps.Clone(s.Config)
	c.LeaderData = maps.Clone(s.LeaderData)
	c.StoredState = maps.Clone(s.StoredState)
	c.OpenedPorts = slices.Clone(s.OpenedPorts)
	c.Logs = slices.Clone(s.Logs)
	c.StatusHistory = slices.Clone(s.StatusHistory)
	c.Storage = slices.Clone(s.Storage)
	c.Relations = make([]Relation, len(s.Relations))
	for i, r := range s.Relations {
		r.LocalUnitData = maps.Clone(r.LocalUnitData)
		r.LocalAppData = maps.Clone(r.LocalAppData)
		r.RemoteAppData = maps.Clone(r.RemoteAppData)
		units := make(map[string]map[string]string, len(r.RemoteUnitsData))
		for u, d := range r.RemoteUnitsData {
			units[u] = maps.Clone(d)
		}
		if r.RemoteUnitsData == nil {
			units = nil
		}
		r.RemoteUnitsData = units
		c.Relations[i] = r
	}
	c.Secrets = make([]Secret, len(s.Secrets))
	for i, sec := range s.Secrets {
		sec.Content = maps.Clone(sec.Content)
		grants := map[string][]string{}
		for k, v := range sec.Grants {
			grants[k] = slices.Clone(v)
		}
		if sec.Grants == nil {
			grants = nil
		}
		sec.Grants = grants
		c.Secrets[i] = sec
	}
	if s.Relations == nil {
		c.Relations = nil
	}
	if s.Secrets == nil {
		c.Secrets = nil
	}
	return c
}

// RelationByKey returns the relation "<endpoint>:<id>".
func (s State) RelationByKey(key string) (Relation, bool) {
	for _, r := range s.Relations {
		if r.Key() == key {
			return r, true
		}
	}
	return Relation{}, false
}

// SecretByLabel returns the secret with a label.
func (s State) SecretByLabel(label string) (Secret, bool) {
	for _, sec := range s.Secrets {
		if sec.Label == label {
			return sec, true
		}
	}
	return Secret{}, false
}
