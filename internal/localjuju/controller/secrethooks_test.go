package controller

import (
	"reflect"
	"testing"
	"time"
)

func secretModel(scale time.Duration) *Model {
	return &Model{st: &state{
		SecretRotateScale: scale,
		Apps:              map[string]*appState{"pg": {Name: "pg", Leader: "pg/0"}},
		Secrets:           map[string]*secretState{},
	}}
}

func TestNextRotate(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 10, 0, 0, 0, time.UTC)
	real := secretModel(0)
	for policy, want := range map[string]time.Time{
		"hourly":  t0.Add(time.Hour),
		"daily":   t0.AddDate(0, 0, 1),
		"monthly": time.Date(2024, 3, 2, 10, 0, 0, 0, time.UTC), // calendar months, as Juju's AddDate
		"never":   {},
	} {
		if got := real.nextRotateLocked(policy, t0); !got.Equal(want) {
			t.Errorf("%s: %v, want %v", policy, got, want)
		}
	}
	scaled := secretModel(6 * time.Second)
	for policy, want := range map[string]time.Duration{"hourly": 6 * time.Second, "daily": 144 * time.Second, "weekly": 1008 * time.Second} {
		if got := scaled.nextRotateLocked(policy, t0).Sub(t0); got != want {
			t.Errorf("scaled %s: %v, want %v", policy, got, want)
		}
	}
	if got := scaled.scaleSecretLocked(secretRetryDelay); got != 500*time.Millisecond {
		t.Errorf("scaled retry delay %v", got)
	}
}

func TestMarkObsolete(t *testing.T) {
	s := &secretState{
		Revisions: map[int]map[string]string{1: {}, 2: {}, 3: {}},
		Tracked:   map[string]int{"a/0": 1, "b/0": 2},
	}
	// b/0 moves from 2 to 3: 2 is tracked by nobody else, 1 still is.
	markObsoleteLocked(s, "b/0", 3)
	if want := map[int]bool{2: false}; !reflect.DeepEqual(s.Obsolete, want) {
		t.Fatalf("obsolete %v, want %v", s.Obsolete, want)
	}
	s.Obsolete[2] = true // its secret-remove ran
	s.Tracked["b/0"] = 3
	s.Tracked["a/0"] = 3
	markObsoleteLocked(s, "a/0", 3)
	if want := map[int]bool{1: false, 2: true}; !reflect.DeepEqual(s.Obsolete, want) {
		t.Fatalf("obsolete %v, want %v (each revision once)", s.Obsolete, want)
	}
}

func TestSecretHookOrderAndRotation(t *testing.T) {
	m := secretModel(6 * time.Second)
	now := time.Now()
	s := &secretState{
		URI: "secret://m/x", OwnerApp: "pg", Label: "l", Rotate: "hourly", Latest: 2,
		Revisions:  map[int]map[string]string{1: {}, 2: {}},
		NextRotate: now.Add(-time.Second),
		ExpireNext: map[int]time.Time{1: now.Add(-time.Second)},
		Expiry:     map[int]time.Time{1: now.Add(-time.Second)},
		Obsolete:   map[int]bool{1: false},
	}
	m.st.Secrets[s.URI] = s
	leader, other := &unitState{Name: "pg/0", App: "pg"}, &unitState{Name: "pg/1", App: "pg"}
	if h, next := m.nextSecretHookLocked(other, now); h != nil || !next.IsZero() {
		t.Fatalf("a non-leader got %v (next %v)", h, next)
	}
	var order []string
	for i := 0; i < 4; i++ {
		h, _ := m.nextSecretHookLocked(leader, now)
		if h == nil {
			break
		}
		order = append(order, h.Name)
		if h.Kind == "secret-rotate" {
			h.Version = 1 // the hook set revision 2
		}
		m.secretHookDoneLocked(h)
	}
	if want := []string{"secret-expired", "secret-rotate", "secret-remove"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// A new revision: next rotation one period after the one that fired.
	if got, want := s.NextRotate, now.Add(-time.Second).Add(6*time.Second); !got.Equal(want) {
		t.Errorf("next rotate %v, want %v", got, want)
	}
	// Nothing due now: the agent wakes for the expiry retry (0.5s).
	h, next := m.nextSecretHookLocked(leader, now)
	if h != nil || next.Sub(now) > time.Second || next.Sub(now) <= 0 {
		t.Errorf("after the hooks: %v, next in %v", h, next.Sub(now))
	}
	// No new revision: retried after the retry delay.
	s.NextRotate = now
	m.secretHookDoneLocked(&hookSpec{Kind: "secret-rotate", SecretURI: s.URI, Version: 2})
	if got := s.NextRotate.Sub(now); got != 500*time.Millisecond {
		t.Errorf("rotation retry after %v", got)
	}
}
