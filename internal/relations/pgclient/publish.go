package pgclient

import (
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Address is where a PostgreSQL server listens.
type Address struct {
	Host string
	Port int
}

// String renders host:port ([v6]:port).
func (a Address) String() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// Credentials of the relation user.
type Credentials struct {
	User     string
	Password string `json:"-"`
}

// Cluster is what the leader knows when it publishes.
type Cluster struct {
	Primary Address
	// Replicas are the healthy replicas; the primary stands in when there
	// are none (§B.2).
	Replicas []Address
	Version  string // "15.10"
	TLS      bool
	TLSCA    string // PEM chain; "" without TLS
}

// SecretGroup names a Juju secret the provider fields are grouped in
// (§B.3); the databag key is "secret-<group>".
type SecretGroup string

// Groups the charm fills.
const (
	GroupUser SecretGroup = "user"
	GroupTLS  SecretGroup = "tls"
)

// DatabagKey is the provider databag key holding the group's secret URI.
func (g SecretGroup) DatabagKey() string { return "secret-" + string(g) }

// Label is the secret label the data_interfaces library uses,
// "<endpoint>.<relation id number>.<group>.secret"; owner's business only,
// but following it keeps a secret findable across charm versions.
func (g SecretGroup) Label(relationID string) string {
	return strings.Replace(relationID, ":", ".", 1) + "." + string(g) + ".secret"
}

// fieldGroups places each provider field that may move into a secret.
var fieldGroups = map[string]SecretGroup{
	"username": GroupUser, "password": GroupUser, "uris": GroupUser, "read-only-uris": GroupUser,
	"tls": GroupTLS, "tls-ca": GroupTLS,
}

// AppKeys are the keys RenderAppData owns in the provider app databag.
var AppKeys = []string{
	"database", "endpoints", "password", "read-only-endpoints", "read-only-uris",
	"secret-tls", "secret-user", "tls", "tls-ca", "uris", "username", "version",
}

// UseSecrets decides whether credentials go in Juju secrets (§B.3): only
// when the model supports them, the requirer asked (requested-secrets
// non-empty), and the relation did not start on plain fields (current is
// the provider app databag as it is now: username without secret-user means
// it did, and it stays so: the library's fallback rule).
func UseSecrets(req Request, secretsAvailable bool, current map[string]string) bool {
	if !secretsAvailable || len(req.RequestedSecrets) == 0 {
		return false
	}
	return !(current["username"] != "" && current["secret-user"] == "")
}

// fields returns every provider field with its value; read-only-uris only
// when it will travel in a secret.
func fields(req Request, c Cluster, cred Credentials, secrets bool) map[string]string {
	replicas := readOnly(c)
	f := map[string]string{
		"database":            req.Database,
		"endpoints":           c.Primary.String(),
		"read-only-endpoints": joinAddrs(replicas),
		"version":             c.Version,
		"username":            cred.User,
		"password":            cred.Password,
		"uris":                URI(cred, []Address{c.Primary}, req.Database),
		"tls":                 "False",
		"tls-ca":              c.TLSCA,
	}
	if c.TLS {
		f["tls"] = "True"
	}
	if secrets && slices.Contains(req.RequestedSecrets, "read-only-uris") {
		f["read-only-uris"] = URI(cred, replicas, req.Database)
	}
	return f
}

// inSecret reports whether a field travels in its group's secret.
func inSecret(req Request, field string, secrets bool) (SecretGroup, bool) {
	g, ok := fieldGroups[field]
	return g, ok && secrets && slices.Contains(req.RequestedSecrets, field)
}

// RenderSecrets returns the content of each secret group when secrets are
// in use (UseSecrets): the requested fields of the group, keyed by field
// name, empty values left out (Juju refuses them). A group with nothing to
// carry is absent. Nil when secrets are not in use.
func RenderSecrets(req Request, c Cluster, cred Credentials, useSecrets bool) map[SecretGroup]map[string]string {
	if !useSecrets {
		return nil
	}
	out := map[SecretGroup]map[string]string{}
	for k, v := range fields(req, c, cred, true) {
		if g, ok := inSecret(req, k, true); ok && v != "" {
			if out[g] == nil {
				out[g] = map[string]string{}
			}
			out[g][k] = v
		}
	}
	return out
}

// RenderAppData returns the provider app databag (§B.2–B.4): every key of
// AppKeys, "" meaning delete, for one relation-set. secretURIs is nil for
// plain fields; with secrets it holds the URI of every group RenderSecrets
// returned (granted to the relation), and the fields those secrets carry
// are left out of the databag, as is uris when the password travels in a
// secret and uris does not (uris embeds the password).
func RenderAppData(req Request, c Cluster, cred Credentials, secretURIs map[SecretGroup]string) map[string]string {
	secrets := secretURIs != nil
	out := make(map[string]string, len(AppKeys))
	for _, k := range AppKeys {
		out[k] = ""
	}
	_, passwordHidden := inSecret(req, "password", secrets)
	for k, v := range fields(req, c, cred, secrets) {
		if _, moved := inSecret(req, k, secrets); moved {
			continue
		}
		if k == "uris" && passwordHidden {
			// uris embeds the password: never in plain sight when the
			// requirer asked for the password in a secret but not uris.
			continue
		}
		out[k] = v
	}
	for g, uri := range secretURIs {
		out[g.DatabagKey()] = uri
	}
	return out
}

// readOnly returns the replicas sorted, or the primary when there are none.
func readOnly(c Cluster) []Address {
	if len(c.Replicas) == 0 {
		return []Address{c.Primary}
	}
	rs := slices.Clone(c.Replicas)
	slices.SortFunc(rs, compareAddrs)
	return slices.Compact(rs)
}

func compareAddrs(a, b Address) int {
	pa, errA := netip.ParseAddr(a.Host)
	pb, errB := netip.ParseAddr(b.Host)
	if errA == nil && errB == nil {
		if c := pa.Compare(pb); c != 0 {
			return c
		}
	} else if c := strings.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	return a.Port - b.Port
}

func joinAddrs(as []Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// URI renders postgresql://user:password@host:port[,host:port…]/database,
// user, password and database escaped for a URL. Several hosts use libpq's
// multi-host form, each with its port.
func URI(cred Credentials, hosts []Address, database string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(cred.User, cred.Password), Host: joinAddrs(hosts), Path: "/" + database}
	return u.String()
}
