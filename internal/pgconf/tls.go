package pgconf

import (
	"net/netip"

	"gopkg.in/yaml.v3"

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

// PatroniYMLHasTLS says whether a rendered patroni.yml puts the REST API
// on TLS (restapi.certfile set). An upgraded unit's Patroni serves what
// the file said when it last reloaded: the charm compares the file before
// and after it renders it to know when Patroni must reload to follow.
func PatroniYMLHasTLS(patroniYML []byte) bool {
	var doc struct {
		RestAPI struct {
			CertFile string `yaml:"certfile"`
		} `yaml:"restapi"`
	}
	return yaml.Unmarshal(patroniYML, &doc) == nil && doc.RestAPI.CertFile != ""
}

// CertRole names a holder of a certificate of the unit.
type CertRole string

const (
	EtcdMemberCert  CertRole = "etcd"
	PatroniEtcdCert CertRole = "patroni"
	CharmEtcdCert   CertRole = "charm"
	// PatroniAPICert is the member certificate of Patroni's REST API:
	// Patroni serves with it and presents it when it calls other
	// members' REST APIs (it falls back to restapi.certfile when ctl has
	// none), so it is good for both ends, like etcd's.
	PatroniAPICert CertRole = "patroni-api"
)

// PatroniTLS says whether the unit's Patroni REST API speaks TLS and
// requires a client certificate from the cluster CA: like etcd, when the
// application's secret holds the CA. The charm's own client certificate
// (CharmEtcdCertPath) is its client certificate for Patroni too.
func (c UnitConfig) PatroniTLS() bool { return len(c.CA.CertPEM) > 0 }

// CertRequest is what the unit's certificate for role says: the member's
// certificates (etcd's, Patroni's REST API) carry the unit's address (its
// peers and clients dial it there); the clients' name the unit only. None has a common name (see
// pki.Request), so a certificate alone never authenticates as an etcd
// user.
func (c UnitConfig) CertRequest(role CertRole) pki.Request {
	r := pki.Request{Name: pki.LeafName(string(role), c.Unit), Usage: pki.Client}
	if role == EtcdMemberCert || role == PatroniAPICert {
		r.Usage, r.Addresses = pki.Server, []netip.Addr{c.Address}
	}
	return r
}
