// Package charm wires the postgresql charm's events to its slices and
// runs the pass; it decides and does nothing of its own.
//
// The slices, one package each, hold their part of the snapshot, their
// pure decisions, their effects and their actions:
//
//   - instance: this unit's PostgreSQL (packages, files, daemons,
//     parameters, port; restart, reload, stop, remove);
//   - cluster: etcd membership, the unit's position, roles, the leader
//     guard, leaving (get-primary);
//   - clients: the db, db-admin and database relations
//     (rotate-relation-password);
//   - credentials: the system users and the vault (get-password,
//     set-password, secret-remove).
//
// Every hook runs one pass (DESIGN §4), in rounds bounded by maxRounds
// (pass.go): read a Snapshot once (read.go; the read writes nothing),
// Decide a Plan purely by composing the slices' decisions (decide.go;
// each plan.Step carries its reason), apply the steps with idempotent
// effects behind the Workload interfaces (apply.go), buffering unit-state
// and peer-databag writes in keys.Writes and flushing them once per
// round; then the client relations' part (clientslice.go), what Patroni
// reports (role, workload version, the leader guard in update-status),
// and the status once. Handlers never call status-set; the dispatcher
// applies the collected status. Actions that run the pass hand it the
// values they set earlier in the dispatch as Overrides (passwords.go,
// clientslice.go). Every wait polls on the injected clock.
//
// One documented exception to "status once": before a long step (package
// install, Patroni bootstrap, reload or restart of PostgreSQL) the apply
// loop's progressReporter sets an immediate maintenance status naming the
// step and its reason ("restarting PostgreSQL to apply max_connections");
// the message comes from Step.Progress, decided purely, and the final
// status still replaces it at the end of the dispatch.
package charm
