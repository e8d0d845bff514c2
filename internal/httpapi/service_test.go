package httpapi_test

import (
	"encoding/json"
	"maps"
	"testing"
)

type serviceReply struct {
	Name             string            `json:"name"`
	GroupName        string            `json:"groupName"`
	NamespaceID      string            `json:"namespaceId"`
	ProtectThreshold float64           `json:"protectThreshold"`
	Metadata         map[string]string `json:"metadata"`
	Selector         json.RawMessage   `json:"selector"`
	Clusters         []struct {
		Name          string            `json:"name"`
		HealthChecker json.RawMessage   `json:"healthChecker"`
		Metadata      map[string]string `json:"metadata"`
	} `json:"clusters"`
}

func (c *client) service(query string) serviceReply {
	c.t.Helper()
	var s serviceReply
	c.getJSON("/service", query, &s)
	return s
}

func TestService_CreateGetUpdateDelete(t *testing.T) {
	c := newClient(t)
	c.ok("POST", "/service", q("serviceName", "demo", "groupName", "g1", "namespaceId", "dev", "protectThreshold", "0.25",
		"metadata", `{"owner":"team a"}`, "selector", `{"type":"label","expression":"CONSUMER.label.a = PROVIDER.label.a"}`), "")
	s := c.service("serviceName=g1@@demo&namespaceId=dev")
	if s.Name != "demo" || s.GroupName != "g1" || s.NamespaceID != "dev" || s.ProtectThreshold != 0.25 ||
		!maps.Equal(s.Metadata, map[string]string{"owner": "team a"}) || len(s.Clusters) != 0 ||
		compactJSON(t, string(s.Selector)) != `{"type":"label","expression":"CONSUMER.label.a = PROVIDER.label.a"}` {
		t.Errorf("GET /service: got %+v", s)
	}
	c.fails(400, "specified service already exists, serviceName : g1@@demo",
		"POST", "/service", "serviceName=demo&groupName=g1&namespaceId=dev", "")
	// The same name in another namespace is another service.
	c.ok("POST", "/service", "", "serviceName=g1%40%40demo")

	// PUT replaces threshold, metadata and selector; form body on PUT.
	c.ok("PUT", "/service", "", `serviceName=demo&groupName=g1&namespaceId=dev&protectThreshold=0.5&selector={"type":"none"}`)
	s = c.service("serviceName=demo&groupName=g1&namespaceId=dev")
	if s.ProtectThreshold != 0.5 || len(s.Metadata) != 0 || compactJSON(t, string(s.Selector)) != `{"type":"none"}` {
		t.Errorf("after PUT: got %+v, want threshold 0.5, metadata {}, selector none", s)
	}
	c.fails(400, "service g1@@nope not found!", "PUT", "/service", "serviceName=g1@@nope&protectThreshold=0", "")

	// Registering into it creates a cluster, shown with its health checker.
	c.register("namespaceId=dev&serviceName=g1@@demo&ip=10.0.0.1&port=80&clusterName=c1")
	s = c.service("serviceName=g1@@demo&namespaceId=dev")
	if len(s.Clusters) != 1 || s.Clusters[0].Name != "c1" || compactJSON(t, string(s.Clusters[0].HealthChecker)) != `{"type":"TCP"}` {
		t.Errorf("clusters: got %+v", s.Clusters)
	}

	// DELETE removes the service and its instances (Nacos 1.x), with a form body.
	c.ok("DELETE", "/service", "", "serviceName=g1%40%40demo&namespaceId=dev")
	c.fails(404, "service g1@@demo is not found!", "GET", "/service", "serviceName=g1@@demo&namespaceId=dev", "")
	if l := c.list("serviceName=g1@@demo&namespaceId=dev"); len(l.Hosts) != 0 || l.LastRefTime != 0 {
		t.Errorf("instances survived their service: %s", l.Raw)
	}
	c.fails(400, "specified service not exist, serviceName : g1@@demo",
		"DELETE", "/service", "serviceName=g1@@demo&namespaceId=dev", "")
	// The public one is untouched.
	c.service("serviceName=g1@@demo")
}

