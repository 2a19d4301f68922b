package instance

import (
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

var rootOwner = safefile.Owner{}

// etcdOwner is the user the unit's etcd runs as: the one its service
// spec names (etcdSpec, the one place that says it), root when it names
// none. etcd's key is readable by that user alone.
func etcdOwner(cfg pgconf.UnitConfig) (safefile.Owner, error) {
	name := etcdSpec(cfg).User
	if name == "" || name == "root" {
		return rootOwner, nil
	}
	return lookupOwner(name, name)
}

// tlsFile is one certificate of the unit and who may read its key.
type tlsFile struct {
	role      pgconf.CertRole
	dir       string
	cert, key string
	owner     safefile.Owner
}

// writeTLS writes the unit's TLS files (pgconf's tls_layout.go): the
// CA's certificate, and a certificate and key for etcd, Patroni (its etcd
// client and its REST API) and the charm, each issued here from the CA (whose key stays in memory) when
// the one on disk is not current (pki.CA.Current: missing, another CA,
// another address, near expiry). A steady hook reads and writes nothing
// more than the comparison needs.
func writeTLS(cfg pgconf.UnitConfig, now time.Time, postgres safefile.Owner) (bool, error) {
	if err := cfg.CA.Check(); err != nil {
		return false, err
	}
	l := cfg.Layout
	etcdUser, err := etcdOwner(cfg)
	if err != nil {
		return false, err
	}
	changed, err := safefile.EnsureDir(l.TLSDir(), 0o755, rootOwner)
	if err != nil {
		return false, err
	}
	c, err := safefile.WriteFile(l.EtcdCACertPath(), cfg.CA.CertPEM, 0o644, rootOwner)
	changed = changed || c
	if err != nil {
		return false, err
	}
	for _, f := range []tlsFile{
		{pgconf.EtcdMemberCert, l.EtcdServerDir(), l.EtcdServerCertPath(), l.EtcdServerKeyPath(), etcdUser},
		{pgconf.PatroniEtcdCert, l.PatroniEtcdDir(), l.PatroniEtcdCertPath(), l.PatroniEtcdKeyPath(), postgres},
		{pgconf.PatroniAPICert, l.PatroniEtcdDir(), l.PatroniAPICertPath(), l.PatroniAPIKeyPath(), postgres},
		{pgconf.CharmEtcdCert, l.CharmEtcdDir(), l.CharmEtcdCertPath(), l.CharmEtcdKeyPath(), rootOwner},
	} {
		c, err := writeCert(cfg, f, now)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// writeCert issues and writes one certificate unless the one on disk is
// current. The key goes first: a reader never pairs a new certificate
// with an old key for longer than the two renames.
func writeCert(cfg pgconf.UnitConfig, f tlsFile, now time.Time) (bool, error) {
	if _, err := safefile.EnsureDir(f.dir, 0o700, f.owner); err != nil {
		return false, err
	}
	req := cfg.CertRequest(f.role)
	var onDisk pki.Pair
	onDisk.CertPEM, _ = safefile.ReadFile(f.cert)
	onDisk.KeyPEM, _ = safefile.ReadFile(f.key)
	if cfg.CA.Current(onDisk, req, now) {
		return false, nil
	}
	p, err := cfg.CA.Issue(req, now)
	if err != nil {
		return false, err
	}
	if _, err := safefile.WriteFile(f.key, p.KeyPEM, 0o600, f.owner); err != nil {
		return false, err
	}
	if _, err := safefile.WriteFile(f.cert, p.CertPEM, 0o644, f.owner); err != nil {
		return false, err
	}
	return true, nil
}
