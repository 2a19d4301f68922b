package juju

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogSink is where log lines go: the hook-tool client's JujuLog.
type LogSink interface {
	JujuLog(ctx context.Context, level LogLevel, message string) error
}

// LogOptions configure a LogHandler.
type LogOptions struct {
	// Level is the minimum level logged; nil means slog.LevelDebug, as ops
	// does: the model's logging-config decides what Juju keeps.
	Level slog.Leveler
	// Redactor hides registered secret values; nil hides only attributes
	// with secret-looking keys, URL passwords and PEM private keys.
	Redactor *Redactor
	// Fallback receives lines juju-log could not take (outside a hook, or a
	// failing agent); Juju logs a hook's stderr at WARNING. nil drops them.
	Fallback io.Writer
}

// LogHandler is a slog.Handler that forwards each record to juju-log as
// "message key=value ...". An attribute whose key looks secret (IsSecretKey)
// is written as key=***, and every registered secret value is replaced
// wherever it appears in the line, message included, so a secret never
// reaches juju-log or the fallback.
type LogHandler struct {
	sink   LogSink
	opts   LogOptions
	prefix string        // group prefix for new attributes, "g1.g2."
	attrs  []groupedAttr // from WithAttrs, formatted at Handle time so values registered later are still hidden
	mu     *sync.Mutex
}

// NewLogHandler returns a handler forwarding to sink.
func NewLogHandler(sink LogSink, opts LogOptions) *LogHandler {
	if opts.Level == nil {
		opts.Level = slog.LevelDebug
	}
	return &LogHandler{sink: sink, opts: opts, mu: &sync.Mutex{}}
}

// JujuLogLevel maps a slog level to juju-log's: below DEBUG is TRACE, ERROR+4
// and above is CRITICAL.
func JujuLogLevel(l slog.Level) LogLevel {
	switch {
	case l < slog.LevelDebug:
		return LogTrace
	case l < slog.LevelInfo:
		return LogDebug
	case l < slog.LevelWarn:
		return LogInfo
	case l < slog.LevelError:
		return LogWarning
	case l < slog.LevelError+4:
		return LogError
	default:
		return LogCritical
	}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	red := h.opts.Redactor
	b.WriteString(red.Redact(r.Message))
	for _, ga := range h.attrs {
		appendAttr(&b, red, ga.prefix, ga.attr)
	}
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, red, h.prefix, a)
		return true
	})
	// Values were redacted before quoting; redact the whole line again for
	// secrets split across a key and a value or registered mid-line.
	line := red.Redact(b.String())
	level := JujuLogLevel(r.Level)
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.sink.JujuLog(ctx, level, line)
	if err != nil && h.opts.Fallback != nil {
		_, werr := fmt.Fprintf(h.opts.Fallback, "%s %s\n", level, line)
		if werr == nil {
			return nil
		}
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]groupedAttr(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = append(h2.attrs, groupedAttr{h.prefix, a})
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

type groupedAttr struct {
	prefix string
	attr   slog.Attr
}

// appendAttr writes " key=value", hiding values of secret-looking keys and
// registered secrets.
func appendAttr(b *strings.Builder, red *Redactor, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	key := prefix + a.Key
	if a.Value.Kind() == slog.KindGroup {
		if IsSecretKey(a.Key) {
			fmt.Fprintf(b, " %s=%s", key, Redacted)
			return
		}
		p := prefix
		if a.Key != "" {
			p = key + "."
		}
		for _, ga := range a.Value.Group() {
			appendAttr(b, red, p, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(key)
	b.WriteByte('=')
	if IsSecretKey(a.Key) {
		b.WriteString(Redacted)
		return
	}
	b.WriteString(quoteValue(red.Redact(valueString(a.Value))))
}

func valueString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
		return fmt.Sprint(v.Any())
	default:
		return v.String()
	}
}

// quoteValue quotes values that would make the line ambiguous.
func quoteValue(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\r\"=") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
