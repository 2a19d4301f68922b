package backups

import (
	"encoding/json"
	"fmt"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

// A restore of an application with several units runs across hooks, led
// by the leader through the peer relation (an action's relation writes
// commit only when it ends, so the action only asks):
//
//  1. The restore action, on the leader, checks everything a single-unit
//     restore checks and writes a Request in phase PhaseStopping.
//  2. Every unit stops its Patroni (and PostgreSQL) and says so in its
//     unit databag (StoppedKey); none starts it again while the request
//     is in that phase.
//  3. The leader, once it and every peer have stopped, restores its own
//     data (its role before does not matter: the data comes from the
//     repository), starts Patroni on it as the leader of a new cluster
//     state, archives into the new stanza, takes a full backup there and
//     moves the request to PhaseRestored.
//  4. Every other unit then deletes its stale copy and starts Patroni,
//     which clones the restored primary (RejoinedKey).

// Restore phases.
const (
	PhaseStopping = "stopping"
	PhaseRestored = "restored"
)

// RequestKey (peer application databag, leader): the restore in progress
// or last done, JSON.
const RequestKey keys.Peer = "restore-request"

// StoppedKey and RejoinedKey (peer unit databags): the id of the request
// for which the unit stopped its PostgreSQL, and for which it re-cloned.
// StoppedStateKey and RejoinedStateKey are the unit's own memory of them.
const (
	// BackupPendingKey (unit state): the stanza the leader restored into,
	// until its first full backup is taken.
	BackupPendingKey keys.State = "restore-backup-pending"
	StoppedKey       keys.Peer  = "restore-stopped"
	RejoinedKey      keys.Peer  = "restore-rejoined"
	StoppedStateKey  keys.State = "restore-stopped"
	RejoinedStateKey keys.State = "restore-rejoined"
)

// Request is a restore of a multi-unit application.
type Request struct {
	// ID is the restore's id and the stanza the application archives
	// into afterwards.
	ID string `json:"id"`
	// Stanza is the stanza restored from.
	Stanza  string                    `json:"stanza"`
	Options pgbackrest.RestoreOptions `json:"options"`
	Target  string                    `json:"target"`
	Phase   string                    `json:"phase"`
}

// Encode is the request as the databag holds it.
func (r Request) Encode() string {
	data, _ := json.Marshal(r)
	return string(data)
}

// ParseRequest reads RequestKey's value; nil when empty or invalid.
func ParseRequest(s string) *Request {
	if s == "" {
		return nil
	}
	var r Request
	if err := json.Unmarshal([]byte(s), &r); err != nil || !pgbackrest.ValidStanza(r.ID) || !pgbackrest.ValidStanza(r.Stanza) {
		return nil
	}
	return &r
}

// Marks are what the units say about a restore.
type Marks struct {
	// Stopped and Rejoined are the peers' StoppedKey and RejoinedKey.
	Stopped, Rejoined map[string]string
	// SelfStopped and SelfRejoined are this unit's (unit state).
	SelfStopped, SelfRejoined string
	// PeerUnits are the other units in the peer relation.
	PeerUnits []string
}

// ReadPeerUnit records one peer's marks.
func ReadPeerUnit(unit string, bag map[string]string, m *Marks) {
	if v := bag[string(StoppedKey)]; v != "" {
		if m.Stopped == nil {
			m.Stopped = map[string]string{}
		}
		m.Stopped[unit] = v
	}
	if v := bag[string(RejoinedKey)]; v != "" {
		if m.Rejoined == nil {
			m.Rejoined = map[string]string{}
		}
		m.Rejoined[unit] = v
	}
}

// InPlace is what a restore asks of this unit in this pass.
type InPlace struct {
	// Stop: stop Patroni for the request. Hold: run nothing else (no
	// Patroni start), with Status.
	Stop, Hold bool
	// Restore (leader): restore the data, then run the unit with the new
	// stanza.
	Restore bool
	// Rejoin: delete the stale data directory and let Patroni clone.
	Rejoin bool
	Status juju.Status
	// Request is the restore in question.
	Request *Request
}

// DecideInPlace is this unit's part in a multi-unit restore. It is pure.
func DecideInPlace(f Facts, leader bool) InPlace {
	r := f.Request
	if r == nil {
		return InPlace{}
	}
	m := f.Marks
	switch r.Phase {
	case PhaseStopping:
		if leader && f.BackupPending == r.ID {
			// Restored earlier in this hook: the request's new phase
			// commits when the hook ends.
			return InPlace{}
		}
		ip := InPlace{Request: r, Hold: true, Stop: m.SelfStopped != r.ID}
		if !leader {
			ip.Status = juju.Maintenance(fmt.Sprintf("restore to %s: stopped, waiting for the leader to restore", r.Target))
			return ip
		}
		var waiting []string
		for _, u := range m.PeerUnits {
			if m.Stopped[u] != r.ID {
				waiting = append(waiting, u)
			}
		}
		if len(waiting) > 0 {
			ip.Status = juju.Maintenance(fmt.Sprintf("restore to %s: waiting for %d units to stop", r.Target, len(waiting)))
			return ip
		}
		return InPlace{Request: r, Stop: ip.Stop, Restore: true}
	case PhaseRestored:
		if !leader && m.SelfRejoined != r.ID {
			return InPlace{Request: r, Rejoin: true}
		}
	}
	return InPlace{}
}

// Busy says why a new restore cannot start ("" when it can): a restore
// is still stopping units, or some unit has not re-cloned yet.
func Busy(f Facts) string {
	r := f.Request
	if r == nil {
		return ""
	}
	if r.Phase == PhaseStopping {
		return "a restore to " + r.Target + " is in progress"
	}
	for _, u := range f.Marks.PeerUnits {
		if f.Marks.Stopped[u] == r.ID && f.Marks.Rejoined[u] != r.ID {
			return "a restore to " + r.Target + " is still bringing " + u + " back"
		}
	}
	return ""
}
