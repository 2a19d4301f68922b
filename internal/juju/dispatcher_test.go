package juju

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDispatcher(t *testing.T) {
	var ran []string
	handler := func(name string) Handler {
		return func(_ context.Context, h *Hook) error {
			ran = append(ran, name)
			h.Status.Add(Active(name))
			return nil
		}
	}
	d := NewDispatcher()
	d.HandleHook("db-relation-changed", handler("db-changed"))
	d.HandleKind(KindRelationChanged, handler("any-changed"))
	d.HandleAction("get-primary", handler("get-primary"))
	d.HandleHook("role-changed", handler("role-changed"))

	tests := []struct {
		name       string
		ev         Event
		wantRan    []string
		wantStatus statusRecorder
	}{
		{"exact hook name first", Event{Kind: KindRelationChanged, Name: "db-relation-changed", Endpoint: "db"},
			[]string{"db-changed"}, statusRecorder{"unit active: db-changed"}},
		{"then the kind", Event{Kind: KindRelationChanged, Name: "database-relation-changed", Endpoint: "database"},
			[]string{"any-changed"}, statusRecorder{"unit active: any-changed"}},
		{"actions by name", Event{Kind: KindAction, Name: "get-primary"}, []string{"get-primary"}, statusRecorder{"unit active: get-primary"}},
		{"an action is never a hook of the same name", Event{Kind: KindAction, Name: "role-changed"}, nil, nil},
		{"custom events by name", Event{Kind: KindCustom, Name: "role-changed", ViaExec: true}, []string{"role-changed"}, statusRecorder{"unit active: role-changed"}},
		{"unknown event is a no-op", Event{Kind: KindInstall, Name: "install"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = nil
			var rec statusRecorder
			log := &logRecorder{}
			err := d.Dispatch(context.Background(), &Hook{Event: tt.ev, Backend: recBackend{rec: &rec}, Log: slog.New(NewLogHandler(log, LogOptions{}))})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantRan, ran); diff != "" {
				t.Errorf("ran (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStatus, rec); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if tt.wantRan == nil && (len(log.lines) != 1 || log.lines[0].Level != LogDebug) {
				t.Errorf("no-op logged %v, want one debug line", log.lines)
			}
		})
	}
}

func TestDispatcherFallbackAndErrors(t *testing.T) {
	boom := errors.New("boom")
	d := NewDispatcher()
	d.HandleOther(func(_ context.Context, h *Hook) error {
		h.Status.Add(Blocked("never shown"))
		return boom
	})
	var rec statusRecorder
	err := d.Dispatch(context.Background(), &Hook{Event: Event{Kind: KindConfigChanged, Name: "config-changed"}, Backend: recBackend{rec: &rec}})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if len(rec) != 0 {
		t.Errorf("a failed handler set status %v", rec)
	}
	if _, ok := d.Handler(Event{Kind: KindAction, Name: "restart"}); ok {
		t.Error("fallback handled an action")
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate registration did not panic")
		}
	}()
	d.HandleOther(func(context.Context, *Hook) error { return nil })
}

// recBackend is a Backend that only records status-set; the embedded nil
// Backend panics on anything else.
type recBackend struct {
	rec *statusRecorder
	Backend
}

func (b recBackend) StatusSet(ctx context.Context, s Status, app bool) error {
	return b.rec.StatusSet(ctx, s, app)
}
