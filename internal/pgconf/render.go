package pgconf

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/templates"
)

// The templates are parsed on first use, not at init: a hook that
// renders nothing (a no-op dispatch, an action) does not pay for them.
var (
	patroniTemplate = lazyTemplate("patroni.yml.tmpl")
	etcdTemplate    = lazyTemplate("etcd.conf.yml.tmpl")
	hbaTemplate     = lazyTemplate("pg_hba.conf.tmpl")
)

func lazyTemplate(name string) func() *template.Template {
	return sync.OnceValue(func() *template.Template {
		return templates.Parse(name, template.FuncMap{"q": yamlQuote})
	})
}

// Patroni timing (DESIGN §10). They meet upstream's rule
// loop_wait + 2*retry_timeout <= ttl, and ttl is at upstream's floor of 20 s.
const (
	TTL                  = 20
	LoopWait             = 2
	RetryTimeout         = 9
	MaximumLagOnFailover = 1 << 20 // bytes
)

// dcsParameters are the parameters Patroni takes only from the DCS (global
// configuration): local values are ignored, because primary and replicas
// must agree on them. They go to bootstrap.dcs, and later changes go through
// PATCH /config.
var dcsParameters = map[string]bool{
	"max_connections":           true,
	"max_locks_per_transaction": true,
	"max_worker_processes":      true,
	"max_prepared_transactions": true,
	"wal_level":                 true,
	"track_commit_timestamp":    true,
	"max_wal_senders":           true,
	"max_replication_slots":     true,
	"wal_keep_segments":         true,
	"wal_keep_size":             true,
	"wal_log_hints":             true,
}

// DCSParameter reports whether Patroni takes the named parameter only from
// the DCS (see dcsParameters).
func DCSParameter(name string) bool { return dcsParameters[strings.ToLower(name)] }

// Passwords are the system users' passwords. They are never logged.
type Passwords struct {
	Operator    string `json:"-"`
	Replication string `json:"-"`
	Rewind      string `json:"-"`
	PatroniAPI  string `json:"-"`
	Etcd        string `json:"-"`
	// Generation counts rotations (set-password bumps it; empty before the
	// first). It is no secret: patroni.yml carries it as the tag
	// "charm-passwords", which GET /patroni reports once Patroni has
	// reloaded the file, so the charm knows Patroni runs with the new
	// passwords before it changes one (etcd's) that Patroni must follow.
	Generation string `json:"-"`
}

// PasswordsTag is the Patroni tag carrying Passwords.Generation.
const PasswordsTag = "charm-passwords"

// Member is a unit of the application as the peer relation shows it.
type Member struct {
	Unit    string // Juju unit name, "postgresql/1"
	Address netip.Addr
}

// UnitConfig is everything needed to render one unit's files.
type UnitConfig struct {
	App       string     // application name: Patroni scope, etcd cluster token
	Unit      string     // this unit's name
	Address   netip.Addr // this unit's address (network-get)
	Peers     []Member   // the other units; this unit may be included
	Layout    Layout
	PGVersion string // major version, "15"
	Settings  Settings
	Passwords Passwords
	// CA is the cluster CA from the application's secret; empty for an
	// application deployed before etcd TLS (EtcdTLS).
	CA pki.CA `json:"-"`
	// Clients are pg_hba rules of client relations.
	Clients []HBARule
	// PatroniPort is the REST API port; zero means DefaultPatroniPort.
	PatroniPort int
	// EtcdInitialClusterState is "new" for a member that bootstraps the
	// cluster and "existing" for one added to a running cluster.
	EtcdInitialClusterState string
	// EtcdInitial are the members in etcd's initial cluster and
	// EtcdVoters the endpoints Patroni uses (a learner serves no client
	// requests). Nil means this unit and its Peers, as for a cluster that
	// bootstraps with them.
	EtcdInitial, EtcdVoters []Member
	// Backup is the backup repository (backup.go); zero for none.
	Backup BackupRepo
	// EtcdForceNewCluster starts etcd once as a one-member cluster from
	// its own data (quorum recovery: the other members are gone).
	EtcdForceNewCluster bool
}

// etcdInitial and etcdVoters default to members().
func (c UnitConfig) etcdInitial() []Member {
	if c.EtcdInitial != nil {
		return c.EtcdInitial
	}
	return c.members()
}

func (c UnitConfig) etcdVoters() []Member {
	if c.EtcdVoters != nil {
		return c.EtcdVoters
	}
	return c.members()
}

// PatroniURL is the unit's Patroni REST API, "https://10.0.0.1:8008"
// (http:// for an application without the cluster CA, PatroniTLS).
func (c UnitConfig) PatroniURL() string {
	scheme := "http"
	if c.PatroniTLS() {
		scheme = "https"
	}
	return scheme + "://" + hostPort(c.Address, c.patroniPort())
}

func (c UnitConfig) patroniPort() int {
	if c.PatroniPort == 0 {
		return DefaultPatroniPort
	}
	return c.PatroniPort
}

