package gosdk

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/model"
	"github.com/nacos-group/nacos-sdk-go/vo"

	"github.com/pulse-registry/pulse/internal/naming"
)

// begin starts a parallel test that watches the SDK log, with a server of
// its own and a client of it in the public namespace.
func begin(t *testing.T) (*pulse, naming_client.INamingClient) {
	t.Helper()
	t.Parallel()
	watchSDKLog(t)
	p := startPulse(t)
	return p, newClient(t, p.addr(), clientConfig(""))
}

// register registers in with c and fails the test on error.
func register(t *testing.T, c naming_client.INamingClient, in vo.RegisterInstanceParam) {
	t.Helper()
	ok, err := c.RegisterInstance(in)
	if err != nil || !ok {
		t.Fatalf("RegisterInstance %s:%d: got %v, %v; want true, nil", in.Ip, in.Port, ok, err)
	}
}

// hostKeys returns "ip:port" of each instance, sorted: the SDK returns its
// cached slice, so it is copied before anything else reads it.
func hostKeys(hosts []model.Instance) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, fmt.Sprintf("%s:%d", h.Ip, h.Port))
	}
	sort.Strings(out)
	return out
}

func byPort(hosts []model.Instance) map[uint64]model.Instance {
	m := make(map[uint64]model.Instance, len(hosts))
	for _, h := range hosts {
		m[h.Port] = h
	}
	return m
}

// eventually polls get until it returns want (compared with ==, as
// strings), for at most d.
func eventually(t *testing.T, d time.Duration, what string, want string, get func() string) {
	t.Helper()
	var got string
	if !waitFor(d, func() bool { got = get(); return got == want }) {
		t.Fatalf("%s: got %s, want %s (waited %v)", what, got, want, d)
	}
}

// instance is a registration with the fields an application sets.
func instance(service, group, cluster string, port uint64, weight float64, ephemeral bool, meta map[string]string) vo.RegisterInstanceParam {
	return vo.RegisterInstanceParam{
		Ip:          "127.0.0.1",
		Port:        port,
		Weight:      weight,
		Enable:      true,
		Healthy:     true,
		Metadata:    meta,
		ClusterName: cluster,
		ServiceName: service,
		GroupName:   group,
		Ephemeral:   ephemeral,
	}
}

