package instance

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pgconf/pgconftest"
)

func TestParametersToCheck(t *testing.T) {
	cat := pgconftest.Catalogue15(t)
	for _, tc := range []struct {
		name    string
		extra   string
		applied map[string]string
		want    map[string]string
	}{
		{"no extra parameters", "", nil, nil},
		{"first bootstrap: every value is new", "work_mem = 8MB\nhuge_pages = try", nil,
			map[string]string{"work_mem": "8MB", "huge_pages": "try"}},
		{"steady: every value as applied", "work_mem = 8MB\nhuge_pages = try",
			map[string]string{"work_mem": "8MB", "huge_pages": "try", "shared_buffers": "1024MB"}, nil},
		{"one value changed: all are checked", "work_mem = 8MB\nhuge_pages = maybe",
			map[string]string{"work_mem": "8MB", "huge_pages": "try"},
			map[string]string{"work_mem": "8MB", "huge_pages": "maybe"}},
		{"a parameter added", "work_mem = 8MB\nstatement_timeout = -5s",
			map[string]string{"work_mem": "8MB"},
			map[string]string{"work_mem": "8MB", "statement_timeout": "-5s"}},
		{"a parameter removed: nothing new to check", "work_mem = 8MB",
			map[string]string{"work_mem": "8MB", "huge_pages": "try"}, nil},
		{"a quoted value is compared, and checked, unquoted", "work_mem = '8MB'",
			map[string]string{"work_mem": "8MB"}, nil},
		{"a quoted value changed is passed as the server reads it", "search_path = '\"$user\", public'",
			map[string]string{"search_path": "public"}, map[string]string{"search_path": `"$user", public`}},
		{"a DCS parameter applied under dcs:", "max_prepared_transactions = 10",
			map[string]string{"dcs:max_prepared_transactions": "10"}, nil},
		{"a DCS parameter changed", "max_prepared_transactions = 20",
			map[string]string{"dcs:max_prepared_transactions": "10"}, map[string]string{"max_prepared_transactions": "20"}},
		{"extra_pg_conf that does not parse: Validate blocks, no check", "work_mem", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParametersToCheck(tc.extra, cat, tc.applied)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestOptionsFromConfigDefaults: config.yaml's defaults, as config-get
// hands them over, are pgconf.DefaultOptions, and an explicit 0 stays 0.
func TestOptionsFromConfigDefaults(t *testing.T) {
	ch, err := jujutest.LoadCharm("../../..")
	if err != nil {
		t.Fatal(err)
	}
	read := func(config map[string]any) pgconf.Options {
		values, err := jujutest.NewFake(ch, jujutest.State{UnitName: "postgresql/0", Config: config}).ConfigGet(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return OptionsFromConfig(model.NewConfig(values))
	}
	if diff := cmp.Diff(pgconf.DefaultOptions(), read(nil)); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	want := pgconf.DefaultOptions()
	want.ListenPort, want.MaxConnections, want.Locale = 0, 0, ""
	if diff := cmp.Diff(want, read(map[string]any{"listen_port": 0, "max_connections": 0, "locale": ""})); diff != "" {
		t.Errorf("explicit zeros (-want +got):\n%s", diff)
	}
	// A backend that leaves defaults out (not Juju's config-get).
	if diff := cmp.Diff(pgconf.DefaultOptions(), OptionsFromConfig(model.NewConfig(map[string]any{}))); diff != "" {
		t.Errorf("no values (-want +got):\n%s", diff)
	}
}
