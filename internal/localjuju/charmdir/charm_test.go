package charmdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validMetadata = `
name: postgresql
summary: PostgreSQL
description: A database.
provides:
  database:
    interface: postgresql_client
    limit: 10
  db: pgsql
requires:
  certificates:
    interface: tls-certificates
    optional: true
peers:
  database-peers:
    interface: postgresql_peers
storage:
  pgdata:
    type: filesystem
    location: /srv/pgdata
    minimum-size: 1G
  logs:
    type: block
    multiple:
      range: 0-
extra-bindings:
  replication:
`

// writeTree creates files under dir; a value starting with "->" makes a
// symlink, a key ending in "*" an executable file.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name = strings.TrimSuffix(name, "*")
			mode = 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadValidCharm(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"metadata.yaml": validMetadata,
		"manifest.yaml": "bases:\n- name: ubuntu\n  channel: \"22.04\"\n  architectures: [amd64]\n",
		"config.yaml":   "options:\n  port:\n    type: int\n    default: 5432\n  name:\n    default: pg\n",
		"actions.yaml":  "backup:\n  description: Back up.\n  params:\n    target:\n      type: string\n  parallel: true\n  execution-group: io\n",
		"dispatch*":     "#!/bin/sh\n",
	})
	c, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta.Name != "postgresql" || c.Meta.Provides["database"].Limit != 10 || c.Meta.Provides["db"].Interface != "pgsql" {
		t.Errorf("provides not parsed: %+v", c.Meta.Provides)
	}
	if !c.Meta.Requires["certificates"].Optional || c.Meta.Peers["database-peers"].Role != RolePeer {
		t.Errorf("requires/peers not parsed")
	}
	if st := c.Meta.Storage["pgdata"]; st.Location != "/srv/pgdata" || st.MinimumSize != 1024 || st.CountMin != 1 || st.CountMax != 1 {
		t.Errorf("pgdata storage: %+v", st)
	}
	if st := c.Meta.Storage["logs"]; st.CountMin != 0 || st.CountMax != -1 {
		t.Errorf("logs storage range: %+v", st)
	}
	if len(c.Meta.ExtraBindings) != 1 || c.Meta.ExtraBindings[0] != "replication" {
		t.Errorf("extra bindings: %v", c.Meta.ExtraBindings)
	}
	if c.Config.Options["port"].Default != int64(5432) || c.Config.Options["name"].Type != "string" {
		t.Errorf("config: %+v", c.Config.Options)
	}
	a := c.Actions.Actions["backup"]
	if !a.Parallel || a.ExecutionGroup != "io" || a.Description != "Back up." {
		t.Errorf("action: %+v", a)
	}
	bases, err := c.Bases()
	if err != nil || len(bases) != 1 || bases[0].Channel != "22.04" {
		t.Errorf("bases: %v %v", bases, err)
	}
	if !c.Meta.Hooks()["database-relation-joined"] || !c.Meta.Hooks()["pgdata-storage-attached"] {
		t.Errorf("hooks missing")
	}
}