// members returns this unit and its peers, sorted by unit name, without
// duplicates.
func (c UnitConfig) members() []Member {
	seen := map[string]bool{c.Unit: true}
	out := []Member{{Unit: c.Unit, Address: c.Address}}
	for _, p := range c.Peers {
		if !seen[p.Unit] {
			seen[p.Unit] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return unitLess(out[i].Unit, out[j].Unit) })
	return out
}

// unitLess orders unit names by application, then unit number.
func unitLess(a, b string) bool {
	ai, bi := strings.LastIndexByte(a, '/'), strings.LastIndexByte(b, '/')
	if ai >= 0 && bi >= 0 && a[:ai] == b[:bi] {
		an, errA := strconv.Atoi(a[ai+1:])
		bn, errB := strconv.Atoi(b[bi+1:])
		if errA == nil && errB == nil {
			return an < bn
		}
	}
	return a < b
}

func (c UnitConfig) check() error {
	switch {
	case c.App == "", c.Unit == "":
		return fmt.Errorf("rendering: application and unit names are required")
	case !c.Address.IsValid():
		return fmt.Errorf("rendering: unit address is required")
	case c.PGVersion == "":
		return fmt.Errorf("rendering: PostgreSQL version is required")
	case c.Layout.PGData == "" || c.Layout.PatroniDir == "" || c.Layout.EtcdConfDir == "" || c.Layout.EtcdDataDir == "" || c.Layout.SocketDir == "":
		return fmt.Errorf("rendering: layout is incomplete")
	case len(c.Layout.SocketPath(c.Settings.ListenPort)) > SocketPathLimit:
		return fmt.Errorf("rendering: the unit's socket path %s is longer than %d bytes", c.Layout.SocketPath(c.Settings.ListenPort), SocketPathLimit)
	}
	return nil
}

func hostPort(a netip.Addr, port int) string {
	return netip.AddrPortFrom(a.Unmap(), uint16(port)).String()
}

// Parameters returns the PostgreSQL parameters of a unit, split into those
// Patroni takes from its local configuration and those it takes only from
// the DCS. Charm-owned values are written last, so nothing overrides them.
func Parameters(c UnitConfig) (local, dcs map[string]string) {
	local, dcs = map[string]string{}, map[string]string{}
	for k, v := range c.Settings.ExtraParameters {
		if _, fixed := FixedParameters[k]; fixed {
			continue // Validate refuses these; belt and braces.
		}
		if dcsParameters[k] {
			dcs[k] = v
		} else {
			local[k] = v
		}
	}
	local["unix_socket_directories"] = c.Layout.SocketDir
	local["password_encryption"] = "scram-sha-256"
	local["shared_buffers"] = c.Settings.SharedBuffers
	dcs["max_connections"] = strconv.Itoa(c.Settings.MaxConnections)
	dcs["wal_level"] = "replica"
	dcs["wal_log_hints"] = "on"
	dcs["max_wal_senders"] = "10"
	dcs["max_replication_slots"] = "10"
	dcs["hot_standby"] = "on"
	// Backups (backup.go): archive_mode is on from the bootstrap so that
	// a repository configured later needs only a reload.
	local["archive_mode"] = "on"
	local["archive_command"] = ArchiveCommand(c)
	return local, dcs
}

// HBARules returns the unit's pg_hba rules (see RenderHBARules).
func HBARules(c UnitConfig) []HBARule {
	var peers []netip.Addr
	for _, m := range c.members() {
		peers = append(peers, m.Address)
	}
	return RenderHBARules(c.Address, peers, c.Settings.AdminAddresses, c.Clients, c.Settings.ExtraHBA)
}

// RenderHBA renders the unit's pg_hba rules as a pg_hba.conf file, the form
// an operator reads; patroni.yml carries the same lines.
func RenderHBA(c UnitConfig) (string, error) {
	var lines []string
	for _, r := range HBARules(c) {
		lines = append(lines, r.String())
	}
	var b strings.Builder
	if err := hbaTemplate().Execute(&b, lines); err != nil {
		return "", fmt.Errorf("rendering pg_hba.conf: %w", err)
	}
	return strings.TrimPrefix(b.String(), "\n") + "\n", nil
}

