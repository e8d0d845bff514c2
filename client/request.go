package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// maxAnswer bounds the answers the client reads; an instance list of ten
// thousand hosts stays well below it.
const maxAnswer = 32 << 20

// API paths under the context path.
const (
	pathInstance     = "/v1/ns/instance"
	pathInstanceList = "/v1/ns/instance/list"
	pathBeat         = "/v1/ns/instance/beat"
	pathServiceList  = "/v1/ns/service/list"
	pathLogin        = "/v1/auth/users/login"
)

// call sends a request to the servers in turn, starting with the one that
// answered last, until one answers 200. A connection error, a timeout or
// any answer but 200 and 4xx moves on to the next server; a 4xx answer is
// the request's fault and is returned at once as a *ServerError. With auth,
// a 403 makes the client log in again once.
func (c *Client) call(ctx context.Context, method, path string, params url.Values) ([]byte, error) {
	return c.callJSON(ctx, method, path, params, nil)
}

// callJSON is call with a JSON body; params then go in the query string.
func (c *Client) callJSON(ctx context.Context, method, path string, params url.Values, jsonBody []byte) ([]byte, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, ErrClosed
	}
	n := len(c.servers)
	start := int(c.cur.Load())
	var errs []error
	for i := range n {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		idx := (start + i) % n
		srv := c.servers[idx]
		body, err := c.callServer(ctx, srv, method, path, params, jsonBody)
		var se *ServerError
		if errors.As(err, &se) && se.Status == http.StatusForbidden && c.cfg.Username != "" {
			c.auth.invalidate()
			body, err = c.callServer(ctx, srv, method, path, params, jsonBody)
		}
		if err == nil {
			c.cur.Store(uint32(idx))
			return body, nil
		}
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
			return nil, err
		}
		errs = append(errs, err)
	}
	if c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	return nil, fmt.Errorf("client: %s %s: every server failed: %w", method, path, errors.Join(errs...))
}

// callServer sends one request to one server.
func (c *Client) callServer(ctx context.Context, srv server, method, path string, params url.Values, jsonBody []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel) // Close aborts requests in flight
	defer stop()
	if c.cfg.Username != "" {
		token, err := c.auth.token(ctx, c, srv)
		if err != nil {
			return nil, err
		}
		if token != "" {
			params = withParam(params, "accessToken", token)
		}
	}
	return c.send(ctx, srv, method, path, params, jsonBody)
}

// send performs one HTTP exchange: parameters go in the query string of
// GET and DELETE, and of requests with a JSON body, and in a form body
// otherwise.
func (c *Client) send(ctx context.Context, srv server, method, path string, params url.Values, jsonBody []byte) ([]byte, error) {
	u := srv.base + c.cfg.ContextPath + path
	var body io.Reader
	contentType := "application/x-www-form-urlencoded;charset=utf-8"
	enc := params.Encode()
	if method == http.MethodGet || method == http.MethodDelete || jsonBody != nil {
		if enc != "" {
			u += "?" + enc
		}
	} else {
		body = strings.NewReader(enc)
	}
	if jsonBody != nil {
		body, contentType = bytes.NewReader(jsonBody), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: build request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Client-Version", userAgent)
	req.Header.Set("Request-Module", "Naming")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, srv.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, srv.base, err)
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, srv.base, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ServerError{Server: srv.base, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return b, nil
}

// withParam returns a copy of params with k set to v.
func withParam(params url.Values, k, v string) url.Values {
	out := make(url.Values, len(params)+1)
	for key, vs := range params {
		out[key] = vs
	}
	out.Set(k, v)
	return out
}

// auth holds the access token of a client that logs in.
type auth struct {
	// mu guards the fields below; it is held during a login, so that
	// concurrent requests wait for one login instead of each doing one.
	mu        sync.Mutex
	loggedIn  bool
	value     string    // may be empty: a server without auth gives no token
	refreshAt time.Time // when to log in again: at 90% of the token's lifetime
	saidOff   bool      // "server has no auth" was logged
}

const (
	// minTokenTTL is the lifetime assumed for a token whose answer names
	// none.
	minTokenTTL = 10 * time.Second
	// noAuthRetry is how long a client trusts a server's word that it has
	// no auth before it tries to log in again.
	noAuthRetry = 5 * time.Minute
)

// token returns a valid token, logging in to srv when there is none or it
// is due for renewal. The token is empty when the server has no auth: it
// has no login endpoint (404, or Nacos' 501), or its login answer carries
// no accessToken, which Nacos clients also take as logged in.
func (a *auth) token(ctx context.Context, c *Client, srv server) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := c.now()
	if a.loggedIn && now.Before(a.refreshAt) {
		return a.value, nil
	}
	params := url.Values{"username": {c.cfg.Username}, "password": {c.cfg.Password}}
	b, err := c.send(ctx, srv, http.MethodPost, pathLogin, params, nil)
	var se *ServerError
	if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusNotImplemented) {
		a.authOff(c, srv, now, noAuthRetry, fmt.Sprintf("login answered %d", se.Status))
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("log in as %s: %w", c.cfg.Username, err)
	}
	var ans wire.Login
	if err := json.Unmarshal(b, &ans); err != nil {
		return "", fmt.Errorf("log in as %s: decode answer: %w", c.cfg.Username, err)
	}
	ttl := time.Duration(ans.TokenTTL) * time.Second
	if ans.AccessToken == "" {
		if ttl <= 0 {
			ttl = noAuthRetry
		} else {
			ttl = ttl * 9 / 10
		}
		a.authOff(c, srv, now, ttl, "login answer holds no token")
		return "", nil
	}
	if ttl <= 0 {
		ttl = minTokenTTL // no lifetime given: ask again soon rather than never
	}
	a.loggedIn, a.value, a.refreshAt, a.saidOff = true, ans.AccessToken, now.Add(ttl*9/10), false
	c.log.Debug("logged in", "server", srv.base, "token_ttl", ttl)
	return a.value, nil
}

// authOff records that srv needs no token, until now+retry. The first time
// in a row it says so at info, so that a misconfigured server is noticed
// without repeating the line at every retry.
func (a *auth) authOff(c *Client, srv server, now time.Time, retry time.Duration, why string) {
	a.loggedIn, a.value, a.refreshAt = true, "", now.Add(retry)
	if !a.saidOff {
		a.saidOff = true
		c.log.Info("server has no auth; sending no token", "server", srv.base, "why", why, "retry_in", retry)
		return
	}
	c.log.Debug("server still has no auth", "server", srv.base, "why", why)
}

func (a *auth) invalidate() {
	a.mu.Lock()
	a.loggedIn, a.value = false, ""
	a.mu.Unlock()
}
