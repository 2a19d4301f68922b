package hooktools

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

func init() {
	register("secret-add", "[key[#base64|#file]=value...]", "Add a new secret.", func(Context) command { return &secretAdd{} })
	register("secret-set", "<ID> [key[#base64]=value...]", "Update an existing secret.", func(Context) command { return &secretSet{} })
	register("secret-get", "<ID> [key[#base64]]", "Get the content of a secret.", func(Context) command { return &secretGet{} })
	register("secret-remove", "<ID>", "remove a existing secret", func(Context) command { return &secretRemove{} })
	register("secret-grant", "<ID>", "Grant access to a secret.", func(ctx Context) command { return &secretGrant{rel: newRelationFlag(ctx)} })
	register("secret-revoke", "<ID>", "Revoke access to a secret.", func(ctx Context) command { return &secretRevoke{rel: newRelationFlag(ctx)} })
	register("secret-ids", "", "Print secret IDs.", func(Context) command { return &secretIDs{} })
	register("secret-info-get", "<ID>", "Get a secret's metadata info.", func(Context) command { return &secretInfoGet{} })
}

// secretIDRE is the 20-character xid of a secret URI.
var secretIDRE = regexp.MustCompile(`^[0-9a-v]{20}$`)

// parseSecretURI validates "secret:<xid>", "secret://<model-uuid>/<xid>" or
// a bare xid as juju core/secrets ParseURI does; the URI is passed on to the
// Context as given.
func parseSecretURI(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "" && u.Scheme != "secret" {
		return "", fmt.Errorf("secret URI scheme %q not valid", u.Scheme)
	}
	id := strings.TrimLeft(u.Path, "/")
	if id == "" {
		id = u.Opaque
	}
	if !secretIDRE.MatchString(id) {
		return "", fmt.Errorf("secret URI %q not valid", s)
	}
	return s, nil
}

// secretKeyRE is the rule for secret content keys.
var secretKeyRE = regexp.MustCompile(`^([a-z](?:-?[a-z0-9]){2,})$`)

const (
	base64Suffix = "#base64"
	fileSuffix   = "#file"
)

// secretContent builds plain (decoded) content from key=value arguments:
// "k#base64=<b64>" is decoded, "k#file=<path>" reads the file. Values are
// split after trimming base64 padding, so "k=" is not a key=value.
func secretContent(dir string, args []string) (map[string]string, error) {
	raw := map[string]string{}
	for _, val := range args {
		idx := strings.Index(strings.TrimRight(val, "="), "=")
		if idx < 1 {
			return nil, fmt.Errorf("key value %q not valid", val)
		}
		key, value := val[:idx], val[idx+1:]
		if strings.HasSuffix(key, fileSuffix) {
			key = strings.TrimSuffix(key, fileSuffix)
			b, err := os.ReadFile(absPath(dir, expandHome(value)))
			if err != nil {
				return nil, fmt.Errorf("reading content for secret key %q: %w", key, err)
			}
			value = string(b)
		}
		raw[key] = value
	}
	return decodeSecretContent(raw)
}

// decodeSecretContent validates keys and decodes "#base64" ones.
func decodeSecretContent(raw map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if strings.HasSuffix(k, base64Suffix) {
			k = strings.TrimSuffix(k, base64Suffix)
			if !secretKeyRE.MatchString(k) {
				return nil, fmt.Errorf("key %q not valid", k)
			}
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("base64 value for key %q not valid", k)
			}
			out[k] = string(b)
			continue
		}
		if !secretKeyRE.MatchString(k) {
			return nil, fmt.Errorf("key %q not valid", k)
		}
		out[k] = v
	}
	return out, nil
}

// readSecretFile reads a --file of secret-add/secret-set: JSON or YAML.
func readSecretFile(dir, path string) (map[string]string, error) {
	data, err := os.ReadFile(absPath(dir, expandHome(path)))
	if err != nil {
		return nil, err
	}
	raw := map[string]string{}
	if err := json.Unmarshal(data, &raw); err != nil {
		raw = map[string]string{}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, err
		}
	}
	return decodeSecretContent(raw)
}