func TestReadInvalidMetadata(t *testing.T) {
	base := "name: pg\nsummary: s\ndescription: d\n"
	tests := []struct {
		sentence string
		metadata string
		wantErr  string
	}{
		{"a missing name is reported like juju/schema", "summary: s\ndescription: d\n", `metadata: name: expected string, got nothing`},
		{"a missing summary is reported", "name: pg\ndescription: d\n", `metadata: summary: expected string, got nothing`},
		{"v1 keys with v2 keys are ambiguous", base + "series: [jammy]\nassumes: [juju]\n", `ambiguous metadata: keys "series" cannot be used with "assumes"`},
		{"an upper-case endpoint name is rejected", base + "provides:\n  DB: pgsql\n", `invalid endpoint name "DB"`},
		{"a juju- endpoint name is reserved", base + "provides:\n  juju-db: pgsql\n", `using a reserved relation name: "juju-db"`},
		{"a duplicated endpoint name is rejected", base + "provides:\n  db: pgsql\nrequires:\n  db: pgsql\n", `duplicated relation name: "db"`},
		{"a bad relation scope is rejected", base + "requires:\n  db:\n    interface: pgsql\n    scope: machine\n", `requires.db.scope`},
		{"a relation without interface is rejected", base + "requires:\n  db:\n    limit: 1\n", `requires.db.interface: expected string`},
		{"a storage type other than filesystem/block is rejected", base + "storage:\n  data:\n    type: tmpfs\n", `storage.data.type`},
		{"a storage without type is rejected", base + "storage:\n  data:\n    location: /x\n", `storage.data.type`},
		{"a block storage cannot have a location", base + "storage:\n  data:\n    type: block\n    location: /x\n", `location may not be specified for "type: block"`},
		{"a subordinate needs a container-scoped requires", base + "subordinate: true\nrequires:\n  db: pgsql\n", `lacks "requires" relation with container scope`},
		{"extra bindings may not reuse endpoint names", base + "provides:\n  db: pgsql\nextra-bindings:\n  db:\n", `relation names (db) cannot be used in extra bindings`},
		{"a bad storage range is rejected", base + "storage:\n  data:\n    type: filesystem\n    multiple:\n      range: lots\n", `does not match 'm', 'm-n', or 'm+'`},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"metadata.yaml": tt.metadata})
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), `parsing "metadata.yaml" file: `) {
				t.Errorf("error not annotated with the file: %v", err)
			}
		})
	}
}

func TestReadOtherFiles(t *testing.T) {
	meta := "name: pg\nsummary: s\ndescription: d\n"
	tests := []struct {
		sentence   string
		files      map[string]string
		wantErr    string
		noMetadata bool
	}{
		{"a missing metadata.yaml is an error", map[string]string{"config.yaml": "options: {}\n"}, `reading "metadata.yaml" file`, true},
		{"an unknown config type is rejected", map[string]string{"config.yaml": "options:\n  x:\n    type: list\n"}, `invalid config: option "x" has unknown type "list"`, false},
		{"a default of the wrong type is rejected", map[string]string{"config.yaml": "options:\n  port:\n    type: int\n    default: abc\n"}, `invalid config default: option "port" expected int, got "abc"`, false},
		{"a config.yaml without options is empty", map[string]string{"config.yaml": "foo: 1\n"}, `invalid config: empty configuration`, false},
		{"an action name with capitals is bad", map[string]string{"actions.yaml": "Backup:\n  description: x\n"}, `bad action name Backup`, false},
		{"an action name with underscore is bad", map[string]string{"actions.yaml": "do_it:\n  description: x\n"}, `bad action name do_it`, false},
		{"an action name starting with juju- is reserved", map[string]string{"actions.yaml": "juju-x:\n  description: x\n"}, `cannot use action name juju-x: the "juju-" prefix is reserved`, false},
		{"$ref is not supported in action schemas", map[string]string{"actions.yaml": "a:\n  params:\n    p:\n      $ref: '#/x'\n"}, `schema key "$ref" not compatible with this version of juju`, false},
		{"parallel must be a bool", map[string]string{"actions.yaml": "a:\n  parallel: sometimes\n"}, `value for schema key "parallel" must be a bool`, false},
		{"a bad JSON type in params is rejected", map[string]string{"actions.yaml": "a:\n  params:\n    p:\n      type: str\n"}, `invalid params schema for action schema a`, false},
		{"a manifest channel must be a string", map[string]string{"manifest.yaml": "bases:\n- name: ubuntu\n  channel: 22.04\n"}, `bases[0].channel: expected string`, false},
	}
	for _, tt := range tests {
		t.Run(tt.sentence, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"metadata.yaml": meta}
			for k, v := range tt.files {
				files[k] = v
			}
			if tt.noMetadata {
				delete(files, "metadata.yaml")
			}
			writeTree(t, dir, files)
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBasesFallBackToSeries(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"metadata.yaml": "name: pg\nsummary: s\ndescription: d\nseries: [jammy]\n"})
	c, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Bases()
	if err != nil || b[0].Channel != "22.04" {
		t.Fatalf("bases from series: %v %v", b, err)
	}
	c.Meta.Series = nil
	if _, err := c.Bases(); err == nil || err.Error() != "charm does not define any bases" {
		t.Fatalf("want no-bases error, got %v", err)
	}
}
