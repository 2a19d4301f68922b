package controller

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/hooktools"
)

// Secrets follow Juju 3.6 (contract §2.3): owned by the application (leader
// writes) or a unit; readable by the owner and by consumers a grant names;
// a consumer's first read pins a revision, --refresh moves it to the latest,
// --peek reads the latest without tracking. All writes are transactional;
// content added in a hook is readable in that hook.

var xidEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newSecretURI returns secret://<model-uuid>/<20-char xid>.
func newSecretURI(model string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "secret://" + model + "/" + xidEncoding.EncodeToString(b[:])
}

// normaliseSecretURI accepts the full URI, "secret:<xid>" or a bare xid.
func (c *hookContext) normaliseSecretURI(uri string) string {
	if strings.HasPrefix(uri, "secret://") {
		return uri
	}
	id := strings.TrimPrefix(uri, "secret:")
	return "secret://" + c.m.st.UUID + "/" + id
}

// secretLocked finds a secret by uri or label, pending ones included.
func (c *hookContext) secretLocked(uri, label string) (*secretState, error) {
	if uri != "" {
		uri = c.normaliseSecretURI(uri)
		if s, ok := c.newSecrets[uri]; ok {
			return s, nil
		}
		if s, ok := c.m.st.Secrets[uri]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("secret %q not found", uri)
	}
	for _, set := range []map[string]*secretState{c.newSecrets, c.m.st.Secrets} {
		for _, s := range set {
			if c.ownsLocked(s) && s.Label == label || s.ConsumerLabel[c.unit] == label {
				return s, nil
			}
		}
	}
	return nil, fmt.Errorf("secret with label %q not found", label)
}

func (c *hookContext) ownsLocked(s *secretState) bool {
	if s.OwnerUnit != "" {
		return s.OwnerUnit == c.unit
	}
	return s.OwnerApp == c.app
}

// grantedLocked reports whether this unit may read a secret it does not own.
func (c *hookContext) grantedLocked(s *secretState) bool {
	for relID, targets := range s.Grants {
		if r := c.m.st.Relations[relID]; r == nil {
			continue
		}
		for _, t := range targets {
			if t == c.app || t == c.unit {
				return true
			}
		}
	}
	return false
}

func (c *hookContext) SecretAdd(args hooktools.SecretAddArgs) (string, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	owner := args.Owner
	if owner == "" {
		owner = "application"
	}
	if owner == "application" && !c.isLeaderLocked() {
		return "", errors.New("this unit is not the leader")
	}
	s := &secretState{
		URI: newSecretURI(c.m.st.UUID), OwnerApp: c.app, Label: args.Label,
		Description: args.Description, Expire: args.Expire, Rotate: args.Rotate,
		Revisions: map[int]map[string]string{1: maps.Clone(args.Content)}, Latest: 1,
		Grants: map[int][]string{}, Tracked: map[string]int{}, ConsumerLabel: map[string]string{},
	}
	if owner == "unit" {
		s.OwnerUnit = c.unit
	}
	setRevisionExpiryLocked(s, 1, parseExpiry(args.Expire))
	if willRotate(args.Rotate) {
		s.NextRotate = c.m.nextRotateLocked(args.Rotate, time.Now())
	}
	if args.Label != "" {
		for _, other := range c.m.st.Secrets {
			if c.ownsLocked(other) && other.Label == args.Label {
				return "", fmt.Errorf("secret with label %q already exists", args.Label)
			}
		}
	}
	c.newSecrets[s.URI] = s
	c.secretOps = append(c.secretOps, func() error {
		c.m.st.Secrets[s.URI] = s
		return nil
	})
	return s.URI, nil
}

func (c *hookContext) SecretGet(uri, label string, peek, refresh bool) (map[string]string, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, label)
	if err != nil {
		return nil, err
	}
	if c.ownsLocked(s) {
		return maps.Clone(s.Revisions[s.Latest]), nil
	}
	if !c.grantedLocked(s) {
		return nil, errors.New("permission denied")
	}
	rev, tracked := s.Tracked[c.unit]
	switch {
	case peek:
		return maps.Clone(s.Revisions[s.Latest]), nil
	case refresh || !tracked:
		prev := rev
		rev = s.Latest
		c.secretOps = append(c.secretOps, func() error {
			s.Tracked[c.unit] = rev
			// Moving to a newer revision may leave older ones tracked by
			// nobody: the owner gets secret-remove for them (§3.10).
			if tracked && rev > prev {
				markObsoleteLocked(s, c.unit, rev)
			}
			return nil
		})
	}
	if uri != "" && label != "" {
		c.secretOps = append(c.secretOps, func() error {
			s.ConsumerLabel[c.unit] = label
			return nil
		})
	}
	return maps.Clone(s.Revisions[rev]), nil
}

