package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestValidateSync(t *testing.T) {
	for _, tc := range []struct {
		count string
		want  string // substring of the refusal; "" accepted
	}{
		{"1", ""}, {"2", ""}, {" 3 ", ""}, {"all", ""}, {"ALL", ""}, {"majority", ""},
		{"0", "at least 1"}, {"-1", "at least 1"}, {"two", `"two" is not a number`},
		{"1.5", "not a number"}, {"", "empty"},
	} {
		err := ValidateSync(SyncOptions{NodeCount: tc.count})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tc.count, err)
			}
			continue
		}
		var oe *pgconf.OptionError
		if !errors.As(err, &oe) || oe.Option != SyncNodeCountOption || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error naming %s with %q", tc.count, err, SyncNodeCountOption, tc.want)
		}
	}
}

func TestDecideSync(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     SyncOptions
		units int
		want  SyncConfig
	}{
		{"one unit: no synchronous mode, even strict", SyncOptions{NodeCount: "1", Strict: true}, 1,
			SyncConfig{Mode: false, NodeCount: 1, Strict: true, Asked: 1, Replicas: 0}},
		{"two units: one sync standby", DefaultSyncOptions(), 2, SyncConfig{Mode: true, NodeCount: 1, Asked: 1, Replicas: 1}},
		{"three units, all", SyncOptions{NodeCount: "all"}, 3, SyncConfig{Mode: true, NodeCount: 2, Asked: 2, Replicas: 2}},
		{"three units, majority", SyncOptions{NodeCount: "majority"}, 3, SyncConfig{Mode: true, NodeCount: 1, Asked: 1, Replicas: 2}},
		{"five units, majority", SyncOptions{NodeCount: "majority"}, 5, SyncConfig{Mode: true, NodeCount: 2, Asked: 2, Replicas: 4}},
		{"more than the replicas: capped", SyncOptions{NodeCount: "4"}, 3, SyncConfig{Mode: true, NodeCount: 2, Asked: 4, Replicas: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideSync(tc.o, tc.units)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Capped() != (tc.want.Asked > tc.want.NodeCount) {
				t.Errorf("Capped() = %v", got.Capped())
			}
		})
	}
}

func TestDecideSyncPatch(t *testing.T) {
	want := SyncConfig{Mode: true, NodeCount: 2}
	for _, tc := range []struct {
		name    string
		current map[string]any
		want    map[string]any
	}{
		{"fresh cluster (Patroni's defaults)", map[string]any{"ttl": 20.0},
			map[string]any{"synchronous_mode": true, "synchronous_node_count": 2}},
		{"already there, maintenance mode untouched", map[string]any{"synchronous_mode": true, "synchronous_node_count": 2.0, "pause": true}, nil},
		{"strict switched on behind the charm's back", map[string]any{"synchronous_mode": true, "synchronous_node_count": 2.0, "synchronous_mode_strict": true},
			map[string]any{"synchronous_mode_strict": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, DecideSyncPatch(want, tc.current)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSyncOptionsFromConfig: config.yaml's defaults, as config-get hands
// them over, are DefaultSyncOptions; what the user sets is read as set
// (validation refuses it later), an integer as its decimal form.
func TestSyncOptionsFromConfig(t *testing.T) {
	ch, err := jujutest.LoadCharm("../../..")
	if err != nil {
		t.Fatal(err)
	}
	read := func(config map[string]any) SyncOptions {
		values, err := jujutest.NewFake(ch, jujutest.State{UnitName: "postgresql/0", Config: config}).ConfigGet(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return SyncOptionsFromConfig(model.NewConfig(values))
	}
	if diff := cmp.Diff(DefaultSyncOptions(), read(nil)); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got := read(map[string]any{SyncNodeCountOption: "0", SyncStrictOption: true}); got != (SyncOptions{NodeCount: "0", Strict: true}) {
		t.Errorf("explicit values: %+v", got)
	}
	if got := SyncOptionsFromConfig(model.NewConfig(map[string]any{SyncNodeCountOption: 2})); got.NodeCount != "2" {
		t.Errorf("an integer: %+v", got)
	}
}
