package main

import (
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Target is what a ready relation lets the client connect to.
type Target struct {
	Host, Port     string
	User, Password string
	Database       string
	From           string // the server unit (pgsql) or application (database) that published it
	SecretID       string // the user secret, on database relations that use secrets
	WaitingFor     string // why the relation is not ready yet; "" when ready
}

// Ready reports whether the relation has a target.
func (t Target) Ready() bool { return t.WaitingFor == "" }

// PgsqlRequest is what the client sent on a db or db-admin relation: the
// values exactly as written ("" for keys it did not write).
type PgsqlRequest struct {
	Database   string // requested database; "" means the default (the client app)
	Roles      string
	Extensions string
}

// PgsqlView is what a client unit sees on a db or db-admin relation.
type PgsqlView struct {
	Unit          string                       // the local unit, "legacy/0"
	App           string                       // the local application
	EgressSubnets []string                     // the local unit's egress-subnets
	Request       PgsqlRequest                 // what it sent
	Remote        map[string]map[string]string // server unit databags by unit name
}

// PgsqlTarget applies the legacy readiness rules (interfaces.md §A.6) and
// returns the primary's connection target or why there is none:
//
//   - family 1 (hookenv): a server unit is usable only if its database
//     equals the requested one and the local unit is in
//     allowed-units.split(); write to the one whose state is master or
//     standalone;
//   - family 2 (reactive): host, port, database, user, password non-empty,
//     and the roles and extensions the client set echoed byte for byte;
//   - family 3 (ops-lib-pgsql): allowed-subnets contains every one of the
//     client unit's egress subnets.
//
// A usable unit must pass all three; exactly one usable unit may claim
// master or standalone.
func PgsqlTarget(v PgsqlView) Target {
	want := v.Request.Database
	if want == "" {
		want = v.App
	}
	units := make([]string, 0, len(v.Remote))
	for u := range v.Remote {
		units = append(units, u)
	}
	sort.Strings(units)
	if len(units) == 0 {
		return Target{WaitingFor: "no server unit yet"}
	}
	var masters []Target
	var why []string
	for _, u := range units {
		bag := v.Remote[u]
		t, reason := pgsqlUnit(v, want, u, bag)
		if reason != "" {
			why = append(why, u+": "+reason)
			continue
		}
		switch bag["state"] {
		case "master", "standalone":
			masters = append(masters, t)
		}
	}
	switch len(masters) {
	case 1:
		return masters[0]
	case 0:
		if len(why) == 0 {
			why = []string{"no unit in state master or standalone"}
		}
		return Target{WaitingFor: strings.Join(why, "; ")}
	default:
		names := make([]string, len(masters))
		for i, m := range masters {
			names[i] = m.From
		}
		return Target{WaitingFor: "several units claim master: " + strings.Join(names, ", ")}
	}
}

// pgsqlUnit checks one server unit; reason is "" when it is usable.
func pgsqlUnit(v PgsqlView, want, unit string, bag map[string]string) (Target, string) {
	if bag["database"] != want {
		if bag["database"] == "" {
			return Target{}, "no database published"
		}
		return Target{}, fmt.Sprintf("database is %q, want %q", bag["database"], want)
	}
	if !slices.Contains(strings.Fields(bag["allowed-units"]), v.Unit) {
		return Target{}, v.Unit + " not in allowed-units"
	}
	for _, k := range []string{"host", "port", "user", "password"} {
		if bag[k] == "" {
			return Target{}, "no " + k
		}
	}
	if v.Request.Roles != "" && bag["roles"] != v.Request.Roles {
		return Target{}, fmt.Sprintf("roles echo %q, sent %q", bag["roles"], v.Request.Roles)
	}
	if v.Request.Extensions != "" && bag["extensions"] != v.Request.Extensions {
		return Target{}, fmt.Sprintf("extensions echo %q, sent %q", bag["extensions"], v.Request.Extensions)
	}
	allowed := strings.Split(bag["allowed-subnets"], ",")
	for _, s := range v.EgressSubnets {
		if !slices.Contains(allowed, s) {
			return Target{}, fmt.Sprintf("egress subnet %s not in allowed-subnets", s)
		}
	}
	return Target{
		Host: bag["host"], Port: bag["port"], User: bag["user"], Password: bag["password"],
		Database: bag["database"], From: unit,
	}, ""
}

// ClientView is what the requirer sees on a database relation: the
// provider's application databag and, when it names one, the content of the
// user secret.
type ClientView struct {
	App        map[string]string
	UserSecret map[string]string // nil when there is no secret-user
}

// ClientTarget applies the postgresql_client readiness rule (§B.5): the
// credentials are in when secret-user is set (and readable) or username and
// password are both in the databag; the first of endpoints is the primary.
func ClientTarget(v ClientView) Target {
	creds := v.App
	t := Target{From: "app"}
	if id := v.App["secret-user"]; id != "" {
		if v.UserSecret == nil {
			return Target{WaitingFor: "secret-user not readable yet"}
		}
		creds, t.SecretID = v.UserSecret, id
	}
	t.User, t.Password = creds["username"], creds["password"]
	if t.User == "" || t.Password == "" {
		return Target{WaitingFor: "no credentials published"}
	}
	t.Database = v.App["database"]
	if t.Database == "" {
		return Target{WaitingFor: "no database published"}
	}
	ep, _, _ := strings.Cut(v.App["endpoints"], ",")
	host, port, ok := splitHostPort(strings.TrimSpace(ep))
	if !ok {
		return Target{WaitingFor: fmt.Sprintf("endpoints %q is not host:port", v.App["endpoints"])}
	}
	t.Host, t.Port = host, port
	return t
}

// splitHostPort splits "10.0.0.5:5432" or "[::1]:5432".
func splitHostPort(s string) (host, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	host, port = s[:i], s[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return host, port, host != ""
}

// DecodeConfig returns a config value as the bytes to send: "hex:<hex>" is
// decoded (the only way to put bytes that are not UTF-8 through config);
// anything else is sent as-is.
func DecodeConfig(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, "hex:")
	if !ok {
		return s, nil
	}
	b, err := hex.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("bad hex value: %w", err)
	}
	return string(b), nil
}
