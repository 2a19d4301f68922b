package instance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/plan"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// hbaKeyPrefix marks, among the applied parameters, the options that
// only change pg_hba ("hba:admin_addresses").
const hbaKeyPrefix = "hba:"

// joinStrings renders a list of values one per line, for the applied
// record.
func joinStrings[T fmt.Stringer](xs []T) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return strings.Join(out, "\n")
}

// Wanted is what the unit runs with once the plan is applied:
// PostgreSQL's parameters (local by name, DCS ones "dcs:"), initdb's
// locale and encoding, the port and the pg_hba options ("hba:"). A
// changed locale or encoding blocks: the data cannot follow.
func Wanted(s Facts, cfg pgconf.UnitConfig, settings pgconf.Settings) (map[string]string, juju.Status) {
	local, dcs := pgconf.Parameters(cfg)
	want := map[string]string{}
	for k, v := range local {
		want[k] = v
	}
	for k, v := range dcs {
		want["dcs:"+k] = v
	}
	want["initdb:locale"], want["initdb:encoding"] = settings.Locale, settings.Encoding
	for _, k := range []string{"initdb:locale", "initdb:encoding"} {
		if old, ok := s.Applied[k]; ok && old != want[k] {
			opt := strings.TrimPrefix(k, "initdb:")
			return nil, juju.Blocked(fmt.Sprintf("invalid %s: the cluster was initialised with %s; set it back", opt, old))
		}
	}
	// port is Patroni's (from its listen address), not a parameter the
	// charm renders, but it needs a restart like one: recorded with them.
	want["port"] = strconv.Itoa(settings.ListenPort)
	// The options that only change pg_hba need a reload too, announced
	// by name ("reloading PostgreSQL to apply admin_addresses") and
	// retried until done like any parameter (client relations' rules are
	// loaded by the client part of the pass).
	want[hbaKeyPrefix+"admin_addresses"] = joinStrings(settings.AdminAddresses)
	want[hbaKeyPrefix+"extra_pg_auth"] = joinStrings(settings.ExtraHBA)
	return want, juju.Status{}
}

// DecideParameterSteps brings what runs to want: a DCS patch (leader), a
// reload, a restart when a parameter needs one, the port, and the record
// of what was applied. A steady pass runs none of them.
func DecideParameterSteps(s Facts, leader bool, want map[string]string, settings pgconf.Settings) []plan.Step {
	var steps []plan.Step
	applied := s.Applied
	for _, k := range []string{"port", hbaKeyPrefix + "admin_addresses", hbaKeyPrefix + "extra_pg_auth"} {
		if _, ok := applied[k]; !ok && len(applied) > 0 {
			// Recorded by a charm that did not track it: what runs is
			// not known; assume the current value rather than restart
			// or reload on upgrade.
			applied = maps.Clone(applied)
			applied[k] = want[k]
		}
	}
	if len(applied) > 0 {
		steps = append(steps, decideChangeSteps(s, leader, changedKeys(withoutInitdb(applied), withoutInitdb(want)), want)...)
	}
	// Each costs a hook tool call: only when the port changed.
	if s.OpenedPort != settings.ListenPort {
		reason := "clients connect on listen_port"
		if s.OpenedPort != 0 {
			reason = fmt.Sprintf("listen_port changed from %d", s.OpenedPort)
		}
		steps = append(steps, plan.Step{Kind: plan.OpenPort, Port: settings.ListenPort, ClosePort: s.OpenedPort, Reason: reason})
	}
	if !maps.Equal(s.Applied, want) {
		steps = append(steps, plan.Step{Kind: plan.SaveApplied, Applied: want, Reason: "remember what was applied"})
	}
	return steps
}

