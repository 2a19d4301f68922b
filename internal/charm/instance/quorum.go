package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/etcd"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// quorumProbe bounds the health read that tells a lost quorum from a
// cluster that still answers: a member with its quorum answers a
// linearizable read within milliseconds.
const quorumProbe = 5 * time.Second

// EtcdMembership applies the leader's change; when it says the quorum may
// be lost (cluster.Change.QuorumLost) and etcd does not answer a
// linearizable read, it rebuilds a one-member etcd from this unit's data
// instead (RecoverQuorum), and the record is this unit alone.
//
// A removal while etcd has no quorum and the units left are still a
// majority as Juju lists them (the other lost units' departures have not
// run yet, or their machines are down but not removed) cannot be applied
// and must not fail the hook, which would hold back those departures:
// it returns *cluster.NoQuorumError, and the record stays as it is.
func (s *System) EtcdMembership(ctx context.Context, cfg pgconf.UnitConfig, ch cluster.Change) (map[string]cluster.Member, error) {
	removes := ch.Removes()
	if len(removes) == 0 {
		return s.Etcd.EtcdMembership(ctx, cfg, ch)
	}
	if s.etcdHealthy(ctx, cfg) {
		return s.Etcd.EtcdMembership(ctx, cfg, ch)
	}
	if ch.QuorumLost {
		return s.RecoverQuorum(ctx, cfg)
	}
	return nil, &cluster.NoQuorumError{Removed: removes}
}

func (s *System) etcdHealthy(ctx context.Context, cfg pgconf.UnitConfig) bool {
	c, err := cluster.Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)},
		Username: pgconf.EtcdRootUser, Password: cfg.Passwords.Etcd, DialTimeout: 2 * time.Second})
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, quorumProbe)
	defer cancel()
	return c.Healthy(ctx) == nil
}

// RecoverQuorum makes this unit's etcd a one-member cluster that keeps its
// data (etcd's force-new-cluster, for one start), then restarts it
// normally, and returns the record of that cluster. Patroni finds its keys
// where they were: the dead primary's leader key expires with its lease,
// and this unit's Patroni promotes it if /sync allows (a sync standby; an
// async one waits for promote-to-primary force=true, as any failover
// would).
func (s *System) RecoverQuorum(ctx context.Context, cfg pgconf.UnitConfig) (map[string]cluster.Member, error) {
	self := pgconf.Member{Unit: cfg.Unit, Address: cfg.Address}
	one := cfg
	one.EtcdInitial, one.EtcdVoters = []pgconf.Member{self}, []pgconf.Member{self}
	m := s.manager(cfg.Layout)
	name := pgconf.ServiceName(cfg.Unit, "etcd")
	for _, force := range []bool{true, false} {
		one.EtcdForceNewCluster = force
		if _, err := s.WriteFiles(ctx, one); err != nil {
			return nil, err
		}
		if err := m.Restart(ctx, name); err != nil {
			return nil, fmt.Errorf("restarting etcd (force-new-cluster %v): %w", force, err)
		}
		if err := s.waitEtcdAlone(ctx, one); err != nil {
			return nil, fmt.Errorf("etcd after force-new-cluster %v: %w", force, err)
		}
	}
	// Patroni's etcd client kept a view of the old cluster (its watch
	// may hang on a member without quorum, whose serializable reads
	// still answer with the dead leader's key): a restart makes it read
	// the rebuilt cluster through the hosts just written (this unit).
	// This unit is a replica until Patroni promotes it, so the restart
	// costs a moment of its PostgreSQL only.
	if err := m.Restart(ctx, pgconf.ServiceName(cfg.Unit, "patroni")); err != nil {
		return nil, fmt.Errorf("restarting Patroni on the rebuilt etcd: %w", err)
	}
	return map[string]cluster.Member{cfg.Unit: {Address: cfg.Address, Voter: true}}, nil
}

// waitEtcdAlone waits until the unit's etcd answers a linearizable read
// and lists itself as its only member.
func (s *System) waitEtcdAlone(ctx context.Context, cfg pgconf.UnitConfig) error {
	c, err := cluster.Connect(cfg, etcd.Config{Endpoints: []string{cfg.ClientURL(cfg.Address)},
		Username: pgconf.EtcdRootUser, Password: cfg.Passwords.Etcd})
	if err != nil {
		return err
	}
	defer c.Close()
	var last error
	if clock.Poll(ctx, clock.Or(s.Clock), time.Minute, 500*time.Millisecond, func() bool {
		members, err := c.Members(ctx)
		if err != nil {
			last = err
			return false
		}
		if len(members) != 1 {
			last = fmt.Errorf("%d members", len(members))
			return false
		}
		last = c.Healthy(ctx)
		return last == nil
	}) {
		return nil
	}
	return fmt.Errorf("not alone and healthy within a minute: %v", last)
}

// ResetEtcd stops the unit's etcd and empties its data directory (kept,
// with its owner and mode): after a quorum recovery on the leader, this
// unit's etcd data belongs to a cluster that no longer exists, and it
// joins the rebuilt one as a new member.
func (s *System) ResetEtcd(ctx context.Context, model string, cfg pgconf.UnitConfig) error {
	m := s.manager(cfg.Layout)
	if _, err := m.Stop(ctx, pgconf.ServiceName(cfg.Unit, "etcd")); err != nil {
		return fmt.Errorf("stopping etcd: %w", err)
	}
	entries, err := os.ReadDir(cfg.Layout.EtcdDataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(cfg.Layout.EtcdDataDir, e.Name())); err != nil {
			return fmt.Errorf("emptying etcd's data: %w", err)
		}
	}
	// As on the leader (RecoverQuorum): Patroni reads the rebuilt
	// cluster afresh. This unit is a replica.
	if err := m.Restart(ctx, pgconf.ServiceName(cfg.Unit, "patroni")); err != nil && !errors.Is(err, service.ErrNotInstalled) {
		return fmt.Errorf("restarting Patroni: %w", err)
	}
	return nil
}
