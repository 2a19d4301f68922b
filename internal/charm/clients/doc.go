// Package clients is the charm's slice for client relations: db and
// db-admin (legacy pgsql) and database (postgresql_client), as
// shared/interfaces.md describes them.
//
// It reads its part of the snapshot (Read: the relations and their
// databags, the leader's served records, the relation users' passwords;
// ReadState and ReadPeerUnit: what this unit and its peers remember;
// Database.Facts: the server's roles, extensions and members), decides
// purely (Decide: per relation, what to serve on the primary, which
// pg_hba rules, what to publish; DecideHBAGate: what may be published
// given the rules each member runs with), and applies (Apply: passwords,
// SQL on the primary with a fingerprint per relation and, in
// update-status, one drift check for all relations; pg_hba loaded; data
// and secrets published; records kept). RotateAction is its
// rotate-relation-password action. Database is its effect on PostgreSQL;
// Postgres is the real one.
package clients
