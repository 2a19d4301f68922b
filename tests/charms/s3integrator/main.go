// Command s3integrator is the dispatch binary of the s3-integrator test
// charm: a stand-in for Charmhub's s3-integrator, the provider of the s3
// interface. See metadata.yaml and charm.go.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pgjuju/pgjuju/internal/juju"
)

func main() {
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
	charmDir := env.CharmDir
	if charmDir == "" {
		if exe, err := os.Executable(); err == nil {
			charmDir = filepath.Dir(exe)
		}
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
	d := juju.NewDispatcher()
	d.HandleAction("sync-s3-credentials", syncCredentials)
	d.HandleOther(reconcile)
	h := &juju.Hook{Event: ev, Env: env, Meta: meta, Backend: client, Log: log, Redactor: red, Status: &juju.StatusCollector{}}
	if err := d.Dispatch(ctx, h); err != nil {
		log.Error("event failed", "event", ev.String(), "err", err)
		return 1
	}
	return 0
}
