package client_test

import (
	"errors"
	"fmt"
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
