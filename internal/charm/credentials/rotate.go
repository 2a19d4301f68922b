package credentials

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/pgjuju/pgjuju/internal/clock"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// rotation is one run of set-password: what has been changed so far, so
// a failure can undo it.
type rotation struct {
	a    Actions
	h    *juju.Hook
	m    *model.Model
	user User
	pw   string
	cfg  pgconf.UnitConfig // with the passwords before the rotation
	// roleChanged: the role's password on the primary is already pw.
	roleChanged bool
	// oldContent is the system users' content before, once the new one
	// is stored.
	oldContent map[string]string
}

// progress goes to action-log and the unit's log; the password never does.
func (r *rotation) progress(ctx context.Context, msg string) {
	r.h.Log.Info("set-password", "user", r.user.Name, "step", msg)
	if err := r.h.Backend.ActionLog(ctx, msg); err != nil {
		r.h.Log.Warn("action-log", "err", err)
	}
}

// SetPassword is the set-password action (leader): a new password for one
// system user, applied everywhere it is used, in an order that keeps the
// unit working at every step:
//
//   - operator, replication, rewind: the role on the primary first
//     (connected with the current operator password), then the secret,
//     then patroni.yml (authentication section) and a Patroni reload;
//   - patroni (REST API): the secret, then patroni.yml and a reload (by
//     signal, as the API refuses the new password until Patroni reloads);
//   - etcd (root): the secret, then patroni.yml and a reload, then, once
//     Patroni reports the new passwords generation (so it re-authenticates
//     with the new password), etcd's root password; Patroni is restarted
//     if it does not answer with the cluster afterwards.
//
// Every rotation bumps the secret's generation, which patroni.yml carries
// as a tag. Progress goes to action-log; the password never does.
func (a Actions) SetPassword(ctx context.Context, h *juju.Hook) error {
	r, refusal, err := a.startRotation(ctx, h)
	if err != nil || refusal != "" {
		return failOr(ctx, h, err, refusal)
	}
	if r.user.Role {
		// The role first: a failure leaves the old password valid
		// everywhere.
		if err := a.Unit.SetRolePassword(ctx, r.m, r.cfg, r.user, r.pw); err != nil {
			return fail(ctx, h, "changing the role's password: "+err.Error())
		}
		r.roleChanged = true
		r.progress(ctx, fmt.Sprintf("changed the password of role %s on the primary", r.user.Name))
	} else if r.user.Name == EtcdUser {
		if err := a.Unit.CheckEtcdRoot(ctx, r.cfg); err != nil {
			return fail(ctx, h, "etcd does not take the current root password: "+err.Error())
		}
	}
	content, err := r.storeAndApply(ctx)
	if err != nil {
		return r.rollback(ctx, err.Error())
	}
	if r.user.Name == EtcdUser {
		if err := r.rotateEtcdRoot(ctx, content); err != nil {
			return err
		}
	}
	return h.Backend.ActionSet(ctx, map[string]string{"username": r.user.Name, "password": r.pw})
}

// startRotation reads the parameters and refuses what cannot be done
// before anything changes.
func (a Actions) startRotation(ctx context.Context, h *juju.Hook) (*rotation, string, error) {
	m := model.ForHook(h)
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return nil, "", err
	}
	u, err := systemUserParam(params)
	if err != nil {
		return nil, err.Error(), nil
	}
	pw, err := newPasswordParam(params)
	if err != nil {
		return nil, err.Error(), nil
	}
	h.Redactor.Register(pw)
	if _, refusal, err := leaderVault(ctx, h, m, "set-password"); err != nil || refusal != "" {
		return nil, refusal, err
	}
	// A unit that is blocked (invalid config) or still waiting would not
	// apply the new password.
	if why, err := a.Unit.NotRunning(ctx, h, m); err != nil || why != "" {
		return nil, why, err
	}
	cfg, err := a.Unit.Config(ctx, h, m)
	if err != nil {
		return nil, err.Error(), nil
	}
	if pw == u.PasswordOf(cfg.Passwords) {
		return nil, "the new password is the current one", nil
	}
	return &rotation{a: a, h: h, m: m, user: u, pw: pw, cfg: cfg}, "", nil
}

