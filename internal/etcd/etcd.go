package etcd

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Member is an etcd member.
type Member struct {
	ID       uint64
	Name     string // empty until the added member has started
	PeerURLs []string
	// ClientURLs is empty until the member has started.
	ClientURLs []string
	// IsLearner: a non-voting member that catches up before Promote.
	IsLearner bool
}

// Started reports whether the member has joined (an added member has no
// name until it starts).
func (m Member) Started() bool { return m.Name != "" }

// Config says how to reach the cluster.
type Config struct {
	Endpoints []string // client URLs
	Username  string   // empty before auth is enabled
	Password  string   `json:"-"`
	// Dial, if set, opens the connections (localjuju and tests dial from
	// inside a unit's network namespace).
	Dial        func(ctx context.Context, addr string) (net.Conn, error)
	DialTimeout time.Duration // zero means 5 s
	// TLS is the client side of https endpoints: the cluster's CA and
	// this client's certificate (members refuse clients without one).
	TLS *tls.Config
}

// Errors etcd answers with, as its JSON gateway words them. Check them
// with errors.Is.
var (
	ErrUserEmpty         = errors.New("etcdserver: user name is empty")
	ErrUserAlreadyExist  = errors.New("etcdserver: user name already exists")
	ErrRoleAlreadyExist  = errors.New("etcdserver: role name already exists")
	ErrMemberNotFound    = errors.New("etcdserver: member not found")
	ErrPermissionDenied  = errors.New("etcdserver: permission denied")
	ErrInvalidAuthToken  = errors.New("etcdserver: invalid auth token")
	ErrAuthNotEnabled    = errors.New("etcdserver: authentication is not enabled")
	ErrAuthFailed        = errors.New("etcdserver: authentication failed, invalid user ID or password")
	ErrAuthOldRevision   = errors.New("etcdserver: revision of auth store is old")
	knownErrors          = []error{ErrUserEmpty, ErrUserAlreadyExist, ErrRoleAlreadyExist, ErrMemberNotFound, ErrPermissionDenied, ErrInvalidAuthToken, ErrAuthNotEnabled, ErrAuthFailed, ErrAuthOldRevision}
	errUnavailablePrefix = "etcd unavailable"
)

// Error is an error answer of the gateway.
type Error struct {
	Path    string
	Status  int
	Message string
	known   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd %s: %d %s", e.Path, e.Status, e.Message)
}

// Unwrap returns the known error the message names, if any.
func (e *Error) Unwrap() error { return e.known }

// Client is a connection to the cluster through etcd's v3 JSON gateway
// (/v3/..., which Patroni uses too; the member's configuration enables
// it). It speaks HTTP rather than gRPC so that the charm binary does not
// link the gRPC and protobuf packages, whose initialisation cost every
// hook about 10 ms (bench/charm's no-op dispatch).
type Client struct {
	cfg  Config
	http *http.Client

	mu    sync.Mutex
	token string
}

// Connect returns a client. It does not fail when the cluster is down;
// calls do.
func Connect(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("connecting to etcd: no endpoints")
	}
	timeout := cfg.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second,
		TLSClientConfig: cfg.TLS, TLSHandshakeTimeout: timeout}
	if cfg.Dial != nil {
		tr.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return cfg.Dial(ctx, addr)
		}
	}
	return &Client{cfg: cfg, http: &http.Client{Transport: tr}}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// call posts req as JSON to path on each endpoint in turn until one
// answers, authenticating first when the config has a user, and decodes
// the answer into resp (if not nil).
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	if c.cfg.Username != "" {
		c.mu.Lock()
		tok := c.token
		c.mu.Unlock()
		if tok == "" {
			if err := c.authenticate(ctx); err != nil {
				return err
			}
		}
	}
	err := c.post(ctx, path, req, resp, true)
	if c.cfg.Username != "" && (errors.Is(err, ErrInvalidAuthToken) || errors.Is(err, ErrAuthOldRevision)) {
		if err := c.authenticate(ctx); err != nil {
			return err
		}
		err = c.post(ctx, path, req, resp, true)
	}
	return err
}

