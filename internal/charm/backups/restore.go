package backups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// recoveryTimeout bounds the replay of WAL after a restore.
const recoveryTimeout = 2 * time.Hour

// Restore is the restore action. Everything that can refuse does so
// before anything is stopped: the target's form, the repository, the
// unit (the leader and primary of a single-unit application), a backup
// running, the target against the backups and the primary's position,
// and the archive (pgBackRest's check forces a WAL switch and waits until
// the segment is archived, so the archive holds everything written).
//
// Then, in place: Patroni and PostgreSQL stop; Patroni's state of the
// cluster is deleted from etcd; pgBackRest restores the backup (a delta
// restore over the data directory) with the recovery target; PostgreSQL
// is started by hand, with the charm's settings overriding those the
// backup carries (DESIGN §10: listen address, socket directory,
// synchronous_standby_names, archiving off) and reachable only over the
// unit's socket, until it has promoted at the target; the system users'
// passwords are set to the current ones; it stops, and Patroni starts on
// the restored data, becoming the leader of a new cluster state. The
// application then archives into a fresh stanza, which gets a full
// backup at once, so the old timeline's archive is never mixed with the
// new one.
func (a Actions) Restore(ctx context.Context, h *juju.Hook) error {
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	t, err := ParseTarget(params)
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	u, why := a.ready(ctx, h)
	if why != "" {
		return fail(ctx, h, why)
	}
	if rp := paramString(params, RepoParam); rp != "" {
		if t.Repo, err = ChooseRepo(u.Cfg.Backup, rp); err != nil {
			return fail(ctx, h, err.Error())
		}
	}
	if !u.Leader {
		return fail(ctx, h, "run restore on the leader unit (juju run <application>/leader restore ...)")
	}
	if busy := Busy(u.Facts); busy != "" {
		return fail(ctx, h, busy)
	}
	if u.Peers > 0 {
		return a.requestRestore(ctx, h, u, t)
	}
	if why := a.primaryCheck(ctx, u, "restore"); why != "" {
		return fail(ctx, h, why)
	}
	clk := clock.Or(a.Clock)
	cli, _, p, refusal, err := planRestore(ctx, u, t, superuser(u.Cfg), clk.Now())
	if err != nil || refusal != "" {
		return failOr(ctx, h, err, refusal)
	}
	logf(ctx, h, "restoring to %s from backup %s (%s)", t, p.Backup.Label, p.Reason)
	logf(ctx, h, "checking that the archive holds every segment written so far")
	if err := cli.Check(ctx); err != nil {
		return fail(ctx, h, "the WAL archive is not working, nothing was stopped: "+message(err))
	}
	start := clk.Now()
	newStanza := RestoredStanzaName(u.Cfg.App, h.Env.ModelUUID, start)
	restoredTo, rerr := a.restoreInPlace(ctx, h, u, cli, p, newStanza)
	if rerr != nil && restoredTo == "" {
		return fail(ctx, h, "restore failed: "+rerr.Error()+"; PostgreSQL is stopped on this unit")
	}
	logf(ctx, h, "starting Patroni on the restored data; new stanza %s", newStanza)
	if err := a.Host.SetApp(ctx, h, StanzaKey, newStanza); err != nil {
		return fail(ctx, h, "recording the new stanza: "+err.Error())
	}
	if err := a.Host.Rerun(ctx, h, newStanza); err != nil {
		return fail(ctx, h, "starting the restored cluster: "+err.Error())
	}
	// Patroni starts the restored data as a replica, then takes the
	// leader key and promotes it.
	var node *patroni.NodeStatus
	pc := a.Host.Patroni(u.Cfg)
	clock.Poll(ctx, clk, 5*time.Minute, time.Second, func() bool {
		n, err := pc.Patroni(ctx)
		if err == nil && n.State == patroni.StateRunning && n.Role.IsPrimary() {
			node = &n
		}
		return node != nil
	})
	if node == nil {
		return fail(ctx, h, "the restored PostgreSQL did not come up as the primary under Patroni")
	}
	restoreSecs := clk.Now().Sub(start).Seconds()
	res := map[string]string{"restored-to": restoredTo, "backup-id": p.Backup.Label, "stanza": newStanza,
		"timeline": fmt.Sprint(node.Timeline), "restore-seconds": fmt.Sprintf("%.1f", restoreSecs)}
	nc := u.Cfg
	nc.Backup.Stanza = newStanza
	ncli, err := CLIFor(nc, newStanza)
	if err == nil {
		err = ncli.StanzaCreate(ctx)
	}
	if err == nil {
		logf(ctx, h, "taking a full backup into stanza %s", newStanza)
		repo, _ := ChooseRepo(nc.Backup, "")
		err = ncli.Backup(ctx, "full", repo, progressLog(ctx, h))
	}
	if err != nil {
		res["new-backup"] = "failed: " + message(err)
	} else if nst, err := stanzaInfo(ctx, ncli); err == nil {
		if b, ok := nst.Latest(); ok {
			res["new-backup"] = b.Label
		}
	}
	if err := h.Backend.ActionSet(ctx, res); err != nil {
		return err
	}
	if rerr != nil {
		return fail(ctx, h, rerr.Error())
	}
	return nil
}

