package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/servertest"
)

// Agents as the clients send them (User-Agent and Client-Version).
const (
	goAgent     = "Nacos-Go-Client:v1.1.4"
	javaAgent   = "Nacos-Java-Client:v1.4.8"
	nodeAgent   = "Nacos-Java-Client:v1.0.0" // nacos-naming for Node pretends to be Java 1.0.0
	oldJava     = "Nacos-Java-Client:v0.9.0"
	csharpAgent = "Nacos-CSharp-Client:v1.3.10"
	peerAgent   = "Nacos-Server:v1.4.8"
)

// as returns the headers a client with agent a sends.
func as(a string) []string { return []string{"User-Agent", a, "Client-Version", a} }

// httpClient bounds every request, so that a wedged server fails a test
// instead of hanging it.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// do sends one request and returns the status and body. query and form are
// raw strings, sent as given (clients differ in how they encode).
func do(t testing.TB, method, u, query, form string, header ...string) (int, string) {
	t.Helper()
	if query != "" {
		u += "?" + query
	}
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func mustDo(t testing.TB, want int, method, u, query, form string, header ...string) string {
	t.Helper()
	status, body := do(t, method, u, query, form, header...)
	if status != want {
		t.Fatalf("%s %s?%s (form %q): got %d %q, want %d", method, u, query, form, status, body, want)
	}
	return body
}

// client talks to one test server. Paths are relative to /nacos/v1/ns.
type client struct {
	t   testing.TB
	srv *servertest.Server
	ns  string
}

func newClient(t testing.TB, opts ...servertest.Option) *client {
	t.Helper()
	srv := servertest.Start(t, opts...)
	return &client{t: t, srv: srv, ns: srv.API + "/v1/ns"}
}

func (c *client) call(method, path, query, form string, header ...string) (int, string) {
	c.t.Helper()
	return do(c.t, method, c.ns+path, query, form, header...)
}

// ok sends a write request and fails unless it answers 200 "ok".
func (c *client) ok(method, path, query, form string, header ...string) {
	c.t.Helper()
	if got := mustDo(c.t, 200, method, c.ns+path, query, form, header...); got != "ok" {
		c.t.Fatalf("%s %s?%s: got body %q, want ok", method, path, query, got)
	}
}

// fails sends a request and checks its status and exact plain-text message.
func (c *client) fails(status int, msg, method, path, query, form string, header ...string) {
	c.t.Helper()
	gotStatus, gotBody := c.call(method, path, query, form, header...)
	if gotStatus != status || gotBody != msg {
		c.t.Errorf("%s %s?%s (form %q):\ngot  %d %q\nwant %d %q", method, path, query, form, gotStatus, gotBody, status, msg)
	}
}

func (c *client) register(query string, header ...string) {
	c.t.Helper()
	c.ok("POST", "/instance", query, "", header...)
}

// getJSON sends a GET that must answer 200 and decodes the body into v.
func (c *client) getJSON(path, query string, v any, header ...string) string {
	c.t.Helper()
	body := mustDo(c.t, 200, "GET", c.ns+path, query, "", header...)
	decodeStrict(c.t, body, v)
	return body
}

func (c *client) list(query string, header ...string) listReply {
	c.t.Helper()
	var l listReply
	l.Raw = c.getJSON("/instance/list", query, &l, header...)
	return l
}

func (c *client) detail(query string) detailReply {
	c.t.Helper()
	var d detailReply
	c.getJSON("/instance", query, &d)
	return d
}

// decodeStrict decodes body into v, failing on trailing data.
func decodeStrict(t testing.TB, body string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("trailing data after JSON: %s", body)
	}
}

// keysOf returns the top-level keys of a JSON object, sorted.
func keysOf(t testing.TB, body string) string {
	t.Helper()
	var m map[string]json.RawMessage
	decodeStrict(t, body, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// host and listReply mirror what nacos-sdk-go decodes (ports and times are
// unsigned integers there, so a float or string would fail to decode).
type host struct {
	InstanceID  string            `json:"instanceId"`
	IP          string            `json:"ip"`
	Port        uint64            `json:"port"`
	Weight      float64           `json:"weight"`
	Healthy     bool              `json:"healthy"`
	Valid       bool              `json:"valid"`
	Marked      bool              `json:"marked"`
	Enabled     bool              `json:"enabled"`
	Ephemeral   bool              `json:"ephemeral"`
	ClusterName string            `json:"clusterName"`
	ServiceName string            `json:"serviceName"`
	Metadata    map[string]string `json:"metadata"`
}

type listReply struct {
	Name              string            `json:"name"`
	GroupName         string            `json:"groupName"`
	Dom               string            `json:"dom"`
	Clusters          string            `json:"clusters"`
	CacheMillis       uint64            `json:"cacheMillis"`
	LastRefTime       uint64            `json:"lastRefTime"`
	Checksum          string            `json:"checksum"`
	Env               string            `json:"env"`
	ReachedProtection bool              `json:"reachProtectionThreshold"`
	Metadata          map[string]string `json:"metadata"`
	Hosts             []host            `json:"hosts"`
	Raw               string            `json:"-"`
}

// summary lists the hosts as "ip:port/cluster healthy" in answer order.
func (l listReply) summary() string {
	var parts []string
	for _, h := range l.Hosts {
		state := "healthy"
		if !h.Healthy {
			state = "unhealthy"
		}
		if h.Valid != h.Healthy {
			state += "(valid differs)"
		}
		parts = append(parts, h.IP+":"+strconv.FormatUint(h.Port, 10)+"/"+h.ClusterName+" "+state)
	}
	return strings.Join(parts, ", ")
}

type detailReply struct {
	Service     string            `json:"service"`
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	ClusterName string            `json:"clusterName"`
	Weight      float64           `json:"weight"`
	Healthy     bool              `json:"healthy"`
	Enabled     bool              `json:"enabled"`
	Ephemeral   bool              `json:"ephemeral"`
	InstanceID  string            `json:"instanceId"`
	Metadata    map[string]string `json:"metadata"`
	LastBeat    int64             `json:"lastBeat"`
}

// q builds a properly encoded query from alternating keys and values, in
// order, the way the Java client writes one.
func q(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// eventually polls cond every few milliseconds for up to five seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// compactJSON re-encodes a JSON text without insignificant space.
func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	c := newClient(t)
	meta := url.QueryEscape(`{"k":"v"}`)
	c.register("serviceName=demo&ip=10.0.0.1&port=8080&metadata=" + meta)
	list := mustDo(t, 200, "GET", c.ns+"/instance/list", "serviceName=DEFAULT_GROUP@@demo", "")
	if !strings.Contains(list, `"ip":"10.0.0.1","port":8080`) || !strings.Contains(list, `"metadata":{"k":"v"}`) {
		t.Errorf("list: got %s", list)
	}
	beat := mustDo(t, 200, "PUT", c.ns+"/instance/beat", "", `serviceName=DEFAULT_GROUP@@demo&beat={"ip":"10.0.0.1","port":8080,"cluster":""}`)
	if beat != `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}` {
		t.Errorf("beat: got %s", beat)
	}
	c.ok("DELETE", "/instance", "serviceName=DEFAULT_GROUP@@demo&ip=10.0.0.1&port=8080&ephemeral=true", "")
	beat = mustDo(t, 200, "PUT", c.ns+"/instance/beat", "serviceName=DEFAULT_GROUP@@demo&ip=10.0.0.1&port=8080", "")
	if beat != `{"clientBeatInterval":5000,"code":20404}` {
		t.Errorf("light beat after deregister: got %s", beat)
	}
}
