package patronistart

import (
	"encoding/json"

	"github.com/pgjuju/pgjuju/internal/etcd"
)

// syncState is Patroni's /sync key: the leader that wrote it and the
// standbys (comma-separated) that may be promoted in synchronous mode.
type syncState struct {
	Leader      string  `json:"leader"`
	SyncStandby *string `json:"sync_standby"`
}

// guardedSync is the /sync value to write before Patroni starts as member
// name, given the leader and /sync keys as read (nil: missing); ok is
// false when nothing is to be written: another member leads, /sync is
// another leader's, or it names no standby already.
func guardedSync(name string, leader, sync *etcd.KeyValue) (value []byte, ok bool) {
	if name == "" || leader == nil || sync == nil || string(leader.Value) != name {
		return nil, false
	}
	var s syncState
	if err := json.Unmarshal(sync.Value, &s); err != nil {
		// Not Patroni's format: Patroni overwrites such a value itself,
		// and this launcher does not guess.
		return nil, false
	}
	if s.Leader != name || s.SyncStandby == nil || *s.SyncStandby == "" {
		return nil, false
	}
	// Patroni's own encoding of "this leader, no sync standby" (what it
	// writes when it promotes).
	value, _ = json.Marshal(syncState{Leader: name})
	return value, true
}
