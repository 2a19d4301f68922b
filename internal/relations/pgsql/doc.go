// Package pgsql is the legacy pgsql interface the charm serves on the db
// and db-admin endpoints (shared/interfaces.md §A): pure functions from
// databags to a validated Request, from a Request and the server's state to
// the unit databag every server unit publishes, and from a Request and its
// client units to pg_hba rules.
//
// Nothing here talks to Juju or PostgreSQL. The charm reads the databags,
// calls ParseRequest, applies the request with internal/clientdb (user,
// database, roles, extensions), renders pg_hba with HBARules, reloads, and
// only then calls RenderUnitData with the client units that pg_hba now
// admits (§A.4), publishing the result in one relation-set.
//
// Decisions:
//   - The relation user is clientdb.RelationUser ("relation_5_pg_client"):
//     one per relation, on db and db-admin alike.
//   - schema_user/schema_password equal user/password (the reactive and
//     current charms' behaviour; every client since 2016 works with it). The
//     hooks era's separate <user>_schema role would need cross-grants
//     between two users for every table, for clients that no longer exist.
//   - db-admin: the user is SUPERUSER, pg_hba admits it to all databases,
//     and the database is still created and echoed like db (a client that
//     set database expects it; one that did not gets its application name).
//   - A client served a database it named is refused if it later names
//     another (ErrDatabaseChanged). A client first served the default (its
//     application name, because its databag was still empty when the server
//     first ran) may still name one: v0/v1 clients write database in their
//     -joined hook, which can run after the server's first -changed.
package pgsql
