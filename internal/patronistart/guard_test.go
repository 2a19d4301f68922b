package patronistart

import (
	"testing"

	"github.com/pgjuju/pgjuju/internal/etcd"
)

func TestGuardedSync(t *testing.T) {
	kv := func(v string) *etcd.KeyValue { return &etcd.KeyValue{Value: []byte(v), ModRevision: 7} }
	tests := []struct {
		name         string
		member       string
		leader, sync *etcd.KeyValue
		want         string // "" means nothing written
	}{
		{"this member leads and /sync names a standby", "pg-0", kv("pg-0"), kv(`{"leader":"pg-0","sync_standby":"pg-1"}`), `{"leader":"pg-0","sync_standby":null}`},
		{"two standbys", "pg-0", kv("pg-0"), kv(`{"leader":"pg-0","sync_standby":"pg-1,pg-2"}`), `{"leader":"pg-0","sync_standby":null}`},
		{"another member leads", "pg-0", kv("pg-1"), kv(`{"leader":"pg-1","sync_standby":"pg-0"}`), ""},
		{"no leader key (a failover may be under way)", "pg-0", nil, kv(`{"leader":"pg-0","sync_standby":"pg-1"}`), ""},
		{"leader key ours but /sync another's", "pg-0", kv("pg-0"), kv(`{"leader":"pg-1","sync_standby":"pg-2"}`), ""},
		{"no standby named already", "pg-0", kv("pg-0"), kv(`{"leader":"pg-0","sync_standby":null}`), ""},
		{"empty standby", "pg-0", kv("pg-0"), kv(`{"leader":"pg-0","sync_standby":""}`), ""},
		{"no /sync key", "pg-0", kv("pg-0"), nil, ""},
		{"not Patroni's format", "pg-0", kv("pg-0"), kv(`pg-1`), ""},
		{"no member name", "", kv(""), kv(`{"leader":"","sync_standby":"pg-1"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := guardedSync(tt.member, tt.leader, tt.sync)
			if ok != (tt.want != "") || string(got) != tt.want {
				t.Fatalf("guardedSync = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
