package charm

import (
	"context"
	"fmt"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// writes buffers a pass's unit-state and peer-databag changes. Juju
// commits them only when the hook ends (contract §2.4), so writing them
// together, once per pass, is what the separate calls would have been,
// at one state-set and one relation-set per databag instead of one per
// change. The pass flushes after each round of steps (a next round reads
// state again) and at its end.
type writes struct {
	state    map[keys.State]string
	peerUnit map[keys.Peer]string
	peerApp  map[keys.Peer]string
}

func (w *writes) setState(k keys.State, v string) {
	if w.state == nil {
		w.state = map[keys.State]string{}
	}
	w.state[k] = v
}

func (w *writes) setPeerUnit(k keys.Peer, v string) {
	if w.peerUnit == nil {
		w.peerUnit = map[keys.Peer]string{}
	}
	w.peerUnit[k] = v
}

func (w *writes) setPeerApp(k keys.Peer, v string) {
	if w.peerApp == nil {
		w.peerApp = map[keys.Peer]string{}
	}
	w.peerApp[k] = v
}

// flush writes what is buffered; peers is the peer relation (nil before
// Juju creates it: peer writes then wait, as nothing could read them).
func (w *writes) flush(ctx context.Context, b juju.Backend, peers *model.Relation) error {
	if len(w.state) > 0 {
		if err := b.StateSet(ctx, keys.Strings(w.state)); err != nil {
			return fmt.Errorf("writing unit state: %w", err)
		}
		w.state = nil
	}
	if peers == nil {
		return nil
	}
	if len(w.peerUnit) > 0 {
		if err := peers.SetLocalUnitData(ctx, keys.Strings(w.peerUnit)); err != nil {
			return err
		}
		w.peerUnit = nil
	}
	if len(w.peerApp) > 0 {
		if err := peers.SetLocalAppData(ctx, keys.Strings(w.peerApp)); err != nil {
			return err
		}
		w.peerApp = nil
	}
	return nil
}
