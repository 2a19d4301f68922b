package etcd

import (
	"context"
	"testing"
	"time"
)

// TestGetAndPutIf: PutIf writes only while every condition's value and
// revision still hold, as Patroni's /sync guard needs.
func TestGetAndPutIf(t *testing.T) {
	c, _ := realEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, found, err := c.Get(ctx, "/s/leader"); err != nil || found {
		t.Fatalf("Get of a missing key: found %v, err %v", found, err)
	}
	put := func(key, value string) {
		t.Helper()
		ok, err := c.PutIf(ctx, nil, key, []byte(value))
		if err != nil || !ok {
			t.Fatalf("unconditional put %s: %v %v", key, ok, err)
		}
	}
	get := func(key string) KeyValue {
		t.Helper()
		kv, found, err := c.Get(ctx, key)
		if err != nil || !found {
			t.Fatalf("Get %s: found %v, err %v", key, found, err)
		}
		return kv
	}
	put("/s/leader", "pg-0")
	put("/s/sync", `{"leader":"pg-0","sync_standby":"pg-1"}`)
	leader, sync := get("/s/leader"), get("/s/sync")
	if string(leader.Value) != "pg-0" || leader.ModRevision == 0 || sync.ModRevision <= leader.ModRevision {
		t.Fatalf("Get: leader %+v, sync %+v", leader, sync)
	}

	// Both hold: written.
	ok, err := c.PutIf(ctx, []Unchanged{Unchanged(leader), Unchanged(sync)}, "/s/sync", []byte(`{"leader":"pg-0","sync_standby":null}`))
	if err != nil || !ok {
		t.Fatalf("PutIf with both conditions holding: %v %v", ok, err)
	}
	if got := get("/s/sync"); string(got.Value) != `{"leader":"pg-0","sync_standby":null}` {
		t.Fatalf("after PutIf: %s", got.Value)
	}
	// sync's revision moved on: not written.
	if ok, err := c.PutIf(ctx, []Unchanged{Unchanged(leader), Unchanged(sync)}, "/s/sync", []byte("stale")); err != nil || ok {
		t.Fatalf("PutIf with a stale revision: %v %v", ok, err)
	}
	// Another leader (same revision check fails too, but the value alone
	// must refuse: compare against a forged revision).
	forged := Unchanged{Key: "/s/leader", Value: []byte("pg-1"), ModRevision: leader.ModRevision}
	if ok, err := c.PutIf(ctx, []Unchanged{forged}, "/s/sync", []byte("wrong leader")); err != nil || ok {
		t.Fatalf("PutIf with another leader's value: %v %v", ok, err)
	}
	if got := get("/s/sync"); string(got.Value) != `{"leader":"pg-0","sync_standby":null}` {
		t.Fatalf("a refused PutIf changed the key: %s", got.Value)
	}
}
