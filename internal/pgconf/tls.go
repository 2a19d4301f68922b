package pgconf

import (
	"net/netip"

	"github.com/pgjuju/pgjuju/internal/pki"
)

// EtcdTLS says whether the unit's etcd speaks TLS: it does when the
// application's secret holds the cluster CA, which the leader creates
// with the system users. An application deployed before TLS has no CA in
// its secret and keeps plain HTTP (see the README: its operator
// redeploys to get TLS); mixing the two in one cluster cannot work.
func (c UnitConfig) EtcdTLS() bool { return len(c.CA.CertPEM) > 0 }

func (c UnitConfig) etcdScheme() string {
	if c.EtcdTLS() {
		return "https"
	}
	return "http"
}

// PeerURL is the etcd peer URL of a member of this unit's cluster at addr.
func (c UnitConfig) PeerURL(addr netip.Addr) string {
	return c.etcdScheme() + "://" + hostPort(addr, EtcdPeerPort)
}

// ClientURL is the etcd client URL of a member of this unit's cluster at addr.
func (c UnitConfig) ClientURL(addr netip.Addr) string {
	return c.etcdScheme() + "://" + hostPort(addr, EtcdClientPort)
}

// CertRole names a holder of a certificate of the unit.
type CertRole string

const (
	EtcdMemberCert  CertRole = "etcd"
	PatroniEtcdCert CertRole = "patroni"
	CharmEtcdCert   CertRole = "charm"
)

// CertRequest is what the unit's certificate for role says: the member's
// certificate carries the unit's address (its peers and clients dial it
// there); the clients' name the unit only. None has a common name (see
// pki.Request), so a certificate alone never authenticates as an etcd
// user.
func (c UnitConfig) CertRequest(role CertRole) pki.Request {
	r := pki.Request{Name: pki.LeafName(string(role), c.Unit), Usage: pki.Client}
	if role == EtcdMemberCert {
		r.Usage, r.Addresses = pki.Server, []netip.Addr{c.Address}
	}
	return r
}
