package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/pulse-registry/pulse/internal/httpapi"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/switches"
	"github.com/pulse-registry/pulse/internal/wire"
)

type switchesReply struct {
	Name                   string         `json:"name"`
	ClientBeatInterval     int64          `json:"clientBeatInterval"`
	DefaultCacheMillis     int64          `json:"defaultCacheMillis"`
	DefaultPushCacheMillis int64          `json:"defaultPushCacheMillis"`
	HealthCheckEnabled     bool           `json:"healthCheckEnabled"`
	LightBeatEnabled       bool           `json:"lightBeatEnabled"`
	PushJavaVersion        string         `json:"pushJavaVersion"`
	LimitedURLMap          map[string]int `json:"limitedUrlMap"`
	OverriddenServerStatus *string        `json:"overriddenServerStatus"`
}

func TestOperator_Switches(t *testing.T) {
	c := newClient(t)
	var sw switchesReply
	c.getJSON("/operator/switches", "", &sw)
	if sw.Name != "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00" || sw.ClientBeatInterval != 5000 || sw.DefaultCacheMillis != 3000 ||
		sw.DefaultPushCacheMillis != 10000 || !sw.HealthCheckEnabled || !sw.LightBeatEnabled || sw.OverriddenServerStatus != nil {
		t.Errorf("defaults: got %+v", sw)
	}
	for _, tc := range []struct {
		method, query, form string
	}{
		{"PUT", "entry=clientBeatInterval&value=7000", ""},
		{"PUT", "", "entry=defaultCacheMillis&value=%201500%20"}, // form body, value trimmed
		{"PUT", "entry=check&value=FALSE&debug=true", ""},
		{"PUT", "entry=pushVersion&value=java:1.2.0", ""},
		{"PUT", "", "entry=limitedUrlMap&value=%2Fv1%2Fns%2Fcatalog%3A429"},
	} {
		c.ok(tc.method, "/operator/switches", tc.query, tc.form)
	}
	// /ops is the same controller.
	c.getJSON("/ops/switches", "", &sw)
	if sw.ClientBeatInterval != 7000 || sw.DefaultCacheMillis != 1500 || sw.HealthCheckEnabled || sw.PushJavaVersion != "1.2.0" ||
		sw.LimitedURLMap["/v1/ns/catalog"] != 429 {
		t.Errorf("after updates: got %+v", sw)
	}
	if l := c.list("serviceName=x"); l.CacheMillis != 1500 {
		t.Errorf("list cacheMillis: got %d, want the switch's 1500", l.CacheMillis)
	}

	c.fails(400, "Param 'entry' is required.", "PUT", "/operator/switches", "value=1", "")
	c.fails(400, "unknown switch entry: nope (known: "+knownSwitches+")", "PUT", "/operator/switches", "entry=nope&value=1", "")
	c.fails(400, "value must be an integer of at least 1: abc", "PUT", "/operator/switches", "entry=clientBeatInterval&value=abc", "")
	c.fails(400, "value must be an integer of at least 1000: 999", "PUT", "/operator/switches", "entry=defaultCacheMillis&value=999", "")
	c.fails(400, "value must be an integer of at least 10000: 5000", "PUT", "/operator/switches", "entry=pushCacheMillis&value=5000", "")
	c.fails(400, "value must be true or false: maybe", "PUT", "/operator/switches", "entry=check&value=maybe", "")
	c.fails(400, "pushVersion must look like java:0.1.0: java", "PUT", "/operator/switches", "entry=pushVersion&value=java", "")
	c.fails(400, "unsupported client type: rust", "PUT", "/operator/switches", "entry=pushVersion&value=rust:1.0", "")
	c.fails(400, "limitedUrlMap must look like /url:503,/other:429: /x:abc", "PUT", "/operator/switches", "entry=limitedUrlMap&value=/x:abc", "")
	c.fails(400, "unknown server status: SLEEPY", "PUT", "/operator/switches", "entry=overriddenServerStatus&value=SLEEPY", "")
	c.getJSON("/operator/switches", "", &sw)
	if sw.ClientBeatInterval != 7000 || sw.DefaultCacheMillis != 1500 {
		t.Errorf("a failed update changed the switches: %+v", sw)
	}
}

