package juju

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// EndpointRole is how a charm takes part in a relation.
type EndpointRole string

// Endpoint roles, as metadata.yaml's sections name them.
const (
	RoleProvides EndpointRole = "provides"
	RoleRequires EndpointRole = "requires"
	RolePeer     EndpointRole = "peers"
)

// Metadata is the part of metadata.yaml the charm's runtime needs.
type Metadata struct {
	Name     string                 `yaml:"name"`
	Summary  string                 `yaml:"summary"`
	Provides map[string]EndpointDef `yaml:"provides"`
	Requires map[string]EndpointDef `yaml:"requires"`
	Peers    map[string]EndpointDef `yaml:"peers"`
	Storage  map[string]StorageDef  `yaml:"storage"`
}

// EndpointDef is one relation endpoint.
type EndpointDef struct {
	Interface string `yaml:"interface"`
	Limit     int    `yaml:"limit,omitempty"`
	Scope     string `yaml:"scope,omitempty"`
	Optional  bool   `yaml:"optional,omitempty"`
}

// StorageDef is one storage declaration.
type StorageDef struct {
	Type     string `yaml:"type"`
	Location string `yaml:"location,omitempty"`
}

// ParseMetadata parses metadata.yaml.
func ParseMetadata(data []byte) (*Metadata, error) {
	var m Metadata
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parsing metadata.yaml: %w", err)
	}
	if m.Name == "" {
		return nil, fmt.Errorf("parsing metadata.yaml: no name")
	}
	seen := map[string]EndpointRole{}
	for role, eps := range map[EndpointRole]map[string]EndpointDef{RoleProvides: m.Provides, RoleRequires: m.Requires, RolePeer: m.Peers} {
		for name, def := range eps {
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("parsing metadata.yaml: endpoint %q in both %s and %s", name, prev, role)
			}
			if def.Interface == "" {
				return nil, fmt.Errorf("parsing metadata.yaml: endpoint %q has no interface", name)
			}
			seen[name] = role
		}
	}
	return &m, nil
}

// LoadMetadata reads <charmDir>/metadata.yaml.
func LoadMetadata(charmDir string) (*Metadata, error) {
	data, err := os.ReadFile(filepath.Join(charmDir, "metadata.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading charm metadata: %w", err)
	}
	return ParseMetadata(data)
}

// Endpoint returns an endpoint's role and definition. A nil Metadata knows
// no endpoints.
func (m *Metadata) Endpoint(name string) (EndpointRole, EndpointDef, bool) {
	if m == nil {
		return "", EndpointDef{}, false
	}
	if d, ok := m.Provides[name]; ok {
		return RoleProvides, d, true
	}
	if d, ok := m.Requires[name]; ok {
		return RoleRequires, d, true
	}
	if d, ok := m.Peers[name]; ok {
		return RolePeer, d, true
	}
	return "", EndpointDef{}, false
}

// HasEndpoint reports whether the charm declares the endpoint.
func (m *Metadata) HasEndpoint(name string) bool {
	_, _, ok := m.Endpoint(name)
	return ok
}

// IsPeer reports whether the endpoint is a peer relation.
func (m *Metadata) IsPeer(name string) bool {
	role, _, _ := m.Endpoint(name)
	return role == RolePeer
}

// HasStorage reports whether the charm declares the storage.
func (m *Metadata) HasStorage(name string) bool {
	if m == nil {
		return false
	}
	_, ok := m.Storage[name]
	return ok
}

// ConfigOption is one option of config.yaml.
type ConfigOption struct {
	Type        string `yaml:"type"`
	Default     any    `yaml:"default"`
	Description string `yaml:"description"`
}

// ConfigSpec is config.yaml.
type ConfigSpec struct {
	Options map[string]ConfigOption `yaml:"options"`
}

// ParseConfigSpec parses config.yaml and checks every type is one Juju
// knows and every default fits its type.
func ParseConfigSpec(data []byte) (*ConfigSpec, error) {
	var c ConfigSpec
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parsing config.yaml: %w", err)
	}
	for name, o := range c.Options {
		if o.Default == nil {
			continue
		}
		if err := CheckConfigValue(o.Type, o.Default); err != nil {
			return nil, fmt.Errorf("parsing config.yaml: option %q: default: %w", name, err)
		}
	}
	return &c, nil
}

// CheckConfigValue reports whether v (as YAML or JSON decodes it) fits a
// config option type.
func CheckConfigValue(typ string, v any) error {
	ok := false
	switch typ {
	case "string", "secret":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "int":
		switch n := v.(type) {
		case int, int64:
			ok = true
		case float64:
			ok = n == float64(int64(n))
		case interface{ Int64() (int64, error) }:
			_, err := n.Int64()
			ok = err == nil
		}
	case "float":
		switch v.(type) {
		case int, int64, float64, interface{ Float64() (float64, error) }:
			ok = true
		}
	default:
		return fmt.Errorf("unknown option type %q", typ)
	}
	if !ok {
		return fmt.Errorf("%v (%T) is not a %s", v, v, typ)
	}
	return nil
}

// LoadConfigSpec reads <charmDir>/config.yaml.
func LoadConfigSpec(charmDir string) (*ConfigSpec, error) {
	data, err := os.ReadFile(filepath.Join(charmDir, "config.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading charm config: %w", err)
	}
	return ParseConfigSpec(data)
}

// ActionSpec is one action of actions.yaml.
type ActionSpec struct {
	Description          string         `yaml:"description"`
	Params               map[string]any `yaml:"params"`
	Required             []string       `yaml:"required"`
	AdditionalProperties *bool          `yaml:"additionalProperties"`
	Parallel             bool           `yaml:"parallel"`
	ExecutionGroup       string         `yaml:"execution-group"`
}

// ParseActions parses actions.yaml.
func ParseActions(data []byte) (map[string]ActionSpec, error) {
	var a map[string]ActionSpec
	if err := yaml.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("parsing actions.yaml: %w", err)
	}
	return a, nil
}
