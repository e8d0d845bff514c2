package client_test

import (
	"errors"
	"fmt"
	"github.com/pulse-registry/pulse/internal/servertest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
)

// authServer is a naming server that requires a login, as Nacos does with
// auth enabled. Pulse has no auth yet.
type authServer struct {
	mu     sync.Mutex
	logins int
	valid  string   // the token the server accepts now
	tokens []string // the accessToken of every service/list request
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/nacos/v1/auth/users/login":
		if r.Method != http.MethodPost || r.PostForm.Get("username") != "nacos" || r.PostForm.Get("password") != "secret" {
			http.Error(w, "unknown user!", http.StatusForbidden)
			return
		}
		a.logins++
		a.valid = fmt.Sprintf("token-%d", a.logins)
		fmt.Fprintf(w, `{"accessToken":%q,"tokenTtl":100,"globalAdmin":true,"username":"nacos"}`, a.valid)
	case "/nacos/v1/ns/service/list":
		tok := r.Form.Get("accessToken")
		a.tokens = append(a.tokens, tok)
		if tok == "" || tok != a.valid {
			http.Error(w, "token invalid!", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"count":1,"doms":["secret-service"]}`)
	default:
		http.NotFound(w, r)
	}
}

func (a *authServer) state() (int, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins, append([]string(nil), a.tokens...)
}

func TestClient_auth(t *testing.T) {
	as := &authServer{}
	hs := httptest.NewServer(as)
	defer hs.Close()
	c := newClient(t, client.Config{Servers: []string{hs.URL}, Username: "nacos", Password: "secret"})
	var now atomic.Int64
	start := time.Now()
	now.Store(start.UnixNano())
	c.SetNow(func() time.Time { return time.Unix(0, now.Load()) })
	ctx := t.Context()
	list := func() {
		t.Helper()
		if names, err := c.ListServices(ctx, ""); err != nil || len(names) != 1 {
			t.Fatalf("list services: got %v, %v", names, err)
		}
	}
	check := func(wantLogins int, wantToken string) {
		t.Helper()
		logins, tokens := as.state()
		if logins != wantLogins {
			t.Errorf("logins: got %d, want %d", logins, wantLogins)
		}
		if last := tokens[len(tokens)-1]; last != wantToken {
			t.Errorf("token sent: got %q, want %q", last, wantToken)
		}
	}

	list()
	list()
	check(1, "token-1")

	// tokenTtl is 100 s: at 89 s the token is still used, at 91 s renewed.
	now.Store(start.Add(89 * time.Second).UnixNano())
	list()
	check(1, "token-1")
	now.Store(start.Add(91 * time.Second).UnixNano())
	list()
	check(2, "token-2")

	// The server forgets the token: the 403 makes the client log in again.
	as.mu.Lock()
	as.valid = "revoked"
	as.mu.Unlock()
	list()
	check(3, "token-3")

	bad := newClient(t, client.Config{Servers: []string{hs.URL}, Username: "nacos", Password: "wrong"})
	_, err := bad.ListServices(ctx, "")
	var se *client.ServerError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden || !strings.Contains(se.Body, "unknown user") {
		t.Errorf("wrong password: got %v, want a 403 unknown user", err)
	}
}

// openServer is a naming server without auth: its login endpoint answers
// with status and body, and every other request succeeds.
type openServer struct {
	status int
	body   string

	mu     sync.Mutex
	logins int
	tokens []string // the accessToken of every service/list request
}

func (o *openServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r.URL.Path {
	case "/nacos/v1/auth/users/login":
		o.logins++
		w.WriteHeader(o.status)
		fmt.Fprint(w, o.body)
	case "/nacos/v1/ns/service/list":
		o.tokens = append(o.tokens, r.Form.Get("accessToken"))
		fmt.Fprint(w, `{"count":1,"doms":["open-service"]}`)
	default:
		http.NotFound(w, r)
	}
}

func (o *openServer) state() (int, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logins, append([]string(nil), o.tokens...)
}

func TestClient_auth_serverWithoutAuth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		retry  time.Duration // when the client asks again
	}{
		{"login answered 404", http.StatusNotFound, "404 page not found", 5 * time.Minute},
		{"login answered 501", http.StatusNotImplemented, "no such api:POST:/nacos/v1/auth/users/login", 5 * time.Minute},
		{"login without a token", http.StatusOK, `{"globalAdmin":false}`, 5 * time.Minute},
		{"login without a token, with a lifetime", http.StatusOK, `{"tokenTtl":100}`, 90 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := &openServer{status: tc.status, body: tc.body}
			hs := httptest.NewServer(open)
			defer hs.Close()
			var logs servertest.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			c := newClient(t, client.Config{Servers: []string{hs.URL}, Username: "nacos", Password: "secret", Logger: logger})
			var now atomic.Int64
			start := time.Now()
			now.Store(start.UnixNano())
			c.SetNow(func() time.Time { return time.Unix(0, now.Load()) })
			list := func() {
				t.Helper()
				if names, err := c.ListServices(t.Context(), ""); err != nil || len(names) != 1 {
					t.Fatalf("list services: got %v, %v", names, err)
				}
			}
			check := func(wantLogins, wantLists int) {
				t.Helper()
				logins, tokens := open.state()
				if logins != wantLogins {
					t.Errorf("logins: got %d, want %d", logins, wantLogins)
				}
				if len(tokens) != wantLists {
					t.Fatalf("list requests: got %d, want %d", len(tokens), wantLists)
				}
				for i, tok := range tokens {
					if tok != "" {
						t.Errorf("list request %d sent accessToken %q, want none", i, tok)
					}
				}
			}

			list()
			list()
			check(1, 2)
			// Not again before the retry time, then once.
			now.Store(start.Add(tc.retry - time.Second).UnixNano())
			list()
			check(1, 3)
			now.Store(start.Add(tc.retry + time.Second).UnixNano())
			list()
			list()
			check(2, 5)

			// Said once at info, not at every retry.
			const msg = "server has no auth"
			if got := strings.Count(logs.String(), msg); got != 1 {
				t.Errorf("%q logged %d times, want 1; logs:\n%s", msg, got, logs.String())
			}
		})
	}
}

// A server that had no auth and turns it on: its 403 makes the client log
// in again, and the token it then gets is sent.
func TestClient_auth_turnedOn(t *testing.T) {
	as := &authServer{}
	var off atomic.Bool
	off.Store(true)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if off.Load() {
			(&openServer{status: http.StatusNotFound}).ServeHTTP(w, r)
			return
		}
		as.ServeHTTP(w, r)
	}))
	defer hs.Close()
	c := newClient(t, client.Config{Servers: []string{hs.URL}, Username: "nacos", Password: "secret"})
	if _, err := c.ListServices(t.Context(), ""); err != nil {
		t.Fatalf("list services without auth: %v", err)
	}
	off.Store(false)
	if _, err := c.ListServices(t.Context(), ""); err != nil {
		t.Fatalf("list services once auth is on: %v", err)
	}
	if logins, tokens := as.state(); logins != 1 || tokens[len(tokens)-1] != "token-1" {
		t.Errorf("after auth turned on: got %d logins, token %q; want 1, token-1", logins, tokens[len(tokens)-1])
	}
}

// Pulse has no auth: a client with a username works against it all the same.
func TestClient_auth_pulse(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}, Username: "nacos", Password: "nacos"})
	ctx := t.Context()
	if err := c.RegisterInstance(ctx, client.Registration{Service: "authless", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
		t.Fatalf("register: %v", err)
	}
	list, err := c.Instances(ctx, client.Query{Service: "authless"})
	if err != nil || len(list) != 1 {
		t.Fatalf("instances: got %v, %v; want one", list, err)
	}
}
