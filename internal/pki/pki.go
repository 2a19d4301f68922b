package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"time"
)

// organization is the O of every leaf certificate.
const organization = "postgresql charm"

// Validity periods. The CA outlives any unit; a leaf is re-issued by the
// unit itself (the hooks check it) long before it expires.
const (
	CAValidity   = 20 * 365 * 24 * time.Hour
	LeafValidity = 2 * 365 * 24 * time.Hour
	// RenewBefore: a leaf with less left than this is re-issued.
	RenewBefore = 90 * 24 * time.Hour
	// backdate covers clocks of units a little behind the issuer's.
	backdate = time.Hour
)

// CA is a certificate authority: its certificate and private key, PEM.
type CA struct {
	CertPEM []byte
	KeyPEM  []byte `json:"-"`
}

// Pair is an issued certificate and its private key, PEM.
type Pair struct {
	CertPEM []byte
	KeyPEM  []byte `json:"-"`
}

// Usage says what a leaf certificate is for.
type Usage int

const (
	// Server is an etcd member: it serves clients and peers and dials its
	// peers (and its own gRPC server, from the JSON gateway) with the same
	// certificate, so it is good for both ends of a TLS connection.
	Server Usage = iota
	// Client is a client of etcd (Patroni, the charm).
	Client
)

// NewCA generates a CA named name, valid from now.
func NewCA(name string, now time.Time) (CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, fmt.Errorf("generating the CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return CA{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, fmt.Errorf("creating the CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return CA{}, err
	}
	return CA{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// Request is what a leaf certificate says.
type Request struct {
	// Name names the holder. It goes in the subject's organizational
	// unit, and the common name stays empty: etcd 3.4 takes a client
	// certificate's CN as the etcd user name when a gRPC request carries
	// no token (so a CN must never name a user), and its JSON gateway
	// refuses any client certificate with a CN when client-cert-auth is
	// on ("CommonName of client sending a request against gateway will
	// be ignored").
	Name  string
	Usage Usage
	// Addresses go in the SANs both as IP and as DNS names: some TLS
	// clients (pgBackRest, older Python) match only DNS SANs.
	Addresses []netip.Addr
}

// LeafName is the name of a unit's certificate for a role ("etcd",
// "patroni", "charm"): "<role> of <unit>", with spaces and a slash, so
// that it could not name an etcd user even were it a CN.
func LeafName(role, unit string) string { return role + " of " + unit }

// Issue signs a new leaf certificate for req with the CA, valid from now.
func (ca CA) Issue(req Request, now time.Time) (Pair, error) {
	caCert, caKey, err := ca.parse()
	if err != nil {
		return Pair{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("generating a key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Pair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{organization}, OrganizationalUnit: []string{req.Name}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if req.Usage == Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, a := range req.Addresses {
		tmpl.IPAddresses = append(tmpl.IPAddresses, a.Unmap().AsSlice())
		tmpl.DNSNames = append(tmpl.DNSNames, a.Unmap().String())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return Pair{}, fmt.Errorf("issuing a certificate for %s: %w", req.Name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// Current says whether an issued pair still serves req at now: it parses,
// its key matches, the CA signed it, the CN, usage and addresses are
// req's, and it does not expire within RenewBefore. A unit re-issues a
// pair that is not current (its address changed, it nears expiry, the CA
// changed) and leaves a current one alone, so hooks write nothing.
func (ca CA) Current(p Pair, req Request, now time.Time) bool {
	cert, err := parseCert(p.CertPEM)
	if err != nil {
		return false
	}
	if _, err := tlsKeyMatches(p, cert); err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM) {
		return false
	}
	usage := x509.ExtKeyUsageClientAuth
	if req.Usage == Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}
	if _, err := cert.Verify(opts); err != nil {
		return false
	}
	if req.Usage == Server && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return false
	}
	if cert.Subject.CommonName != "" || !slices.Equal(cert.Subject.OrganizationalUnit, []string{req.Name}) ||
		cert.NotAfter.Sub(now) < RenewBefore {
		return false
	}
	var ips []netip.Addr
	for _, ip := range cert.IPAddresses {
		a, _ := netip.AddrFromSlice(ip)
		ips = append(ips, a.Unmap())
	}
	for _, a := range req.Addresses {
		if !slices.Contains(ips, a.Unmap()) || !slices.Contains(cert.DNSNames, a.Unmap().String()) {
			return false
		}
	}
	return len(ips) == len(req.Addresses)
}

// Check says whether ca is a usable CA: its certificate and key parse
// and belong together.
func (ca CA) Check() error {
	_, _, err := ca.parse()
	return err
}

func (ca CA) parse() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(ca.CertPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the cluster CA: %w", err)
	}
	if !cert.IsCA {
		return nil, nil, errors.New("the cluster CA: its certificate is no CA")
	}
	key, err := parseKey(ca.KeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the cluster CA: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the cluster CA: its key does not match its certificate")
	}
	return cert, key, nil
}

func tlsKeyMatches(p Pair, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	key, err := parseKey(p.KeyPEM)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("key does not match certificate")
	}
	return key, nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the private key is not ECDSA")
	}
	return ec, nil
}

// encodeKey is PKCS#8 PEM, which etcd, Python's ssl and Go all read.
func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding a key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// Equal says whether two pairs are the same bytes.
func (p Pair) Equal(q Pair) bool {
	return bytes.Equal(p.CertPEM, q.CertPEM) && bytes.Equal(p.KeyPEM, q.KeyPEM)
}
