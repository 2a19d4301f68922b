package instance

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// ParameterError is the server refusing a parameter value: its FATAL
// message with the DETAIL and HINT that follow, without the log line
// prefix, as in
// `invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`.
type ParameterError struct {
	Message string
}

func (e *ParameterError) Error() string { return e.Message }

// checkParametersTimeout bounds one postgres -C run (about 11 ms).
const checkParametersTimeout = 10 * time.Second

// CheckParameters runs postgres -C on an empty data directory with every
// value as a -c option: the server parses them exactly as it would at
// start, units, ranges, enums and check hooks included, and stops at the
// first it refuses. It runs as the postgres user (the server refuses
// root) and reads nothing of the unit's.
func (s *System) CheckParameters(ctx context.Context, version string, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	bin := filepath.Join(pgconf.BinDir(version), "postgres")
	// As root the server runs as the postgres user, who must reach the
	// directory: /tmp, whatever root's TMPDIR is.
	base := ""
	if os.Geteuid() == 0 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgjuju-check-")
	if err != nil {
		return fmt.Errorf("checking parameters: %w", err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "postgresql.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		return fmt.Errorf("checking parameters: %w", err)
	}
	// As root, run as the postgres user, like the daemons
	// (service.Spec.User); otherwise as whoever we are.
	var attr *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		pg, err := lookupOwner("postgres", "postgres")
		uid, gid := pg.UID, pg.GID
		if err != nil {
			return fmt.Errorf("checking parameters: %w", err)
		}
		for _, p := range []string{dir, conf} {
			if err := os.Chown(p, uid, gid); err != nil {
				return fmt.Errorf("checking parameters: %w", err)
			}
		}
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	ctx, cancel := context.WithTimeout(ctx, checkParametersTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, checkParametersArgs(dir, params)...)
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	// English messages, nothing of the caller's PG* variables.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := parameterRefusal(stderr.String(), params); msg != "" {
			return &ParameterError{Message: msg}
		}
		return fmt.Errorf("checking parameters with %s: %w: %s", bin, err, strings.Join(service.LastLines(stderr.String(), 3), " / "))
	}
	return nil
}

// quietParameters change how the server reports an error: they go last,
// in this order, so that a value they hold affects no other value's
// report. lc_messages could translate it, log_min_messages (last that can
// fail) could silence it, and log_line_prefix (which cannot fail) would
// change its prefix.
var quietParameters = []string{"lc_messages", "log_min_messages", "log_line_prefix"}

// checkParametersArgs are postgres's arguments for CheckParameters: an
// empty prefix for the report, then the values by name, quietParameters
// last.
func checkParametersArgs(dir string, params map[string]string) []string {
	args := []string{"-D", dir, "-C", "port", "-c", "log_line_prefix="}
	names := slices.Sorted(maps.Keys(params))
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(quietParameters, n) })
	for _, n := range quietParameters {
		if _, ok := params[n]; ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		args = append(args, "-c", n+"="+params[n])
	}
	return args
}

// parameterRefusal turns postgres's report of a refused value into one
// line: the FATAL message, then its DETAIL and HINT in parentheses
// (lower-cased first letter, no final period). When the message does not
// quote the value as given (a range error speaks in base units: "-5000 ms
// is outside…" for -5s), "name = value: " goes first. It is "" when
// stderr holds no FATAL about a parameter.
func parameterRefusal(stderr string, params map[string]string) string {
	var fatal string
	var notes []string
	for _, line := range strings.Split(stderr, "\n") {
		for _, level := range []string{"FATAL:  ", "DETAIL:  ", "HINT:  "} {
			i := strings.Index(line, level)
			if i < 0 {
				continue
			}
			text := strings.TrimSpace(line[i+len(level):])
			switch {
			case level == "FATAL:  " && fatal == "":
				fatal = text
			case level != "FATAL:  " && fatal != "" && text != "":
				text = strings.TrimSuffix(text, ".")
				notes = append(notes, strings.ToLower(text[:1])+text[1:])
			}
			break
		}
	}
	i := strings.Index(fatal, `parameter "`)
	if i < 0 {
		return ""
	}
	name, _, _ := strings.Cut(fatal[i+len(`parameter "`):], `"`)
	if v, ok := params[name]; ok && !strings.Contains(fatal, `"`+v+`"`) {
		fatal = name + " = " + confValue(v) + ": " + fatal
	}
	if len(notes) > 0 {
		fatal += " (" + strings.Join(notes, "; ") + ")"
	}
	return fatal
}

// confValue is v as a postgresql.conf line would carry it: bare when it
// is a plain word or number, else single-quoted.
func confValue(v string) string {
	plain := v != "" && !strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r))
	})
	if plain {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