var rotatePolicies = []string{"never", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"}

// secretUpsert holds the flags shared by secret-add and secret-set.
type secretUpsert struct {
	dir         string
	owner       string
	rotate      string
	description string
	label       string
	file        string
	expireSpec  string
	expire      string // RFC3339, UTC
	content     map[string]string
	now         func() time.Time
}

func (c *secretUpsert) setDir(dir string) { c.dir = dir }

func (c *secretUpsert) setFlags(fs *flagSet) {
	fs.stringVar(&c.expireSpec, "expire", "", "either a duration or time when the secret should expire")
	fs.stringVar(&c.rotate, "rotate", "", "the secret rotation policy")
	fs.stringVar(&c.description, "description", "", "the secret description")
	fs.stringVar(&c.label, "label", "", "a label used to identify the secret in hooks")
	fs.stringVar(&c.file, "file", "", "a YAML file containing secret key values")
	fs.stringVar(&c.owner, "owner", "application", "the owner of the secret, either the application or unit")
}

func (c *secretUpsert) init(args []string) error {
	if c.expireSpec != "" {
		t, err := parseExpire(c.expireSpec, c.now)
		if err != nil {
			return err
		}
		c.expire = t.UTC().Format(time.RFC3339)
	}
	if c.rotate != "" && !contains(rotatePolicies, c.rotate) {
		return fmt.Errorf("rotate policy %q not valid", c.rotate)
	}
	if c.owner != "application" && c.owner != "unit" {
		return fmt.Errorf("secret owner %q not valid", c.owner)
	}
	var err error
	if c.content, err = secretContent(c.dir, args); err != nil {
		return err
	}
	if c.file == "" {
		return nil
	}
	fromFile, err := readSecretFile(c.dir, c.file)
	if err != nil {
		return err
	}
	for k, v := range fromFile {
		c.content[k] = v
	}
	return nil
}

// parseExpire accepts RFC3339, RFC3339 without zone (UTC) or a positive
// duration from now.
func parseExpire(spec string, now func() time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, spec); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", spec); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(spec)
	if err != nil {
		return time.Time{}, fmt.Errorf("expire time or duration %q not valid", spec)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("negative expire duration %q not valid", spec)
	}
	if now == nil {
		now = time.Now
	}
	return now().Add(d), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// secretAdd is secret-add (contract §2.3): prints the new secret's URI.
type secretAdd struct{ secretUpsert }

func (c *secretAdd) init(args []string) error {
	if len(args) < 1 && c.file == "" {
		return errors.New("missing secret value or filename")
	}
	return c.secretUpsert.init(args)
}

func (c *secretAdd) run(e *env) error {
	if len(c.content) == 0 {
		return errors.New("empty secret value not valid")
	}
	uri, err := e.ctx.SecretAdd(SecretAddArgs{
		Label: c.label, Description: c.description, Expire: c.expire,
		Rotate: c.rotate, Owner: c.owner, Content: c.content,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(&e.stdout, uri)
	return nil
}

// secretSet is secret-set.
type secretSet struct {
	secretUpsert
	uri string
}

func (c *secretSet) init(args []string) error {
	if len(args) < 1 {
		return errors.New("missing secret URI")
	}
	var err error
	if c.uri, err = parseSecretURI(args[0]); err != nil {
		return err
	}
	return c.secretUpsert.init(args[1:])
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (c *secretSet) run(e *env) error {
	args := SecretUpdateArgs{
		Label: optional(c.label), Description: optional(c.description),
		Expire: optional(c.expire), Rotate: optional(c.rotate),
	}
	if len(c.content) > 0 {
		args.Content = c.content
	}
	return e.ctx.SecretSet(c.uri, args)
}

// secretGet is secret-get; YAML by default, only yaml and json.
type secretGet struct {
	out     output
	uri     string
	label   string
	key     string
	peek    bool
	refresh bool
}

func (c *secretGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatYAML, formatYAML, formatJSON)
	fs.stringVar(&c.label, "label", "", "a label used to identify the secret in hooks")
	fs.boolVar(&c.peek, "peek", "get the latest revision just this time")
	fs.boolVar(&c.refresh, "refresh", "get the latest revision and also get this same revision for subsequent calls")
}

func (c *secretGet) init(args []string) error {
	if len(args) > 0 {
		if _, err := parseSecretURI(args[0]); err != nil {
			return fmt.Errorf("secret URI %q not valid", args[0])
		}
		c.uri = args[0]
		args = args[1:]
	}
	if c.uri == "" && c.label == "" {
		return errors.New("require either a secret URI or label")
	}
	if c.peek && c.refresh {
		return errors.New("specify one of --peek or --refresh but not both")
	}
	if len(args) > 0 {
		c.key = args[0]
		args = args[1:]
	}
	return checkEmpty(args)
}

func (c *secretGet) run(e *env) error {
	content, err := e.ctx.SecretGet(c.uri, c.label, c.peek, c.refresh)
	if err != nil {
		return err
	}
	if content == nil {
		content = map[string]string{}
	}
	if c.key == "" {
		return c.out.write(e, content)
	}
	key, b64 := strings.CutSuffix(c.key, base64Suffix)
	v, ok := content[key]
	if !ok {
		return fmt.Errorf("secret key %q not found", key)
	}
	if b64 {
		v = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return c.out.write(e, v)
}

// secretRemove is secret-remove.
type secretRemove struct {
	uri      string
	revision int
}

func (c *secretRemove) setFlags(fs *flagSet) {
	fs.intVar(&c.revision, "revision", 0, "remove the specified revision")
}

func (c *secretRemove) init(args []string) error {
	if len(args) < 1 {
		return errors.New("missing secret URI")
	}
	var err error
	if c.uri, err = parseSecretURI(args[0]); err != nil {
		return err
	}
	return checkEmpty(args[1:])
}

func (c *secretRemove) run(e *env) error {
	rev := c.revision
	if rev < 0 {
		rev = 0
	}
	return e.ctx.SecretRemove(c.uri, rev)
}

// secretGrant is secret-grant: -r is required (it defaults to the hook's
// relation) and --unit must belong to the relation's remote application.
type secretGrant struct {
	rel  *relationFlag
	uri  string
	unit string
}

func (c *secretGrant) setFlags(fs *flagSet) {
	fs.stringVar(&c.unit, "unit", "", "the unit to grant access")
	c.rel.addFlags(fs, "the relation with which to associate the grant")
}

func (c *secretGrant) init(args []string) error {
	if len(args) < 1 {
		return errors.New("missing secret URI")
	}
	var err error
	if c.uri, err = parseSecretURI(args[0]); err != nil {
		return err
	}
	if c.rel.id == -1 {
		return errors.New("no relation id specified")
	}
	info, ok := c.rel.ctx.Relation(c.rel.id)
	if !ok {
		return errors.New("relation not found")
	}
	if c.unit != "" {
		if !isValidUnit(c.unit) {
			return fmt.Errorf("unit %q not valid", c.unit)
		}
		if unitApplication(c.unit) != info.RemoteApp {
			return fmt.Errorf("cannot specify unit %q in relation to application %q", c.unit, info.RemoteApp)
		}
	}
	return checkEmpty(args[1:])
}

func (c *secretGrant) run(e *env) error { return e.ctx.SecretGrant(c.uri, c.rel.id, c.unit) }

// secretRevoke is secret-revoke: from a relation's application (-r, which
// defaults to the hook's relation), an application or a unit.
type secretRevoke struct {
	rel  *relationFlag
	uri  string
	app  string
	unit string
}

func (c *secretRevoke) setFlags(fs *flagSet) {
	fs.stringVar(&c.app, "app", "", "the application to revoke access")
	fs.stringVar(&c.app, "application", "", "")
	fs.stringVar(&c.unit, "unit", "", "the unit to revoke access")
	c.rel.addFlags(fs, "the relation for which to revoke the grant")
}

func (c *secretRevoke) init(args []string) error {
	if len(args) < 1 {
		return errors.New("missing secret URI")
	}
	var err error
	if c.uri, err = parseSecretURI(args[0]); err != nil {
		return err
	}
	if c.app != "" && !isValidApplication(c.app) {
		return fmt.Errorf("application %q not valid", c.app)
	}
	if c.unit != "" && !isValidUnit(c.unit) {
		return fmt.Errorf("unit %q not valid", c.unit)
	}
	if c.app != "" && c.unit != "" {
		return errors.New("specify only one of application or unit")
	}
	if c.rel.id >= 0 {
		info, ok := c.rel.ctx.Relation(c.rel.id)
		if !ok {
			return errors.New("relation not found")
		}
		if c.app != "" {
			return errors.New("do not specify both relation and app")
		}
		c.app = info.RemoteApp
	}
	if c.app == "" && c.unit == "" {
		return errors.New("missing relation or application or unit")
	}
	return checkEmpty(args[1:])
}

func (c *secretRevoke) run(e *env) error {
	return e.ctx.SecretRevoke(c.uri, c.rel.id, c.app, c.unit)
}

// secretIDs is secret-ids: sorted ids, nil (json null) when there are none.
type secretIDs struct{ out output }

func (c *secretIDs) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
}

func (c *secretIDs) init(args []string) error { return checkEmpty(args) }

func (c *secretIDs) run(e *env) error {
	ids, err := e.ctx.SecretIDs()
	if err != nil {
		return err
	}
	var out []string
	out = append(out, ids...)
	sort.Strings(out)
	return c.out.write(e, out)
}

// secretInfoGet is secret-info-get; YAML by default, only yaml and json.
type secretInfoGet struct {
	out   output
	uri   string
	label string
}

// secretInfoDisplay has Juju's field order and omissions.
type secretInfoDisplay struct {
	Revision    int                 `json:"revision" yaml:"revision"`
	Label       string              `json:"label" yaml:"label"`
	Owner       string              `json:"owner" yaml:"owner"`
	Description string              `json:"description,omitempty" yaml:"description,omitempty"`
	Rotation    string              `json:"rotation,omitempty" yaml:"rotation,omitempty"`
	Expiry      string              `json:"expiry,omitempty" yaml:"expiry,omitempty"`
	Rotates     string              `json:"rotates,omitempty" yaml:"rotates,omitempty"`
	Access      []secretAccessField `json:"access,omitempty" yaml:"access,omitempty"`
}

type secretAccessField struct {
	Target string `json:"target" yaml:"target"`
	Scope  string `json:"scope" yaml:"scope"`
	Role   string `json:"role" yaml:"role"`
}

func (c *secretInfoGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatYAML, formatYAML, formatJSON)
	fs.stringVar(&c.label, "label", "", "a label used to identify the secret")
}

func (c *secretInfoGet) init(args []string) error {
	if len(args) > 0 {
		if _, err := parseSecretURI(args[0]); err != nil {
			return fmt.Errorf("secret URI %q not valid", args[0])
		}
		c.uri = args[0]
		args = args[1:]
	}
	if c.uri == "" && c.label == "" {
		return errors.New("require either a secret URI or label")
	}
	if c.uri != "" && c.label != "" {
		return errors.New("specify either a secret URI or label but not both")
	}
	return checkEmpty(args)
}

func (c *secretInfoGet) run(e *env) error {
	infos, err := e.ctx.SecretInfo(c.uri, c.label)
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		want := c.uri
		if want == "" {
			want = c.label
		}
		return fmt.Errorf("secret %q not found", want)
	}
	out := map[string]secretInfoDisplay{}
	for id, in := range infos {
		d := secretInfoDisplay{
			Revision: in.Revision, Label: in.Label, Owner: in.Owner, Description: in.Description,
			Rotation: in.Rotation, Expiry: in.Expiry, Rotates: in.Rotates,
		}
		for _, a := range in.Access {
			d.Access = append(d.Access, secretAccessField(a))
		}
		out[id] = d
	}
	return c.out.write(e, out)
}
