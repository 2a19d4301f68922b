package charm_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// patroniReads are the GET endpoints that give the cluster's state away
// (members, addresses, DCS configuration, timelines) and that Patroni
// 3.0.2's allowlist does not cover.
var patroniReads = []string{"/cluster", "/config", "/history"}

// machineHTTP is an HTTP client whose connections leave from unit's
// machine, with tlsCfg for https URLs.
func (e *env) machineHTTP(unit string, tlsCfg *tls.Config) (*http.Client, error) {
	mach, err := e.m.Machine(unit)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return mach.Dial(ctx, network, addr)
		},
		TLSClientConfig: tlsCfg, DisableKeepAlives: true,
	}}, nil
}

// clusterTLS is the TLS configuration of the charm of unit, read from the
// unit's files: the cluster CA and the charm's client certificate.
func (e *env) clusterTLS(unit string) (*tls.Config, error) {
	l := pgconf.DefaultLayout(e.m.UUID(), unit, "")
	var p pki.Pair
	var err error
	if p.CertPEM, err = os.ReadFile(l.CharmEtcdCertPath()); err != nil {
		return nil, err
	}
	if p.KeyPEM, err = os.ReadFile(l.CharmEtcdKeyPath()); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(l.EtcdCACertPath())
	if err != nil {
		return nil, err
	}
	return pki.ClientTLS(caPEM, p)
}

// strangerTLS presents a client certificate of a CA of its own, and
// trusts any server.
func strangerTLS() (*tls.Config, error) {
	ca, err := pki.NewCA("stranger", time.Now())
	if err != nil {
		return nil, err
	}
	p, err := ca.Issue(pki.Request{Name: "stranger", Usage: pki.Client}, time.Now())
	if err != nil {
		return nil, err
	}
	cfg, err := pki.ClientTLS(ca.CertPEM, p)
	if err != nil {
		return nil, err
	}
	cfg.InsecureSkipVerify = true
	return cfg, nil
}

// patroniRefusesOutsider is nil when, from outsider's machine (no
// database unit), none of patroniReads on unit's Patroni gives the
// cluster's data: in plain HTTP, over TLS without a client certificate,
// and over TLS with another CA's certificate. The port must be open (a
// TCP connection succeeds), or the refusals would prove nothing.
func (e *env) patroniRefusesOutsider(outsider, unit string) error {
	hp := net.JoinHostPort(e.targetOf(unit).host, strconv.Itoa(pgconf.DefaultPatroniPort))
	mach, err := e.m.Machine(outsider)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := mach.Dial(ctx, "tcp", hp)
	cancel()
	if err != nil {
		return fmt.Errorf("Patroni's port %s is not even open from %s: %w", hp, outsider, err)
	}
	conn.Close()
	stranger, err := strangerTLS()
	if err != nil {
		return err
	}
	tries := []struct {
		what, scheme string
		cfg          *tls.Config
	}{
		{"plain HTTP", "http", nil},
		{"TLS without a client certificate", "https", &tls.Config{InsecureSkipVerify: true}},
		{"TLS with another CA's certificate", "https", stranger},
	}
	var failures []string
	for _, try := range tries {
		c, err := e.machineHTTP(outsider, try.cfg)
		if err != nil {
			return err
		}
		for _, path := range patroniReads {
			url := try.scheme + "://" + hp + path
			res, err := c.Get(url)
			if err != nil {
				continue // refused: the handshake failed or the connection closed
			}
			body, _ := io.ReadAll(io.LimitReader(res.Body, 300))
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				failures = append(failures, fmt.Sprintf("%s: GET %s answered 200: %s", try.what, url, strings.TrimSpace(string(body))))
			}
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("from %s:\n%s", outsider, strings.Join(failures, "\n"))
	}
	return nil
}
