package pgconf

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

var paramNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$`) })

// ParseExtraPgConf parses extra_pg_conf: postgresql.conf lines
// "name = value" (the "=" is optional, '#' starts a comment, values may be
// single-quoted with ” or \' for a quote). Each parameter must be in the
// server's catalogue (names with a dot are extension placeholders and are
// passed through), must not be read-only, and must not be one the charm
// owns (FixedParameters). A later line for the same parameter wins, as in
// postgresql.conf. Returned names are lower case; values are unquoted.
func ParseExtraPgConf(text string, cat Catalogue) (map[string]string, error) {
	out := map[string]string{}
	for i, raw := range strings.Split(text, "\n") {
		if r, ok := controlCharacter(raw); ok {
			// Patroni refuses to load a configuration holding one
			// (YAML's "unacceptable character"), and PostgreSQL would
			// not start.
			return nil, fmt.Errorf("line %d: control character %U", i+1, r)
		}
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, err := parseConfLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if owner, ok := FixedParameters[name]; ok {
			return nil, fmt.Errorf("line %d: %s is set by %s", i+1, name, owner)
		}
		if why, ok := UnsafeParameters[name]; ok {
			return nil, fmt.Errorf("line %d: %s may not be set here: %s", i+1, name, why)
		}
		if !strings.Contains(name, ".") {
			p, ok := cat[name]
			if !ok {
				return nil, fmt.Errorf("line %d: unknown parameter %s", i+1, name)
			}
			if p.Context == ContextInternal {
				return nil, fmt.Errorf("line %d: %s is read-only", i+1, name)
			}
			if err := p.checkValue(value); err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
		}
		out[name] = value
	}
	return out, nil
}

// parseConfLine splits one postgresql.conf line into a lower-case name and
// an unquoted value.
func parseConfLine(line string) (name, value string, err error) {
	i := strings.IndexFunc(line, func(r rune) bool { return r == '=' || r == ' ' || r == '\t' })
	if i < 0 {
		return "", "", fmt.Errorf("%q is not \"name = value\"", line)
	}
	name = strings.ToLower(line[:i])
	if !paramNameRE().MatchString(name) {
		return "", "", fmt.Errorf("%q is not a parameter name", line[:i])
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	if rest == "" || rest[0] == '#' {
		return "", "", fmt.Errorf("%s has no value", name)
	}
	var tail string
	if rest[0] == '\'' {
		value, tail, err = unquoteConf(rest)
		if err != nil {
			return "", "", fmt.Errorf("%s: %v", name, err)
		}
	} else {
		j := strings.IndexAny(rest, " \t#'")
		if j < 0 {
			j = len(rest)
		}
		value, tail = rest[:j], rest[j:]
	}
	tail = strings.TrimLeft(tail, " \t")
	if tail != "" && tail[0] != '#' {
		return "", "", fmt.Errorf("%s: unexpected %q after the value (quote values with spaces)", name, tail)
	}
	for _, r := range value {
		if r < 0x20 || r == 0x7f {
			return "", "", fmt.Errorf("%s: control characters are not allowed in a value", name)
		}
	}
	return name, value, nil
}

// unquoteConf reads a single-quoted postgresql.conf string at the start of
// s: ” and \' are quotes, \\ is a backslash, \b \f \n \r \t are their
// control characters (refused by the caller) and any other escaped
// character stands for itself.
func unquoteConf(s string) (value, tail string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated quoted value")
}

// controlCharacter finds a control character in a line: C0 (but tab and
// carriage return), DEL and C1 (U+0080 to U+009F).
func controlCharacter(line string) (rune, bool) {
	for _, r := range line {
		if (r < 0x20 && r != '\t' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return r, true
		}
	}
	return 0, false
}
