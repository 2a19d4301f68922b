// Command localjuju-bench prints localjuju's own overhead per hook and the
// time from integrate until both sides have run relation-changed, for a
// no-op charm. Figures are medians of several runs; the baseline (the same
// no-op dispatch exec'd directly in a machine namespace) is measured in the
// same run. Needs root. Usage: go run ./bench/localjuju [-n 40] [-tools bin/localjuju]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pgjuju/pgjuju/internal/benchstat"
	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

const noopMeta = `name: noop
summary: no-op
description: A charm whose dispatch does nothing, to measure the runtime.
provides:
  out:
    interface: noop
requires:
  in:
    interface: noop
`

func main() {
	n := flag.Int("n", 40, "hook runs to measure")
	rels := flag.Int("relations", 7, "integrate runs to measure")
	tools := flag.String("tools", "bin/localjuju", "the localjuju binary (hook tools)")
	flag.Parse()
	if err := run(*n, *rels, *tools); err != nil {
		fmt.Fprintln(os.Stderr, "localjuju-bench:", err)
		os.Exit(1)
	}
}

func run(n, rels int, tools string) error {
	toolsAbs, err := filepath.Abs(tools)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "lj-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	charm := filepath.Join(work, "noop")
	if err := os.MkdirAll(charm, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"metadata.yaml": noopMeta,
		"config.yaml":   "options:\n  x:\n    type: int\n    default: 0\n    description: a knob\n",
		"dispatch":      "#!/bin/sh\nexit 0\n",
		"manifest.yaml": "bases:\n  - name: ubuntu\n    channel: \"22.04\"\n    architectures: [amd64]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(charm, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	m, err := controller.Open(controller.Options{Home: filepath.Join(work, "model"), ToolsBinary: toolsAbs, Subnet: "10.151.0.0/24"})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = m.Destroy(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, app := range []string{"a", "b"} {
		if err := m.Deploy(controller.DeployArgs{Charm: charm, App: app}); err != nil {
			return err
		}
	}
	if err := m.WaitIdle(ctx, 500*time.Millisecond); err != nil {
		return err
	}

	// Baseline: the no-op dispatch exec'd directly in the unit's machine.
	mach, err := m.Machine("a/0")
	if err != nil {
		return err
	}
	var base []time.Duration
	for i := 0; i < n; i++ {
		cmd := exec.Command(filepath.Join(charm, "dispatch"))
		t0 := time.Now()
		if err := mach.Run(cmd); err != nil {
			return err
		}
		base = append(base, time.Since(t0))
	}

	// Hook overhead: config-changed for a no-op charm, queue to commit.
	var total, overhead, queue []time.Duration
	for i := 1; i <= n; i++ {
		t0 := time.Now()
		if err := m.SetConfig("a", map[string]string{"x": strconv.Itoa(i)}, nil); err != nil {
			return err
		}
		t, err := waitHook(ctx, m, "a/0", "config-changed", t0)
		if err != nil {
			return err
		}
		total = append(total, t.Committed.Sub(t0))
		queue = append(queue, t.Picked.Sub(t0))
		overhead = append(overhead, t.Committed.Sub(t0)-t.Exited.Sub(t.Started))
	}

	// integrate until both sides ran relation-changed.
	var integ []time.Duration
	for i := 0; i < rels; i++ {
		t0 := time.Now()
		if _, err := m.Integrate("a:out", "b:in"); err != nil {
			return err
		}
		if _, err := waitHook(ctx, m, "a/0", "out-relation-changed", t0); err != nil {
			return err
		}
		ta, _ := lastHook(m, "a/0", "out-relation-changed", t0)
		tb, err := waitHook(ctx, m, "b/0", "in-relation-changed", t0)
		if err != nil {
			return err
		}
		end := tb.Committed
		if ta.Committed.After(end) {
			end = ta.Committed
		}
		integ = append(integ, end.Sub(t0))
		if err := m.RemoveRelation("a:out", "b:in"); err != nil {
			return err
		}
		if err := m.WaitIdle(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}

	fmt.Printf("localjuju runtime, no-op charm, medians (n=%d hooks, %d integrations)\n", n, rels)
	fmt.Printf("  baseline: exec no-op dispatch in machine netns      %8s\n", ms(benchstat.Median(base)))
	fmt.Printf("  config-changed: set-config -> committed              %8s\n", ms(benchstat.Median(total)))
	fmt.Printf("    of which queue (set-config -> resolver picked it)  %8s\n", ms(benchstat.Median(queue)))
	fmt.Printf("  runtime overhead per hook (total - process time)     %8s\n", ms(benchstat.Median(overhead)))
	fmt.Printf("  hook total / baseline exec                           %8.2fx\n", float64(benchstat.Median(total))/float64(benchstat.Median(base)))
	fmt.Printf("  integrate -> both sides ran relation-changed         %8s\n", ms(benchstat.Median(integ)))
	return nil
}

func lastHook(m *controller.Model, unit, hook string, after time.Time) (controller.HookTiming, bool) {
	ts := m.HookTimings()
	for i := len(ts) - 1; i >= 0; i-- {
		t := ts[i]
		if t.Unit == unit && t.Hook == hook && t.Picked.After(after) {
			return t, true
		}
	}
	return controller.HookTiming{}, false
}

func waitHook(ctx context.Context, m *controller.Model, unit, hook string, after time.Time) (controller.HookTiming, error) {
	for {
		if t, ok := lastHook(m, unit, hook, after); ok {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return controller.HookTiming{}, fmt.Errorf("waiting for %s on %s: %w", hook, unit, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
