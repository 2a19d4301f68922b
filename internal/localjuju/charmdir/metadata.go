package charmdir

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Relation roles.
const (
	RoleProvider = "provider"
	RoleRequirer = "requirer"
	RolePeer     = "peer"
)

// Relation scopes.
const (
	ScopeGlobal    = "global"
	ScopeContainer = "container"
)

// Storage types.
const (
	StorageFilesystem = "filesystem"
	StorageBlock      = "block"
)

// Relation is one endpoint of provides/requires/peers.
type Relation struct {
	Name      string
	Role      string // provider, requirer, peer
	Interface string
	Limit     int // 0: no limit given
	Scope     string
	Optional  bool
}

// Storage is one entry of the metadata "storage" map.
type Storage struct {
	Name        string
	Description string
	Type        string // filesystem or block
	Shared      bool
	ReadOnly    bool
	CountMin    int // default 1
	CountMax    int // default 1; -1 means unbounded
	MinimumSize uint64
	Location    string
	Properties  []string
}

// Metadata is the content of metadata.yaml that localjuju cares about.
type Metadata struct {
	Name           string
	Summary        string
	Description    string
	Subordinate    bool
	Provides       map[string]Relation
	Requires       map[string]Relation
	Peers          map[string]Relation
	ExtraBindings  []string
	Storage        map[string]Storage
	Series         []string // v1 only
	MinJujuVersion string   // v1 only
	Assumes        any      // v2, kept raw
	Containers     map[string]any
	CharmUser      string
	Resources      map[string]any
	Raw            map[string]any // the whole document
}

// Relations returns every endpoint keyed by name.
func (m Metadata) Relations() map[string]Relation {
	out := map[string]Relation{}
	for _, src := range []map[string]Relation{m.Provides, m.Requires, m.Peers} {
		for k, v := range src {
			out[k] = v
		}
	}
	return out
}

// Hooks returns the set of hook names valid for this charm (unit, secret,
// relation and storage hooks), as juju/charm Meta.Hooks does.
func (m Metadata) Hooks() map[string]bool {
	out := map[string]bool{}
	for _, h := range unitHooks {
		out[h] = true
	}
	for name := range m.Relations() {
		for _, h := range relationHooks {
			out[name+"-"+h] = true
		}
	}
	for name := range m.Storage {
		for _, h := range storageHooks {
			out[name+"-"+h] = true
		}
	}
	for name := range m.Containers {
		for _, h := range workloadHooks {
			out[name+"-"+h] = true
		}
	}
	return out
}

var (
	unitHooks = []string{
		"install", "start", "config-changed", "upgrade-charm", "stop", "remove",
		"collect-metrics", "meter-status-changed", "leader-elected", "leader-deposed",
		"leader-settings-changed", "update-status", "pre-series-upgrade", "post-series-upgrade",
		"secret-changed", "secret-expired", "secret-remove", "secret-rotate",
	}
	relationHooks = []string{"relation-created", "relation-joined", "relation-changed", "relation-departed", "relation-broken"}
	storageHooks  = []string{"storage-attached", "storage-detaching"}
	workloadHooks = []string{"pebble-ready", "pebble-custom-notice", "pebble-check-failed", "pebble-check-recovered"}
)

// endpointNameRule is juju/names' relation (endpoint) name snippet. Juju
// itself only enforces it when endpoints are used (integrate); localjuju
// rejects bad names when the charm is read.
var endpointNameRule = regexp.MustCompile(`^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$`)