// decideChangeSteps applies changed parameters: the DCS ones patched by
// the leader, a reload for all, a restart for those that need one.
func decideChangeSteps(s Facts, leader bool, changed []string, want map[string]string) []plan.Step {
	var steps []plan.Step
	var dcsChanged map[string]string
	var restart []string
	for _, k := range changed {
		name := strings.TrimPrefix(k, "dcs:")
		if strings.HasPrefix(k, "dcs:") {
			if dcsChanged == nil {
				dcsChanged = map[string]string{}
			}
			dcsChanged[name] = want[k] // "" deletes
		}
		if s.Catalogue.RequiresRestart(name) {
			restart = append(restart, name)
		}
	}
	if len(dcsChanged) > 0 && leader {
		steps = append(steps, plan.Step{Kind: plan.PatchDCS, DCSParameters: dcsChanged, Reason: "changed cluster-wide: " + strings.Join(slices.Sorted(maps.Keys(dcsChanged)), ", ")})
	}
	sort.Strings(restart)
	restartMsg := "applying " + strings.Join(restart, ", ") + ": a rolling restart follows"
	if leader {
		restartMsg = "rolling restart to apply " + strings.Join(restart, ", ")
	}
	if len(changed) > 0 {
		names := make([]string, len(changed))
		for i, k := range changed {
			names[i] = strings.TrimPrefix(strings.TrimPrefix(k, "dcs:"), hbaKeyPrefix)
		}
		// A reload that precedes a restart is part of the restart
		// (Patroni writes the files on reload): one message for both.
		progress := "reloading PostgreSQL to apply " + strings.Join(names, ", ")
		if len(restart) > 0 {
			progress = restartMsg
		}
		steps = append(steps, plan.Step{Kind: plan.Reload, Reason: "changed: " + strings.Join(names, ", "), Progress: progress})
	}
	if len(restart) > 0 && leader {
		// The leader restarts every member that needs it, one at a
		// time, the primary last after a switchover
		// (cluster.RollPending); the others only reload, so the units'
		// hooks, which run at the same time, never restart them all at
		// once.
		steps = append(steps, plan.Step{Kind: plan.Restart, Reason: "needs a rolling restart: " + strings.Join(restart, ", "), Progress: "rolling restart to apply " + strings.Join(restart, ", ")})
	}
	return steps
}

// Validate is pgconf.Validate plus what only the machine can tell: the
// server's verdict on the extra_pg_conf values and, before the first
// bootstrap, whether the locale exists. Every problem is an
// *pgconf.OptionError, joined, one per option at most.
func Validate(s Facts) (pgconf.Settings, error) {
	settings, err := pgconf.Validate(s.Options, s.Catalogue, s.MemBytes)
	errs := unjoin(err)
	refused := func(option string) bool {
		return slices.ContainsFunc(errs, func(e error) bool {
			var oe *pgconf.OptionError
			return errors.As(e, &oe) && oe.Option == option
		})
	}
	if len(s.Applied) == 0 && s.Locales != nil && !refused("locale") {
		if err := pgconf.CheckLocaleAvailable(s.Options.Locale, s.Locales); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ParameterProblem != "" && !refused("extra_pg_conf") {
		errs = append(errs, &pgconf.OptionError{Option: "extra_pg_conf", Reason: s.ParameterProblem})
	}
	if len(errs) > 0 {
		return pgconf.Settings{}, errors.Join(errs...)
	}
	return settings, nil
}

// ParametersToCheck returns the extra_pg_conf parameters the server must
// check before they are applied: all of them when any is new or differs
// from what was last applied (applied, as Facts.Applied), none when
// nothing changed, so a steady pass does not pay for the check. None
// either when extra_pg_conf does not parse: Validate refuses it anyway.
func ParametersToCheck(extraPgConf string, cat pgconf.Catalogue, applied map[string]string) map[string]string {
	params, err := pgconf.ParseExtraPgConf(extraPgConf, cat)
	if err != nil {
		return nil
	}
	for name, v := range params {
		key := name
		if pgconf.DCSParameter(name) {
			key = "dcs:" + name
		}
		if old, ok := applied[key]; !ok || old != v {
			return params
		}
	}
	return nil
}

// unjoin lists the errors joined in err (none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.Clone(j.Unwrap())
	}
	return []error{err}
}

func withoutInitdb(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, "initdb:") {
			out[k] = v
		}
	}
	return out
}

// changedKeys returns, sorted, the keys whose values differ between a and b
// (including keys present in only one).
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if old, ok := a[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// BlockedMessage turns a validation error into one status line: the first
// problem, and how many more there are.
func BlockedMessage(err error) string {
	errs := unjoin(err)
	var oe *pgconf.OptionError
	msg := err.Error()
	if errors.As(errs[0], &oe) {
		msg = oe.Error()
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return msg
}
