package charmdir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// ActionNameRule is the action name regex of juju/charm v12.
var ActionNameRule = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// ActionSpec is one action of actions.yaml.
type ActionSpec struct {
	Description string
	// Params is the "params" map: parameter name → JSON schema.
	Params map[string]any
	// Required lists required parameter names (top-level "required").
	Required []string
	// AdditionalProperties is the top-level "additionalProperties" as
	// written; nil means absent, which Juju treats as false.
	AdditionalProperties *bool
	Parallel             bool
	ExecutionGroup       string
	// Schema is the full JSON schema Juju builds for the action: an object
	// with title, description, properties (= Params), required,
	// additionalProperties (default false) and any other top-level keys.
	Schema map[string]any
}

// ActionsSpec is actions.yaml.
type ActionsSpec struct {
	Actions map[string]ActionSpec
}

var prohibitedSchemaKeys = map[string]bool{"$ref": true, "$schema": true}

// ParseActions parses actions.yaml content like juju/charm v12
// ReadActionsYaml. charmName only matters for the "juju-" reservation,
// which does not apply to charms whose own name starts with "juju-".
func ParseActions(charmName string, data []byte) (*ActionsSpec, error) {
	var raw map[string]map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	out := &ActionsSpec{Actions: map[string]ActionSpec{}}
	for _, name := range sortedKeys(raw) {
		spec := raw[name]
		if !ActionNameRule.MatchString(name) {
			return nil, fmt.Errorf("bad action name %s", name)
		}
		if r, reason := reservedName(charmName, name); r {
			return nil, fmt.Errorf("cannot use action name %s: %s", name, reason)
		}
		a := ActionSpec{Description: "No description", Params: map[string]any{}}
		schema := map[string]any{
			"description":          a.Description,
			"type":                 "object",
			"title":                name,
			"properties":           map[string]any{},
			"additionalProperties": false,
		}
		for _, key := range sortedKeys(spec) {
			value := spec[key]
			switch key {
			case "description", "title":
				s, ok := value.(string)
				if !ok {
					return nil, fmt.Errorf("value for schema key %q must be a string", key)
				}
				schema[key] = s
				if key == "description" {
					a.Description = s
				}
			case "required":
				list, ok := value.([]any)
				if !ok {
					return nil, fmt.Errorf("value for schema key %q must be a YAML list", key)
				}
				schema[key] = list
				for _, r := range list {
					s, ok := r.(string)
					if !ok {
						return nil, fmt.Errorf("invalid params schema for action schema %s: required must be a list of strings", name)
					}
					a.Required = append(a.Required, s)
				}
			case "parallel":
				b, ok := value.(bool)
				if !ok {
					return nil, fmt.Errorf("value for schema key %q must be a bool", key)
				}
				a.Parallel = b
			case "execution-group":
				s, ok := value.(string)
				if !ok {
					return nil, fmt.Errorf("value for schema key %q must be a string", key)
				}
				a.ExecutionGroup = s
			case "params":
				c, err := cleanse(value)
				if err != nil {
					return nil, err
				}
				m, ok := c.(map[string]any)
				if !ok {
					if c != nil {
						return nil, fmt.Errorf("params failed to parse as a map")
					}
					m = map[string]any{}
				}
				schema["properties"] = m
				a.Params = m
			default:
				c, err := cleanse(value)
				if err != nil {
					return nil, err
				}
				schema[key] = c
				if key == "additionalProperties" {
					if b, ok := c.(bool); ok {
						a.AdditionalProperties = &b
					}
				}
			}
		}
		if err := checkSchema(schema, "(root)"); err != nil {
			return nil, fmt.Errorf("invalid params schema for action schema %s: %v", name, err)
		}
		a.Schema = schema
		out.Actions[name] = a
	}
	return out, nil
}

