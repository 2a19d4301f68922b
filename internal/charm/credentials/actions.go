package credentials

import (
	"context"
	"fmt"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Unit is what the credential actions need from the rest of the charm.
type Unit interface {
	// NotRunning says why the unit could not apply a new password now
	// (blocked, waiting); "" when it runs.
	NotRunning(ctx context.Context, h *juju.Hook, m *model.Model) (string, error)
	// Config is the unit's config for effects: address and passwords.
	Config(ctx context.Context, h *juju.Hook, m *model.Model) (pgconf.UnitConfig, error)
	// Apply runs the reconcile pass with content as the system users:
	// Juju commits secret-set only when the action ends, so secret-get
	// would still return the old revision.
	Apply(ctx context.Context, h *juju.Hook, content map[string]string) error
	// SetRolePassword sets a system role's password on the primary,
	// connected as the operator with cfg's password.
	SetRolePassword(ctx context.Context, m *model.Model, cfg pgconf.UnitConfig, user User, password string) error
	// CheckEtcdRoot logs in to etcd as root with cfg's password.
	CheckEtcdRoot(ctx context.Context, cfg pgconf.UnitConfig) error
	// SetEtcdRootPassword changes etcd's root password, logged in with cfg's.
	SetEtcdRootPassword(ctx context.Context, cfg pgconf.UnitConfig, password string) error
	Patroni(cfg pgconf.UnitConfig) *patroni.Client
	// RestartPatroni restarts the unit's Patroni daemon.
	RestartPatroni(ctx context.Context, h *juju.Hook) error
}

// Actions are the credential actions.
type Actions struct {
	Unit Unit
	// Clock times the waits; nil is the wall clock.
	Clock clock.Clock
}

func fail(ctx context.Context, h *juju.Hook, msg string) error { return h.Backend.ActionFail(ctx, msg) }

// systemUserParam reads the username parameter (operator by default).
func systemUserParam(params map[string]any) (User, error) {
	name, _ := params["username"].(string)
	if name == "" {
		name = pgconf.OperatorUser
	}
	u, ok := Lookup(name)
	if !ok {
		return User{}, fmt.Errorf("unknown system user %q", name)
	}
	return u, nil
}

// leaderVault checks the action runs on the leader and opens the vault.
func leaderVault(ctx context.Context, h *juju.Hook, m *model.Model, action string) (Vault, string, error) {
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return Vault{}, "", err
	}
	if !leader {
		return Vault{}, "run " + action + " on the leader unit", nil
	}
	v, err := Open(ctx, h, m)
	return v, "", err
}

// GetPassword is the get-password action (leader).
func (a Actions) GetPassword(ctx context.Context, h *juju.Hook) error {
	m := model.ForHook(h)
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	u, err := systemUserParam(params)
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	v, refusal, err := leaderVault(ctx, h, m, "get-password")
	if err != nil || refusal != "" {
		return failOr(ctx, h, err, refusal)
	}
	content, err := v.Read(ctx, SystemUsersDoc)
	if err != nil {
		return err
	}
	if content == nil {
		return fail(ctx, h, "the system users are not created yet")
	}
	id, err := v.SecretID(ctx, SystemUsersDoc)
	if err != nil {
		return err
	}
	if id == "" {
		// Juju 2.9 has no secrets: the only way out is action-set's
		// command line, readable through /proc on the unit's machine
		// while the tool runs (the README says so).
		return h.Backend.ActionSet(ctx, map[string]string{"username": u.Name, "password": content[u.SecretKey]})
	}
	// action-set takes values only as arguments, which any local user
	// reads in /proc: the password stays in the secret, and the result
	// says how a model admin reads it.
	return h.Backend.ActionSet(ctx, map[string]string{
		"username": u.Name, "secret-id": id, "secret-key": u.SecretKey,
		"reveal-with": "juju show-secret " + id + " --reveal",
	})
}

// failOr returns err, or fails the action with refusal.
func failOr(ctx context.Context, h *juju.Hook, err error, refusal string) error {
	if err != nil {
		return err
	}
	return fail(ctx, h, refusal)
}

// newPasswordParam is the password parameter, or a generated one.
func newPasswordParam(params map[string]any) (string, error) {
	pw, _ := params["password"].(string)
	if pw == "" {
		return postgres.GeneratePassword()
	}
	return pw, postgres.CheckPassword(pw)
}

// waitLoaded waits until this member's Patroni runs with the passwords
// generation gen: it has reloaded patroni.yml.
func (a Actions) waitLoaded(ctx context.Context, cfg pgconf.UnitConfig, gen string) error {
	return patroni.WaitTag(ctx, clock.Or(a.Clock), a.Unit.Patroni(cfg), pgconf.PasswordsTag, gen, 60*time.Second)
}
