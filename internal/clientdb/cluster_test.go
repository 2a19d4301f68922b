package clientdb_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/postgres"
)

// pgBin is where Debian's postgresql-15 keeps its binaries.
const pgBin = "/usr/lib/postgresql/15/bin"

// cluster is a throwaway PostgreSQL server for one test: its own data
// directory, socket directory and log, listening on 127.0.0.1 only on a free
// port, scram-sha-256 everywhere, with a superuser named operator (the
// charm's). It is the postmaster's parent, so Cleanup stops it by pid and
// waits for it (no pkill, no pid reuse).
type cluster struct {
	dir, sockDir, logFile string
	port                  uint16
	password              string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to run PostgreSQL as the postgres user")
	}
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			t.Skipf("skipping: %s/%s missing (install postgresql-15)", pgBin, b)
		}
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("skipping: no postgres OS user: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}

	// Not t.TempDir: its parent is 0700 root, which the postgres user
	// cannot traverse.
	dir, err := os.MkdirTemp("", "clientdb-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &cluster{dir: dir, sockDir: filepath.Join(dir, "sock"), logFile: filepath.Join(dir, "server.log"), password: "operator-password-0123456789abcdef"}
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(c.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, c.sockDir, pwFile} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(pgBin, "initdb"), "-D", data, "--username=operator",
		"--pwfile="+pwFile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
	initdb.SysProcAttr = cred
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	logF, err := os.OpenFile(c.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logF.Close() })
	srv := exec.Command(filepath.Join(pgBin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", fmt.Sprintf("port=%d", c.port),
		"-c", "unix_socket_directories="+c.sockDir,
		"-c", "log_statement=all", // the test reads the log for leaked secrets
		"-c", "password_encryption=scram-sha-256")
	srv.SysProcAttr = cred
	srv.Dir = dir
	srv.Stdout, srv.Stderr = logF, logF
	if err := srv.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := c.connect(ctx, "operator", c.password, "postgres")
		if err == nil {
			conn.Close(ctx)
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(c.logFile)
			t.Fatalf("postgres did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// connect logs in over TCP, as a client would.
func (c *cluster) connect(ctx context.Context, user, password, db string) (*pgx.Conn, error) {
	return postgres.Connect(ctx, postgres.ConnConfig{Host: "127.0.0.1", Port: c.port, User: user, Password: password, Database: db, ConnectTimeout: 5 * time.Second})
}

// admin connects as the superuser to db.
func (c *cluster) admin(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := postgres.Connect(ctx, postgres.ConnConfig{Host: c.sockDir, Port: c.port, User: "operator", Password: c.password, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}
