// Package credentials is the charm's slice for the application's own
// credentials: the system users (operator, replication, rewind, the
// Patroni REST API and etcd root), one table of them (Users), the vault
// that keeps their passwords and the client relation users' (an
// application-owned Juju secret per document, or the peer application
// databag on Juju 2.9), and the actions on them: get-password,
// set-password (rotation applied everywhere the password is used, with
// rollback) and the secret-remove hook.
//
// It reads (Vault.Read, PasswordsFrom) and acts (Vault.Write,
// Vault.ShareIDs, the actions); it decides nothing about the rest of the
// unit: set-password hands its new content to the charm's pass through
// Unit.Apply, as an explicit override.
package credentials