func (c *Client) authenticate(ctx context.Context) error {
	var out struct {
		Token string `json:"token"`
	}
	err := c.post(ctx, "/v3/auth/authenticate", map[string]string{"name": c.cfg.Username, "password": c.cfg.Password}, &out, false)
	if errors.Is(err, ErrAuthNotEnabled) {
		return nil // nothing to authenticate against yet
	}
	if err != nil {
		return fmt.Errorf("authenticating to etcd as %s: %w", c.cfg.Username, err)
	}
	c.mu.Lock()
	c.token = out.Token
	c.mu.Unlock()
	return nil
}

func (c *Client) post(ctx context.Context, path string, req, resp any, withToken bool) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("etcd %s: encoding: %w", path, err)
	}
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	var errs []error
	for _, ep := range c.cfg.Endpoints {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(ep, "/")+path, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("etcd %s: %w", path, err)
		}
		r.Header.Set("Content-Type", "application/json")
		if withToken && tok != "" {
			r.Header.Set("Authorization", tok)
		}
		res, err := c.http.Do(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", errUnavailablePrefix, ep, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
		res.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("etcd %s: reading answer: %w", path, err))
			continue
		}
		if res.StatusCode != http.StatusOK {
			return gatewayError(path, res.StatusCode, data)
		}
		// A streamed error arrives with status 200 too.
		if e := gatewayError(path, res.StatusCode, data); e.Message != "" {
			return e
		}
		if resp != nil {
			if err := json.Unmarshal(data, resp); err != nil {
				return fmt.Errorf("etcd %s: decoding answer: %w", path, err)
			}
		}
		return nil
	}
	return errors.Join(errs...)
}

// gatewayError reads the gateway's error body: {"error": ..., "message":
// ..., "code": ...}; Message is empty when the body carries none.
func gatewayError(path string, status int, data []byte) *Error {
	var body struct {
		Error   any    `json:"error"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &body)
	msg := body.Message
	if s, ok := body.Error.(string); ok && msg == "" {
		msg = s
	}
	if m, ok := body.Error.(map[string]any); ok && msg == "" {
		msg, _ = m["message"].(string)
	}
	e := &Error{Path: path, Status: status, Message: msg}
	if status != http.StatusOK && msg == "" {
		e.Message = strings.TrimSpace(string(data))
	}
	for _, k := range knownErrors {
		if strings.Contains(e.Message, k.Error()) {
			e.known = k
		}
	}
	return e
}

// uint64 in the gateway's JSON is a string (proto3 JSON mapping).
type jsonMember struct {
	ID         uint64   `json:"ID,string"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// Members lists the members, sorted by name then peer URL.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var resp struct {
		Members []jsonMember `json:"members"`
	}
	if err := c.call(ctx, "/v3/cluster/member/list", struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	out := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return firstURL(out[i]) < firstURL(out[j])
	})
	return out, nil
}

func firstURL(m Member) string {
	if len(m.PeerURLs) == 0 {
		return ""
	}
	return m.PeerURLs[0]
}

// find returns the member with the peer URL.
func find(members []Member, peerURL string) (Member, bool) {
	for _, m := range members {
		for _, u := range m.PeerURLs {
			if u == peerURL {
				return m, true
			}
		}
	}
	return Member{}, false
}

// EnsureMember adds a member with peerURL unless one exists. The new
// member must then be started with initial-cluster-state "existing" and an
// initial-cluster that lists the members returned here.
func (c *Client) EnsureMember(ctx context.Context, peerURL string) (changed bool, members []Member, err error) {
	members, err = c.Members(ctx)
	if err != nil {
		return false, nil, err
	}
	if _, ok := find(members, peerURL); ok {
		return false, members, nil
	}
	if err := c.call(ctx, "/v3/cluster/member/add", map[string][]string{"peerURLs": {peerURL}}, nil); err != nil {
		return false, nil, fmt.Errorf("adding etcd member %s: %w", peerURL, err)
	}
	members, err = c.Members(ctx)
	return true, members, err
}

