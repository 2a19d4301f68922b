package ha_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// clusterTLS is the TLS configuration of the charm of unit, read from the
// unit's files: the cluster CA alone as root, and the charm's client
// certificate, which Patroni's REST API requires (verify_client:
// required) as etcd does.
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

// patroniHTTP is a client of unit's Patroni REST API from unit's own
// machine, as the unit's charm talks to it, and the API's base URL.
func (e *env) patroniHTTP(unit string) (*http.Client, string, error) {
	cfg, err := e.clusterTLS(unit)
	if err != nil {
		return nil, "", err
	}
	c, err := e.machineClient(unit, cfg)
	if err != nil {
		return nil, "", err
	}
	return c, "https://" + net.JoinHostPort(e.addr(unit), strconv.Itoa(patroniPort)), nil
}

// patroniRefusesOutsider is nil when, from outsider's machine (no
// database unit), Patroni's GET /cluster, /config and /history on unit
// give nothing away (plain HTTP, TLS without a client certificate, TLS
// with another CA's certificate: etcdRefusesOutsider's clients), and
// every member's api_url in /cluster is https: the members themselves
// call each other over TLS.
func (e *env) patroniRefusesOutsider(outsider, unit string) error {
	hp := net.JoinHostPort(e.addr(unit), strconv.Itoa(patroniPort))
	stranger, err := strangerTLS()
	if err != nil {
		return err
	}
	for _, path := range []string{"/cluster", "/config", "/history"} {
		if err := e.probeRefused(outsider, nil, "http://"+hp+path, http.MethodGet); err != nil {
			return fmt.Errorf("plain HTTP: %w", err)
		}
		if err := e.probeRefused(outsider, &tls.Config{InsecureSkipVerify: true}, "https://"+hp+path, http.MethodGet); err != nil {
			return fmt.Errorf("TLS without a client certificate: %w", err)
		}
		if err := e.probeRefused(outsider, stranger, "https://"+hp+path, http.MethodGet); err != nil {
			return fmt.Errorf("TLS with another CA's certificate: %w", err)
		}
	}
	c, err := e.clusterJSON(unit)
	if err != nil {
		return fmt.Errorf("with the cluster's certificate: %w", err)
	}
	members, _ := c["members"].([]any)
	if len(members) == 0 {
		return fmt.Errorf("/cluster on %s lists no member: %v", unit, c)
	}
	for _, m := range members {
		mm, _ := m.(map[string]any)
		if u, _ := mm["api_url"].(string); !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("member %v has api_url %q, want https", mm["name"], u)
		}
	}
	return nil
}
