package charm

import (
	"context"
	"fmt"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// readPasswords fills the snapshot's credentials: the vault's facts, the
// system users' passwords (or the action's override, on the leader), and
// whether the leader must share the secret's id.
func (c *Charm) readPasswords(ctx context.Context, h *juju.Hook, m *model.Model, ov Overrides, s *Snapshot) error {
	v := credentials.New(m, s.Leader, juju.HasSecrets(h.Env.Version), s.peers, s.peerApp)
	s.vault, s.VaultReady, s.SecretsAvailable = v, v.Ready(), v.Secrets()
	content, err := v.Read(ctx, credentials.SystemUsersDoc)
	if err != nil {
		return err
	}
	s.shareSystemUsers = v.NeedsSharing(credentials.SystemUsersDoc, content)
	if content != nil {
		p, _ := credentials.PasswordsFrom(content)
		s.Passwords, s.CA = &p, credentials.CAFrom(content)
	}
	if ov.SystemUsers != nil && s.Leader {
		p, err := credentials.PasswordsFrom(ov.SystemUsers)
		if err != nil {
			return err
		}
		s.Passwords, s.CA = &p, credentials.CAFrom(ov.SystemUsers)
	}
	return nil
}

// credentialUnit is what the credential actions need from the charm.
type credentialUnit struct{ c *Charm }

// NotRunning implements credentials.Unit: the status a pass would decide.
func (u credentialUnit) NotRunning(ctx context.Context, h *juju.Hook, m *model.Model) (string, error) {
	snap, err := u.c.snapshot(ctx, h, m, Overrides{})
	if err != nil {
		return "", err
	}
	if st := Decide(snap).Status; st.Level != "" {
		return fmt.Sprintf("the unit is %s (%s): set-password needs it running", st.Level, st.Message), nil
	}
	return "", nil
}

// Config implements credentials.Unit.
func (u credentialUnit) Config(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error) {
	return u.c.unitConfig(ctx, h, m)
}

// Apply implements credentials.Unit: a pass with the new system users.
func (u credentialUnit) Apply(ctx context.Context, h *juju.Hook, content map[string]string) error {
	m := model.ForHook(h)
	return u.c.pass(ctx, h, m, Overrides{SystemUsers: content})
}

// SetRolePassword implements credentials.Unit: on the primary (Patroni's
// leader; this unit when Patroni does not say), connected as the operator
// with the current password.
func (u credentialUnit) SetRolePassword(ctx context.Context, m *model.Model, cfg pgconf.UnitConfig, user credentials.User, pw string) error {
	// This unit's own PostgreSQL through its socket directory; another
	// unit's primary over TCP.
	primary := postgres.Target{Host: cfg.Layout.SocketDir, Port: listenPort(ctx, m), User: pgconf.OperatorUser, Password: cfg.Passwords.Operator}
	if cl, err := u.c.Workload.Patroni(cfg).Cluster(ctx); err == nil {
		if l, ok := cl.Leader(); ok && l.Host != "" && l.Port > 0 && l.Host != cfg.Address.String() {
			primary.Host, primary.Port = l.Host, l.Port
		}
	}
	return u.c.Workload.SetSystemRolePassword(ctx, primary, user.Name, user.Attributes, pw)
}

// CheckEtcdRoot implements credentials.Unit.
func (u credentialUnit) CheckEtcdRoot(ctx context.Context, cfg pgconf.UnitConfig) error {
	return u.c.Workload.CheckEtcdRoot(ctx, cfg)
}

// SetEtcdRootPassword implements credentials.Unit.
func (u credentialUnit) SetEtcdRootPassword(ctx context.Context, cfg pgconf.UnitConfig, pw string) error {
	return u.c.Workload.SetEtcdRootPassword(ctx, cfg, pw)
}

// Patroni implements credentials.Unit.
func (u credentialUnit) Patroni(cfg pgconf.UnitConfig) *patroni.Client {
	return u.c.Workload.Patroni(cfg)
}

// RestartPatroni implements credentials.Unit.
func (u credentialUnit) RestartPatroni(ctx context.Context, h *juju.Hook) error {
	return u.c.Workload.RestartPatroniService(ctx, h.Env.ModelUUID, h.Env.UnitName)
}
