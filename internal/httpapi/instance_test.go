package httpapi_test

import (
	"fmt"
	"maps"
	"testing"
)

const formType = "application/x-www-form-urlencoded;charset=UTF-8"

// The client samples of clients.md §5 and protocol §1.2, byte for byte.
const (
	goRegisterBody    = `app=&clusterName=&enable=true&ephemeral=true&groupName=DEFAULT_GROUP&healthy=true&ip=127.0.0.1&metadata=%7B%22role%22%3A%22anchor%22%7D&namespaceId=&port=25677&serviceName=DEFAULT_GROUP%40%40S&weight=1`
	nodeRegisterQuery = `namespaceId=public&serviceName=DEFAULT_GROUP%40%40S&groupName=DEFAULT_GROUP&clusterName=DEFAULT&ip=127.0.0.1&port=28987&weight=1&enable=true&healthy=true&ephemeral=true&metadata=%7B%22role%22%3A%22anchor%22%7D`
	goBeatBody        = `serviceName=DEFAULT_GROUP@@S&beat={"ip":"127.0.0.1","port":25677,"weight":1,"serviceName":"DEFAULT_GROUP@@S","cluster":"","metadata":{"role":"anchor"},"scheduled":false}`
	goListQuery       = `clusters=&udpPort=55475&healthyOnly=false&clientIP=127.0.0.1&namespaceId=&serviceName=DEFAULT_GROUP@@S&app=`
	goDeregisterQuery = `namespaceId=&serviceName=DEFAULT_GROUP@@S&clusterName=&ip=127.0.0.1&port=25677&ephemeral=true`
	nodeBeatQuery     = `beat=%7B%22serviceName%22%3A%22DEFAULT_GROUP%40%40S%22%2C%22ip%22%3A%22127.0.0.1%22%2C%22port%22%3A28987%2C%22cluster%22%3A%22DEFAULT%22%2C%22weight%22%3A1%2C%22metadata%22%3A%7B%22role%22%3A%22anchor%22%7D%2C%22scheduled%22%3Atrue%7D&namespaceId=public&serviceName=DEFAULT_GROUP%40%40S`
	nodeListQuery     = `namespaceId=public&serviceName=DEFAULT_GROUP%40%40S&clusters=DEFAULT&udpPort=47482&clientIP=127.0.0.1&healthyOnly=false`
	nodeDeregister    = `namespaceId=public&serviceName=DEFAULT_GROUP%40%40S&clusterName=DEFAULT&ip=127.0.0.1&port=28987&ephemeral=true`
)

// wantDetail checks the fields of GET /instance that a test cares about.
func wantDetail(t *testing.T, got detailReply, want detailReply) {
	t.Helper()
	if got.Service != want.Service || got.IP != want.IP || got.Port != want.Port || got.ClusterName != want.ClusterName ||
		got.Weight != want.Weight || got.Healthy != want.Healthy || got.Enabled != want.Enabled || got.Ephemeral != want.Ephemeral ||
		!maps.Equal(got.Metadata, want.Metadata) {
		t.Errorf("GET /instance:\ngot  %+v\nwant %+v", got, want)
	}
	if id := fmt.Sprintf("%s#%d#%s#%s", want.IP, want.Port, want.ClusterName, want.Service); got.InstanceID != id {
		t.Errorf("instanceId: got %q, want %q", got.InstanceID, id)
	}
}

