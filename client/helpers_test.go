package client_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/servertest"
)

// Fast timing for tests: beat every 200 ms, unhealthy after 1 s of silence,
// removed after 3 s.
var fastMeta = map[string]string{
	"preserved.heart.beat.interval": "200",
	"preserved.heart.beat.timeout":  "1000",
	"preserved.ip.delete.timeout":   "3000",
}

func withMeta(extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range fastMeta {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// startServer runs a Pulse server for the test.
func startServer(t testing.TB, opts ...servertest.Option) *servertest.Server {
	t.Helper()
	return servertest.Start(t, opts...)
}

// addrOf returns a test server's host:port.
func addrOf(s *servertest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// newClient returns a client closed at the end of the test.
func newClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond every few milliseconds until it holds or the deadline
// passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events collects the events of a subscription.
type events struct {
	mu  sync.Mutex
	evs []client.Event
}

func (e *events) add(ev client.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) all() []client.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]client.Event(nil), e.evs...)
}

func (e *events) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.evs)
}

// waitEvent waits for an event, at index from or later, that match accepts;
// it returns the index after it.
func (e *events) waitEvent(t testing.TB, from int, d time.Duration, what string, match func(client.Event) bool) int {
	t.Helper()
	idx := -1
	waitFor(t, d, what, func() bool {
		evs := e.all()
		for i := from; i < len(evs); i++ {
			if match(evs[i]) {
				idx = i
				return true
			}
		}
		return false
	})
	return idx + 1
}

// find returns the instance at ip:port in list.
func find(list []client.Instance, ip string, port int) (client.Instance, bool) {
	for _, in := range list {
		if in.IP == ip && in.Port == port {
			return in, true
		}
	}
	return client.Instance{}, false
}

// request is one request seen by a recorder.
type request struct {
	Method string
	Path   string // without the context path, e.g. /v1/ns/instance/beat
	Params url.Values
	Body   string
	Start  time.Time
	End    time.Time
	Status int
	Answer string
}

// recorder is an HTTP proxy that records every request on its way to a
// backend, and can delay or refuse them.
type recorder struct {
	srv     *httptest.Server
	backend atomic.Pointer[string] // base URL
	hc      *http.Client
	// delay, when set, is called before forwarding and may sleep.
	delay atomic.Pointer[func(request)]
	// after, when set, is called with the backend's answer before it is
	// passed on.
	after atomic.Pointer[func(request)]
	// fail, when set, answers 503 without forwarding.
	fail atomic.Bool
	// refuse, when set, answers requests for that path as Nacos answers an
	// unknown route: 501 "no such api".
	refuse atomic.Pointer[string]

	mu   sync.Mutex
	reqs []request
}

func startRecorder(t testing.TB, backend string) *recorder {
	t.Helper()
	r := &recorder{hc: &http.Client{Transport: &http.Transport{}}}
	r.backend.Store(&backend)
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.hc.CloseIdleConnections()
	})
	return r
}

// Addr is the proxy's host:port.
func (r *recorder) Addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	params, _ := url.ParseQuery(req.URL.RawQuery)
	if form, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	rec := request{
		Method: req.Method,
		Path:   strings.TrimPrefix(req.URL.Path, "/nacos"),
		Params: params,
		Body:   string(body),
		Start:  time.Now(),
	}
	if f := r.delay.Load(); f != nil {
		(*f)(rec)
	}
	status, out := http.StatusServiceUnavailable, []byte("refused by the test")
	if p := r.refuse.Load(); p != nil && *p == rec.Path {
		status, out = http.StatusNotImplemented, []byte("no such api:"+req.Method+":"+req.URL.Path)
	} else if !r.fail.Load() {
		status, out = r.forward(req, body)
	}
	if f := r.after.Load(); f != nil {
		rec.Status, rec.Answer = status, string(out)
		(*f)(rec)
	}
	rec.End, rec.Status, rec.Answer = time.Now(), status, string(out)
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (r *recorder) forward(req *http.Request, body []byte) (int, []byte) {
	u := *r.backend.Load() + req.URL.RequestURI()
	out, err := http.NewRequestWithContext(req.Context(), req.Method, u, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, []byte(err.Error())
	}
	out.Header = req.Header.Clone()
	resp, err := r.hc.Do(out)
	if err != nil {
		return http.StatusBadGateway, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// requests returns the requests completed so far whose path is path ("" for
// all).
func (r *recorder) requests(path string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if path == "" || q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// beatsOf returns the beats of ip:port.
func (r *recorder) beatsOf(ip string, port int) []request {
	var out []request
	for _, q := range r.requests("/v1/ns/instance/beat") {
		if beatTarget(q) == fmt.Sprintf("%s:%d", ip, port) {
			out = append(out, q)
		}
	}
	return out
}

// beatTarget is the ip:port a beat is for.
func beatTarget(q request) string {
	return q.Params.Get("ip") + ":" + q.Params.Get("port")
}
