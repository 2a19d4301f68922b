package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/pgjuju/pgjuju/internal/safefile"
	"github.com/pgjuju/pgjuju/templates"
)

// unitTemplate is parsed on first use, not at init: most dispatches of
// the charm binary render no unit file (bench/charm's no-op dispatch).
var unitTemplate = sync.OnceValue(func() *template.Template {
	return templates.Parse("systemd.service.tmpl", template.FuncMap{
		"sdq":    systemdQuote,
		"sdexec": systemdExec,
	})
})

// systemdQuote quotes one word for a systemd unit file: double quotes, with
// backslash, quote and '%' (specifier) escaped.
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "%", "%%")
	return `"` + r.Replace(s) + `"`
}

// systemdExec quotes a command line for ExecStart=, where '$' also expands
// variables and is escaped as "$$".
func systemdExec(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strings.ReplaceAll(systemdQuote(a), "$", "$$")
	}
	return strings.Join(q, " ")
}

// RenderUnit renders the systemd unit file of spec.
func RenderUnit(spec Spec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	user, group := spec.User, spec.User
	if user == "" {
		user, group = "root", "root"
	}
	km := spec.KillMode
	if km == "" {
		km = "mixed"
	}
	data := struct {
		Spec
		User, Group, KillMode string
		StopTimeoutSec        int
	}{spec, user, group, km, int(spec.stopTimeout().Seconds())}
	var b bytes.Buffer
	if err := unitTemplate().Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering unit %s: %w", spec.Name, err)
	}
	return b.String(), nil
}

// Systemd manages services as systemd units.
type Systemd struct {
	// UnitDir is where unit files go; empty means /etc/systemd/system.
	UnitDir string
	// Run runs systemctl; nil runs the real one. Tests replace it.
	Run func(ctx context.Context, args ...string) (string, error)
}

func (s *Systemd) unitPath(name string) string {
	dir := s.UnitDir
	if dir == "" {
		dir = "/etc/systemd/system"
	}
	return filepath.Join(dir, name+".service")
}

func (s *Systemd) systemctl(ctx context.Context, args ...string) (string, error) {
	if s.Run != nil {
		return s.Run(ctx, args...)
	}
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Install writes the unit file, reloads systemd and enables the unit.
func (s *Systemd) Install(ctx context.Context, spec Spec) (bool, error) {
	text, err := RenderUnit(spec)
	if err != nil {
		return false, err
	}
	changed, err := writeFileIfChanged(s.unitPath(spec.Name), []byte(text), 0o644)
	if err != nil || !changed {
		return false, err
	}
	if _, err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return true, err
	}
	_, err = s.systemctl(ctx, "enable", spec.Name+".service")
	return true, err
}

func (s *Systemd) installed(name string) bool {
	_, err := os.Stat(s.unitPath(name))
	return err == nil
}

// Start starts the unit unless it is active.
func (s *Systemd) Start(ctx context.Context, name string) (bool, error) {
	st, err := s.Status(ctx, name)
	if err != nil || st.Running {
		return false, err
	}
	if !st.Installed {
		return false, fmt.Errorf("starting %s: %w", name, ErrNotInstalled)
	}
	_, err = s.systemctl(ctx, "start", name+".service")
	return err == nil, err
}

// Stop stops the unit if it is active.
func (s *Systemd) Stop(ctx context.Context, name string) (bool, error) {
	st, err := s.Status(ctx, name)
	if err != nil || !st.Running {
		return false, err
	}
	_, err = s.systemctl(ctx, "stop", name+".service")
	return err == nil, err
}

// Restart restarts the unit.
func (s *Systemd) Restart(ctx context.Context, name string) error {
	if !s.installed(name) {
		return fmt.Errorf("restarting %s: %w", name, ErrNotInstalled)
	}
	_, err := s.systemctl(ctx, "restart", name+".service")
	return err
}

// Status asks systemd for ActiveState and MainPID.
func (s *Systemd) Status(ctx context.Context, name string) (Status, error) {
	if !s.installed(name) {
		return Status{}, nil
	}
	out, err := s.systemctl(ctx, "show", "--property=ActiveState,MainPID", name+".service")
	if err != nil {
		return Status{}, err
	}
	st := Status{Installed: true}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "ActiveState":
			st.Running = v == "active" || v == "activating" || v == "reloading"
		case "MainPID":
			st.Pid, _ = strconv.Atoi(v)
			st.ChildPid = st.Pid
		}
	}
	return st, nil
}

// Remove stops and disables the unit and deletes its file.
func (s *Systemd) Remove(ctx context.Context, name string) (bool, error) {
	if !s.installed(name) {
		return false, nil
	}
	_, err := s.systemctl(ctx, "disable", "--now", name+".service")
	if rmErr := os.Remove(s.unitPath(name)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	if _, rerr := s.systemctl(ctx, "daemon-reload"); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return true, err
}

// writeFileIfChanged writes a root-owned file through safefile, creating
// its directory (/etc/systemd/system) if missing.
func writeFileIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return safefile.WriteFile(path, data, mode, safefile.Root)
}