// cleanse rejects $ref/$schema anywhere in a schema.
func cleanse(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if prohibitedSchemaKeys[k] {
				return nil, fmt.Errorf("schema key %q not compatible with this version of juju", k)
			}
			c, err := cleanse(val)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for _, val := range t {
			c, err := cleanse(val)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	return v, nil
}

var jsonTypes = map[string]bool{"string": true, "integer": true, "number": true, "boolean": true, "array": true, "object": true, "null": true}

// checkSchema does the structural checks gojsonschema's NewSchema would do
// for the keywords this package evaluates.
func checkSchema(s map[string]any, path string) error {
	if t, ok := s["type"]; ok {
		types, ok := schemaTypes(t)
		if !ok {
			return fmt.Errorf("%s: invalid type %v", path, t)
		}
		for _, ty := range types {
			if !jsonTypes[ty] {
				return fmt.Errorf("%s: type must be one of the following: array, boolean, integer, null, number, object, string; got %q", path, ty)
			}
		}
	}
	for _, k := range []string{"minimum", "maximum"} {
		if v, ok := s[k]; ok {
			if _, ok := toFloat(v); !ok {
				return fmt.Errorf("%s: %s must be a number", path, k)
			}
		}
	}
	for _, k := range []string{"minLength", "maxLength", "minItems", "maxItems"} {
		if v, ok := s[k]; ok {
			if f, ok := toFloat(v); !ok || f < 0 || f != math.Trunc(f) {
				return fmt.Errorf("%s: %s must be a non-negative integer", path, k)
			}
		}
	}
	if p, ok := s["pattern"]; ok {
		ps, ok := p.(string)
		if !ok {
			return fmt.Errorf("%s: pattern must be a string", path)
		}
		if _, err := regexp.Compile(ps); err != nil {
			return fmt.Errorf("%s: invalid pattern %q: %v", path, ps, err)
		}
	}
	if e, ok := s["enum"]; ok {
		if _, ok := e.([]any); !ok {
			return fmt.Errorf("%s: enum must be an array", path)
		}
	}
	if r, ok := s["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return fmt.Errorf("%s: required must be an array", path)
		}
		for _, x := range list {
			if _, ok := x.(string); !ok {
				return fmt.Errorf("%s: required must be an array of strings", path)
			}
		}
	}
	if props, ok := s["properties"]; ok {
		pm, ok := props.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: properties must be an object", path)
		}
		for _, k := range sortedKeys(pm) {
			sub, ok := pm[k].(map[string]any)
			if !ok {
				return fmt.Errorf("%s.%s: schema must be an object", path, k)
			}
			if err := checkSchema(sub, path+"."+k); err != nil {
				return err
			}
		}
	}
	if ap, ok := s["additionalProperties"]; ok {
		switch x := ap.(type) {
		case bool:
		case map[string]any:
			if err := checkSchema(x, path); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: additionalProperties must be a boolean or an object", path)
		}
	}
	if it, ok := s["items"]; ok {
		switch x := it.(type) {
		case map[string]any:
			if err := checkSchema(x, path+".items"); err != nil {
				return err
			}
		case []any:
			for i, e := range x {
				sub, ok := e.(map[string]any)
				if !ok {
					return fmt.Errorf("%s.items.%d: schema must be an object", path, i)
				}
				if err := checkSchema(sub, fmt.Sprintf("%s.items.%d", path, i)); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: items must be an object or an array", path)
		}
	}
	return nil
}

