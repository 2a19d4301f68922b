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
//
// Several units form one cluster (cluster.go): Juju says which units exist,
// the leader keeps etcd's members in step with them (a new unit joins as a
// learner, is promoted once its etcd runs, and is removed when it departs;
// the record lives in the peer application databag), a unit of a running
// cluster joins it and Patroni makes it a replica, and a unit being removed
// hands the primary role over first. Patroni decides which unit is primary;
// a root role observer per unit (observer.go) pushes role changes to Juju
// through juju-exec, so every unit republishes its role and the client
// relations follow the new primary.
//
// Passwords live in a vault (vault.go): application-owned Juju secrets, or
// the peer application databag on Juju 2.9. Client relations are decided
// by DecideClients (clients_decide.go) and applied last (clients.go).
package charm
