package instance

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
	"github.com/pgjuju/pgjuju/internal/service"
)

func (s *System) manager(l pgconf.Layout) service.Manager {
	return service.New(l.RunDir, s.Self)
}

func etcdSpec(cfg pgconf.UnitConfig) service.Spec {
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "etcd"), Description: "etcd for " + cfg.Unit,
		Exec: []string{"/usr/bin/etcd", "--config-file", cfg.Layout.EtcdConfigPath()},
		// Its own unprivileged user (Debian's etcd-server package makes
		// it), which owns only its data directory and reads its config
		// through the etcd group: etcd's data is not root's to trust.
		User:    "etcd",
		LogFile: filepath.Join(cfg.Layout.LogDir, "etcd.log"), StopTimeout: 30 * time.Second,
	}
}

// patroniBinary is Debian's Patroni.
const patroniBinary = "/usr/bin/patroni"

// patroniSpec runs Patroni as postgres, through launcher when given
// (package patronistart: it starts as root and becomes postgres itself).
func patroniSpec(cfg pgconf.UnitConfig, launcher []string) service.Spec {
	const user = "postgres"
	exec := []string{patroniBinary, cfg.Layout.PatroniConfigPath()}
	if len(launcher) > 0 {
		exec = append(append(slices.Clone(launcher), user), exec...)
	}
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "patroni"), Description: "Patroni for " + cfg.Unit,
		Exec: exec, User: user, SwitchesUser: len(launcher) > 0,
		// Python imports the charm's fix of Patroni 3.0.2 from there
		// (patronistart.SiteCustomize).
		Env:     []string{"PYTHONPATH=" + cfg.Layout.PatroniPythonDir()},
		LogFile: filepath.Join(cfg.Layout.LogDir, "patroni.log"), KillMode: "process",
	}
}

func (s *System) start(ctx context.Context, l pgconf.Layout, spec service.Spec) (bool, error) {
	m := s.manager(l)
	c1, err := m.Install(ctx, spec)
	if err != nil {
		return false, err
	}
	c2, err := m.Start(ctx, spec.Name)
	return c1 || c2, err
}

// StartEtcd installs and starts the unit's etcd and waits until it answers.
func (s *System) StartEtcd(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	changed, err := s.start(ctx, cfg.Layout, etcdSpec(cfg))
	if err != nil {
		return changed, err
	}
	// Without credentials: MemberList answers before and after auth is
	// enabled, so readiness does not depend on the auth step.
	c, err := cluster.Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)}})
	if err != nil {
		return changed, err
	}
	defer c.Close()
	return changed, etcd.WaitAnswering(ctx, clock.Or(s.Clock), c, 30*time.Second)
}

// StartPatroni installs and starts the unit's Patroni.
func (s *System) StartPatroni(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	return s.start(ctx, cfg.Layout, patroniSpec(cfg, s.PatroniLauncher))
}

func (s *System) unitManager(model, unit string) (service.Manager, pgconf.Layout) {
	l := pgconf.DefaultLayout(model, unit, "")
	return s.manager(l), l
}

// StartObserver installs and starts the unit's role observer, and
// restarts a running one whose spec changed: a daemon reads its spec when
// it starts, and after an upgrade the observer's arguments can differ
// (Patroni's REST API moved to TLS). It holds no state a restart loses.
func (s *System) StartObserver(ctx context.Context, cfg pgconf.UnitConfig, charmBinary, jujuExec string) (bool, error) {
	spec := observer.Spec(cfg, charmBinary, jujuExec)
	m := s.manager(cfg.Layout)
	installed, err := m.Install(ctx, spec)
	if err != nil {
		return false, err
	}
	if st, err := m.Status(ctx, spec.Name); installed && err == nil && st.Running {
		return true, m.Restart(ctx, spec.Name)
	}
	started, err := m.Start(ctx, spec.Name)
	return installed || started, err
}

// stopOrder is the order the unit's services stop in: the role observer,
// Patroni (which stops PostgreSQL), then etcd, which Patroni needs.
var stopOrder = []string{"observer", "patroni", "etcd"}

