package juju

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPickStatus(t *testing.T) {
	tests := []struct {
		name   string
		in     []Status
		want   Status
		wantOK bool
	}{
		{name: "nothing contributed sets nothing"},
		{name: "one active", in: []Status{Active("Primary")}, want: Active("Primary"), wantOK: true},
		{
			name:   "blocked beats everything",
			in:     []Status{Active("Primary"), Maintenance("restarting"), Blocked("extra_pg_conf: unknown parameter foo"), Waiting("etcd")},
			want:   Blocked("extra_pg_conf: unknown parameter foo"),
			wantOK: true,
		},
		{
			name:   "maintenance beats waiting",
			in:     []Status{Waiting("waiting for peers"), Maintenance("reloading PostgreSQL")},
			want:   Maintenance("reloading PostgreSQL"),
			wantOK: true,
		},
		{
			name:   "waiting beats active",
			in:     []Status{Active(""), Waiting("waiting for primary")},
			want:   Waiting("waiting for primary"),
			wantOK: true,
		},
		{
			name:   "first reason within a level wins",
			in:     []Status{Blocked("listen_port: 70000 > 65535"), Blocked("extra_pg_auth: trust refused")},
			want:   Blocked("listen_port: 70000 > 65535"),
			wantOK: true,
		},
		{
			name:   "an unknown level is ignored",
			in:     []Status{{Level: "error", Message: "x"}, Active("Primary")},
			want:   Active("Primary"),
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PickStatus(tt.in)
			if ok != tt.wantOK {
				t.Errorf("ok = %v", ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

type statusRecorder []string

func (r *statusRecorder) StatusSet(_ context.Context, s Status, app bool) error {
	prefix := "unit "
	if app {
		prefix = "app "
	}
	*r = append(*r, prefix+s.String())
	return nil
}

func TestStatusCollectorAppliesOnce(t *testing.T) {
	var c StatusCollector
	c.Add(Active("Primary"))
	c.Add(Waiting("waiting for etcd"))
	c.AddApp(Active(""))
	var rec statusRecorder
	ctx := context.Background()
	if err := c.Apply(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	want := statusRecorder{"unit waiting: waiting for etcd", "app active"}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("status-set calls (-want +got):\n%s", diff)
	}
}
