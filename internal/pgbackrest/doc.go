// Package pgbackrest renders a unit's pgBackRest configuration and runs
// the pgbackrest command line for the charm: stanza-create, check,
// backup, info and restore.
//
// Every unit gets its own configuration file (never Debian's shared
// /etc/pgbackrest.conf) with its own lock, log and spool directories
// (DESIGN §10: units may share a machine, and pgBackRest's locks are per
// path). The command runs as the postgres user, which owns the data
// directory and the repository's files; the charm's superuser password
// reaches libpq through a pgpass file only postgres can read, never a
// command line or the environment of a process others can inspect. The S3
// repository's keys are in the unit's pgbackrest.conf (root, group
// postgres, 0640), which pgBackRest reads and redacts in its logs.
//
// RenderConfig and ParseInfo are pure; CLI is the effect.
package pgbackrest
