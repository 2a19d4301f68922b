package patroni

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakePatroni is a fake of Patroni's REST API that records requests.
type fakePatroni struct {
	requests []string
}

func (f *fakePatroni) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u, p, ok := r.BasicAuth()
	auth := ""
	if ok {
		auth = " " + u + ":" + p
	}
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+auth+" "+string(body))
	switch r.URL.Path {
	case "/patroni", "/health":
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"state": "starting", "role": "replica", "server_version": 150010})
	case "/cluster":
		w.Write([]byte(`{"members":[{"name":"pg-1","role":"replica","state":"streaming","lag":0},{"name":"pg-0","role":"leader","state":"running","timeline":3}]}`))
	case "/switchover":
		w.WriteHeader(http.StatusPreconditionFailed)
		w.Write([]byte("candidate name does not match with sync_standby"))
	default:
		w.Write([]byte(`{}`))
	}
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	f := &fakePatroni{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Username: "patroni", Password: "pw"}

	st, err := c.Patroni(ctx)
	if err != nil || st.State != "starting" || st.ServerVersion != 150010 {
		t.Errorf("Patroni() = %+v, %v", st, err)
	}
	if ok, err := c.Health(ctx); ok || err != nil {
		t.Errorf("Health() = %v, %v", ok, err)
	}
	cl, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := cl.Leader(); !ok || l.Name != "pg-0" || l.Timeline != 3 {
		t.Errorf("Leader() = %+v %v", l, ok)
	}
	var se *StatusError
	if err := c.Switchover(ctx, "pg-0", "pg-2"); !errors.As(err, &se) || se.Code != 412 {
		t.Errorf("Switchover() = %v", err)
	}
	if err := c.PatchConfig(ctx, map[string]any{"postgresql": map[string]any{"parameters": map[string]any{"max_connections": "200"}}}); err != nil {
		t.Error(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Error(err)
	}
	// Reads carry no password (issue 9 item 7); changes do.
	want := []string{
		"GET /patroni ",
		"GET /health ",
		"GET /cluster ",
		`POST /switchover patroni:pw {"candidate":"pg-2","leader":"pg-0"}`,
		`PATCH /config patroni:pw {"postgresql":{"parameters":{"max_connections":"200"}}}`,
		"POST /reload patroni:pw ",
	}
	if diff := cmp.Diff(want, f.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestClientUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Client{BaseURL: url}).Patroni(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("want ErrUnavailable, got %v", err)
	}
}
