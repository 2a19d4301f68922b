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
	// The layout names the charm's etcd client certificate (the
	// storage does not matter to it).
	return pgconf.UnitConfig{App: m.App(), Unit: m.Unit(), Address: addr, Passwords: pw,
		CA: credentials.CAFrom(content), Layout: pgconf.DefaultLayout(h.Env.ModelUUID, m.Unit(), "")}, nil
}

func listenPort(ctx context.Context, m *model.Model) int {
	cfg, err := m.Config(ctx)
	if err != nil {
		return pgconf.DefaultPostgresPort
	}
	return instance.Facts{Options: instance.OptionsFromConfig(cfg)}.Port()
}
