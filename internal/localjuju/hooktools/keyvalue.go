package hooktools

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseKeyValues is juju/utils keyvalues.Parse(args, true): split on the
// first "=", trim key and value, an empty value is kept (it deletes), an
// empty key or a missing "=" and duplicate keys are errors (contract §2.1).
func parseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf(`expected "key=value", got %q`, kv)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %q specified more than once", k)
		}
		out[k] = v
	}
	return out, nil
}

// readInputFile reads a --file argument: "-" is stdin (errNeedStdin when the
// client did not send it), anything else a path relative to the client's
// directory.
func readInputFile(e *env, path string) ([]byte, error) {
	if path == "-" {
		if !e.in.StdinSet {
			return nil, errNeedStdin
		}
		return e.in.Stdin, nil
	}
	return os.ReadFile(absPath(e.in.Dir, expandHome(path)))
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return home + p[1:]
		}
	}
	return p
}

// parseSettingsFile decodes a YAML (or JSON, a YAML subset) map whose scalar
// values are taken as strings, as yaml.v2 does into map[string]string.
func parseSettingsFile(data []byte) (map[string]string, error) {
	out := map[string]string{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		// JSON with characters YAML refuses (tabs) still decodes.
		if jerr := json.Unmarshal(data, &out); jerr != nil {
			return nil, err
		}
	}
	return out, nil
}

// settingsWithFile merges a --file map under the key=value overrides.
func settingsWithFile(e *env, file string, overrides map[string]string) (map[string]string, error) {
	if file == "" {
		return overrides, nil
	}
	data, err := readInputFile(e, file)
	if err != nil {
		return nil, err
	}
	settings, err := parseSettingsFile(data)
	if err != nil {
		return nil, err
	}
	for k, v := range overrides {
		settings[k] = v
	}
	return settings, nil
}
