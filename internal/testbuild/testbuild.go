package testbuild

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Make runs `make -C root build` holding an exclusive lock on
// root/.build.lock, and returns make's output on failure.
func Make(root string) error {
	lock, err := os.OpenFile(filepath.Join(root, ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking the build: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if out, err := exec.Command("make", "-C", root, "build").CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %w\n%s", err, out)
	}
	return nil
}

// Prerequisites returns why the integration suite named suite ("charm",
// "HA") cannot run on this machine, or "" when it can.
func Prerequisites(suite string, short bool) string {
	if short {
		return suite + " integration tests are skipped in -short mode"
	}
	if os.Geteuid() != 0 {
		return suite + " integration tests need root (localjuju machines are network namespaces)"
	}
	for _, bin := range []string{"ip", "make", "patroni", "etcd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("%s not found (run scripts/install-deps.sh): %v", bin, err)
		}
	}
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
		return "no PostgreSQL server installed (run scripts/install-deps.sh)"
	}
	return ""
}

// T is the part of *testing.T RemoveHostDirs uses.
type T interface {
	Failed() bool
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// RemoveHostDirs removes what the charm's units of a destroyed model leave
// on the host outside the model: localjuju machines share the host's
// filesystem, and destroying a model (or force-removing a unit) runs no
// remove hook. A failed test keeps them for inspection.
func RemoveHostDirs(t T, model string, units []string) {
	for _, u := range units {
		l := pgconf.DefaultLayout(model, u, "")
		if t.Failed() {
			t.Logf("%s kept on the host for inspection: %s", u, strings.Join(l.UnitDirs(), " "))
			continue
		}
		for _, d := range l.UnitDirs() {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("removing %s: %v", d, err)
			}
		}
	}
}

// Paths are what `make build` ships and the suites test.
type Paths struct {
	Tools       string // bin/localjuju: every hook tool and juju-exec
	Charm       string // build/postgresql.charm, or $PGJUJU_TEST_CHARM
	ClientCharm string // build/pgclient.charm
}

// CharmEnv names a packed charm to test instead of build/postgresql.charm
// (for example a candidate build); `make build` still runs for localjuju.
const CharmEnv = "PGJUJU_TEST_CHARM"

// Main is an integration suite's TestMain: when the machine can run it
// (else skip records why and every test skips with it), it builds with
// make, hands the paths to set, and runs the tests. The suite lives two
// directories below the repository root.
func Main(m *testing.M, suite string, set func(Paths), skip *string) int {
	flag.Parse()
	if *skip = Prerequisites(suite, testing.Short()); *skip != "" {
		fmt.Println("SKIP:", *skip)
		return m.Run()
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The tests run what `make build` ships, not a test-only build.
	if err := Make(root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p := Paths{Tools: filepath.Join(root, "bin", "localjuju"), Charm: filepath.Join(root, "build", "postgresql.charm"),
		ClientCharm: filepath.Join(root, "build", "pgclient.charm")}
	if f := os.Getenv(CharmEnv); f != "" {
		p.Charm = f
		fmt.Printf("testing %s (from %s)\n", f, CharmEnv)
	}
	set(p)
	return m.Run()
}

// SaveDebugLog, registered as a cleanup before the model is destroyed,
// keeps the debug log of a failed test: the whole log in
// $TMPDIR/<prefix>-<test>.debug.log and, when tail > 0, its last tail
// lines (without localjuju's update-status lines) in the test output.
func SaveDebugLog(t Logger, m *controller.Model, prefix string, tail int) {
	if !t.Failed() {
		return
	}
	path := filepath.Join(os.TempDir(), prefix+"-"+strings.ReplaceAll(t.Name(), "/", "_")+".debug.log")
	if err := os.WriteFile(path, []byte(DebugLog(m, 0)), 0o600); err == nil {
		t.Logf("full debug-log in %s", path)
	}
	if tail > 0 {
		t.Logf("debug-log (last %d lines):\n%s", tail, DebugLog(m, tail))
	}
}

// Logger is the part of *testing.T SaveDebugLog uses.
type Logger interface {
	T
	Name() string
}

// DebugLog returns the model's last n debug-log lines (all when n is 0);
// the tail leaves out localjuju's update-status lines.
func DebugLog(m *controller.Model, n int) string {
	var lines []string
	for _, l := range m.DebugLog(0, 0, nil) {
		s := l.String()
		if n > 0 && strings.Contains(s, `ran "update-status" hook`) {
			continue
		}
		lines = append(lines, s)
	}
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// PasswordFromResults reads the password get-password's results point at:
// on Juju 3 the secret id and key (read as a model admin would, `juju
// show-secret --reveal`); on Juju 2.9, which has no secrets, the password
// itself. It fails when a Juju 3 result carries the password in clear.
func PasswordFromResults(m *controller.Model, res map[string]any) (string, error) {
	id, _ := res["secret-id"].(string)
	key, _ := res["secret-key"].(string)
	if id == "" {
		pw, _ := res["password"].(string)
		if pw == "" {
			return "", fmt.Errorf("get-password results have neither secret-id nor password (keys %v)", keysOf(res))
		}
		return pw, nil
	}
	if _, ok := res["password"]; ok {
		return "", fmt.Errorf("get-password results carry the password beside secret-id %s", id)
	}
	shown, err := m.ShowSecret(controller.ShowSecretArgs{ID: id, Reveal: true})
	if err != nil {
		return "", err
	}
	for _, s := range shown {
		if pw := s.Content[key]; pw != "" {
			return pw, nil
		}
	}
	return "", fmt.Errorf("secret %s has no key %q", id, key)
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
