package backups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/cron"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// PathOption is the config option of the posix repository.
const PathOption = "backup_path"

// Facts is what the pass reads for the slice.
type Facts struct {
	// Path is backup_path ("" for no repository); PathProblem says why
	// the directory is unusable ("" when it is fine).
	Path, PathProblem string
	// Stanza is the application's stanza: StanzaKey, or StanzaName.
	Stanza string
	// StanzaCreated is StanzaCreatedKey's value.
	StanzaCreated string
	// Request is the multi-unit restore in progress or last done;
	// Marks what the units said about it.
	Request *Request
	Marks   Marks
	// BackupPending is BackupPendingKey's value.
	BackupPending string
	// S3Relation is the s3-parameters relation's id ("" for none) and
	// S3Data the provider's application databag.
	S3Relation string
	S3Data     map[string]string
	// IOTimeout is config backup_io_timeout (0: pgBackRest's default).
	IOTimeout int
	// StanzaFailed is StanzaFailedKey's value: the repositories'
	// mark and the reason of the last failed stanza-create.
	StanzaFailed string
	// Schedule is config backup_schedule ("" for none); ScheduleSeen
	// ScheduleSeenKey's value.
	Schedule, ScheduleSeen string
	// RetentionFull and RetentionDiff are backup_retention_full and
	// backup_retention_diff.
	RetentionFull, RetentionDiff int
}

// StanzaName is the application's default stanza: the application and the
// model's short id, so that two applications, or two models' applications
// of one name, sharing a repository never share a stanza.
func StanzaName(app, modelUUID string) string {
	name := strings.ToLower(app)
	if len(modelUUID) >= 8 {
		name += "-" + strings.ToLower(modelUUID[:8])
	}
	return name
}

// RestoredStanzaName is the stanza a cluster restored at t archives into.
func RestoredStanzaName(app, modelUUID string, t time.Time) string {
	return StanzaName(app, modelUUID) + "-r" + t.UTC().Format("20060102150405")
}

// Read reads the slice's facts: backup_path, checked on this machine, the
// stanza and a restore in progress. marks are the peers' marks, which the
// pass reads with the rest of their databags (ReadPeerUnit).
func Read(path, app, modelUUID string, peerApp map[string]string, state map[keys.State]string, marks Marks) Facts {
	f := Facts{Path: path, Stanza: StanzaName(app, modelUUID), StanzaCreated: state[StanzaCreatedKey], Marks: marks}
	f.Request = ParseRequest(peerApp[string(RequestKey)])
	f.BackupPending = state[BackupPendingKey]
	f.StanzaFailed = state[StanzaFailedKey]
	f.ScheduleSeen = state[ScheduleSeenKey]
	f.Marks.SelfStopped, f.Marks.SelfRejoined = state[StoppedStateKey], state[RejoinedStateKey]
	if s := peerApp[string(StanzaKey)]; pgbackrest.ValidStanza(s) {
		f.Stanza = s
	}
	if path != "" {
		f.PathProblem = CheckPath(path)
	}
	return f
}

