package juju

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type logLine struct {
	Level LogLevel
	Msg   string
}

type logRecorder struct {
	lines []logLine
	err   error
}

func (r *logRecorder) JujuLog(_ context.Context, level LogLevel, msg string) error {
	if r.err != nil {
		return r.err
	}
	r.lines = append(r.lines, logLine{level, msg})
	return nil
}

const testPassword = `Zx9"q uT\7-long-password-value`

type secretValuer struct{}

func (secretValuer) LogValue() slog.Value { return slog.StringValue("dsn with " + testPassword) }

// TestLogNeverPrintsSecret logs a registered password every way slog allows
// and checks it never reaches juju-log.
func TestLogNeverPrintsSecret(t *testing.T) {
	rec := &logRecorder{}
	red := &Redactor{}
	log := slog.New(NewLogHandler(rec, LogOptions{Redactor: red}))
	pre := log.With("conn", "host=10.0.0.5 password="+testPassword) // before registration
	red.Register(testPassword)

	log.Info("rotating password", "password", testPassword)
	log.Info("generated " + testPassword)
	log.Info("connecting", "dsn", "postgresql://operator:"+testPassword+"@10.0.0.5/postgres")
	log.Info("connecting", "dsn", "postgresql://operator:other-unregistered@10.0.0.5/postgres")
	log.Warn("retrying", "err", errors.New("auth failed for "+testPassword))
	log.Info("valuer", "v", secretValuer{})
	log.Info("group", slog.Group("users", slog.String("operator", testPassword), slog.String("api_token", "tok-9f8e7d")))
	log.WithGroup("etcd").Info("member", "client-key", "-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----")
	pre.Info("earlier attrs")
	log.Error("quoted", "q", `"`+testPassword+`"`)

	for _, l := range rec.lines {
		for _, frag := range []string{testPassword, `Zx9\"q`, "other-unregistered", "MIIabc", "9f8e7d"} {
			if strings.Contains(l.Msg, frag) {
				t.Errorf("juju-log line leaks %q: %s", frag, l.Msg)
			}
		}
	}
	want := []logLine{
		{LogInfo, "rotating password password=***"},
		{LogInfo, "generated ***"},
		{LogInfo, "connecting dsn=postgresql://operator:***@10.0.0.5/postgres"},
		{LogInfo, "connecting dsn=postgresql://operator:***@10.0.0.5/postgres"},
		{LogWarning, `retrying err="auth failed for ***"`},
		{LogInfo, `valuer v="dsn with ***"`},
		{LogInfo, "group users.operator=*** users.api_token=***"},
		{LogInfo, "member etcd.client-key=***"},
		{LogInfo, `earlier attrs conn="host=10.0.0.5 password=***"`},
		{LogError, `quoted q="\"***\""`},
	}
	if diff := cmp.Diff(want, rec.lines); diff != "" {
		t.Errorf("juju-log lines (-want +got):\n%s", diff)
	}
}

func TestLogLevels(t *testing.T) {
	tests := []struct {
		in   slog.Level
		want LogLevel
	}{
		{slog.LevelDebug - 4, LogTrace},
		{slog.LevelDebug, LogDebug},
		{slog.LevelInfo, LogInfo},
		{slog.LevelWarn, LogWarning},
		{slog.LevelError, LogError},
		{slog.LevelError + 4, LogCritical},
	}
	for _, tt := range tests {
		if got := JujuLogLevel(tt.in); got != tt.want {
			t.Errorf("JujuLogLevel(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestLogFallbackRedacts(t *testing.T) {
	var buf bytes.Buffer
	red := &Redactor{}
	red.Register("s3cr3t-s3cr3t")
	log := slog.New(NewLogHandler(&logRecorder{err: ErrToolMissing}, LogOptions{Redactor: red, Fallback: &buf, Level: slog.LevelInfo}))
	log.Debug("dropped")
	log.Info("started", "with", "s3cr3t-s3cr3t", "n", 3)
	if got, want := buf.String(), "INFO started with=*** n=3\n"; got != want {
		t.Errorf("fallback = %q, want %q", got, want)
	}
}

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "operator-password": true, "PGPASSWORD": true, "secret": true,
		"secret-id": true, "api_token": true, "private-key": true, "tls_key": true, "key": true,
		"credentials": true, "unit": false, "extra_pg_auth": false, "keyspace": false,
		"monkey": false, "listen_port": false, "username": false, "primary": false,
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}
