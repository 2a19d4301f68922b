package observer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// RoleChangedHook is the custom event juju-exec dispatches.
const RoleChangedHook = "role-changed"

// observeInterval is how often the observer reads its member's role: the
// local API answers in a millisecond, and Patroni's own failover takes
// ttl (20 s).
const observeInterval = 2 * time.Second

// FindJujuExec finds juju-exec (Juju 3) or juju-run (2.9) on the hook's
// PATH (Juju and localjuju set it), as an absolute path: the observer runs
// without that PATH.
func FindJujuExec() string {
	for _, name := range []string{"juju-exec", "juju-run"} {
		if p, err := exec.LookPath(name); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
		}
	}
	return ""
}

// Spec is the unit's role observer service.
func Spec(cfg pgconf.UnitConfig, charmBinary, jujuExec string) service.Spec {
	return service.Spec{
		Name: pgconf.ServiceName(cfg.Unit, "observer"), Description: "Patroni role observer for " + cfg.Unit,
		Exec:    []string{charmBinary, "observe", jujuExec, cfg.Unit, cfg.PatroniURL()},
		LogFile: filepath.Join(cfg.Layout.LogDir, "observer.log"),
	}
}

// Run is "dispatch observe <juju-exec> <unit> <patroni-url>". It
// runs until killed.
func Run(args []string, log io.Writer) int {
	if len(args) != 3 || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(log, "usage: dispatch observe <juju-exec> <unit> <patroni-url>")
		return 2
	}
	jujuExec, unit, api := args[0], args[1], args[2]
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(log, "observe: %v\n", err)
		return 1
	}
	client := &http.Client{Timeout: 5 * time.Second}
	last := ""
	for {
		role := readRole(client, api)
		if role != "" && last != "" && role != last {
			fmt.Fprintf(log, "%s observe: %s role %s -> %s: running %s\n", time.Now().UTC().Format(time.RFC3339), unit, last, role, RoleChangedHook)
			if err := fireRoleChanged(jujuExec, unit, exe); err != nil {
				fmt.Fprintf(log, "%s observe: %v\n", time.Now().UTC().Format(time.RFC3339), err)
				role = last // try again on the next look
			}
		}
		if role != "" {
			last = role
		}
		time.Sleep(observeInterval)
	}
}

// readRole returns the member's role ("master", "primary", "replica",
// ...); "" when Patroni does not answer.
func readRole(client *http.Client, api string) string {
	resp, err := client.Get(api + "/patroni")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Role string `json:"role"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return ""
	}
	return st.Role
}

// fireRoleChanged runs the charm as the role-changed event through
// juju-exec, which waits for the unit's running hook and the machine lock.
func fireRoleChanged(jujuExec, unit, exe string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jujuExec, "-u", unit, "JUJU_DISPATCH_PATH=hooks/"+RoleChangedHook+" "+exe)
	cmd.Env = withoutContext(os.Environ())
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", jujuExec, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// withoutContext drops JUJU_CONTEXT_ID: juju-exec refuses to run from
// within a hook context (contract §5.2).
func withoutContext(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "JUJU_CONTEXT_ID=") {
			out = append(out, kv)
		}
	}
	return out
}