// storeAndApply stores the new password with the system users, runs the
// pass with it (patroni.yml, a Patroni reload) and waits until Patroni
// runs with it. The owner gets no secret-changed; other units follow on
// theirs.
func (r *rotation) storeAndApply(ctx context.Context) (map[string]string, error) {
	v, err := Open(ctx, r.h, r.m)
	if err != nil {
		return nil, err
	}
	old, err := v.Read(ctx, SystemUsersDoc)
	if err != nil || old == nil {
		return nil, fmt.Errorf("reading the system users: %v", err)
	}
	content := WithPassword(old, r.user, r.pw)
	if err := v.Write(ctx, SystemUsersDoc, content); err != nil {
		return nil, fmt.Errorf("storing the new password: %w", err)
	}
	r.oldContent = maps.Clone(old)
	r.progress(ctx, "stored the new password with the system users")
	if err := r.a.Unit.Apply(ctx, r.h, content); err != nil {
		return nil, fmt.Errorf("applying the new password: %w", err)
	}
	r.progress(ctx, "rewrote patroni.yml and asked Patroni to reload it")
	cfg := r.cfg
	if cfg.Passwords, err = PasswordsFrom(content); err != nil {
		return nil, err
	}
	if err := r.a.waitLoaded(ctx, cfg, content[GenerationKey]); err != nil {
		return nil, err
	}
	r.progress(ctx, "Patroni runs with the new passwords")
	return content, nil
}

// rotateEtcdRoot changes etcd's root password once Patroni runs with the
// new one. From then on etcd takes only the new password: the secret must
// keep it, so failures end the action with action-fail (exit 0,
// committed), never an error.
func (r *rotation) rotateEtcdRoot(ctx context.Context, content map[string]string) error {
	u, clk := r.a.Unit, clock.Or(r.a.Clock)
	if err := u.SetEtcdRootPassword(ctx, r.cfg, r.pw); err != nil {
		// Patroni gets the old password back, which etcd still accepts.
		return r.rollback(ctx, "changing etcd's root password: "+err.Error())
	}
	r.progress(ctx, "changed etcd's root password")
	cfg := r.cfg
	cfg.Passwords, _ = PasswordsFrom(content)
	api := u.Patroni(cfg)
	if err := patroni.WaitLeader(ctx, clk, api, 20*time.Second); err != nil {
		r.progress(ctx, "Patroni does not reach etcd with the new password: restarting Patroni")
		if err := u.RestartPatroni(ctx, r.h); err != nil {
			return fail(ctx, r.h, "restarting Patroni after the rotation: "+err.Error())
		}
		if err := patroni.WaitLeader(ctx, clk, api, 60*time.Second); err != nil {
			return fail(ctx, r.h, "Patroni does not reach etcd after the rotation: "+err.Error())
		}
	}
	r.progress(ctx, "Patroni reads the cluster from etcd")
	return nil
}

// rollback undoes what was applied after a later step failed: the role's
// password, then the files (a pass with the old content). It returns an
// error, so the action exits non-zero and Juju discards the new secret
// revision (contract §1.3); action-log says why, as the action's message
// will be the exit status.
func (r *rotation) rollback(ctx context.Context, why string) error {
	r.progress(ctx, "failed: "+why+"; rolling back")
	if r.roleChanged {
		cur := r.cfg
		if r.user.Name == pgconf.OperatorUser {
			cur.Passwords.Operator = r.pw
		}
		if err := r.a.Unit.SetRolePassword(ctx, r.m, cur, r.user, r.user.PasswordOf(r.cfg.Passwords)); err != nil {
			r.progress(ctx, "could not restore the role's password: "+err.Error())
		}
	}
	if r.oldContent != nil {
		if err := r.a.Unit.Apply(ctx, r.h, r.oldContent); err != nil {
			r.progress(ctx, "could not rewrite the files with the old passwords: "+err.Error())
		}
	}
	return fmt.Errorf("set-password %s: %s (rolled back)", r.user.Name, why)
}
