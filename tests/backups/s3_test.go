package backups_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

const (
	s3App    = "s3-integrator"
	s3Bucket = "pgbackups"
	s3Port   = 7070
)

// s3Server is versitygw (build/versitygw, Apache-2.0) serving S3 over TLS
// from a posix directory, started by the test on a machine of the model.
type s3Server struct {
	endpoint string // https://<address>:7070
	caPEM    []byte
	access   string
	secret   string

	root   string // the posix backend's directory: a bucket is a directory in it
	e      *env
	mach   interface{ Start(*exec.Cmd) error }
	listen string
	args   []string
	log    string
	cmd    *exec.Cmd
}

// startS3 starts versitygw on the machine of unit (a machine of its own:
// the s3-integrator's, which runs nothing else), bound to the machine's
// address, with a fresh self-signed certificate whose SAN holds the
// address as an IP and as a DNS name (pgBackRest 2.45 checks only DNS
// names), and a bucket. The root credentials reach it through its
// environment, not its command line. It is killed, by its pid, at
// cleanup.
func (e *env) startS3(unit string) *s3Server {
	e.t.Helper()
	bin := filepath.Join(filepath.Dir(clientCharm), "versitygw")
	if _, err := os.Stat(bin); err != nil {
		e.t.Fatalf("no S3 server: %v (make build builds build/versitygw)", err)
	}
	addr, err := netip.ParseAddr(e.addr(unit))
	if err != nil {
		e.t.Fatalf("address of %s: %v", unit, err)
	}
	// The model's T: a step's TempDir goes when the step ends.
	dir := e.top.TempDir()
	certPEM, keyPEM := selfSigned(e.t, addr)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		e.t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	// In versitygw's posix backend a bucket is a directory of the root.
	if err := os.MkdirAll(filepath.Join(root, s3Bucket), 0o700); err != nil {
		e.t.Fatal(err)
	}
	listen := net.JoinHostPort(addr.String(), strconv.Itoa(s3Port))
	s := &s3Server{endpoint: "https://" + listen, caPEM: certPEM,
		access: "pgjuju-test-" + randomHex(e.t, 4), secret: randomHex(e.t, 20),
		e: e, root: root, listen: listen, log: filepath.Join(dir, "versitygw.log"),
		args: []string{bin, "--port", listen, "--cert", certFile, "--key", keyFile, "--quiet", "posix", root}}
	mach, err := e.m.Machine(unit)
	if err != nil {
		e.t.Fatal(err)
	}
	s.mach = mach
	e.top.Cleanup(s.stop)
	s.start()
	return s
}

