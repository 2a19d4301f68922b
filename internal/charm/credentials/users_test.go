package credentials

import (
	"strings"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestUsersTable(t *testing.T) {
	content, err := NewSystemUsers("pg", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(content) != len(Users)+2 {
		t.Fatalf("%d entries for %d users and the CA", len(content), len(Users))
	}
	if err := CAFrom(content).Check(); err != nil {
		t.Errorf("the new secret's CA: %v", err)
	}
	p, err := PasswordsFrom(content)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range Users {
		pw := u.PasswordOf(p)
		if pw == "" || pw != content[u.SecretKey] || seen[pw] {
			t.Errorf("%s: password %q from key %s (generated passwords must differ)", u.Name, pw, u.SecretKey)
		}
		seen[pw] = true
		if got, ok := Lookup(u.Name); !ok || got.SecretKey != u.SecretKey {
			t.Errorf("Lookup(%s) = %+v, %v", u.Name, got, ok)
		}
	}
	if _, ok := Lookup("postgres"); ok {
		t.Error("Lookup found a user that is no system user")
	}
	if op, _ := Lookup(pgconf.OperatorUser); !op.Role || len(op.Attributes) != 1 {
		t.Errorf("the operator is a superuser role: %+v", op)
	}
}

func TestPasswordsFromRefusesAMissingPassword(t *testing.T) {
	content, _ := NewSystemUsers("pg", time.Now())
	delete(content, "etcd-password")
	if _, err := PasswordsFrom(content); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("err = %v, want one naming etcd", err)
	}
}

func TestWithPasswordCountsTheGeneration(t *testing.T) {
	content, _ := NewSystemUsers("pg", time.Now())
	u, _ := Lookup(pgconf.RewindUser)
	next := WithPassword(content, u, "a-new-password-of-enough-length")
	if next[u.SecretKey] != "a-new-password-of-enough-length" || next[GenerationKey] != "1" {
		t.Errorf("first rotation: %v", next)
	}
	if content[u.SecretKey] == next[u.SecretKey] || content[GenerationKey] != "" {
		t.Error("WithPassword changed its input")
	}
	if again := WithPassword(next, u, "x"); again[GenerationKey] != "2" {
		t.Errorf("second rotation: generation %q", again[GenerationKey])
	}
}

func TestCAFromASecretBeforeTLS(t *testing.T) {
	content, _ := NewSystemUsers("pg", time.Now())
	delete(content, CACertKey)
	delete(content, CAKeyKey)
	if ca := CAFrom(content); len(ca.CertPEM) != 0 || len(ca.KeyPEM) != 0 {
		t.Errorf("CAFrom a secret without a CA = %+v", ca)
	}
}
