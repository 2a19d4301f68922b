package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

// EtcdEffects are the cluster's effects on etcd; Etcd is the real one,
// harness tests use a fake.
type EtcdEffects interface {
	// EnsureEtcdAuth enables etcd authentication with the root password.
	EnsureEtcdAuth(ctx context.Context, cfg pgconf.UnitConfig) (bool, error)
	// EtcdMembership applies the leader's change and returns the record
	// to keep.
	EtcdMembership(ctx context.Context, cfg pgconf.UnitConfig, c Change) (map[string]Member, error)
	// CheckEtcdRoot logs in to the unit's etcd as root with
	// cfg.Passwords.Etcd.
	CheckEtcdRoot(ctx context.Context, cfg pgconf.UnitConfig) error
	// SetEtcdRootPassword changes etcd's root password, logged in with
	// cfg.Passwords.Etcd.
	SetEtcdRootPassword(ctx context.Context, cfg pgconf.UnitConfig, password string) error
}

// Etcd is the real EtcdEffects.
type Etcd struct {
	// Clock times the retries; nil is the wall clock.
	Clock clock.Clock
}

func etcdRoot(cfg pgconf.UnitConfig) (*etcd.Client, error) {
	return Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)},
		Username: pgconf.EtcdRootUser, Password: cfg.Passwords.Etcd})
}

// Connect connects the charm to the unit's etcd cluster with ec: over TLS
// with the charm's own client certificate (pgconf's CharmEtcdCertPath,
// which the unit's files hold) when the cluster has a CA.
func Connect(cfg pgconf.UnitConfig, ec etcd.Config) (*etcd.Client, error) {
	if cfg.EtcdTLS() {
		var p pki.Pair
		var err error
		if p.CertPEM, err = safefile.ReadTrusted(cfg.Layout.CharmEtcdCertPath()); err != nil {
			return nil, fmt.Errorf("the charm's etcd client certificate: %w", err)
		}
		if p.KeyPEM, err = safefile.ReadTrusted(cfg.Layout.CharmEtcdKeyPath()); err != nil {
			return nil, fmt.Errorf("the charm's etcd client key: %w", err)
		}
		if ec.TLS, err = pki.ClientTLS(cfg.CA.CertPEM, p); err != nil {
			return nil, err
		}
	}
	return etcd.Connect(ec)
}

// EnsureEtcdAuth implements EtcdEffects.
func (Etcd) EnsureEtcdAuth(ctx context.Context, cfg pgconf.UnitConfig) (bool, error) {
	c, err := Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)}})
	if err != nil {
		return false, err
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return c.EnsureAuth(cctx, cfg.Passwords.Etcd)
}

// asRoot runs f on the unit's etcd, logged in as root with
// cfg.Passwords.Etcd, within 10 s.
func asRoot(ctx context.Context, cfg pgconf.UnitConfig, f func(context.Context, *etcd.Client) error) error {
	c, err := etcdRoot(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return f(ctx, c)
}

// CheckEtcdRoot implements EtcdEffects.
func (Etcd) CheckEtcdRoot(ctx context.Context, cfg pgconf.UnitConfig) error {
	return asRoot(ctx, cfg, func(ctx context.Context, c *etcd.Client) error { return c.Healthy(ctx) })
}

// SetEtcdRootPassword implements EtcdEffects.
func (Etcd) SetEtcdRootPassword(ctx context.Context, cfg pgconf.UnitConfig, password string) error {
	return asRoot(ctx, cfg, func(ctx context.Context, c *etcd.Client) error { return c.UpdateRootPassword(ctx, password) })
}

// EtcdMembership implements EtcdEffects: it applies the leader's actions
// to etcd (as root, through the voters: this unit may be a learner,
// leadership having moved, or not a member yet, and a learner serves no
// membership request) and returns the record as it stands afterwards: a
// learner that has not caught up within a short wait stays a learner, to
// be promoted by a later hook.
func (e Etcd) EtcdMembership(ctx context.Context, cfg pgconf.UnitConfig, ch Change) (map[string]Member, error) {
	endpoints := []string{cfg.ClientURL(cfg.Address)}
	if len(cfg.EtcdVoters) > 0 {
		endpoints = nil
		for _, v := range cfg.EtcdVoters {
			endpoints = append(endpoints, cfg.ClientURL(v.Address))
		}
	}
	c, err := Connect(cfg, etcd.Config{Endpoints: endpoints, Username: pgconf.EtcdRootUser, Password: cfg.Passwords.Etcd})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	out := maps.Clone(ch.Members)
	for _, u := range slices.Sorted(maps.Keys(ch.Actions)) {
		if err := e.applyAction(ctx, c, cfg, u, ch.Actions[u], out); err != nil {
			return nil, fmt.Errorf("etcd member %s (%s): %w", u, ch.Actions[u], err)
		}
	}
	return out, nil
}

// applyAction applies one member's action and updates the record.
func (e Etcd) applyAction(ctx context.Context, c *etcd.Client, cfg pgconf.UnitConfig, u string, a Action, record map[string]Member) error {
	clk := clock.Or(e.Clock)
	peerURL := cfg.PeerURL(record[u].Address)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch a {
	case Add:
		return etcd.RetryTransient(ctx, clk, func() error { _, err := c.EnsureLearner(ctx, peerURL); return err })
	case Promote:
		err := etcd.PromoteWhenReady(ctx, clk, c, peerURL)
		m := record[u]
		m.Voter = err == nil
		record[u] = m
		if errors.Is(err, etcd.ErrLearnerNotReady) {
			return nil // still a learner: a later hook promotes it
		}
		return err
	case Remove:
		delete(record, u)
		return etcd.RetryTransient(ctx, clk, func() error { _, err := c.EnsureMemberRemoved(ctx, peerURL); return err })
	}
	return fmt.Errorf("unknown membership action %q", a)
}

// DecideHandover says whether a unit leaving the cluster must first hand
// the primary role over with a switchover (which loses no committed
// transaction, unlike stopping the primary): it leads, and another member
// could take over. Pure.
func DecideHandover(cl patroni.Cluster, member string) bool {
	leader, ok := cl.Leader()
	return ok && leader.Name == member && len(cl.Members) > 1
}

// HandOver switches the primary role away from member when DecideHandover
// says so, and waits (up to a minute) until another member leads.
func HandOver(ctx context.Context, clk clock.Clock, api *patroni.Client, member string) {
	cl, err := api.Cluster(ctx)
	if err != nil || !DecideHandover(cl, member) {
		return
	}
	if err := api.Switchover(ctx, member, ""); err == nil {
		patroni.WaitNotLeader(ctx, clock.Or(clk), api, member, 60*time.Second)
	}
}

// LeaveEtcd removes this unit's member from etcd while it still runs:
// were it stopped first (the stop hook) the remaining members could lack
// the majority to remove it (two voters, one down). The last member
// cannot be removed; nothing is lost then, and the failure is only
// reported to log.
func LeaveEtcd(ctx context.Context, cfg pgconf.UnitConfig, log io.Writer) {
	c, err := etcdRoot(cfg)
	if err != nil {
		return
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.EnsureMemberRemoved(cctx, cfg.PeerURL(cfg.Address)); err != nil {
		fmt.Fprintf(log, "leaving etcd: %v\n", err)
	}
}
