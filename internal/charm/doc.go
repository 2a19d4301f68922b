// Package charm wires the postgresql charm's events to its handlers.
//
// Every hook runs one pass (DESIGN §4): read a Snapshot (config, leadership,
// peers, the system-users secret, storage, installed packages, the server's
// parameter catalogue, Patroni's view), Decide a Plan purely (each Step
// carries its reason), apply the steps with idempotent effects behind the
// Workload interface, then compute the status once from what Patroni
// reports. Handlers never call status-set; the dispatcher applies the
// collected status.
//
// One documented exception: before a long step (package install, Patroni
// bootstrap, reload or restart of PostgreSQL) the apply loop's
// progressReporter sets an immediate maintenance status naming the step
// and its reason ("restarting PostgreSQL to apply max_connections"), as
// issue 3 asks; the message comes from Step.Progress, decided purely, and
// the final status still replaces it once at the end of the dispatch.
package charm