// ParseMetadata parses and validates metadata.yaml content. Errors mimic
// juju/charm's ("metadata: name: expected string, got nothing",
// "ambiguous metadata: keys ... cannot be used with ...", and Meta.Check's
// `charm "x" ...` messages).
func ParseMetadata(data []byte) (*Metadata, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		raw = map[string]any{}
	}
	if err := ensureUnambiguousFormat(raw); err != nil {
		return nil, err
	}
	m := &Metadata{Raw: raw}
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &m.Name}, {"summary", &m.Summary}, {"description", &m.Description}} {
		v, ok := raw[f.key]
		if !ok || v == nil {
			return nil, fmt.Errorf("metadata: %s: expected string, got nothing", f.key)
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("metadata: %s: expected string, got %s", f.key, describe(v))
		}
		*f.dst = s
	}
	if v, ok := raw["subordinate"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("metadata: subordinate: expected bool, got %s", describe(v))
		}
		m.Subordinate = b
	}
	if m.Provides, err = parseRelations(raw["provides"], "provides", RoleProvider); err != nil {
		return nil, err
	}
	if m.Requires, err = parseRelations(raw["requires"], "requires", RoleRequirer); err != nil {
		return nil, err
	}
	if m.Peers, err = parseRelations(raw["peers"], "peers", RolePeer); err != nil {
		return nil, err
	}
	if v, ok := raw["extra-bindings"]; ok {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("metadata: extra-bindings: expected map, got %s", describe(v))
		}
		for k, val := range mm {
			if k == "" {
				return nil, fmt.Errorf("metadata: extra-bindings: expected non-empty binding name, got string(\"\")")
			}
			if val != nil {
				return nil, fmt.Errorf("metadata: extra-bindings.%s: expected empty value, got %s", k, describe(val))
			}
			m.ExtraBindings = append(m.ExtraBindings, k)
		}
		sort.Strings(m.ExtraBindings)
		if len(m.ExtraBindings) == 0 {
			return nil, fmt.Errorf("charm %q has invalid extra bindings: extra bindings cannot be empty when specified", m.Name)
		}
	}
	if m.Storage, err = parseStorage(raw["storage"]); err != nil {
		return nil, err
	}
	if v, ok := raw["series"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("metadata: series: expected list, got %s", describe(v))
		}
		for i, s := range list {
			str, ok := s.(string)
			if !ok {
				return nil, fmt.Errorf("metadata: series[%d]: expected string, got %s", i, describe(s))
			}
			m.Series = append(m.Series, str)
		}
	}
	if v, ok := raw["min-juju-version"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("metadata: min-juju-version: expected string, got %s", describe(v))
		}
		m.MinJujuVersion = s
	}
	m.Assumes = raw["assumes"]
	if v, ok := raw["containers"].(map[string]any); ok {
		m.Containers = v
	}
	if v, ok := raw["resources"].(map[string]any); ok {
		m.Resources = v
	}
	if v, ok := raw["charm-user"]; ok && v != nil {
		s, _ := v.(string)
		switch s {
		case "root", "sudoer", "non-root":
			m.CharmUser = s
		default:
			return nil, fmt.Errorf("parsing charm-user: invalid charm-user %q expected one of root, sudoer or non-root", fmt.Sprint(v))
		}
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// ensureUnambiguousFormat mirrors juju/charm: v1-only keys may not be mixed
// with v2-only keys.
func ensureUnambiguousFormat(raw map[string]any) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	format := 0
	var matched, mismatched []string
	for _, key := range keys {
		detected := 0
		switch key {
		case "containers", "assumes", "charm-user":
			detected = 2
		case "series", "deployment", "min-juju-version":
			detected = 1
		}
		if detected == 0 {
			continue
		}
		if format == 0 {
			format = detected
		}
		if format == detected {
			matched = append(matched, key)
		} else {
			mismatched = append(mismatched, key)
		}
	}
	if mismatched != nil {
		return fmt.Errorf("ambiguous metadata: keys %s cannot be used with %s",
			`"`+strings.Join(mismatched, `", "`)+`"`,
			`"`+strings.Join(matched, `", "`)+`"`)
	}
	return nil
}

func parseRelations(v any, section, role string) (map[string]Relation, error) {
	if v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("metadata: %s: expected map, got %s", section, describe(v))
	}
	out := map[string]Relation{}
	for name, rv := range mm {
		path := section + "." + name
		rel := Relation{Name: name, Role: role, Scope: ScopeGlobal}
		switch r := rv.(type) {
		case string:
			rel.Interface = r
		case map[string]any:
			iface, ok := r["interface"].(string)
			if !ok {
				return nil, fmt.Errorf("metadata: %s.interface: expected string, got %s", path, describe(r["interface"]))
			}
			rel.Interface = iface
			if l, ok := r["limit"]; ok && l != nil {
				n, ok := l.(int)
				if !ok {
					return nil, fmt.Errorf("metadata: %s.limit: expected int, got %s", path, describe(l))
				}
				rel.Limit = n
			}
			if s, ok := r["scope"]; ok {
				str, _ := s.(string)
				if str != ScopeGlobal && str != ScopeContainer {
					return nil, fmt.Errorf("metadata: %s.scope: expected \"global\" or \"container\", got %s", path, describe(s))
				}
				rel.Scope = str
			}
			if o, ok := r["optional"]; ok {
				b, ok := o.(bool)
				if !ok {
					return nil, fmt.Errorf("metadata: %s.optional: expected bool, got %s", path, describe(o))
				}
				rel.Optional = b
			}
		default:
			return nil, fmt.Errorf("metadata: %s: expected string or map, got %s", path, describe(rv))
		}
		out[name] = rel
	}
	return out, nil
}