func TestService_DefaultShape(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=demo&ip=10.0.0.1&port=80")
	body := mustDo(t, 200, "GET", c.ns+"/service", "serviceName=demo", "")
	want := `{"name":"demo","groupName":"DEFAULT_GROUP","namespaceId":"public","protectThreshold":0,"metadata":{},"selector":{"type":"none"},"clusters":[{"name":"DEFAULT","healthChecker":{"type":"TCP"},"metadata":{}}]}`
	if body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
}

func TestServiceList(t *testing.T) {
	c := newClient(t)
	for _, name := range []string{"c", "a", "b", "g1@@x", "g2@@y", "d"} {
		c.ok("POST", "/service", "serviceName="+name, "")
	}
	c.register("namespaceId=dev&serviceName=z&ip=10.0.0.1&port=80")
	for _, tc := range []struct {
		name, query, want string
	}{
		{"first page", "pageNo=1&pageSize=2", `{"count":4,"doms":["a","b"]}`},
		{"second page", "pageNo=2&pageSize=2", `{"count":4,"doms":["c","d"]}`},
		{"past the end", "pageNo=3&pageSize=2", `{"count":4,"doms":[]}`},
		{"pageNo 0 is page 1", "pageNo=0&pageSize=3", `{"count":4,"doms":["a","b","c"]}`},
		{"negative pageNo is page 1", "pageNo=-5&pageSize=1", `{"count":4,"doms":["a"]}`},
		{"page size 0", "pageNo=1&pageSize=0", `{"count":4,"doms":[]}`},
		{"group", "pageNo=1&pageSize=10&groupName=g1", `{"count":1,"doms":["x"]}`},
		{"blank group is DEFAULT_GROUP", "pageNo=1&pageSize=10&groupName=", `{"count":4,"doms":["a","b","c","d"]}`},
		{"all groups stay grouped", "pageNo=1&pageSize=10&groupName=*", `{"count":6,"doms":["DEFAULT_GROUP@@a","DEFAULT_GROUP@@b","DEFAULT_GROUP@@c","DEFAULT_GROUP@@d","g1@@x","g2@@y"]}`},
		{"other namespace", "pageNo=1&pageSize=10&namespaceId=dev", `{"count":1,"doms":["z"]}`},
		{"empty namespace", "pageNo=1&pageSize=10&namespaceId=none", `{"count":0,"doms":[]}`},
		{"go sdk, public explicit", "namespaceId=public&groupName=DEFAULT_GROUP&pageNo=1&pageSize=10", `{"count":4,"doms":["a","b","c","d"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustDo(t, 200, "GET", c.ns+"/service/list", tc.query, ""); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	t.Run("form body on GET", func(t *testing.T) {
		if got, want := mustDo(t, 200, "GET", c.ns+"/service/list", "", "pageNo=1&pageSize=1"), `{"count":4,"doms":["a"]}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestCluster_Update(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=demo&ip=10.0.0.1&port=80")
	c.ok("PUT", "/cluster", "", q("serviceName", "demo", "clusterName", "DEFAULT", "checkPort", "81", "useInstancePort4Check", "false",
		"healthChecker", `{"type":"HTTP","path":"/health","headers":"","expectedResponseCode":200}`, "metadata", `{"zone":"a"}`))
	c.ok("PUT", "/cluster", `serviceName=demo&clusterName=c2&metadata=k=v`, "")
	s := c.service("serviceName=demo")
	if len(s.Clusters) != 2 {
		t.Fatalf("clusters: got %+v, want DEFAULT and c2", s.Clusters)
	}
	if got := compactJSON(t, string(s.Clusters[0].HealthChecker)); got != `{"type":"HTTP","path":"/health","headers":"","expectedResponseCode":200}` ||
		!maps.Equal(s.Clusters[0].Metadata, map[string]string{"zone": "a"}) {
		t.Errorf("DEFAULT: got checker %s metadata %v", got, s.Clusters[0].Metadata)
	}
	if s.Clusters[1].Name != "c2" || compactJSON(t, string(s.Clusters[1].HealthChecker)) != `{"type":"TCP"}` || s.Clusters[1].Metadata["k"] != "v" {
		t.Errorf("c2: got %+v", s.Clusters[1])
	}
	c.fails(400, "service not found:DEFAULT_GROUP@@nope", "PUT", "/cluster", "serviceName=nope&clusterName=c1", "")
	c.fails(400, "Param 'clusterName' is required.", "PUT", "/cluster", "serviceName=demo", "")
	c.fails(400, "cluster name can only have these characters: 0-9a-zA-Z-, current: c_1", "PUT", "/cluster", "serviceName=demo&clusterName=c_1", "")
	c.fails(400, `Param 'healthChecker' is illegal, it must be a JSON object with a type: {"path":"/"}`,
		"PUT", "/cluster", `serviceName=demo&clusterName=c1&healthChecker={"path":"/"}`, "")
	c.fails(400, "Param 'healthChecker' is illegal, unknown type: UDP",
		"PUT", "/cluster", `serviceName=demo&clusterName=c1&healthChecker={"type":"UDP"}`, "")
	c.fails(400, `Param 'checkPort' is illegal, it must be an integer in 0..65535: "x"`,
		"PUT", "/cluster", `serviceName=demo&clusterName=c1&checkPort=x`, "")
	if s := c.service("serviceName=demo"); len(s.Clusters) != 2 {
		t.Errorf("a failed cluster update created a cluster: %+v", s.Clusters)
	}
}

func TestHealth_Set(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=demo&ip=10.0.0.1&port=80")
	c.register("serviceName=demo&ip=10.0.0.2&port=80")
	c.fails(400, "health check is still working, service: DEFAULT_GROUP@@demo",
		"PUT", "/health", "serviceName=demo&ip=10.0.0.1&port=80&healthy=false", "")
	c.ok("PUT", "/cluster", `serviceName=demo&clusterName=DEFAULT&healthChecker={"type":"NONE"}`, "")

	c.ok("PUT", "/health", "", "serviceName=demo&ip=10.0.0.1&port=80&healthy=false")
	if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); d.Healthy {
		t.Error("PUT /health healthy=false: still healthy")
	}
	if got, want := c.list("serviceName=demo").summary(), "10.0.0.2:80/DEFAULT healthy, 10.0.0.1:80/DEFAULT unhealthy"; got != want {
		t.Errorf("list: got %s, want %s", got, want)
	}
	// The legacy valid parameter, and the /health/instance path.
	c.ok("PUT", "/health/instance", "serviceName=demo&ip=10.0.0.1&port=80&valid=True", "")
	if d := c.detail("serviceName=demo&ip=10.0.0.1&port=80"); !d.Healthy {
		t.Error("PUT /health/instance valid=True: still unhealthy")
	}
	c.fails(400, "Param 'healthy' is required.", "PUT", "/health", "serviceName=demo&ip=10.0.0.1&port=80", "")
	c.fails(400, "instance not found: 10.0.0.9:80", "PUT", "/health", "serviceName=demo&ip=10.0.0.9&port=80&healthy=true", "")
	c.fails(400, "service not found: DEFAULT_GROUP@@nope", "PUT", "/health", "serviceName=nope&ip=10.0.0.9&port=80&healthy=true", "")
	c.fails(501, "no such api:GET:/nacos/v1/ns/health", "GET", "/health", "", "")
}

func TestInstanceMetadataBatch(t *testing.T) {
	c := newClient(t)
	c.register(`serviceName=demo&ip=10.0.0.1&port=80&metadata={"a":"1"}`)
	c.register(`serviceName=demo&ip=10.0.0.2&port=80&clusterName=c1`)
	c.register(`serviceName=demo&ip=10.0.0.3&port=80&ephemeral=false`)
	meta := func(ip, cluster string) map[string]string {
		t.Helper()
		return c.detail("serviceName=demo&ip=" + ip + "&port=80&clusterName=" + cluster).Metadata
	}

	// Raw Go-style JSON in a PUT body.
	got := mustDo(t, 200, "PUT", c.ns+"/instance/metadata/batch", "",
		`serviceName=demo&instances=[{"ip":"10.0.0.1","port":80,"ephemeral":true,"clusterName":"DEFAULT"},{"ip":"10.0.0.2","port":"80","clusterName":"c1"},{"ip":"10.0.0.9","port":80}]&metadata={"b":"2&3"}`)
	if want := `{"updated":["10.0.0.1:80:unknown:DEFAULT:ephemeral","10.0.0.2:80:unknown:c1:ephemeral"]}`; got != want {
		t.Errorf("PUT: got %s, want %s", got, want)
	}
	if m := meta("10.0.0.1", "DEFAULT"); !maps.Equal(m, map[string]string{"a": "1", "b": "2&3"}) {
		t.Errorf("10.0.0.1 after merge: got %v", m)
	}
	if m := meta("10.0.0.2", "c1"); !maps.Equal(m, map[string]string{"b": "2&3"}) {
		t.Errorf("10.0.0.2 after merge: got %v", m)
	}

	// DELETE with a form body removes the named keys.
	got = mustDo(t, 200, "DELETE", c.ns+"/instance/metadata/batch", "",
		q("serviceName", "DEFAULT_GROUP@@demo", "consistencyType", "ephemeral", "metadata", `{"b":""}`))
	if want := `{"updated":["10.0.0.1:80:unknown:DEFAULT:ephemeral","10.0.0.2:80:unknown:c1:ephemeral"]}`; got != want {
		t.Errorf("DELETE: got %s, want %s", got, want)
	}
	if m := meta("10.0.0.1", "DEFAULT"); !maps.Equal(m, map[string]string{"a": "1"}) {
		t.Errorf("10.0.0.1 after delete: got %v", m)
	}

	// consistencyType=persist selects the persistent instances only.
	got = mustDo(t, 200, "PUT", c.ns+"/instance/metadata/batch", "serviceName=demo&consistencyType=persist&metadata=k%3Dv", "")
	if want := `{"updated":["10.0.0.3:80:unknown:DEFAULT:persist"]}`; got != want {
		t.Errorf("persist: got %s, want %s", got, want)
	}
	got = mustDo(t, 200, "PUT", c.ns+"/instance/metadata/batch", `serviceName=demo&instances=[{"ip":"10.0.0.8","port":1}]&metadata={"x":"y"}`, "")
	if want := `{"updated":[]}`; got != want {
		t.Errorf("no match: got %s, want %s", got, want)
	}

	c.fails(400, "Param 'metadata' is required.", "PUT", "/instance/metadata/batch", "serviceName=demo&consistencyType=ephemeral", "")
	c.fails(400, "Param 'instances' or 'consistencyType' (ephemeral or persist) is required.",
		"PUT", "/instance/metadata/batch", `serviceName=demo&metadata={"a":"b"}`, "")
	c.fails(400, "Param 'instances' or 'consistencyType' (ephemeral or persist) is required.",
		"PUT", "/instance/metadata/batch", `serviceName=demo&consistencyType=all&metadata={"a":"b"}`, "")
	c.fails(400, "Param 'instances' is illegal, it must be a JSON array of {ip, port, ephemeral, clusterName}: invalid character 'o' in literal null (expecting 'u')",
		"PUT", "/instance/metadata/batch", `serviceName=demo&instances=nope&metadata={"a":"b"}`, "")
	c.fails(400, "metadata format incorrect:nope", "PUT", "/instance/metadata/batch", `serviceName=demo&consistencyType=ephemeral&metadata=nope`, "")
	c.fails(404, "service not found", "PUT", "/instance/metadata/batch", `serviceName=nope&consistencyType=ephemeral&metadata={"a":"b"}`, "")
	c.fails(501, "no such api:POST:/nacos/v1/ns/instance/metadata/batch", "POST", "/instance/metadata/batch", "", "")
}

func TestHealth_NoneCheckerInAnyCase(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=s&ip=10.0.0.1&port=80")
	c.ok("PUT", "/cluster", "serviceName=s&clusterName=DEFAULT&healthChecker="+`{"type":"none"}`, "")
	c.ok("PUT", "/health", "serviceName=s&ip=10.0.0.1&port=80&healthy=false", "")
	if d := c.detail("serviceName=s&ip=10.0.0.1&port=80"); d.Healthy {
		t.Error("PUT /health with a lower-case NONE checker did not apply")
	}
}
