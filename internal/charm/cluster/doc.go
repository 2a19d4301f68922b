// Package cluster is the charm's slice for the application's cluster:
// which units exist is Juju's (the peer relation), which unit is primary
// is Patroni's, and the leader keeps etcd's members in step with the
// units (DESIGN §3).
//
// It holds the cluster's part of the snapshot (Topology), its pure decisions
// (DecidePosition: bootstrap, join or wait; DecideChange: the leader's
// etcd membership changes; DecideLeaderGuard: the Patroni 3.0.2
// leader-key workaround; DecideHandover: a leaving primary's
// switchover; DecideSync and DecideSyncPatch: synchronous replication
// from two units on, and the durability a unit's status shows;
// DecidePromote, DecideResync, RollingOrder: the operator's actions), its
// peer and unit-state keys, its effects on etcd (Etcd) and Patroni when a
// unit leaves, and the operator's actions (Operations: promote-to-primary,
// list-members, maintenance mode, resync, stop-/start-database, rolling
// restart), which poll Patroni for each outcome with a deadline.
package cluster
