package ha_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// The chaos suite (issue 10, item 6): faults on a three-unit cluster
// while a client writes without pause, each followed by the same checks.
//
// A writer inserts increasing ids, one per transaction, and records each
// id whose COMMIT was acknowledged. It never cancels a statement: a
// cancelled wait for a synchronous standby still commits locally and
// reports success, so a writer that cancels would count as acknowledged
// writes that a failover may throw away. A stuck statement is abandoned
// by closing the socket (pgconn's deadline handler), which acknowledges
// nothing. One writer runs on a client machine with the relation's
// credentials, reconnecting to whichever unit is writable
// (target_session_attrs=read-write); for the network cut a second one runs
// on the primary's own machine, on the isolated side.
//
// A sampler asks every 200 ms, from the client's machine and from the
// primary's, every unit to acknowledge a write within a second, and keeps
// the largest number of units that did in one sample.
//
// After each fault: no acknowledged id is missing on the primary; never
// two units took writes in one sample; the cluster is whole again (one
// Primary, the others Replica, streaming); the client's relation data
// points at the primary.

const (
	chaosClient = "chaos"
	// sampleEvery and probeBudget: how often the sampler asks, and how
	// long a unit has to acknowledge the probe write.
	sampleEvery = 200 * time.Millisecond
	probeBudget = time.Second
	// writeEvery paces each writer (about 50 transactions a second);
	// statementBound is how long a writer waits for one INSERT.
	writeEvery     = 20 * time.Millisecond
	statementBound = 5 * time.Second
)

// fault is one injected failure of the cluster cl and what undoes it.
type fault struct {
	name string
	// primary: the fault takes the primary away, so another unit must
	// acknowledge writes before recover runs.
	primary bool
	// inside: a second writer runs on the primary's own machine.
	inside bool
	inject func(t *testing.T, c *chaos, cl roles)
	// await is what recover waits for (default for primary faults:
	// writes acknowledged again by the outside writer).
	await   func(t *testing.T, c *chaos, cl roles)
	recover func(t *testing.T, c *chaos, cl roles)
	// knownBug says why the fault fails today; it runs only with
	// PGJUJU_CHAOS_KNOWN_BUGS=1.
	knownBug string
}

// freezeAfterCutNoFailover: the freeze fault passes alone (2 of 2 runs,
// with the charm's leader-key fix), but in a whole-suite run, right after
// the cut fault, no replica took over within 5 minutes of the primary's
// machine being frozen (1 of 1 run, on a heavily loaded host, with
// Patroni's REST API on TLS). The cause is not established; the Patroni
// logs of that run were removed with the model.
const freezeAfterCutNoFailover = "after the cut fault in a whole-suite run, freezing the primary's machine led to no failover within 5 minutes (1 of 1 run; alone it passes 2 of 2); cause not established"

// patroniStoppedPrimaryStaysWritable is what this suite finds with
// Patroni stopped (SIGSTOP) on the primary: another unit is promoted after
// ttl, but the old primary's PostgreSQL, which only Patroni would demote,
// stays read-write. A client that picks any read-write host
// (target_session_attrs=read-write over every unit) keeps landing there,
// and its commits wait for a sync standby that never comes: nothing is
// acknowledged there (so nothing is lost), but no write reaches the new
// primary either. Fencing it takes Patroni's watchdog (/dev/watchdog),
// which localjuju's machines do not have, or a fence in the charm's
// observer, which it does not have yet. (Patroni 3.0.2 writing its leader
// key again on SIGCONT, which this fault showed before, is fixed by the
// charm's patronistart.SiteCustomize: the cut and freeze faults pass.)
const patroniStoppedPrimaryStaysWritable = "with Patroni stopped on the primary, its PostgreSQL stays read-write (no watchdog to fence it): clients that pick any read-write host stay there, their commits waiting forever for a sync standby (nothing acknowledged, nothing lost, no write elsewhere)"

