package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)

func newCA(t *testing.T) CA {
	t.Helper()
	ca, err := NewCA("test cluster CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Check(); err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestIssueCarriesAddressAsIPAndDNS(t *testing.T) {
	ca := newCA(t)
	addr := netip.MustParseAddr("10.1.2.3")
	req := Request{Name: LeafName("etcd", "pg/0"), Usage: Server, Addresses: []netip.Addr{addr}}
	p, err := ca.Issue(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCert(p.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("IP SANs = %v", cert.IPAddresses)
	}
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "10.1.2.3" {
		t.Errorf("DNS SANs = %v", cert.DNSNames)
	}
	if cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v", cert.PublicKeyAlgorithm)
	}
	if !ca.Current(p, req, t0) {
		t.Error("a fresh certificate is not current")
	}
}

func TestCurrent(t *testing.T) {
	ca := newCA(t)
	addr := netip.MustParseAddr("10.1.2.3")
	req := Request{Name: LeafName("patroni", "pg/0"), Usage: Client, Addresses: []netip.Addr{addr}}
	p, err := ca.Issue(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	other := newCA(t)
	moved := req
	moved.Addresses = []netip.Addr{netip.MustParseAddr("10.1.2.4")}
	renamed := req
	renamed.Name = "root"
	asServer := req
	asServer.Usage = Server
	q, _ := ca.Issue(req, t0)
	for name, tc := range map[string]struct {
		ca   CA
		p    Pair
		req  Request
		now  time.Time
		want bool
	}{
		"same":            {ca, p, req, t0, true},
		"a year on":       {ca, p, req, t0.Add(365 * 24 * time.Hour), true},
		"nearing expiry":  {ca, p, req, t0.Add(LeafValidity - RenewBefore + time.Hour), false},
		"address changed": {ca, p, moved, t0, false},
		"name changed":    {ca, p, renamed, t0, false},
		"usage changed":   {ca, p, asServer, t0, false},
		"another CA":      {other, p, req, t0, false},
		"key of another":  {ca, Pair{CertPEM: p.CertPEM, KeyPEM: q.KeyPEM}, req, t0, false},
		"nothing on disk": {ca, Pair{}, req, t0, false},
		"garbage on disk": {ca, Pair{CertPEM: []byte("x"), KeyPEM: []byte("y")}, req, t0, false},
	} {
		if got := tc.ca.Current(tc.p, tc.req, tc.now); got != tc.want {
			t.Errorf("%s: Current = %v, want %v", name, got, tc.want)
		}
	}
}

func TestCheckRefusesMismatchedKey(t *testing.T) {
	a, b := newCA(t), newCA(t)
	if err := (CA{CertPEM: a.CertPEM, KeyPEM: b.KeyPEM}).Check(); err == nil {
		t.Error("a CA with another CA's key passed")
	}
	if err := (CA{}).Check(); err == nil {
		t.Error("an empty CA passed")
	}
}

func TestLeafHasNoCommonName(t *testing.T) {
	// etcd 3.4 takes a client certificate's CN as the user name when a
	// request has no token, and its JSON gateway refuses a client
	// certificate with a CN: no leaf has one.
	ca := newCA(t)
	for _, role := range []string{"etcd", "patroni", "charm"} {
		n := LeafName(role, "postgresql/0")
		if n == "root" || !strings.Contains(n, " ") {
			t.Errorf("LeafName(%q) = %q", role, n)
		}
		p, err := ca.Issue(Request{Name: n, Usage: Client}, t0)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := parseCert(p.CertPEM)
		if cert.Subject.CommonName != "" || cert.Subject.OrganizationalUnit[0] != n {
			t.Errorf("%s: subject %v", role, cert.Subject)
		}
	}
}

// TestMutualTLS: a server certificate serves a client holding a
// certificate of the same CA, and refuses one without a certificate or
// with another CA's.
func TestMutualTLS(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	addr := netip.MustParseAddr("127.0.0.1")
	srvPair, err := ca.Issue(Request{Name: LeafName("etcd", "pg/0"), Usage: Server, Addresses: []netip.Addr{addr}}, now)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := tls.X509KeyPair(srvPair.CertPEM, srvPair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	get := func(cfg *tls.Config) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		res, err := c.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	client, _ := ca.Issue(Request{Name: LeafName("charm", "pg/0"), Usage: Client}, now)
	cfg, err := ClientTLS(ca.CertPEM, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(cfg); err != nil {
		t.Errorf("with the cluster's client certificate: %v", err)
	}
	if err := get(&tls.Config{RootCAs: pool}); err == nil {
		t.Error("a client without a certificate was served")
	}
	stranger := newCA(t)
	sc, _ := stranger.Issue(Request{Name: "x", Usage: Client}, now)
	scfg, _ := ClientTLS(ca.CertPEM, sc)
	if err := get(scfg); err == nil {
		t.Error("a client with another CA's certificate was served")
	}
}
