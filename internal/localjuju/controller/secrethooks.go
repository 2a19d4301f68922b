package controller

import (
	"fmt"
	"sort"
	"time"
)

// The secret hooks of contract §3.10, as Juju 3.6 schedules them (uniter
// secrets resolver; secretrotate and secretexpire workers; the controller's
// obsolete-revision tracking):
//
//   - secret-changed on a consumer whose tracked revision is behind the
//     latest;
//   - secret-remove on the owner, once per revision, when the revision
//     becomes obsolete: no consumer tracks it any more, marked when a
//     consumer moves to a newer revision (secret-get --refresh) or when the
//     owner adds a revision nobody tracks the older ones of. Revoking a grant
//     or removing a relation does not untrack a revision (Juju keeps the
//     consumer's record);
//   - secret-expired on the owner when a revision's expiry passes, again
//     every retry delay until the revision is removed or its expiry changes;
//   - secret-rotate on the owner when the rotation policy is due; after it
//     the next rotation is one period after the one that fired, or a retry
//     delay when the hook added no revision (or when the latest revision
//     expires before the next period).
//
// The owner is the owning unit, or the leader for application-owned
// secrets. Like every other hook they run from the unit's queue (resolver
// order: expired, rotate, changed, remove), only on an installed, alive unit
// that is not in error. Their due times live in the model state, so they
// survive a controller restart; one due while no agent could run it fires as
// soon as one can.

// secretRetryDelay is Juju's RotateRetryDelay and ExpireRetryDelay.
const secretRetryDelay = 5 * time.Minute

// scaleSecretLocked applies the model's secret-rotate-scale test knob to one
// of Juju's fixed secret durations.
func (m *Model) scaleSecretLocked(d time.Duration) time.Duration {
	if m.st.SecretRotateScale <= 0 {
		return d
	}
	return time.Duration(float64(d) * float64(m.st.SecretRotateScale) / float64(time.Hour))
}

// willRotate reports whether a rotate policy rotates.
func willRotate(policy string) bool { return policy != "" && policy != "never" }

// nextRotateLocked is when a policy rotates next after last (juju/juju 3.6:
// core/secrets RotatePolicy.NextRotateTime: calendar days and months), with
// the period scaled by the test knob.
func (m *Model) nextRotateLocked(policy string, last time.Time) time.Time {
	var next time.Time
	switch policy {
	case "hourly":
		next = last.Add(time.Hour)
	case "daily":
		next = last.AddDate(0, 0, 1)
	case "weekly":
		next = last.AddDate(0, 0, 7)
	case "monthly":
		next = last.AddDate(0, 1, 0)
	case "quarterly":
		next = last.AddDate(0, 3, 0)
	case "yearly":
		next = last.AddDate(1, 0, 0)
	default:
		return time.Time{}
	}
	return last.Add(m.scaleSecretLocked(next.Sub(last)))
}

// ownerOfLocked is the unit that runs a secret's owner hooks: the owning
// unit, or its application's leader ("" when there is none).
func (m *Model) ownerOfLocked(s *secretState) string {
	if s.OwnerUnit != "" {
		return s.OwnerUnit
	}
	if a := m.st.Apps[s.OwnerApp]; a != nil {
		return a.Leader
	}
	return ""
}

// markObsoleteLocked marks the revisions of s that no consumer (other than
// exceptConsumer) tracks, except exceptRev, as obsolete (juju/juju 3.6:
// state markObsoleteRevisionOps): each gets one secret-remove on the owner.
func markObsoleteLocked(s *secretState, exceptConsumer string, exceptRev int) {
	used := map[int]bool{}
	for consumer, rev := range s.Tracked {
		if consumer != exceptConsumer {
			used[rev] = true
		}
	}
	for rev := range s.Revisions {
		if rev == exceptRev || used[rev] {
			continue
		}
		if s.Obsolete == nil {
			s.Obsolete = map[int]bool{}
		}
		if _, marked := s.Obsolete[rev]; !marked {
			s.Obsolete[rev] = false
		}
	}
}

// setRevisionExpiryLocked records (or, zero, clears) a revision's expiry;
// a new expiry restarts its secret-expired schedule.
func setRevisionExpiryLocked(s *secretState, rev int, t time.Time) {
	if t.IsZero() {
		delete(s.Expiry, rev)
		delete(s.ExpireNext, rev)
		return
	}
	if s.Expiry == nil {
		s.Expiry = map[int]time.Time{}
	}
	if s.ExpireNext == nil {
		s.ExpireNext = map[int]time.Time{}
	}
	s.Expiry[rev] = t
	s.ExpireNext[rev] = t
}

// removeRevisionLocked drops a revision and its triggers.
func removeRevisionLocked(s *secretState, rev int) {
	delete(s.Revisions, rev)
	delete(s.Expiry, rev)
	delete(s.ExpireNext, rev)
	delete(s.Obsolete, rev)
}

