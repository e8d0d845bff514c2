package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pulse-registry/pulse/internal/servertest"
	"github.com/pulse-registry/pulse/internal/wire"
)

func TestBeatBatch(t *testing.T) {
	srv := servertest.Start(t)
	ns := srv.API + "/v1/ns"
	meta := url.QueryEscape(`{"preserved.heart.beat.interval":"2000"}`)
	mustDo(t, 200, "POST", ns+"/instance", "serviceName=a&ip=10.0.0.1&port=1", "")
	mustDo(t, 200, "POST", ns+"/instance", "serviceName=b&groupName=g&ip=10.0.0.2&port=2&clusterName=c1&metadata="+meta, "")

	body := `{"beats":[
		{"serviceName":"DEFAULT_GROUP@@a","ip":"10.0.0.1","port":1},
		{"serviceName":"b","groupName":"g","clusterName":"c1","ip":"10.0.0.2","port":2},
		{"serviceName":"DEFAULT_GROUP@@a","ip":"10.0.0.9","port":9},
		{"serviceName":"DEFAULT_GROUP@@a","ip":"10.0.0.8","port":8,"beat":{"ip":"10.0.0.8","port":8,"weight":2,"cluster":"","metadata":{"k":"v"}}},
		{"serviceName":"@@a","ip":"10.0.0.1","port":1},
		{"serviceName":"DEFAULT_GROUP@@a","ip":"10.0.0.1","port":70000}
	]}`
	status, out := doJSON(t, "PUT", ns+"/instance/beat/batch", body)
	if status != 200 {
		t.Fatalf("got %d %s", status, out)
	}
	var reply wire.BeatBatchReply
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10200 5000 ",
		"10200 2000 ",
		"20404 5000 ",
		"10200 5000 ",
		"400 5000 Param 'serviceName' is illegal, groupName can't be empty",
		"400 5000 Param 'port' is illegal, it must be an integer in 0..65535: 70000",
	}
	if !reply.LightBeatEnabled || len(reply.Results) != len(want) {
		t.Fatalf("got %s", out)
	}
	for i, r := range reply.Results {
		if got := fmt.Sprintf("%d %d %s", r.Code, r.ClientBeatInterval, r.Message); got != want[i] {
			t.Errorf("beat %d: got %q, want %q", i, got, want[i])
		}
	}
	// The full body re-created the unknown instance.
	detail := mustDo(t, 200, "GET", ns+"/instance", "serviceName=a&ip=10.0.0.8&port=8", "")
	if !strings.Contains(detail, `"weight":2`) || !strings.Contains(detail, `"metadata":{"k":"v"}`) {
		t.Errorf("re-created instance: got %s", detail)
	}

	t.Run("bad batches", func(t *testing.T) {
		many := `{"beats":[` + strings.TrimSuffix(strings.Repeat(`{"serviceName":"a","ip":"1","port":1},`, 5001), ",") + `]}`
		for _, body := range []string{`not json`, `{"beats":[{"port":"x"}]}`, many} {
			if status, out := doJSON(t, "PUT", ns+"/instance/beat/batch", body); status != 400 {
				t.Errorf("body %.40s: got %d %s, want 400", body, status, out)
			}
		}
	})
}

func doJSON(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
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

func TestBeatBatch_WithoutContentType(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=s&ip=10.0.0.1&port=80")
	req, err := http.NewRequest("PUT", c.ns+"/instance/beat/batch", strings.NewReader(`{"beats":[{"serviceName":"DEFAULT_GROUP@@s","ip":"10.0.0.1","port":80}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply wire.BeatBatchReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != 200 || len(reply.Results) != 1 || reply.Results[0].Code != wire.CodeOK {
		t.Errorf("got %d %+v (%v), want one beat answered 10200", resp.StatusCode, reply, err)
	}
}
