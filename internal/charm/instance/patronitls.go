package instance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/patroni"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/safefile"
)

// patroniTransports keeps the transport of the charm's Patroni clients
// for the life of the process, one per set of credentials (the unit's
// files): Patroni(cfg) is called for every poll of a wait, and a new
// transport each time would mean a new TLS handshake and an idle
// connection left behind each time.
var patroniTransports struct {
	sync.Mutex
	byKey map[string]http.RoundTripper
}

// patroniTransport is the transport to the unit's Patroni REST API: over
// TLS with the charm's client certificate (the one it presents to etcd,
// root's alone), trusting the cluster CA and nothing else, when the REST
// API has TLS (pgconf.PatroniTLS); plain otherwise. When the certificate
// cannot be read, every request fails saying so (Patroni would refuse the
// request anyway).
func patroniTransport(cfg pgconf.UnitConfig) http.RoundTripper {
	if !cfg.PatroniTLS() {
		return http.DefaultTransport
	}
	var p pki.Pair
	var err error
	if p.CertPEM, err = safefile.ReadTrusted(cfg.Layout.CharmEtcdCertPath()); err != nil {
		return failing{fmt.Errorf("the charm's client certificate for Patroni: %w", err)}
	}
	if p.KeyPEM, err = safefile.ReadTrusted(cfg.Layout.CharmEtcdKeyPath()); err != nil {
		return failing{fmt.Errorf("the charm's client key for Patroni: %w", err)}
	}
	key := string(cfg.CA.CertPEM) + string(p.CertPEM) + string(p.KeyPEM)
	patroniTransports.Lock()
	defer patroniTransports.Unlock()
	if rt, ok := patroniTransports.byKey[key]; ok {
		return rt
	}
	tlsCfg, err := pki.ClientTLS(cfg.CA.CertPEM, p)
	if err != nil {
		return failing{fmt.Errorf("the charm's client certificate for Patroni: %w", err)}
	}
	rt := &http.Transport{
		DialContext:         patroni.DialQuickAck(&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}),
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	if patroniTransports.byKey == nil {
		patroniTransports.byKey = map[string]http.RoundTripper{}
	}
	patroniTransports.byKey[key] = rt
	return rt
}

// failing is a transport whose every request fails with err.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// patroniSchemeChanged says whether writing patroni.yml (written: it
// changed) may have moved its REST API between plain HTTP and TLS
// (before: the file as it was, nil when there was none, as after the old
// layout's migration). Patroni changes its listener only when it
// reloads, and until then the charm, which talks TLS as soon as the
// files say so, cannot ask it to reload through the REST API: WriteFiles
// signals it.
func patroniSchemeChanged(before []byte, written bool, cfg pgconf.UnitConfig) bool {
	return written && (before == nil || pgconf.PatroniYMLHasTLS(before) != cfg.PatroniTLS())
}

// signalPatroniReload sends SIGHUP to the unit's running Patroni (see
// patroniSchemeChanged); a Patroni that does not run reads the files when
// it starts.
func (s *System) signalPatroniReload(ctx context.Context, cfg pgconf.UnitConfig) error {
	st, err := s.manager(cfg.Layout).Status(ctx, pgconf.ServiceName(cfg.Unit, "patroni"))
	if err != nil || !st.Running || st.ChildPid <= 0 {
		return err
	}
	if err := syscall.Kill(st.ChildPid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reloading Patroni for its REST API's TLS: %w", err)
	}
	return nil
}