// planRestore is the checks both restore paths run before anything
// stops: the stanza, no backup running, the primary's position (read from
// primary) and the plan for t. refusal fails the action; err is an
// effect's failure.
func planRestore(ctx context.Context, u Unit, t Target, primary postgres.Target, now time.Time) (
	cli pgbackrest.CLI, st pgbackrest.Stanza, p RestorePlan, refusal string, err error) {
	if cli, err = CLIFor(u.Cfg, u.Cfg.Backup.Stanza); err != nil {
		return
	}
	if st, err = stanzaInfo(ctx, cli); err != nil {
		return cli, st, p, err.Error(), nil
	}
	if st.Locked || BackupRunning(u.Cfg, st.Name) {
		return cli, st, p, "a backup of stanza " + st.Name + " is running: restore when it has finished", nil
	}
	if t.Repo != 0 {
		st.Backups = slices.DeleteFunc(slices.Clone(st.Backups), func(b pgbackrest.Backup) bool { return b.Repo != t.Repo })
	}
	pos, err := readPositionAt(ctx, primary)
	if err != nil {
		return cli, st, p, "reading the primary's position: " + err.Error(), nil
	}
	pos.Now = now
	if p, err = DecideRestore(t, st, pos); err != nil {
		return cli, st, p, err.Error(), nil
	}
	// The backup's own repository: its WAL is there too.
	p.Options.Repo = p.Backup.Repo
	return cli, st, p, "", nil
}

// readPositionAt reads the primary's WAL position and next transaction id.
func readPositionAt(ctx context.Context, primary postgres.Target) (Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return Position{}, err
	}
	defer conn.Close(ctx)
	var lsn string
	var xid uint64
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_lsn()::text, pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint").Scan(&lsn, &xid); err != nil {
		return Position{}, err
	}
	l, err := pgbackrest.ParseLSN(lsn)
	if err != nil {
		return Position{}, err
	}
	return Position{LSN: l, NextXID: xid}, nil
}

// restoreInPlace stops the unit, restores and recovers (RestoreData).
func (a Actions) restoreInPlace(ctx context.Context, h *juju.Hook, u Unit, cli pgbackrest.CLI, p RestorePlan, newStanza string) (restoredTo string, err error) {
	cfg := u.Cfg
	logf(ctx, h, "stopping Patroni and PostgreSQL")
	if err := a.Host.StopPatroni(ctx, h, cfg); err != nil {
		return "", fmt.Errorf("stopping Patroni: %w", err)
	}
	if err := a.WaitStopped(ctx, cfg.Layout.PGData); err != nil {
		return "", err
	}
	r := Request{ID: newStanza, Stanza: cli.Stanza, Options: p.Options, Target: p.Target.String()}
	return a.RestoreData(ctx, func(msg string) { logf(ctx, h, "%s", msg) }, cfg, r)
}