var storageCountRE = regexp.MustCompile(`^([0-9]+)([-+]|-[0-9]+)$`)

func parseStorage(v any) (map[string]Storage, error) {
	if v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("metadata: storage: expected map, got %s", describe(v))
	}
	out := map[string]Storage{}
	for name, sv := range mm {
		path := "storage." + name
		sm, ok := sv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("metadata: %s: expected map, got %s", path, describe(sv))
		}
		st := Storage{Name: name, CountMin: 1, CountMax: 1}
		t, present := sm["type"]
		if !present || t == nil {
			return nil, fmt.Errorf("metadata: %s.type: expected \"filesystem\" or \"block\", got nothing", path)
		}
		ts, _ := t.(string)
		if ts != StorageFilesystem && ts != StorageBlock {
			return nil, fmt.Errorf("metadata: %s.type: expected \"filesystem\" or \"block\", got %s", path, describe(t))
		}
		st.Type = ts
		for key, dst := range map[string]*bool{"shared": &st.Shared, "read-only": &st.ReadOnly} {
			if b, ok := sm[key]; ok {
				bb, ok := b.(bool)
				if !ok {
					return nil, fmt.Errorf("metadata: %s.%s: expected bool, got %s", path, key, describe(b))
				}
				*dst = bb
			}
		}
		for key, dst := range map[string]*string{"location": &st.Location, "description": &st.Description} {
			if s, ok := sm[key]; ok {
				ss, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("metadata: %s.%s: expected string, got %s", path, key, describe(s))
				}
				*dst = ss
			}
		}
		if mv, ok := sm["multiple"]; ok {
			mmap, ok := mv.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("metadata: %s.multiple: expected map, got %s", path, describe(mv))
			}
			min, max, err := parseStorageRange(mmap["range"], path+".multiple.range")
			if err != nil {
				return nil, err
			}
			st.CountMin, st.CountMax = min, max
		}
		if ms, ok := sm["minimum-size"]; ok {
			size, err := parseSize(fmt.Sprint(ms))
			if err != nil {
				return nil, fmt.Errorf("metadata: %s.minimum-size: %v", path, err)
			}
			st.MinimumSize = size
		}
		if pv, ok := sm["properties"]; ok {
			list, ok := pv.([]any)
			if !ok {
				return nil, fmt.Errorf("metadata: %s.properties: expected list, got %s", path, describe(pv))
			}
			for i, p := range list {
				if p != "transient" {
					return nil, fmt.Errorf("metadata: %s.properties[%d]: expected \"transient\", got %s", path, i, describe(p))
				}
				st.Properties = append(st.Properties, "transient")
			}
		}
		out[name] = st
	}
	return out, nil
}

func parseStorageRange(v any, path string) (int, int, error) {
	switch r := v.(type) {
	case int:
		if r <= 0 {
			return 0, 0, fmt.Errorf("metadata: %s: invalid count %d", path, r)
		}
		return r, r, nil
	case string:
		m := storageCountRE.FindStringSubmatch(r)
		if m == nil {
			return 0, 0, fmt.Errorf("metadata: %s: value %q does not match 'm', 'm-n', or 'm+'", path, r)
		}
		min, _ := strconv.Atoi(m[1])
		if len(m[2]) == 1 {
			return min, -1, nil
		}
		max, _ := strconv.Atoi(m[2][1:])
		return min, max, nil
	}
	return 0, 0, fmt.Errorf("metadata: %s: expected int or string, got %s", path, describe(v))
}

// parseSize parses a size with an optional M/G/T/P/E/Z/Y suffix (MiB by
// default) into MiB, as juju/utils ParseSize does.
func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	if n := len(s); n > 0 {
		if i := strings.IndexByte("MGTPEZY", strings.ToUpper(s[n-1:])[0]); i >= 0 {
			for range i {
				mult *= 1024
			}
			s = s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("expected a non-negative number, got %q", s)
	}
	return uint64(f * mult), nil
}

