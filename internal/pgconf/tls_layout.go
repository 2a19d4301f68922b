package pgconf

import "path/filepath"

// Where a unit keeps its etcd TLS files. They live in a directory of
// their own next to ConfDir, owned by root and traversable (0755), with
// one subdirectory per holder so that each daemon reads only its own key:
//
//	<ConfDir>.tls/ca.crt            the cluster CA's certificate (no key), 0644
//	<ConfDir>.tls/etcd/server.*     etcd's member certificate, etcd's user, 0700/0600
//	<ConfDir>.tls/patroni/client.*  Patroni's client certificate, postgres, 0700/0600
//	<ConfDir>.tls/patroni/rest.*    Patroni's REST API member certificate, postgres, 0700/0600
//	<ConfDir>.tls/charm/client.*    the charm's client certificate (etcd, Patroni), root, 0700/0600
//
// The CA's private key is never written: it stays in the application's
// secret, and hooks sign in memory.

// TLSDir holds the unit's TLS files (see above).
func (l Layout) TLSDir() string { return l.ConfDir + ".tls" }

// EtcdCACertPath is the cluster CA's certificate.
func (l Layout) EtcdCACertPath() string { return filepath.Join(l.TLSDir(), "ca.crt") }

// EtcdServerDir holds etcd's member certificate and key.
func (l Layout) EtcdServerDir() string { return filepath.Join(l.TLSDir(), "etcd") }

// EtcdServerCertPath is etcd's member certificate (server and peer).
func (l Layout) EtcdServerCertPath() string { return filepath.Join(l.EtcdServerDir(), "server.crt") }

// EtcdServerKeyPath is its key.
func (l Layout) EtcdServerKeyPath() string { return filepath.Join(l.EtcdServerDir(), "server.key") }

// PatroniEtcdDir holds Patroni's etcd client certificate and key.
func (l Layout) PatroniEtcdDir() string { return filepath.Join(l.TLSDir(), "patroni") }

// PatroniEtcdCertPath is Patroni's etcd client certificate.
func (l Layout) PatroniEtcdCertPath() string { return filepath.Join(l.PatroniEtcdDir(), "client.crt") }

// PatroniEtcdKeyPath is its key.
func (l Layout) PatroniEtcdKeyPath() string { return filepath.Join(l.PatroniEtcdDir(), "client.key") }

// CharmEtcdDir holds the charm's own etcd client certificate and key.
func (l Layout) CharmEtcdDir() string { return filepath.Join(l.TLSDir(), "charm") }

// CharmEtcdCertPath is the charm's etcd client certificate.
func (l Layout) CharmEtcdCertPath() string { return filepath.Join(l.CharmEtcdDir(), "client.crt") }

// CharmEtcdKeyPath is its key.
func (l Layout) CharmEtcdKeyPath() string { return filepath.Join(l.CharmEtcdDir(), "client.key") }

// PatroniAPICertPath is Patroni's REST API member certificate (server,
// and client of the other members' REST APIs).
func (l Layout) PatroniAPICertPath() string { return filepath.Join(l.PatroniEtcdDir(), "rest.crt") }

// PatroniAPIKeyPath is its key.
func (l Layout) PatroniAPIKeyPath() string { return filepath.Join(l.PatroniEtcdDir(), "rest.key") }