// RestoreData restores r into the unit's stopped data directory: Patroni's
// cluster state deleted from etcd, pgBackRest's delta restore, recovery
// by hand to the target, and the stanza r.ID created for the restored
// cluster before Patroni starts it (its first segments and timeline
// history then archive at once). restoredTo says what the data now is ("" when
// PostgreSQL is left stopped); err, with a restoredTo, says the target
// was not reached and the data was restored to the end of the archive
// instead, so that the application comes back.
func (a Actions) RestoreData(ctx context.Context, logf func(string), cfg pgconf.UnitConfig, r Request) (restoredTo string, err error) {
	cli, err := CLIFor(cfg, r.Stanza)
	if err != nil {
		return "", err
	}
	progress := func(line string) {
		if _, msg, ok := strings.Cut(line, "INFO: "); ok {
			logf("pgbackrest: " + strings.TrimSpace(msg))
		}
	}
	logf("deleting Patroni's cluster state from etcd")
	if err := a.Host.ClearDCS(ctx, cfg); err != nil {
		return "", fmt.Errorf("deleting Patroni's state: %w", err)
	}
	opts := r.Options
	opts.PGPath = cfg.Layout.PGData
	logf(fmt.Sprintf("restoring backup %s (pgbackrest restore --delta --type=%s)", opts.Set, opts.Type))
	if err := cli.Restore(ctx, opts, progress); err != nil {
		return "", fmt.Errorf("pgbackrest restore: %s", message(err))
	}
	logf("replaying WAL to " + r.Target)
	rerr := a.recoverByHand(ctx, cfg, r.ID)
	if rerr == nil {
		return r.Target, nil
	}
	// The target was not reached (a restore point or transaction that
	// is not in the archive): the old data is gone, so the unit comes
	// back with everything the archive holds.
	logf(fmt.Sprintf("recovery did not reach %s: %v; restoring to the end of the archive instead", r.Target, rerr))
	latest := pgbackrest.RestoreOptions{Type: "default", PGPath: cfg.Layout.PGData}
	if err := cli.Restore(ctx, latest, progress); err != nil {
		return "", fmt.Errorf("%v; then pgbackrest restore to the end of the archive: %s", rerr, message(err))
	}
	if err := a.recoverByHand(ctx, cfg, r.ID); err != nil {
		return "", fmt.Errorf("%v; then recovery to the end of the archive: %w", rerr, err)
	}
	return "the end of the archive (latest)", fmt.Errorf("%s was not reached (%v): restored to the end of the archive instead", r.Target, rerr)
}

// RemoveStaleData deletes a replica's data directory after the leader
// restored: it is a copy of the data the restore replaced, and Patroni
// clones the restored primary only into an empty directory.
func RemoveStaleData(_ context.Context, cfg pgconf.UnitConfig) (bool, error) {
	d := filepath.Clean(cfg.Layout.PGData)
	if filepath.Base(d) != "pgdata" || d == "/pgdata" {
		return false, fmt.Errorf("refusing to remove %q", d)
	}
	if _, err := os.Stat(filepath.Join(d, "postmaster.pid")); err == nil {
		return false, fmt.Errorf("refusing to remove %s: PostgreSQL runs on it", d)
	}
	if err := os.RemoveAll(d); err != nil {
		return false, err
	}
	return true, nil
}

