// Package backups is the charm's backups slice: a pgBackRest posix
// repository (config backup_path, repo1) and an S3 one (the s3-parameters
// relation, repo2; s3.go), WAL archiving into both, the create-backup,
// list-backups and restore actions, and scheduled backups with retention
// (schedule.go says why update-status on the primary is the tick).
//
// One stanza per application, named from the application and the model
// (StanzaName), so that applications sharing a repository never write
// each other's stanza; pgBackRest itself refuses a stanza whose database
// system id differs. After a restore the application archives and backs
// up into a fresh stanza (the old timeline's archive is not mixed with
// the new one), whose name the leader keeps in the peer application
// databag (StanzaKey).
//
// WAL archiving: archive_mode is on from the bootstrap and archive_command
// does nothing (pgconf.NoArchiveCommand) until backup_path is set; then it
// is pgBackRest's archive-push, applied by a reload. A unit deployed by an
// earlier charm gets archive_mode through the charm's usual restart for
// parameters that need one, once, at upgrade.
//
// Restore runs in place: on one unit within the action (restore.go); on
// several, led by the leader across hooks through the peer relation
// (inplace.go: every unit stops, the leader restores, the others clone).
//
// The pure parts: ParseTarget (the restore action's parameters),
// DecideRestore (which backup, which recovery target, or why not),
// DecideBackupType, DecideRepository (status and repository from the
// facts), DecideInPlace and Busy (a unit's part in a multi-unit restore).
// The effects: CheckPath (the repository directory), WriteConfig (the
// unit's pgBackRest files), BackupRunning, the actions, and the restore's
// steps (restore.go), which run with an injected clock.
package backups
