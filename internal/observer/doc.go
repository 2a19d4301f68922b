// Package observer is the unit's role observer, which pushes Patroni's
// role changes to Juju (DESIGN §3).
//
// Patroni would run a callback as the postgres user, and juju-exec needs
// root (its socket is the unit agent's, mode 0700; contract §5.1), so the
// push comes from a small root service per unit: it watches its own
// member's role through Patroni's local REST API and, when it changes,
// asks the unit agent through juju-exec to run the charm as the custom
// event "role-changed" (contract §5.5). That pass publishes the new role:
// the unit's state and master in db relations, and its role in the peer
// relation, so the leader rewrites the database endpoints. The observer
// decides nothing.
package observer
