package httpapi_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulse-registry/pulse/internal/servertest"
)

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
	resp, err := http.DefaultClient.Do(req)
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
		t.Fatalf("%s %s?%s: got %d %q, want %d", method, u, query, status, body, want)
	}
	return body
}

func TestRoundTrip(t *testing.T) {
	srv := servertest.Start(t)
	ns := srv.API + "/v1/ns"
	meta := url.QueryEscape(`{"k":"v"}`)
	if got := mustDo(t, 200, "POST", ns+"/instance", "serviceName=demo&ip=10.0.0.1&port=8080&metadata="+meta, ""); got != "ok" {
		t.Fatalf("register: got %q, want ok", got)
	}
	list := mustDo(t, 200, "GET", ns+"/instance/list", "serviceName=DEFAULT_GROUP@@demo", "")
	if !strings.Contains(list, `"ip":"10.0.0.1","port":8080`) || !strings.Contains(list, `"metadata":{"k":"v"}`) {
		t.Errorf("list: got %s", list)
	}
	beat := mustDo(t, 200, "PUT", ns+"/instance/beat", "", `serviceName=DEFAULT_GROUP@@demo&beat={"ip":"10.0.0.1","port":8080,"cluster":""}`)
	if beat != `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}` {
		t.Errorf("beat: got %s", beat)
	}
	mustDo(t, 200, "DELETE", ns+"/instance", "serviceName=DEFAULT_GROUP@@demo&ip=10.0.0.1&port=8080&ephemeral=true", "")
	beat = mustDo(t, 200, "PUT", ns+"/instance/beat", "serviceName=DEFAULT_GROUP@@demo&ip=10.0.0.1&port=8080", "")
	if beat != `{"clientBeatInterval":5000,"code":20404}` {
		t.Errorf("light beat after deregister: got %s", beat)
	}
	if got := mustDo(t, 501, "GET", ns+"/nope", "", ""); got != "no such api:GET:/nacos/v1/ns/nope" {
		t.Errorf("unknown route: got %q", got)
	}
}
