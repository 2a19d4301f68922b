package instance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCheckParametersServer runs System.CheckParameters against the
// installed server: the values that used to pass the catalogue checks and
// stop PostgreSQL at its next restart are refused, with the server's
// words, and a valid set passes.
func TestCheckParametersServer(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Skip("skipping: no /usr/lib/postgresql/*/bin/postgres (install postgresql)")
	}
	if os.Geteuid() == 0 {
		if _, err := lookupOwner("postgres", "postgres"); err != nil {
			t.Skipf("skipping: running as root without a postgres user: %v", err)
		}
	}
	s := &System{}
	version := s.PGVersion()
	ctx := context.Background()
	tempDirs := func() []string {
		m, _ := filepath.Glob("/tmp/pgjuju-check-*")
		n, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgjuju-check-*"))
		return append(m, n...)
	}
	before := tempDirs()
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   string // the ParameterError's message; "" for valid
	}{
		{"a valid set", map[string]string{
			"work_mem": "8MB", "huge_pages": "try", "statement_timeout": "5s", "wal_buffers": "16MB",
			"search_path": `"$user", public`, "log_line_prefix": "%m [%p] ", "pg_stat_statements.track": "all",
			"log_min_messages": "warning", "lc_messages": "C.UTF-8",
		}, ""},
		{"wal_buffers beyond its range", map[string]string{"wal_buffers": "10TB"},
			`wal_buffers = 10TB: 1342177280 8kB is outside the valid range for parameter "wal_buffers" (-1 .. 262143)`},
		{"work_mem beyond an integer", map[string]string{"work_mem": "5000GB"},
			`invalid value for parameter "work_mem": "5000GB" (value exceeds integer range)`},
		{"an enum value that does not exist", map[string]string{"huge_pages": "maybe"},
			`invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`},
		{"a negative timeout", map[string]string{"statement_timeout": "-5s"},
			`statement_timeout = -5s: -5000 ms is outside the valid range for parameter "statement_timeout" (0 .. 2147483647)`},
		{"a check hook's detail", map[string]string{"search_path": "x,,y"},
			`invalid value for parameter "search_path": "x,,y" (list syntax is invalid)`},
		{"a bad value among good ones, with a log line prefix that would hide it",
			map[string]string{"work_mem": "8MB", "huge_pages": "maybe", "log_line_prefix": "%m FATAL:  ", "log_min_messages": "panic"},
			`invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`},
		{"a bad log_min_messages itself is reported", map[string]string{"log_min_messages": "loud"},
			`invalid value for parameter "log_min_messages": "loud" (available values: debug5, debug4, debug3, debug2, debug1, info, notice, warning, error, log, fatal, panic)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			err := s.CheckParameters(ctx, version, tc.params)
			t.Logf("postgres -C with %d values: %s", len(tc.params), time.Since(t0).Round(100*time.Microsecond))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var pe *ParameterError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *ParameterError, got %v", err)
			}
			if pe.Message != tc.want {
				t.Errorf("message\n got %s\nwant %s", pe.Message, tc.want)
			}
		})
	}
	for _, d := range tempDirs() {
		if !slices.Contains(before, d) {
			t.Errorf("temporary directory left: %s", d)
		}
	}
	// The cost of one check: what a hook that changes extra_pg_conf pays.
	const n = 20
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if err := s.CheckParameters(ctx, version, map[string]string{"work_mem": "8MB", "huge_pages": "try"}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("one CheckParameters call: %s (mean of %d)", (time.Since(t0) / n).Round(100*time.Microsecond), n)
}

func TestParameterRefusal(t *testing.T) {
	for _, tc := range []struct {
		name, stderr, want string
	}{
		{"FATAL and HINT with the default prefix",
			"2026-12-01 13:36:43.507 GMT [11043] FATAL:  invalid value for parameter \"huge_pages\": \"maybe\"\n2026-12-01 13:36:43.507 GMT [11043] HINT:  Available values: off, on, try.\n",
			`invalid value for parameter "huge_pages": "maybe" (available values: off, on, try)`},
		{"no prefix, DETAIL and HINT",
			"FATAL:  invalid value for parameter \"max_stack_depth\": 102400\nDETAIL:  \"max_stack_depth\" must not exceed 7680kB.\nHINT:  Increase the platform's stack depth limit via \"ulimit -s\" or local equivalent.\n",
			`max_stack_depth = 100MB: invalid value for parameter "max_stack_depth": 102400 ("max_stack_depth" must not exceed 7680kB; increase the platform's stack depth limit via "ulimit -s" or local equivalent)`},
		{"a range error is given the value as written", "FATAL:  -5000 ms is outside the valid range for parameter \"statement_timeout\" (0 .. 2147483647)\n",
			`statement_timeout = -5s: -5000 ms is outside the valid range for parameter "statement_timeout" (0 .. 2147483647)`},
		{"a message that quotes the value needs no more", "FATAL:  invalid value for parameter \"search_path\": \"x,,y\"\n",
			`invalid value for parameter "search_path": "x,,y"`},
		{"log lines before the FATAL are ignored",
			"LOG:  skipping missing configuration file \"/tmp/x/postgresql.auto.conf\"\nFATAL:  parameter \"fsync\" requires a Boolean value\n",
			`fsync = 'maybe not': parameter "fsync" requires a Boolean value`},
		{"a FATAL about something else is not a refused value",
			"FATAL:  could not access directory \"/tmp/x\": Permission denied\n", ""},
		{"the root refusal", "\"root\" execution of the PostgreSQL server is not permitted.\n", ""},
		{"nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]string{"huge_pages": "maybe", "max_stack_depth": "100MB",
				"statement_timeout": "-5s", "search_path": "x,,y", "fsync": "maybe not"}
			if got := parameterRefusal(tc.stderr, params); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCheckParametersArgs(t *testing.T) {
	got := checkParametersArgs("/tmp/d", map[string]string{
		"log_line_prefix": "%m ", "work_mem": "8MB", "lc_messages": "C", "log_min_messages": "panic",
		"search_path": `"$user", public`, "huge_pages": "try",
	})
	want := []string{"-D", "/tmp/d", "-C", "port", "-c", "log_line_prefix=",
		"-c", "huge_pages=try", "-c", `search_path="$user", public`, "-c", "work_mem=8MB",
		"-c", "lc_messages=C", "-c", "log_min_messages=panic", "-c", "log_line_prefix=%m "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