func TestInstance_Register(t *testing.T) {
	anchor := map[string]string{"role": "anchor"}
	t.Run("go sdk form body", func(t *testing.T) {
		c := newClient(t)
		c.ok("POST", "/instance", "", goRegisterBody, as(goAgent)...)
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@S&ip=127.0.0.1&port=25677"), detailReply{
			Service: "DEFAULT_GROUP@@S", IP: "127.0.0.1", Port: 25677, ClusterName: "DEFAULT",
			Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Metadata: anchor,
		})
		// Blank namespaceId is the public namespace.
		c.detail("namespaceId=public&serviceName=DEFAULT_GROUP@@S&ip=127.0.0.1&port=25677")
	})
	t.Run("node query string without body", func(t *testing.T) {
		c := newClient(t)
		c.register(nodeRegisterQuery, as(nodeAgent)...)
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP%40%40S&ip=127.0.0.1&port=28987"), detailReply{
			Service: "DEFAULT_GROUP@@S", IP: "127.0.0.1", Port: 28987, ClusterName: "DEFAULT",
			Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Metadata: anchor,
		})
	})
	t.Run("java query with an empty form body", func(t *testing.T) {
		c := newClient(t)
		query := q("namespaceId", "public", "serviceName", "DEFAULT_GROUP@@J", "groupName", "DEFAULT_GROUP",
			"clusterName", "c1", "ip", "10.0.0.7", "port", "8080", "weight", "1.0", "enable", "true",
			"healthy", "true", "ephemeral", "true", "metadata", `{"k":"v w"}`, "app", "unknown")
		c.register(query, append(as(javaAgent), "Content-Type", formType)...)
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@J&ip=10.0.0.7&port=8080&clusterName=c1"), detailReply{
			Service: "DEFAULT_GROUP@@J", IP: "10.0.0.7", Port: 8080, ClusterName: "c1",
			Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Metadata: map[string]string{"k": "v w"},
		})
	})
	t.Run("csharp capitalised booleans", func(t *testing.T) {
		c := newClient(t)
		c.register(q("serviceName", "DEFAULT_GROUP@@C", "ip", "10.0.0.8", "port", "81", "enabled", "False",
			"healthy", "False", "ephemeral", "True", "weight", "2"), as(csharpAgent)...)
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@C&ip=10.0.0.8&port=81"), detailReply{
			Service: "DEFAULT_GROUP@@C", IP: "10.0.0.8", Port: 81, ClusterName: "DEFAULT",
			Weight: 2, Healthy: false, Enabled: false, Ephemeral: true,
		})
	})
	t.Run("go zero values: disabled, unhealthy, persistent", func(t *testing.T) {
		c := newClient(t)
		c.ok("POST", "/instance", "", "enable=false&ephemeral=false&healthy=false&ip=10.0.0.9&port=1&serviceName=DEFAULT_GROUP%40%40Z&weight=0", as(goAgent)...)
		wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@Z&ip=10.0.0.9&port=1"), detailReply{
			Service: "DEFAULT_GROUP@@Z", IP: "10.0.0.9", Port: 1, ClusterName: "DEFAULT",
		})
	})
	t.Run("form body on every method", func(t *testing.T) {
		c := newClient(t)
		// Parameters split between the query and the body are merged.
		c.ok("POST", "/instance", "serviceName=DEFAULT_GROUP@@F", "ip=10.0.0.1&port=80")
		c.detail("serviceName=DEFAULT_GROUP@@F&ip=10.0.0.1&port=80")
		// The query wins when both carry a parameter, as getParameter does.
		c.ok("POST", "/instance", "serviceName=DEFAULT_GROUP@@F&port=81", "ip=10.0.0.1&port=82")
		c.detail("serviceName=DEFAULT_GROUP@@F&ip=10.0.0.1&port=81")
		if status, _ := c.call("GET", "/instance", "serviceName=DEFAULT_GROUP@@F&ip=10.0.0.1&port=82", ""); status != 404 {
			t.Errorf("port from the body registered: got status %d for port 82, want 404", status)
		}
	})

	for _, tc := range []struct {
		name, query, wantService string
	}{
		{"bare name gets DEFAULT_GROUP", "serviceName=demo", "DEFAULT_GROUP@@demo"},
		{"bare name with groupName", "serviceName=demo&groupName=g1", "g1@@demo"},
		{"blank groupName means DEFAULT_GROUP", "serviceName=demo&groupName=%20", "DEFAULT_GROUP@@demo"},
		{"grouped name ignores groupName", "serviceName=g1@@demo&groupName=g2", "g1@@demo"},
		{"encoded grouped name", "serviceName=g1%40%40demo", "g1@@demo"},
		{"three parts pass", "serviceName=a@@b@@c", "a@@b@@c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			c.register(tc.query + "&ip=10.0.0.1&port=80")
			d := c.detail("serviceName=" + tc.wantService + "&ip=10.0.0.1&port=80")
			if d.Service != tc.wantService {
				t.Errorf("service: got %q, want %q", d.Service, tc.wantService)
			}
		})
	}

	for _, tc := range []struct {
		name, query, wantCluster string
	}{
		{"clusterName", "clusterName=c1", "c1"},
		{"cluster alias", "cluster=c2", "c2"},
		{"clusterName wins over cluster", "clusterName=c1&cluster=c2", "c1"},
		{"blank clusterName falls back to cluster", "clusterName=&cluster=c2", "c2"},
		{"blank clusterName means DEFAULT", "clusterName=", "DEFAULT"},
		{"whitespace clusterName means DEFAULT", "clusterName=%20%20", "DEFAULT"},
		{"no cluster means DEFAULT", "app=x", "DEFAULT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			c.register("serviceName=demo&ip=10.0.0.1&port=80&" + tc.query)
			d := c.detail("serviceName=demo&ip=10.0.0.1&port=80&clusterName=" + tc.wantCluster)
			if d.ClusterName != tc.wantCluster {
				t.Errorf("cluster: got %q, want %q", d.ClusterName, tc.wantCluster)
			}
		})
	}

	t.Run("blank and whitespace namespaceId mean public", func(t *testing.T) {
		c := newClient(t)
		c.register("namespaceId=&serviceName=a&ip=10.0.0.1&port=80")
		c.register("namespaceId=%20&serviceName=b&ip=10.0.0.1&port=80")
		c.detail("namespaceId=public&serviceName=a&ip=10.0.0.1&port=80")
		c.detail("namespaceId=public&serviceName=b&ip=10.0.0.1&port=80")
	})
	t.Run("namespaces are separate", func(t *testing.T) {
		c := newClient(t)
		c.register("namespaceId=dev&serviceName=a&ip=10.0.0.1&port=80")
		c.detail("namespaceId=dev&serviceName=a&ip=10.0.0.1&port=80")
		if l := c.list("serviceName=a"); len(l.Hosts) != 0 || l.LastRefTime != 0 {
			t.Errorf("public namespace sees dev's instance: %s", l.Raw)
		}
	})

	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"enabled=true", true},
		{"enabled=True", true},
		{"enabled=TRUE", true},
		{"enabled=on", true},
		{"enabled=yes", true},
		{"enabled=Y", true},
		{"enabled=t", true},
		{"enabled=false", false},
		{"enabled=FALSE", false},
		{"enabled=off", false},
		{"enabled=no", false},
		{"enabled=1", false}, // commons-lang toBoolean: only true/on/yes/y/t
		{"enabled=garbage", false},
		{"enable=false", false},
		{"enable=False", false},
		{"enable=yes", true},
		{"enabled=true&enable=false", true}, // enabled takes precedence
		{"enabled=false&enable=true", false},
		{"enabled=&enable=false", false}, // blank enabled falls back to enable
		{"enabled=%20&enable=off", false},
		{"app=x", true}, // default
	} {
		t.Run("flag "+tc.query, func(t *testing.T) {
			c := newClient(t)
			c.register("serviceName=demo&ip=10.0.0.1&port=80&" + tc.query)
			if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); d.Enabled != tc.want {
				t.Errorf("enabled: got %v, want %v", d.Enabled, tc.want)
			}
		})
	}
	t.Run("healthy and ephemeral flags", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&healthy=FALSE&ephemeral=No")
		c.register("serviceName=demo&ip=10.0.0.1&port=81&healthy=Yes&ephemeral=ON")
		if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); d.Healthy || d.Ephemeral {
			t.Errorf("port 80: got healthy=%v ephemeral=%v, want false false", d.Healthy, d.Ephemeral)
		}
		if d := c.detail("serviceName=demo&ip=10.0.0.1&port=81"); !d.Healthy || !d.Ephemeral {
			t.Errorf("port 81: got healthy=%v ephemeral=%v, want true true", d.Healthy, d.Ephemeral)
		}
	})
	t.Run("raw unencoded metadata with & = % + ;", func(t *testing.T) {
		c := newClient(t)
		raw := `{"a":"x&y=z","b":"50%","c":"1+1","d":"p;q","e":"%zz"}`
		c.ok("POST", "/instance", "", "serviceName=DEFAULT_GROUP@@R&metadata="+raw+"&ip=10.0.0.1&port=80", as(goAgent)...)
		want := map[string]string{"a": "x&y=z", "b": "50%", "c": "1+1", "d": "p;q", "e": "%zz"}
		if d := c.detail("serviceName=DEFAULT_GROUP@@R&ip=10.0.0.1&port=80"); !maps.Equal(d.Metadata, want) {
			t.Errorf("metadata: got %v, want %v", d.Metadata, want)
		}
	})
	t.Run("percent-encoded metadata", func(t *testing.T) {
		c := newClient(t)
		c.register(q("serviceName", "DEFAULT_GROUP@@E", "ip", "10.0.0.1", "port", "80", "metadata", `{"a":"x&y=z","b":"1+1 2"}`))
		want := map[string]string{"a": "x&y=z", "b": "1+1 2"}
		if d := c.detail("serviceName=DEFAULT_GROUP@@E&ip=10.0.0.1&port=80"); !maps.Equal(d.Metadata, want) {
			t.Errorf("metadata: got %v, want %v", d.Metadata, want)
		}
	})
	t.Run("k=v metadata", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&metadata=" + "a%3D1%2Cb%3D2")
		want := map[string]string{"a": "1", "b": "2"}
		if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); !maps.Equal(d.Metadata, want) {
			t.Errorf("metadata: got %v, want %v", d.Metadata, want)
		}
	})
	t.Run("re-register keeps health and updates the rest", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&healthy=false")
		c.register(`serviceName=demo&ip=10.0.0.1&port=80&healthy=true&weight=3&metadata={"v":"2"}`)
		d := c.detail("serviceName=demo&ip=10.0.0.1&port=80")
		if d.Healthy || d.Weight != 3 || d.Metadata["v"] != "2" {
			t.Errorf("got healthy=%v weight=%v metadata=%v, want false 3 v=2", d.Healthy, d.Weight, d.Metadata)
		}
		if l := c.list("serviceName=demo"); len(l.Hosts) != 1 {
			t.Errorf("re-registration added an instance: %s", l.Raw)
		}
	})
	t.Run("ephemeral and persistent are separate sets", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&ephemeral=true")
		c.register("serviceName=demo&ip=10.0.0.1&port=80&ephemeral=false")
		if l := c.list("serviceName=demo"); len(l.Hosts) != 2 {
			t.Errorf("got %d hosts, want the ephemeral and the persistent one: %s", len(l.Hosts), l.Raw)
		}
	})
}

