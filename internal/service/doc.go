// Package service supervises a unit's daemons (etcd, Patroni) under
// unit-scoped names such as "postgresql-0-patroni" (DESIGN §5).
//
// Two implementations sit behind Manager: Systemd writes unit files where the
// machine runs systemd (/run/systemd/system exists), and Supervisor, used
// everywhere else (containers, localjuju machines), runs a detached
// supervisor process of the charm binary itself ("dispatch supervise
// <spec>") that restarts its child with back-off, keeps pid files in the
// unit's run directory and stops cleanly on SIGTERM. New picks one.
//
// Every effect is idempotent and reports whether it changed anything.
package service
