package instance

import (
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// TestPatroniSchemeChanged: Patroni is signalled to reload when the file
// it runs with moved between plain HTTP and TLS (or is new: the old
// layout's migration), never for an unchanged file or a change that keeps
// the scheme (the REST API reload handles those).
func TestPatroniSchemeChanged(t *testing.T) {
	plainYML := []byte("restapi:\n  listen: 10.0.0.1:8008\n")
	tlsYML := []byte("restapi:\n  listen: 10.0.0.1:8008\n  certfile: /x/rest.crt\n")
	withCA := pgconf.UnitConfig{CA: pki.CA{CertPEM: []byte("a CA")}}
	for _, tc := range []struct {
		name    string
		before  []byte
		written bool
		cfg     pgconf.UnitConfig
		want    bool
	}{
		{"plain to TLS", plainYML, true, withCA, true},
		{"TLS, another change", tlsYML, true, withCA, false},
		{"unchanged", plainYML, false, withCA, false},
		{"plain, another change, no CA", plainYML, true, pgconf.UnitConfig{}, false},
		{"no file before", nil, true, withCA, true},
	} {
		if got := patroniSchemeChanged(tc.before, tc.written, tc.cfg); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