// RenderPatroni renders patroni.yml for the unit.
func RenderPatroni(c UnitConfig) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	local, dcs := Parameters(c)
	var hosts []string
	for _, m := range c.etcdVoters() {
		hosts = append(hosts, hostPort(m.Address, EtcdClientPort))
	}
	sort.Strings(hosts)
	var hba []string
	for _, r := range HBARules(c) {
		hba = append(hba, r.String())
	}
	data := struct {
		Unit, Scope, Name, Namespace                      string
		RestAPIAddress, RestAPIUser, RestAPIPassword      string
		RestAPIAllowlist                                  []string
		RestAPICert, RestAPIKey, RestAPICA                string
		EtcdHosts                                         []string
		EtcdProtocol, EtcdCACert, EtcdCert, EtcdKey       string
		EtcdUser, EtcdPassword                            string
		TTL, LoopWait, RetryTimeout, MaximumLagOnFailover int
		DCSParameters, Parameters                         map[string]string
		Encoding, Locale                                  string
		PostgresAddress, DataDir, BinDir, PgPass          string
		SuperUser, SuperPassword                          string
		ReplicationUser, ReplicationPassword              string
		RewindUser, RewindPassword                        string
		HBA                                               []string
		PasswordsTag, PasswordsGeneration                 string
	}{
		Unit: c.Unit, Scope: c.App, Name: UnitSlug(c.Unit), Namespace: PatroniNamespace,
		RestAPIAddress: hostPort(c.Address, c.patroniPort()), RestAPIUser: PatroniAPIUser, RestAPIPassword: c.Passwords.PatroniAPI,
		RestAPIAllowlist: restAPIAllowlist(c.Address),
		EtcdHosts:        hosts, EtcdProtocol: c.etcdScheme(), EtcdUser: EtcdRootUser, EtcdPassword: c.Passwords.Etcd,
		TTL: TTL, LoopWait: LoopWait, RetryTimeout: RetryTimeout, MaximumLagOnFailover: MaximumLagOnFailover,
		DCSParameters: dcs, Parameters: local,
		Encoding: c.Settings.Encoding, Locale: c.Settings.Locale,
		PostgresAddress: hostPort(c.Address, c.Settings.ListenPort),
		DataDir:         c.Layout.PGData, BinDir: BinDir(c.PGVersion), PgPass: c.Layout.PgPassPath(),
		SuperUser: OperatorUser, SuperPassword: c.Passwords.Operator,
		ReplicationUser: ReplicationUser, ReplicationPassword: c.Passwords.Replication,
		RewindUser: RewindUser, RewindPassword: c.Passwords.Rewind,
		HBA:          hba,
		PasswordsTag: PasswordsTag, PasswordsGeneration: c.Passwords.Generation,
	}
	if c.EtcdTLS() {
		data.EtcdCACert, data.EtcdCert, data.EtcdKey = c.Layout.EtcdCACertPath(), c.Layout.PatroniEtcdCertPath(), c.Layout.PatroniEtcdKeyPath()
	}
	if c.PatroniTLS() {
		data.RestAPICert, data.RestAPIKey, data.RestAPICA = c.Layout.PatroniAPICertPath(), c.Layout.PatroniAPIKeyPath(), c.Layout.EtcdCACertPath()
	}
	var b strings.Builder
	if err := patroniTemplate().Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering patroni.yml: %w", err)
	}
	return b.String(), nil
}

// restAPIAllowlist is who may call Patroni's unsafe endpoints besides the
// cluster's members (allowlist_include_members): the unit itself, on its
// address and on loopback. Patroni 3.0.2 applies it to the unsafe
// (non-GET) endpoints only: the GET endpoints are closed to the network
// by TLS with client certificates (PatroniTLS).
func restAPIAllowlist(self netip.Addr) []string {
	return []string{self.Unmap().String(), "127.0.0.1"}
}

// EtcdPeerURL is the peer URL of a member at addr (etcd speaks TLS; a
// cluster deployed before TLS uses UnitConfig.PeerURL).
func EtcdPeerURL(addr netip.Addr) string {
	return "https://" + hostPort(addr, EtcdPeerPort)
}

// EtcdClientURL is the client URL of a member at addr (see EtcdPeerURL).
func EtcdClientURL(addr netip.Addr) string {
	return "https://" + hostPort(addr, EtcdClientPort)
}

// EtcdMemberName is the etcd member name of a unit.
func EtcdMemberName(unit string) string { return UnitSlug(unit) }

// RenderEtcd renders the unit's etcd configuration file. initial-cluster
// lists this unit and its peers; for a member joining a running cluster
// (state "existing") it must list exactly the members etcd knows plus this
// one, which the leader arranges with MemberAdd before the unit starts.
func RenderEtcd(c UnitConfig) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	state := c.EtcdInitialClusterState
	if state == "" {
		state = "new"
	}
	if state != "new" && state != "existing" {
		return "", fmt.Errorf("rendering etcd configuration: initial cluster state %q", state)
	}
	var initial []string
	for _, m := range c.etcdInitial() {
		initial = append(initial, EtcdMemberName(m.Unit)+"="+c.PeerURL(m.Address))
	}
	data := struct {
		Unit, Name, DataDir, PeerURL, ClientURL string
		InitialCluster, InitialClusterState     string
		ClusterToken                            string
		CACert, Cert, Key                       string
		ForceNewCluster                         bool
	}{
		Unit: c.Unit, Name: EtcdMemberName(c.Unit), DataDir: c.Layout.EtcdDataDir,
		PeerURL: c.PeerURL(c.Address), ClientURL: c.ClientURL(c.Address),
		InitialCluster: strings.Join(initial, ","), InitialClusterState: state,
		ClusterToken: c.App, ForceNewCluster: c.EtcdForceNewCluster,
	}
	if c.EtcdTLS() {
		data.CACert, data.Cert, data.Key = c.Layout.EtcdCACertPath(), c.Layout.EtcdServerCertPath(), c.Layout.EtcdServerKeyPath()
	}
	var b strings.Builder
	if err := etcdTemplate().Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering etcd configuration: %w", err)
	}
	return b.String(), nil
}
