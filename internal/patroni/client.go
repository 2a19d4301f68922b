package patroni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Role is a member's role as Patroni reports it. Patroni 3.0 says "master"
// where later versions say "primary"; IsPrimary accepts both.
type Role string

// Roles reported by Patroni.
const (
	RolePrimary       Role = "primary"
	RoleMaster        Role = "master"
	RoleLeader        Role = "leader" // /cluster in 3.x
	RoleReplica       Role = "replica"
	RoleSyncStandby   Role = "sync_standby"
	RoleStandbyLeader Role = "standby_leader"
)

// IsPrimary reports whether the role is the read-write primary.
func (r Role) IsPrimary() bool {
	return r == RolePrimary || r == RoleMaster || r == RoleLeader
}

// State is PostgreSQL's state as Patroni reports it.
type State string

// States the charm tells apart; Patroni has more ("starting", "stopped",
// "crashed", "start failed", ...), which the charm treats as not up.
const (
	StateRunning State = "running"
	// StateStreaming is a replica receiving WAL (/cluster in 3.x).
	StateStreaming State = "streaming"
)

// Up reports whether PostgreSQL runs: as a primary or a streaming replica.
func (s State) Up() bool { return s == StateRunning || s == StateStreaming }

// NodeStatus is GET /patroni.
type NodeStatus struct {
	State          State `json:"state"`
	Role           Role  `json:"role"`
	ServerVersion  int   `json:"server_version"`
	Timeline       int   `json:"timeline"`
	PendingRestart bool  `json:"pending_restart"`
	Paused         bool  `json:"pause"`
	// SyncStandby: this replica is a synchronous standby (synchronous
	// mode on and the member in Patroni's /sync key).
	SyncStandby bool `json:"sync_standby"`
	// PostmasterStartTime changes when PostgreSQL restarts: the restart
	// wait compares it.
	PostmasterStartTime string `json:"postmaster_start_time"`
	// Replication lists the primary's WAL senders (pg_stat_replication).
	Replication      []WALSender `json:"replication"`
	Xlog             Xlog        `json:"xlog"`
	Patroni          Software    `json:"patroni"`
	DatabaseSystemID string      `json:"database_system_identifier"`
	// Tags are the member's tags from patroni.yml, as loaded.
	Tags map[string]any `json:"tags,omitempty"`
}

// Tag returns a tag's value as a string ("" when absent).
func (s NodeStatus) Tag(name string) string {
	v, ok := s.Tags[name]
	if !ok || v == nil {
		return ""
	}
	if str, ok := v.(string); ok {
		return str
	}
	return fmt.Sprint(v)
}

// IsUnauthorized reports whether err is Patroni refusing the credentials
// (401), as it does for the REST API password it has not loaded yet.
func IsUnauthorized(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusUnauthorized
}

// WALSender is one row of the primary's pg_stat_replication as GET
// /patroni reports it.
type WALSender struct {
	ApplicationName string `json:"application_name"`
	ClientAddr      string `json:"client_addr"`
	State           string `json:"state"`
	// SyncState is "sync", "quorum", "potential" or "async".
	SyncState string `json:"sync_state"`
}

// SyncStandbys counts the WAL senders PostgreSQL waits for at commit.
func (s NodeStatus) SyncStandbys() int {
	n := 0
	for _, w := range s.Replication {
		if w.State == "streaming" && (w.SyncState == "sync" || w.SyncState == "quorum") {
			n++
		}
	}
	return n
}

// Xlog is the WAL position part of NodeStatus.
type Xlog struct {
	Location         int64 `json:"location"`
	ReceivedLocation int64 `json:"received_location"`
	ReplayedLocation int64 `json:"replayed_location"`
	// ReplayedTimestamp is the commit time of the last transaction a
	// replica replayed ("" or null when none).
	ReplayedTimestamp *string `json:"replayed_timestamp"`
}

// Software is Patroni's version and scope.
type Software struct {
	Version string `json:"version"`
	Scope   string `json:"scope"`
}

// Member is one member in GET /cluster.
type Member struct {
	Name           string `json:"name"`
	Role           Role   `json:"role"`
	State          State  `json:"state"`
	APIURL         string `json:"api_url"`
	Host           string `json:"host"`
	Port           int    `json:"port"`
	Timeline       int    `json:"timeline"`
	Lag            any    `json:"lag"` // a number of bytes, or "unknown"
	PendingRestart bool   `json:"pending_restart"`
	// Tags are the member's tags (nofailover, ...).
	Tags map[string]any `json:"tags,omitempty"`
}

