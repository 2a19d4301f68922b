package model

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pgjuju/pgjuju/internal/juju"
)

// Backend is the hook tools as Go calls.
type Backend = juju.Backend

// Errors the model returns before running a tool. Juju's own refusals
// come back as juju sentinels (juju.ErrNotLeader, juju.ErrPermissionDenied).
var (
	// ErrReadOnly: a write to a databag the unit does not own.
	ErrReadOnly = errors.New("databag is read-only")
	// ErrUnknownEndpoint: an endpoint metadata.yaml does not declare.
	ErrUnknownEndpoint = errors.New("unknown endpoint")
	// ErrInvalidKey: an empty databag key or a secret key Juju refuses.
	ErrInvalidKey = errors.New("invalid key")
)

// Model is one dispatch's view of the model. It caches leadership and
// config for the dispatch; make a new Model per dispatch.
type Model struct {
	b      Backend
	meta   *juju.Metadata
	unit   string
	app    string
	red    *juju.Redactor
	leader *bool
	config *Config
}

// Options configure a Model.
type Options struct {
	// Redactor receives every secret value the model sees; nil for none.
	Redactor *juju.Redactor
}

// New returns the model of unit ("postgresql/0") with the charm's metadata.
func New(b Backend, unit string, meta *juju.Metadata, opts Options) *Model {
	return &Model{b: b, meta: meta, unit: unit, app: juju.AppOf(unit), red: opts.Redactor}
}

// ForHook is the model of a hook or action: its backend, unit, metadata
// and redactor.
func ForHook(h *juju.Hook) *Model {
	return New(h.Backend, h.Env.UnitName, h.Meta, Options{Redactor: h.Redactor})
}

// Backend returns the tools the model runs on, for what the model does not
// wrap (ports, actions, state).
func (m *Model) Backend() Backend { return m.b }

// Unit is the local unit's name.
func (m *Model) Unit() string { return m.unit }

// App is the local application's name.
func (m *Model) App() string { return m.app }

// Meta is the charm's metadata.
func (m *Model) Meta() *juju.Metadata { return m.meta }

// IsLeader reports whether this unit holds the leadership lease. The first
// answer is kept for the dispatch: Juju makes "not leader" stick for the rest
// of a hook, and a lost lease fails the commit of app databag writes anyway.
func (m *Model) IsLeader(ctx context.Context) (bool, error) {
	if m.leader == nil {
		l, err := m.b.IsLeader(ctx)
		if err != nil {
			return false, fmt.Errorf("checking leadership: %w", err)
		}
		m.leader = &l
	}
	return *m.leader, nil
}

// requireLeader returns juju.ErrNotLeader, wrapped with what was attempted,
// when the unit is not the leader.
func (m *Model) requireLeader(ctx context.Context, what string) error {
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		return fmt.Errorf("%s: %s is %w", what, m.unit, juju.ErrNotLeader)
	}
	return nil
}

// register hides values in logs.
func (m *Model) register(values ...string) {
	if m.red != nil {
		m.red.Register(values...)
	}
}

// HideSecretContent registers a secret's content with the redactor, as
// GetSecret does, for content kept elsewhere (the peer relation on a Juju
// without secrets).
func (m *Model) HideSecretContent(content map[string]string) { m.register(slicesOf(content)...) }

// registerSecretKeys hides the values of secret-looking keys.
func (m *Model) registerSecretKeys(data map[string]string) {
	for k, v := range data {
		if juju.IsSecretKey(k) {
			m.register(v)
		}
	}
}

