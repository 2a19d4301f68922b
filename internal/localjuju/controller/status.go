package controller

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status is the shape of `juju status --format=json` for the fields
// localjuju has.
type Status struct {
	Model        ModelStatus            `json:"model"`
	Machines     map[string]MachineInfo `json:"machines"`
	Applications map[string]AppStatus   `json:"applications"`
}

// ModelStatus is status.model.
type ModelStatus struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Controller string `json:"controller"`
	Cloud      string `json:"cloud"`
	Version    string `json:"version"`
}

// MachineInfo is status.machines.<id>.
type MachineInfo struct {
	JujuStatus  StatusValue `json:"juju-status"`
	DNSName     string      `json:"dns-name"`
	IPAddresses []string    `json:"ip-addresses"`
	InstanceID  string      `json:"instance-id"`
}

// StatusValue is a status with its message and time.
type StatusValue struct {
	Current string         `json:"current"`
	Message string         `json:"message,omitempty"`
	Since   string         `json:"since,omitempty"`
	Version string         `json:"version,omitempty"`
	Data    map[string]any `json:"status-data,omitempty"`
}

// AppStatus is status.applications.<app>.
type AppStatus struct {
	Charm             string                      `json:"charm"`
	CharmName         string                      `json:"charm-name"`
	Version           string                      `json:"version,omitempty"`
	ApplicationStatus StatusValue                 `json:"application-status"`
	Relations         map[string][]RelatedApp     `json:"relations,omitempty"`
	Units             map[string]UnitStatus       `json:"units,omitempty"`
	EndpointBindings  map[string]string           `json:"endpoint-bindings,omitempty"`
	RelationIDs       map[string]map[string][]int `json:"-"`
}

// RelatedApp is one entry of applications.<app>.relations.<endpoint>.
type RelatedApp struct {
	RelatedApplication string `json:"related-application"`
	Interface          string `json:"interface"`
	Scope              string `json:"scope"`
}

// UnitStatus is applications.<app>.units.<unit>.
type UnitStatus struct {
	WorkloadStatus StatusValue `json:"workload-status"`
	JujuStatus     StatusValue `json:"juju-status"`
	Leader         bool        `json:"leader,omitempty"`
	Machine        string      `json:"machine"`
	OpenPorts      []string    `json:"open-ports,omitempty"`
	PublicAddress  string      `json:"public-address"`
}

// severity orders workload statuses for deriving an application status.
var severity = map[string]int{"error": 6, "blocked": 5, "maintenance": 4, "waiting": 3, "active": 2, "unknown": 1, "terminated": 0}

// Status reports the model.
func (m *Model) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{
		Model:        ModelStatus{Name: m.st.Name, Type: "iaas", Controller: "localjuju", Cloud: "localjuju", Version: m.jujuVersionLocked()},
		Machines:     map[string]MachineInfo{},
		Applications: map[string]AppStatus{},
	}
	for _, name := range sortedKeys(m.st.Apps) {
		a := m.st.Apps[name]
		ch := m.charms[name]
		as := AppStatus{Charm: ch.Meta.Name, CharmName: ch.Meta.Name, Version: a.Version,
			Relations: map[string][]RelatedApp{}, Units: map[string]UnitStatus{}}
		derived := StatusValue{Current: "unknown"}
		for _, un := range a.Units {
			u := m.units[un]
			agentStatus := u.AgentStatus
			if agentStatus == "" {
				agentStatus = "idle"
			}
			us := UnitStatus{
				WorkloadStatus: StatusValue{Current: u.Workload.Status, Message: u.Workload.Message, Since: u.WorkloadSince.UTC().Format(time.RFC3339)},
				JujuStatus:     StatusValue{Current: agentStatus, Message: u.AgentMessage, Version: JujuVersion, Data: u.AgentData},
				Leader:         a.Leader == un,
				Machine:        strconv.Itoa(u.Machine),
				PublicAddress:  u.Address,
			}
			if agentStatus == "error" {
				us.WorkloadStatus, us.JujuStatus = hookErrorStatus(u, us.WorkloadSince())
			}
			if agentStatus == "lost" {
				us.WorkloadStatus.Message = "agent lost, see 'juju show-status-log " + un + "'"
			}
			for _, p := range u.Ports {
				us.OpenPorts = append(us.OpenPorts, formatPort(p.Range.From, p.Range.To, p.Range.Protocol))
			}
			as.Units[un] = us
			if severity[us.WorkloadStatus.Current] > severity[derived.Current] {
				derived = StatusValue{Current: us.WorkloadStatus.Current, Message: us.WorkloadStatus.Message}
			}
			st.Machines[us.Machine] = MachineInfo{
				JujuStatus: StatusValue{Current: map[bool]string{true: "down", false: "started"}[agentStatus == "lost"]},
				DNSName:    u.Address, IPAddresses: []string{u.Address}, InstanceID: m.st.NetNS + "-m" + us.Machine,
			}
		}
		if a.Status.Status != "" && a.Status.Status != "unknown" {
			as.ApplicationStatus = StatusValue{Current: a.Status.Status, Message: a.Status.Message, Since: a.StatusSince.UTC().Format(time.RFC3339)}
		} else {
			as.ApplicationStatus = derived
		}
		for _, r := range m.relationsOfLocked(name) {
			ep := r.endpointOf(name)
			as.Relations[ep.Endpoint] = append(as.Relations[ep.Endpoint], RelatedApp{
				RelatedApplication: r.remoteApp(name), Interface: ep.Interface, Scope: "global"})
		}
		st.Applications[name] = as
	}
	return st
}