// parseExpiry reads the RFC3339 expiry the hook tools pass; "" is none.
func parseExpiry(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// nextSecretHookLocked is the uniter's secrets resolver for unit u (§3.10):
// the secret hook to run now, or nil and when the unit's next owner trigger
// is due (zero: none).
func (m *Model) nextSecretHookLocked(u *unitState, now time.Time) (*hookSpec, time.Time) {
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var owned []*secretState
	for _, uri := range sortedKeys(m.st.Secrets) {
		if s := m.st.Secrets[uri]; m.ownerOfLocked(s) == u.Name {
			owned = append(owned, s)
		}
	}
	// secret-expired: the most overdue revision first.
	var exp *hookSpec
	var expAt time.Time
	for _, s := range owned {
		for _, rev := range sortedRevisions(s.ExpireNext) {
			at := s.ExpireNext[rev]
			if _, ok := s.Revisions[rev]; !ok {
				continue
			}
			if at.After(now) {
				later(at)
				continue
			}
			if exp == nil || at.Before(expAt) {
				exp = &hookSpec{Kind: "secret-expired", Name: "secret-expired", SecretURI: s.URI, SecretLabel: s.Label, SecretRevision: rev}
				expAt = at
			}
		}
	}
	if exp != nil {
		return exp, time.Time{}
	}
	// secret-rotate: no revision; Version is the latest revision before the
	// hook, to tell at commit whether it added one.
	for _, s := range owned {
		if s.NextRotate.IsZero() || !willRotate(s.Rotate) {
			continue
		}
		if s.NextRotate.After(now) {
			later(s.NextRotate)
			continue
		}
		return &hookSpec{Kind: "secret-rotate", Name: "secret-rotate", SecretURI: s.URI, SecretLabel: s.Label, Version: s.Latest}, time.Time{}
	}
	// secret-changed on a consumer whose tracked revision is behind.
	for _, uri := range sortedKeys(m.st.Secrets) {
		s := m.st.Secrets[uri]
		tracked, ok := s.Tracked[u.Name]
		if !ok || tracked >= s.Latest || u.Local.SecretsSeen[uri] == s.Latest {
			continue
		}
		return &hookSpec{Kind: "secret-changed", Name: "secret-changed", SecretURI: uri, SecretLabel: s.ConsumerLabel[u.Name], Version: s.Latest}, time.Time{}
	}
	// secret-remove for obsolete revisions, once each.
	for _, s := range owned {
		for _, rev := range sortedRevisions(s.Obsolete) {
			if _, ok := s.Revisions[rev]; !ok || s.Obsolete[rev] {
				continue
			}
			return &hookSpec{Kind: "secret-remove", Name: "secret-remove", SecretURI: s.URI, SecretLabel: s.Label, SecretRevision: rev}, time.Time{}
		}
	}
	return nil, next
}

// secretHookDoneLocked records a committed owner-side secret hook.
func (m *Model) secretHookDoneLocked(h *hookSpec) {
	s := m.st.Secrets[h.SecretURI]
	if s == nil {
		return
	}
	now := time.Now()
	switch h.Kind {
	case "secret-remove":
		if _, ok := s.Obsolete[h.SecretRevision]; ok {
			s.Obsolete[h.SecretRevision] = true
		}
	case "secret-expired":
		// Still there and its expiry unchanged: run again after the retry
		// delay (juju/juju 3.6: internal/worker/secretexpire).
		if at, ok := s.ExpireNext[h.SecretRevision]; ok && !at.After(now) {
			s.ExpireNext[h.SecretRevision] = now.Add(m.scaleSecretLocked(secretRetryDelay))
		}
	case "secret-rotate":
		// juju/juju 3.6: apiserver/facades/agent/secretsmanager SecretsRotated.
		if !willRotate(s.Rotate) {
			s.NextRotate = time.Time{}
			return
		}
		last := s.NextRotate
		if last.IsZero() {
			last = now
		}
		next := m.nextRotateLocked(s.Rotate, last)
		forced := last.Add(m.scaleSecretLocked(secretRetryDelay))
		latestExpiry, expires := s.Expiry[s.Latest]
		willExpire := expires && latestExpiry.Before(next)
		if willExpire && forced.Before(latestExpiry) || s.Latest == h.Version {
			next = forced
		}
		s.NextRotate = next
	}
}

func sortedRevisions[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// SecretRevisions lists the stored revisions of a secret, like
// `juju show-secret --revisions`.
func (m *Model) SecretRevisions(uri string) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.st.Secrets[uri]
	if !ok {
		return nil, fmt.Errorf("secret %q not found", uri)
	}
	return sortedRevisions(s.Revisions), nil
}

// SetSecretRotateScale sets the secret-rotate-scale test knob (not a Juju
// setting): one hour of secret timing lasts d (0: real time).
func (m *Model) SetSecretRotateScale(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("secret-rotate-scale must not be negative")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st.SecretRotateScale = d
	m.notifyAllLocked()
	return m.saveLocked()
}
