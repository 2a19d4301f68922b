package backups

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Unit is this unit as the actions see it; the charm builds it from its
// snapshot and plan.
type Unit struct {
	// Cfg is the unit's config as the pass renders it (layout, port,
	// passwords, Backup).
	Cfg pgconf.UnitConfig
	// Facts and Status are the slice's facts and repository status.
	Facts  Facts
	Status juju.Status
	Leader bool
	// Peers counts the other units of the application.
	Peers int
}

// Host is what the actions need from the rest of the charm.
type Host interface {
	// Unit reads this unit.
	Unit(ctx context.Context, h *juju.Hook) (Unit, error)
	// Patroni is a client of the unit's Patroni.
	Patroni(cfg pgconf.UnitConfig) *patroni.Client
	// StopPatroni stops the unit's Patroni (and so its PostgreSQL).
	StopPatroni(ctx context.Context, h *juju.Hook, cfg pgconf.UnitConfig) error
	// ClearDCS deletes the cluster's state from etcd (Patroni's keys of
	// the application's scope).
	ClearDCS(ctx context.Context, cfg pgconf.UnitConfig) error
	// Rerun runs the charm's pass with stanza as the application's
	// stanza: files rendered, Patroni started, what it reports published.
	Rerun(ctx context.Context, h *juju.Hook, stanza string) error
	// SetApp writes the peer application databag (the leader only); it
	// commits when the action ends.
	SetApp(ctx context.Context, h *juju.Hook, k keys.Peer, v string) error
}

// Actions are the backups slice's actions.
type Actions struct {
	Host Host
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
}

func fail(ctx context.Context, h *juju.Hook, msg string) error { return h.Backend.ActionFail(ctx, msg) }

// failOr returns err, or fails the action with refusal.
func failOr(ctx context.Context, h *juju.Hook, err error, refusal string) error {
	if err != nil {
		return err
	}
	return fail(ctx, h, refusal)
}

func logf(ctx context.Context, h *juju.Hook, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if err := h.Backend.ActionLog(ctx, msg); err != nil {
		h.Log.Warn("action-log", "err", err)
	}
}

// ready reads the unit and says why the repository cannot be used.
func (a Actions) ready(ctx context.Context, h *juju.Hook) (Unit, string) {
	u, err := a.Host.Unit(ctx, h)
	if err != nil {
		return u, err.Error()
	}
	switch {
	case !u.Facts.Configured():
		return u, "no backup repository: set " + PathOption + " (juju config <application> " + PathOption + "=/path/to/directory) or relate " + S3Endpoint + " (juju integrate <application> s3-integrator)"
	case u.Status.Level != "":
		return u, u.Status.Message
	case !u.Cfg.Backup.Configured():
		return u, "the unit is not running yet"
	}
	return u, ""
}

// primaryCheck says why this unit is not the primary ("" when it is).
func (a Actions) primaryCheck(ctx context.Context, u Unit, action string) string {
	cl, err := a.Host.Patroni(u.Cfg).Cluster(ctx)
	if err != nil {
		return "Patroni is not answering: " + err.Error()
	}
	leader, ok := cl.Leader()
	if !ok {
		return "the cluster has no primary"
	}
	if leader.Name != pgconf.UnitSlug(u.Cfg.Unit) {
		return fmt.Sprintf("%s runs on the primary: run it on %s", action, cluster.UnitOfMember(u.Cfg.App, leader.Name))
	}
	return ""
}