// CheckPath says why path cannot be the repository, "" when it can: it
// must be an absolute path to a directory the postgres user can write.
// File modes are checked (ACLs and read-only mounts are found by the
// first stanza-create instead).
func CheckPath(path string) string {
	if !filepath.IsAbs(path) {
		return "is not an absolute path"
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "does not exist"
	case err != nil:
		return "cannot be read: " + err.Error()
	case !fi.IsDir():
		return "is not a directory"
	}
	uid, gid, err := postgresIDs()
	if err != nil {
		return err.Error()
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	m := fi.Mode().Perm()
	switch {
	case st.Uid == uid && m&0o300 == 0o300, st.Gid == gid && m&0o030 == 0o030, m&0o003 == 0o003:
		return ""
	}
	return "is not writable by the postgres user"
}

// Configured reports whether the snapshot has a repository.
func (f Facts) Configured() bool { return f.Path != "" || f.S3Relation != "" }

// DecideRepository is the unit's repository and the slice's status. A
// configured backup_path is used even when the check finds a problem, so
// that WAL is kept (archive_command fails and PostgreSQL retries) rather
// than archived nowhere while the directory is away; the status names the
// option.
//
// The S3 repository (the s3-parameters relation) is used only when the
// provider's data is complete and well formed; otherwise the status names
// the relation and what is missing, and the posix repository, if any,
// works on.
func DecideRepository(f Facts) (pgconf.BackupRepo, juju.Status) {
	repo := pgconf.BackupRepo{Stanza: f.Stanza, IOTimeout: f.IOTimeout}
	var problems []string
	if f.Path != "" {
		switch {
		case !filepath.IsAbs(f.Path):
			problems = append(problems, fmt.Sprintf("invalid %s %q: %s", PathOption, f.Path, "is not an absolute path"))
		case f.PathProblem != "":
			repo.Path = filepath.Clean(f.Path)
			problems = append(problems, fmt.Sprintf("invalid %s %q: %s", PathOption, f.Path, f.PathProblem))
		default:
			repo.Path = filepath.Clean(f.Path)
		}
	}
	if f.S3Relation != "" {
		s3, problem := ParseS3(f.S3Data)
		if problem != "" {
			problems = append(problems, fmt.Sprintf("%s relation %s: %s", S3Endpoint, f.S3Relation, problem))
		} else {
			repo.S3 = s3
		}
	}
	if f.Schedule != "" {
		if _, err := cron.Parse(f.Schedule); err != nil {
			problems = append(problems, fmt.Sprintf("invalid %s %q: %v", ScheduleOption, f.Schedule, err))
		} else if !f.Configured() {
			problems = append(problems, fmt.Sprintf("%s is set but there is no repository: set %s or relate %s", ScheduleOption, PathOption, S3Endpoint))
		}
	}
	switch {
	case f.RetentionFull < 0:
		problems = append(problems, fmt.Sprintf("invalid %s %d: want a count of full backups, 1 or more (0: keep all)", RetentionFullOption, f.RetentionFull))
	case f.RetentionDiff < 0:
		problems = append(problems, fmt.Sprintf("invalid %s %d: want a count of differential backups, 1 or more (0: keep all)", RetentionDiffOption, f.RetentionDiff))
	default:
		repo.RetentionFull, repo.RetentionDiff = f.RetentionFull, f.RetentionDiff
	}
	if !repo.Configured() {
		repo = pgconf.BackupRepo{}
	}
	if len(problems) > 0 {
		return repo, juju.Blocked(strings.Join(problems, "; "))
	}
	return repo, juju.Status{}
}

// stanzaMark is StanzaCreatedKey's value for the repositories: the
// stanza, the posix path and the S3 repository's identity.
func stanzaMark(r pgconf.BackupRepo) string {
	m := r.Stanza + "@" + r.Path
	if r.S3.Configured() {
		m += "+" + s3Identity(r.S3)
	}
	return m
}

// RetryStanza reports whether a stanza-create that failed for the same
// repositories is tried again now: at once when the repositories changed
// (new credentials, another path), else only in update-status hooks, so
// that an unreachable endpoint (every S3 request waits io-timeout) does
// not slow every hook. reason is the last failure's, for the status.
func (f Facts) RetryStanza(r pgconf.BackupRepo, updateStatus bool) (retry bool, reason string) {
	mark, reason, ok := strings.Cut(f.StanzaFailed, "\n")
	if !ok || mark != stanzaMark(r) || updateStatus {
		return true, ""
	}
	return false, reason
}

// FailedMark is StanzaFailedKey's value after reason.
func FailedMark(r pgconf.BackupRepo, reason string) string {
	return stanzaMark(r) + "\n" + strings.ReplaceAll(reason, "\n", " ")
}

// NeedsStanza reports whether the primary must create (or check) the
// stanza in the repository.
func (f Facts) NeedsStanza(r pgconf.BackupRepo) bool {
	return r.Configured() && f.StanzaCreated != stanzaMark(r)
}