// WaitStopped waits until PostgreSQL's pid file is gone from pgdata.
func (a Actions) WaitStopped(ctx context.Context, pgdata string) error {
	const timeout = 2 * time.Minute
	clk := clock.Or(a.Clock)
	deadline := clk.Now().Add(timeout)
	for {
		if _, err := os.Stat(filepath.Join(pgdata, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if clk.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL still runs %s after Patroni stopped", timeout)
		}
		if err := clock.Sleep(ctx, clk, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// recoveryHBA admits only the charm, over the unit's socket, without a
// password: the restored data's passwords may not be the current ones
// (peer authentication; root runs the charm, postgres runs pg_ctl).
const (
	recoveryHBA   = "local all " + pgconf.OperatorUser + " peer map=charm_restore\n"
	recoveryIdent = "charm_restore root " + pgconf.OperatorUser + "\ncharm_restore postgres " + pgconf.OperatorUser + "\n"
)

// recoverByHand runs the restored PostgreSQL outside Patroni until it has
// promoted at its recovery target, sets the system users' passwords,
// creates the new stanza, and stops it cleanly.
func (a Actions) recoverByHand(ctx context.Context, cfg pgconf.UnitConfig, newStanza string) error {
	l := cfg.Layout
	uid, gid, err := postgresIDs()
	if err != nil {
		return err
	}
	hba, ident := filepath.Join(l.ConfDir, "restore_hba.conf"), filepath.Join(l.ConfDir, "restore_ident.conf")
	if _, err := writeFile(hba, []byte(recoveryHBA), 0o600, uid, gid); err != nil {
		return err
	}
	if _, err := writeFile(ident, []byte(recoveryIdent), 0o600, uid, gid); err != nil {
		return err
	}
	defer os.Remove(hba)
	defer os.Remove(ident)
	_, logDir, _ := l.PgBackRestDirs()
	logFile := filepath.Join(logDir, "recovery.log")
	port := superuser(cfg).Port
	opts := fmt.Sprintf("-c listen_addresses='' -c port=%d -c unix_socket_directories='%s' -c archive_mode=off"+
		" -c synchronous_standby_names='' -c hba_file='%s' -c ident_file='%s' -c hot_standby=on",
		port, l.SocketDir, hba, ident)
	pgctl := filepath.Join(pgconf.BinDir(cfg.PGVersion), "pg_ctl")
	if err := runAs(ctx, uid, gid, pgctl, "-D", l.PGData, "-l", logFile, "-W", "-o", opts, "start"); err != nil {
		return err
	}
	stop := func() error {
		return runAs(context.WithoutCancel(ctx), uid, gid, pgctl, "-D", l.PGData, "-m", "fast", "-w", "-t", "300", "stop")
	}
	if err := a.waitPromoted(ctx, cfg, logFile); err != nil {
		_ = stop()
		return err
	}
	if err := setPasswords(ctx, cfg); err != nil {
		_ = stop()
		return err
	}
	if err := createStanza(ctx, cfg, newStanza); err != nil {
		_ = stop()
		return err
	}
	if err := stop(); err != nil {
		return err
	}
	return cleanAutoConf(filepath.Join(l.PGData, "postgresql.auto.conf"))
}

// waitPromoted polls until recovery has ended and PostgreSQL runs as a
// primary; an exit of PostgreSQL (a target not reached) fails with the
// end of its log.
func (a Actions) waitPromoted(ctx context.Context, cfg pgconf.UnitConfig, logFile string) error {
	clk := clock.Or(a.Clock)
	deadline := clk.Now().Add(recoveryTimeout)
	l := cfg.Layout
	peer := postgres.Target{Host: l.SocketDir, Port: superuser(cfg).Port, User: pgconf.OperatorUser}
	for first := true; ; first = false {
		if !first {
			if err := clock.Sleep(ctx, clk, time.Second); err != nil {
				return err
			}
		}
		if clk.Now().After(deadline) {
			return fmt.Errorf("recovery not finished after %s", recoveryTimeout)
		}
		if _, err := os.Stat(filepath.Join(l.PGData, "postmaster.pid")); errors.Is(err, os.ErrNotExist) && !first {
			return fmt.Errorf("PostgreSQL stopped during recovery: %s", logTail(logFile))
		}
		if _, err := os.Stat(filepath.Join(l.PGData, "recovery.signal")); err == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := peer.Connect(cctx, "")
		if err != nil {
			cancel()
			continue
		}
		var inRecovery bool
		err = conn.QueryRow(cctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&inRecovery)
		conn.Close(cctx)
		cancel()
		if err == nil && !inRecovery {
			return nil
		}
	}
}

// setPasswords gives the system roles their current passwords: the
// restored data has those of the backup's time.
func setPasswords(ctx context.Context, cfg pgconf.UnitConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	peer := postgres.Target{Host: cfg.Layout.SocketDir, Port: superuser(cfg).Port, User: pgconf.OperatorUser}
	conn, err := peer.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, u := range credentials.Users {
		if !u.Role {
			continue
		}
		if _, err := postgres.EnsureUser(ctx, conn, u.Name, u.PasswordOf(cfg.Passwords), u.Attributes...); err != nil {
			return fmt.Errorf("setting the password of %s: %w", u.Name, err)
		}
	}
	_, err = conn.Exec(ctx, "CHECKPOINT")
	return err
}

func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var keep []string
	for _, l := range lines {
		if strings.Contains(l, "FATAL") || strings.Contains(l, "PANIC") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 && len(lines) > 0 {
		keep = lines[len(lines)-1:]
	}
	return strings.Join(keep, "; ")
}

// runAs runs a command as uid/gid with a fixed environment.
func runAs(ctx context.Context, uid, gid uint32, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}, Setsid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", filepath.Base(name), args[len(args)-1], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CleanAutoConf is postgresql.auto.conf without the recovery settings
// pgBackRest's restore wrote: a replica cloned later would inherit a
// recovery target and stop replaying there.
func CleanAutoConf(text string) string {
	var out []string
	for _, line := range strings.SplitAfter(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "# Recovery settings generated by pgBackRest") || strings.HasPrefix(t, "# Removed by pgBackRest") {
			continue
		}
		key, _, _ := strings.Cut(t, "=")
		key = strings.TrimSpace(strings.TrimPrefix(key, "#"))
		if key == "restore_command" || strings.HasPrefix(key, "recovery_target") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "")
}

func cleanAutoConf(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	clean := CleanAutoConf(string(data))
	if clean == string(data) {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	_, err = writeFile(path, []byte(clean), fi.Mode().Perm(), st.Uid, st.Gid)
	return err
}

// requestRestore is the restore action on an application with several
// units (inplace.go): the checks, then the request the units act on.
func (a Actions) requestRestore(ctx context.Context, h *juju.Hook, u Unit, t Target) error {
	cl, err := a.Host.Patroni(u.Cfg).Cluster(ctx)
	if err != nil {
		return fail(ctx, h, "Patroni is not answering: "+err.Error())
	}
	leader, ok := cl.Leader()
	if !ok {
		return fail(ctx, h, "the cluster has no primary: its position cannot be checked")
	}
	primary := superuser(u.Cfg)
	primary.Host, primary.Port = leader.Host, leader.Port
	clk := clock.Or(a.Clock)
	_, st, p, refusal, err := planRestore(ctx, u, t, primary, clk.Now())
	if err != nil || refusal != "" {
		return failOr(ctx, h, err, refusal)
	}
	logf(ctx, h, "restoring to %s from backup %s (%s)", t, p.Backup.Label, p.Reason)
	logf(ctx, h, "checking that the archive holds every segment written so far")
	if err := archiveNow(ctx, clk, primary); err != nil {
		return fail(ctx, h, "the WAL archive is not working, nothing was stopped: "+err.Error())
	}
	r := Request{ID: RestoredStanzaName(u.Cfg.App, h.Env.ModelUUID, clk.Now()), Stanza: st.Name,
		Options: p.Options, Target: t.String(), Phase: PhaseStopping}
	if err := a.Host.SetApp(ctx, h, RequestKey, r.Encode()); err != nil {
		return fail(ctx, h, "recording the restore: "+err.Error())
	}
	return h.Backend.ActionSet(ctx, map[string]string{"restore-id": r.ID, "backup-id": p.Backup.Label, "target": r.Target,
		"result": fmt.Sprintf("started: the %d units stop, the leader restores, the others clone it; the units' status follows it", u.Peers+1)})
}

// archiveNow has the primary switch to a new WAL segment and waits until
// the one it closed is archived: then the archive holds every write.
func archiveNow(ctx context.Context, clk clock.Clock, primary postgres.Target) error {
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	conn, err := primary.Connect(cctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(cctx)
	var seg string
	if err := conn.QueryRow(cctx, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())").Scan(&seg); err != nil {
		return err
	}
	var last string
	ok := clock.Poll(cctx, clk, 60*time.Second, 500*time.Millisecond, func() bool {
		var w *string
		if err := conn.QueryRow(cctx, "SELECT last_archived_wal FROM pg_catalog.pg_stat_archiver").Scan(&w); err != nil || w == nil {
			return false
		}
		last = *w
		return len(last) >= 24 && last[8:] >= seg[8:] && last[:8] >= seg[:8]
	})
	if !ok {
		return fmt.Errorf("segment %s not archived within 60 s (last archived: %q)", seg, last)
	}
	return nil
}

// createStanza creates stanza for the unit's PostgreSQL while it runs by
// hand (the configuration file still names the old stanza: the data
// directory and socket go on the command line; pgBackRest logs in as the
// operator through the recovery's peer rule).
func createStanza(ctx context.Context, cfg pgconf.UnitConfig, stanza string) error {
	cli, err := CLIFor(cfg, stanza)
	if err != nil {
		return err
	}
	_, err = cli.Run(ctx, "stanza-create", []string{"--pg1-path=" + cfg.Layout.PGData, "--pg1-socket-path=" + cfg.Layout.SocketDir,
		fmt.Sprintf("--pg1-port=%d", superuser(cfg).Port), "--pg1-user=" + pgconf.OperatorUser}, nil)
	if err != nil {
		return fmt.Errorf("creating stanza %s: %s", stanza, message(err))
	}
	return nil
}