func TestOperator_TrafficRevise(t *testing.T) {
	t.Run("limitedUrlMap", func(t *testing.T) {
		c := newClient(t)
		c.ok("PUT", "/operator/switches", "entry=limitedUrlMap&value=/v1/ns/instance/list:429,/v1/ns/service:503", "")
		if status, body := c.call("GET", "/instance/list", "serviceName=x", ""); status != 429 || body != "" {
			t.Errorf("limited list: got %d %q, want 429 and no body", status, body)
		}
		if status, _ := c.call("GET", "/service/list", "pageNo=1&pageSize=1", ""); status != 503 {
			t.Errorf("limited prefix /v1/ns/service: got %d for /service/list, want 503", status)
		}
		c.register("serviceName=x&ip=10.0.0.1&port=80")
		// A map that covers everything cannot lock the operator out.
		c.ok("PUT", "/operator/switches", "entry=limitedUrlMap&value=/:503", "")
		if status, _ := c.call("GET", "/instance/list", "serviceName=x", ""); status != 503 {
			t.Errorf("limited /: got %d for /instance/list, want 503", status)
		}
		c.ok("PUT", "/operator/switches", "entry=limitedUrlMap&value=", "")
		c.list("serviceName=x")
	})
	t.Run("overriddenServerStatus", func(t *testing.T) {
		c := newClient(t)
		c.ok("PUT", "/operator/switches", "entry=overriddenServerStatus&value=DOWN", "")
		c.fails(503, "server is DOWNnow, please try again later!", "GET", "/instance/list", "serviceName=x", "")
		c.fails(503, "server is DOWNnow, please try again later!", "POST", "/instance", "serviceName=x&ip=10.0.0.1&port=80", "")
		// Peers always pass.
		c.list("serviceName=x", as(peerAgent)...)
		// The switches themselves always answer, so an operator can undo this.
		c.ok("PUT", "/operator/switches", "entry=overriddenServerStatus&value=WRITE_ONLY", "")
		c.register("serviceName=x&ip=10.0.0.1&port=80")
		c.fails(503, "server is WRITE_ONLYnow, please try again later!", "GET", "/instance/list", "serviceName=x", "")
		c.ok("PUT", "/operator/switches", "entry=overriddenServerStatus&value=READ_ONLY", "")
		c.list("serviceName=x")
		c.fails(503, "server is READ_ONLYnow, please try again later!", "DELETE", "/instance", "serviceName=x&ip=10.0.0.1&port=80", "")
		var m metricsReply
		c.getJSON("/operator/metrics", "", &m)
		if m.Status != "READ_ONLY" {
			t.Errorf("metrics status: got %q, want READ_ONLY", m.Status)
		}
		c.ok("PUT", "/operator/switches", "entry=overriddenServerStatus&value=null", "", as(peerAgent)...)
		c.ok("DELETE", "/instance", "serviceName=x&ip=10.0.0.1&port=80", "")
		// The console endpoints are outside the naming filters.
		mustDo(t, 200, "GET", c.srv.API+"/v1/console/health/liveness", "", "")
	})
}

type metricsReply struct {
	Status                   string  `json:"status"`
	ServiceCount             int     `json:"serviceCount"`
	InstanceCount            int     `json:"instanceCount"`
	ResponsibleServiceCount  int     `json:"responsibleServiceCount"`
	ResponsibleInstanceCount int     `json:"responsibleInstanceCount"`
	CPU                      float64 `json:"cpu"`
	Load                     float64 `json:"load"`
	Mem                      float64 `json:"mem"`
	BeatCount                int64   `json:"beatCount"`
	RegisterCount            int64   `json:"registerCount"`
	DeregisterCount          int64   `json:"deregisterCount"`
	HealthCheckEnabled       bool    `json:"healthCheckEnabled"`
}

func TestOperator_Metrics(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=a&ip=10.0.0.1&port=80")
	c.register("serviceName=a&ip=10.0.0.2&port=80")
	c.register("serviceName=b&ip=10.0.0.1&port=80")
	c.register("namespaceId=dev&serviceName=b&ip=10.0.0.1&port=80")
	c.ok("DELETE", "/instance", "serviceName=a&ip=10.0.0.2&port=80", "")
	c.ok("DELETE", "/instance", "serviceName=a&ip=10.0.0.3&port=80", "") // nothing removed
	c.beat("serviceName=a&ip=10.0.0.1&port=80", "")
	c.beat("serviceName=a&ip=10.0.0.1&port=80", "")
	var m metricsReply
	c.getJSON("/operator/metrics", "namespaceId=public", &m) // Node sends a namespaceId
	if m.Status != "UP" || m.ServiceCount != 3 || m.InstanceCount != 3 || m.ResponsibleServiceCount != 3 || m.ResponsibleInstanceCount != 3 ||
		m.RegisterCount != 4 || m.DeregisterCount != 1 || m.BeatCount != 2 || !m.HealthCheckEnabled {
		t.Errorf("got %+v", m)
	}
	if m.CPU < 0 || m.CPU > 1 || m.Mem < 0 || m.Mem > 1 || m.Load < 0 {
		t.Errorf("cpu, mem, load out of range: %+v", m)
	}
}

