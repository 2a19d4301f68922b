package cluster

import (
	"context"
	"strconv"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Actions are the cluster's actions.
type Actions struct {
	// Config rebuilds the unit's config (address and passwords).
	Config func(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error)
	// Patroni is a client of this unit's Patroni REST API.
	Patroni func(cfg pgconf.UnitConfig) *patroni.Client
}

// GetPrimary is the get-primary action: the unit Patroni names primary.
func (a Actions) GetPrimary(ctx context.Context, h *juju.Hook) error {
	m := model.ForHook(h)
	cfg, err := a.Config(ctx, h, m)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	cl, err := a.Patroni(cfg).Cluster(ctx)
	if err != nil {
		return h.Backend.ActionFail(ctx, "Patroni is not answering: "+err.Error())
	}
	leader, ok := cl.Leader()
	if !ok {
		return h.Backend.ActionFail(ctx, "there is no primary")
	}
	return h.Backend.ActionSet(ctx, map[string]string{
		"primary": UnitOfMember(m.App(), leader.Name), "member": leader.Name,
		"address": leader.Host, "timeline": strconv.Itoa(leader.Timeline),
	})
}

// UnitOfMember turns a Patroni member name ("postgresql-0") back into a
// unit name ("postgresql/0").
func UnitOfMember(app, member string) string {
	if len(member) > len(app)+1 && member[:len(app)+1] == app+"-" {
		return app + "/" + member[len(app)+1:]
	}
	return member
}