// WorkloadSince returns the since value (helper for error statuses).
func (u UnitStatus) WorkloadSince() string { return u.WorkloadStatus.Since }

// hookErrorStatus is what status reports for a unit whose hook failed. The
// agent records the error (§3.9), but Juju's state model translates it on
// the way out (state.Unit.Status, state.UnitAgent.Status): the workload is
// "error" with the agent's message and data, the agent "idle". The workload
// status the charm set is kept and comes back once the hook succeeds.
func hookErrorStatus(u *unitState, since string) (workload, agent StatusValue) {
	workload = StatusValue{Current: "error", Message: u.AgentMessage, Since: since, Data: u.AgentData}
	agent = StatusValue{Current: "idle", Version: JujuVersion}
	return workload, agent
}

func formatPort(from, to int, proto string) string {
	if proto == "icmp" {
		return "icmp"
	}
	if from == to {
		return fmt.Sprintf("%d/%s", from, proto)
	}
	return fmt.Sprintf("%d-%d/%s", from, to, proto)
}

// UnitInfo is `juju show-unit --format json` for one unit.
type UnitInfo struct {
	WorkloadVersion string            `json:"workload-version,omitempty"`
	Machine         string            `json:"machine"`
	OpenedPorts     []string          `json:"opened-ports"`
	PublicAddress   string            `json:"public-address"`
	Charm           string            `json:"charm"`
	Leader          bool              `json:"leader"`
	Life            string            `json:"life,omitempty"`
	RelationInfo    []RelationInfo    `json:"relation-info,omitempty"`
	CharmState      map[string]string `json:"-"`
}

// RelationInfo is one relation in show-unit output.
type RelationInfo struct {
	RelationID      int                       `json:"relation-id"`
	Endpoint        string                    `json:"endpoint"`
	CrossModel      bool                      `json:"cross-model"`
	RelatedEndpoint string                    `json:"related-endpoint"`
	ApplicationData map[string]string         `json:"application-data"`
	LocalUnit       *RelatedUnit              `json:"local-unit,omitempty"`
	RelatedUnits    map[string]RelatedUnit    `json:"related-units,omitempty"`
	RelatedAppData  map[string]map[string]any `json:"-"`
}

// RelatedUnit is a unit's databag in show-unit output.
type RelatedUnit struct {
	InScope bool              `json:"in-scope"`
	Data    map[string]string `json:"data"`
}

