package juju

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// IsSecretKey must answer exactly as secretKeyPattern does.
func TestIsSecretKeyMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(secretKeyPattern)
	check := func(k string) {
		t.Helper()
		if got, want := IsSecretKey(k), re.MatchString(k); got != want {
			t.Fatalf("IsSecretKey(%q) = %v, the pattern says %v", k, got, want)
		}
	}
	for _, k := range []string{"", "key", "KEY", "Key", "\u212aey", "a-key", "a_key.b", "akey", "keys", "monkey", "key-", ".key",
		"private-key", "privatekey", "private--key", "PRIVATE.KEY", "api_key", "apikey", "api key", "session.id", "sessionid", "session-ID",
		"passw", "Pass\u017fword", "pwd", "secret", "token", "credentials", "privkey", "salt", "cookie", "event", "kind",
		"private\u212aey", "ke\xffy", "k\u00e9y", "-key-", "keykey", "x.keyy", "apiapi-key", "privateprivate_key"} {
		check(k)
	}
	// Random keys over the letters and separators the pattern cares about,
	// the runes that fold onto them, and others.
	alphabet := []string{"k", "K", "\u212a", "e", "E", "y", "Y", "-", "_", ".", " ", "s", "S", "\u017f", "p", "a", "i", "d",
		"w", "o", "r", "v", "t", "c", "n", "l", "\u00e9", "\xff", "private", "api", "session", "key", "passw", "salt", "cookie", "token"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := rnd.IntN(8); n >= 0; n-- {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		check(b.String())
	}
}
