package clientdb

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ClientUnit is a related client unit and the subnets it connects from.
type ClientUnit struct {
	Unit    string
	Subnets []netip.Prefix
}

// ClientUnits reads the subnets of each client unit from its databag
// (ClientSubnets), in unit order. Units whose addresses cannot be read are
// left out, with one error each in skipped: they cannot be admitted until
// Juju gives them an address (or, ErrWideSubnet, the operator allows their
// network). allowed is client_networks (ClientSubnets).
func ClientUnits(unitData map[string]map[string]string, allowed []netip.Prefix) (units []ClientUnit, skipped []error) {
	names := make([]string, 0, len(unitData))
	for u := range unitData {
		names = append(names, u)
	}
	slices.SortFunc(names, CompareUnits)
	for _, u := range names {
		s, err := ClientSubnets(unitData[u], allowed)
		if err != nil {
			skipped = append(skipped, &unitError{unit: u, err: err})
			continue
		}
		units = append(units, ClientUnit{Unit: u, Subnets: s})
	}
	return units, skipped
}

// Subnets returns the union of the units' subnets, sorted.
func Subnets(units []ClientUnit) []netip.Prefix {
	var all []netip.Prefix
	for _, u := range units {
		all = append(all, u.Subnets...)
	}
	return SortPrefixes(all)
}

type unitError struct {
	unit string
	err  error
}

func (e *unitError) Error() string { return "unit " + e.unit + ": " + e.err.Error() }
func (e *unitError) Unwrap() error { return e.err }

// CompareUnits orders unit names by application, then unit number
// (pg-client/2 before pg-client/10); malformed names sort by text.
func CompareUnits(a, b string) int {
	appA, numA, okA := strings.Cut(a, "/")
	appB, numB, okB := strings.Cut(b, "/")
	if c := strings.Compare(appA, appB); c != 0 {
		return c
	}
	na, errA := strconv.Atoi(numA)
	nb, errB := strconv.Atoi(numB)
	if !okA || !okB || errA != nil || errB != nil || na == nb {
		return strings.Compare(a, b)
	}
	return na - nb
}