// start starts the server and waits until it listens.
func (s *s3Server) start() {
	e := s.e
	e.t.Helper()
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "ROOT_ACCESS_KEY=" + s.access, "ROOT_SECRET_KEY=" + s.secret}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := s.mach.Start(cmd); err != nil {
		e.t.Fatalf("starting versitygw: %v", err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	mach, _ := e.m.Machine(s3App + "/0")
	e.waitFor("versitygw listening on "+s.endpoint, func() error {
		select {
		case <-exited:
			b, _ := os.ReadFile(s.log)
			return permanent(fmt.Errorf("versitygw exited: %s", b))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := mach.Dial(ctx, "tcp", s.listen)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// stop kills the server, by the pid the test started.
func (s *s3Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd = nil
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// selfSigned is a self-signed CA certificate for addr, as IP and DNS
// SAN, and its key, in PEM.
func selfSigned(t *testing.T, addr netip.Addr) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: addr.String()},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{addr.AsSlice()}, DNSNames: []string{addr.String()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// syncCredentials runs the s3-integrator's sync-s3-credentials action.
func (e *env) syncCredentials(access, secret string) {
	e.t.Helper()
	e.waitFor("sync-s3-credentials", func() error {
		// It fails until the s3-integrator's peer relation exists.
		r := e.action(s3App+"/0", "sync-s3-credentials", map[string]any{"access-key": access, "secret-key": secret})
		if r.Status != "completed" {
			return fmt.Errorf("sync-s3-credentials: %s %q", r.Status, r.Message)
		}
		return nil
	})
}

// noSecretOnCommandLines fails if any process's command line or any
// file under the units' configuration directories that others can read
// holds secret.
func (e *env) noSecretOnCommandLines(secret string) {
	e.t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			e.t.Errorf("the S3 secret key is on the command line of %s: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

// TestS3Repository: a three-unit application with a client and a posix
// repository is related to an s3-integrator whose server (versitygw, TLS
// with its own CA) holds the bucket. Wrong credentials block the primary
// with a status naming the relation, nothing stops; a missing bucket too;
// right ones make it active. Backups go to either repository and
// list-backups shows both; a point-in-time restore to an LSN from the S3
// repository brings back exactly the rows as of the target on all three
// units, the replicas stream again and the client connects again.
func TestS3Repository(t *testing.T) {
	e := newEnv(t)
	units := []string{app + "/0", app + "/1", app + "/2"}
	s3Charm := filepath.Join(filepath.Dir(clientCharm), "s3integrator.charm")
	var password, primary, clientRel, leader string
	var replicas []string
	var srv *s3Server
	suiteStart := time.Now()
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	step("deploy three units with backup_path, a client, an s3-integrator and its server", func(t *testing.T) {
		e := e.with(t)
		repo := e.repoDir("s3posix", "postgres", 0o750)
		for _, u := range units {
			e.seen[u] = true
		}
		// A short io-timeout: a failing S3 request otherwise waits 60 s.
		if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 3,
			Config: map[string]string{"backup_path": repo, "backup_io_timeout": "5"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Deploy(controller.DeployArgs{Charm: s3Charm, App: s3App, NumUnits: 1}); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: "client", NumUnits: 1}); err != nil {
			t.Fatal(err)
		}
		id, err := e.m.Integrate(app+":database", "client:database")
		if err != nil {
			t.Fatal(err)
		}
		clientRel = fmt.Sprintf("database:%d", id)
		e.waitFor("the s3-integrator's machine", func() error {
			if e.addr(s3App+"/0") == "" {
				return fmt.Errorf("no address yet")
			}
			return nil
		})
		srv = e.startS3(s3App + "/0")
		err = e.m.SetConfig(s3App, map[string]string{"endpoint": srv.endpoint, "bucket": s3Bucket, "path": "/postgresql",
			"region": "us-east-1", "s3-uri-style": "path", "tls-ca-chain": base64.StdEncoding.EncodeToString(srv.caPEM)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.waitFor("one primary, two replicas", func() error {
			var err error
			primary, replicas, err = e.roles(units)
			return err
		})
		leader = e.leader(units)
		password = e.password(leader)
		e.waitFor("the client connected", func() error { return e.checkOK("client/0", clientRel) })
	})
	step("wrong credentials block the primary naming the relation; nothing stops", func(t *testing.T) {
		e := e.with(t)
		e.syncCredentials(srv.access, "wrong-"+srv.secret)
		if _, err := e.m.Integrate(app+":s3-parameters", s3App+":s3-credentials"); err != nil {
			t.Fatal(err)
		}
		e.waitFor(primary+" blocked on the s3-parameters relation", func() error {
			return e.workload(primary, "blocked", "s3-parameters: S3 repository "+s3Bucket)
		})
		t.Logf("status: %s", e.unitStatus(primary).WorkloadStatus.Message)
		if msg := e.unitStatus(primary).WorkloadStatus.Message; !strings.Contains(msg, "access denied") {
			t.Errorf("status %q does not say access is denied", msg)
		}
		// Nothing stopped: the primary takes writes, replicas are active.
		e.mustSQL(primary, password, "CREATE TABLE items (id int PRIMARY KEY)", "INSERT INTO items SELECT generate_series(1, 100)")
		for _, u := range replicas {
			if err := e.workload(u, "active", "Replica"); err != nil {
				t.Error(err)
			}
		}
		e.noSecretOnCommandLines("wrong-" + srv.secret)
	})
	step("the right credentials make it active; a missing bucket blocks again", func(t *testing.T) {
		e := e.with(t)
		e.syncCredentials(srv.access, srv.secret)
		e.waitFor(primary+" active", func() error { return e.workload(primary, "active", "Primary") })
		if err := e.m.SetConfig(s3App, map[string]string{"bucket": "no-such-bucket"}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor(primary+" blocked on a missing bucket", func() error {
			return e.workload(primary, "blocked", "s3-parameters: S3 repository no-such-bucket")
		})
		if msg := e.unitStatus(primary).WorkloadStatus.Message; !strings.Contains(msg, "bucket does not exist") {
			t.Errorf("status %q does not say the bucket does not exist", msg)
		}
		if err := e.m.SetConfig(s3App, map[string]string{"bucket": s3Bucket}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor(primary+" active", func() error { return e.workload(primary, "active", "Primary") })
		// The credentials are in pgbackrest.conf, readable by root and
		// the postgres group only, and on no command line.
		conf := pgconf.DefaultLayout(e.m.UUID(), primary, "").PgBackRestConfigPath()
		fi, err := os.Stat(conf)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		pg, _ := user.Lookup("postgres")
		if fi.Mode().Perm() != 0o640 || st.Uid != 0 || strconv.Itoa(int(st.Gid)) != pg.Gid {
			t.Errorf("%s: mode %v owner %d:%d, want 0640 root:postgres", conf, fi.Mode().Perm(), st.Uid, st.Gid)
		}
		e.noSecretOnCommandLines(srv.secret)
	})
	var targetLSN string
	step("backups into both repositories; list-backups shows both", func(t *testing.T) {
		e := e.with(t)
		r := e.action(primary, "create-backup", map[string]any{"repo": "s3"})
		if r.Status != "completed" || !strings.HasPrefix(result(r, "repository"), "repo2 s3") {
			t.Fatalf("create-backup repo=s3: %s %q %v", r.Status, r.Message, r.Results)
		}
		r = e.action(primary, "create-backup", nil)
		if r.Status != "completed" || !strings.HasPrefix(result(r, "repository"), "repo1 posix") {
			t.Fatalf("create-backup (default: posix): %s %q %v", r.Status, r.Message, r.Results)
		}
		r = e.action(primary, "list-backups", nil)
		if r.Status != "completed" {
			t.Fatalf("list-backups: %s %q", r.Status, r.Message)
		}
		var repos []string
		for i := 1; result(r, "backups."+strconv.Itoa(i)+".id") != ""; i++ {
			repos = append(repos, strings.Fields(result(r, "backups."+strconv.Itoa(i)+".repository"))[0])
		}
		if !slices.Contains(repos, "repo1") || !slices.Contains(repos, "repo2") {
			t.Errorf("list-backups: repositories of the backups %v, want repo1 and repo2\n%s", repos, result(r, "table"))
		}
		t.Logf("list-backups:\n%s", result(r, "table"))
		err := e.sql(primary, password, func(ctx context.Context, c *pgx.Conn) error {
			if _, err := c.Exec(ctx, "INSERT INTO items SELECT generate_series(101, 150)"); err != nil {
				return err
			}
			return c.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&targetLSN)
		})
		if err != nil {
			t.Fatal(err)
		}
		e.mustSQL(primary, password, "INSERT INTO items SELECT generate_series(151, 160)", "DROP TABLE items")
	})
	step("restore to an LSN from the S3 repository on three units", func(t *testing.T) {
		e := e.with(t)
		start := time.Now()
		leader = e.leader(units)
		r := e.action(leader, "restore", map[string]any{"restore-to-lsn": targetLSN, "repo": "s3"})
		if r.Status != "completed" || !strings.HasPrefix(result(r, "result"), "started") {
			t.Fatalf("restore on the leader %s: %s %q %v", leader, r.Status, r.Message, r.Results)
		}
		e.waitFor("one primary, two replicas with the rows as of "+targetLSN, func() error {
			var err error
			primary, replicas, err = e.roles(units)
			if err != nil {
				return err
			}
			for _, u := range append([]string{primary}, replicas...) {
				ids, err := e.ids(u, password, "items")
				if err != nil || !slices.Equal(ids, seq(1, 150)) {
					return fmt.Errorf("items on %s: %d rows (%v), want 1..150", u, len(ids), err)
				}
			}
			return nil
		})
		t.Logf("three-unit restore from S3: %.1fs from the action to every unit serving the restored rows", time.Since(start).Seconds())
		e.mustSQL(primary, password, "INSERT INTO items VALUES (1000)")
		e.waitFor("row 1000 on the replicas", func() error {
			for _, u := range replicas {
				ids, err := e.ids(u, password, "items")
				if err != nil || !slices.Contains(ids, 1000) {
					return fmt.Errorf("%s: %v", u, err)
				}
			}
			return nil
		})
		e.waitFor("the client connects again", func() error { return e.checkOK("client/0", clientRel) })
	})
	step("a schedule of every minute backs up into both repositories; retention keeps one full; a failure shows", func(t *testing.T) {
		e := e.with(t)
		start := time.Now()
		fulls := func() (repo1, repo2 []string, err error) {
			r := e.action(primary, "list-backups", nil)
			if r.Status != "completed" {
				return nil, nil, fmt.Errorf("list-backups: %s %q", r.Status, r.Message)
			}
			for i := 1; result(r, "backups."+strconv.Itoa(i)+".id") != ""; i++ {
				k := "backups." + strconv.Itoa(i) + "."
				if result(r, k+"type") != "full" {
					continue
				}
				switch strings.Fields(result(r, k+"repository"))[0] {
				case "repo1":
					repo1 = append(repo1, result(r, k+"id"))
				case "repo2":
					repo2 = append(repo2, result(r, k+"id"))
				}
			}
			return repo1, repo2, nil
		}
		// The restored cluster's own first backup, in posix.
		var before []string
		e.waitFor("the restored cluster's full backup", func() error {
			var err error
			if before, _, err = fulls(); err == nil && len(before) == 0 {
				err = fmt.Errorf("none yet")
			}
			return err
		})
		if err := e.m.SetConfig(app, map[string]string{"backup_schedule": "* * * * *", "backup_retention_full": "1"}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor("a scheduled full backup in each repository, one full kept in posix", func() error {
			repo1, repo2, err := fulls()
			switch {
			case err != nil:
				return err
			case len(repo2) == 0:
				return fmt.Errorf("no full backup in S3 yet (posix: %v)", repo1)
			case len(repo1) != 1 || slices.Contains(before, repo1[0]):
				return fmt.Errorf("posix holds %v, want one full backup newer than %v", repo1, before)
			}
			return nil
		})
		t.Logf("first scheduled backup: %.0fs after the schedule was set", time.Since(start).Seconds())
		// The stanza's backup.info gone from the bucket (the server's
		// posix backend): the next scheduled backup fails in S3 (the
		// posix one succeeds, the archive goes on) and the primary's
		// status says so. (Stopping the server would fail the archive
		// too, and each backup would wait archive-timeout first.)
		r := e.action(primary, "list-backups", nil)
		info := filepath.Join(srv.root, s3Bucket, "postgresql", "backup", result(r, "stanza"))
		for _, f := range []string{"backup.info", "backup.info.copy"} {
			if err := os.Rename(filepath.Join(info, f), filepath.Join(info, f+".hidden")); err != nil {
				t.Fatal(err)
			}
		}
		e.waitFor(primary+" blocked on a failed scheduled backup", func() error {
			return e.workload(primary, "blocked", "scheduled backup of")
		})
		t.Logf("status: %s", e.unitStatus(primary).WorkloadStatus.Message)
		for _, f := range []string{"backup.info", "backup.info.copy"} {
			if err := os.Rename(filepath.Join(info, f+".hidden"), filepath.Join(info, f)); err != nil {
				t.Fatal(err)
			}
		}
		// Without a schedule the failure is no longer reported. (Waiting
		// for the next slot to succeed would add a minute to the suite;
		// TestDecideSchedule covers that a success clears it.)
		if err := e.m.SetConfig(app, map[string]string{"backup_schedule": ""}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitFor(primary+" active without a schedule", func() error { return e.workload(primary, "active", "Primary") })
	})
	t.Logf("S3 test wall time %.0fs", time.Since(suiteStart).Seconds())
}
