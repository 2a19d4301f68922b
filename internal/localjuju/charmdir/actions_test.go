package charmdir

import (
	"errors"
	"reflect"
	"testing"
)

const testActionsYAML = `
snapshot:
  description: Take a snapshot of the database.
  params:
    outfile:
      description: The file to write out to.
      type: string
      minLength: 3
      maxLength: 12
      pattern: "^[a-z0-9.-]+$"
    quality:
      type: integer
      minimum: 0
      maximum: 9
      default: 5
    ratio:
      type: number
      minimum: 0
      maximum: 1
      exclusiveMaximum: true
    mode:
      type: string
      enum: [full, incremental]
      default: full
    verbose:
      type: boolean
    tags:
      type: array
      items:
        type: string
      minItems: 1
      maxItems: 2
    target:
      type: object
      properties:
        host:
          type: string
        port:
          type: integer
          default: 5432
      required: [host]
      additionalProperties: false
  required: [outfile]
open:
  description: No params, extra keys allowed.
  additionalProperties: true
bare:
  description: No params and no additionalProperties.
`

func testActions(t *testing.T) *ActionsSpec {
	t.Helper()
	a, err := ParseActions("postgresql", []byte(testActionsYAML))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseActionsBuildsJujuSchema(t *testing.T) {
	a := testActions(t)
	snap := a.Actions["snapshot"]
	if snap.Schema["additionalProperties"] != false || snap.Schema["title"] != "snapshot" || snap.Schema["type"] != "object" {
		t.Errorf("schema: %#v", snap.Schema)
	}
	if !reflect.DeepEqual(snap.Required, []string{"outfile"}) {
		t.Errorf("required %v", snap.Required)
	}
	if a.Actions["bare"].AdditionalProperties != nil {
		t.Errorf("absent additionalProperties must stay nil in the spec")
	}
	if ap := a.Actions["open"].AdditionalProperties; ap == nil || !*ap {
		t.Errorf("additionalProperties true not recorded")
	}
	if a.Actions["bare"].Description != "No params and no additionalProperties." {
		t.Errorf("description")
	}
	noDesc, err := ParseActions("pg", []byte("x:\n  params: {}\n"))
	if err != nil || noDesc.Actions["x"].Description != "No description" {
		t.Errorf("default description: %v %v", noDesc, err)
	}
}

func TestValidateActionParams(t *testing.T) {
	a := testActions(t)
	tests := []struct {
		sentence string
		action   string
		params   map[string]any
		want     map[string]any
		wantErr  string
	}{
		{"valid params get defaults filled in", "snapshot", map[string]any{"outfile": "out.bz2"},
			map[string]any{"outfile": "out.bz2", "quality": int64(5), "mode": "full"}, ""},
		{"nested defaults are filled in present objects", "snapshot", map[string]any{"outfile": "out.bz2", "target": map[string]any{"host": "h"}},
			map[string]any{"outfile": "out.bz2", "quality": int64(5), "mode": "full", "target": map[string]any{"host": "h", "port": int64(5432)}}, ""},
		{"a float with an integral value is an integer and is kept as given", "snapshot", map[string]any{"outfile": "out", "quality": 7.0},
			map[string]any{"outfile": "out", "quality": 7.0, "mode": "full"}, ""},
		{"an integer is a number", "snapshot", map[string]any{"outfile": "out", "ratio": 0},
			map[string]any{"outfile": "out", "ratio": int64(0), "quality": int64(5), "mode": "full"}, ""},
		{"extra params are refused by default", "bare", map[string]any{"x": 1}, nil,
			`validation failed: (root) : additional property "x" is not allowed, given {"x":1}`},
		{"extra params are allowed with additionalProperties true", "open", map[string]any{"x": 1},
			map[string]any{"x": int64(1)}, ""},
		{"nil params are an empty object", "bare", nil, map[string]any{}, ""},
		{"a missing required param is named", "snapshot", map[string]any{"quality": 5}, nil,
			`validation failed: (root) : "outfile" property is missing and required, given {"quality":5}`},
		{"a wrong type is named with its path", "snapshot", map[string]any{"outfile": 5}, nil,
			`validation failed: (root).outfile : must be of type string, given 5`},
		{"a string is not an integer", "snapshot", map[string]any{"outfile": "out", "quality": "two"}, nil,
			`validation failed: (root).quality : must be of type integer, given "two"`},
		{"a fraction is not an integer", "snapshot", map[string]any{"outfile": "out", "quality": 2.5}, nil,
			`validation failed: (root).quality : must be of type integer, given 2.5`},
		{"a string is not a boolean", "snapshot", map[string]any{"outfile": "out", "verbose": "true"}, nil,
			`validation failed: (root).verbose : must be of type boolean, given "true"`},
		{"a scalar is not an array", "snapshot", map[string]any{"outfile": "out", "tags": "a"}, nil,
			`validation failed: (root).tags : must be of type array, given "a"`},
		{"a scalar is not an object", "snapshot", map[string]any{"outfile": "out", "target": "h"}, nil,
			`validation failed: (root).target : must be of type object, given "h"`},
		{"a value outside the enum is refused", "snapshot", map[string]any{"outfile": "out", "mode": "partial"}, nil,
			`validation failed: (root).mode : must be one of the following: "full", "incremental", given "partial"`},
		{"a value below the minimum is refused", "snapshot", map[string]any{"outfile": "out", "quality": -1}, nil,
			`validation failed: (root).quality : must be greater than or equal to 0, given -1`},
		{"a value above the maximum is refused", "snapshot", map[string]any{"outfile": "out", "quality": 10}, nil,
			`validation failed: (root).quality : must be less than or equal to 9, given 10`},
		{"an exclusive maximum excludes the bound", "snapshot", map[string]any{"outfile": "out", "ratio": 1}, nil,
			`validation failed: (root).ratio : must be less than 1, given 1`},
		{"a short string is refused", "snapshot", map[string]any{"outfile": "ab"}, nil,
			`validation failed: (root).outfile : string length must be greater than or equal to 3, given "ab"`},
		{"a long string is refused", "snapshot", map[string]any{"outfile": "abcdefghijklm"}, nil,
			`validation failed: (root).outfile : string length must be less than or equal to 12, given "abcdefghijklm"`},
		{"a string not matching the pattern is refused", "snapshot", map[string]any{"outfile": "Out!"}, nil,
			`validation failed: (root).outfile : does not match pattern '^[a-z0-9.-]+$', given "Out!"`},
		{"too few array items are refused", "snapshot", map[string]any{"outfile": "out", "tags": []any{}}, nil,
			`validation failed: (root).tags : array must have at least 1 items, given []`},
		{"too many array items are refused", "snapshot", map[string]any{"outfile": "out", "tags": []any{"a", "b", "c"}}, nil,
			`validation failed: (root).tags : array must have at most 2 items, given ["a","b","c"]`},
		{"array items are checked", "snapshot", map[string]any{"outfile": "out", "tags": []any{"a", 2}}, nil,
			`validation failed: (root).tags.1 : must be of type string, given 2`},
		{"nested required params are checked", "snapshot", map[string]any{"outfile": "out", "target": map[string]any{"port": 1}}, nil,
			`validation failed: (root).target : "host" property is missing and required, given {"port":1}`},
		{"nested additional properties are checked", "snapshot", map[string]any{"outfile": "out", "target": map[string]any{"host": "h", "db": "x"}}, nil,
			`validation failed: (root).target : additional property "db" is not allowed, given {"db":"x","host":"h"}`},
		{"several errors are joined", "snapshot", map[string]any{"quality": "x", "mode": 1}, nil,
			`validation failed: (root) : "outfile" property is missing and required, given {"mode":1,"quality":"x"}; (root).mode : must be of type string, given 1; (root).quality : must be of type integer, given "x"`},
		{"an unknown action is refused", "nope", nil, nil, `action "nope" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			got, err := a.Validate(tt.action, tt.params)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got  %v\nwant %s", err, tt.wantErr)
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

func TestValidateDoesNotMutateInput(t *testing.T) {
	a := testActions(t)
	in := map[string]any{"outfile": "out"}
	if _, err := a.Validate("snapshot", in); err != nil {
		t.Fatal(err)
	}
	if len(in) != 1 {
		t.Errorf("input was mutated: %#v", in)
	}
}

func TestUnknownActionErrorNamesUnit(t *testing.T) {
	_, err := testActions(t).Validate("nope", nil)
	var ua *UnknownActionError
	if !errors.As(err, &ua) {
		t.Fatalf("want *UnknownActionError, got %T", err)
	}
	ua.Unit = "postgresql/0"
	if ua.Error() != `action "nope" not defined on unit "postgresql/0"` {
		t.Errorf("got %q", ua.Error())
	}
}

func TestParseActionArgs(t *testing.T) {
	tests := []struct {
		sentence string
		args     []string
		want     map[string]any
		wantErr  string
	}{
		{"an integer string becomes an int", []string{"n=5"}, map[string]any{"n": int64(5)}, ""},
		{"a decimal becomes a float", []string{"r=0.5"}, map[string]any{"r": 0.5}, ""},
		{"true becomes a bool", []string{"b=true"}, map[string]any{"b": true}, ""},
		{"YAML 1.1 yes/off are bools as with yaml.v2", []string{"a=yes", "b=off"}, map[string]any{"a": true, "b": false}, ""},
		{"a word stays a string", []string{"s=hello"}, map[string]any{"s": "hello"}, ""},
		{"a quoted number stays a string", []string{`s="5"`}, map[string]any{"s": "5"}, ""},
		{"the value may contain =", []string{"q=a=b"}, map[string]any{"q": "a=b"}, ""},
		{"an empty value is an empty string", []string{"e="}, map[string]any{"e": ""}, ""},
		{"null becomes nil", []string{"z=null"}, map[string]any{"z": nil}, ""},
		{"a flow list is parsed", []string{"l=[1, a]"}, map[string]any{"l": []any{int64(1), "a"}}, ""},
		{"dotted keys build nested maps", []string{"target.host=db", "target.port=5432"},
			map[string]any{"target": map[string]any{"host": "db", "port": int64(5432)}}, ""},
		{"later arguments override earlier ones", []string{"n=1", "n=2"}, map[string]any{"n": int64(2)}, ""},
		{"an argument without = is refused", []string{"oops"}, nil, `argument "oops" must be of the form key...=value`},
		{"an upper-case key is refused", []string{"Key=1"}, nil, `key "Key" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`},
		{"an empty key segment is refused", []string{"a..b=1"}, nil, `key "" must start and end with lowercase alphanumeric`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			got, err := ParseActionArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || len(err.Error()) < len(tt.wantErr) || err.Error()[:len(tt.wantErr)] != tt.wantErr {
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

func TestParseActionParams(t *testing.T) {
	file := []byte("outfile: from-file\nquality: 3\ntarget:\n  host: db\n  port: 5432\n")
	tests := []struct {
		sentence   string
		file       []byte
		args       []string
		stringArgs bool
		want       map[string]any
		wantErr    string
	}{
		{"the file alone keeps its YAML types", file, nil, false,
			map[string]any{"outfile": "from-file", "quality": int64(3), "target": map[string]any{"host": "db", "port": int64(5432)}}, ""},
		{"arguments win and dotted keys merge into the file's maps", file, []string{"outfile=x", "target.port=6432"}, false,
			map[string]any{"outfile": "x", "quality": int64(3), "target": map[string]any{"host": "db", "port": int64(6432)}}, ""},
		{"--string-args keeps argument values strings, not the file's", file, []string{"quality=4", "target.port=6432"}, true,
			map[string]any{"outfile": "from-file", "quality": "4", "target": map[string]any{"host": "db", "port": "6432"}}, ""},
		{"a dotted key over a scalar replaces it with a map", []byte("target: x\n"), []string{"target.host=db"}, false,
			map[string]any{"target": map[string]any{"host": "db"}}, ""},
		{"an empty file is no params", []byte(""), []string{"n=1"}, false, map[string]any{"n": int64(1)}, ""},
		{"a file that is not a map is refused", []byte("- a\n- b\n"), nil, false, nil, "params must contain a YAML map with string keys"},
		{"non-string keys are refused", []byte("1: a\n"), nil, false, nil, "map keyed with non-string value"},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			got, err := ParseActionParams(tt.file, tt.args, tt.stringArgs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
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

func TestParsedArgsValidate(t *testing.T) {
	a := testActions(t)
	params, err := ParseActionArgs([]string{"outfile=out.bz2", "quality=3", "target.host=db"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Validate("snapshot", params)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"outfile": "out.bz2", "quality": int64(3), "mode": "full", "target": map[string]any{"host": "db", "port": int64(5432)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
