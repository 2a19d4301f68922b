package pgconf

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pki"
)

// TestPatroniTLS: with the cluster CA, the unit's Patroni URL is https,
// patroni.yml requires a client certificate on the REST API, and the
// member certificate is good for both ends with the unit's address; an
// application without the CA keeps plain HTTP.
func TestPatroniTLS(t *testing.T) {
	plain := unitConfig(t, Options{})
	tlsCfg := withTLS(plain)
	if got := plain.PatroniURL(); got != "http://10.201.0.10:8008" {
		t.Errorf("PatroniURL without a CA = %q", got)
	}
	if got := tlsCfg.PatroniURL(); got != "https://10.201.0.10:8008" {
		t.Errorf("PatroniURL with the CA = %q", got)
	}
	for _, tc := range []struct {
		cfg  UnitConfig
		want bool
	}{{plain, false}, {tlsCfg, true}} {
		y, err := RenderPatroni(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := PatroniYMLHasTLS([]byte(y)); got != tc.want {
			t.Errorf("PatroniYMLHasTLS(rendered with CA=%v) = %v", tc.want, got)
		}
	}
	if PatroniYMLHasTLS([]byte("restapi: [unparsable")) || PatroniYMLHasTLS(nil) {
		t.Error("PatroniYMLHasTLS of garbage or nothing is true")
	}
	req := tlsCfg.CertRequest(PatroniAPICert)
	if req.Usage != pki.Server || !slices.Equal(req.Addresses, []netip.Addr{tlsCfg.Address}) {
		t.Errorf("Patroni's REST API certificate request = %+v; want a server (and client) certificate for the unit's address", req)
	}
	if req.Name == tlsCfg.CertRequest(PatroniEtcdCert).Name {
		t.Error("Patroni's REST API certificate has the name of its etcd client certificate")
	}
}
