package keys

import (
	"context"
	"testing"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// stateRecorder counts state-set calls on a jujutest fake.
type stateRecorder struct {
	juju.Backend
	sets []map[string]string
}

func (r *stateRecorder) StateSet(ctx context.Context, data map[string]string) error {
	r.sets = append(r.sets, data)
	return r.Backend.StateSet(ctx, data)
}

func TestWritesFlushOnceAndKeepTheLastValue(t *testing.T) {
	ch, err := jujutest.LoadCharm("../../..")
	if err != nil {
		t.Fatal(err)
	}
	f := jujutest.NewFake(ch, jujutest.State{UnitName: "postgresql/0", Leader: true})
	b := &stateRecorder{Backend: f}
	var w Writes
	w.SetState("a", "1")
	w.SetState("b", "2")
	w.SetState("a", "3")
	w.SetPeerUnit("x", "y") // no peer relation: kept back, not lost
	if err := w.Flush(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	if len(b.sets) != 1 || b.sets[0]["a"] != "3" || b.sets[0]["b"] != "2" {
		t.Fatalf("state-set calls %v, want one with a=3 b=2", b.sets)
	}
	if err := w.Flush(context.Background(), b, nil); err != nil || len(b.sets) != 1 {
		t.Errorf("a second flush with nothing new ran state-set (%v, %v)", b.sets, err)
	}
	if w.peerUnit["x"] != "y" {
		t.Error("a peer write was dropped while the peer relation does not exist")
	}
}
