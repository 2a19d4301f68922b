// Package instance is the charm's slice for this unit's PostgreSQL
// instance: its packages, its files, its daemons (etcd, Patroni, the role
// observer) and PostgreSQL's parameters, reload and restart, and port.
//
// It holds the instance's part of the snapshot (Facts, ReadState,
// OptionsFromConfig), its pure decisions (Validate: config checked with
// what only the machine can tell; Wanted and DecideParameterSteps: the
// parameters the unit runs with and the steps that bring it there), its
// unit-state keys, and its effects behind three small interfaces
// (Packages, Services, Server) whose real implementation is System.
package instance