func TestSDK_RegisterAndSelect(t *testing.T) {
	_, c := begin(t)
	svc, group := uniq("select"), "G-sel"

	e1 := instance(svc, group, "c1", 7001, 2, true, map[string]string{"version": "1", "zone": "a"})
	e2 := instance(svc, group, "c2", 7002, 1, true, map[string]string{"version": "2"})
	p1 := instance(svc, group, "c1", 7003, 5, false, map[string]string{"kind": "db"})
	p2 := instance(svc, group, "c2", 7004, 1, false, nil)
	p2.Healthy = false // persistent instances keep the health they were given
	d1 := instance(svc, group, "c1", 7005, 1, false, nil)
	d1.Enable = false // disabled: never listed
	for _, in := range []vo.RegisterInstanceParam{e1, e2, p1, p2, d1} {
		register(t, c, in)
	}

	all, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc, GroupName: group})
	if err != nil {
		t.Fatalf("SelectAllInstances: %v", err)
	}
	if got, want := hostKeys(all), []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003", "127.0.0.1:7004"}; !slices.Equal(got, want) {
		t.Fatalf("SelectAllInstances: got %v, want %v", got, want)
	}
	hosts := byPort(all)
	for _, in := range []vo.RegisterInstanceParam{e1, e2, p1, p2} {
		h := hosts[in.Port]
		wantMeta := in.Metadata
		if wantMeta == nil {
			wantMeta = map[string]string{}
		}
		wantID := fmt.Sprintf("127.0.0.1#%d#%s#%s@@%s", in.Port, in.ClusterName, group, svc)
		switch {
		case h.Weight != in.Weight:
			t.Errorf("%d weight: got %v, want %v", in.Port, h.Weight, in.Weight)
		case h.ClusterName != in.ClusterName:
			t.Errorf("%d cluster: got %q, want %q", in.Port, h.ClusterName, in.ClusterName)
		case h.Ephemeral != in.Ephemeral:
			t.Errorf("%d ephemeral: got %v, want %v", in.Port, h.Ephemeral, in.Ephemeral)
		case h.Healthy != in.Healthy || h.Valid != in.Healthy:
			t.Errorf("%d healthy/valid: got %v/%v, want %v", in.Port, h.Healthy, h.Valid, in.Healthy)
		case !h.Enable:
			t.Errorf("%d enabled: got false, want true", in.Port)
		case !maps.Equal(h.Metadata, wantMeta):
			t.Errorf("%d metadata: got %v, want %v", in.Port, h.Metadata, wantMeta)
		case h.InstanceId != wantID:
			t.Errorf("%d instanceId: got %q, want %q", in.Port, h.InstanceId, wantID)
		}
	}

	c1, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc, GroupName: group, Clusters: []string{"c1"}})
	if err != nil {
		t.Fatalf("SelectAllInstances c1: %v", err)
	}
	if got, want := hostKeys(c1), []string{"127.0.0.1:7001", "127.0.0.1:7003"}; !slices.Equal(got, want) {
		t.Errorf("SelectAllInstances c1: got %v, want %v", got, want)
	}
	both, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc, GroupName: group, Clusters: []string{"c2", "c1"}})
	if err != nil {
		t.Fatalf("SelectAllInstances c2,c1: %v", err)
	}
	if got := len(both); got != 4 {
		t.Errorf("SelectAllInstances c2,c1: got %d hosts, want 4", got)
	}

	healthy, err := c.SelectInstances(vo.SelectInstancesParam{ServiceName: svc, GroupName: group, HealthyOnly: true})
	if err != nil {
		t.Fatalf("SelectInstances healthy: %v", err)
	}
	if got, want := hostKeys(healthy), []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}; !slices.Equal(got, want) {
		t.Errorf("SelectInstances HealthyOnly:true: got %v, want %v", got, want)
	}
	// The SDK compares the flag for equality: false selects the unhealthy.
	unhealthy, err := c.SelectInstances(vo.SelectInstancesParam{ServiceName: svc, GroupName: group, HealthyOnly: false})
	if err != nil {
		t.Fatalf("SelectInstances unhealthy: %v", err)
	}
	if got, want := hostKeys(unhealthy), []string{"127.0.0.1:7004"}; !slices.Equal(got, want) {
		t.Errorf("SelectInstances HealthyOnly:false: got %v, want %v", got, want)
	}

	one, err := c.SelectOneHealthyInstance(vo.SelectOneHealthInstanceParam{ServiceName: svc, GroupName: group, Clusters: []string{"c2"}})
	if err != nil {
		t.Fatalf("SelectOneHealthyInstance c2: %v", err)
	}
	if one.Port != 7002 {
		t.Errorf("SelectOneHealthyInstance c2: got port %d, want 7002", one.Port)
	}
	for range 20 {
		one, err := c.SelectOneHealthyInstance(vo.SelectOneHealthInstanceParam{ServiceName: svc, GroupName: group})
		if err != nil {
			t.Fatalf("SelectOneHealthyInstance: %v", err)
		}
		if !one.Healthy || one.Port == 7004 {
			t.Fatalf("SelectOneHealthyInstance: got %d (healthy %v), want a healthy one", one.Port, one.Healthy)
		}
	}

	s, err := c.GetService(vo.GetServiceParam{ServiceName: svc, GroupName: group})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	if s.Name != group+"@@"+svc || s.Clusters != "" || s.CacheMillis == 0 || s.LastRefTime == 0 || s.Checksum == "" {
		t.Errorf("GetService: got name %q clusters %q cacheMillis %d lastRefTime %d checksum %q; want the grouped name, empty clusters and non-zero rest",
			s.Name, s.Clusters, s.CacheMillis, s.LastRefTime, s.Checksum)
	}

	list, err := c.GetAllServicesInfo(vo.GetAllServiceInfoParam{GroupName: group, PageSize: 100})
	if err != nil {
		t.Fatalf("GetAllServicesInfo: %v", err)
	}
	if list.Count != 1 || !slices.Equal(list.Doms, []string{svc}) {
		t.Errorf("GetAllServicesInfo: got %d %v, want 1 [%s]", list.Count, list.Doms, svc)
	}
}

