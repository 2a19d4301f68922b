package charmdir

import (
	"fmt"
	"math"
	"net/url"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Option is one config.yaml option. Default is already coerced to the
// option's type: string, int64, float64, bool, or nil.
type Option struct {
	Type        string
	Default     any
	Description string
}

// ConfigSpec is config.yaml.
type ConfigSpec struct {
	Options map[string]Option
}

// ParseConfig parses config.yaml content like juju/charm ReadConfig: a
// missing type means "string"; an unknown type or a default that does not
// fit the type is an error.
func ParseConfig(data []byte) (*ConfigSpec, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("invalid config: empty configuration")
	}
	optsRaw, present := raw["options"]
	if !present {
		return nil, fmt.Errorf("invalid config: empty configuration")
	}
	spec := &ConfigSpec{Options: map[string]Option{}}
	if optsRaw == nil {
		return spec, nil
	}
	opts, ok := optsRaw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("invalid config: options: expected map, got %s", describe(optsRaw))
	}
	for name, ov := range opts {
		om, ok := ov.(map[string]any)
		if !ok && ov != nil {
			return nil, fmt.Errorf("invalid config: option %q: expected map, got %s", name, describe(ov))
		}
		opt := Option{}
		if t, ok := om["type"]; ok && t != nil {
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("invalid config: option %q has unknown type %q", name, fmt.Sprint(t))
			}
			opt.Type = s
		}
		if d, ok := om["description"].(string); ok {
			opt.Description = d
		}
		switch opt.Type {
		case "string", "secret", "int", "float", "boolean":
		case "":
			opt.Type = "string"
		default:
			return nil, fmt.Errorf("invalid config: option %q has unknown type %q", name, opt.Type)
		}
		def := om["default"]
		if def == "" && (opt.Type == "string" || opt.Type == "secret") {
			opt.Default = ""
		} else {
			v, err := opt.validate(name, def)
			if err != nil {
				return nil, fmt.Errorf("invalid config default: %v", err)
			}
			opt.Default = v
		}
		spec.Options[name] = opt
	}
	return spec, nil
}

func (o Option) typeError(name string, value any) error {
	return fmt.Errorf("option %q expected %s, got %#v", name, o.Type, value)
}

// validate coerces a typed value (from YAML) to the option's type; nil is
// always valid. It follows juju/schema's checkers: int accepts integers and
// integral floats, float accepts any number, boolean accepts bools, string
// and secret accept strings (secret: a secret:// URI or "").
func (o Option) validate(name string, value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	switch o.Type {
	case "string":
		if s, ok := value.(string); ok {
			return s, nil
		}
	case "secret":
		if s, ok := value.(string); ok {
			if s == "" {
				return "", nil
			}
			if u, err := url.Parse(s); err == nil && u.Scheme == "secret" {
				return s, nil
			}
		}
	case "int":
		switch v := value.(type) {
		case int:
			return int64(v), nil
		case int64:
			return v, nil
		case uint64:
			if v <= math.MaxInt64 {
				return int64(v), nil
			}
		case float64:
			if v == math.Trunc(v) && !math.IsInf(v, 0) {
				return int64(v), nil
			}
		}
	case "float":
		switch v := value.(type) {
		case int:
			return float64(v), nil
		case int64:
			return float64(v), nil
		case uint64:
			return float64(v), nil
		case float64:
			return v, nil
		}
	case "boolean":
		if b, ok := value.(bool); ok {
			return b, nil
		}
	default:
		return nil, fmt.Errorf("option %q has unknown type %q", name, o.Type)
	}
	return nil, o.typeError(name, value)
}

// parse converts a command-line string to the option's type, like
// juju/charm Option.parse (strconv parsers: "1e3" is not an int, "t"/"1"
// are booleans).
func (o Option) parse(name, str string) (any, error) {
	switch o.Type {
	case "string":
		return str, nil
	case "secret":
		return o.validate(name, str)
	case "int":
		if v, err := strconv.ParseInt(str, 10, 64); err == nil {
			return v, nil
		}
	case "float":
		if v, err := strconv.ParseFloat(str, 64); err == nil {
			return v, nil
		}
	case "boolean":
		if v, err := strconv.ParseBool(str); err == nil {
			return v, nil
		}
	default:
		return nil, fmt.Errorf("option %q has unknown type %q", name, o.Type)
	}
	return nil, o.typeError(name, str)
}

func (c ConfigSpec) option(name string) (Option, error) {
	if o, ok := c.Options[name]; ok {
		return o, nil
	}
	return Option{}, fmt.Errorf("unknown option %q", name)
}

// Defaults returns every option's default (nil where there is none).
func (c ConfigSpec) Defaults() map[string]any {
	out := make(map[string]any, len(c.Options))
	for name, o := range c.Options {
		out[name] = o.Default
	}
	return out
}

// ParseSettings converts `juju config app k=v` strings to typed values.
// An empty string maps to nil, meaning "reset to the default". Errors:
// `unknown option "x"`, `option "port" expected int, got "abc"`.
func (c ConfigSpec) ParseSettings(kv map[string]string) (map[string]any, error) {
	out := make(map[string]any, len(kv))
	for _, name := range sortedKeys(kv) {
		str := kv[name]
		o, err := c.option(name)
		if err != nil {
			return nil, err
		}
		if str == "" {
			out[name] = nil
			continue
		}
		v, err := o.parse(name, str)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// ParseYAMLFile parses `juju config app --file f.yaml` / `juju deploy
// --config f.yaml` content, {<app>: {key: value}}, like juju/charm
// ParseSettingsYAML: string values are parsed per the option type, other
// values must have the right type; null and "" map to nil (reset).
func (c ConfigSpec) ParseYAMLFile(data []byte, app string) (map[string]any, error) {
	var all map[string]map[string]any
	if err := yaml.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("cannot parse settings data: %v", err)
	}
	settings, ok := all[app]
	if !ok {
		return nil, fmt.Errorf("no settings found for %q", app)
	}
	out := make(map[string]any, len(settings))
	for _, name := range sortedKeys(settings) {
		value := settings[name]
		o, err := c.option(name)
		if err != nil {
			return nil, err
		}
		var v any
		if s, ok := value.(string); ok {
			if s == "" {
				out[name] = nil
				continue
			}
			v, err = o.parse(name, s)
		} else {
			v, err = o.validate(name, value)
		}
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// Validate type-checks already-typed settings (e.g. stored state), returning
// coerced copies; nil values are kept (they mean "default").
func (c ConfigSpec) Validate(settings map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(settings))
	for _, name := range sortedKeys(settings) {
		o, err := c.option(name)
		if err != nil {
			return nil, err
		}
		v, err := o.validate(name, settings[name])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// Effective returns what config-get prints: defaults overlaid with the set
// values (nil in set means unset); options whose value is nil are left
// out unless all is true, in which case they appear as nil. Keys of set
// that are not options are ignored.
func (c ConfigSpec) Effective(set map[string]any, all bool) map[string]any {
	out := map[string]any{}
	for name, o := range c.Options {
		v := o.Default
		if sv, ok := set[name]; ok && sv != nil {
			v = sv
		}
		if v == nil && !all {
			continue
		}
		out[name] = v
	}
	return out
}
