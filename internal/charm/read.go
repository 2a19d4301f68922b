package charm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/backups"
	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/cluster"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/observer"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// snapshot reads everything Decide needs, once per round: the machine,
// the unit's state, the peers (with the credentials) and the client
// relations. It writes nothing.
func (c *Charm) snapshot(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides) (Snapshot, error) {
	s := Snapshot{Model: h.Env.ModelUUID, Unit: m.Unit(), App: m.App()}
	var err error
	if s.Leader, err = m.IsLeader(ctx); err != nil {
		return s, err
	}
	if exe, err := os.Executable(); err == nil {
		s.CharmBinary = exe
	} else {
		s.CharmBinary = filepath.Join(h.Env.CharmDir, "dispatch")
	}
	s.JujuExec = observer.FindJujuExec()
	cfg, err := m.Config(ctx)
	if err != nil {
		return s, err
	}
	s.Options = instance.OptionsFromConfig(cfg)
	s.Sync = cluster.SyncOptionsFromConfig(cfg)
	s.MissingPackages = c.Workload.MissingPackages(ctx)
	if len(s.MissingPackages) > 0 {
		return s, nil
	}
	state, err := c.readMachine(ctx, h, m, &s)
	if err != nil {
		return s, err
	}
	if ov.DatabaseStopped != nil {
		s.DatabaseStopped = *ov.DatabaseStopped
	}
	if err := c.readPeers(ctx, h, m, ov, state, &s); err != nil {
		return s, err
	}
	if err := c.readClients(ctx, h, m, &s); err != nil {
		return s, fmt.Errorf("reading client relations: %w", err)
	}
	path, _ := cfg.String(backups.PathOption)
	marks := s.Backups.Marks
	if s.peers != nil {
		marks.PeerUnits = s.peers.Units
	}
	s.Backups = backups.Read(path, s.App, s.Model, s.peerApp, state, marks)
	if ov.BackupStanza != "" {
		s.Backups.Stanza = ov.BackupStanza
	}
	if n, ok, _ := cfg.Int(backups.IOTimeoutOption); ok && n > 0 {
		s.Backups.IOTimeout = n
	}
	s.Backups.Schedule, _ = cfg.String(backups.ScheduleOption)
	s.Backups.Schedule = strings.TrimSpace(s.Backups.Schedule)
	s.Backups.RetentionFull, _, _ = cfg.Int(backups.RetentionFullOption)
	s.Backups.RetentionDiff, _, _ = cfg.Int(backups.RetentionDiffOption)
	if err := readS3(ctx, m, &s.Backups); err != nil {
		return s, fmt.Errorf("reading the %s relation: %w", backups.S3Endpoint, err)
	}
	return s, nil
}

// readS3 reads the s3-parameters relation (limit 1): its id and the
// provider's application databag, whose secret-looking values (access-key,
// secret-key) the model registers with the log redactor as it reads them.
func readS3(ctx context.Context, m *model.Model, f *backups.Facts) error {
	if !m.Meta().HasEndpoint(backups.S3Endpoint) {
		return nil
	}
	rels, err := m.Relations(ctx, backups.S3Endpoint)
	if err != nil || len(rels) == 0 {
		return err
	}
	r := rels[0]
	f.S3Relation, f.S3Data = r.ID, map[string]string{}
	bag, err := r.RemoteAppData(ctx)
	if err != nil {
		return err
	}
	if d := bag.Map(); d != nil {
		f.S3Data = d
	}
	return nil
}

// readMachine reads the installed server, the storage, the address and
// the unit's state, and has the server check changed extra_pg_conf
// values; it returns the unit's state.
func (c *Charm) readMachine(ctx context.Context, h *juju.Hook, m *model.Model, s *Snapshot) (map[keys.State]string, error) {
	var err error
	s.PGVersion = c.Workload.PGVersion()
	if s.Catalogue, err = c.Workload.Catalogue(ctx, s.PGVersion); err != nil {
		return nil, err
	}
	s.MemBytes = c.Workload.MemBytes()
	if loc, err := m.StorageLocation(ctx, "pgdata"); err == nil {
		s.Storage = loc
	} else if !errors.Is(err, juju.ErrNotFound) {
		return nil, err
	}
	if s.Address, err = unitAddress(ctx, h.Backend); err != nil {
		h.Log.Warn("reading unit address", "err", err)
	}
	raw, err := h.Backend.StateGet(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading unit state: %w", err)
	}
	state := keys.Typed[keys.State](raw)
	readState(h, state, s)
	// The server checks extra_pg_conf's values before they are applied
	// (a value it refuses would stop it at the next restart); a steady
	// pass, with nothing changed, runs no check.
	if params := instance.ParametersToCheck(s.Options.ExtraPgConf, s.Catalogue, s.Applied); len(params) > 0 {
		var pe *instance.ParameterError
		if err := c.Workload.CheckParameters(ctx, s.PGVersion, params); errors.As(err, &pe) {
			s.ParameterProblem = pe.Message
		} else if err != nil {
			return nil, fmt.Errorf("checking extra_pg_conf: %w", err)
		}
	}
	if len(s.Applied) == 0 {
		// Only initdb uses the locale: read the machine's before the
		// first bootstrap. Not knowing them leaves the check to initdb.
		if s.Locales, err = c.Workload.Locales(ctx); err != nil {
			h.Log.Warn("listing locales", "err", err)
			s.Locales = nil
		}
	}
	return state, nil
}