func TestSDK_UpdateInstance(t *testing.T) {
	_, c := begin(t)
	svc := uniq("update")
	anchor := instance(svc, "", "", 7100, 1, true, nil)
	e := instance(svc, "", "", 7101, 1, true, map[string]string{"version": "1"})
	pe := instance(svc, "", "", 7102, 1, false, nil)
	for _, in := range []vo.RegisterInstanceParam{anchor, e, pe} {
		register(t, c, in)
	}
	state := func() string {
		hosts, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc})
		if err != nil {
			return err.Error()
		}
		var parts []string
		for _, h := range hosts {
			parts = append(parts, fmt.Sprintf("%d:w%g:%s", h.Port, h.Weight, h.Metadata["version"]))
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}
	eventually(t, 5*time.Second, "before update", "7100:w1: 7101:w1:1 7102:w1:", state)

	update := func(port uint64, ephemeral, enable bool, weight float64, version string) {
		t.Helper()
		ok, err := c.UpdateInstance(vo.UpdateInstanceParam{
			Ip: "127.0.0.1", Port: port, ServiceName: svc, Ephemeral: ephemeral,
			Weight: weight, Enable: enable, Metadata: map[string]string{"version": version},
		})
		if err != nil || !ok {
			t.Fatalf("UpdateInstance %d: got %v, %v; want true, nil", port, ok, err)
		}
	}
	update(7101, true, true, 7, "2")
	update(7102, false, true, 3, "p")
	eventually(t, 15*time.Second, "after update", "7100:w1: 7101:w7:2 7102:w3:p", state)

	// Disabling hides the instance from every list.
	update(7101, true, false, 7, "2")
	eventually(t, 15*time.Second, "after disable", "7100:w1: 7102:w3:p", state)
}

func TestSDK_DeregisterInstance(t *testing.T) {
	p, _ := begin(t)
	lc := startListCounter(t, p.api)
	c := newClient(t, lc.addr, clientConfig(""))
	svc, group := uniq("dereg"), "G-dereg"
	// The instance that stays beats often, so that the server soon sees
	// beats after the deregistration.
	keep := instance(svc, group, "", 7201, 1, true, map[string]string{"preserved.heart.beat.interval": "200"})
	gone := instance(svc, group, "c1", 7202, 1, true, nil)
	pers := instance(svc, group, "", 7203, 1, false, nil)
	for _, in := range []vo.RegisterInstanceParam{keep, gone, pers} {
		register(t, c, in)
	}
	keys := func() string {
		hosts, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc, GroupName: group})
		if err != nil {
			return err.Error()
		}
		return strings.Join(hostKeys(hosts), " ")
	}
	eventually(t, 5*time.Second, "registered", "127.0.0.1:7201 127.0.0.1:7202 127.0.0.1:7203", keys)

	// The SDK beats at once after registering, from another goroutine. A
	// beat still in flight when the instance is deregistered re-creates it,
	// with Nacos as with Pulse (a full beat for an unknown instance is taken
	// as one that expired), so deregister after that first beat, well
	// before the next (5 s).
	if !waitFor(5*time.Second, func() bool {
		for _, r := range lc.requests("/instance/beat") {
			if strings.Contains(r.Body, `"port":7202,`) {
				return true
			}
		}
		return false
	}) {
		t.Fatal("no beat for 7202 within 5s of its registration")
	}

	// As in Nacos, deregistering names the kind: the wrong one is a no-op.
	ok, err := c.DeregisterInstance(vo.DeregisterInstanceParam{Ip: "127.0.0.1", Port: 7203, ServiceName: svc, GroupName: group, Ephemeral: true})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance persistent as ephemeral: got %v, %v", ok, err)
	}
	ok, err = c.DeregisterInstance(vo.DeregisterInstanceParam{Ip: "127.0.0.1", Port: 7202, Cluster: "c1", ServiceName: svc, GroupName: group, Ephemeral: true})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance ephemeral: got %v, %v", ok, err)
	}
	eventually(t, 15*time.Second, "after deregistering 7202", "127.0.0.1:7201 127.0.0.1:7203", keys)
	ok, err = c.DeregisterInstance(vo.DeregisterInstanceParam{Ip: "127.0.0.1", Port: 7203, ServiceName: svc, GroupName: group, Ephemeral: false})
	if err != nil || !ok {
		t.Fatalf("DeregisterInstance persistent: got %v, %v", ok, err)
	}
	eventually(t, 15*time.Second, "after deregistering 7203", "127.0.0.1:7201", keys)

	// The SDK stops beating before it deregisters: a later beat for 7202
	// would re-create it from its body. Let the remaining instance beat a
	// few times, then look at the server.
	base := metrics(t, p.api).BeatCount
	if !waitFor(15*time.Second, func() bool { return metrics(t, p.api).BeatCount >= base+3 }) {
		t.Fatalf("beats: got fewer than 3 in 15s from an instance beating every 200ms")
	}
	var l listJSON
	if err := getJSON(p.api, "/v1/ns/instance/list", urlValues("serviceName", group+"@@"+svc), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Hosts) != 1 || l.Hosts[0].Port != 7201 {
		t.Errorf("server list after the beats: got %+v, want only 7201", l.Hosts)
	}
}

