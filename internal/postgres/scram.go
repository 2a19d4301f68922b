package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ScramIterations is PostgreSQL's default scram_iterations.
const ScramIterations = 4096

// ScramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>", with a
// 16-byte salt read from rand (crypto/rand.Reader in production).
//
// PostgreSQL normalises passwords with SASLprep; for printable ASCII that is
// the identity, which is why CheckPassword refuses anything else.
func ScramVerifier(password string, rand io.Reader) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("generating salt: %w", err)
	}
	return scramVerifier(password, salt, ScramIterations)
}

func scramVerifier(password string, salt []byte, iter int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

var verifierRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^SCRAM-SHA-256\$([0-9]+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)
})

// VerifierMatches reports whether a stored verifier (pg_authid.rolpassword)
// is one for password, so a password is only changed when it differs.
func VerifierMatches(verifier, password string) bool {
	m := verifierRE().FindStringSubmatch(verifier)
	if m == nil {
		return false
	}
	iter, err := strconv.Atoi(m[1])
	if err != nil || iter <= 0 || iter > 1<<24 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		return false
	}
	again, err := scramVerifier(password, salt, iter)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(again), []byte(verifier)) == 1
}

// MinPasswordLength is the shortest password set-password accepts.
const MinPasswordLength = 16

// CheckPassword refuses passwords the charm will not set: shorter than
// MinPasswordLength, or with characters outside printable ASCII (SASLprep
// would change those, and they are hard to pass through every tool).
func CheckPassword(p string) error {
	if len(p) < MinPasswordLength {
		return fmt.Errorf("password is shorter than %d characters", MinPasswordLength)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r > 0x7e }); i >= 0 {
		return fmt.Errorf("password has a character outside printable ASCII at position %d", i)
	}
	return nil
}
