// Package clientdb holds what the charm does in PostgreSQL for client
// relations (db, db-admin, database): the name rules every relation request
// passes before anything else, the relation user's name, the pg_hba rules a
// relation needs, and the idempotent SQL effects (users, roles, databases,
// extensions, revocation, password rotation).
//
// Pure parts (names.go, user.go, hba.go) take values and return values; the
// relation packages (internal/relations/pgsql, pgclient) call them while
// deciding. Effects (the Ensure*, Grant*, Revoke*, Rotate* functions) take a
// superuser connection and return (changed bool, err error). Drifted
// (drift.go) is their read-only counterpart for update-status: for every
// served relation at once, in a fixed number of queries, it tells which no
// longer have what the effects established in the shared catalogs (login
// user, password, attributes, database and its grants, group roles,
// memberships), so only those are served again.
//
// Rules (DESIGN §7):
//   - Every name is checked again here before it reaches SQL, so a name the
//     relation packages would refuse can never be executed even by a caller
//     that skipped them.
//   - Identifiers are quoted with pgx.Identifier.Sanitize; values are query
//     parameters; no SQL text is built from input by any other means.
//   - Passwords never appear in SQL text: ALTER ROLE cannot take a bound
//     parameter, so a SCRAM-SHA-256 verifier is computed client-side
//     (internal/postgres.ScramVerifier, via postgres.EnsureUser) and sent.
//   - Nothing is ever dropped: revocation removes LOGIN and privileged
//     attributes and ends sessions; databases, roles and data stay. The
//     one exception is the roles an admin relation (CREATEROLE or
//     SUPERUSER) created itself (created.go): they are dropped with it,
//     after their objects are given to its relation user.
//
// Databases are owned by the connecting superuser (the charm's operator),
// never by a relation user. Every relation user served a database gets
// CONNECT, CREATE and TEMPORARY on it and USAGE and CREATE on its public
// schema. So two relations sharing a database both have full access, and
// revoking one relation never touches the database's ownership or the other
// relation's grants. Tables a user creates are owned by that user; relations
// that share a database and want to share tables grant each other access
// themselves (or use a common role through `roles`).
package clientdb
