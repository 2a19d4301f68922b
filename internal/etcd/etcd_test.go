package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeGateway is a FAKE etcd JSON gateway: members, a root user and
// authentication with tokens, answering errors as etcd 3.4's gateway does.
type fakeGateway struct {
	mu       sync.Mutex
	members  []jsonMember
	users    map[string]string
	auth     bool
	tokens   map[string]bool
	requests []string
}

func (g *fakeGateway) fail(w http.ResponseWriter, code int, msg string) {
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": msg, "message": msg, "code": 3})
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.URL.Path)
	var req map[string]any
	json.NewDecoder(r.Body).Decode(&req)
	authed := func() bool {
		if !g.auth {
			return true
		}
		tok := r.Header.Get("Authorization")
		switch {
		case tok == "":
			g.fail(w, http.StatusBadRequest, "etcdserver: user name is empty")
		case !g.tokens[tok]:
			g.fail(w, http.StatusUnauthorized, "etcdserver: invalid auth token")
		default:
			return true
		}
		return false
	}
	switch r.URL.Path {
	case "/v3/cluster/member/list":
		json.NewEncoder(w).Encode(map[string]any{"members": g.members})
	case "/v3/auth/authenticate":
		if !g.auth {
			g.fail(w, http.StatusBadRequest, "etcdserver: authentication is not enabled")
		} else if g.users[req["name"].(string)] != req["password"] {
			g.fail(w, http.StatusBadRequest, "etcdserver: authentication failed, invalid user ID or password")
		} else {
			g.tokens["tok"+req["password"].(string)] = true
			json.NewEncoder(w).Encode(map[string]string{"token": "tok" + req["password"].(string)})
		}
	case "/v3/auth/user/add":
		if !authed() {
			return
		}
		if _, ok := g.users[req["name"].(string)]; ok {
			g.fail(w, http.StatusBadRequest, "etcdserver: user name already exists")
			return
		}
		g.users[req["name"].(string)] = req["password"].(string)
		w.Write([]byte("{}"))
	case "/v3/auth/user/changepw":
		if !authed() {
			return
		}
		g.users[req["name"].(string)] = req["password"].(string)
		g.tokens = map[string]bool{} // etcd invalidates the user's tokens
		w.Write([]byte("{}"))
	case "/v3/auth/role/add", "/v3/auth/user/grant":
		if authed() {
			w.Write([]byte("{}"))
		}
	case "/v3/auth/enable":
		if authed() {
			g.auth = true
			w.Write([]byte("{}"))
		}
	case "/v3/auth/user/list":
		if authed() {
			var names []string
			for u := range g.users {
				names = append(names, u)
			}
			json.NewEncoder(w).Encode(map[string]any{"users": names})
		}
	case "/v3/kv/range":
		if authed() {
			w.Write([]byte(`{"header":{}}`))
		}
	default:
		http.NotFound(w, r)
	}
}

func TestGatewayClient(t *testing.T) {
	ctx := context.Background()
	g := &fakeGateway{users: map[string]string{}, tokens: map[string]bool{},
		members: []jsonMember{{ID: 18446744073709551615, Name: "pg-1", PeerURLs: []string{"http://10.0.0.11:2380"}},
			{ID: 7, Name: "pg-0", PeerURLs: []string{"http://10.0.0.10:2380"}, ClientURLs: []string{"http://10.0.0.10:2379"}}}}
	srv := httptest.NewServer(g)
	defer srv.Close()

	anon, _ := Connect(Config{Endpoints: []string{"http://127.0.0.1:1", srv.URL}}) // the first endpoint is down
	members, err := anon.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{ID: 7, Name: "pg-0", PeerURLs: []string{"http://10.0.0.10:2380"}, ClientURLs: []string{"http://10.0.0.10:2379"}},
		{ID: 18446744073709551615, Name: "pg-1", PeerURLs: []string{"http://10.0.0.11:2380"}}}
	if diff := cmp.Diff(want, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if changed, err := anon.EnsureAuth(ctx, "first-root-password"); err != nil || !changed {
		t.Fatalf("EnsureAuth: %v %v", changed, err)
	}
	if changed, err := anon.EnsureAuth(ctx, "first-root-password"); err != nil || changed {
		t.Fatalf("EnsureAuth again: %v %v", changed, err)
	}
	if err := anon.Healthy(ctx); !errors.Is(err, ErrUserEmpty) {
		t.Errorf("anonymous read with auth on: %v, want ErrUserEmpty", err)
	}

	root, _ := Connect(Config{Endpoints: []string{srv.URL}, Username: "root", Password: "first-root-password"})
	if err := root.Healthy(ctx); err != nil {
		t.Fatal(err)
	}
	wrong, _ := Connect(Config{Endpoints: []string{srv.URL}, Username: "root", Password: "not-the-password"})
	if err := wrong.Healthy(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("wrong password: %v, want ErrAuthFailed", err)
	}
	// Rotation: the change invalidates tokens; the old password stops
	// working, the new one works.
	if err := root.UpdateRootPassword(ctx, "second-root-password"); err != nil {
		t.Fatal(err)
	}
	if err := root.Healthy(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("old password after rotation: %v, want ErrAuthFailed (re-authentication refused)", err)
	}
	rotated, _ := Connect(Config{Endpoints: []string{srv.URL}, Username: "root", Password: "second-root-password"})
	if err := rotated.Healthy(ctx); err != nil {
		t.Errorf("new password: %v", err)
	}
}
