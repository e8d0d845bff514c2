package httpapi_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

const (
	msgFormat      = "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName'"
	msgEmptyGroup  = "Param 'serviceName' is illegal, groupName can't be empty"
	msgWeightRange = "instance format invalid: The weights range from 0.0 to 10000.0"
)

func msgPort(v string) string {
	return `Param 'port' is illegal, it must be an integer in 0..65535: "` + v + `"`
}

func msgDomName(name string) string {
	return "dom name can only have these characters: 0-9a-zA-Z-._:, current: " + name
}

func msgCluster(name string) string {
	return "cluster name can only have these characters: 0-9a-zA-Z-, current: " + name
}

type badCase struct {
	name, method, path, query, form, msg string
}

// Every rule, on the endpoints that apply it. Each answers 400 with a plain
// message that names the parameter, as Nacos does.
var badCases = []badCase{
	// ip
	{"register without ip", "POST", "/instance", "serviceName=s&port=80", "", "Param 'ip' is required."},
	{"register with blank ip", "POST", "/instance", "serviceName=s&ip=%20%20&port=80", "", "Param 'ip' is required."},
	{"register with empty ip", "POST", "/instance", "serviceName=s&ip=&port=80", "", "Param 'ip' is required."},
	{"deregister without ip", "DELETE", "/instance", "serviceName=s&port=80", "", "Param 'ip' is required."},
	{"detail without ip", "GET", "/instance", "serviceName=s&port=80", "", "Param 'ip' is required."},
	{"patch without ip", "PATCH", "/instance", "serviceName=s&port=80", "", "Param 'ip' is required."},
	{"update without ip", "PUT", "/instance", "", "serviceName=s&port=80", "Param 'ip' is required."},

	// port
	{"register without port", "POST", "/instance", "serviceName=s&ip=10.0.0.1", "", "Param 'port' is required."},
	{"register with port x", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=x", "", msgPort("x")},
	{"register with port 1.5", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=1.5", "", msgPort("1.5")},
	{"register with port -1", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=-1", "", msgPort("-1")},
	{"register with port 65536", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=65536", "", msgPort("65536")},
	{"register with a huge port", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=99999999999999999999", "", msgPort("99999999999999999999")},
	{"deregister with port x", "DELETE", "/instance", "", "serviceName=s&ip=10.0.0.1&port=x", msgPort("x")},
	{"detail with port 70000", "GET", "/instance", "serviceName=s&ip=10.0.0.1&port=70000", "", msgPort("70000")},
	{"patch with port x", "PATCH", "/instance", "serviceName=s&ip=10.0.0.1&port=x", "", msgPort("x")},
	{"health with port x", "PUT", "/health", "serviceName=s&ip=10.0.0.1&port=x&healthy=true", "", msgPort("x")},
	{"light beat with port x", "PUT", "/instance/beat", "serviceName=s&ip=10.0.0.1&port=x", "", msgPort("x")},
	{"beat body with port 70000", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"10.0.0.1","port":70000}`,
		"Param 'port' is illegal, it must be an integer in 0..65535: 70000"},

	// weight
	{"register with weight -1", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=-1", "", msgWeightRange},
	{"register with weight 10000.5", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=10000.5", "", msgWeightRange},
	{"register with weight NaN", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=NaN", "", msgWeightRange},
	{"register with weight Inf", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=Inf", "", msgWeightRange},
	{"register with weight abc", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=abc", "", `Param 'weight' is illegal, it must be a number: "abc"`},
	{"update with weight 20000", "PUT", "/instance", "", "serviceName=s&ip=10.0.0.1&port=80&weight=20000", msgWeightRange},
	{"patch with weight -0.5", "PATCH", "/instance", "serviceName=s&ip=10.0.0.1&port=80&weight=-0.5", "", msgWeightRange},
	{"beat body with weight 1e9", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"10.0.0.1","port":81,"weight":1e9}`, msgWeightRange},

	// service names
	{"register without serviceName", "POST", "/instance", "ip=10.0.0.1&port=80", "", "Param 'serviceName' is required."},
	{"register with blank serviceName", "POST", "/instance", "serviceName=%20&ip=10.0.0.1&port=80", "", "Param 'serviceName' is required."},
	{"register @@demo", "POST", "/instance", "serviceName=@@demo&ip=10.0.0.1&port=80", "", msgEmptyGroup},
	{"register grp@@", "POST", "/instance", "serviceName=grp@@&ip=10.0.0.1&port=80", "", msgFormat},
	{"register grp@@@@", "POST", "/instance", "serviceName=grp@@@@&ip=10.0.0.1&port=80", "", msgFormat},
	{"register with a space", "POST", "/instance", "serviceName=demo%20x&ip=10.0.0.1&port=80", "", msgDomName("DEFAULT_GROUP@@demo x")},
	{"register with a slash", "POST", "/instance", "serviceName=a/b&ip=10.0.0.1&port=80", "", msgDomName("DEFAULT_GROUP@@a/b")},
	{"register with a bad group", "POST", "/instance", "serviceName=demo&groupName=g%21&ip=10.0.0.1&port=80", "", msgDomName("g!@@demo")},
	{"deregister @@demo", "DELETE", "/instance", "serviceName=@@demo&ip=10.0.0.1&port=80", "", msgEmptyGroup},
	{"update grp@@", "PUT", "/instance", "serviceName=grp@@&ip=10.0.0.1&port=80", "", msgFormat},
	{"patch @@demo", "PATCH", "/instance", "serviceName=@@demo&ip=10.0.0.1&port=80", "", msgEmptyGroup},
	{"detail grp@@", "GET", "/instance", "serviceName=grp@@&ip=10.0.0.1&port=80", "", msgFormat},
	{"list without serviceName", "GET", "/instance/list", "clusters=a", "", "Param 'serviceName' is required."},
	{"list @@demo", "GET", "/instance/list", "serviceName=@@demo", "", msgEmptyGroup},
	{"list grp@@", "GET", "/instance/list", "serviceName=grp@@", "", msgFormat},
	{"beat @@demo", "PUT", "/instance/beat", "serviceName=@@demo&ip=10.0.0.1&port=80", "", msgEmptyGroup},
	{"beat without serviceName", "PUT", "/instance/beat", "ip=10.0.0.1&port=80", "", "Param 'serviceName' is required."},
	{"beat re-registration with a space", "PUT", "/instance/beat", "", `serviceName=a b&beat={"ip":"10.0.0.1","port":80}`, msgDomName("DEFAULT_GROUP@@a b")},
	{"metadata batch grp@@", "PUT", "/instance/metadata/batch", `serviceName=grp@@&consistencyType=ephemeral&metadata={"a":"b"}`, "", msgFormat},
	{"create service @@demo", "POST", "/service", "serviceName=@@demo", "", msgEmptyGroup},
	{"create service with a space", "POST", "/service", "serviceName=a%20b", "", msgDomName("DEFAULT_GROUP@@a b")},
	{"create service with a percent", "POST", "/service", "serviceName=a%25b", "", msgDomName("DEFAULT_GROUP@@a%b")},
	{"update service grp@@", "PUT", "/service", "serviceName=grp@@&protectThreshold=0", "", msgFormat},
	{"delete service @@demo", "DELETE", "/service", "serviceName=@@demo", "", msgEmptyGroup},
	{"get service without serviceName", "GET", "/service", "", "", "Param 'serviceName' is required."},
	{"cluster @@demo", "PUT", "/cluster", "serviceName=@@demo&clusterName=c", "", msgEmptyGroup},
	{"health grp@@", "PUT", "/health", "serviceName=grp@@&ip=10.0.0.1&port=80&healthy=true", "", msgFormat},

	// cluster names
	{"register clusterName a_b", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&clusterName=a_b", "", msgCluster("a_b")},
	{"register clusterName a.b", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&clusterName=a.b", "", msgCluster("a.b")},
	{"register cluster alias a_b", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&cluster=a_b", "", msgCluster("a_b")},
	{"register clusterName with a space", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&clusterName=a%20b", "", msgCluster("a b")},
	{"update clusterName a.b", "PUT", "/instance", "serviceName=s&ip=10.0.0.1&port=80&clusterName=a.b", "", msgCluster("a.b")},
	{"beat body cluster a_b", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"10.0.0.1","port":80,"cluster":"a_b"}`, msgCluster("a_b")},
	{"beat clusterName a.b with a body", "PUT", "/instance/beat", "", `serviceName=s&clusterName=a.b&beat={"ip":"10.0.0.1","port":80}`, msgCluster("a.b")},

	// metadata
	{"register metadata neither JSON nor k=v", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&metadata=notjson", "", "metadata format incorrect:notjson"},
	{"register metadata unbalanced", "POST", "/instance", "", `serviceName=s&ip=10.0.0.1&port=80&metadata={"a":"1"`, `metadata format incorrect:{"a":"1"`},
	{"register metadata nested", "POST", "/instance", "", `serviceName=s&ip=10.0.0.1&port=80&metadata={"a":{"b":"c"}}`, `metadata format incorrect:{"a":{"b":"c"}}`},
	{"register metadata array", "POST", "/instance", "", `serviceName=s&ip=10.0.0.1&port=80&metadata=["a"]`, `metadata format incorrect:["a"]`},
	{"register metadata half k=v", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&metadata=a%3D1%2Cb", "", "metadata format incorrect:a=1,b"},
	{"register metadata empty key", "POST", "/instance", "serviceName=s&ip=10.0.0.1&port=80&metadata=%3D1", "", "metadata format incorrect:=1"},
	{"update metadata", "PUT", "/instance", "", "serviceName=s&ip=10.0.0.1&port=80&metadata=x", "metadata format incorrect:x"},
	{"patch metadata", "PATCH", "/instance", "serviceName=s&ip=10.0.0.1&port=80&metadata=x", "", "metadata format incorrect:x"},
	{"create service metadata", "POST", "/service", "serviceName=s&metadata=x", "", "metadata format incorrect:x"},
	{"cluster metadata", "PUT", "/cluster", "serviceName=s&clusterName=c&metadata=x", "", "metadata format incorrect:x"},

	// beat body
	{"beat body not JSON", "PUT", "/instance/beat", "", "serviceName=s&beat={bad", `Param 'beat' is illegal, decode beat: invalid character 'b' looking for beginning of object key string`},
	{"beat body trailing data", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"a"}{}`, `Param 'beat' is illegal, decode beat: trailing data after the JSON object`},
	{"beat body port x", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"a","port":"x"}`, `Param 'beat' is illegal, decode beat: not a number: "x"`},
	{"beat body fractional port", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"a","port":1.5}`, `Param 'beat' is illegal, decode beat: port 1.5 is not an integer`},
	{"beat body array metadata", "PUT", "/instance/beat", "", `serviceName=s&beat={"ip":"a","metadata":{"k":[1]}}`, `Param 'beat' is illegal, decode beat: metadata "k" is not a string`},
	{"beat body without ip", "PUT", "/instance/beat", "", `serviceName=s&beat={"port":80}`, "Param 'ip' is required."},

	// list, service and switch parameters
	{"list udpPort x", "GET", "/instance/list", "serviceName=s&udpPort=x", "", `Param 'udpPort' is illegal, it must be an integer in -2147483648..2147483647: "x"`},
	{"list udpPort too big", "GET", "/instance/list", "serviceName=s&udpPort=4294967296", "", `Param 'udpPort' is illegal, it must be an integer in -2147483648..2147483647: "4294967296"`},
	{"create service protectThreshold x", "POST", "/service", "serviceName=s&protectThreshold=x", "", `Param 'protectThreshold' is illegal, it must be a number: "x"`},
	{"create service protectThreshold 2", "POST", "/service", "serviceName=s&protectThreshold=2", "", "Param 'protectThreshold' is illegal, it must be a number in 0..1"},
	{"create service protectThreshold -0.1", "POST", "/service", "serviceName=s&protectThreshold=-0.1", "", "Param 'protectThreshold' is illegal, it must be a number in 0..1"},
	{"update service without protectThreshold", "PUT", "/service", "serviceName=s", "", "Param 'protectThreshold' is required."},
	{"update service protectThreshold NaN", "PUT", "/service", "serviceName=s&protectThreshold=NaN", "", "Param 'protectThreshold' is illegal, it must be a number in 0..1"},
	{"create service selector not JSON", "POST", "/service", "serviceName=s&selector=nope", "", "Param 'selector' is illegal, it must be a JSON object: nope"},
	{"create service selector type", "POST", "/service", "", `serviceName=s&selector={"type":"regex"}`, `Param 'selector' is illegal, type must be none or label: {"type":"regex"}`},
	{"update service selector", "PUT", "/service", "", `serviceName=s&protectThreshold=0&selector=[1]`, `Param 'selector' is illegal, it must be a JSON object: [1]`},
	{"service list without pageNo", "GET", "/service/list", "pageSize=10", "", "Param 'pageNo' is required."},
	{"service list without pageSize", "GET", "/service/list", "pageNo=1", "", "Param 'pageSize' is required."},
	{"service list blank pageSize", "GET", "/service/list", "pageNo=1&pageSize=%20", "", "Param 'pageSize' is required."},
	{"service list pageNo x", "GET", "/service/list", "pageNo=x&pageSize=10", "", `Param 'pageNo' is illegal, it must be an integer in -2147483648..2147483647: "x"`},
	{"service list negative pageSize", "GET", "/service/list", "pageNo=1&pageSize=-1", "", `Param 'pageSize' is illegal, it must be an integer in 0..2147483647: "-1"`},
	{"switch without entry", "PUT", "/operator/switches", "value=1", "", "Param 'entry' is required."},
	{"switch unknown entry", "PUT", "/operator/switches", "entry=bogus&value=1", "", "unknown switch entry: bogus (known: " + knownSwitches + ")"},
	{"switch bad value", "PUT", "/operator/switches", "entry=distroThreshold&value=0", "", "distroThreshold must be a number above 0: 0"},
	{"switch bad batch", "PUT", "/operator/switches", "entry=batch&value=nope", "", "batch must be a switches JSON document: invalid character 'o' in literal null (expecting 'u')"},
	{"health without healthy", "PUT", "/health", "serviceName=s&ip=10.0.0.1&port=80", "", "Param 'healthy' is required."},
}

func TestValidation(t *testing.T) {
	c := newClient(t)
	// The service and instance exist, so that only the rule under test fails.
	c.register("serviceName=s&ip=10.0.0.1&port=80")
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			c.fails(400, tc.msg, tc.method, tc.path, tc.query, tc.form)
		})
	}
	if l := c.list("serviceName=s"); l.summary() != "10.0.0.1:80/DEFAULT healthy" {
		t.Errorf("after every failed request: got %s, want the one instance untouched", l.Raw)
	}
}

// state is everything a test can observe through the API, to compare before
// and after a failed request.
func (c *client) state(services ...string) string {
	c.t.Helper()
	var b strings.Builder
	b.WriteString(mustDo(c.t, 200, "GET", c.ns+"/service/list", "pageNo=1&pageSize=100&groupName=*", ""))
	for _, s := range services {
		b.WriteString("\n" + c.list("serviceName="+url.QueryEscape(s)).Raw)
		_, body := c.call("GET", "/service", "serviceName="+url.QueryEscape(s), "")
		b.WriteString("\n" + body)
	}
	var m metricsReply
	c.getJSON("/operator/metrics", "", &m)
	b.WriteString("\ninstances=" + strconv.Itoa(m.InstanceCount) + " services=" + strconv.Itoa(m.ServiceCount))
	return b.String()
}

func TestValidation_NothingHalfApplied(t *testing.T) {
	for _, tc := range badCases {
		if tc.method == "GET" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			// Fresh server: nothing may appear.
			empty := c.state("s", "demo x", "a b")
			c.fails(400, tc.msg, tc.method, tc.path, tc.query, tc.form)
			if got := c.state("s", "demo x", "a b"); got != empty {
				t.Errorf("a failed request on an empty server left state behind:\n%s\nwant\n%s", got, empty)
			}
			// Existing service and instance: nothing may change.
			c.register(`serviceName=s&ip=10.0.0.1&port=80&weight=2&metadata={"k":"v"}`)
			c.ok("PUT", "/service", `serviceName=s&protectThreshold=0.3&metadata={"m":"1"}`, "")
			before := c.state("s")
			beforeDetail := c.detail("serviceName=s&ip=10.0.0.1&port=80")
			c.fails(400, tc.msg, tc.method, tc.path, tc.query, tc.form)
			if got := c.state("s"); got != before {
				t.Errorf("a failed request changed the service:\n%s\nwant\n%s", got, before)
			}
			if got := c.detail("serviceName=s&ip=10.0.0.1&port=80"); got.Weight != beforeDetail.Weight ||
				got.Enabled != beforeDetail.Enabled || got.Healthy != beforeDetail.Healthy || got.Metadata["k"] != "v" || len(got.Metadata) != 1 {
				t.Errorf("a failed request changed the instance: got %+v, want %+v", got, beforeDetail)
			}
		})
	}
}
