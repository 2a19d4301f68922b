package charmdir

import (
	"reflect"
	"strings"
	"testing"
)

func testConfig(t *testing.T) *ConfigSpec {
	t.Helper()
	c, err := ParseConfig([]byte(`
options:
  name:
    type: string
    default: pg
  empty:
    type: string
    default: ""
  port:
    type: int
    default: 5432
  ratio:
    type: float
    default: 1
  tls:
    type: boolean
    default: false
  password:
    type: secret
  untyped:
    description: no type means string
  nodefault:
    type: int
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseConfigDefaults(t *testing.T) {
	c := testConfig(t)
	want := map[string]any{
		"name": "pg", "empty": "", "port": int64(5432), "ratio": float64(1), "tls": false,
		"password": nil, "untyped": nil, "nodefault": nil,
	}
	if got := c.Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %#v, want %#v", got, want)
	}
	if c.Options["untyped"].Type != "string" {
		t.Errorf("a missing type must mean string")
	}
}

func TestParseConfigRejectsBadDefaults(t *testing.T) {
	tests := []struct {
		sentence, yaml, wantErr string
	}{
		{"a string default for an int is rejected", "options:\n  p:\n    type: int\n    default: x\n", `invalid config default: option "p" expected int, got "x"`},
		{"a fractional default for an int is rejected", "options:\n  p:\n    type: int\n    default: 1.5\n", `invalid config default: option "p" expected int, got 1.5`},
		{"a string default for a boolean is rejected", "options:\n  p:\n    type: boolean\n    default: maybe\n", `invalid config default: option "p" expected boolean, got "maybe"`},
		{"a number default for a string is rejected", "options:\n  p:\n    type: string\n    default: 5\n", `invalid config default: option "p" expected string, got 5`},
		{"a non-secret URI default is rejected", "options:\n  p:\n    type: secret\n    default: http://x\n", `invalid config default: option "p" expected secret, got "http://x"`},
		{"an unknown type is rejected", "options:\n  p:\n    type: map\n", `invalid config: option "p" has unknown type "map"`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	c := testConfig(t)
	tests := []struct {
		sentence string
		key, val string
		want     any
		wantErr  string
	}{
		{"a string stays a string", "name", "main", "main", ""},
		{"an untyped option takes strings", "untyped", "42", "42", ""},
		{"an int is parsed", "port", "6543", int64(6543), ""},
		{"a negative int is parsed", "port", "-1", int64(-1), ""},
		{"a float is parsed", "ratio", "0.25", 0.25, ""},
		{"an integer is a valid float", "ratio", "3", float64(3), ""},
		{"true is a boolean", "tls", "true", true, ""},
		{"strconv spellings are booleans", "tls", "F", false, ""},
		{"a secret URI is accepted", "password", "secret://abc/123", "secret://abc/123", ""},
		{"an empty value resets to the default", "port", "", nil, ""},
		{"an empty string value resets too", "name", "", nil, ""},
		{"a word is not an int", "port", "abc", nil, `option "port" expected int, got "abc"`},
		{"a float is not an int", "port", "1.5", nil, `option "port" expected int, got "1.5"`},
		{"a word is not a float", "ratio", "half", nil, `option "ratio" expected float, got "half"`},
		{"yes is not a boolean", "tls", "yes", nil, `option "tls" expected boolean, got "yes"`},
		{"a plain string is not a secret", "password", "hunter2", nil, `option "password" expected secret, got "hunter2"`},
		{"an unknown key is rejected", "nope", "1", nil, `unknown option "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			got, err := c.ParseSettings(map[string]string{tt.key: tt.val})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, present := got[tt.key]
			if !present || !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %#v (present %v), want %#v", v, present, tt.want)
			}
		})
	}
}

func TestParseYAMLFile(t *testing.T) {
	c := testConfig(t)
	tests := []struct {
		sentence string
		yaml     string
		want     map[string]any
		wantErr  string
	}{
		{"typed values are checked and coerced", "postgresql:\n  port: 6000\n  ratio: 2\n  tls: true\n  name: x\n",
			map[string]any{"port": int64(6000), "ratio": float64(2), "tls": true, "name": "x"}, ""},
		{"string values are parsed per type", "postgresql:\n  port: \"6000\"\n  tls: \"false\"\n",
			map[string]any{"port": int64(6000), "tls": false}, ""},
		{"null and empty reset", "postgresql:\n  port: null\n  name: \"\"\n",
			map[string]any{"port": nil, "name": nil}, ""},
		{"other applications are ignored", "postgresql:\n  port: 1\nother:\n  nope: 1\n", map[string]any{"port": int64(1)}, ""},
		{"a missing application is an error", "other:\n  port: 1\n", nil, `no settings found for "postgresql"`},
		{"a wrong type is an error", "postgresql:\n  tls: 5\n", nil, `option "tls" expected boolean, got 5`},
		{"an unknown option is an error", "postgresql:\n  nope: 5\n", nil, `unknown option "nope"`},
		{"broken YAML is an error", "postgresql: [\n", nil, `cannot parse settings data`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			got, err := c.ParseYAMLFile([]byte(tt.yaml), "postgresql")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	c := testConfig(t)
	set := map[string]any{"port": int64(6000), "name": nil, "password": "secret://m/x", "gone": 1}
	got := c.Effective(set, false)
	want := map[string]any{"name": "pg", "empty": "", "port": int64(6000), "ratio": float64(1), "tls": false, "password": "secret://m/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config-get shows %#v, want %#v", got, want)
	}
	all := c.Effective(set, true)
	for _, k := range []string{"untyped", "nodefault"} {
		if v, ok := all[k]; !ok || v != nil {
			t.Errorf("--all must list %s as nil, got %#v (%v)", k, v, ok)
		}
	}
	if _, ok := all["gone"]; ok {
		t.Errorf("keys that are not options must not show up")
	}
}

func TestValidateTypedSettings(t *testing.T) {
	c := testConfig(t)
	got, err := c.Validate(map[string]any{"port": 7, "ratio": 2, "tls": nil})
	if err != nil {
		t.Fatal(err)
	}
	if got["port"] != int64(7) || got["ratio"] != float64(2) || got["tls"] != nil {
		t.Errorf("coercion: %#v", got)
	}
	if _, err := c.Validate(map[string]any{"port": "7"}); err == nil || err.Error() != `option "port" expected int, got "7"` {
		t.Errorf("got %v", err)
	}
}
