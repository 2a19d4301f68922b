// Package pgclient is the postgresql_client interface the charm serves on
// the database endpoint (shared/interfaces.md §B): pure functions from the
// requirer's application databag to a validated Request, and from a Request
// and the cluster's state to the provider application databag and the
// contents of the Juju secrets that carry the credentials.
//
// Nothing here talks to Juju or PostgreSQL. The leader, once every unit's
// pg_hba admits the relation user (§B.6), does in one hook: UseSecrets;
// RenderSecrets and, for each group, create or update the secret and grant
// it to the relation; RenderAppData with the secret URIs; one relation-set.
//
// Decisions:
//   - The relation user is clientdb.RelationUser ("relation_7_myapp").
//   - extra-user-roles (case-insensitive keywords, comma list): admin →
//     CREATEDB and membership of clientdb.AdminRole (read and write on
//     every database); createdb, createrole, superuser → those attributes;
//     login → nothing (every relation user logs in); anything else must be a
//     role in Input.GrantableRoles (clientdb.RoleGraph.Grantable: existing,
//     NOLOGIN, unprivileged, made by the charm for `roles` or listed by the
//     operator in client_roles), matched exactly, else in lower case (the
//     Charmhub charm lower-cases the list). Unknown names refuse the
//     relation with a message naming them all. Whether the application may
//     have superuser, createrole or admin is the charm's decision
//     (admin_applications), not this package's.
//   - extra-group-roles, entity requests and prefix matching are not
//     served (no client in use needs them yet); they are ignored.
//   - read-only-uris is published only inside the user secret (as the
//     Charmhub charm does); plain-field relations get read-only-endpoints.
package pgclient
