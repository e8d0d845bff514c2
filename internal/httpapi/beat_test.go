package httpapi_test

import (
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/servertest"
)

const (
	beatOK       = `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}`
	beatNotFound = `{"clientBeatInterval":5000,"code":20404}`
)

func (c *client) beat(query, form string, header ...string) string {
	c.t.Helper()
	return mustDo(c.t, 200, "PUT", c.ns+"/instance/beat", query, form, header...)
}

func TestInstanceBeat_Reply(t *testing.T) {
	t.Run("go sample re-registers an unknown instance", func(t *testing.T) {
		c := newClient(t)
		if got := c.beat("", goBeatBody, as(goAgent)...); got != beatOK {
			t.Errorf("got %s, want %s", got, beatOK)
		}
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@S&ip=127.0.0.1&port=25677"), detailReply{
			Service: "DEFAULT_GROUP@@S", IP: "127.0.0.1", Port: 25677, ClusterName: "DEFAULT",
			Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Metadata: map[string]string{"role": "anchor"},
		})
	})
	t.Run("go sample beats a registered instance", func(t *testing.T) {
		c := newClient(t)
		c.ok("POST", "/instance", "", goRegisterBody, as(goAgent)...)
		if got := c.beat("", goBeatBody, as(goAgent)...); got != beatOK {
			t.Errorf("got %s, want %s", got, beatOK)
		}
		if l := c.list(goListQuery); len(l.Hosts) != 1 {
			t.Errorf("beat added an instance: %s", l.Raw)
		}
	})
	t.Run("node sample, encoded query", func(t *testing.T) {
		c := newClient(t)
		if got := c.beat(nodeBeatQuery, "", as(nodeAgent)...); got != beatOK {
			t.Errorf("got %s, want %s", got, beatOK)
		}
		c.detail("serviceName=DEFAULT_GROUP@@S&ip=127.0.0.1&port=28987&clusterName=DEFAULT")
		if got := c.beat(nodeBeatQuery, "", as(nodeAgent)...); got != beatOK {
			t.Errorf("second beat: got %s, want %s", got, beatOK)
		}
	})
	t.Run("java: params in the query, beat in the form body", func(t *testing.T) {
		c := newClient(t)
		query := q("namespaceId", "public", "serviceName", "DEFAULT_GROUP@@J", "clusterName", "c1", "ip", "10.0.0.1", "port", "8080", "app", "unknown")
		form := q("beat", `{"cluster":"c1","ip":"10.0.0.1","metadata":{},"period":5000,"port":8080,"scheduled":false,"serviceName":"DEFAULT_GROUP@@J","stopped":false,"weight":1.0}`)
		if got := c.beat(query, form, as(javaAgent)...); got != beatOK {
			t.Errorf("got %s, want %s", got, beatOK)
		}
		c.detail("serviceName=DEFAULT_GROUP@@J&ip=10.0.0.1&port=8080&clusterName=c1")
	})
	t.Run("csharp: beat JSON in the query", func(t *testing.T) {
		c := newClient(t)
		query := q("serviceName", "DEFAULT_GROUP@@C", "namespaceId", "public", "beat", `{"serviceName":"DEFAULT_GROUP@@C","cluster":"DEFAULT","ip":"10.0.0.2","port":81,"weight":1,"metadata":{"a":"b"}}`)
		if got := c.beat(query, "", as(csharpAgent)...); got != beatOK {
			t.Errorf("got %s, want %s", got, beatOK)
		}
		c.detail("serviceName=DEFAULT_GROUP@@C&ip=10.0.0.2&port=81")
	})
	t.Run("light beat", func(t *testing.T) {
		c := newClient(t)
		if got := c.beat("serviceName=S&ip=10.0.0.1&port=80", ""); got != beatNotFound {
			t.Errorf("unknown service: got %s, want %s", got, beatNotFound)
		}
		c.register("serviceName=S&ip=10.0.0.1&port=80&clusterName=c1")
		if got := c.beat("serviceName=S&ip=10.0.0.1&port=80", ""); got != beatNotFound {
			t.Errorf("wrong cluster: got %s, want %s", got, beatNotFound)
		}
		if got := c.beat("serviceName=S&ip=10.0.0.1&port=80&clusterName=c1", ""); got != beatOK {
			t.Errorf("known instance: got %s, want %s", got, beatOK)
		}
		if got := c.beat("", "serviceName=DEFAULT_GROUP%40%40S&ip=10.0.0.1&port=80&clusterName=c1"); got != beatOK {
			t.Errorf("form body: got %s, want %s", got, beatOK)
		}
		if got := c.beat("serviceName=S&groupName=DEFAULT_GROUP&ip=10.0.0.1&port=80&clusterName=c1", ""); got != beatOK {
			t.Errorf("bare name and groupName: got %s, want %s", got, beatOK)
		}
		if got := c.beat("serviceName=S&ip=10.0.0.1&port=81&clusterName=c1", ""); got != beatNotFound {
			t.Errorf("unknown port: got %s, want %s", got, beatNotFound)
		}
		if l := c.list("serviceName=S"); len(l.Hosts) != 1 {
			t.Errorf("a light beat registered something: %s", l.Raw)
		}
	})
	t.Run("lightBeatEnabled switch", func(t *testing.T) {
		c := newClient(t)
		c.ok("PUT", "/operator/switches", "entry=lightBeatEnabled&value=false", "")
		c.register("serviceName=S&ip=10.0.0.1&port=80")
		if got, want := c.beat("serviceName=S&ip=10.0.0.1&port=80", ""), `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":false}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		if got := c.beat("serviceName=S&ip=10.0.0.1&port=99", ""); got != beatNotFound {
			t.Errorf("unknown: got %s, want %s", got, beatNotFound)
		}
	})
}

func TestInstanceBeat_Reregister(t *testing.T) {
	for _, tc := range []struct {
		name, query, body string
		want              detailReply
	}{
		{"cluster from the body", "serviceName=S&clusterName=c2", `{"ip":"10.0.0.1","port":80,"cluster":"c1","weight":2}`,
			detailReply{ClusterName: "c1", Weight: 2, Ephemeral: true}},
		{"blank body cluster takes clusterName", "serviceName=S&clusterName=c2", `{"ip":"10.0.0.1","port":80,"cluster":""}`,
			detailReply{ClusterName: "c2", Weight: 1, Ephemeral: true}},
		{"no cluster at all is DEFAULT", "serviceName=S", `{"ip":"10.0.0.1","port":80}`,
			detailReply{ClusterName: "DEFAULT", Weight: 1, Ephemeral: true}},
		{"blank clusterName is DEFAULT", "serviceName=S&clusterName=", `{"ip":"10.0.0.1","port":80,"cluster":""}`,
			detailReply{ClusterName: "DEFAULT", Weight: 1, Ephemeral: true}},
		{"ip and port come from the body", "serviceName=S&ip=10.9.9.9&port=9", `{"ip":"10.0.0.1","port":80}`,
			detailReply{ClusterName: "DEFAULT", Weight: 1, Ephemeral: true}},
		{"ephemeral false in the body", "serviceName=S", `{"ip":"10.0.0.1","port":"80","ephemeral":false,"metadata":{"n":1,"b":true,"z":null}}`,
			detailReply{ClusterName: "DEFAULT", Weight: 1, Metadata: map[string]string{"n": "1", "b": "true"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			if got := c.beat(tc.query, "beat="+tc.body); got != beatOK {
				t.Fatalf("got %s, want %s", got, beatOK)
			}
			want := tc.want
			want.Service, want.IP, want.Port, want.Healthy, want.Enabled = "DEFAULT_GROUP@@S", "10.0.0.1", 80, true, true
			wantDetail(t, c.detail("serviceName=S&ip=10.0.0.1&port=80&clusterName="+want.ClusterName), want)
			if l := c.list("serviceName=S"); len(l.Hosts) != 1 {
				t.Errorf("got %s, want one instance", l.Raw)
			}
		})
	}
}

func TestInstanceBeat_Interval(t *testing.T) {
	c := newClient(t)
	c.register(`serviceName=S&ip=10.0.0.1&port=80&metadata={"preserved.heart.beat.interval":"2000"}`)
	c.register(`serviceName=S&ip=10.0.0.1&port=81&metadata={"preserved.heart.beat.interval":"2s"}`)
	c.register(`serviceName=S&ip=10.0.0.1&port=82`)
	for _, tc := range []struct {
		name, query, form, want string
	}{
		{"from metadata", "serviceName=S&ip=10.0.0.1&port=80", "", `{"clientBeatInterval":2000,"code":10200,"lightBeatEnabled":true}`},
		{"non-numeric metadata is ignored", "serviceName=S&ip=10.0.0.1&port=81", "", beatOK},
		{"default", "serviceName=S&ip=10.0.0.1&port=82", "", beatOK},
		{"re-registered from a body with metadata", "serviceName=S", `beat={"ip":"10.0.0.1","port":83,"metadata":{"preserved.heart.beat.interval":"3000"}}`,
			`{"clientBeatInterval":3000,"code":10200,"lightBeatEnabled":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.beat(tc.query, tc.form); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("clientBeatInterval switch", func(t *testing.T) {
		c.ok("PUT", "/operator/switches", "", "entry=clientBeatInterval&value=7000")
		for query, want := range map[string]string{
			"serviceName=S&ip=10.0.0.1&port=82": `{"clientBeatInterval":7000,"code":10200,"lightBeatEnabled":true}`,
			"serviceName=S&ip=10.0.0.1&port=80": `{"clientBeatInterval":2000,"code":10200,"lightBeatEnabled":true}`, // metadata wins
			"serviceName=S&ip=10.0.0.1&port=99": `{"clientBeatInterval":7000,"code":20404}`,
		} {
			if got := c.beat(query, ""); got != want {
				t.Errorf("%s: got %s, want %s", query, got, want)
			}
		}
	})
}

func TestInstanceBeat_Revives(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80&healthy=false")
	c.register("serviceName=S&ip=10.0.0.2&port=80")
	before := c.list("serviceName=S")
	if before.summary() != "10.0.0.2:80/DEFAULT healthy, 10.0.0.1:80/DEFAULT unhealthy" {
		t.Fatalf("before: %s", before.Raw)
	}
	if got := c.beat("serviceName=S&ip=10.0.0.2&port=80", ""); got != beatOK {
		t.Fatalf("beat: got %s", got)
	}
	if l := c.list("serviceName=S"); l.LastRefTime != before.LastRefTime {
		t.Errorf("a beat of a healthy instance changed lastRefTime: got %d, want %d", l.LastRefTime, before.LastRefTime)
	}
	// Health checking off does not stop beats from reviving.
	c.ok("PUT", "/operator/switches", "entry=check&value=false", "")
	if got := c.beat("", goBeatBodyFor("S", "10.0.0.1", 80)); got != beatOK {
		t.Fatalf("beat: got %s", got)
	}
	if d := c.detail("serviceName=S&ip=10.0.0.1&port=80"); !d.Healthy {
		t.Error("beat did not revive the unhealthy instance")
	}
	after := c.list("serviceName=S")
	if after.summary() != "10.0.0.1:80/DEFAULT healthy, 10.0.0.2:80/DEFAULT healthy" || after.LastRefTime <= before.LastRefTime {
		t.Errorf("after revival: got %s, want both healthy and lastRefTime above %d", after.Raw, before.LastRefTime)
	}
}

func TestInstanceBeat_Persistent(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80&ephemeral=false&healthy=false")
	if got := c.beat("serviceName=S&ip=10.0.0.1&port=80", ""); got != beatOK {
		t.Errorf("got %s, want %s", got, beatOK)
	}
	if d := c.detail("serviceName=S&ip=10.0.0.1&port=80"); d.Healthy {
		t.Error("a beat changed the health of a persistent instance")
	}
}

func TestInstanceBeat_RefreshesLastBeat(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := newClient(t, servertest.WithClock(fake))
	c.register(`serviceName=S&ip=10.0.0.1&port=80&metadata={"a":"1"}`)
	start := fake.Now().UnixMilli()
	if d := c.detail("serviceName=S&ip=10.0.0.1&port=80"); d.LastBeat != start {
		t.Errorf("after register: lastBeat %d, want %d", d.LastBeat, start)
	}
	fake.Advance(3 * time.Second)
	// A full beat of a known instance refreshes it and changes nothing else.
	c.beat("", `serviceName=DEFAULT_GROUP@@S&beat={"ip":"10.0.0.1","port":80,"weight":9,"metadata":{"b":"2"}}`)
	d := c.detail("serviceName=S&ip=10.0.0.1&port=80")
	if d.LastBeat != start+3000 {
		t.Errorf("after beat: lastBeat %d, want %d", d.LastBeat, start+3000)
	}
	if d.Weight != 1 || !maps.Equal(d.Metadata, map[string]string{"a": "1"}) {
		t.Errorf("beat body changed a known instance: got weight %v metadata %v", d.Weight, d.Metadata)
	}
}

// goBeatBodyFor is the Go SDK's beat body for another instance.
func goBeatBodyFor(service, ip string, port int) string {
	return `serviceName=DEFAULT_GROUP@@` + service + `&beat={"ip":"` + ip + `","port":` + strconv.Itoa(port) +
		`,"weight":1,"serviceName":"DEFAULT_GROUP@@` + service + `","cluster":"","metadata":{},"scheduled":false}`
}
