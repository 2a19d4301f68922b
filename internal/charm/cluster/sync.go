package cluster

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Synchronous replication (DESIGN §11): Patroni's synchronous_mode is on
// once the application has two units or more, so that a commit is
// acknowledged only once a sync standby has it, and a failover promotes
// only a sync standby.

// The options, as config.yaml names them.
const (
	SyncNodeCountOption = "synchronous_node_count"
	SyncStrictOption    = "synchronous_mode_strict"
)

// Values of synchronous_node_count besides a positive integer.
const (
	SyncAll      = "all"      // every replica
	SyncMajority = "majority" // half the units, rounded down: with the primary, a majority holds each commit
)

// SyncOptions are the options as Juju hands them over. NodeCount is a
// string because it takes "all" and "majority" as well as an integer.
type SyncOptions struct {
	NodeCount string
	Strict    bool
}

// DefaultSyncOptions are config.yaml's defaults.
func DefaultSyncOptions() SyncOptions { return SyncOptions{NodeCount: "1"} }

// ValidateSync checks synchronous_node_count: a positive integer, "all"
// or "majority". A refusal is a *pgconf.OptionError naming the option;
// it blocks the unit while the database keeps running with what it had.
func ValidateSync(o SyncOptions) error {
	v := strings.TrimSpace(o.NodeCount)
	switch strings.ToLower(v) {
	case SyncAll, SyncMajority:
		return nil
	case "":
		return &pgconf.OptionError{Option: SyncNodeCountOption, Reason: `it is empty; use a positive number, "all" or "majority"`}
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return &pgconf.OptionError{Option: SyncNodeCountOption, Reason: fmt.Sprintf(`%q is not a number; use a positive number, "all" or "majority"`, v)}
	case n < 1:
		return &pgconf.OptionError{Option: SyncNodeCountOption, Reason: fmt.Sprintf("%d: at least 1 sync standby is needed (synchronous replication is off only on a single unit)", n)}
	}
	return nil
}

// SyncConfig is what the cluster runs with: Patroni's dynamic (DCS)
// settings and what the operator asked for.
type SyncConfig struct {
	// Mode is Patroni's synchronous_mode: on with one replica or more.
	Mode bool
	// NodeCount is Patroni's synchronous_node_count: the count asked for,
	// capped at the replicas there are (at least 1).
	NodeCount int
	Strict    bool
	// Asked is the count the option resolves to for these units; more
	// than NodeCount when capped.
	Asked int
	// Replicas is how many replicas the count was resolved against.
	Replicas int
}

// Capped says the option asks for more sync standbys than there are
// replicas.
func (c SyncConfig) Capped() bool { return c.Mode && c.Asked > c.NodeCount }

// DecideSync resolves the (validated) options for an application of
// units units. A count larger than the replicas is capped, not refused:
// the replicas come and go with scaling and failures (a unit lost would
// otherwise block the charm at the moment the operator needs it most),
// and Patroni itself never waits for more standbys than it has. The
// primary's status says the count is capped. With a single unit there
// is no synchronous mode, so writes never wait for a standby that does
// not exist, whatever synchronous_mode_strict says.
func DecideSync(o SyncOptions, units int) SyncConfig {
	replicas := max(units-1, 0)
	asked := 1
	switch v := strings.ToLower(strings.TrimSpace(o.NodeCount)); v {
	case SyncAll:
		asked = max(replicas, 1)
	case SyncMajority:
		asked = max(units/2, 1)
	default:
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			asked = n
		}
	}
	c := SyncConfig{Mode: replicas > 0, Strict: o.Strict, Asked: asked, Replicas: replicas, NodeCount: asked}
	if c.NodeCount > replicas {
		c.NodeCount = max(replicas, 1)
	}
	return c
}

// DCS returns the settings as Patroni's dynamic configuration has them.
func (c SyncConfig) DCS() map[string]any {
	return map[string]any{
		"synchronous_mode":        c.Mode,
		"synchronous_mode_strict": c.Strict,
		"synchronous_node_count":  c.NodeCount,
	}
}

// DecideSyncPatch compares the wanted settings with Patroni's dynamic
// configuration (GET /config) and returns the PATCH that brings it
// there; nil when nothing differs. Keys absent from the configuration
// have Patroni's defaults (off, off, 1). Maintenance mode ("pause") and
// everything else in it is left alone.
func DecideSyncPatch(want SyncConfig, current map[string]any) map[string]any {
	patch := map[string]any{}
	boolOf := func(k string) bool { b, _ := current[k].(bool); return b }
	if boolOf("synchronous_mode") != want.Mode {
		patch["synchronous_mode"] = want.Mode
	}
	if boolOf("synchronous_mode_strict") != want.Strict {
		patch["synchronous_mode_strict"] = want.Strict
	}
	n := 1
	if f, ok := current["synchronous_node_count"].(float64); ok {
		n = int(f)
	}
	if n != want.NodeCount {
		patch["synchronous_node_count"] = want.NodeCount
	}
	if len(patch) == 0 {
		return nil
	}
	return patch
}

// Durability is the unit's role and what a commit risks, as its status
// shows it: "Primary", "Replica (sync)", "Replica (async)", with what an
// operator must know about the primary (no sync standby, count capped).
func Durability(node patroni.NodeStatus, sync SyncConfig) string {
	if !node.Role.IsPrimary() {
		if node.SyncStandby {
			return "Replica (sync)"
		}
		return "Replica (async)"
	}
	var notes []string
	if sync.Mode {
		have := node.SyncStandbys()
		switch {
		case have == 0 && sync.Strict:
			notes = append(notes, "no sync standby: writes wait for one")
		case have == 0:
			notes = append(notes, "durability degraded: no sync standby")
		case have < sync.NodeCount:
			notes = append(notes, fmt.Sprintf("durability degraded: %d of %d sync standbys", have, sync.NodeCount))
		}
		if sync.Capped() {
			notes = append(notes, fmt.Sprintf("%s %d capped at %d replicas", SyncNodeCountOption, sync.Asked, sync.Replicas))
		}
	}
	if node.PendingRestart {
		notes = append(notes, "pending restart")
	}
	if len(notes) == 0 {
		return "Primary"
	}
	return "Primary (" + strings.Join(notes, "; ") + ")"
}

// MaintenanceNote is added to every unit's status while maintenance mode
// is on.
const MaintenanceNote = "maintenance mode: no automatic failover"

// SyncOptionsFromConfig reads the options; one missing (only from a
// backend that leaves defaults out) keeps its default. An integer given
// where config.yaml says string is taken as its decimal form.
func SyncOptionsFromConfig(cfg *model.Config) SyncOptions {
	o := DefaultSyncOptions()
	if cfg.Has(SyncNodeCountOption) {
		v := cfg.Values()[SyncNodeCountOption]
		switch x := v.(type) {
		case string:
			o.NodeCount = x
		case nil:
		default:
			o.NodeCount = fmt.Sprint(x)
		}
	}
	if b, ok, _ := cfg.Bool(SyncStrictOption); ok {
		o.Strict = b
	}
	return o
}