// newLeaderElsewhere waits until a live unit other than the old primary
// has Patroni name another member the leader: the cluster took the
// primary's role away while the old primary itself cannot answer.
func newLeaderElsewhere(t *testing.T, c *chaos, cl roles) {
	old := c.addr(cl.primary)
	c.with(t).waitFor("a leader other than "+cl.primary, pollInterval, func() error {
		for _, u := range cl.replicas {
			members, err := c.cluster(u)
			if err != nil {
				continue
			}
			for _, m := range members {
				if m.Role == "leader" && m.Host != old && m.State == "running" {
					return nil
				}
			}
		}
		return fmt.Errorf("no member but %s leads", cl.primary)
	})
}

// syncNeverUnenforced samples, every 200 ms while Patroni restarts on the
// primary and until synchronous replication is enforced again, whether
// a standby that Patroni's /sync key names (role sync_standby in a
// replica's /cluster) is missing from the primary's
// synchronous_standby_names: then a failover would promote it although
// commits do not wait for it. /cluster is read first: Patroni sets the
// parameter before it names the standby in /sync and drops the name from
// /sync before the parameter, so a sample can only see a real breach.
func syncNeverUnenforced(t *testing.T, c *chaos, cl roles) {
	deadline := time.Now().Add(convergeTimeout)
	for {
		var named []string
		for _, u := range cl.replicas {
			members, err := c.cluster(u)
			if err != nil {
				continue
			}
			for _, m := range members {
				if m.Role == "sync_standby" {
					named = append(named, m.Name)
				}
			}
			break
		}
		var names string
		err := c.asOperator(cl.primary, c.password, func(ctx context.Context, conn *pgx.Conn) error {
			return conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&names)
		})
		if err == nil {
			for _, n := range named {
				if !strings.Contains(names, n) {
					t.Fatalf("/sync names %s, but the primary's synchronous_standby_names is %q: commits are acknowledged without it", n, names)
				}
			}
			if len(named) > 0 && c.syncRecorded(cl) == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("synchronous replication not enforced again within %s (last: /sync %v, synchronous_standby_names %q, %v)", convergeTimeout, named, names, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// patroniBack waits until the unit's Patroni answers again and lists it
// running.
func patroniBack(t *testing.T, c *chaos, cl roles) {
	c.with(t).waitFor("Patroni on "+cl.primary+" answering, its member running", pollInterval, func() error {
		members, err := c.cluster(cl.primary)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.Host == c.addr(cl.primary) && m.State == "running" {
				return nil
			}
		}
		return fmt.Errorf("%s not running in /cluster: %v", cl.primary, members)
	})
}

// chaos is the suite's model: three postgresql units and a client.
type chaos struct {
	*env
	password string // operator
	rel      string // database:N of the client
	creds    clientCreds
	// live are the postgresql units; the writers read them while a fault
	// changes them.
	liveMu sync.Mutex
	live   []string
}

func (c *chaos) liveUnits() []string {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	return slices.Clone(c.live)
}

func (c *chaos) setLive(units []string) {
	c.liveMu.Lock()
	defer c.liveMu.Unlock()
	c.live = units
}

// clientCreds are the client relation's credentials as the client reads
// them (pgclient's check action with reveal-credentials).
type clientCreds struct {
	User, Password, Database string
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the chaos suite runs real clusters (not in -short)")
	}
	c := &chaos{env: newEnv(t)}
	setup(t, c)
	faults := []fault{
		{name: "SIGKILL of the postmaster on the primary (Patroni restarts it in place)", primary: false,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.signal(t, cl.primary, isPostmaster, syscall.SIGKILL) },
			recover: patroniBack},
		// Patroni 3.0.2 restarting on a running primary forgets
		// synchronous_standby_names while /sync still names a standby;
		// the charm's launcher (internal/patronistart) resets /sync
		// first. Before it, "synchronous replication enforced again"
		// timed out here and a following kill-machine lost a write.
		{name: "SIGKILL of Patroni on the primary", primary: false,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.signal(t, cl.primary, isPatroni, syscall.SIGKILL) },
			await:   syncNeverUnenforced,
			recover: patroniBack},
		{name: "kill-machine of the primary, then restart-machine", primary: true,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.KillMachine(ctxFor(t), cl.primary)) },
			recover: func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.RestartMachine(ctxFor(t), cl.primary)) }},
		// Patroni 3.0.2 wrote its leader key again after the cut or the
		// thaw (upstream PR #2689): failed every run until the charm's
		// fix (patronistart.SiteCustomize).
		{name: "cut the primary's network, then restore it", primary: true, inside: true,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.Cut(cl.primary)) },
			recover: func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.Restore(cl.primary)) }},
		{name: "freeze the primary's machine until another leads, then thaw it", primary: true, knownBug: freezeAfterCutNoFailover,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.Freeze(cl.primary)) },
			await:   newLeaderElsewhere,
			recover: func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.Thaw(cl.primary)) }},
		{name: "kill-machine of a replica, then restart-machine", primary: false,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.KillMachine(ctxFor(t), cl.replicas[0])) },
			recover: func(t *testing.T, c *chaos, cl roles) { c.must(t, c.m.RestartMachine(ctxFor(t), cl.replicas[0])) }},
		{name: "kill every machine, then restart them all", primary: false,
			inject: func(t *testing.T, c *chaos, cl roles) {
				for _, u := range c.liveUnits() {
					c.must(t, c.m.KillMachine(ctxFor(t), u))
				}
			},
			recover: func(t *testing.T, c *chaos, cl roles) {
				for _, u := range c.liveUnits() {
					c.must(t, c.m.RestartMachine(ctxFor(t), u))
				}
			}},
		{name: "promote-to-primary of a sync replica", primary: true,
			inject: func(t *testing.T, c *chaos, cl roles) {
				members, err := c.cluster(cl.primary)
				c.must(t, err)
				target := ""
				for _, m := range members {
					for _, u := range cl.replicas {
						if m.Role == "sync_standby" && m.Host == c.addr(u) {
							target = u
						}
					}
				}
				if target == "" {
					t.Fatalf("no sync standby among %s in /cluster: %v", cl, members)
				}
				if r := c.action(target, "promote-to-primary", nil); r.Status != "completed" {
					t.Fatalf("promote-to-primary on %s: %s: %s", target, r.Status, r.Message)
				}
			}},
		{name: "remove-unit of the primary, then add-unit", primary: true,
			inject: func(t *testing.T, c *chaos, cl roles) {
				c.must(t, c.m.RemoveUnit(cl.primary))
				c.with(t).waitGone(cl.primary)
				c.setLive(slices.DeleteFunc(c.liveUnits(), func(u string) bool { return u == cl.primary }))
			},
			recover: func(t *testing.T, c *chaos, cl roles) {
				added, err := c.m.AddUnit(app, 1)
				c.must(t, err)
				for _, u := range added {
					c.seen[u] = true
				}
				c.setLive(append(c.liveUnits(), added...))
			}},
		// Last: it fails today (a known bug), and a failure ends the
		// suite.
		{name: "SIGSTOP of Patroni on the primary until another leads, then SIGCONT", primary: true, knownBug: patroniStoppedPrimaryStaysWritable,
			inject:  func(t *testing.T, c *chaos, cl roles) { c.signal(t, cl.primary, isPatroni, syscall.SIGSTOP) },
			await:   newLeaderElsewhere,
			recover: func(t *testing.T, c *chaos, cl roles) { c.signal(t, cl.primary, isPatroni, syscall.SIGCONT) }},
	}
	var report []string
	for _, f := range faults {
		ok := t.Run(f.name, func(t *testing.T) {
			if f.knownBug != "" && os.Getenv("PGJUJU_CHAOS_KNOWN_BUGS") == "" {
				t.Skipf("skipping: known to fail: %s (PGJUJU_CHAOS_KNOWN_BUGS=1 runs it)", f.knownBug)
			}
			report = append(report, c.run(t, f))
		})
		if !ok {
			break // the cluster may be in any state: later faults would prove nothing
		}
	}
	t.Logf("fault | time to the first write elsewhere | longest write gap | acknowledged | lost\n%s", strings.Join(report, "\n"))
}