func TestOperator_Servers(t *testing.T) {
	c := newClient(t)
	var s struct {
		Servers []struct {
			IP         string         `json:"ip"`
			Port       int            `json:"port"`
			State      string         `json:"state"`
			Address    string         `json:"address"`
			ExtendInfo map[string]any `json:"extendInfo"`
		} `json:"servers"`
	}
	c.getJSON("/operator/servers", "healthy=true", &s)
	addr := c.srv.Addr().String()
	if len(s.Servers) != 1 || s.Servers[0].Address != addr || s.Servers[0].IP != "127.0.0.1" ||
		strconv.Itoa(s.Servers[0].Port) != addr[len("127.0.0.1:"):] || s.Servers[0].State != "UP" {
		t.Errorf("got %+v, want this server at %s", s, addr)
	}
}

func TestConsole(t *testing.T) {
	c := newClient(t)
	console := c.srv.API + "/v1/console"
	if got := mustDo(t, 200, "GET", console+"/health/liveness", "", ""); got != "OK" {
		t.Errorf("liveness: got %q, want OK", got)
	}
	if got := mustDo(t, 200, "GET", console+"/health/readiness", "", ""); got != "OK" {
		t.Errorf("readiness: got %q, want OK", got)
	}
	if got, want := mustDo(t, 200, "GET", console+"/server/state", "", ""),
		`{"version":"dev","standalone_mode":"standalone","function_mode":"naming","auth_enabled":false}`; got != want {
		t.Errorf("server state: got %s, want %s", got, want)
	}

	t.Run("not ready", func(t *testing.T) {
		reg := naming.New(naming.Config{})
		h := httpapi.New(httpapi.Config{Writer: reg, Reader: reg, Ready: func() bool { return false }})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/nacos/v1/console/health/readiness", nil))
		if rec.Code != 500 || rec.Body.String() != "Naming is not in readiness" {
			t.Errorf("got %d %q, want 500 Naming is not in readiness", rec.Code, rec.Body.String())
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	c := newClient(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"GET", "/instance/nope"},
		{"POST", "/instance/list"},
		{"DELETE", "/instance/beat"},
		{"GET", "/instance/beat"},
		{"POST", "/instance/metadata/batch"},
		{"PATCH", "/service"},
		{"POST", "/service/list"},
		{"DELETE", "/operator/switches"},
		{"POST", "/operator/metrics"},
		{"PUT", "/operator/servers"},
		{"GET", "/cluster"},
		{"GET", "/health"},
		{"PUT", "/ops/nope"},
	} {
		c.fails(501, "no such api:"+tc.method+":/nacos/v1/ns"+tc.path, tc.method, tc.path, "serviceName=x", "")
	}
	// Outside the naming prefix there is no Nacos filter: a plain 404.
	if status, _ := do(t, "GET", c.srv.API+"/v1/nope", "", ""); status != http.StatusNotFound {
		t.Errorf("GET /nacos/v1/nope: got %d, want 404", status)
	}
}

func TestServers_IPv6Address(t *testing.T) {
	reg := naming.New(naming.Config{})
	h := httpapi.New(httpapi.Config{Writer: reg, Reader: reg, Self: netip.MustParseAddrPort("[::1]:8848")})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/nacos/v1/ns/operator/servers", nil))
	var got wire.Servers
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got.Servers) != 1 {
		t.Fatalf("got %s (%v)", w.Body.String(), err)
	}
	if m := got.Servers[0]; m.IP != "::1" || m.Port != 8848 || m.Address != "[::1]:8848" {
		t.Errorf("got %+v, want ip ::1, port 8848, address [::1]:8848", m)
	}
}

func TestLogin_AuthOff(t *testing.T) {
	c := newClient(t)
	for _, path := range []string{"/v1/auth/login", "/v1/auth/users/login"} {
		status, body := do(t, "POST", c.srv.API+path, "", "username=nacos&password=whatever")
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil || status != 200 {
			t.Fatalf("%s: got %d %s", path, status, body)
		}
		if _, ok := got["accessToken"]; ok || got["tokenTtl"] != float64(18000) || got["username"] != "nacos" {
			t.Errorf("%s: got %s, want no accessToken, a numeric tokenTtl and the username", path, body)
		}
	}
	if status, body := do(t, "POST", c.srv.API+"/v1/auth/users/login", "", "password=x"); status != 400 || body != "Param 'username' is required." {
		t.Errorf("no username: got %d %q", status, body)
	}
}

// knownSwitches is how an unknown-entry error lists the entries.
var knownSwitches = strings.Join(switches.Entries(), ", ")
