package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pgjuju/pgjuju/internal/charm"
	"github.com/pgjuju/pgjuju/internal/juju"
)

func main() {
	// The binary is also the unit's service supervisor and Patroni's
	// callback; those roles are subcommands, not events.
	if code, ok := charm.RunSubcommand(os.Args); ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[0], juju.LoadEnv(), os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: environment → event → Dispatch → exit
// code.
func run(ctx context.Context, argv0 string, env juju.Env, stderr io.Writer) int {
	client := &juju.Client{}
	red := &juju.Redactor{}
	log := slog.New(juju.NewLogHandler(client, juju.LogOptions{Redactor: red, Fallback: stderr}))

	d := juju.NewDispatcher()
	register(d)
	if unhandledAction(d, env, argv0) {
		// Juju runs only the actions in actions.yaml, and the charm
		// handles them all; anything else has nothing to read or say,
		// so it costs no more than starting the process.
		return 0
	}
	charmDir := env.CharmDir
	if charmDir == "" {
		charmDir = executableDir()
	}
	meta, err := juju.LoadMetadata(charmDir)
	if err != nil {
		log.Error("cannot read charm metadata", "charm-dir", charmDir, "err", err)
		return 1
	}
	ev, err := juju.ParseEvent(env, argv0, meta)
	if err != nil {
		log.Error("cannot determine event", "err", err)
		return 1
	}
	h := &juju.Hook{
		Event:    ev,
		Env:      env,
		Meta:     meta,
		Backend:  client,
		Log:      log,
		Redactor: red,
		Status:   &juju.StatusCollector{},
	}
	if err := d.Dispatch(ctx, h); err != nil {
		log.Error("event failed", "event", ev.String(), "err", err)
		return 1
	}
	return 0
}

// unhandledAction says whether the event is an action no handler takes,
// which it tells before reading the charm's metadata (an action's event
// needs none).
func unhandledAction(d *juju.Dispatcher, env juju.Env, argv0 string) bool {
	if env.ActionName == "" && !strings.HasPrefix(env.DispatchPath, "actions/") {
		return false
	}
	ev, err := juju.ParseEvent(env, argv0, nil)
	if err != nil || ev.Kind != juju.KindAction {
		return false
	}
	_, ok := d.Handler(ev)
	return !ok
}

// executableDir is where dispatch lives: the charm root. os.Executable
// resolves a hooks/<name> symlink to the dispatch binary itself.
func executableDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	return filepath.Dir(exe)
}
