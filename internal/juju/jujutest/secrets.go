package jujutest

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// secret finds a secret by id or, when id is "", by label.
func (f *Fake) secret(cmd, id, label string) (*Secret, error) {
	for i := range f.work.Secrets {
		s := &f.work.Secrets[i]
		if (id != "" && s.ID == id) || (id == "" && label != "" && s.Label == label) {
			return s, nil
		}
	}
	return nil, toolErr(cmd, 1, "secret not found")
}

func (f *Fake) requireOwner(cmd string, s *Secret) error {
	if s.Owner != juju.SecretOwnerUnit && !f.work.Leader {
		return toolErr(cmd, 1, "this unit is not the leader")
	}
	return nil
}

// SecretAdd implements juju.Backend (transactional).
func (f *Fake) SecretAdd(_ context.Context, content map[string]string, opts juju.SecretAddOptions) (string, error) {
	if err := f.secretsTool("secret-add"); err != nil {
		return "", err
	}
	if len(content) == 0 {
		return "", toolErr("secret-add", 2, "missing secret value or filename")
	}
	owner := opts.Owner
	if owner == "" {
		owner = juju.SecretOwnerApplication
	}
	if owner == juju.SecretOwnerApplication && !f.work.Leader {
		return "", toolErr("secret-add", 1, "this unit is not the leader")
	}
	if opts.Label != "" {
		if _, err := f.secret("secret-add", "", opts.Label); err == nil {
			return "", toolErr("secret-add", 1, fmt.Sprintf("secret with label %q already exists", opts.Label))
		}
	}
	id := f.newSecretID()
	f.work.Secrets = append(f.work.Secrets, Secret{
		ID: id, Label: opts.Label, Owner: owner, Content: maps.Clone(content), Revision: 1,
		Info: juju.SecretInfo{Label: opts.Label, Description: opts.Description, Expiry: opts.Expire,
			Owner: string(owner), Rotation: opts.Rotate},
	})
	return id, nil
}

// SecretGet implements juju.Backend: the latest committed revision, as
// Juju reads it from the controller; content added in this hook is
// readable at once (contract §2.3), but a secret-set in this hook is not
// seen until it commits.
func (f *Fake) SecretGet(_ context.Context, id string, opts juju.SecretGetOptions) (map[string]string, error) {
	if err := f.secretsTool("secret-get"); err != nil {
		return nil, err
	}
	if opts.Peek && opts.Refresh {
		return nil, toolErr("secret-get", 2, "specify one of --peek or --refresh but not both")
	}
	s, err := f.secret("secret-get", id, opts.Label)
	if err != nil {
		return nil, err
	}
	if id != "" && opts.Label != "" {
		s.Label = opts.Label
	}
	for _, c := range f.committed.Secrets {
		if c.ID == s.ID {
			return maps.Clone(c.Content), nil
		}
	}
	return maps.Clone(s.Content), nil
}

// SecretSet implements juju.Backend (transactional, owner only).
func (f *Fake) SecretSet(_ context.Context, id string, content map[string]string, opts juju.SecretSetOptions) error {
	if err := f.secretsTool("secret-set"); err != nil {
		return err
	}
	s, err := f.secret("secret-set", id, "")
	if err != nil {
		return err
	}
	if err := f.requireOwner("secret-set", s); err != nil {
		return err
	}
	if content != nil {
		s.Content = maps.Clone(content)
		s.Revision++
	}
	if opts.Label != "" {
		s.Label = opts.Label
	}
	if opts.Rotate != "" {
		s.Info.Rotation = opts.Rotate
	}
	if opts.Description != "" {
		s.Info.Description = opts.Description
	}
	if opts.Expire != "" {
		s.Info.Expiry = opts.Expire
	}
	return nil
}

