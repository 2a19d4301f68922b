package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Member is an etcd member.
type Member struct {
	ID       uint64
	Name     string // empty until the added member has started
	PeerURLs []string
	// ClientURLs is empty until the member has started.
	ClientURLs []string
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
}

// Client is a connection to the cluster.
type Client struct {
	c   *clientv3.Client
	cfg Config
}

// Connect opens a client. It does not fail when the cluster is down; calls
// do.
func Connect(cfg Config) (*Client, error) {
	timeout := cfg.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	cc := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		Username:    cfg.Username,
		Password:    cfg.Password,
		DialTimeout: timeout,
		Logger:      zap.NewNop(),
	}
	if cfg.Dial != nil {
		cc.DialOptions = append(cc.DialOptions, grpc.WithContextDialer(cfg.Dial))
	}
	c, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", cfg.Endpoints, err)
	}
	return &Client{c: c, cfg: cfg}, nil
}

// Close closes the client.
func (c *Client) Close() error { return c.c.Close() }

// Members lists the members, sorted by name then peer URL.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	resp, err := c.c.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	out := make([]Member, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs})
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
	if _, err := c.c.MemberAdd(ctx, []string{peerURL}); err != nil {
		return false, nil, fmt.Errorf("adding etcd member %s: %w", peerURL, err)
	}
	members, err = c.Members(ctx)
	return true, members, err
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
	if _, err := c.c.MemberRemove(ctx, m.ID); err != nil {
		if errors.Is(err, rpctypes.ErrMemberNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("removing etcd member %s: %w", peerURL, err)
	}
	return true, nil
}

// EnsureAuth creates the root user with password, grants it the root role
// and enables authentication, unless already done. The client must have
// been connected without credentials (before auth is enabled) or as root.
func (c *Client) EnsureAuth(ctx context.Context, rootPassword string) (bool, error) {
	enabled, err := c.authEnabled(ctx)
	if err != nil {
		return false, err
	}
	if enabled {
		return false, nil
	}
	if _, err := c.c.UserAdd(ctx, "root", rootPassword); err != nil && !errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		return false, fmt.Errorf("adding etcd root user: %w", err)
	}
	if _, err := c.c.UserChangePassword(ctx, "root", rootPassword); err != nil {
		return false, fmt.Errorf("setting etcd root password: %w", err)
	}
	if _, err := c.c.RoleAdd(ctx, "root"); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return false, fmt.Errorf("adding etcd root role: %w", err)
	}
	if _, err := c.c.UserGrantRole(ctx, "root", "root"); err != nil {
		return false, fmt.Errorf("granting etcd root role: %w", err)
	}
	if _, err := c.c.AuthEnable(ctx); err != nil {
		return false, fmt.Errorf("enabling etcd auth: %w", err)
	}
	return true, nil
}

// authEnabled asks AuthStatus (etcd 3.5 and later) or, on etcd 3.4 which
// lacks it, reads a key without credentials: with auth enabled that fails
// with "user name is empty".
func (c *Client) authEnabled(ctx context.Context) (bool, error) {
	st, err := c.c.AuthStatus(ctx)
	if err == nil {
		return st.Enabled, nil
	}
	if status.Code(err) != codes.Unimplemented {
		return false, fmt.Errorf("reading etcd auth status: %w", err)
	}
	anon := c.cfg
	anon.Username, anon.Password = "", ""
	probe, err := Connect(anon)
	if err != nil {
		return false, err
	}
	defer probe.Close()
	_, err = probe.c.Get(ctx, "/postgresql-charm/auth-probe")
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, rpctypes.ErrUserEmpty), errors.Is(err, rpctypes.ErrPermissionDenied),
		errors.Is(err, rpctypes.ErrInvalidAuthToken):
		return true, nil
	}
	return false, fmt.Errorf("probing etcd auth: %w", err)
}

// UpdateRootPassword sets the root password (as root) for a rotation.
func (c *Client) UpdateRootPassword(ctx context.Context, password string) error {
	if _, err := c.c.UserChangePassword(ctx, "root", password); err != nil {
		return fmt.Errorf("setting etcd root password: %w", err)
	}
	return nil
}

// Healthy reports whether the cluster answers a linearizable read.
func (c *Client) Healthy(ctx context.Context) error {
	if _, err := c.c.Get(ctx, "health"); err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		return fmt.Errorf("reading from etcd: %w", err)
	}
	return nil
}
