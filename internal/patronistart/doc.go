// Package patronistart is what runs before Patroni on a unit: "dispatch
// launch-patroni postgres <patroni> <patroni.yml>" starts as root (the
// charm binary sits in the unit agent's root-only directory), becomes the
// postgres user before it reads anything, puts Patroni's /sync key right,
// and then becomes Patroni (exec, same pid).
//
// Why: Patroni 3.0.2 (Debian bookworm's) loses synchronous replication
// when it restarts on a primary whose PostgreSQL kept running (a crash of
// Patroni, a restart of its service). It starts with no memory of
// synchronous_standby_names, rewrites postgresql.conf without it and
// reloads, so the primary acknowledges commits that no standby holds; and
// since the /sync key in etcd still names the standby, it never sets the
// parameter again, while a failover would promote that standby. The chaos
// suite lost an acknowledged write this way (tests/ha). Before Patroni
// starts, the launcher rewrites /sync to name this member alone when this
// member holds the leader key: no standby may then be promoted until
// Patroni, finding /sync and the standbys it picks differ, sets
// synchronous_standby_names and names the standby again (a few seconds).
// The write is a transaction conditional on the leader key and /sync being
// what was read, so it never undoes another member's newer state.
package patronistart