func schemaTypes(t any) ([]string, bool) {
	switch x := t.(type) {
	case string:
		return []string{x}, true
	case []any:
		var out []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// UnknownActionError is returned by Validate for an action the charm does
// not define.
type UnknownActionError struct {
	Name string
	Unit string // optional, for Juju's `... not defined on unit "x/0"`
}

func (e *UnknownActionError) Error() string {
	if e.Unit != "" {
		return fmt.Sprintf("action %q not defined on unit %q", e.Name, e.Unit)
	}
	return fmt.Sprintf("action %q not defined", e.Name)
}

// Validate checks params against the action's schema and returns a copy
// with schema defaults filled in. As Juju's state PrepareActionPayload, the
// params are validated first and defaults inserted afterwards (so a
// required parameter with a default must still be given). Errors read like
// Juju's (juju/gojsonschema wording):
//
//	validation failed: (root).outfile : must be of type string, given 5
//	validation failed: (root) : "outfile" property is missing and required, given {"quality":5}
//	validation failed: (root) : additional property "bar" is not allowed, given {"bar":"foo"}
func (a ActionsSpec) Validate(name string, params map[string]any) (map[string]any, error) {
	if name == "" {
		return nil, fmt.Errorf("no action name given")
	}
	spec, ok := a.Actions[name]
	if !ok {
		return nil, &UnknownActionError{Name: name}
	}
	return spec.ValidateParams(params)
}

// ValidateParams validates params against this action's schema and returns
// a copy with defaults inserted.
func (spec ActionSpec) ValidateParams(params map[string]any) (map[string]any, error) {
	schema := spec.Schema
	if schema == nil {
		schema = spec.buildSchema()
	}
	doc := normalizeJSON(params)
	if doc == nil {
		doc = map[string]any{}
	}
	var errs []string
	validateValue(schema, doc, "(root)", &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("validation failed: %s", strings.Join(errs, "; "))
	}
	out := doc.(map[string]any)
	insertDefaults(schema, out)
	return out, nil
}

func (spec ActionSpec) buildSchema() map[string]any {
	s := map[string]any{"type": "object", "properties": spec.Params, "additionalProperties": false}
	if spec.AdditionalProperties != nil {
		s["additionalProperties"] = *spec.AdditionalProperties
	}
	if len(spec.Required) > 0 {
		req := make([]any, len(spec.Required))
		for i, r := range spec.Required {
			req[i] = r
		}
		s["required"] = req
	}
	return s
}

// normalizeJSON deep-copies v, turning Go numeric types into float64-free
// canonical forms: ints stay int64, floats stay float64, and typed maps
// and slices become map[string]any / []any.
func normalizeJSON(v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = normalizeJSON(val)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[fmt.Sprint(k)] = normalizeJSON(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = normalizeJSON(val)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = val
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = val
		}
		return out
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case int64:
		return t
	case uint64:
		if t <= math.MaxInt64 {
			return int64(t)
		}
		return float64(t)
	case float32:
		return float64(t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float64:
		return t, true
	case float32:
		return float64(t), true
	}
	return 0, false
}

func jsonTypeOf(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case int64, int:
		return "integer"
	case float64:
		if t == math.Trunc(t) && !math.IsInf(t, 0) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(want, got string) bool {
	return want == got || (want == "number" && got == "integer")
}

// given renders a value as gojsonschema does in its messages: compact JSON.
func given(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func jsonEqual(a, b any) bool {
	fa, oka := toFloat(a)
	fb, okb := toFloat(b)
	if oka && okb {
		return fa == fb
	}
	return given(normalizeJSON(a)) == given(normalizeJSON(b))
}

func validateValue(s map[string]any, v any, path string, errs *[]string) {
	add := func(format string, args ...any) {
		*errs = append(*errs, fmt.Sprintf("%s : %s, given %s", path, fmt.Sprintf(format, args...), given(v)))
	}
	if t, ok := s["type"]; ok {
		types, _ := schemaTypes(t)
		got := jsonTypeOf(v)
		ok := false
		for _, want := range types {
			if typeMatches(want, got) {
				ok = true
			}
		}
		if !ok {
			add("must be of type %s", strings.Join(types, ", "))
			return
		}
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, allowed := range e {
			if jsonEqual(allowed, v) {
				found = true
				break
			}
		}
		if !found {
			vals := make([]string, len(e))
			for i, x := range e {
				vals[i] = given(x)
			}
			add("must be one of the following: %s", strings.Join(vals, ", "))
		}
	}
	switch x := v.(type) {
	case string:
		n := float64(len([]rune(x)))
		if m, ok := toFloat(s["minLength"]); ok && n < m {
			add("string length must be greater than or equal to %v", m)
		}
		if m, ok := toFloat(s["maxLength"]); ok && n > m {
			add("string length must be less than or equal to %v", m)
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err == nil && !re.MatchString(x) {
				add("does not match pattern '%s'", p)
			}
		}
	case int64, float64:
		f, _ := toFloat(x)
		if m, ok := toFloat(s["minimum"]); ok {
			if s["exclusiveMinimum"] == true && f <= m {
				add("must be greater than %v", m)
			} else if f < m {
				add("must be greater than or equal to %v", m)
			}
		}
		if m, ok := toFloat(s["maximum"]); ok {
			if s["exclusiveMaximum"] == true && f >= m {
				add("must be less than %v", m)
			} else if f > m {
				add("must be less than or equal to %v", m)
			}
		}
	case []any:
		n := float64(len(x))
		if m, ok := toFloat(s["minItems"]); ok && n < m {
			add("array must have at least %v items", m)
		}
		if m, ok := toFloat(s["maxItems"]); ok && n > m {
			add("array must have at most %v items", m)
		}
		switch it := s["items"].(type) {
		case map[string]any:
			for i, e := range x {
				validateValue(it, e, fmt.Sprintf("%s.%d", path, i), errs)
			}
		case []any:
			for i, e := range x {
				if i < len(it) {
					if sub, ok := it[i].(map[string]any); ok {
						validateValue(sub, e, fmt.Sprintf("%s.%d", path, i), errs)
					}
				}
			}
		}
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				if _, present := x[name]; !present {
					add("%q property is missing and required", name)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for _, k := range sortedKeys(x) {
			if _, known := props[k]; known {
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					add("additional property %q is not allowed", k)
				}
			case map[string]any:
				validateValue(ap, x[k], path+"."+k, errs)
			}
		}
		for _, k := range sortedKeys(props) {
			val, present := x[k]
			if !present {
				continue
			}
			if sub, ok := props[k].(map[string]any); ok {
				validateValue(sub, val, path+"."+k, errs)
			}
		}
	}
}

// insertDefaults fills missing properties that declare a default, and
// recurses into nested objects that are present.
func insertDefaults(s map[string]any, target map[string]any) {
	props, _ := s["properties"].(map[string]any)
	for k, ps := range props {
		sub, ok := ps.(map[string]any)
		if !ok {
			continue
		}
		if cur, present := target[k]; present {
			if m, ok := cur.(map[string]any); ok {
				insertDefaults(sub, m)
			}
			continue
		}
		if d, ok := sub["default"]; ok {
			target[k] = normalizeJSON(d)
		}
	}
}

// actionKeyRule is the key rule of `juju run` arguments.
var actionKeyRule = ActionNameRule

// ParseActionArgs parses `juju run unit action key=value ...` arguments as
// the Juju 3.x CLI does: split on the first "=", dotted keys build nested
// maps, each key segment must match ^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$, and
// values are parsed as YAML scalars with YAML 1.1 rules as yaml.v2 does
// ("5" → int, "true"/"yes"/"on" → bool, "1.5" → float, "~"/"null" → nil,
// anything else → string). Later arguments override earlier ones.
func ParseActionArgs(args []string) (map[string]any, error) {
	return ParseActionParams(nil, args, false)
}

// ParseActionParams builds `juju run` parameters as its Run does: the YAML
// map of --params (file; nil for none) first, then each key=value argument
// set into it, so arguments win and dotted keys merge into the file's maps.
// With stringArgs (--string-args) argument values stay strings; the file's
// values keep their YAML types either way.
func ParseActionParams(file []byte, args []string, stringArgs bool) (map[string]any, error) {
	out, err := parseParamsFile(file)
	if err != nil {
		return nil, err
	}
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("argument %q must be of the form key...=value", arg)
		}
		keys := strings.Split(k, ".")
		for _, key := range keys {
			if !actionKeyRule.MatchString(key) {
				return nil, fmt.Errorf("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", key)
			}
		}
		var val any = v
		if !stringArgs {
			if val, err = parseYAMLValue(v); err != nil {
				return nil, err
			}
		}
		setNested(out, keys, val)
	}
	return out, nil
}

// setNested sets keys[0].keys[1]...=val, replacing a non-map on the way by
// a map (juju's addValueToMap).
func setNested(m map[string]any, keys []string, val any) {
	for _, key := range keys[:len(keys)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[key] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = val
}

// parseParamsFile reads a --params file: a YAML map, keys strings at every
// level (juju's ConformYAML).
func parseParamsFile(data []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(data) == 0 {
		return out, nil
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("reading params file: %w", err)
	}
	if raw == nil {
		return out, nil
	}
	conformed, err := conformYAML(raw)
	if err != nil {
		return nil, err
	}
	m, ok := conformed.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("params must contain a YAML map with string keys")
	}
	return m, nil
}

// conformYAML turns maps keyed by any into maps keyed by string, and ints
// into int64 as ParseActionArgs gives them.
func conformYAML(v any) (any, error) {
	switch t := v.(type) {
	case map[any]any:
		m := map[string]any{}
		for k, val := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("map keyed with non-string value")
			}
			m[ks] = val
		}
		return conformYAML(m)
	case map[string]any:
		for k, val := range t {
			c, err := conformYAML(val)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case []any:
		for i, val := range t {
			c, err := conformYAML(val)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	}
	return normalizeYAML(v), nil
}

var (
	yaml11True  = map[string]bool{"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true}
	yaml11False = map[string]bool{"n": true, "N": true, "no": true, "No": true, "NO": true, "off": true, "Off": true, "OFF": true}
)

func parseYAMLValue(s string) (any, error) {
	if yaml11True[s] {
		return true, nil
	}
	if yaml11False[s] {
		return false, nil
	}
	var v any = s
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s) == "" {
		return s, nil
	}
	return normalizeYAML(v), nil
}

// normalizeYAML turns yaml.v3 ints into int64 and keeps everything else.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case map[string]any:
		for k, val := range t {
			t[k] = normalizeYAML(val)
		}
	case []any:
		for i, val := range t {
			t[i] = normalizeYAML(val)
		}
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