func TestSDK_NamespacesAndGroups(t *testing.T) {
	p, pub := begin(t)
	svc, ns := uniq("iso"), uniq("ns")
	// This client queries services that are empty in its namespace: with
	// the default UpdateCacheWhenEmpty=false the SDK logs an error on every
	// later poll of an empty service, whatever the server.
	cc := clientConfig(ns)
	cc.UpdateCacheWhenEmpty = true
	other := newClient(t, p.addr(), cc)
	pubNamed := newClient(t, p.addr(), clientConfig("public"))

	register(t, pub, instance(svc, "", "", 7301, 1, true, map[string]string{"where": "public/default"}))
	register(t, pub, instance(svc, "G2", "", 7302, 1, true, map[string]string{"where": "public/G2"}))
	register(t, other, instance(svc, "", "", 7303, 1, true, map[string]string{"where": "ns/default"}))

	where := func(c naming_client.INamingClient, group string) string {
		hosts, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc, GroupName: group})
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, h := range hosts {
			out = append(out, fmt.Sprintf("%d=%s", h.Port, h.Metadata["where"]))
		}
		sort.Strings(out)
		return "[" + strings.Join(out, " ") + "]"
	}
	for _, tc := range []struct {
		name  string
		c     naming_client.INamingClient
		group string
		want  string
	}{
		{"public namespace, default group", pub, "", "[7301=public/default]"},
		{"public namespace, group G2", pub, "G2", "[7302=public/G2]"},
		{"namespace id public is the blank one", pubNamed, "DEFAULT_GROUP", "[7301=public/default]"},
		{"other namespace, default group", other, "", "[7303=ns/default]"},
		{"other namespace, group G2", other, "G2", "[]"},
	} {
		if got := where(tc.c, tc.group); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}

	for _, tc := range []struct {
		name      string
		c         naming_client.INamingClient
		namespace string
		group     string
		want      []string
	}{
		{"public, default group", pub, "", "", []string{svc}},
		{"public, G2", pub, "public", "G2", []string{svc}},
		{"other namespace, default group", other, ns, "", []string{svc}},
		{"other namespace, G2", other, ns, "G2", nil},
	} {
		list, err := tc.c.GetAllServicesInfo(vo.GetAllServiceInfoParam{NameSpace: tc.namespace, GroupName: tc.group, PageSize: 100})
		if err != nil {
			t.Errorf("GetAllServicesInfo %s: %v", tc.name, err)
			continue
		}
		if list.Count != int64(len(tc.want)) || !slices.Equal(list.Doms, tc.want) {
			t.Errorf("GetAllServicesInfo %s: got %d %v, want %v", tc.name, list.Count, list.Doms, tc.want)
		}
	}
}

// trickyMeta holds values that break naive parameter parsing: the SDK sends
// beats and updates as raw, unencoded form bodies.
var trickyMeta = map[string]string{
	"url":   "http://h/p?a=1&b=2",
	"expr":  "a+b=c",
	"pct":   "100%25%",
	"space": "a b",
	"quote": `say "hi"`,
	"brace": "}{][",
	"semi":  "a;b",
	"uni":   "ünï",
	"empty": "",
}