func (c *hookContext) SecretSet(uri string, args hooktools.SecretUpdateArgs) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, "")
	if err != nil {
		return err
	}
	if err := c.checkOwnerWriteLocked(s); err != nil {
		return err
	}
	c.secretOps = append(c.secretOps, func() error {
		now := time.Now()
		if args.Label != nil {
			s.Label = *args.Label
		}
		if args.Description != nil {
			s.Description = *args.Description
		}
		if args.Rotate != nil {
			// Rotation starts when a policy that rotates replaces one that
			// does not; "never" stops it (juju/juju 3.6: secretsmanager
			// updateSecret).
			switch {
			case !willRotate(*args.Rotate):
				s.NextRotate = time.Time{}
			case !willRotate(s.Rotate) || s.NextRotate.IsZero():
				s.NextRotate = c.m.nextRotateLocked(*args.Rotate, now)
			}
			s.Rotate = *args.Rotate
		}
		if len(args.Content) > 0 && !maps.Equal(args.Content, s.Revisions[s.Latest]) {
			// A new revision carries the given expiry or none; older
			// revisions nobody tracks become obsolete.
			s.Latest++
			s.Revisions[s.Latest] = maps.Clone(args.Content)
			s.Expire = ""
			if args.Expire != nil {
				s.Expire = *args.Expire
			}
			setRevisionExpiryLocked(s, s.Latest, parseExpiry(s.Expire))
			markObsoleteLocked(s, "", s.Latest)
		} else if args.Expire != nil {
			s.Expire = *args.Expire
			setRevisionExpiryLocked(s, s.Latest, parseExpiry(s.Expire))
		}
		return nil
	})
	return nil
}

func (c *hookContext) checkOwnerWriteLocked(s *secretState) error {
	if !c.ownsLocked(s) {
		return errors.New("permission denied")
	}
	if s.OwnerUnit == "" && !c.isLeaderLocked() {
		return errors.New("this unit is not the leader")
	}
	return nil
}

func (c *hookContext) SecretRemove(uri string, revision int) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, "")
	if err != nil {
		return err
	}
	if err := c.checkOwnerWriteLocked(s); err != nil {
		return err
	}
	// An unknown revision is not an error: Juju deletes the revisions that
	// exist (so a revision removed by an earlier hook is harmless); removing
	// the last remaining revision removes the secret.
	c.secretOps = append(c.secretOps, func() error {
		if revision > 0 {
			if _, ok := s.Revisions[revision]; !ok {
				return nil
			}
			removeRevisionLocked(s, revision)
			if len(s.Revisions) > 0 {
				return nil
			}
		}
		delete(c.m.st.Secrets, s.URI)
		return nil
	})
	return nil
}

func (c *hookContext) SecretGrant(uri string, relID int, unit string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, "")
	if err != nil {
		return err
	}
	if err := c.checkOwnerWriteLocked(s); err != nil {
		return err
	}
	u := c.m.units[c.unit]
	r, _, ok := c.relationLocked(u, relID)
	if !ok {
		return fmt.Errorf("relation %d not found", relID)
	}
	target := r.remoteApp(c.app)
	if unit != "" {
		if appOfUnit(unit) != target {
			return fmt.Errorf("unit %q is not in relation %d", unit, relID)
		}
		target = unit
	}
	c.secretOps = append(c.secretOps, func() error {
		for _, t := range s.Grants[relID] {
			if t == target {
				return nil
			}
		}
		s.Grants[relID] = append(s.Grants[relID], target)
		return nil
	})
	return nil
}

func (c *hookContext) SecretRevoke(uri string, relID int, app, unit string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, "")
	if err != nil {
		return err
	}
	if err := c.checkOwnerWriteLocked(s); err != nil {
		return err
	}
	c.secretOps = append(c.secretOps, func() error {
		for id, targets := range s.Grants {
			if relID >= 0 && id != relID {
				continue
			}
			var keep []string
			for _, t := range targets {
				drop := (app == "" && unit == "") || t == app || t == unit
				if !drop {
					keep = append(keep, t)
				}
			}
			s.Grants[id] = keep
		}
		return nil
	})
	return nil
}

func (c *hookContext) SecretIDs() ([]string, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	var ids []string
	for _, set := range []map[string]*secretState{c.m.st.Secrets, c.newSecrets} {
		for uri, s := range set {
			if c.ownsLocked(s) {
				ids = append(ids, uri)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (c *hookContext) SecretInfo(uri, label string) (map[string]hooktools.SecretInfo, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	s, err := c.secretLocked(uri, label)
	if err != nil {
		return nil, err
	}
	if !c.ownsLocked(s) {
		return nil, errors.New("permission denied")
	}
	owner := "application"
	if s.OwnerUnit != "" {
		owner = "unit"
	}
	info := hooktools.SecretInfo{Revision: s.Latest, Label: s.Label, Description: s.Description, Expiry: s.Expire, Owner: owner, Rotation: s.Rotate}
	if !s.NextRotate.IsZero() {
		info.Rotates = s.NextRotate.UTC().Format(time.RFC3339)
	}
	for relID, targets := range s.Grants {
		r := c.m.st.Relations[relID]
		if r == nil {
			continue
		}
		for _, t := range targets {
			kind := "application-"
			if strings.Contains(t, "/") {
				kind = "unit-"
			}
			info.Access = append(info.Access, hooktools.SecretAccess{
				Target: kind + strings.ReplaceAll(t, "/", "-"),
				Scope:  "relation-" + strings.ReplaceAll(relationKey(r), " ", "."), Role: "view",
			})
		}
	}
	xid := s.URI[strings.LastIndex(s.URI, "/")+1:]
	return map[string]hooktools.SecretInfo{xid: info}, nil
}
