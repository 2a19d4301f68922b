package pgbackrest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Binary is Debian's pgbackrest.
const Binary = "/usr/bin/pgbackrest"

// CLI runs pgbackrest for one unit's configuration, as the postgres user.
type CLI struct {
	// ConfigPath is the unit's pgbackrest.conf.
	ConfigPath string
	// Stanza is the stanza commands act on.
	Stanza string
	// PassFile is a pgpass file with the superuser's password, for the
	// commands that log in (stanza-create, check, backup).
	PassFile string
	// UID and GID are the postgres user's.
	UID, GID uint32
}

// Error is a failed pgbackrest command: pgBackRest's own message (its
// last ERROR line when it printed one).
type Error struct {
	Command string
	Code    int
	Message string
	// Output is everything the command printed, for S3Reason; it is
	// never logged (pgBackRest redacts the signature, but the request's
	// details are of no use to a user).
	Output string
}

func (e *Error) Error() string {
	return fmt.Sprintf("pgbackrest %s failed (exit %d): %s", e.Command, e.Code, e.Message)
}

// Run runs `pgbackrest --config=... --stanza=... <command> args...` and
// returns its standard output. progress, if set, gets each line the
// command prints on its standard error and, for commands run with
// --log-level-console=info, its log lines.
func (c CLI) Run(ctx context.Context, command string, args []string, progress func(string)) ([]byte, error) {
	argv := []string{"--config=" + c.ConfigPath}
	if c.Stanza != "" {
		argv = append(argv, "--stanza="+c.Stanza)
	}
	argv = append(argv, args...)
	argv = append(argv, command)
	cmd := exec.CommandContext(ctx, Binary, argv...)
	// A fixed environment: nothing of the hook's (PG* variables, HOME
	// with someone's .pgpass) reaches libpq.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/var/lib/postgresql"}
	if c.PassFile != "" {
		cmd.Env = append(cmd.Env, "PGPASSFILE="+c.PassFile)
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.UID, Gid: c.GID}}
	var stdout, stderr bytes.Buffer
	var wg sync.WaitGroup
	var lines []string
	var mu sync.Mutex
	collect := func(r io.Reader, keep *bytes.Buffer, isLog bool) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			keep.WriteString(line + "\n")
			if isLog {
				mu.Lock()
				lines = append(lines, line)
				mu.Unlock()
				if progress != nil {
					progress(line)
				}
			}
		}
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running pgbackrest %s: %w", command, err)
	}
	wg.Add(2)
	// info prints JSON on stdout; the other commands print their log there.
	go collect(outPipe, &stdout, command != "info")
	go collect(errPipe, &stderr, true)
	wg.Wait()
	err = cmd.Wait()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return nil, fmt.Errorf("running pgbackrest %s: %w", command, err)
	}
	return stdout.Bytes(), &Error{Command: command, Code: ee.ExitCode(), Message: lastError(lines), Output: strings.Join(lines, "\n")}
}

// lastError is pgBackRest's last ERROR line without its process prefix,
// or the last lines printed.
func lastError(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if _, msg, ok := strings.Cut(lines[i], "ERROR: "); ok {
			return strings.TrimSpace(msg)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.TrimSpace(strings.Join(lines, " "))
}

// StanzaCreate creates the stanza, or checks that the existing one
// belongs to this database (pgBackRest refuses a stanza whose system id
// differs, so another cluster's stanza is never written).
func (c CLI) StanzaCreate(ctx context.Context) error {
	_, err := c.Run(ctx, "stanza-create", nil, nil)
	return err
}

// Check forces a WAL switch and waits until the segment is archived.
func (c CLI) Check(ctx context.Context) error {
	_, err := c.Run(ctx, "check", nil, nil)
	return err
}

// Backup takes a backup of type full, diff or incr into repository repo
// (RepoPosix or RepoS3; 0 leaves pgBackRest's default, the lowest).
func (c CLI) Backup(ctx context.Context, typ string, repo int, progress func(string)) error {
	args := []string{"--type=" + typ, "--log-level-console=info"}
	if repo > 0 {
		args = append(args, "--repo="+strconv.Itoa(repo))
	}
	_, err := c.Run(ctx, "backup", args, progress)
	return err
}

// Probe lists the top of repository repo: it fails, fast, when the
// repository cannot be reached or read (an S3 endpoint, its credentials,
// its bucket), before stanza-create, which works on every repository at
// once, would say so less clearly.
func (c CLI) Probe(ctx context.Context, repo int) error {
	c.Stanza = ""
	_, err := c.Run(ctx, "repo-ls", []string{"--repo=" + strconv.Itoa(repo)}, nil)
	return err
}

// Info reads the repository: the CLI's stanza, or every stanza in the
// repository when Stanza is empty.
func (c CLI) Info(ctx context.Context) ([]Stanza, error) {
	out, err := c.Run(ctx, "info", []string{"--output=json"}, nil)
	if err != nil {
		return nil, err
	}
	return ParseInfo(out)
}

// RestoreOptions are a restore's target.
type RestoreOptions struct {
	Set    string // backup label; "" is the latest
	Type   string // default, immediate, time, lsn, xid, name
	Target string // for time, lsn, xid and name
	// Repo is the repository the backup is in (its repo-key); 0 lets
	// pgBackRest look in each.
	Repo int `json:",omitempty"`
	// PGPath is the data directory restored into; "" takes the
	// configuration's (which names only the current stanza).
	PGPath string `json:"-"`
}

// Args are the restore command's arguments for o: a delta restore into
// the existing data directory that promotes at the target.
func (o RestoreOptions) Args() []string {
	args := []string{"--delta", "--log-level-console=info", "--type=" + o.Type}
	if o.Set != "" {
		args = append(args, "--set="+o.Set)
	}
	if o.Target != "" {
		args = append(args, "--target="+o.Target)
	}
	if o.Repo > 0 {
		args = append(args, "--repo="+strconv.Itoa(o.Repo))
	}
	if o.PGPath != "" {
		args = append(args, "--pg1-path="+o.PGPath)
	}
	if o.Type != "default" {
		args = append(args, "--target-action=promote")
	}
	return args
}

// Restore restores the stanza's backup into the (stopped) data directory.
func (c CLI) Restore(ctx context.Context, o RestoreOptions, progress func(string)) error {
	_, err := c.Run(ctx, "restore", o.Args(), progress)
	return err
}
