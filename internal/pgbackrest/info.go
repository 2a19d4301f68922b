package pgbackrest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Stanza is one stanza of `pgbackrest info --output=json`.
type Stanza struct {
	Name    string
	Status  string // "ok", or pgBackRest's message ("missing stanza path", ...)
	Code    int    // 0 is ok
	Locked  bool   // a backup (or expire) holds the stanza's lock
	Backups []Backup
	Archive []ArchiveRange
	// DBID is the id of the stanza's current database (a stanza-upgrade
	// adds one); SystemID its system identifier.
	DBID     int
	SystemID uint64
}

// Backup is one backup of a stanza.
type Backup struct {
	Label       string // pgBackRest's id: 20261207-204500F, ..._20261207-204600I
	Type        string // full, diff, incr
	Start, Stop time.Time
	// Size is the database's size; RepoSize what the backup stored.
	Size, RepoSize int64
	// StartLSN and StopLSN are the WAL positions of the backup's start
	// and end; StartWAL and StopWAL the segments holding them.
	StartLSN, StopLSN LSN
	StartWAL, StopWAL string
	DBID              int
	Repo              int
	Error             bool
}

// Timeline is the backup's timeline (from its first segment's name).
func (b Backup) Timeline() uint32 { return SegmentTimeline(b.StartWAL) }

// ArchiveRange is the WAL a stanza's archive holds for one database.
type ArchiveRange struct {
	ID       string // "15-1"
	DBID     int
	Repo     int    // the repository's repo-key
	Min, Max string // segment names
}

// SegmentTimeline is the timeline of a WAL segment file name; 0 if the
// name is not one.
func SegmentTimeline(seg string) uint32 {
	if len(seg) < 8 {
		return 0
	}
	v, err := strconv.ParseUint(seg[:8], 16, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}

// Latest is the stanza's newest backup of its current database; ok false
// when there is none.
func (s Stanza) Latest() (Backup, bool) {
	var out Backup
	ok := false
	for _, b := range s.Backups {
		if b.DBID == s.DBID && !b.Error {
			out, ok = b, true
		}
	}
	return out, ok
}

// LatestIn is Latest among the backups of repository repo (its
// repo-key); repo 0 is any.
func (s Stanza) LatestIn(repo int) (Backup, bool) {
	var out Backup
	ok := false
	for _, b := range s.Backups {
		if b.DBID == s.DBID && !b.Error && (repo == 0 || b.Repo == repo) {
			out, ok = b, true
		}
	}
	return out, ok
}

// CurrentBackups are the backups of the stanza's current database, oldest
// first.
func (s Stanza) CurrentBackups() []Backup {
	var out []Backup
	for _, b := range s.Backups {
		if b.DBID == s.DBID && !b.Error {
			out = append(out, b)
		}
	}
	return out
}

// info is the JSON pgBackRest 2.45 prints; only what the charm reads.
type info struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Lock    struct {
			Backup struct {
				Held bool `json:"held"`
			} `json:"backup"`
		} `json:"lock"`
	} `json:"status"`
	DB []struct {
		ID       int    `json:"id"`
		SystemID uint64 `json:"system-id"`
	} `json:"db"`
	Archive []struct {
		ID       string `json:"id"`
		Min      string `json:"min"`
		Max      string `json:"max"`
		Database struct {
			ID      int `json:"id"`
			RepoKey int `json:"repo-key"`
		} `json:"database"`
	} `json:"archive"`
	Backup []struct {
		Label   string `json:"label"`
		Type    string `json:"type"`
		Error   bool   `json:"error"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Database struct {
			ID      int `json:"id"`
			RepoKey int `json:"repo-key"`
		} `json:"database"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Delta int64 `json:"delta"`
			} `json:"repository"`
		} `json:"info"`
		LSN struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"lsn"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
	} `json:"backup"`
}

// ParseInfo reads `pgbackrest info --output=json`: stanzas by name order,
// backups oldest first.
func ParseInfo(data []byte) ([]Stanza, error) {
	var raw []info
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("reading pgbackrest info: %w", err)
	}
	out := make([]Stanza, 0, len(raw))
	for _, r := range raw {
		s := Stanza{Name: r.Name, Status: r.Status.Message, Code: r.Status.Code, Locked: r.Status.Lock.Backup.Held}
		for _, d := range r.DB {
			if d.ID >= s.DBID {
				s.DBID, s.SystemID = d.ID, d.SystemID
			}
		}
		for _, a := range r.Archive {
			s.Archive = append(s.Archive, ArchiveRange{ID: a.ID, DBID: a.Database.ID, Repo: a.Database.RepoKey, Min: a.Min, Max: a.Max})
		}
		for _, b := range r.Backup {
			start, err1 := ParseLSN(b.LSN.Start)
			stop, err2 := ParseLSN(b.LSN.Stop)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("reading pgbackrest info: backup %s: bad LSN %q/%q", b.Label, b.LSN.Start, b.LSN.Stop)
			}
			s.Backups = append(s.Backups, Backup{
				Label: b.Label, Type: b.Type, Error: b.Error,
				Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: time.Unix(b.Timestamp.Stop, 0).UTC(),
				Size: b.Info.Size, RepoSize: b.Info.Repository.Delta,
				StartLSN: start, StopLSN: stop, StartWAL: b.Archive.Start, StopWAL: b.Archive.Stop,
				DBID: b.Database.ID, Repo: b.Database.RepoKey,
			})
		}
		sort.SliceStable(s.Backups, func(i, j int) bool { return s.Backups[i].Stop.Before(s.Backups[j].Stop) })
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LSN is a WAL position.
type LSN uint64

// ParseLSN reads PostgreSQL's "16/B374D848" form.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("invalid LSN %q: want the form 16/B374D848", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid LSN %q: want the form 16/B374D848", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xffffffff) }