// ShowUnit reports a unit's relation data as `juju show-unit` does.
func (m *Model) ShowUnit(unit string) (map[string]UnitInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.units[unit]
	if u == nil {
		return nil, fmt.Errorf("unit %q not found", unit)
	}
	a := m.st.Apps[u.App]
	info := UnitInfo{WorkloadVersion: a.Version, Machine: strconv.Itoa(u.Machine), PublicAddress: u.Address,
		Charm: "local:" + m.charms[u.App].Meta.Name + "-0", Leader: a.Leader == unit, Life: string(u.Life), OpenedPorts: []string{}}
	for _, p := range u.Ports {
		info.OpenedPorts = append(info.OpenedPorts, formatPort(p.Range.From, p.Range.To, p.Range.Protocol))
	}
	for _, r := range m.relationsOfLocked(u.App) {
		ep := r.endpointOf(u.App)
		remote := r.remoteApp(u.App)
		related := ep.Endpoint
		if !r.Peer {
			related = r.endpointOf(remote).Endpoint
		}
		ri := RelationInfo{RelationID: r.ID, Endpoint: ep.Endpoint, RelatedEndpoint: related,
			ApplicationData: cloneBag(r.AppBags[remote]), RelatedUnits: map[string]RelatedUnit{}}
		ri.LocalUnit = &RelatedUnit{InScope: r.Scope[unit], Data: cloneBag(r.UnitBags[unit])}
		var names []string
		for n := range r.UnitBags {
			if appOfUnit(n) == remote && n != unit {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			ri.RelatedUnits[n] = RelatedUnit{InScope: r.Scope[n], Data: cloneBag(r.UnitBags[n])}
		}
		info.RelationInfo = append(info.RelationInfo, ri)
	}
	return map[string]UnitInfo{unit: info}, nil
}

// WaitIdle returns once every live unit agent has had nothing to run (apart
// from update-status) for the settle period; an error names a unit in error
// or, on timeout, the units still busy.
func (m *Model) WaitIdle(ctx context.Context, settle time.Duration) error {
	if settle <= 0 {
		settle = time.Second
	}
	var idleSince time.Time
	for {
		busy, failed := m.busyUnits()
		if failed != "" {
			return fmt.Errorf("%s", failed)
		}
		now := time.Now()
		if len(busy) > 0 {
			idleSince = time.Time{}
		} else if idleSince.IsZero() {
			idleSince = now
		} else if now.Sub(idleSince) >= settle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the model to settle: still busy: %v", busy)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// busyUnits lists units with a running or pending operation, and describes
// the first unit in error.
func (m *Model) busyUnits() ([]string, string) {
	var busy []string
	for _, u := range m.snapshotUnits() {
		m.mu.Lock()
		a := m.agents[u]
		unit := m.units[u]
		if unit != nil && unit.AgentStatus == "error" {
			msg := fmt.Sprintf("unit %s is in error: %s", u, unit.AgentMessage)
			m.mu.Unlock()
			return busy, msg
		}
		lost := a == nil || !a.alive || a.frozen
		isBusy := a != nil && a.busy
		m.mu.Unlock()
		if lost {
			continue
		}
		if isBusy {
			busy = append(busy, u)
			continue
		}
		if op, _ := m.nextOp(a); op != nil && !(op.hook != nil && op.hook.Kind == "update-status") {
			busy = append(busy, u)
		}
	}
	return busy, ""
}

func (m *Model) snapshotUnits() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, u := range m.sortedUnitsLocked() {
		out = append(out, u.Name)
	}
	return out
}

// WaitUnitStatus polls unit's status until ok holds; a unit in error, or
// ctx ending, fails it with the status last seen.
func (m *Model) WaitUnitStatus(ctx context.Context, unit string, ok func(UnitStatus) bool) error {
	app, _, _ := strings.Cut(unit, "/")
	for {
		s := m.Status().Applications[app].Units[unit]
		if s.WorkloadStatus.Current == "error" {
			return fmt.Errorf("%s in error: %s", unit, s.WorkloadStatus.Message)
		}
		if ok(s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s %q: %w", unit, s.WorkloadStatus.Current, s.WorkloadStatus.Message, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ShownSecret is one secret in `juju show-secret` output.
type ShownSecret struct {
	Revision    int               `json:"revision"`
	Owner       string            `json:"owner"`
	Label       string            `json:"label,omitempty"`
	Description string            `json:"description,omitempty"`
	Rotation    string            `json:"rotation,omitempty"`
	Expires     string            `json:"expires,omitempty"`
	Content     map[string]string `json:"content,omitempty"`
}

// ShowSecretArgs are `juju show-secret <id> [--reveal] [--revision N]`.
type ShowSecretArgs struct {
	ID       string
	Reveal   bool
	Revision int
}

// ShowSecret reports a secret as `juju show-secret` does for a model
// admin: its metadata, and its content only with Reveal. The id may be the
// full URI, secret:<xid> or the bare xid; the output is keyed by the xid.
func (m *Model) ShowSecret(args ShowSecretArgs) (map[string]ShownSecret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	xid := args.ID
	if i := strings.LastIndex(xid, "/"); i >= 0 {
		xid = xid[i+1:]
	}
	xid = strings.TrimPrefix(xid, "secret:")
	s := m.st.Secrets["secret://"+m.st.UUID+"/"+xid]
	if s == nil {
		return nil, fmt.Errorf("secret %q not found", args.ID)
	}
	rev := s.Latest
	if args.Revision != 0 {
		rev = args.Revision
	}
	content, ok := s.Revisions[rev]
	if !ok {
		return nil, fmt.Errorf("secret %q revision %d not found", args.ID, rev)
	}
	owner := s.OwnerApp
	if s.OwnerUnit != "" {
		owner = s.OwnerUnit
	}
	shown := ShownSecret{Revision: rev, Owner: owner, Label: s.Label, Description: s.Description, Rotation: s.Rotate, Expires: s.Expire}
	if args.Reveal {
		shown.Content = cloneBag(content)
	}
	return map[string]ShownSecret{xid: shown}, nil
}
