package juju

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusLevel is a workload status a charm may set (status-set).
type StatusLevel string

// The workload statuses a charm sets, and "" for none. Their precedence in
// PickStatus is blocked > maintenance > waiting > active.
const (
	StatusActive      StatusLevel = "active"
	StatusBlocked     StatusLevel = "blocked"
	StatusMaintenance StatusLevel = "maintenance"
	StatusWaiting     StatusLevel = "waiting"
)

// Status is a workload status with its message.
type Status struct {
	Level   StatusLevel
	Message string
}

// String is "level: message" or just "level".
func (s Status) String() string {
	if s.Message == "" {
		return string(s.Level)
	}
	return string(s.Level) + ": " + s.Message
}

// Active, Blocked, Maintenance and Waiting build a Status.
func Active(msg string) Status      { return Status{StatusActive, msg} }
func Blocked(msg string) Status     { return Status{StatusBlocked, msg} }
func Maintenance(msg string) Status { return Status{StatusMaintenance, msg} }
func Waiting(msg string) Status     { return Status{StatusWaiting, msg} }

// LogLevel is a juju-log level.
type LogLevel string

// juju-log levels (contract §2.3).
const (
	LogTrace    LogLevel = "TRACE"
	LogDebug    LogLevel = "DEBUG"
	LogInfo     LogLevel = "INFO"
	LogWarning  LogLevel = "WARNING"
	LogError    LogLevel = "ERROR"
	LogCritical LogLevel = "CRITICAL"
)

// Port is a port or range with its protocol, as open-port takes it and
// opened-ports prints it. ICMP has no port numbers.
type Port struct {
	Protocol string // "tcp", "udp" or "icmp"
	From, To int    // To == From for a single port
}

// TCP is a single TCP port.
func TCP(port int) Port { return Port{Protocol: "tcp", From: port, To: port} }

// String is Juju's form: "5432/tcp", "8000-8010/udp", "icmp".
func (p Port) String() string {
	if p.Protocol == "icmp" {
		return "icmp"
	}
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	if p.To == 0 || p.To == p.From {
		return fmt.Sprintf("%d/%s", p.From, proto)
	}
	return fmt.Sprintf("%d-%d/%s", p.From, p.To, proto)
}

// ParsePort parses "5432/tcp", "8000-8010/udp", "5432" (tcp) or "icmp"; an
// opened-ports suffix like " (*)" is ignored.
func ParsePort(s string) (Port, error) {
	s, _, _ = strings.Cut(strings.TrimSpace(s), " ")
	if s == "icmp" {
		return Port{Protocol: "icmp"}, nil
	}
	rng, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return Port{}, fmt.Errorf("port %q: unknown protocol %q", s, proto)
	}
	fromS, toS, isRange := strings.Cut(rng, "-")
	from, err := strconv.Atoi(fromS)
	if err != nil || from < 1 || from > 65535 {
		return Port{}, fmt.Errorf("port %q: invalid port number", s)
	}
	to := from
	if isRange {
		to, err = strconv.Atoi(toS)
		if err != nil || to < from || to > 65535 {
			return Port{}, fmt.Errorf("port %q: invalid port range", s)
		}
	}
	return Port{Protocol: proto, From: from, To: to}, nil
}

// NetworkInfo is network-get's full structure for a binding.
type NetworkInfo struct {
	BindAddresses    []BindAddress `json:"bind-addresses"`
	EgressSubnets    []string      `json:"egress-subnets"`
	IngressAddresses []string      `json:"ingress-addresses"`
}

// BindAddress is one interface of a binding.
type BindAddress struct {
	MACAddress    string          `json:"mac-address"`
	InterfaceName string          `json:"interface-name"`
	Addresses     []InterfaceAddr `json:"addresses"`
}

// InterfaceAddr is an address on an interface.
type InterfaceAddr struct {
	Hostname string `json:"hostname"`
	Value    string `json:"value"`
	CIDR     string `json:"cidr"`
}

// BindAddress returns the first bind address, the one daemons listen on
// (DESIGN §5), or "".
func (n NetworkInfo) BindAddress() string {
	for _, b := range n.BindAddresses {
		for _, a := range b.Addresses {
			if a.Value != "" {
				return a.Value
			}
		}
	}
	return ""
}

// IngressAddress returns the first ingress address, the one other units
// connect to, or "".
func (n NetworkInfo) IngressAddress() string {
	if len(n.IngressAddresses) > 0 {
		return n.IngressAddresses[0]
	}
	return ""
}

// SecretOwner says who owns a secret.
type SecretOwner string

// Secret owners. Application-owned secrets need the leader.
const (
	SecretOwnerApplication SecretOwner = "application"
	SecretOwnerUnit        SecretOwner = "unit"
)

// SecretAddOptions are secret-add's flags; zero values are left out.
type SecretAddOptions struct {
	Label       string
	Description string
	Expire      string // duration like "24h" or RFC 3339 time
	Rotate      string // never, hourly, daily, weekly, monthly, quarterly, yearly
	Owner       SecretOwner
}

// SecretGetOptions selects the secret and revision secret-get reads. ID or
// Label (or both: the label is then set for the consumer) must be given.
type SecretGetOptions struct {
	Label   string
	Peek    bool // read the latest revision without tracking it
	Refresh bool // move to and track the latest revision
}

// SecretSetOptions are secret-set's flags; zero values are unchanged.
type SecretSetOptions struct {
	Label       string
	Description string
	Expire      string
	Rotate      string
}

// SecretRevokeOptions names whom secret-revoke removes access from; exactly
// one is set.
type SecretRevokeOptions struct {
	RelationID string
	App        string
	Unit       string
}

// SecretInfo is secret-info-get's value for one secret.
type SecretInfo struct {
	Revision    int            `json:"revision"`
	Label       string         `json:"label,omitempty"`
	Description string         `json:"description,omitempty"`
	Expiry      string         `json:"expiry,omitempty"`
	Owner       string         `json:"owner"`
	Rotation    string         `json:"rotation,omitempty"`
	Rotates     string         `json:"rotates,omitempty"`
	Access      []SecretAccess `json:"access,omitempty"`
}

// SecretAccess is one grant of a secret.
type SecretAccess struct {
	Target string `json:"target"`
	Scope  string `json:"scope"`
	Role   string `json:"role"`
}

// StorageInfo is storage-get's map.
type StorageInfo struct {
	Kind     string `json:"kind"`
	Location string `json:"location"`
}

// GoalState is goal-state's output: the units and relation members the unit
// will have once the model settles.
type GoalState struct {
	Units     map[string]GoalStatus            `json:"units"`
	Relations map[string]map[string]GoalStatus `json:"relations"`
}

// GoalStatus is a unit's or application's goal status.
type GoalStatus struct {
	Status string `json:"status"`
	Since  string `json:"since,omitempty"`
}