func reservedName(charmName, endpointName string) (bool, string) {
	if strings.HasPrefix(charmName, "juju-") {
		return false, ""
	}
	if endpointName == "juju" {
		return true, `"juju" is a reserved name`
	}
	if strings.HasPrefix(endpointName, "juju-") {
		return true, `the "juju-" prefix is reserved`
	}
	return false, ""
}

// check mirrors juju/charm Meta.Check for the parts that do not depend on
// the manifest.
func (m *Metadata) check() error {
	seen := map[string]bool{}
	for _, group := range []struct {
		rels map[string]Relation
		role string
	}{{m.Provides, RoleProvider}, {m.Requires, RoleRequirer}, {m.Peers, RolePeer}} {
		names := make([]string, 0, len(group.rels))
		for n := range group.rels {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			rel := group.rels[name]
			if !endpointNameRule.MatchString(name) {
				return fmt.Errorf("charm %q has invalid endpoint name %q", m.Name, name)
			}
			if !m.Subordinate || group.role != RoleRequirer || rel.Scope != ScopeContainer {
				if r, _ := reservedName(m.Name, name); r {
					return fmt.Errorf("charm %q using a reserved relation name: %q", m.Name, name)
				}
			}
			if group.role != RoleRequirer {
				if r, _ := reservedName(m.Name, rel.Interface); r {
					return fmt.Errorf("charm %q relation %q using a reserved interface: %q", m.Name, name, rel.Interface)
				}
			}
			if seen[name] {
				return fmt.Errorf("charm %q using a duplicated relation name: %q", m.Name, name)
			}
			seen[name] = true
		}
	}
	var clash []string
	for _, b := range m.ExtraBindings {
		if seen[b] {
			clash = append(clash, b)
		}
	}
	if clash != nil {
		return fmt.Errorf("charm %q has invalid extra bindings: relation names (%s) cannot be used in extra bindings", m.Name, strings.Join(clash, ", "))
	}
	if m.Subordinate {
		ok := false
		for _, r := range m.Requires {
			if r.Scope == ScopeContainer {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("subordinate charm %q lacks \"requires\" relation with container scope", m.Name)
		}
	}
	names := make([]string, 0, len(m.Storage))
	for n := range m.Storage {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		st := m.Storage[name]
		if st.Location != "" && st.Type != StorageFilesystem {
			return fmt.Errorf(`charm %q storage %q: location may not be specified for "type: %s"`, m.Name, name, st.Type)
		}
		if st.CountMin < 0 {
			return fmt.Errorf("charm %q storage %q: invalid minimum count %d", m.Name, name, st.CountMin)
		}
		if st.CountMax == 0 || st.CountMax < -1 {
			return fmt.Errorf("charm %q storage %q: invalid maximum count %d", m.Name, name, st.CountMax)
		}
	}
	return nil
}

// describe renders a value for an error message the way juju/schema does
// ("got nothing", `got string("x")`, "got int(5)").
func describe(v any) string {
	if v == nil {
		return "nothing"
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string(%q)", x)
	case map[string]any:
		return "map"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// Base is one entry of manifest.yaml "bases".
type Base struct {
	Name          string
	Channel       string
	Architectures []string
}

// Manifest is manifest.yaml.
type Manifest struct {
	Bases []Base
}

// ParseManifest parses manifest.yaml content.
func ParseManifest(data []byte) (*Manifest, error) {
	var raw struct {
		Bases []map[string]any `yaml:"bases"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	mf := &Manifest{}
	for i, b := range raw.Bases {
		name, ok := b["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("manifest: bases[%d].name: expected string, got %s", i, describe(b["name"]))
		}
		ch, ok := b["channel"].(string)
		if !ok || ch == "" {
			return nil, fmt.Errorf("manifest: bases[%d].channel: expected string, got %s", i, describe(b["channel"]))
		}
		base := Base{Name: name, Channel: ch}
		if av, ok := b["architectures"]; ok {
			list, ok := av.([]any)
			if !ok {
				return nil, fmt.Errorf("manifest: bases[%d].architectures: expected list, got %s", i, describe(av))
			}
			for _, a := range list {
				s, ok := a.(string)
				if !ok {
					return nil, fmt.Errorf("manifest: bases[%d].architectures: expected string, got %s", i, describe(a))
				}
				base.Architectures = append(base.Architectures, s)
			}
		}
		mf.Bases = append(mf.Bases, base)
	}
	return mf, nil
}
