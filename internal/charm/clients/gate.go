package clients

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// hbaHash identifies a set of client pg_hba rules, the same on every unit
// for the same relations.
func hbaHash(rules []pgconf.HBARule) string {
	lines := make([]string, len(rules))
	for i, r := range rules {
		lines[i] = r.String()
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}

// gate applies DecideHBAGate to the facts: Patroni's primary and running
// replicas, by unit.
func gate(u Unit, f Facts, hash string) HBAGate {
	if f.Server == nil {
		return HBAGate{}
	}
	unitAt := map[string]string{u.Address.String(): u.Name}
	for _, p := range u.Peers {
		unitAt[p.Address.String()] = p.Unit
	}
	primary := unitAt[f.Server.Primary]
	if f.Server.SelfPrimary {
		primary = u.Name
	}
	var running []string
	for _, r := range f.Server.Replicas {
		unit, ok := unitAt[r]
		if !ok {
			// A replica no unit claims (its unit departed, its
			// PostgreSQL still streams) is listed in the read-only
			// endpoints but admits nobody new: it closes the gate.
			unit = "?" + r
		}
		if unit != u.Name {
			running = append(running, unit)
		}
	}
	return DecideHBAGate(u.Name, primary, running, f.PeerHBA, hash)
}