// eachService runs f on the unit's services in stopOrder, stopping at the
// first failure; changed when any changed.
func (s *System) eachService(model, unit string, f func(service.Manager, string) (bool, error)) (bool, error) {
	m, _ := s.unitManager(model, unit)
	changed := false
	for _, name := range stopOrder {
		c, err := f(m, pgconf.ServiceName(unit, name))
		changed = changed || c
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// StopServices stops the unit's services in stopOrder.
func (s *System) StopServices(ctx context.Context, model, unit string) (bool, error) {
	return s.eachService(model, unit, func(m service.Manager, name string) (bool, error) { return m.Stop(ctx, name) })
}

// RemoveServices stops and removes the unit's services; the data stays.
func (s *System) RemoveServices(ctx context.Context, model, unit string) (bool, error) {
	return s.eachService(model, unit, func(m service.Manager, name string) (bool, error) { return m.Remove(ctx, name) })
}

// StopPatroni stops the unit's Patroni, which stops its PostgreSQL
// (stop-database); etcd and the observer keep running, so the cluster
// keeps its quorum.
func (s *System) StopPatroni(ctx context.Context, model, unit string) (bool, error) {
	m, _ := s.unitManager(model, unit)
	return m.Stop(ctx, pgconf.ServiceName(unit, "patroni"))
}

// RestartPatroniService restarts the Patroni daemon itself (not PostgreSQL).
func (s *System) RestartPatroniService(ctx context.Context, model, unit string) error {
	m, _ := s.unitManager(model, unit)
	return m.Restart(ctx, pgconf.ServiceName(unit, "patroni"))
}

// ReloadPatroniService sends SIGHUP to the Patroni daemon (the supervisor's
// child, or systemd's main process), which Patroni takes as a reload.
func (s *System) ReloadPatroniService(ctx context.Context, model, unit string) error {
	m, _ := s.unitManager(model, unit)
	st, err := m.Status(ctx, pgconf.ServiceName(unit, "patroni"))
	if err != nil {
		return err
	}
	if !st.Running || st.ChildPid <= 0 {
		return fmt.Errorf("reloading Patroni: it is not running")
	}
	if err := syscall.Kill(st.ChildPid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reloading Patroni: %w", err)
	}
	return nil
}

// LeaveCluster implements Services: on a unit being removed, it hands the
// primary role to another member (cluster.HandOver) and stops Patroni,
// which stops PostgreSQL, and leaves etcd while its member still runs
// (cluster.LeaveEtcd). etcd itself keeps running until the stop hook.
func (s *System) LeaveCluster(ctx context.Context, model string, cfg pgconf.UnitConfig) (bool, error) {
	if cfg.Address.IsValid() && cfg.Passwords.PatroniAPI != "" {
		cluster.HandOver(ctx, s.Clock, s.Patroni(cfg), pgconf.UnitSlug(cfg.Unit))
	}
	m, _ := s.unitManager(model, cfg.Unit)
	changed, err := m.Stop(ctx, pgconf.ServiceName(cfg.Unit, "patroni"))
	if err != nil {
		return changed, err
	}
	if cfg.Address.IsValid() && cfg.Passwords.Etcd != "" {
		cluster.LeaveEtcd(ctx, cfg, os.Stderr)
	}
	return changed, nil
}

// SetSystemRolePassword implements Server.
func (s *System) SetSystemRolePassword(ctx context.Context, primary postgres.Target, user string, attrs []postgres.RoleAttr, password string) error {
	conn, err := primary.Connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = postgres.EnsureUser(ctx, conn, user, password, attrs...)
	return err
}

// Patroni returns a client of the unit's Patroni REST API, over TLS with
// the charm's client certificate when the API has TLS (patroniTransport);
// its At copies reach the other members with the same credentials.
func (s *System) Patroni(cfg pgconf.UnitConfig) *patroni.Client {
	return &patroni.Client{
		BaseURL:  cfg.PatroniURL(),
		Username: pgconf.PatroniAPIUser, Password: cfg.Passwords.PatroniAPI,
		HTTP: &http.Client{Timeout: 5 * time.Second, Transport: patroniTransport(cfg)},
	}
}
