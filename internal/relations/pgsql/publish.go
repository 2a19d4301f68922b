package pgsql

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/clientdb"
)

// State is the role a server unit announces in its databag (§A.3).
type State string

// States the charm publishes. StateUnknown removes the key: clients treat
// a unit without state as unusable (setting up, maintenance, or a replica
// whose role Patroni does not report).
const (
	StateStandalone State = "standalone"
	StateMaster     State = "master"
	StateHotStandby State = "hot standby"
	// StateFailover: a replica while the cluster has no primary (a
	// failover under way); clients treat it as unusable (§A.3) until the
	// units publish master and hot standby again.
	StateFailover State = "failover"
	StateUnknown  State = ""
)

// Address is where a PostgreSQL server listens.
type Address struct {
	Host string
	Port int
}

// Credentials of the relation user.
type Credentials struct {
	User     string
	Password string `json:"-"`
}

// ClientUnit is a related client unit and the subnets it connects from.
type ClientUnit = clientdb.ClientUnit

// Server is what a server unit knows about itself and the cluster when it
// publishes.
type Server struct {
	// Self is this unit's ingress address for the relation and its port.
	Self    Address
	State   State
	Version string
	// Primary is the current primary; nil when unknown (no master key).
	Primary *Address
	// Standbys are the hot standbys (any order; published sorted).
	Standbys []Address
}

// UnitKeys are the keys RenderUnitData owns in the server unit's databag.
var UnitKeys = []string{
	"allowed-subnets", "allowed-units", "database", "extensions", "host", "master",
	"password", "port", "roles", "schema_password", "schema_user", "standbys", "state",
	"user", "version",
}

// RenderUnitData returns the server unit's databag for the relation (§A.2):
// every key of UnitKeys, "" meaning "delete" (Juju's relation-set rule), so
// the charm writes the map as it is in one relation-set.
//
// allowed lists the client units this unit's running pg_hba admits (after
// the reload, §A.4). With none, or without credentials, everything is
// withdrawn: a unit must not publish master or standbys before its own
// credentials and authorisation are complete (§A.6: one such unit hides
// the master from reactive clients).
func RenderUnitData(req Request, srv Server, cred Credentials, allowed []ClientUnit) map[string]string {
	out := make(map[string]string, len(UnitKeys))
	for _, k := range UnitKeys {
		out[k] = ""
	}
	if cred.User == "" || cred.Password == "" || len(allowed) == 0 {
		return out
	}
	out["host"] = srv.Self.Host
	out["port"] = strconv.Itoa(srv.Self.Port)
	out["database"] = req.Database
	out["user"], out["password"] = cred.User, cred.Password
	if !req.Admin() {
		out["schema_user"], out["schema_password"] = cred.User, cred.Password
	}
	out["state"] = string(srv.State)
	out["version"] = srv.Version
	out["roles"], out["extensions"] = req.RolesEcho, req.ExtensionsEcho
	out["allowed-units"], out["allowed-subnets"] = allowedLists(allowed)
	if srv.Primary != nil {
		out["master"] = Conninfo(*srv.Primary, req.Database, cred)
	}
	var standbys []string
	for _, a := range srv.Standbys {
		standbys = append(standbys, Conninfo(a, req.Database, cred))
	}
	slices.Sort(standbys)
	out["standbys"] = strings.Join(standbys, "\n")
	return out
}

// allowedLists returns allowed-units (space-separated, in unit order) and
// allowed-subnets (comma-separated, sorted by address, the union of the
// units' subnets).
func allowedLists(allowed []ClientUnit) (units, subnets string) {
	var names []string
	var prefixes []netip.Prefix
	for _, u := range allowed {
		names = append(names, u.Unit)
		prefixes = append(prefixes, u.Subnets...)
	}
	slices.SortFunc(names, clientdb.CompareUnits)
	names = slices.Compact(names)
	var ps []string
	for _, p := range clientdb.SortPrefixes(prefixes) {
		ps = append(ps, p.String())
	}
	return strings.Join(names, " "), strings.Join(ps, ",")
}

// Conninfo renders a libpq key/value connection string, keys sorted:
// "dbname=app host=10.0.0.5 password=… port=5432 user=…".
func Conninfo(a Address, database string, cred Credentials) string {
	kv := [][2]string{
		{"dbname", database},
		{"host", a.Host},
		{"password", cred.Password},
		{"port", strconv.Itoa(a.Port)},
		{"user", cred.User},
	}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p[0] + "=" + ConninfoValue(p[1])
	}
	return strings.Join(parts, " ")
}

// ConninfoValue quotes a conninfo value the way libpq parses it: bare when
// non-empty and free of whitespace, quotes and backslashes; otherwise in
// single quotes with ' and \ escaped by a backslash.
func ConninfoValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f'\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// ClientUnits reads the subnets of each client unit (see
// clientdb.ClientUnits).
func ClientUnits(unitData map[string]map[string]string, allowed []netip.Prefix) (units []ClientUnit, skipped []error) {
	return clientdb.ClientUnits(unitData, allowed)
}