func paramString(params map[string]any, k string) string {
	v, ok := params[k]
	if !ok || v == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

// CreateBackup is the create-backup action, on the primary.
func (a Actions) CreateBackup(ctx context.Context, h *juju.Hook) error {
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	requested := paramString(params, "type")
	if _, _, err := DecideBackupType(requested, true); err != nil {
		return fail(ctx, h, err.Error())
	}
	u, why := a.ready(ctx, h)
	if why != "" {
		return fail(ctx, h, why)
	}
	repo, err := ChooseRepo(u.Cfg.Backup, paramString(params, RepoParam))
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	if why := a.primaryCheck(ctx, u, "create-backup"); why != "" {
		return fail(ctx, h, why)
	}
	cli, err := CLIFor(u.Cfg, u.Cfg.Backup.Stanza)
	if err != nil {
		return err
	}
	if BackupRunning(u.Cfg, cli.Stanza) {
		return fail(ctx, h, "a backup of stanza "+cli.Stanza+" is already running")
	}
	if err := cli.StanzaCreate(ctx); err != nil {
		return fail(ctx, h, "creating stanza "+cli.Stanza+": "+message(err))
	}
	st, err := stanzaInfo(ctx, cli)
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	if st.Locked || BackupRunning(u.Cfg, st.Name) {
		return fail(ctx, h, "a backup of stanza "+st.Name+" is already running")
	}
	_, has := st.LatestIn(repo)
	typ, reason, _ := DecideBackupType(requested, has)
	if reason != "" {
		logf(ctx, h, "%s", reason)
	}
	logf(ctx, h, "starting a %s backup of stanza %s into %s", typ, cli.Stanza, RepoName(u.Cfg.Backup, repo))
	start := clock.Or(a.Clock).Now()
	if err := cli.Backup(ctx, typ, repo, progressLog(ctx, h)); err != nil {
		return fail(ctx, h, "backup failed: "+repoMessage(repo, err))
	}
	st, err = stanzaInfo(ctx, cli)
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	b, ok := st.LatestIn(repo)
	if !ok {
		return fail(ctx, h, "the backup finished but pgbackrest info lists none")
	}
	return h.Backend.ActionSet(ctx, map[string]string{
		"backup-id": b.Label, "type": b.Type, "stanza": st.Name, "size": strconv.FormatInt(b.Size, 10), "repository": RepoName(u.Cfg.Backup, repo),
		"repo-size": strconv.FormatInt(b.RepoSize, 10), "seconds": fmt.Sprintf("%.1f", clock.Or(a.Clock).Now().Sub(start).Seconds()),
	})
}

// progressLog forwards pgBackRest's INFO lines to action-log.
func progressLog(ctx context.Context, h *juju.Hook) func(string) {
	return func(line string) {
		if _, msg, ok := strings.Cut(line, "INFO: "); ok {
			logf(ctx, h, "pgbackrest: %s", strings.TrimSpace(msg))
		}
	}
}

// repoMessage is message, with S3Reason's summary for the S3 repository.
func repoMessage(repo int, err error) string {
	var pe *pgbackrest.Error
	if repo == pgbackrest.RepoS3 && errors.As(err, &pe) {
		if r := pgbackrest.S3Reason(pe); r != pe.Message {
			return r + " (" + pe.Message + ")"
		}
	}
	return message(err)
}

func message(err error) string {
	var pe *pgbackrest.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// stanzaInfo is the CLI's stanza from pgbackrest info.
func stanzaInfo(ctx context.Context, cli pgbackrest.CLI) (pgbackrest.Stanza, error) {
	sts, err := cli.Info(ctx)
	if err != nil {
		return pgbackrest.Stanza{}, fmt.Errorf("reading the repository: %s", message(err))
	}
	for _, s := range sts {
		if s.Name == cli.Stanza {
			return s, nil
		}
	}
	return pgbackrest.Stanza{}, fmt.Errorf("stanza %s is not in the repository", cli.Stanza)
}

// ListBackups is the list-backups action: the stanza's backups as a table
// and as structured results, the archive's range and health, and the
// other stanzas found in the repository.
func (a Actions) ListBackups(ctx context.Context, h *juju.Hook) error {
	u, why := a.ready(ctx, h)
	if why != "" {
		return fail(ctx, h, why)
	}
	cli, err := CLIFor(u.Cfg, "")
	if err != nil {
		return err
	}
	all, err := cli.Info(ctx)
	if err != nil {
		return fail(ctx, h, "reading the repository: "+message(err))
	}
	var names []string
	for _, r := range Repos(u.Cfg.Backup) {
		names = append(names, RepoName(u.Cfg.Backup, r))
	}
	res := map[string]string{"stanza": u.Cfg.Backup.Stanza, "repository": strings.Join(names, "; ")}
	var others []string
	var mine pgbackrest.Stanza
	for _, s := range all {
		if s.Name == u.Cfg.Backup.Stanza {
			mine = s
		} else {
			others = append(others, s.Name)
		}
	}
	res["other-stanzas"] = strings.Join(others, ",")
	res["table"] = Table(mine, res["repository"])
	for i, b := range mine.Backups {
		k := "backups." + strconv.Itoa(i+1) + "."
		res[k+"id"], res[k+"type"] = b.Label, b.Type
		res[k+"start"], res[k+"stop"] = b.Start.Format(time.RFC3339), b.Stop.Format(time.RFC3339)
		res[k+"size"], res[k+"repo-size"] = strconv.FormatInt(b.Size, 10), strconv.FormatInt(b.RepoSize, 10)
		res[k+"start-lsn"], res[k+"stop-lsn"] = b.StartLSN.String(), b.StopLSN.String()
		res[k+"timeline"], res[k+"repository"] = strconv.Itoa(int(b.Timeline())), RepoName(u.Cfg.Backup, b.Repo)
		res[k+"error"] = strconv.FormatBool(b.Error)
	}
	for _, r := range mine.Archive {
		if r.DBID == mine.DBID {
			if res["archive.min"] == "" {
				res["archive.min"], res["archive.max"] = r.Min, r.Max
			}
			k := "archive.repo" + strconv.Itoa(r.Repo) + "."
			res[k+"min"], res[k+"max"] = r.Min, r.Max
		}
	}
	res["status"] = mine.Status
	if ar, err := readArchiver(ctx, u.Cfg); err == nil {
		res["archive.last-archived-wal"], res["archive.last-archived-time"] = ar.LastArchivedWAL, ar.LastArchivedTime
		res["archive.last-failed-wal"], res["archive.last-failed-time"] = ar.LastFailedWAL, ar.LastFailedTime
		res["archive.failing"] = strconv.FormatBool(ar.Failing())
	} else {
		res["archive.health"] = "unknown: " + err.Error()
	}
	for k, v := range res {
		if v == "" {
			delete(res, k)
		}
	}
	return h.Backend.ActionSet(ctx, res)
}

// Table renders a stanza's backups for people.
func Table(st pgbackrest.Stanza, path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stanza %s in %s (%s)\n", st.Name, path, st.Status)
	fmt.Fprintf(&b, "%-34s %-5s %-20s %-20s %10s %-22s %-8s %s\n", "id", "type", "start", "stop", "size", "lsn", "timeline", "repo")
	for _, bk := range st.Backups {
		fmt.Fprintf(&b, "%-34s %-5s %-20s %-20s %10s %-22s %-8d repo%d\n", bk.Label, bk.Type,
			bk.Start.Format("2006-01-02T15:04:05Z"), bk.Stop.Format("2006-01-02T15:04:05Z"), humanSize(bk.Size),
			bk.StartLSN.String()+"-"+bk.StopLSN.String(), bk.Timeline(), bk.Repo)
	}
	for _, r := range st.Archive {
		if r.DBID == st.DBID {
			fmt.Fprintf(&b, "archive %s (repo%d): %s to %s\n", r.ID, r.Repo, r.Min, r.Max)
		}
	}
	return b.String()
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Archiver is pg_stat_archiver's view.
type Archiver struct {
	LastArchivedWAL, LastArchivedTime string
	LastFailedWAL, LastFailedTime     string
	archived, failed                  time.Time
}

// Failing: the last attempt failed (a failure newer than the last success).
func (a Archiver) Failing() bool { return !a.failed.IsZero() && a.failed.After(a.archived) }

// superuser is the unit's own PostgreSQL over its socket, as the operator.
func superuser(cfg pgconf.UnitConfig) postgres.Target {
	port := cfg.Settings.ListenPort
	if port == 0 {
		port = pgconf.DefaultPostgresPort
	}
	return postgres.Target{Host: cfg.Layout.SocketDir, Port: port, User: pgconf.OperatorUser, Password: cfg.Passwords.Operator}
}

// readArchiver reads pg_stat_archiver on the unit's PostgreSQL.
func readArchiver(ctx context.Context, cfg pgconf.UnitConfig) (Archiver, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := superuser(cfg).Connect(ctx, "")
	if err != nil {
		return Archiver{}, err
	}
	defer conn.Close(ctx)
	var ar Archiver
	var aw, fw *string
	var at, ft *time.Time
	err = conn.QueryRow(ctx, "SELECT last_archived_wal, last_archived_time, last_failed_wal, last_failed_time FROM pg_catalog.pg_stat_archiver").Scan(&aw, &at, &fw, &ft)
	if err != nil {
		return Archiver{}, err
	}
	if aw != nil {
		ar.LastArchivedWAL = *aw
	}
	if fw != nil {
		ar.LastFailedWAL = *fw
	}
	if at != nil {
		ar.archived, ar.LastArchivedTime = *at, at.UTC().Format(time.RFC3339)
	}
	if ft != nil {
		ar.failed, ar.LastFailedTime = *ft, ft.UTC().Format(time.RFC3339)
	}
	return ar, nil
}

// ArchiveStatus is the unit's status contribution when its archive fails
// (the primary only; zero otherwise).
func ArchiveStatus(ctx context.Context, cfg pgconf.UnitConfig) juju.Status {
	ar, err := readArchiver(ctx, cfg)
	if err != nil || !ar.Failing() {
		return juju.Status{}
	}
	var where []string
	if cfg.Backup.Path != "" {
		where = append(where, PathOption)
	}
	if cfg.Backup.S3.Configured() {
		where = append(where, S3Endpoint)
	}
	return juju.Blocked(fmt.Sprintf("WAL archive to %s failing: %s at %s (see %s)", strings.Join(where, " and "), ar.LastFailedWAL, ar.LastFailedTime, cfg.Layout.LogDir+"/pgbackrest"))
}

// EnsureStanza creates (or checks) the stanza in the repositories on the
// primary, then has pgBackRest check that archiving works: its WAL switch
// wakes PostgreSQL's archiver, which otherwise retries the segments that
// failed before the stanza existed only a minute later. A failed check is
// returned as checkErr; the stanza exists all the same. err's message
// starts with the option or relation at fault: the S3 repository is
// probed first (stanza-create works on every repository at once), so a
// bad credential, bucket or endpoint is named as the relation's.
func EnsureStanza(ctx context.Context, cfg pgconf.UnitConfig) (checkErr, err error) {
	cli, err := CLIFor(cfg, cfg.Backup.Stanza)
	if err != nil {
		return nil, err
	}
	if cfg.Backup.S3.Configured() {
		if err := cli.Probe(ctx, pgbackrest.RepoS3); err != nil {
			var pe *pgbackrest.Error
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s: S3 repository %s at %s: %s", S3Endpoint, cfg.Backup.S3.Bucket, cfg.Backup.S3.Host, pgbackrest.S3Reason(pe))
			}
			return nil, fmt.Errorf("%s: %v", S3Endpoint, err)
		}
	}
	if err := cli.StanzaCreate(ctx); err != nil {
		who := PathOption
		if cfg.Backup.Path == "" {
			who = S3Endpoint
		}
		return nil, fmt.Errorf("%s: creating stanza %s: %s", who, cli.Stanza, message(err))
	}
	if err := cli.Check(ctx); err != nil {
		return errors.New(message(err)), nil
	}
	return nil, nil
}

// StanzaMark is the value of StanzaCreatedKey for cfg's repository.
func StanzaMark(cfg pgconf.UnitConfig) string { return stanzaMark(cfg.Backup) }

// FullBackup takes a full backup into cfg's stanza and returns its id.
func FullBackup(ctx context.Context, cfg pgconf.UnitConfig) (string, error) {
	cli, err := CLIFor(cfg, cfg.Backup.Stanza)
	if err != nil {
		return "", err
	}
	repo, _ := ChooseRepo(cfg.Backup, "")
	if err := cli.Backup(ctx, "full", repo, nil); err != nil {
		return "", errors.New(message(err))
	}
	st, err := stanzaInfo(ctx, cli)
	if err != nil {
		return "", err
	}
	b, _ := st.LatestIn(repo)
	return b.Label, nil
}
