package charm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/clients"
	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// The charm's glue to the client slice (internal/charm/clients).

func (c *Charm) clientDB() clients.Database {
	if c.ClientDB != nil {
		return c.ClientDB
	}
	return clients.Postgres{Clock: c.Clock}
}

// clientUnit is this unit as the client slice sees it.
func (s Snapshot) clientUnit() clients.Unit {
	u := clients.Unit{Name: s.Unit, Address: s.Address, Leader: s.Leader, Port: s.Port(),
		Socket: pgconf.DefaultLayout(s.Model, s.Unit, "").SocketDir, Peers: s.Peers, SecretsAvailable: s.SecretsAvailable}
	if s.Passwords != nil {
		u.Operator = s.Passwords.Operator
	}
	return u
}

// readClients fills the snapshot's client part: the relations, records
// and passwords, and, when PostgreSQL answers, the server's facts.
func (c *Charm) readClients(ctx context.Context, h *juju.Hook, m *model.Model, s *Snapshot) error {
	var peerApp map[string]string
	if s.peers != nil {
		peerApp = s.peerApp
	}
	var err error
	if s.clientRels, err = clients.Read(ctx, h, m, s.clientUnit(), peerApp, s.vault, &s.Clients); err != nil {
		return err
	}
	c.readServerFacts(ctx, h, s)
	return nil
}

// readServerFacts asks Patroni and PostgreSQL, when the unit is
// bootstrapped and some client relation needs them. Failure is not an
// error: relations wait.
func (c *Charm) readServerFacts(ctx context.Context, h *juju.Hook, s *Snapshot) {
	if len(s.Clients.Relations) == 0 && len(s.Clients.Served) == 0 {
		return
	}
	if s.Passwords == nil || !s.Address.IsValid() || len(s.Applied) == 0 {
		return
	}
	// The layout and CA: Patroni's REST API wants the charm's client
	// certificate (pgconf.PatroniTLS).
	cfg := pgconf.UnitConfig{App: s.App, Unit: s.Unit, Address: s.Address, Passwords: *s.Passwords, CA: s.CA,
		Layout: pgconf.DefaultLayout(s.Model, s.Unit, s.Storage)}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := c.clientDB().Facts(cctx, c.Workload.Patroni(cfg), pgconf.UnitSlug(s.Unit), s.clientUnit().Self())
	if err != nil {
		h.Log.Debug("client relations wait for PostgreSQL", "err", err)
		return
	}
	s.Clients.Server = db
}

// serveClients applies the client relations' part of the plan and adds
// their refusals to the status.
func (c *Charm) serveClients(ctx context.Context, h *juju.Hook, m *model.Model, snap Snapshot, pl Plan, ov Overrides, w *keys.Writes) error {
	var hba []string
	for _, r := range pgconf.HBARules(pl.Config) {
		hba = append(hba, r.String())
	}
	env := clients.Env{Hook: h, Model: m, DB: c.clientDB(), Vault: snap.vault, Writes: w, Handles: snap.clientRels,
		PeerRelation: snap.peers != nil, HBA: hba, Nudge: c.Workload.Patroni(pl.Config).Reload, Overrides: ov.ClientPasswords}
	statuses, err := clients.Apply(ctx, env, snap.clientUnit(), snap.Clients, pl.Clients)
	refused := append(slices.Clone(pl.Clients.Statuses), statuses...)
	for _, st := range refused {
		h.Log.Warn("client relation refused", "why", st.Message)
	}
	if st, ok := clients.CombineRefusals(refused); ok {
		h.Status.Add(st)
	}
	if err != nil {
		return fmt.Errorf("client relations: %w", err)
	}
	return nil
}

// clientPass is what the rotate-relation-password action needs.
type clientPass struct{ c *Charm }

// Read implements clients.Pass.
func (p clientPass) Read(ctx context.Context, h *juju.Hook, m *model.Model) (clients.Unit, clients.Facts, credentials.Vault, error) {
	snap, err := p.c.snapshot(ctx, h, m, Overrides{})
	return snap.clientUnit(), snap.Clients, snap.vault, err
}

// Run implements clients.Pass.
func (p clientPass) Run(ctx context.Context, h *juju.Hook, m *model.Model, passwords map[string]string) error {
	return p.c.pass(ctx, h, m, Overrides{ClientPasswords: passwords})
}
