package pgconf

import (
	"bytes"
	"encoding/json"
	"strings"
)

// yamlQuote returns s as a YAML double-quoted scalar. It is the only escape
// function used for rendered YAML. A JSON string is a valid YAML flow scalar
// (YAML 1.2 is a superset of JSON, and PyYAML, which Patroni uses, accepts
// every escape encoding/json produces), so values containing quotes,
// newlines, '#', ':' or control characters stay one scalar. Invalid UTF-8 is
// replaced by U+FFFD rather than passed through.
func yamlQuote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		// Encoding a string cannot fail.
		panic("pgconf: encoding string: " + err.Error())
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
