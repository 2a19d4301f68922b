package juju

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces a secret in log output and errors.
const Redacted = "***"

// secretKeyPattern is the rule IsSecretKey implements without compiling it
// (a no-op dispatch logs attributes, and compiling this expression was a
// measurable part of its start-up): keys whose value is a secret —
// passwords, secrets, tokens, credentials and key material. It errs on the
// side of hiding.
const secretKeyPattern = `(?i)(passw|pwd|secret|token|credential|private[-_.]?key|privkey|api[-_.]?key|(^|[-_.])key($|[-_.])|salt|cookie|session[-_.]?id)`

// IsSecretKey reports whether a key (a log attribute, databag key, action
// result or config name) names a secret value: whether secretKeyPattern
// matches it.
func IsSecretKey(key string) bool {
	f := foldKey(key)
	for _, w := range []string{"passw", "pwd", "secret", "token", "credential", "privkey", "salt", "cookie"} {
		if strings.Contains(f, w) {
			return true
		}
	}
	return hasSeparated(f, "private", "key") || hasSeparated(f, "api", "key") ||
		hasSeparated(f, "session", "id") || hasBoundedKey(f)
}

// foldKey maps key to ASCII as (?i) matching sees it against the pattern's
// ASCII letters: every rune becomes the lower-case ASCII letter of its
// Unicode simple-fold orbit (the Kelvin sign is "k", the long s is "s"),
// other ASCII stays, and any other rune (or invalid byte) becomes 0, which
// nothing in the pattern matches.
func foldKey(key string) string {
	b := make([]byte, 0, len(key))
	for _, r := range key {
		if r >= utf8.RuneSelf {
			low := r
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				low = min(low, f)
			}
			if low >= utf8.RuneSelf {
				b = append(b, 0)
				continue
			}
			r = low
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

func isKeySep(c byte) bool { return c == '-' || c == '_' || c == '.' }

// hasSeparated reports whether f contains a+b or a, one of "-_.", then b.
func hasSeparated(f, a, b string) bool {
	for i := 0; ; {
		j := strings.Index(f[i:], a)
		if j < 0 {
			return false
		}
		rest := f[i+j+len(a):]
		if strings.HasPrefix(rest, b) || (rest != "" && isKeySep(rest[0]) && strings.HasPrefix(rest[1:], b)) {
			return true
		}
		i += j + 1
	}
}

// hasBoundedKey reports whether f contains "key" at its start or after one
// of "-_.", and at its end or before one of them.
func hasBoundedKey(f string) bool {
	for i := 0; ; {
		j := strings.Index(f[i:], "key")
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+3
		if (at == 0 || isKeySep(f[at-1])) && (end == len(f) || isKeySep(f[end])) {
			return true
		}
		i = at + 1
	}
}

// urlPassword matches the password in "scheme://user:password@host".
var urlPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]+@`) })

// pemKey matches a PEM private key block.
var pemKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`)
})

// Redactor hides secret values in strings. Values are registered as the
// charm reads or creates them (secret content, generated passwords); every
// occurrence is then replaced by Redacted. It is safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	values []string // longest first, so a secret containing another is hidden whole
}

// Register adds secret values; empty ones are ignored.
func (r *Redactor) Register(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if v == "" || slices.Contains(r.values, v) {
			continue
		}
		r.values = append(r.values, v)
	}
	slices.SortFunc(r.values, func(a, b string) int { return len(b) - len(a) })
}

// Redact returns s with every registered value, URL password and PEM
// private key replaced.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, v := range r.values {
			s = strings.ReplaceAll(s, v, Redacted)
		}
		r.mu.RUnlock()
	}
	if strings.Contains(s, "://") {
		s = urlPassword().ReplaceAllString(s, "${1}"+Redacted+"@")
	}
	if strings.Contains(s, "PRIVATE KEY-----") {
		s = pemKey().ReplaceAllString(s, Redacted)
	}
	return s
}
