package clients

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Pass is what the rotate-relation-password action needs from the charm.
type Pass interface {
	// Read reads the slice's facts as a pass would, with this unit and
	// the vault.
	Read(ctx context.Context, h *juju.Hook, m *model.Model) (Unit, Facts, credentials.Vault, error)
	// Run runs the pass with relation passwords set earlier in this
	// dispatch (secret-get returns the committed revision until the
	// action ends).
	Run(ctx context.Context, h *juju.Hook, m *model.Model, passwords map[string]string) error
}

// RotateAction is the rotate-relation-password action.
type RotateAction struct {
	Pass Pass
	DB   Database
}

func fail(ctx context.Context, h *juju.Hook, msg string) error { return h.Backend.ActionFail(ctx, msg) }

// relationIDParam reads relation-id ("5" or "db:5") as its number.
func relationIDParam(params map[string]any) (int, error) {
	raw := strings.TrimSpace(fmt.Sprint(params["relation-id"]))
	n := RelationNumber("x:" + raw[strings.LastIndexByte(raw, ':')+1:])
	if n < 0 {
		return n, fmt.Errorf("relation-id %q is not a relation id (5 or db:5)", raw)
	}
	return n, nil
}

// Run is the action (leader): a new password for the relation's user,
// stored, set on the primary, and republished by a pass in this same
// dispatch. The old password stops working at once; open sessions stay
// (clientdb.RotatePassword).
func (a RotateAction) Run(ctx context.Context, h *juju.Hook) error {
	m := model.ForHook(h)
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	n, err := relationIDParam(params)
	if err != nil {
		return fail(ctx, h, err.Error())
	}
	if leader, err := m.IsLeader(ctx); err != nil || !leader {
		if err != nil {
			return err
		}
		return fail(ctx, h, "run rotate-relation-password on the leader unit")
	}
	u, f, vault, err := a.Pass.Read(ctx, h, m)
	if err != nil {
		return err
	}
	id, rec, refusal := rotatable(f, n)
	if refusal != "" {
		return fail(ctx, h, refusal)
	}
	pw, err := postgres.GeneratePassword()
	if err != nil {
		return err
	}
	h.Redactor.Register(pw)
	// The secret first (committed only if the action succeeds), then the
	// role: if anything after fails, the next pass sets the stored
	// password back on the role (EnsureLoginUser), so the client's
	// credentials never go stale.
	passwords := maps.Clone(f.Passwords)
	if passwords == nil {
		passwords = map[string]string{}
	}
	passwords[id] = pw
	if err := writePasswords(ctx, vault, passwords); err != nil {
		return err
	}
	if err := a.DB.Rotate(ctx, u.operatorAt(f.Server.Primary, f.Server.Port), rec.User, pw); err != nil {
		return fail(ctx, h, "changing the password: "+err.Error())
	}
	if err := a.Pass.Run(ctx, h, m, map[string]string{id: pw}); err != nil {
		return fmt.Errorf("republishing %s: %w", id, err)
	}
	h.Log.Info("rotated relation password", "relation", id, "user", rec.User)
	return h.Backend.ActionSet(ctx, map[string]string{"relation-id": id, "user": rec.User, "result": "rotated and republished"})
}

// rotatable finds relation number n and says why its password cannot be
// rotated now ("" when it can).
func rotatable(f Facts, n int) (id string, rec Served, refusal string) {
	for _, r := range f.Relations {
		if RelationNumber(r.ID) == n {
			id = r.ID
		}
	}
	rec, served := f.Served[id]
	switch {
	case id == "":
		return id, rec, fmt.Sprintf("there is no db, db-admin or database relation with id %d", n)
	case !served || f.Passwords[id] == "":
		return id, rec, fmt.Sprintf("relation %s is not served yet", id)
	case f.Server == nil || f.Server.Primary == "":
		return id, rec, "there is no primary to change the password on"
	}
	return id, rec, ""
}
