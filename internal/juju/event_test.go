package juju

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testMeta = &Metadata{
	Name:     "postgresql",
	Provides: map[string]EndpointDef{"db": {Interface: "pgsql"}, "db-admin": {Interface: "pgsql"}, "database": {Interface: "postgresql_client"}},
	Peers:    map[string]EndpointDef{"database-peers": {Interface: "postgresql_peers"}},
	Storage:  map[string]StorageDef{"pgdata": {Type: "filesystem"}},
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		env     Env
		argv0   string
		meta    *Metadata
		want    Event
		wantErr error
	}{
		{
			name:  "install through dispatch",
			env:   Env{DispatchPath: "hooks/install", HookName: "install"},
			argv0: "/var/lib/juju/agents/unit-postgresql-0/charm/dispatch",
			want:  Event{Kind: KindInstall, Name: "install"},
		},
		{
			name: "relation hook of an endpoint with a dash splits on the metadata's endpoint",
			env: Env{DispatchPath: "hooks/db-admin-relation-joined", HookName: "db-admin-relation-joined",
				Relation: "db-admin", RelationID: "db-admin:4", RemoteUnit: "psql/0", RemoteApp: "psql"},
			want: Event{Kind: KindRelationJoined, Name: "db-admin-relation-joined", Endpoint: "db-admin",
				RelationID: "db-admin:4", RemoteUnit: "psql/0", RemoteApp: "psql"},
		},
		{
			name: "departed carries the departing unit",
			env: Env{DispatchPath: "hooks/database-peers-relation-departed", HookName: "database-peers-relation-departed",
				Relation: "database-peers", RelationID: "database-peers:0", RemoteUnit: "postgresql/1",
				RemoteApp: "postgresql", DepartingUnit: "postgresql/1"},
			want: Event{Kind: KindRelationDeparted, Name: "database-peers-relation-departed", Endpoint: "database-peers",
				RelationID: "database-peers:0", RemoteUnit: "postgresql/1", RemoteApp: "postgresql", DepartingUnit: "postgresql/1"},
		},
		{
			name: "app-level relation-changed has no remote unit",
			env: Env{DispatchPath: "hooks/database-relation-changed", HookName: "database-relation-changed",
				Relation: "database", RelationID: "database:7", RemoteApp: "app"},
			want: Event{Kind: KindRelationChanged, Name: "database-relation-changed", Endpoint: "database",
				RelationID: "database:7", RemoteApp: "app"},
		},
		{
			name:  "storage-attached",
			env:   Env{DispatchPath: "hooks/pgdata-storage-attached", HookName: "pgdata-storage-attached", StorageID: "pgdata/0"},
			want:  Event{Kind: KindStorageAttached, Name: "pgdata-storage-attached", StorageName: "pgdata", StorageID: "pgdata/0"},
			argv0: "dispatch",
		},
		{
			name: "secret-changed carries the secret",
			env:  Env{DispatchPath: "hooks/secret-changed", HookName: "secret-changed", SecretID: "secret://m/x", SecretLabel: "l"},
			want: Event{Kind: KindSecretChanged, Name: "secret-changed", SecretID: "secret://m/x", SecretLabel: "l"},
		},
		{
			name: "action takes JUJU_ACTION_NAME",
			env:  Env{DispatchPath: "actions/get-password", ActionName: "get-password"},
			want: Event{Kind: KindAction, Name: "get-password"},
		},
		{
			name: "action before Juju 2.8: no dispatch path",
			env:  Env{ActionName: "restart"}, argv0: "/charm/actions/restart",
			want: Event{Kind: KindAction, Name: "restart"},
		},
		{
			name: "custom event through juju-exec: empty JUJU_HOOK_NAME",
			env:  Env{DispatchPath: "hooks/role-changed"},
			want: Event{Kind: KindCustom, Name: "role-changed", ViaExec: true},
		},
		{
			name: "standard hook run by hand through juju-exec is flagged",
			env:  Env{DispatchPath: "hooks/update-status"},
			want: Event{Kind: KindUpdateStatus, Name: "update-status", ViaExec: true},
		},
		{
			name: "relation-like name of an unknown endpoint is custom",
			env:  Env{DispatchPath: "hooks/nosuch-relation-joined", HookName: "nosuch-relation-joined"},
			want: Event{Kind: KindCustom, Name: "nosuch-relation-joined"},
		},
		{
			name: "without metadata, JUJU_RELATION names the endpoint",
			env:  Env{DispatchPath: "hooks/db-relation-broken", HookName: "db-relation-broken", Relation: "db", RelationID: "db:3", RemoteApp: "c"},
			meta: &Metadata{},
			want: Event{Kind: KindRelationBroken, Name: "db-relation-broken", Endpoint: "db", RelationID: "db:3", RemoteApp: "c"},
		},
		{
			name:  "Juju before 2.8: the hooks/ symlink's name",
			env:   Env{HookName: "", Relation: "db", RelationID: "db:3", RemoteUnit: "c/0", RemoteApp: "c"},
			argv0: "/var/lib/juju/agents/unit-postgresql-0/charm/hooks/db-relation-changed",
			want: Event{Kind: KindRelationChanged, Name: "db-relation-changed", Endpoint: "db",
				RelationID: "db:3", RemoteUnit: "c/0", RemoteApp: "c"},
		},
		{
			name:    "dispatch run with no dispatch path names no event",
			env:     Env{},
			argv0:   "/charm/dispatch",
			wantErr: ErrNoEvent,
		},
		{
			name:    "a dispatch path outside hooks/ and actions/ is refused",
			env:     Env{DispatchPath: "bin/x"},
			wantErr: ErrNoEvent,
		},
		{
			name:    "a nested dispatch path is refused",
			env:     Env{DispatchPath: "hooks/a/b"},
			wantErr: ErrNoEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := tt.meta
			if meta == nil {
				meta = testMeta
			}
			got, err := ParseEvent(tt.env, tt.argv0, meta)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvFromList(t *testing.T) {
	env := EnvFromList([]string{
		"JUJU_UNIT_NAME=postgresql/0", "CHARM_DIR=/charm", "JUJU_DISPATCH_PATH=hooks/install",
		"JUJU_HOOK_NAME=install", "JUJU_VERSION=3.6.25", "JUJU_RELATION_ID=", "JUJU_MODEL_NAME=m",
	})
	want := Env{UnitName: "postgresql/0", CharmDir: "/charm", DispatchPath: "hooks/install",
		HookName: "install", Version: "3.6.25", ModelName: "m"}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if env.AppName() != "postgresql" {
		t.Errorf("AppName = %q", env.AppName())
	}
}

func TestHasSecrets(t *testing.T) {
	for v, want := range map[string]bool{
		"3.6.25": true, "3.0.3": true, "3.1.0": true, "4.0.1": true, "": true,
		"3.0.2": false, "2.9.46": false, "2.8.0": false, "3.0-beta1.1": false,
	} {
		if got := HasSecrets(v); got != want {
			t.Errorf("HasSecrets(%q) = %v, want %v", v, got, want)
		}
	}
}
