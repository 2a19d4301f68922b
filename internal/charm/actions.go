package charm

import (
	"context"
	"errors"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/charm/instance"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// unitConfig rebuilds the unit's config for actions (address and
// passwords are all they need).
func (c *Charm) unitConfig(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error) {
	v, err := credentials.Open(ctx, h, m)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	content, err := v.Read(ctx, credentials.SystemUsersDoc)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	if content == nil {
		return pgconf.UnitConfig{}, errors.New("the system users are not created yet")
	}
	pw, _ := credentials.PasswordsFrom(content)
	addr, err := unitAddress(ctx, h.Backend)
	if err != nil {
		return pgconf.UnitConfig{}, err
	}
	// The unit's directories (its socket and the charm's etcd client
	// certificate among them), without the data directory: an action
	// does not know the storage, and a config that lacks it cannot be
	// rendered by mistake.
	layout := pgconf.DefaultLayout(h.Env.ModelUUID, m.Unit(), "")
	layout.PGData = ""
	return pgconf.UnitConfig{App: m.App(), Unit: m.Unit(), Address: addr, Layout: layout, Passwords: pw,
		CA: credentials.CAFrom(content)}, nil
}

func listenPort(ctx context.Context, m *model.Model) int {
	cfg, err := m.Config(ctx)
	if err != nil {
		return pgconf.DefaultPostgresPort
	}
	return instance.Facts{Options: instance.OptionsFromConfig(cfg)}.Port()
}