// Config returns the charm config, read once per dispatch.
func (m *Model) Config(ctx context.Context) (*Config, error) {
	if m.config == nil {
		values, err := m.b.ConfigGet(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		m.config = &Config{values: values}
	}
	return m.config, nil
}

// StorageLocation returns where the first instance of a storage ("pgdata")
// is mounted; juju.ErrNotFound when none is attached.
func (m *Model) StorageLocation(ctx context.Context, name string) (string, error) {
	ids, err := m.b.StorageList(ctx, name)
	if err != nil {
		return "", fmt.Errorf("listing storage %s: %w", name, err)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("storage %s: %w", name, juju.ErrNotFound)
	}
	sort.Strings(ids)
	info, err := m.b.StorageGet(ctx, ids[0])
	if err != nil {
		return "", fmt.Errorf("reading storage %s: %w", ids[0], err)
	}
	return info.Location, nil
}

// Config is the charm's config as config-get returns it: options with a
// value or a default.
type Config struct {
	values map[string]any
}

// NewConfig wraps config values (for tests and fakes).
func NewConfig(values map[string]any) *Config { return &Config{values: values} }

// Has reports whether the option has a value or default.
func (c *Config) Has(key string) bool {
	_, ok := c.values[key]
	return ok
}

// String returns a string (or secret URI) option; "" when unset.
func (c *Config) String(key string) (string, error) {
	v, ok := c.values[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("config %s: %v is not a string", key, v)
	}
	return s, nil
}

// Int returns an int option; ok is false when unset.
func (c *Config) Int(key string) (n int, ok bool, err error) {
	v, ok := c.values[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch x := v.(type) {
	case int:
		return x, true, nil
	case int64:
		return int(x), true, nil
	case float64:
		if x == float64(int(x)) {
			return int(x), true, nil
		}
	case interface{ Int64() (int64, error) }: // json.Number
		if i, err := x.Int64(); err == nil {
			return int(i), true, nil
		}
	case string:
		if i, err := strconv.Atoi(x); err == nil {
			return i, true, nil
		}
	}
	return 0, false, fmt.Errorf("config %s: %v is not an integer", key, v)
}

// Bool returns a boolean option; ok is false when unset.
func (c *Config) Bool(key string) (b bool, ok bool, err error) {
	v, ok := c.values[key]
	if !ok || v == nil {
		return false, false, nil
	}
	if b, isBool := v.(bool); isBool {
		return b, true, nil
	}
	return false, false, fmt.Errorf("config %s: %v is not a boolean", key, v)
}

// Values returns a copy of every value.
func (c *Config) Values() map[string]any { return maps.Clone(c.values) }

// secretKeyRE is Juju's rule for secret content keys, compiled on first
// use: every dispatch initialises this package.
var secretKeyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z](?:-?[a-z0-9]){2,}$`) })

// AddSecret creates a secret and returns its id. An application-owned
// secret (the default) needs the leader.
func (m *Model) AddSecret(ctx context.Context, content map[string]string, opts juju.SecretAddOptions) (string, error) {
	if err := checkSecretContent(content); err != nil {
		return "", err
	}
	if opts.Owner != juju.SecretOwnerUnit {
		if err := m.requireLeader(ctx, "adding an application secret"); err != nil {
			return "", err
		}
	}
	m.register(slicesOf(content)...)
	id, err := m.b.SecretAdd(ctx, content, opts)
	if err != nil {
		return "", fmt.Errorf("adding secret %s: %w", opts.Label, err)
	}
	return id, nil
}

// GetSecret reads a secret's content by id or label (opts.Label).
func (m *Model) GetSecret(ctx context.Context, id string, opts juju.SecretGetOptions) (map[string]string, error) {
	content, err := m.b.SecretGet(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", strings.TrimSpace(id+" "+opts.Label), err)
	}
	m.register(slicesOf(content)...)
	return content, nil
}

// SetSecret writes a new revision of a secret's content.
func (m *Model) SetSecret(ctx context.Context, id string, content map[string]string, opts juju.SecretSetOptions) error {
	if content != nil {
		if err := checkSecretContent(content); err != nil {
			return err
		}
		m.register(slicesOf(content)...)
	}
	if err := m.b.SecretSet(ctx, id, content, opts); err != nil {
		return fmt.Errorf("updating secret %s: %w", id, err)
	}
	return nil
}

func checkSecretContent(content map[string]string) error {
	if len(content) == 0 {
		return fmt.Errorf("secret content: %w: empty", ErrInvalidKey)
	}
	for k, v := range content {
		if !secretKeyRE().MatchString(k) {
			return fmt.Errorf("secret content: %w %q: lowercase letters, digits and single hyphens, at least 3, starting with a letter", ErrInvalidKey, k)
		}
		if v == "" {
			return fmt.Errorf("secret content: key %q: empty value", k)
		}
	}
	return nil
}

// slicesOf returns the values of a secret's content the logger must hide:
// every value under a secret-looking key, and any other value long enough
// to be a credential. A short value under a plain key ("generation": "1")
// is not hidden: it would turn every "1" in every log line into "***".
func slicesOf(m map[string]string) []string {
	vs := make([]string, 0, len(m))
	for k, v := range m {
		if juju.IsSecretKey(k) || len(v) >= minHiddenLength {
			vs = append(vs, v)
		}
	}
	return vs
}

// minHiddenLength is the shortest secret value hidden whatever its key:
// generated passwords are 32 characters, the shortest accepted 16.
const minHiddenLength = 8