// EnsureLearner adds a non-voting member (a learner) with peerURL unless
// a member with it exists. A learner does not count towards the quorum, so
// the cluster keeps working while the new member is not started yet
// (a voting member added to a one-member cluster would halt it until the
// new one starts); Promote makes it a voter once it has caught up.
func (c *Client) EnsureLearner(ctx context.Context, peerURL string) (changed bool, err error) {
	members, err := c.Members(ctx)
	if err != nil {
		return false, err
	}
	if _, ok := find(members, peerURL); ok {
		return false, nil
	}
	req := struct {
		PeerURLs  []string `json:"peerURLs"`
		IsLearner bool     `json:"isLearner"`
	}{[]string{peerURL}, true}
	if err := c.call(ctx, "/v3/cluster/member/add", req, nil); err != nil {
		return false, fmt.Errorf("adding etcd learner %s: %w", peerURL, err)
	}
	return true, nil
}

// ErrLearnerNotReady: the learner has not caught up with the leader yet;
// promote it later.
var ErrLearnerNotReady = errors.New("etcdserver: can only promote a learner member which is in sync with leader")

// Promote makes the learner with peerURL a voting member; it does nothing
// for a voter. It fails with ErrLearnerNotReady while the learner has not
// started or caught up.
func (c *Client) Promote(ctx context.Context, peerURL string) (changed bool, err error) {
	members, err := c.Members(ctx)
	if err != nil {
		return false, err
	}
	m, ok := find(members, peerURL)
	if !ok {
		return false, fmt.Errorf("promoting etcd member %s: %w", peerURL, ErrMemberNotFound)
	}
	if !m.IsLearner {
		return false, nil
	}
	req := struct {
		ID uint64 `json:"ID,string"`
	}{m.ID}
	// etcd 3.4 times out a promotion sent to a follower: send it to the
	// raft leader.
	target, err := c.atLeader(ctx, members)
	if err != nil {
		return false, fmt.Errorf("promoting etcd member %s: %w", peerURL, err)
	}
	defer target.Close()
	if err := target.call(ctx, "/v3/cluster/member/promote", req, nil); err != nil {
		if strings.Contains(err.Error(), "in sync with leader") || strings.Contains(err.Error(), "not started") {
			return false, fmt.Errorf("promoting etcd member %s: %w", peerURL, ErrLearnerNotReady)
		}
		return false, fmt.Errorf("promoting etcd member %s: %w", peerURL, err)
	}
	return true, nil
}

// atLeader returns a client of the raft leader, with c's credentials.
func (c *Client) atLeader(ctx context.Context, members []Member) (*Client, error) {
	var st struct {
		Leader uint64 `json:"leader,string"`
	}
	if err := c.call(ctx, "/v3/maintenance/status", struct{}{}, &st); err != nil {
		return nil, fmt.Errorf("finding the etcd leader: %w", err)
	}
	for _, m := range members {
		if m.ID == st.Leader && len(m.ClientURLs) > 0 {
			cfg := c.cfg
			cfg.Endpoints = m.ClientURLs[:1]
			return Connect(cfg)
		}
	}
	return nil, fmt.Errorf("finding the etcd leader: member %x has no client URL", st.Leader)
}

