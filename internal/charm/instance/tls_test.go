package instance

import (
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

// TestWriteTLS: the unit's TLS files have the owners and modes each
// holder needs and no more, the CA key is written nowhere, a second pass
// writes nothing, and a new address or a certificate near expiry is
// re-issued.
func TestWriteTLS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: owning files needs root")
	}
	postgres, err := lookupOwner("postgres", "postgres")
	if err != nil {
		t.Skip("skipping: no postgres user")
	}
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	ca, err := pki.NewCA("test", now)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg := pgconf.UnitConfig{Unit: "postgresql/0", Address: netip.MustParseAddr("10.201.0.10"), CA: ca,
		Layout: pgconf.Layout{ConfDir: filepath.Join(root, "conf")}}
	l := cfg.Layout
	if changed, err := writeTLS(cfg, now, postgres); err != nil || !changed {
		t.Fatalf("first writeTLS = %v, %v", changed, err)
	}
	etcdUser, _ := etcdOwner(cfg)
	for _, f := range []struct {
		path  string
		mode  os.FileMode
		owner safefile.Owner
	}{
		{l.TLSDir(), 0o755 | os.ModeDir, rootOwner},
		{l.EtcdCACertPath(), 0o644, rootOwner},
		{l.EtcdServerDir(), 0o700 | os.ModeDir, etcdUser},
		{l.EtcdServerKeyPath(), 0o600, etcdUser},
		{l.PatroniEtcdDir(), 0o700 | os.ModeDir, postgres},
		{l.PatroniEtcdKeyPath(), 0o600, postgres},
		{l.PatroniAPIKeyPath(), 0o600, postgres},
		{l.PatroniAPICertPath(), 0o644, postgres},
		{l.CharmEtcdDir(), 0o700 | os.ModeDir, rootOwner},
		{l.CharmEtcdKeyPath(), 0o600, rootOwner},
	} {
		fi, err := os.Lstat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != f.mode || int(st.Uid) != f.owner.UID || int(st.Gid) != f.owner.GID {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", f.path, fi.Mode(), st.Uid, st.Gid, f.mode, f.owner.UID, f.owner.GID)
		}
	}
	// The CA key is nowhere on disk.
	filepath.Walk(l.TLSDir(), func(p string, fi os.FileInfo, _ error) error {
		if data, _ := os.ReadFile(p); !fi.IsDir() && string(data) == string(ca.KeyPEM) {
			t.Errorf("%s holds the CA key", p)
		}
		return nil
	})
	if changed, err := writeTLS(cfg, now.Add(24*time.Hour), postgres); err != nil || changed {
		t.Errorf("second writeTLS = %v, %v: a steady pass writes nothing", changed, err)
	}
	before, _ := os.ReadFile(l.EtcdServerCertPath())
	moved := cfg
	moved.Address = netip.MustParseAddr("10.201.0.99")
	if changed, err := writeTLS(moved, now, postgres); err != nil || !changed {
		t.Errorf("writeTLS after the address changed = %v, %v", changed, err)
	}
	after, _ := os.ReadFile(l.EtcdServerCertPath())
	if string(before) == string(after) || !ca.Current(pki.Pair{CertPEM: after, KeyPEM: mustRead(t, l.EtcdServerKeyPath())}, moved.CertRequest(pgconf.EtcdMemberCert), now) {
		t.Error("the member certificate was not re-issued for the new address")
	}
	restPair := pki.Pair{CertPEM: mustRead(t, l.PatroniAPICertPath()), KeyPEM: mustRead(t, l.PatroniAPIKeyPath())}
	if !ca.Current(restPair, moved.CertRequest(pgconf.PatroniAPICert), now) {
		t.Error("Patroni's REST API certificate was not re-issued for the new address")
	}
	if changed, err := writeTLS(moved, now.Add(pki.LeafValidity-pki.RenewBefore+time.Hour), postgres); err != nil || !changed {
		t.Errorf("writeTLS near expiry = %v, %v", changed, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