// LagBytes is the member's replication lag in bytes; ok is false when
// Patroni does not know it ("unknown", or the leader, which has none).
func (m Member) LagBytes() (int64, bool) {
	switch v := m.Lag.(type) {
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

// NoFailover reports the member's nofailover tag.
func (m Member) NoFailover() bool {
	v, ok := m.Tags["nofailover"].(bool)
	return ok && v
}

// IsSync reports whether the member is a synchronous standby.
func (m Member) IsSync() bool { return m.Role == RoleSyncStandby }

// Cluster is GET /cluster.
type Cluster struct {
	Members []Member `json:"members"`
	Paused  bool     `json:"pause"`
	// ScheduledSwitchover is set while a switchover is scheduled.
	ScheduledSwitchover map[string]any `json:"scheduled_switchover,omitempty"`
}

// Member returns the named member, if listed.
func (c Cluster) Member(name string) (Member, bool) {
	for _, m := range c.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// Leader returns the member holding the leader key, if any.
func (c Cluster) Leader() (Member, bool) {
	for _, m := range c.Members {
		if m.Role.IsPrimary() {
			return m, true
		}
	}
	return Member{}, false
}

// Client talks to one member's REST API.
type Client struct {
	// BaseURL is "https://10.0.0.1:8008" ("http://" without TLS).
	BaseURL string
	// Username and Password authenticate the unsafe endpoints.
	Username string
	Password string `json:"-"`
	// HTTP is the client to use; nil means a client with a 10 s timeout.
	// Tests and localjuju set a Transport whose dialer runs in the unit's
	// network namespace.
	HTTP *http.Client
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("patroni %s %s: %d %s", e.Method, e.Path, e.Code, strings.TrimSpace(e.Body))
}

// ErrUnavailable wraps connection failures (Patroni not running).
var ErrUnavailable = errors.New("patroni unavailable")

// WithTimeout returns a copy of the client whose requests may take up to
// d: Patroni answers /switchover, /failover and /restart only once the
// operation is over (or its own wait ran out), which takes longer than
// the short timeout of the status requests.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	h := *c.httpClient()
	h.Timeout = d
	cp.HTTP = &h
	return &cp
}

// At returns a copy of the client for another member's REST API, given
// as /cluster's api_url ("http://10.0.0.2:8008/patroni").
func (c *Client) At(apiURL string) *Client {
	cp := *c
	if u, err := url.Parse(apiURL); err == nil && u.Host != "" {
		cp.BaseURL = u.Scheme + "://" + u.Host
	}
	return &cp
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// do sends a request and decodes a JSON answer into out (if not nil). It
// returns the status code; 503 from health endpoints is not an error when
// okCodes allows it.
func (c *Client) do(ctx context.Context, method, path string, body, out any, okCodes ...int) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, r)
	if err != nil {
		return 0, fmt.Errorf("patroni %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Patroni asks for the password on its unsafe endpoints only: a read
	// does not send it, so it crosses the network (inside TLS, when the
	// REST API has it) only when a change needs it.
	if c.Username != "" && method != http.MethodGet && method != http.MethodHead {
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection refused") {
			return 0, fmt.Errorf("patroni %s %s: %w: %w", method, path, ErrUnavailable, err)
		}
		return 0, fmt.Errorf("patroni %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("patroni %s %s: reading answer: %w", method, path, err)
	}
	ok := resp.StatusCode/100 == 2
	for _, c := range okCodes {
		ok = ok || resp.StatusCode == c
	}
	if !ok {
		return resp.StatusCode, &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: string(data)}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("patroni %s %s: decoding answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Patroni returns this member's status (GET /patroni). It answers with 200
// or 503 depending on PostgreSQL's state; both carry the status.
func (c *Client) Patroni(ctx context.Context) (NodeStatus, error) {
	var s NodeStatus
	_, err := c.do(ctx, http.MethodGet, "/patroni", nil, &s, http.StatusServiceUnavailable)
	return s, err
}

// Cluster returns the cluster view (GET /cluster).
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var cl Cluster
	_, err := c.do(ctx, http.MethodGet, "/cluster", nil, &cl)
	return cl, err
}

// Health reports whether PostgreSQL runs on this member (GET /health: 200
// running, 503 not).
func (c *Client) Health(ctx context.Context) (bool, error) {
	code, err := c.do(ctx, http.MethodGet, "/health", nil, nil, http.StatusServiceUnavailable)
	return code == http.StatusOK, err
}

// Switchover moves the primary from leader to candidate (empty: Patroni
// chooses) at once.
func (c *Client) Switchover(ctx context.Context, leader, candidate string) error {
	body := map[string]string{"leader": leader}
	if candidate != "" {
		body["candidate"] = candidate
	}
	_, err := c.do(ctx, http.MethodPost, "/switchover", body, nil)
	return err
}

// IsTimeout reports whether err is the client giving up waiting for an
// answer: the request may still be carried out by Patroni.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Pause sets or clears maintenance mode (the DCS key "pause"): with it
// Patroni performs no automatic failover and leaves PostgreSQL alone.
func (c *Client) Pause(ctx context.Context, paused bool) error {
	var v any // nil deletes the key: resume
	if paused {
		v = true
	}
	return c.PatchConfig(ctx, map[string]any{"pause": v})
}

// Failover promotes candidate even when there is no healthy leader.
func (c *Client) Failover(ctx context.Context, candidate string) error {
	_, err := c.do(ctx, http.MethodPost, "/failover", map[string]string{"candidate": candidate}, nil)
	return err
}

// Reinitialize rebuilds this replica from the primary.
func (c *Client) Reinitialize(ctx context.Context, force bool) error {
	_, err := c.do(ctx, http.MethodPost, "/reinitialize", map[string]bool{"force": force}, nil)
	return err
}

// Restart restarts PostgreSQL on this member (not Patroni).
func (c *Client) Restart(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/restart", map[string]any{}, nil)
	return err
}

// Reload makes Patroni re-read patroni.yml and reload PostgreSQL.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/reload", nil, nil)
	return err
}

// PatchConfig merges patch into the cluster's dynamic configuration in the
// DCS (PATCH /config); a nil value deletes a key.
func (c *Client) PatchConfig(ctx context.Context, patch map[string]any) error {
	_, err := c.do(ctx, http.MethodPatch, "/config", patch, nil)
	return err
}

// Config returns the cluster's dynamic configuration (GET /config).
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	_, err := c.do(ctx, http.MethodGet, "/config", nil, &m)
	return m, err
}
