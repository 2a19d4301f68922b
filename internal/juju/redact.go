package juju

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret in log output and errors.
const Redacted = "***"

// secretKey matches keys whose value is a secret: passwords, secrets,
// tokens, credentials and key material. It errs on the side of hiding.
// Compiled on first use: a no-op dispatch should not pay for it.
var secretKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(passw|pwd|secret|token|credential|private[-_.]?key|privkey|api[-_.]?key|(^|[-_.])key($|[-_.])|salt|cookie|session[-_.]?id)`)
})

// IsSecretKey reports whether a key (a log attribute, databag key, action
// result or config name) names a secret value.
func IsSecretKey(key string) bool { return secretKey().MatchString(key) }

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