// readState fills the snapshot from the unit's state.
func readState(h *juju.Hook, state map[keys.State]string, s *Snapshot) {
	s.workloadVersion = state[instance.VersionKey]
	clients.ReadState(h.Log, state, &s.Clients)
	instance.ReadState(h.Log, state, &s.Facts)
	s.EtcdAuthEnabled = state[etcdAuthKey] != ""
	s.EtcdStartedPublished = state[cluster.EtcdStartedStateKey] != ""
	s.UnitEtcdEpoch, _ = strconv.Atoi(state[cluster.EtcdEpochStateKey])
	s.publishedRole = state[cluster.RoleStateKey]
	s.DatabaseStopped = state[cluster.DatabaseStoppedKey] != ""
	// A unit leaves the cluster in its own peer -relation-departed hook
	// (remove-unit), and stays out for the rest of its teardown.
	s.Departing = state[cluster.LeavingKey] != "" || (h.Event.Kind == juju.KindRelationDeparted &&
		h.Event.Endpoint == PeerEndpoint && h.Env.DepartingUnit == h.Env.UnitName)
	s.leaderDownSince, _ = time.Parse(time.RFC3339, state[leaderDownKey])
}

// readPeers reads the peer relation and its databags, once for the whole
// snapshot, and the credentials kept there.
func (c *Charm) readPeers(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides, state map[keys.State]string, s *Snapshot) error {
	var err error
	if s.peers, err = m.PeerRelation(ctx, PeerEndpoint); err != nil {
		return err
	}
	s.peerApp = map[string]string{}
	if s.peers != nil {
		bag, err := s.peers.LocalAppData(ctx)
		if err != nil {
			return err
		}
		if app := bag.Map(); app != nil {
			s.peerApp = app
		}
	}
	if err := c.readPasswords(ctx, h, m, ov, s); err != nil {
		return err
	}
	if s.peers == nil {
		return nil
	}
	s.PeerRelation = true
	s.EtcdMembers = cluster.ParseMembers(s.peerApp[string(cluster.MembersKey)])
	s.EtcdEpoch, _ = strconv.Atoi(s.peerApp[string(cluster.EtcdEpochKey)])
	for _, u := range s.peers.Units {
		bag, err := s.peers.UnitData(ctx, u)
		if err != nil {
			continue
		}
		readPeerUnit(u, bag.Map(), s)
	}
	// The address is published once; unit state remembers it, so a
	// steady pass reads and writes nothing.
	s.publishAddress = s.Address.IsValid() && state[instance.PublishedAddressKey] != s.Address.String()
	return nil
}

// readPeerUnit fills the snapshot from one peer's unit databag.
func readPeerUnit(u string, bag map[string]string, s *Snapshot) {
	if a, err := netip.ParseAddr(bag[string(instance.AddressKey)]); err == nil {
		s.Peers = append(s.Peers, pgconf.Member{Unit: u, Address: a})
	}
	clients.ReadPeerUnit(u, bag, &s.Clients)
	backups.ReadPeerUnit(u, bag, &s.Backups.Marks)
	if bag[string(cluster.EtcdStartedKey)] != "" {
		if s.PeerEtcdStarted == nil {
			s.PeerEtcdStarted = map[string]bool{}
		}
		s.PeerEtcdStarted[u] = true
	}
}

// unitAddress is the unit's ingress address on the peer binding, falling
// back to unit-get private-address.
func unitAddress(ctx context.Context, b juju.Backend) (netip.Addr, error) {
	if ni, err := b.NetworkGet(ctx, PeerEndpoint, ""); err == nil {
		for _, s := range []string{ni.BindAddress(), ni.IngressAddress()} {
			if a, err := netip.ParseAddr(s); err == nil {
				return a, nil
			}
		}
	}
	s, err := b.UnitGet(ctx, "private-address")
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(s)
}
