// Package charm wires the postgresql charm's events to its handlers.
//
// Every hook runs one pass (DESIGN §4) in rounds (charm.go, maxRounds):
// read a Snapshot once (config, leadership, peers, the system-users
// secret, storage, installed packages, the server's parameter catalogue,
// Patroni's view; the read writes nothing), Decide a Plan purely from the
// slices' sub-decisions (each Step carries its reason), apply the steps
// with idempotent effects behind the Workload interface, buffering the
// unit-state and peer-databag writes (writes.go) and flushing them once
// per round; then the client relations' part, then what Patroni reports,
// and the status once. Handlers never call status-set; the dispatcher
// applies the collected status. Actions that run the pass hand it their
// uncommitted values as Overrides. Every wait polls on the injected
// clock (internal/clock).
//
// One documented exception: before a long step (package install, Patroni
// bootstrap, reload or restart of PostgreSQL) the apply loop's
// progressReporter sets an immediate maintenance status naming the step
// and its reason ("restarting PostgreSQL to apply max_connections"), as
// issue 3 asks; the message comes from Step.Progress, decided purely, and
// the final status still replaces it once at the end of the dispatch.
//
// Several units form one cluster (cluster.go): Juju says which units exist,
// the leader keeps etcd's members in step with them (a new unit joins as a
// learner, is promoted once its etcd runs, and is removed when it departs;
// the record lives in the peer application databag), a unit of a running
// cluster joins it and Patroni makes it a replica, and a unit being removed
// hands the primary role over first. Patroni decides which unit is primary;
// a root role observer per unit (internal/observer) pushes role changes to
// Juju through juju-exec, so every unit republishes its role and the
// client relations follow the new primary.
//
// Credentials are the credentials slice's (internal/charm/credentials):
// the system users' table, the vault (application-owned Juju secrets, or
// the peer application databag on Juju 2.9) and the password actions.
// Client relations are decided by DecideClients (clients_decide.go) and
// applied last (clients.go); update-status checks every served relation
// in one catalog read (clientdb.Drifted) and serves only what drifted.
package charm
