package clientdb

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// AllDatabases, as HBARules' database, admits every database (db-admin).
// It is "" so that no client-chosen name can mean it: a client database
// named "all" is quoted and admits only itself.
const AllDatabases = ""

// HBARules returns the pg_hba rules of one relation: for each client
// subnet, user may connect to database (every database when database is
// AllDatabases) with scram-sha-256. Rules use internal/pgconf's HBARule so the charm passes
// them straight to pgconf.RenderHBARules as its clients argument. Output
// is sorted by address and free of duplicates.
//
// The database and user columns are quoted when needed (hbaToken), so a
// client database named "all" or "replication" admits only that database.
func HBARules(database, user string, subnets []netip.Prefix) []pgconf.HBARule {
	db := "all"
	if database != AllDatabases {
		db = hbaToken(database)
	}
	var rules []pgconf.HBARule
	for _, p := range SortPrefixes(subnets) {
		rules = append(rules, pgconf.HBARule{
			Type: "host", Database: db, User: hbaToken(user),
			Address: p.String(), Method: pgconf.MethodScram,
		})
	}
	return rules
}

// hbaKeywords mean something special in pg_hba.conf's database or user
// column unless quoted.
var hbaKeywords = []string{"all", "sameuser", "samerole", "samegroup", "replication"}

// hbaToken quotes a name for pg_hba.conf when it is a keyword or holds
// anything besides [A-Za-z0-9_.$-] (letters of other scripts). Names have
// passed CheckName, so they hold no '"', ',', '+', '@' or spaces that would
// need more than quoting.
func hbaToken(name string) string {
	plain := !slices.Contains(hbaKeywords, strings.ToLower(name))
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.$-", r)) {
			plain = false
		}
	}
	if plain {
		return name
	}
	return `"` + name + `"`
}

// ErrWideSubnet is a client unit claiming egress-subnets wider than one
// address outside the networks the operator allows (client_networks): a
// unit writes its own databag, so otherwise any client could have pg_hba
// admit its credentials from anywhere (0.0.0.0/0).
var ErrWideSubnet = errors.New("wider than one address and not within client_networks")

// ClientSubnets returns the subnets a client unit connects from, read from
// its unit databag: Juju's egress-subnets (comma-separated CIDRs), else
// ingress-address, else private-address, as a /32 or /128. An egress
// subnet wider than one address (a NAT range for cross-model relations)
// is taken only within one of allowed (the operator's client_networks);
// otherwise the error wraps ErrWideSubnet.
func ClientSubnets(unitData map[string]string, allowed []netip.Prefix) ([]netip.Prefix, error) {
	if s := strings.TrimSpace(unitData["egress-subnets"]); s != "" {
		var out []netip.Prefix
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil || p.Addr().Zone() != "" {
				return nil, fmt.Errorf("egress-subnets: %s is not a CIDR", Display(f))
			}
			if p = p.Masked(); p.Bits() < p.Addr().BitLen() && !withinAny(p, allowed) {
				return nil, fmt.Errorf("egress-subnets: %s is %w", p, ErrWideSubnet)
			}
			out = append(out, p)
		}
		if len(out) > 0 {
			return SortPrefixes(out), nil
		}
	}
	for _, k := range []string{"ingress-address", "private-address"} {
		if s := strings.TrimSpace(unitData[k]); s != "" {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%s: %s is not an IP address", k, Display(s))
			}
			a = a.Unmap()
			return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}, nil
		}
	}
	return nil, fmt.Errorf("no egress-subnets, ingress-address or private-address")
}

// SortPrefixes returns the prefixes masked, sorted by address then length,
// without duplicates. The input is not modified.
func SortPrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

// withinAny says whether p lies inside one of nets.
func withinAny(p netip.Prefix, nets []netip.Prefix) bool {
	return slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Bits() <= p.Bits() && n.Contains(p.Addr()) })
}
