package postgres

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestScramVerifier(t *testing.T) {
	// A fixed salt gives a fixed verifier; this one was checked by logging
	// in to PostgreSQL 15 with a role whose rolpassword was set to it.
	v, err := ScramVerifier("correct horse battery staple", bytes.NewReader(make([]byte, 16)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$") || !verifierRE().MatchString(v) {
		t.Errorf("verifier %q", v)
	}
	if !VerifierMatches(v, "correct horse battery staple") {
		t.Error("verifier does not match its password")
	}
	if VerifierMatches(v, "correct horse battery stapler") || VerifierMatches("md5abc", "x") || VerifierMatches("", "") {
		t.Error("verifier matches a wrong password")
	}
	w, _ := ScramVerifier("correct horse battery staple", rand.Reader)
	if w == v {
		t.Error("random salts gave the same verifier")
	}
}

func TestCheckPassword(t *testing.T) {
	for p, ok := range map[string]bool{
		"short":                      false,
		"exactly-16-chars":           true,
		"sixteen chars but ü umlaut": false,
		"tab\tinside the password":   false,
		"a'quote\"and\\backslash$ok": true,
	} {
		if err := CheckPassword(p); (err == nil) != ok {
			t.Errorf("CheckPassword(%q) = %v", p, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for n, ok := range map[string]bool{
		"app_user": true, "relation-12": true, "_x": true,
		"": false, "pg_monitor": false, "a b": false, "x\x00": false, "1abc": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false, `q"uote`: false,
	} {
		err := CheckName(n)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalidName)) {
			t.Errorf("CheckName(%q) = %v", n, err)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	a, err := GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GeneratePassword()
	if len(a) < 32 || a == b || CheckPassword(a) != nil {
		t.Errorf("passwords %q %q", a, b)
	}
}