func TestInstance_Deregister(t *testing.T) {
	t.Run("go raw query", func(t *testing.T) {
		c := newClient(t)
		c.ok("POST", "/instance", "", goRegisterBody, as(goAgent)...)
		c.ok("DELETE", "/instance", goDeregisterQuery, "", as(goAgent)...)
		c.fails(404, "no ips found for cluster DEFAULT in service DEFAULT_GROUP@@S",
			"GET", "/instance", "serviceName=DEFAULT_GROUP@@S&ip=127.0.0.1&port=25677", "")
	})
	t.Run("node encoded query", func(t *testing.T) {
		c := newClient(t)
		c.register(nodeRegisterQuery, as(nodeAgent)...)
		c.ok("DELETE", "/instance", nodeDeregister, "", as(nodeAgent)...)
		if l := c.list(nodeListQuery, as(nodeAgent)...); len(l.Hosts) != 0 {
			t.Errorf("after deregister: %s", l.Raw)
		}
	})
	t.Run("form body on DELETE", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&clusterName=c1")
		c.ok("DELETE", "/instance", "", "serviceName=DEFAULT_GROUP%40%40demo&ip=10.0.0.1&port=80&cluster=c1")
		if l := c.list("serviceName=demo"); len(l.Hosts) != 0 {
			t.Errorf("after deregister with a form body: %s", l.Raw)
		}
	})
	t.Run("unknown service and instance are ok", func(t *testing.T) {
		c := newClient(t)
		c.ok("DELETE", "/instance", "serviceName=nope&ip=10.0.0.1&port=80", "")
		c.register("serviceName=demo&ip=10.0.0.1&port=80")
		c.ok("DELETE", "/instance", "serviceName=demo&ip=10.0.0.1&port=81", "")
		c.ok("DELETE", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&clusterName=other", "")
		if l := c.list("serviceName=demo"); len(l.Hosts) != 1 {
			t.Errorf("deregistering other instances removed this one: %s", l.Raw)
		}
	})
	t.Run("ephemeral=false leaves the ephemeral instance", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80")
		c.ok("DELETE", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&ephemeral=false", "")
		if l := c.list("serviceName=demo"); len(l.Hosts) != 1 {
			t.Errorf("got %s, want the instance kept", l.Raw)
		}
		c.ok("DELETE", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&ephemeral=FALSE", "")
		c.ok("DELETE", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&ephemeral=True", "")
		if l := c.list("serviceName=demo"); len(l.Hosts) != 0 {
			t.Errorf("got %s, want no instance", l.Raw)
		}
	})
}

func TestInstance_Update(t *testing.T) {
	for _, agent := range []string{goAgent, csharpAgent, oldJava, "curl/8.0"} {
		t.Run("upsert for "+agent, func(t *testing.T) {
			c := newClient(t)
			// The Go SDK's raw PUT body: no encoding, empty values dropped.
			c.ok("PUT", "/instance", "", `serviceName=DEFAULT_GROUP@@U&ip=10.0.0.1&port=80&weight=2&enable=true&ephemeral=true&metadata={"a":"b&c=d"}`, as(agent)...)
			wantDetail(t, c.detail("serviceName=DEFAULT_GROUP@@U&ip=10.0.0.1&port=80"), detailReply{
				Service: "DEFAULT_GROUP@@U", IP: "10.0.0.1", Port: 80, ClusterName: "DEFAULT",
				Weight: 2, Healthy: true, Enabled: true, Ephemeral: true, Metadata: map[string]string{"a": "b&c=d"},
			})
		})
	}
	for _, agent := range []string{javaAgent, nodeAgent} {
		t.Run("update only for "+agent, func(t *testing.T) {
			c := newClient(t)
			c.fails(400, "service not found, namespace: public, service: DEFAULT_GROUP@@U",
				"PUT", "/instance", "serviceName=DEFAULT_GROUP%40%40U&ip=10.0.0.1&port=80", "", as(agent)...)
			c.register("serviceName=U&ip=10.0.0.1&port=81")
			c.fails(400, "instance not exist: 10.0.0.1:80",
				"PUT", "/instance", "serviceName=DEFAULT_GROUP%40%40U&ip=10.0.0.1&port=80", "", as(agent)...)
			c.fails(400, "instance not exist: 10.0.0.1:81", // the persistent set has no such instance
				"PUT", "/instance", "serviceName=DEFAULT_GROUP%40%40U&ip=10.0.0.1&port=81&ephemeral=false", "", as(agent)...)
			if l := c.list("serviceName=U"); len(l.Hosts) != 1 {
				t.Errorf("a failed update created an instance: %s", l.Raw)
			}
			c.ok("PUT", "/instance", q("serviceName", "DEFAULT_GROUP@@U", "ip", "10.0.0.1", "port", "81",
				"weight", "5.5", "enabled", "false", "metadata", `{"k":"v"}`), "", as(agent)...)
			wantDetail(t, c.detail("serviceName=U&ip=10.0.0.1&port=81"), detailReply{
				Service: "DEFAULT_GROUP@@U", IP: "10.0.0.1", Port: 81, ClusterName: "DEFAULT",
				Weight: 5.5, Healthy: true, Enabled: false, Ephemeral: true, Metadata: map[string]string{"k": "v"},
			})
		})
	}
	t.Run("health cannot be changed by update", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=demo&ip=10.0.0.1&port=80&healthy=false")
		c.ok("PUT", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&healthy=true", "", as(javaAgent)...)
		c.ok("PUT", "/instance", "", "serviceName=demo&ip=10.0.0.1&port=80&healthy=true", as(goAgent)...)
		if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); d.Healthy {
			t.Error("update made the instance healthy")
		}
	})
}

func TestInstance_Patch(t *testing.T) {
	c := newClient(t)
	c.register(`serviceName=demo&ip=10.0.0.1&port=80&clusterName=c1&weight=2&metadata={"a":"1"}`)
	base := "serviceName=demo&ip=10.0.0.1&port=80&clusterName=c1"
	get := func() detailReply { return c.detail(base) }

	c.ok("PATCH", "/instance", "", base+"&weight=4")
	if d := get(); d.Weight != 4 || d.Metadata["a"] != "1" || !d.Enabled || !d.Healthy {
		t.Errorf("after patching weight: got %+v, want only weight changed", d)
	}
	c.ok("PATCH", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&cluster=c1", `metadata={"b":"2"}`)
	if d := get(); d.Weight != 4 || !maps.Equal(d.Metadata, map[string]string{"b": "2"}) {
		t.Errorf("after patching metadata: got %+v, want metadata replaced", d)
	}
	c.ok("PATCH", "/instance", base+"&healthy=False", "")
	if d := get(); d.Healthy {
		t.Error("after patching healthy=False: still healthy")
	}
	c.ok("PATCH", "/instance", base+"&enable=false", "")
	if d := get(); d.Enabled {
		t.Error("after patching enable=false: still enabled")
	}
	if l := c.list("serviceName=demo"); len(l.Hosts) != 0 {
		t.Errorf("disabled instance listed: %s", l.Raw)
	}
	c.fails(400, "instance not found", "PATCH", "/instance", "serviceName=demo&ip=10.0.0.1&port=81&weight=1", "")
	c.fails(400, "instance not found", "PATCH", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&weight=1", "") // cluster DEFAULT
	c.fails(400, "instance not found", "PATCH", "/instance", "serviceName=nope&ip=10.0.0.1&port=80&weight=1", "")
}

func TestInstance_Detail(t *testing.T) {
	c := newClient(t)
	c.register(`serviceName=demo&ip=10.0.0.1&port=80&healthy=false&metadata={"k":"v"}`)
	// The list protects the only instance (threshold 0); detail shows the truth.
	if l := c.list("serviceName=demo"); len(l.Hosts) != 1 || !l.Hosts[0].Healthy {
		t.Fatalf("list: got %s, want the instance served as healthy", l.Raw)
	}
	wantDetail(t, c.detail("serviceName=demo&ip=10.0.0.1&port=80"), detailReply{
		Service: "DEFAULT_GROUP@@demo", IP: "10.0.0.1", Port: 80, ClusterName: "DEFAULT",
		Weight: 1, Healthy: false, Enabled: true, Ephemeral: true, Metadata: map[string]string{"k": "v"},
	})
	// Form body on GET, and groupName with a bare name.
	mustDo(t, 200, "GET", c.ns+"/instance", "", "serviceName=demo&groupName=DEFAULT_GROUP&ip=10.0.0.1&port=80")

	c.fails(404, "no service DEFAULT_GROUP@@nope found!", "GET", "/instance", "serviceName=nope&ip=10.0.0.1&port=80", "")
	c.fails(404, "no ips found for cluster c9 in service DEFAULT_GROUP@@demo", "GET", "/instance", "serviceName=demo&ip=10.0.0.1&port=80&clusterName=c9", "")
	c.fails(404, "no matched ip found!", "GET", "/instance", "serviceName=demo&ip=10.0.0.2&port=80", "")
	// Nacos' detail reads clusterName only; the cluster alias is ignored.
	c.register("serviceName=demo&ip=10.0.0.3&port=80&clusterName=c2")
	c.fails(404, "no matched ip found!", "GET", "/instance", "serviceName=demo&ip=10.0.0.3&port=80&cluster=c2", "")
}

func TestDeregister_DefaultEphemeralFromSwitch(t *testing.T) {
	c := newClient(t)
	c.ok("PUT", "/operator/switches", "entry=defaultInstanceEphemeral&value=false", "")
	c.register("serviceName=s&ip=10.0.0.1&port=80") // persistent, by the switch
	c.ok("DELETE", "/instance", "serviceName=s&ip=10.0.0.1&port=80", "")
	if got := c.list("serviceName=s"); len(got.Hosts) != 0 {
		t.Errorf("deregister without ephemeral left %d hosts, want the persistent instance gone", len(got.Hosts))
	}
}