func setup(t *testing.T, c *chaos) {
	ew := c.with(t)
	if err := c.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 3}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	c.setLive(c.units(app))
	for _, u := range c.liveUnits() {
		c.seen[u] = true
	}
	ew.waitIdle()
	cl := ew.waitRoles(c.liveUnits())
	c.password = ew.password(cl.primary)
	if err := c.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: chaosClient, NumUnits: 1}); err != nil {
		t.Fatalf("deploy %s: %v", chaosClient, err)
	}
	id, err := c.m.Integrate(app+":database", chaosClient+":database")
	if err != nil {
		t.Fatalf("integrate: %v", err)
	}
	c.rel = fmt.Sprintf("database:%d", id)
	ew.waitFor(chaosClient+"/0 connected to the primary", actionPoll, func() error {
		return c.legacyOn(chaosClient+"/0", c.rel, cl.primary)
	})
	c.creds = c.revealCreds(t)
	err = c.asOperator(cl.primary, c.password, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `CREATE TABLE chaos_in (id bigint PRIMARY KEY);
			CREATE TABLE chaos_probe (n bigserial)`)
		return err
	})
	c.must(t, err)
	ew.waitFor("the client's tables", pollInterval, func() error {
		conn, err := c.clientConn(context.Background(), c.liveUnits(), true)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS chaos_out (id bigint PRIMARY KEY);
			CREATE TABLE IF NOT EXISTS chaos_probe (n bigserial)`)
		return err
	})
}

// run injects f while the writers and the sampler run, recovers, checks,
// and returns the fault's line of the report.
func (c *chaos) run(t *testing.T, f fault) string {
	ew := c.with(t)
	cl := ew.waitRoles(c.liveUnits())
	// In synchronous mode only the recorded sync standby may be promoted
	// (Patroni's /sync key): a fault before the primary records one
	// (just after the previous fault) leaves no candidate at all, by
	// design. Start from the steady state.
	ew.waitFor("a sync standby recorded by "+cl.primary, pollInterval, func() error { return c.syncRecorded(cl) })
	t.Logf("before: %s", cl)
	primaryMachine, err := c.m.Machine(cl.primary)
	c.must(t, err)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out := startWriter(ctx, "outside", "chaos_out", func(ctx context.Context) (*pgx.Conn, error) {
		return c.clientConn(ctx, c.liveUnits(), true)
	})
	var in *writer
	if f.inside {
		addr := c.addr(cl.primary)
		in = startWriter(ctx, "inside", "chaos_in", func(ctx context.Context) (*pgx.Conn, error) {
			return c.operatorConn(ctx, primaryMachine.Dial, addr, "postgres")
		})
	}
	s := c.startSampler(ctx, primaryMachine.Dial, c.liveUnits())
	ew.waitFor("the outside writer acknowledging writes", pollInterval, func() error { return out.ackedSince(time.Time{}, 20) })

	injected := time.Now()
	f.inject(t, c, cl)
	t.Logf("injected at %s", injected.Format("15:04:05.000"))
	if f.await != nil {
		f.await(t, c, cl)
	}
	oldHost := net.JoinHostPort(c.addr(cl.primary), strconv.Itoa(pgPort))
	if f.primary {
		// The writes move: another unit acknowledges one.
		ew.waitFor("a write acknowledged by another unit than "+cl.primary, pollInterval, func() error {
			if out.firstAckElsewhere(injected, oldHost).IsZero() {
				return fmt.Errorf("no write acknowledged elsewhere since %s", injected.Format("15:04:05.000"))
			}
			return nil
		})
	}
	if f.recover != nil {
		f.recover(t, c, cl)
	}
	// Statuses follow Patroni through the observer's hooks, a moment
	// later: after a fault that moves the primary, wait until they say so.
	var after roles
	ew.waitFor("statuses with one Primary, the others Replica", pollInterval, func() error {
		var err error
		if after, err = c.rolesOf(c.liveUnits()); err != nil {
			return err
		}
		if f.primary && after.primary == cl.primary {
			return fmt.Errorf("statuses still name %s Primary", cl.primary)
		}
		return nil
	})
	ew.waitFor("every replica streaming from "+after.primary, pollInterval, func() error { return c.streaming(after) })
	ew.waitFor("synchronous replication enforced again on "+after.primary, pollInterval, func() error { return c.syncRecorded(after) })
	recovered := time.Now()
	ew.waitFor("writes acknowledged after recovery", pollInterval, func() error { return out.ackedSince(recovered, 5) })
	stop()
	out.wait()
	if in != nil {
		in.wait()
	}
	s.wait()
	t.Logf("after: %s", after)

	lost := c.missing(t, after.primary, c.creds.Database, "chaos_out", out)
	if in != nil {
		lost += c.missing(t, after.primary, "postgres", "chaos_in", in)
	}
	if most, when := s.most(); most > 1 {
		t.Errorf("%d units took writes in one sample at %s", most, when.Format("15:04:05.000"))
	}
	ew.waitFor(chaosClient+"/0 connected to the primary "+after.primary, actionPoll, func() error {
		return c.legacyOn(chaosClient+"/0", c.rel, after.primary)
	})
	acked := len(out.ids())
	if in != nil {
		acked += len(in.ids())
	}
	first := "-"
	if at := out.firstAckElsewhere(injected, oldHost); !at.IsZero() {
		first = at.Sub(injected).Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("%s | %s | %s | %d | %d", f.name, first, out.longestGap().Round(100*time.Millisecond), acked, lost)
}

// missing counts (and reports) the acknowledged ids absent from table on
// the primary.
func (c *chaos) missing(t *testing.T, primary, database, table string, w *writer) int {
	t.Helper()
	acked := w.ids()
	var present []int64
	err := c.asOperatorOn(primary, database, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, "SELECT id FROM "+table+" WHERE id = ANY($1)", acked)
		if err != nil {
			return err
		}
		present, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	c.must(t, err)
	have := map[int64]bool{}
	for _, id := range present {
		have[id] = true
	}
	var lost []int64
	for _, id := range acked {
		if !have[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		var detail []string
		for _, id := range head(lost, 20) {
			detail = append(detail, w.describe(id))
		}
		t.Errorf("%d of %d acknowledged writes to %s are missing on the primary %s: %s", len(lost), len(acked), table, primary, strings.Join(detail, ", "))
	}
	return len(lost)
}

func head(ids []int64, n int) []int64 {
	if len(ids) > n {
		return ids[:n]
	}
	return ids
}

// syncRecorded is nil when Patroni lists one of r's replicas as its sync
// standby.
func (c *chaos) syncRecorded(r roles) error {
	members, err := c.cluster(r.primary)
	if err != nil {
		return err
	}
	standby := ""
	for _, m := range members {
		if m.Role == "sync_standby" && m.State == "running" {
			standby = m.Name
		}
	}
	if standby == "" {
		return fmt.Errorf("no running sync_standby in /cluster on %s: %v", r.primary, members)
	}
	// And PostgreSQL waits for that one: right after Patroni restarts on
	// the primary, synchronous_standby_names can name another standby
	// than the /sync key Patroni promotes from.
	return c.asOperator(r.primary, c.password, func(ctx context.Context, conn *pgx.Conn) error {
		var names string
		var syncs []string
		if err := conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&names); err != nil {
			return err
		}
		rows, err := conn.Query(ctx, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'")
		if err != nil {
			return err
		}
		if syncs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if !slices.Equal(syncs, []string{standby}) || !strings.Contains(names, standby) {
			return fmt.Errorf("/sync names %s; synchronous_standby_names %q, sync in pg_stat_replication %v", standby, names, syncs)
		}
		return nil
	})
}

// streaming is nil when every replica of r is streaming from r.primary.
func (c *chaos) streaming(r roles) error {
	return c.asOperator(r.primary, c.password, func(ctx context.Context, conn *pgx.Conn) error {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").Scan(&n); err != nil {
			return err
		}
		if n != len(r.replicas) {
			return fmt.Errorf("%d streaming replicas on %s, want %d", n, r.primary, len(r.replicas))
		}
		return nil
	})
}

func (c *chaos) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ---- connections ----

// noCancel makes a cancelled context close the socket instead of sending
// PostgreSQL a cancel request (see the package comment on writers).
func noCancel(cfg *pgx.ConnConfig) {
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
}

// clientConn connects from the client's machine with the relation's
// credentials to units, and with readWrite to whichever is writable.
func (c *chaos) clientConn(ctx context.Context, units []string, readWrite bool) (*pgx.Conn, error) {
	mach, err := c.m.Machine(chaosClient + "/0")
	if err != nil {
		return nil, err
	}
	dsn := "sslmode=disable connect_timeout=3"
	if readWrite {
		dsn += " target_session_attrs=read-write"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password, cfg.Database = c.creds.User, c.creds.Password, c.creds.Database
	var hosts []string
	for _, u := range units {
		hosts = append(hosts, c.addr(u))
	}
	cfg.Host, cfg.Port = hosts[0], pgPort
	cfg.Fallbacks = nil
	for _, h := range hosts[1:] {
		cfg.Fallbacks = append(cfg.Fallbacks, &pgconn.FallbackConfig{Host: h, Port: pgPort})
	}
	cfg.DialFunc = mach.Dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	noCancel(cfg)
	return pgx.ConnectConfig(ctx, cfg)
}

// operatorConn connects as the operator to addr through dial.
func (c *chaos) operatorConn(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), addr, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable connect_timeout=3")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = addr, pgPort, "operator", c.password, database
	cfg.DialFunc = dial
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	noCancel(cfg)
	return pgx.ConnectConfig(ctx, cfg)
}

// asOperatorOn runs f as the operator on unit's PostgreSQL, database.
func (c *chaos) asOperatorOn(unit, database string, f func(context.Context, *pgx.Conn) error) error {
	mach, err := c.m.Machine(unit)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.operatorConn(ctx, mach.Dial, c.addr(unit), database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return f(ctx, conn)
}

// revealCreds reads the client's credentials through its check action.
func (c *chaos) revealCreds(t *testing.T) clientCreds {
	r := c.action(chaosClient+"/0", "check", map[string]any{"relation": c.rel, "reveal-credentials": true})
	s, _ := r.Results["results"].(string)
	var res []struct {
		User, Password, Database string
	}
	if err := json.Unmarshal([]byte(s), &res); err != nil || len(res) != 1 || res[0].Password == "" {
		t.Fatalf("check with reveal-credentials: %s %q %v", r.Status, s, err)
	}
	return clientCreds{User: res[0].User, Password: res[0].Password, Database: res[0].Database}
}

// ---- processes ----

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func parent(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 1 {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func isPatroni(pid int) bool { return strings.Contains(cmdline(pid), "/usr/bin/patroni ") }

// isPostmaster: a postgres server process whose parent is not one.
func isPostmaster(pid int) bool {
	server := func(p int) bool { return strings.HasPrefix(cmdline(p), "/usr/lib/postgresql/") }
	return server(pid) && !server(parent(pid))
}

// signal sends sig to the one process of unit's machine that is.
func (c *chaos) signal(t *testing.T, unit string, is func(int) bool, sig syscall.Signal) {
	t.Helper()
	mach, err := c.m.Machine(unit)
	c.must(t, err)
	pids, err := mach.Pids()
	c.must(t, err)
	var found []int
	for _, p := range pids {
		if is(p) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d matching processes on %s's machine (%v), want 1", len(found), unit, found)
	}
	c.must(t, syscall.Kill(found[0], sig))
	t.Logf("%s sent to %d (%s)", sig, found[0], cmdline(found[0]))
}

// ---- the writer ----

type writer struct {
	name, table string
	connect     func(context.Context) (*pgx.Conn, error)

	mu     sync.Mutex
	acked  []int64
	times  []time.Time
	hosts  []string // the server that acknowledged each
	maxGap time.Duration
	done   chan struct{}
}

func startWriter(ctx context.Context, name, table string, connect func(context.Context) (*pgx.Conn, error)) *writer {
	w := &writer{name: name, table: table, connect: connect, done: make(chan struct{})}
	go w.loop(ctx)
	return w
}

func (w *writer) loop(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(writeEvery)
	defer tick.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	// Ids start from the wall clock so that runs of the suite's faults
	// never reuse one.
	id := time.Now().UnixMicro()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c, err := w.connect(cctx)
			cancel()
			if err != nil {
				continue
			}
			conn = c
		}
		id++
		// A primary cut off the network never answers: after
		// statementBound the socket is closed (nothing acknowledged,
		// no cancel request) and the writer reconnects.
		sctx, cancel := context.WithTimeout(ctx, statementBound)
		_, err := conn.Exec(sctx, "INSERT INTO "+w.table+" (id) VALUES ($1)", id)
		cancel()
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			continue
		}
		w.ack(id, conn.PgConn().Conn().RemoteAddr().String())
	}
}

func (w *writer) ack(id int64, host string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.hosts = append(w.hosts, host)
	if n := len(w.times); n > 0 && now.Sub(w.times[n-1]) > w.maxGap {
		w.maxGap = now.Sub(w.times[n-1])
	}
	w.acked = append(w.acked, id)
	w.times = append(w.times, now)
}

func (w *writer) wait() { <-w.done }

// describe says who acknowledged id, and when.
func (w *writer) describe(id int64) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.acked, id); i >= 0 {
		return fmt.Sprintf("%d (acknowledged by %s at %s)", id, w.hosts[i], w.times[i].Format("15:04:05.000"))
	}
	return strconv.FormatInt(id, 10)
}

func (w *writer) ids() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

func (w *writer) longestGap() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxGap
}

// ackedSince is nil once n writes were acknowledged after since.
func (w *writer) ackedSince(since time.Time, n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.times, since, func(a, b time.Time) int { return a.Compare(b) })
	if got := len(w.times) - i; got < n {
		return fmt.Errorf("the %s writer has %d acknowledged writes since %s, want %d", w.name, got, since.Format("15:04:05.000"), n)
	}
	return nil
}

// firstAckElsewhere is when a server other than old (host:port) first
// acknowledged a write after since; zero if none did.
func (w *writer) firstAckElsewhere(since time.Time, old string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.times, since, func(a, b time.Time) int { return a.Compare(b) })
	for ; i < len(w.times); i++ {
		if w.hosts[i] != old {
			return w.times[i]
		}
	}
	return time.Time{}
}

// ---- the sampler ----

// prober keeps one connection to one unit from one machine.
type prober struct {
	connect func(context.Context) (*pgx.Conn, error)
	conn    *pgx.Conn
	busy    bool
}

type sampler struct {
	mu       sync.Mutex
	maxUnits int
	maxAt    time.Time
	done     chan struct{}
}

// startSampler probes units every sampleEvery from the client's machine
// (relation credentials) and through insideDial (the operator).
func (c *chaos) startSampler(ctx context.Context, insideDial func(context.Context, string, string) (net.Conn, error), units []string) *sampler {
	s := &sampler{done: make(chan struct{})}
	probers := map[string][]*prober{}
	for _, u := range units {
		addr := c.addr(u)
		probers[u] = []*prober{
			{connect: func(ctx context.Context) (*pgx.Conn, error) { return c.clientConn(ctx, []string{u}, false) }},
			{connect: func(ctx context.Context) (*pgx.Conn, error) { return c.operatorConn(ctx, insideDial, addr, "postgres") }},
		}
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				for _, ps := range probers {
					for _, p := range ps {
						if p.conn != nil && !p.busy {
							p.conn.Close(context.Background())
						}
					}
				}
				return
			case <-tick.C:
			}
			s.sample(ctx, probers)
		}
	}()
	return s
}

// sample asks every unit, through each of its probers, to acknowledge a
// write within probeBudget, and counts the units that did.
func (s *sampler) sample(ctx context.Context, probers map[string][]*prober) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[string]bool{}
	for u, ps := range probers {
		for _, p := range ps {
			if p.busy {
				continue // still stuck in an earlier probe: not accepting
			}
			p.busy = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, probeBudget)
				defer cancel()
				ok := p.probe(pctx)
				p.busy = false
				if ok {
					mu.Lock()
					accepted[u] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(accepted) > s.maxUnits {
		s.maxUnits, s.maxAt = len(accepted), time.Now()
	}
}

// probe is true when a write committed within ctx's deadline; a probe
// past it closes the connection (nothing acknowledged).
func (p *prober) probe(ctx context.Context) bool {
	if p.conn == nil {
		c, err := p.connect(ctx)
		if err != nil {
			return false
		}
		p.conn = c
	}
	if _, err := p.conn.Exec(ctx, "INSERT INTO chaos_probe DEFAULT VALUES"); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || p.conn.IsClosed() {
			// No answer in time, or the connection broke.
			p.conn.Close(context.Background())
			p.conn = nil
		}
		return false
	}
	return true
}

func (s *sampler) wait() { <-s.done }

func (s *sampler) most() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxUnits, s.maxAt
}
