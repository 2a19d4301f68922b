package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/benchstat"
)

// program is one binary timed by the start-up comparison.
type program struct {
	label, path string
	// wall, cpu (user+system, waited-for children included) and minor
	// page faults of each run.
	wall, cpu []time.Duration
	faults    []int64
}

// buildFlags are the Makefile's for build/charm/dispatch.
var buildFlags = []string{"build", "-trimpath", "-ldflags=-s -w"}

// buildBaselines builds, with the Makefile's flags and this module's
// toolchain, an empty Go program and one empty program per package of
// imports that only imports it, or them for "a+b" (their package
// initialisation and link size without the charm's work). The programs live in an overlay so that they
// can import the module's internal packages without a file in the tree.
func buildBaselines(dir string, imports []string) ([]*program, error) {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMOD: %w", err)
	}
	modDir := filepath.Dir(strings.TrimSpace(string(root)))
	srcs := []string{"package main\n\nfunc main() {}\n"}
	labels := []string{"empty static Go binary, the Makefile's flags"}
	for _, p := range imports {
		var b strings.Builder
		b.WriteString("package main\n\n")
		for _, q := range strings.Split(p, "+") {
			fmt.Fprintf(&b, "import _ %q\n", q)
		}
		srcs = append(srcs, b.String()+"\nfunc main() {}\n")
		labels = append(labels, "empty main importing "+p)
	}
	var out []*program
	for i, src := range srcs {
		file := filepath.Join(dir, fmt.Sprintf("main%d.go", i))
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			return nil, err
		}
		// A package directory that does not exist: the overlay supplies it.
		pkg := filepath.Join(modDir, "bench", "charm", fmt.Sprintf("startup-baseline-%d", i))
		overlay := filepath.Join(dir, fmt.Sprintf("overlay%d.json", i))
		js := fmt.Sprintf(`{"Replace":{%q:%q}}`, filepath.Join(pkg, "main.go"), file)
		if err := os.WriteFile(overlay, []byte(js), 0o644); err != nil {
			return nil, err
		}
		bin := filepath.Join(dir, fmt.Sprintf("baseline%d", i))
		args := append(append([]string{}, buildFlags...), "-overlay", overlay, "-o", bin, pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = modDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %v: %s", labels[i], err, msg)
		}
		out = append(out, &program{label: labels[i], path: bin})
	}
	return out, nil
}

// runProgram runs p once with env in dir and records its figures.
func runProgram(p *program, env []string, dir string) error {
	cmd := exec.Command(p.path)
	cmd.Env = env
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return fmt.Errorf("%s: %v: %s", p.path, err, stderr.Bytes())
	}
	p.wall = append(p.wall, wall)
	p.cpu = append(p.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.faults = append(p.faults, ru.Minflt)
	}
	return nil
}

// printPrograms prints the medians of each program and the ratios against
// the empty binary (progs[1]) of the last one (the charm's dispatch).
func printPrograms(progs []*program) {
	fmt.Printf("  %-58s %10s %10s %8s\n", "medians", "wall", "cpu", "minflt")
	for _, p := range progs {
		fmt.Printf("  %-58s %10s %10s %8d\n", p.label, ms(benchstat.Median(p.wall)), ms(benchstat.Median(p.cpu)), medianInt(p.faults))
	}
	empty, disp := progs[1], progs[len(progs)-1]
	ew, dw := benchstat.Median(empty.wall), benchstat.Median(disp.wall)
	ec, dc := benchstat.Median(empty.cpu), benchstat.Median(disp.cpu)
	fmt.Printf("  no-op dispatch / empty binary: wall %.2fx (+%s), cpu %.2fx (+%s), minflt +%d\n",
		ratio(dw, ew), ms(dw-ew), ratio(dc, ec), ms(dc-ec), medianInt(disp.faults)-medianInt(empty.faults))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// initLine is one line of GODEBUG=inittrace=1.
var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, ([0-9]+) bytes, ([0-9]+) allocs`)

// initTrace runs the dispatch n times with GODEBUG=inittrace=1 and prints
// the median total of package initialisation and its top packages.
func initTrace(disp *program, env []string, dir string, n, top int) error {
	perPkg := map[string][]time.Duration{}
	var totals []time.Duration
	for i := 0; i < n; i++ {
		cmd := exec.Command(disp.path)
		cmd.Env = append(append([]string{}, env...), "GODEBUG=inittrace=1")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("inittrace: %v: %s", err, stderr.Bytes())
		}
		var total time.Duration
		for _, l := range strings.Split(stderr.String(), "\n") {
			f := initLine.FindStringSubmatch(l)
			if f == nil {
				continue
			}
			v, _ := strconv.ParseFloat(f[2], 64)
			d := time.Duration(v * float64(time.Millisecond))
			perPkg[f[1]] = append(perPkg[f[1]], d)
			total += d
		}
		totals = append(totals, total)
	}
	type pkg struct {
		name string
		med  time.Duration
	}
	var pkgs []pkg
	for name, ds := range perPkg {
		pkgs = append(pkgs, pkg{name, benchstat.Median(ds)})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].med > pkgs[j].med })
	fmt.Printf("  package initialisation (GODEBUG=inittrace=1, median of %d): %s in %d packages; costliest:\n", n, ms(benchstat.Median(totals)), len(pkgs))
	for i := 0; i < top && i < len(pkgs); i++ {
		fmt.Printf("    %-56s %8.3f ms\n", pkgs[i].name, float64(pkgs[i].med.Microseconds())/1000)
	}
	return nil
}
