package keys

import (
	"context"
	"fmt"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// Writes buffers a pass's unit-state and peer-databag changes. Juju
// commits them only when the hook ends (contract §2.4), so writing them
// together, once per pass, is what the separate calls would have been,
// at one state-set and one relation-set per databag instead of one per
// change. The pass flushes after each round of steps (a next round reads
// state again) and at its end.
type Writes struct {
	state    map[State]string
	peerUnit map[Peer]string
	peerApp  map[Peer]string
}

// SetState buffers a unit-state change.
func (w *Writes) SetState(k State, v string) {
	if w.state == nil {
		w.state = map[State]string{}
	}
	w.state[k] = v
}

// SetPeerUnit buffers a change to this unit's peer databag.
func (w *Writes) SetPeerUnit(k Peer, v string) {
	if w.peerUnit == nil {
		w.peerUnit = map[Peer]string{}
	}
	w.peerUnit[k] = v
}

// SetPeerApp buffers a change to the peer application databag (leader).
func (w *Writes) SetPeerApp(k Peer, v string) {
	if w.peerApp == nil {
		w.peerApp = map[Peer]string{}
	}
	w.peerApp[k] = v
}

// Flush writes what is buffered; peers is the peer relation (nil before
// Juju creates it: peer writes then wait, as nothing could read them).
func (w *Writes) Flush(ctx context.Context, b juju.Backend, peers *model.Relation) error {
	if len(w.state) > 0 {
		if err := b.StateSet(ctx, Strings(w.state)); err != nil {
			return fmt.Errorf("writing unit state: %w", err)
		}
		w.state = nil
	}
	if peers == nil {
		return nil
	}
	if len(w.peerUnit) > 0 {
		if err := peers.SetLocalUnitData(ctx, Strings(w.peerUnit)); err != nil {
			return err
		}
		w.peerUnit = nil
	}
	if len(w.peerApp) > 0 {
		if err := peers.SetLocalAppData(ctx, Strings(w.peerApp)); err != nil {
			return err
		}
		w.peerApp = nil
	}
	return nil
}
