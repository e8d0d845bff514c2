package httpapi_test

import (
	"net/url"
	"regexp"
	"testing"
)

func TestInstanceList_UnknownService(t *testing.T) {
	c := newClient(t)
	for _, tc := range []struct {
		name, query, wantName, wantClusters, want string
	}{
		// The samples carry a udpPort, so cacheMillis depends on push.
		{"go sample", goListQuery, "DEFAULT_GROUP@@S", "", ""},
		{"node sample", nodeListQuery, "DEFAULT_GROUP@@S", "DEFAULT", ""},
		{"bare name", "serviceName=nope&groupName=g&clusters=a,b", "g@@nope", "a,b",
			`{"name":"g@@nope","clusters":"a,b","cacheMillis":3000,"hosts":[]}`},
		{"other namespace", "namespaceId=dev&serviceName=x&clusters=%2Ca%2C%2C", "DEFAULT_GROUP@@x", ",a,,",
			`{"name":"DEFAULT_GROUP@@x","clusters":",a,,","cacheMillis":3000,"hosts":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := c.list(tc.query, as(goAgent)...)
			if got := keysOf(t, l.Raw); got != "cacheMillis,clusters,hosts,name" {
				t.Errorf("keys: got %s, want only name, clusters, cacheMillis, hosts", got)
			}
			if l.Name != tc.wantName || l.Clusters != tc.wantClusters || l.Hosts == nil || len(l.Hosts) != 0 || l.CacheMillis == 0 {
				t.Errorf("got %s, want name %q, clusters %q, hosts []", l.Raw, tc.wantName, tc.wantClusters)
			}
			if tc.want != "" && l.Raw != tc.want {
				t.Errorf("got  %s\nwant %s", l.Raw, tc.want)
			}
		})
	}
}

func TestInstanceList_EchoesNameAndClusters(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80&clusterName=a")
	c.register("serviceName=S&ip=10.0.0.2&port=80&clusterName=b")
	c.register("serviceName=S&ip=10.0.0.3&port=80")
	for _, tc := range []struct {
		name, query         string
		wantName, wantClust string
		wantHosts           string
	}{
		// All clusters come in name order.
		{"go raw, all clusters", goListQuery, "DEFAULT_GROUP@@S", "", "10.0.0.3:80/DEFAULT healthy, 10.0.0.1:80/a healthy, 10.0.0.2:80/b healthy"},
		{"node DEFAULT", nodeListQuery, "DEFAULT_GROUP@@S", "DEFAULT", "10.0.0.3:80/DEFAULT healthy"},
		{"a,b", "serviceName=DEFAULT_GROUP@@S&clusters=a,b", "DEFAULT_GROUP@@S", "a,b", "10.0.0.1:80/a healthy, 10.0.0.2:80/b healthy"},
		{"encoded a,b", "serviceName=DEFAULT_GROUP%40%40S&clusters=a%2Cb", "DEFAULT_GROUP@@S", "a,b", "10.0.0.1:80/a healthy, 10.0.0.2:80/b healthy"},
		{"empty tokens", "serviceName=DEFAULT_GROUP@@S&clusters=,a,,", "DEFAULT_GROUP@@S", ",a,,", "10.0.0.1:80/a healthy"},
		{"b,a order kept in echo", "serviceName=DEFAULT_GROUP@@S&clusters=b,a", "DEFAULT_GROUP@@S", "b,a", "10.0.0.2:80/b healthy, 10.0.0.1:80/a healthy"},
		{"duplicates", "serviceName=DEFAULT_GROUP@@S&clusters=a,a", "DEFAULT_GROUP@@S", "a,a", "10.0.0.1:80/a healthy"},
		{"unknown cluster ignored", "serviceName=DEFAULT_GROUP@@S&clusters=a,zz", "DEFAULT_GROUP@@S", "a,zz", "10.0.0.1:80/a healthy"},
		{"spaces are not trimmed", "serviceName=DEFAULT_GROUP@@S&clusters=a,%20b", "DEFAULT_GROUP@@S", "a, b", "10.0.0.1:80/a healthy"},
		{"bare name and groupName", "serviceName=S&groupName=DEFAULT_GROUP&clusters=DEFAULT", "DEFAULT_GROUP@@S", "DEFAULT", "10.0.0.3:80/DEFAULT healthy"},
		{"form body on GET", "", "DEFAULT_GROUP@@S", "a", "10.0.0.1:80/a healthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l listReply
			if tc.query == "" {
				l.Raw = mustDo(t, 200, "GET", c.ns+"/instance/list", "", "serviceName=S&clusters=a")
				decodeStrict(t, l.Raw, &l)
			} else {
				l = c.list(tc.query)
			}
			if l.Name != tc.wantName || l.Clusters != tc.wantClust {
				t.Errorf("name, clusters: got %q, %q, want %q, %q", l.Name, l.Clusters, tc.wantName, tc.wantClust)
			}
			if got := l.summary(); got != tc.wantHosts {
				t.Errorf("hosts:\ngot  %s\nwant %s", got, tc.wantHosts)
			}
		})
	}
	t.Run("served set empty", func(t *testing.T) {
		l := c.list("serviceName=S&clusters=zz")
		if len(l.Hosts) != 0 || l.Clusters != "zz" || l.LastRefTime == 0 || l.Checksum == "" {
			t.Errorf("got %s, want the full shape with no hosts", l.Raw)
		}
		if got, want := keysOf(t, l.Raw), "allIPs,cacheMillis,checksum,clusters,dom,env,groupName,hosts,lastRefTime,metadata,name,reachProtectionThreshold,useSpecifiedURL,valid"; got != want {
			t.Errorf("keys:\ngot  %s\nwant %s", got, want)
		}
	})
	t.Run("env is echoed", func(t *testing.T) {
		if l := c.list("serviceName=S&env=prod"); l.Env != "prod" {
			t.Errorf("env: got %q, want prod", l.Env)
		}
	})
	t.Run("isCheck returns an empty object", func(t *testing.T) {
		if got := mustDo(t, 200, "GET", c.ns+"/instance/list", "serviceName=S&isCheck=true", ""); got != "{}" {
			t.Errorf("got %s, want {}", got)
		}
	})
}

func TestInstanceList_AgentNames(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=g1@@S&ip=10.0.0.1&port=80")
	for _, tc := range []struct {
		name    string
		header  []string
		grouped bool
	}{
		{"java 1.4", as(javaAgent), true},
		{"node says java 1.0.0", as(nodeAgent), true},
		{"java 1.x", as("Nacos-Java-Client:v1.x"), true},
		{"java 0.9", as(oldJava), false},
		{"go", as(goAgent), false},
		{"csharp", as(csharpAgent), false},
		{"no agent", nil, false},
		{"client-version fallback", []string{"User-Agent", "Go-http-client/1.1", "Client-Version", javaAgent}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := c.list("serviceName=g1@@S", tc.header...)
			want := "S"
			if tc.grouped {
				want = "g1@@S"
			}
			if l.Name != "g1@@S" || l.GroupName != "g1" {
				t.Errorf("name, groupName: got %q, %q, want g1@@S, g1 whatever the agent", l.Name, l.GroupName)
			}
			if l.Dom != want || len(l.Hosts) != 1 || l.Hosts[0].ServiceName != want {
				t.Errorf("dom and hosts[].serviceName: got %s, want %q", l.Raw, want)
			}
			if l.Hosts[0].InstanceID != "10.0.0.1#80#DEFAULT#g1@@S" {
				t.Errorf("instanceId: got %q, want the grouped form", l.Hosts[0].InstanceID)
			}
		})
	}
}

func TestInstanceList_Health(t *testing.T) {
	c := newClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80&healthy=false")
	c.register("serviceName=S&ip=10.0.0.2&port=80")
	c.register("serviceName=S&ip=10.0.0.3&port=80&healthy=false")
	for _, tc := range []struct {
		query, want string
	}{
		{"healthyOnly=false", "10.0.0.2:80/DEFAULT healthy, 10.0.0.1:80/DEFAULT unhealthy, 10.0.0.3:80/DEFAULT unhealthy"},
		{"", "10.0.0.2:80/DEFAULT healthy, 10.0.0.1:80/DEFAULT unhealthy, 10.0.0.3:80/DEFAULT unhealthy"},
		{"healthyOnly=true", "10.0.0.2:80/DEFAULT healthy"},
		{"healthyOnly=TRUE", "10.0.0.2:80/DEFAULT healthy"},
		{"healthyOnly=True", "10.0.0.2:80/DEFAULT healthy"},
		// Java's "true".equalsIgnoreCase: yes and on are false here.
		{"healthyOnly=yes", "10.0.0.2:80/DEFAULT healthy, 10.0.0.1:80/DEFAULT unhealthy, 10.0.0.3:80/DEFAULT unhealthy"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			l := c.list("serviceName=S&" + tc.query)
			if got := l.summary(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if l.ReachedProtection {
				t.Error("reachProtectionThreshold: got true with one healthy of three")
			}
		})
	}
}

func TestInstanceList_DisabledNeverListed(t *testing.T) {
	t.Run("disabled healthy instance counts in the ratio", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=S&ip=10.0.0.1&port=80&enabled=false")
		c.register("serviceName=S&ip=10.0.0.2&port=80&healthy=false")
		// 1 healthy of 2: no protection, and the disabled one is left out.
		if got, want := c.list("serviceName=S").summary(), "10.0.0.2:80/DEFAULT unhealthy"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("disabled instance not listed under protection", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=S&ip=10.0.0.1&port=80&enabled=false&healthy=false")
		c.register("serviceName=S&ip=10.0.0.2&port=80&healthy=false")
		l := c.list("serviceName=S&healthyOnly=true")
		if got, want := l.summary(), "10.0.0.2:80/DEFAULT healthy"; got != want || !l.ReachedProtection {
			t.Errorf("got %s (protection %v), want %s under protection", got, l.ReachedProtection, want)
		}
	})
	t.Run("all disabled", func(t *testing.T) {
		c := newClient(t)
		c.register("serviceName=S&ip=10.0.0.1&port=80&enabled=false")
		if l := c.list("serviceName=S"); len(l.Hosts) != 0 || l.LastRefTime == 0 {
			t.Errorf("got %s, want the full shape without hosts", l.Raw)
		}
	})
}

func TestInstanceList_ProtectThreshold(t *testing.T) {
	c := newClient(t)
	c.ok("POST", "/service", "serviceName=S&protectThreshold=0.5", "")
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	c.register("serviceName=S&ip=10.0.0.2&port=80&healthy=false")

	// 1 healthy of 2 = 0.5 <= 0.5: the unhealthy one is served as healthy.
	for _, query := range []string{"serviceName=S", "serviceName=S&healthyOnly=true"} {
		l := c.list(query)
		if got, want := l.summary(), "10.0.0.1:80/DEFAULT healthy, 10.0.0.2:80/DEFAULT healthy"; got != want || !l.ReachedProtection {
			t.Errorf("%s at threshold 0.5: got %s (protection %v), want %s under protection", query, got, l.ReachedProtection, want)
		}
	}
	if d := c.detail("serviceName=S&ip=10.0.0.2&port=80"); d.Healthy {
		t.Error("GET /instance shows the protected health, want the real one")
	}

	c.ok("PUT", "/service", "", "serviceName=S&protectThreshold=0.4")
	l := c.list("serviceName=S")
	if got, want := l.summary(), "10.0.0.1:80/DEFAULT healthy, 10.0.0.2:80/DEFAULT unhealthy"; got != want || l.ReachedProtection {
		t.Errorf("at threshold 0.4: got %s (protection %v), want %s", got, l.ReachedProtection, want)
	}
	if got, want := c.list("serviceName=S&healthyOnly=true").summary(), "10.0.0.1:80/DEFAULT healthy"; got != want {
		t.Errorf("healthyOnly at threshold 0.4: got %s, want %s", got, want)
	}

	// The threshold applies to the served clusters only.
	c.register("serviceName=S&ip=10.0.0.3&port=80&healthy=false&clusterName=c1")
	c.ok("PUT", "/service", "serviceName=S&protectThreshold=0", "")
	if l := c.list("serviceName=S&clusters=c1"); l.summary() != "10.0.0.3:80/c1 healthy" || !l.ReachedProtection {
		t.Errorf("cluster c1 alone, all unhealthy, threshold 0: got %s, want it served as healthy", l.Raw)
	}
	if got, want := c.list("serviceName=S").summary(), "10.0.0.1:80/DEFAULT healthy, 10.0.0.2:80/DEFAULT unhealthy, 10.0.0.3:80/c1 unhealthy"; got != want {
		t.Errorf("all clusters at threshold 0: got %s, want %s", got, want)
	}
}

var integerRE = regexp.MustCompile(`"lastRefTime":[0-9]+[,}]`)

func TestInstanceList_LastRefTime(t *testing.T) {
	c := newClient(t)
	var last uint64
	step := func(what string) {
		t.Helper()
		l := c.list("serviceName=S")
		if !integerRE.MatchString(l.Raw) {
			t.Fatalf("%s: lastRefTime is not an integer literal: %s", what, l.Raw)
		}
		if l.LastRefTime <= last {
			t.Fatalf("%s: lastRefTime %d, want above %d", what, l.LastRefTime, last)
		}
		last = l.LastRefTime
	}
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	step("register")
	if l := c.list("serviceName=S"); l.LastRefTime != last {
		t.Errorf("a second query changed lastRefTime: got %d, want %d", l.LastRefTime, last)
	}
	c.register("serviceName=S&ip=10.0.0.2&port=80")
	step("second register")
	c.ok("PUT", "/instance", "serviceName=S&ip=10.0.0.2&port=80&weight=3", "")
	step("update")
	c.ok("PATCH", "/instance", "serviceName=S&ip=10.0.0.2&port=80&enabled=false", "")
	step("patch")
	c.ok("PUT", "/service", "serviceName=S&protectThreshold=0.1", "")
	step("service update")
	c.ok("DELETE", "/instance", "serviceName=S&ip=10.0.0.2&port=80", "")
	step("deregister")
	c.ok("DELETE", "/service", "serviceName=S", "")
	if l := c.list("serviceName=S"); l.LastRefTime != 0 || len(l.Hosts) != 0 {
		t.Fatalf("after deleting the service: %s", l.Raw)
	}
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	step("re-create after delete")
	c.ok("POST", "/service", "serviceName=T", "")
	c.ok("DELETE", "/service", "serviceName=T", "")
	c.ok("POST", "/service", "serviceName=T", "")
	if l := c.list("serviceName=T"); l.LastRefTime == 0 {
		t.Errorf("explicit service: no lastRefTime in %s", l.Raw)
	}
}

func TestInstanceList_GoSDKQueryDecodes(t *testing.T) {
	c := newClient(t)
	c.ok("POST", "/instance", "", goRegisterBody, as(goAgent)...)
	l := c.list(goListQuery, as(goAgent)...)
	if len(l.Hosts) != 1 || l.Hosts[0].Port != 25677 || l.Hosts[0].Metadata["role"] != "anchor" || l.Hosts[0].ServiceName != "S" {
		t.Errorf("got %s", l.Raw)
	}
	// The same query, percent-encoded, gives the same hosts.
	vals, err := url.ParseQuery(goListQuery)
	if err != nil {
		t.Fatal(err)
	}
	if l2 := c.list(vals.Encode(), as(goAgent)...); l2.summary() != l.summary() || l2.Name != l.Name {
		t.Errorf("encoded query: got %s, want %s", l2.Raw, l.Raw)
	}
}