func TestSDK_MetadataOnEveryPath(t *testing.T) {
	p, _ := begin(t)
	// Through the proxy, to see that the SDK really sends the raw bodies.
	lc := startListCounter(t, p.api)
	c := newClient(t, lc.addr, clientConfig(""))
	svc := uniq("meta")
	meta := maps.Clone(trickyMeta)
	meta[metaInterval] = "200"
	// The neighbour keeps the service from going empty while 7601 is gone:
	// the SDK logs an error for every empty list of a cached service.
	register(t, c, instance(svc, "", "", 7600, 1, true, nil))
	register(t, c, instance(svc, "", "", 7601, 1, true, meta))
	metaOf := func() string {
		hosts, err := c.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: svc})
		if h, ok := byPort(hosts)[7601]; ok && err == nil {
			return fmt.Sprint(h.Metadata) // fmt sorts map keys
		}
		return fmt.Sprintf("%v %v", hosts, err)
	}
	eventually(t, 5*time.Second, "metadata after register (form body)", fmt.Sprint(meta), metaOf)

	// Remove the instance behind the SDK's back: its next beat, a raw body
	// carrying the metadata as JSON, re-creates it once the grace after an
	// explicit deregistration (which refuses beats already in flight) ends.
	status, body := do(t, "DELETE", p.api+"/v1/ns/instance?"+urlValues(
		"serviceName", "DEFAULT_GROUP@@"+svc, "ip", "127.0.0.1", "port", "7601").Encode())
	if status != 200 {
		t.Fatalf("DELETE instance: got %d %s", status, body)
	}
	key := naming.ServiceKey{Namespace: naming.Namespace(""), Name: naming.Grouped("", svc)}
	var h naming.Host
	if !waitFor(naming.DefaultDeregisterGrace+5*time.Second, func() bool {
		var err error
		h, err = p.Registry().Instance(key, naming.DefaultCluster, "127.0.0.1", 7601)
		return err == nil
	}) {
		t.Fatal("instance not re-created by a beat within 5s of the grace's end")
	}
	if got := h.Metadata.Map(); !maps.Equal(got, meta) {
		t.Errorf("metadata after re-creation from a beat: got %v, want %v", got, meta)
	}

	upd := maps.Clone(meta)
	upd["expr"] = "x&y=z+1"
	ok, err := c.UpdateInstance(vo.UpdateInstanceParam{Ip: "127.0.0.1", Port: 7601, ServiceName: svc, Ephemeral: true, Weight: 1, Enable: true, Metadata: upd})
	if err != nil || !ok {
		t.Fatalf("UpdateInstance: got %v, %v", ok, err)
	}
	eventually(t, 15*time.Second, "metadata after update (raw body)", fmt.Sprint(upd), metaOf)

	// The SDK's JSON escapes & as \u0026; + and = go out as they are.
	for path, want := range map[string]string{"/instance/beat": `"expr":"a+b=c"`, "/v1/ns/instance": `"expr":"x\u0026y=z+1"`} {
		raw := false
		for _, r := range lc.requests(path) {
			raw = raw || r.Method == "PUT" && strings.Contains(r.Body, want)
		}
		if !raw {
			t.Errorf("no PUT %s with %s raw in its body: the raw path was not tested", path, want)
		}
	}
}

// Dubbo registers one service per interface, named
// category:interface:version:group, often with empty parts.
func TestSDK_DubboStyleNames(t *testing.T) {
	_, c := begin(t)
	svc := fmt.Sprintf("providers:com.example.Demo%d.Service:1.0.0:", names.Add(1))
	var cb callbacks
	register(t, c, instance(svc, "", "", 7951, 1, true, map[string]string{"dubbo": "2.0.2", "methods": "a,b"}))
	if err := c.Subscribe(&vo.SubscribeParam{ServiceName: svc, SubscribeCallback: cb.record}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	eventually(t, pushWait, "callback", "7951:healthy", cb.last)
	register(t, c, instance(svc, "", "", 7952, 1, true, nil))
	eventually(t, pushWait, "callback after a second provider", "7951:healthy 7952:healthy", cb.last)
	list, err := c.GetAllServicesInfo(vo.GetAllServiceInfoParam{PageSize: 1000})
	if err != nil || !slices.Contains(list.Doms, svc) {
		t.Errorf("GetAllServicesInfo: got %v, %v; want %q listed", list.Doms, err, svc)
	}
}
