package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realEtcd starts /usr/bin/etcd for the test, plain HTTP on free ports of
// 127.0.0.1, and returns a client without credentials. Skipped in -short
// mode or without the binary.
func realEtcd(t *testing.T) (*Client, Config) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the real-etcd test in -short mode")
	}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		t.Skip("skipping: /usr/bin/etcd is missing (install etcd-server)")
	}
	client, peer := freePort(t), freePort(t)
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/etcd", "--name", "t", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "t="+peer, "--enable-grpc-gateway")
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	cfg := Config{Endpoints: []string{client}}
	c, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Members(ctx)
		cancel()
		if err == nil {
			return c, cfg
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
			t.Fatalf("etcd did not answer: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// userNames lists etcd's users, as root when auth is enabled.
func userNames(t *testing.T, cfg Config, rootPassword string) []string {
	t.Helper()
	if rootPassword != "" {
		cfg.Username, cfg.Password = "root", rootPassword
	}
	c, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	users, err := c.users(ctx)
	if err != nil {
		t.Fatalf("listing users: %v", err)
	}
	return users
}

func TestEnsureAuthOnAFreshEtcd(t *testing.T) {
	c, cfg := realEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if changed, err := c.EnsureAuth(ctx, "the-root-password-0123456789abcdef"); err != nil || !changed {
		t.Fatalf("EnsureAuth = %v, %v", changed, err)
	}
	if changed, err := c.EnsureAuth(ctx, "the-root-password-0123456789abcdef"); err != nil || changed {
		t.Fatalf("EnsureAuth again = %v, %v", changed, err)
	}
	if got := userNames(t, cfg, "the-root-password-0123456789abcdef"); fmt.Sprint(got) != "[root]" {
		t.Errorf("users %v", got)
	}
}

// TestEnsureAuthRefusesAnExtraUser: a user someone created before the
// charm enabled authentication would keep access afterwards; the charm
// refuses, names it, and changes nothing.
func TestEnsureAuthRefusesAnExtraUser(t *testing.T) {
	c, cfg := realEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.call(ctx, "/v3/auth/user/add", map[string]string{"name": "intruder", "password": "x"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, "/v3/auth/user/grant", map[string]string{"user": "intruder", "role": "root"}, nil); err != nil &&
		!strings.Contains(err.Error(), "role name not found") {
		t.Fatal(err)
	}
	_, err := c.EnsureAuth(ctx, "the-root-password-0123456789abcdef")
	var untrusted *UntrustedError
	if !errors.As(err, &untrusted) || !strings.Contains(err.Error(), "intruder") {
		t.Fatalf("EnsureAuth with an extra user: %v, want an UntrustedError naming intruder", err)
	}
	if enabled, err := c.authEnabled(ctx); err != nil || enabled {
		t.Errorf("auth enabled = %v, %v: the refusal changed etcd", enabled, err)
	}
	if got := userNames(t, cfg, ""); fmt.Sprint(got) != "[intruder]" {
		t.Errorf("users %v after the refusal, want [intruder] alone", got)
	}
}

// TestEnsureAuthRefusesAForeignRoot: authentication enabled by someone
// else, with a root password that is not the charm's.
func TestEnsureAuthRefusesAForeignRoot(t *testing.T) {
	c, _ := realEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.EnsureAuth(ctx, "someone-elses-password-0123456789"); err != nil {
		t.Fatal(err)
	}
	_, err := c.EnsureAuth(ctx, "the-root-password-0123456789abcdef")
	var untrusted *UntrustedError
	if !errors.As(err, &untrusted) || !strings.Contains(err.Error(), "password") {
		t.Fatalf("EnsureAuth against a foreign root: %v, want an UntrustedError about the password", err)
	}
}
