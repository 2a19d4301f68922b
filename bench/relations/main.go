// Command relations-bench prints, for each client endpoint of the
// postgresql charm (db, db-admin, database), the time from `integrate`
// until the pgclient test charm has connected with the published
// credentials (its status reports the relation ok, which it sets only after
// writing and reading a row). Figures are medians of -runs runs, each with a
// freshly deployed client application (installed before the clock starts).
// The baseline, measured in the same run, is one `check` action of a
// connected client: a hook that reads the relation, connects, writes and
// reads a row, i.e. the floor of any integrate-to-connected time.
//
// Needs root and `make deps build`. Usage:
//
//	go run ./bench/relations [-runs 3] [-tools bin/localjuju] [-charm build/postgresql.charm] [-client build/pgclient.charm]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

func main() {
	runs := flag.Int("runs", 3, "integrate runs per endpoint")
	tools := flag.String("tools", "bin/localjuju", "the localjuju binary (hook tools)")
	charm := flag.String("charm", "build/postgresql.charm", "the postgresql charm")
	client := flag.String("client", "build/pgclient.charm", "the pgclient test charm")
	flag.Parse()
	if err := run(*runs, *tools, *charm, *client); err != nil {
		fmt.Fprintln(os.Stderr, "relations-bench:", err)
		os.Exit(1)
	}
}

var endpoints = []string{"db", "db-admin", "database"}

func run(runs int, tools, charm, client string) error {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	work, err := os.MkdirTemp("", "relations-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Daemons running as postgres must traverse the home to their storage.
	home := filepath.Join(work, "model")
	for _, d := range []string{work, home, filepath.Join(home, "machines")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	m, err := controller.Open(controller.Options{Home: home, ToolsBinary: abs(tools), Subnet: "10.152.0.0/24"})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = m.Destroy(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	if err := m.Deploy(controller.DeployArgs{Charm: abs(charm), App: "postgresql"}); err != nil {
		return err
	}
	if err := m.WaitUnitStatus(ctx, "postgresql/0", func(s controller.UnitStatus) bool { return s.WorkloadStatus.Current == "active" }); err != nil {
		return fmt.Errorf("postgresql not active: %w", err)
	}
	// Every client application is deployed and installed before any clock
	// starts.
	apps := map[string][]string{}
	for _, ep := range endpoints {
		for i := 0; i < runs; i++ {
			app := fmt.Sprintf("c-%s-%c", strings.ReplaceAll(ep, "-", ""), 'a'+i)
			if err := m.Deploy(controller.DeployArgs{Charm: abs(client), App: app}); err != nil {
				return err
			}
			apps[ep] = append(apps[ep], app)
		}
	}
	if err := m.WaitIdle(ctx, time.Second); err != nil {
		return err
	}

	times := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		for _, ep := range endpoints {
			app := apps[ep][i]
			start := time.Now()
			id, err := m.Integrate("postgresql:"+ep, app+":"+ep)
			if err != nil {
				return err
			}
			want := fmt.Sprintf("%s:%d ok (", ep, id)
			err = m.WaitUnitStatus(ctx, app+"/0", func(s controller.UnitStatus) bool {
				return s.WorkloadStatus.Current == "active" && strings.Contains(s.WorkloadStatus.Message, want)
			})
			if err != nil {
				return fmt.Errorf("%s on %s: %w", app, ep, err)
			}
			times[ep] = append(times[ep], time.Since(start))
			if err := m.WaitIdle(ctx, time.Second); err != nil {
				return err
			}
		}
	}

	// Baseline: one check action (reconnect, write, read) on a connected
	// client, per endpoint.
	base := map[string][]time.Duration{}
	for _, ep := range endpoints {
		for i := 0; i < runs; i++ {
			start := time.Now()
			id, err := m.EnqueueAction(apps[ep][0]+"/0", "check", map[string]any{"relation": ep})
			if err != nil {
				return err
			}
			r, err := m.WaitAction(ctx, id)
			if err != nil {
				return err
			}
			if r.Status != "completed" || r.Results["ok"] != "true" {
				return fmt.Errorf("baseline check on %s: %s %v", apps[ep][0], r.Status, r.Results["ok"])
			}
			base[ep] = append(base[ep], time.Since(start))
		}
	}

	fmt.Printf("integrate until the client has connected (median of %d, fresh client each run)\n", runs)
	fmt.Printf("%-10s %10s %10s  %s\n", "endpoint", "median", "baseline", "runs")
	for _, ep := range endpoints {
		fmt.Printf("%-10s %10s %10s  %s\n", ep, benchstat.Millis(benchstat.Median(times[ep])), benchstat.Millis(benchstat.Median(base[ep])), benchstat.MillisList(times[ep]))
	}
	fmt.Println("baseline: one `check` action of a connected client (read relation, connect, write and read a row)")
	return nil
}
