package controller

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/names"
)

// logLine is one debug-log entry: a hook run, a juju-log line, hook output,
// a hook tool error or a controller event.
type logLine struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"`
	Entity  string    `json:"entity"` // unit name or "controller"
	Logger  string    `json:"logger,omitempty"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// String renders a line like juju debug-log does.
func (l logLine) String() string {
	entity := l.Entity
	if entity != "controller" {
		entity = unitTag(entity)
	}
	logger := l.Logger
	if logger == "" {
		logger = "juju.localjuju"
	}
	return fmt.Sprintf("%s: %s %s %s %s", entity, l.Time.Format("15:04:05"), l.Level, logger, l.Message)
}

// logBuffer keeps the debug log in memory (bounded) and appends it to a file.
type logBuffer struct {
	mu    sync.Mutex
	lines []logLine
	seq   int
	file  *os.File
	cond  *sync.Cond
}

const maxLogLines = 50000

func newLogBuffer(path string) *logBuffer {
	b := &logBuffer{}
	b.cond = sync.NewCond(&b.mu)
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
		b.file = f
	}
	return b
}

func (b *logBuffer) add(l logLine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	l.Seq = b.seq
	b.lines = append(b.lines, l)
	if len(b.lines) > maxLogLines {
		b.lines = b.lines[len(b.lines)-maxLogLines/2:]
	}
	if b.file != nil {
		fmt.Fprintln(b.file, l.String())
	}
	b.cond.Broadcast()
}

// since returns lines with Seq > after, waiting up to wait for one.
func (b *logBuffer) since(after int, wait time.Duration) []logLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	deadline := time.Now().Add(wait)
	for b.seq <= after && time.Now().Before(deadline) {
		t := time.AfterFunc(time.Until(deadline), func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
		b.cond.Wait()
		t.Stop()
	}
	var out []logLine
	for _, l := range b.lines {
		if l.Seq > after {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.file != nil {
		_ = b.file.Close()
		b.file = nil
	}
}

// LogLine is a debug-log line for API clients.
type LogLine = logLine

// DebugLog returns the log lines after seq (waiting up to wait for new ones),
// filtered to the given entities when any are named. As with juju
// debug-log --include, an entity is a unit name (pg/0), a unit tag
// (unit-pg-0) or an application (pg, application-pg), which covers its
// units.
func (m *Model) DebugLog(after int, wait time.Duration, include []string) []LogLine {
	lines := m.log.since(after, wait)
	if len(include) == 0 {
		return lines
	}
	want := map[string]bool{}
	for _, e := range include {
		want[entityName(e)] = true
	}
	var out []LogLine
	for _, l := range lines {
		if want[l.Entity] || want[appOfUnit(l.Entity)] {
			out = append(out, l)
		}
	}
	if len(out) == 0 && len(lines) > 0 {
		// Keep the cursor moving for followers.
		out = append(out, LogLine{Seq: lines[len(lines)-1].Seq, Level: "-"})
	}
	return out
}

// entityName turns a unit or application tag into its name: unit-pg-0 →
// pg/0, application-pg → pg; names are returned as they are.
func entityName(e string) string {
	if app, ok := strings.CutPrefix(e, "application-"); ok {
		return app
	}
	if name, ok := names.UnitFromTag(e); ok {
		return name
	}
	return e
}
