package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Spec describes one daemon.
type Spec struct {
	// Name is the unit-scoped service name, e.g. "postgresql-0-patroni".
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Exec        []string `json:"exec"` // argv; Exec[0] is an absolute path
	// User runs the daemon; empty means root.
	User string `json:"user,omitempty"`
	// SwitchesUser: the command starts as root and becomes User itself
	// before it reads anything (the charm's Patroni launcher, which is
	// the charm binary in a root-only directory). systemd runs it with
	// ExecStart=+; the supervisor starts it without the user's
	// credentials but with its environment.
	SwitchesUser bool     `json:"switches_user,omitempty"`
	Env          []string `json:"env,omitempty"` // KEY=value
	WorkDir      string   `json:"work_dir,omitempty"`
	// LogFile receives the daemon's stdout and stderr (appended).
	LogFile string `json:"log_file,omitempty"`
	// KillMode is systemd's: "process" signals only the main process (for
	// Patroni, which stops PostgreSQL itself), "mixed" or "control-group"
	// signal every process. Empty means "mixed".
	KillMode string `json:"kill_mode,omitempty"`
	// StopTimeout is how long a stop waits after SIGTERM before SIGKILL.
	// Zero means DefaultStopTimeout.
	StopTimeout time.Duration `json:"stop_timeout,omitempty"`
}

// DefaultStopTimeout gives PostgreSQL time for a fast shutdown checkpoint.
const DefaultStopTimeout = 90 * time.Second

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`) })

// Validate checks the spec.
func (s Spec) Validate() error {
	if !nameRE().MatchString(s.Name) {
		return fmt.Errorf("service name %q is not valid", s.Name)
	}
	if len(s.Exec) == 0 || s.Exec[0] == "" || s.Exec[0][0] != '/' {
		return fmt.Errorf("service %s: command must start with an absolute path", s.Name)
	}
	for _, f := range []string{s.Description, s.User, s.LogFile, s.WorkDir} {
		if strings.ContainsAny(f, "\n\r\x00") {
			return fmt.Errorf("service %s: a field contains a line break", s.Name)
		}
	}
	if strings.ContainsAny(s.LogFile+s.User, " \t") {
		return fmt.Errorf("service %s: user and log file may not contain spaces", s.Name)
	}
	switch s.KillMode {
	case "", "process", "mixed", "control-group":
	default:
		return fmt.Errorf("service %s: kill mode %q", s.Name, s.KillMode)
	}
	return nil
}

func (s Spec) stopTimeout() time.Duration {
	if s.StopTimeout <= 0 {
		return DefaultStopTimeout
	}
	return s.StopTimeout
}

// Status is what a Manager knows about a service.
type Status struct {
	Installed bool
	Running   bool
	// Pid is the main process: the daemon under systemd, the supervisor
	// otherwise.
	Pid int
	// ChildPid is the daemon under a Supervisor; equal to Pid under systemd.
	ChildPid int
}

// ErrNotInstalled is returned when a service that was never installed is
// started or restarted.
var ErrNotInstalled = errors.New("service not installed")

// Manager supervises daemons. Every method is idempotent.
type Manager interface {
	// Install writes or updates the service definition; it does not start
	// or restart the daemon.
	Install(ctx context.Context, spec Spec) (changed bool, err error)
	// Start starts the daemon unless it runs.
	Start(ctx context.Context, name string) (changed bool, err error)
	// Stop stops the daemon if it runs and returns once it has exited.
	Stop(ctx context.Context, name string) (changed bool, err error)
	// Restart stops and starts the daemon (starting it if it was stopped).
	Restart(ctx context.Context, name string) error
	// Status reports the service.
	Status(ctx context.Context, name string) (Status, error)
	// Remove stops the daemon and deletes its definition.
	Remove(ctx context.Context, name string) (changed bool, err error)
}

// SystemdRunning reports whether the machine runs systemd.
func SystemdRunning() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// New returns the Manager for this machine: Systemd when systemd runs, else
// a Supervisor keeping its state in runDir (the unit's run directory) and
// started as self (the charm binary and its "supervise" subcommand).
func New(runDir string, self []string) Manager {
	if SystemdRunning() {
		return &Systemd{}
	}
	return &Supervisor{Dir: runDir, Self: self}
}
