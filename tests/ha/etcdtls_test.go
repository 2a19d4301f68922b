package ha_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
)

// etcd's ports on a database unit.
const (
	etcdClientPort = 2379
	etcdPeerPort   = 2380
)

// machineClient is an HTTP client whose connections leave from unit's
// machine, with tlsCfg for https URLs.
func (e *env) machineClient(unit string, tlsCfg *tls.Config) (*http.Client, error) {
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

// etcdProbes are the requests an outsider made in the review that found
// etcd open (issue 9): each must be refused.
var etcdProbes = []struct {
	port         int
	method, path string
}{
	{etcdClientPort, http.MethodGet, "/version"},
	{etcdClientPort, http.MethodPost, "/v3/cluster/member/list"},
	{etcdPeerPort, http.MethodGet, "/members"},
	{etcdPeerPort, http.MethodGet, "/version"},
}

// etcdRefusesOutsider is nil when, from the machine of outsider (no
// database unit), every etcd probe on unit's address is refused: in plain
// HTTP, over TLS without a client certificate, and over TLS with a
// certificate of another CA. The ports must be open (a TCP connection
// succeeds), or the refusals would prove nothing.
func (e *env) etcdRefusesOutsider(outsider, unit string) error {
	addr := e.addr(unit)
	mach, err := e.m.Machine(outsider)
	if err != nil {
		return err
	}
	stranger, err := strangerTLS()
	if err != nil {
		return err
	}
	clients := map[string]*tls.Config{
		"TLS without a client certificate":  {InsecureSkipVerify: true},
		"TLS with another CA's certificate": stranger,
	}
	for _, p := range etcdProbes {
		hp := net.JoinHostPort(addr, strconv.Itoa(p.port))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := mach.Dial(ctx, "tcp", hp)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd's port %s is not even open from %s: %w", hp, outsider, err)
		}
		conn.Close()
		if err := e.probeRefused(outsider, nil, "http://"+hp+p.path, p.method); err != nil {
			return fmt.Errorf("plain HTTP: %w", err)
		}
		for what, cfg := range clients {
			if err := e.probeRefused(outsider, cfg, "https://"+hp+p.path, p.method); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	return nil
}

// probeRefused is nil when the request fails or gets no 200.
func (e *env) probeRefused(from string, cfg *tls.Config, url, method string) error {
	c, err := e.machineClient(from, cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode == http.StatusOK {
		return fmt.Errorf("%s %s from %s answered 200: %s", method, url, from, strings.TrimSpace(string(body)))
	}
	return nil
}

// strangerTLS presents a client certificate of a CA of its own.
func strangerTLS() (*tls.Config, error) {
	ca, err := pki.NewCA("stranger", time.Now())
	if err != nil {
		return nil, err
	}
	p, err := ca.Issue(pki.Request{Name: "root", Usage: pki.Client}, time.Now())
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

// etcdCertIsNotEnough is nil when, with the cluster's own certificate
// (the charm's client certificate of unit, read from the unit's files),
// etcd on unit serves its member list but refuses a key read without a
// password: a certificate authenticates a machine, never an etcd user.
func (e *env) etcdCertIsNotEnough(from, unit string) error {
	l := pgconf.DefaultLayout(e.m.UUID(), unit, "")
	var p pki.Pair
	var err error
	if p.CertPEM, err = os.ReadFile(l.CharmEtcdCertPath()); err != nil {
		return err
	}
	if p.KeyPEM, err = os.ReadFile(l.CharmEtcdKeyPath()); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(l.EtcdCACertPath())
	if err != nil {
		return err
	}
	cfg, err := pki.ClientTLS(caPEM, p)
	if err != nil {
		return err
	}
	c, err := e.machineClient(from, cfg)
	if err != nil {
		return err
	}
	base := "https://" + netip.AddrPortFrom(netip.MustParseAddr(e.addr(unit)), etcdClientPort).String()
	post := func(path string, body any) (int, string, error) {
		data, _ := json.Marshal(body)
		res, err := c.Post(base+path, "application/json", bytes.NewReader(data))
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return res.StatusCode, string(out), nil
	}
	if code, body, err := post("/v3/cluster/member/list", struct{}{}); err != nil || code != http.StatusOK {
		return fmt.Errorf("with the cluster's certificate, member/list: %d %s %v", code, body, err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("/postgresql-charm/"))
	code, body, err := post("/v3/kv/range", map[string]string{"key": key, "range_end": base64.StdEncoding.EncodeToString([]byte("/postgresql-charm0"))})
	if err != nil {
		return err
	}
	if code == http.StatusOK && !strings.Contains(body, `"error"`) {
		return fmt.Errorf("a key read with a certificate and no password was served: %.200s", body)
	}
	return nil
}