// SecretGrant implements juju.Backend (transactional).
func (f *Fake) SecretGrant(_ context.Context, id, relationID, unit string) error {
	if err := f.secretsTool("secret-grant"); err != nil {
		return err
	}
	s, err := f.secret("secret-grant", id, "")
	if err != nil {
		return err
	}
	if err := f.requireOwner("secret-grant", s); err != nil {
		return err
	}
	r, err := f.relation("secret-grant", relationID)
	if err != nil {
		return err
	}
	target := r.RemoteApp
	if unit != "" {
		target = unit
	}
	if s.Grants == nil {
		s.Grants = map[string][]string{}
	}
	if !slices.Contains(s.Grants[r.Key()], target) {
		s.Grants[r.Key()] = append(s.Grants[r.Key()], target)
	}
	return nil
}

// SecretRevoke implements juju.Backend (transactional).
func (f *Fake) SecretRevoke(_ context.Context, id string, opts juju.SecretRevokeOptions) error {
	if err := f.secretsTool("secret-revoke"); err != nil {
		return err
	}
	s, err := f.secret("secret-revoke", id, "")
	if err != nil {
		return err
	}
	if err := f.requireOwner("secret-revoke", s); err != nil {
		return err
	}
	switch {
	case opts.RelationID != "":
		r, err := f.relation("secret-revoke", opts.RelationID)
		if err != nil {
			return err
		}
		delete(s.Grants, r.Key())
	default:
		target := opts.App + opts.Unit
		for k, v := range s.Grants {
			s.Grants[k] = slices.DeleteFunc(v, func(t string) bool { return t == target })
		}
	}
	return nil
}

// SecretRemove implements juju.Backend (transactional): a revision, or the
// whole secret.
func (f *Fake) SecretRemove(_ context.Context, id string, revision int) error {
	if err := f.secretsTool("secret-remove"); err != nil {
		return err
	}
	s, err := f.secret("secret-remove", id, "")
	if err != nil {
		return err
	}
	if err := f.requireOwner("secret-remove", s); err != nil {
		return err
	}
	if revision == 0 || revision == s.Revision {
		f.work.Secrets = slices.DeleteFunc(f.work.Secrets, func(x Secret) bool { return x.ID == id })
	}
	return nil
}

// SecretIDs implements juju.Backend: the secrets the unit owns.
func (f *Fake) SecretIDs(context.Context) ([]string, error) {
	if err := f.secretsTool("secret-ids"); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, s := range f.work.Secrets {
		if s.Owner == juju.SecretOwnerUnit || f.work.Leader {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

// SecretInfoGet implements juju.Backend.
func (f *Fake) SecretInfoGet(_ context.Context, id, label string) (map[string]juju.SecretInfo, error) {
	if err := f.secretsTool("secret-info-get"); err != nil {
		return nil, err
	}
	s, err := f.secret("secret-info-get", id, label)
	if err != nil {
		return nil, err
	}
	info := s.Info
	info.Revision, info.Label = s.Revision, s.Label
	if info.Owner == "" {
		info.Owner = string(juju.SecretOwnerApplication)
	}
	return map[string]juju.SecretInfo{s.ID: info}, nil
}

// secretsTool fails as a missing tool when the fake runs a Juju without
// secrets (contract §2.2: 2.9 has no secret-* tools).
func (f *Fake) secretsTool(cmd string) error {
	if !juju.HasSecrets(f.work.JujuVersion) {
		return fmt.Errorf("%s: %w", cmd, juju.ErrToolMissing)
	}
	return nil
}

// newSecretID is an id no secret of the model has had: Juju's ids are
// unique across hooks, so it counts on from the highest one in the state
// (a counter per run would hand a later hook an id already in use).
func (f *Fake) newSecretID() string {
	highest := 1000
	for _, s := range f.work.Secrets {
		var n int
		if _, err := fmt.Sscanf(s.ID, "secret://fake-model/fakesecret%d", &n); err == nil && n > highest {
			highest = n
		}
	}
	if f.nextID <= highest {
		f.nextID = highest
	}
	f.nextID++
	return fmt.Sprintf("secret://fake-model/fakesecret%011d", f.nextID)
}
