package postgres

import (
	"fmt"

	"github.com/sethvargo/go-password/password"
)

// PasswordLength is the length of generated passwords.
const PasswordLength = 32

// GeneratePassword returns a new random password of PasswordLength letters
// and digits. No symbols: the password goes through URIs, YAML, pgpass
// files and shells, where symbols need quoting each time.
func GeneratePassword() (string, error) {
	p, err := password.Generate(PasswordLength, 10, 0, false, true)
	if err != nil {
		return "", fmt.Errorf("generating password: %w", err)
	}
	return p, nil
}