// EnsureMemberRemoved removes the member with peerURL if it exists.
func (c *Client) EnsureMemberRemoved(ctx context.Context, peerURL string) (bool, error) {
	members, err := c.Members(ctx)
	if err != nil {
		return false, err
	}
	m, ok := find(members, peerURL)
	if !ok {
		return false, nil
	}
	req := struct {
		ID uint64 `json:"ID,string"`
	}{m.ID}
	if err := c.call(ctx, "/v3/cluster/member/remove", req, nil); err != nil {
		if errors.Is(err, ErrMemberNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("removing etcd member %s: %w", peerURL, err)
	}
	return true, nil
}

// EnsureAuth creates the root user with password, grants it the root role
// and enables authentication, unless already done, and then checks that
// etcd's authentication is the charm's: root is the only user and takes
// rootPassword. It trusts nothing it finds: users that exist before it
// enables authentication (someone's, who would keep access), or
// authentication already enabled with another root password, are an
// *UntrustedError saying what was found, and then nothing is changed.
// The client must have been connected without credentials.
func (c *Client) EnsureAuth(ctx context.Context, rootPassword string) (bool, error) {
	enabled, err := c.authEnabled(ctx)
	if err != nil {
		return false, err
	}
	if enabled {
		return false, c.checkAuth(ctx, rootPassword)
	}
	users, err := c.users(ctx)
	if err != nil {
		return false, err
	}
	if others := slices.DeleteFunc(users, func(u string) bool { return u == "root" }); len(others) > 0 {
		return false, &UntrustedError{Found: fmt.Sprintf("etcd has users besides root before authentication is enabled: %s", strings.Join(others, ", "))}
	}
	steps := []struct {
		what, path string
		req        any
		ok         error
	}{
		{"adding etcd root user", "/v3/auth/user/add", map[string]string{"name": "root", "password": rootPassword}, ErrUserAlreadyExist},
		{"setting etcd root password", "/v3/auth/user/changepw", map[string]string{"name": "root", "password": rootPassword}, nil},
		{"adding etcd root role", "/v3/auth/role/add", map[string]string{"name": "root"}, ErrRoleAlreadyExist},
		{"granting etcd root role", "/v3/auth/user/grant", map[string]string{"user": "root", "role": "root"}, nil},
		{"enabling etcd auth", "/v3/auth/enable", struct{}{}, nil},
	}
	for _, st := range steps {
		if err := c.call(ctx, st.path, st.req, nil); err != nil && (st.ok == nil || !errors.Is(err, st.ok)) {
			return false, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	// A user added between the list and the enabling would survive it.
	return true, c.checkAuth(ctx, rootPassword)
}

// checkAuth checks, with authentication enabled, that rootPassword logs
// in as root and that root is etcd's only user.
func (c *Client) checkAuth(ctx context.Context, rootPassword string) error {
	cfg := c.cfg
	cfg.Username, cfg.Password = "root", rootPassword
	root := &Client{cfg: cfg, http: c.http}
	if err := root.authenticate(ctx); errors.Is(err, ErrAuthFailed) {
		return &UntrustedError{Found: "authentication is enabled and refuses the root password in the application's secret"}
	} else if err != nil {
		return err
	}
	users, err := root.users(ctx)
	if err != nil {
		return err
	}
	if others := slices.DeleteFunc(users, func(u string) bool { return u == "root" }); len(others) > 0 {
		return &UntrustedError{Found: fmt.Sprintf("etcd has users besides root: %s", strings.Join(others, ", "))}
	}
	return nil
}

// authEnabled reads a key without credentials: with auth enabled etcd
// refuses with "user name is empty" (etcd 3.4 has no AuthStatus).
func (c *Client) authEnabled(ctx context.Context) (bool, error) {
	req := map[string]string{"key": base64.StdEncoding.EncodeToString([]byte("/postgresql-charm/auth-probe"))}
	err := c.post(ctx, "/v3/kv/range", req, nil, false)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrUserEmpty), errors.Is(err, ErrPermissionDenied), errors.Is(err, ErrInvalidAuthToken):
		return true, nil
	}
	return false, fmt.Errorf("probing etcd auth: %w", err)
}

// UpdateRootPassword sets the root password (as root) for a rotation.
func (c *Client) UpdateRootPassword(ctx context.Context, password string) error {
	if err := c.call(ctx, "/v3/auth/user/changepw", map[string]string{"name": "root", "password": password}, nil); err != nil {
		return fmt.Errorf("setting etcd root password: %w", err)
	}
	return nil
}

// Healthy reports whether the cluster answers a linearizable read.
func (c *Client) Healthy(ctx context.Context) error {
	req := map[string]string{"key": base64.StdEncoding.EncodeToString([]byte("health"))}
	if err := c.call(ctx, "/v3/kv/range", req, nil); err != nil && !errors.Is(err, ErrPermissionDenied) {
		return fmt.Errorf("reading from etcd: %w", err)
	}
	return nil
}

// UntrustedError: etcd's authentication is not what the charm set up.
type UntrustedError struct{ Found string }

func (e *UntrustedError) Error() string { return "etcd auth: " + e.Found }

// users lists etcd's user names, sorted.
func (c *Client) users(ctx context.Context) ([]string, error) {
	var resp struct {
		Users []string `json:"users"`
	}
	if err := c.call(ctx, "/v3/auth/user/list", struct{}{}, &resp); err != nil {
		return nil, fmt.Errorf("listing etcd users: %w", err)
	}
	sort.Strings(resp.Users)
	return resp.Users, nil
}
