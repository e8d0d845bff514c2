package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pulse-registry/pulse/internal/naming"
)

// Beat bodies as the clients send them (clients.md §5).
var beatSamples = []string{
	`{"ip":"127.0.0.1","port":25677,"weight":1,"serviceName":"DEFAULT_GROUP@@S","cluster":"","metadata":{"role":"anchor"},"scheduled":false}`,
	`{"serviceName":"DEFAULT_GROUP@@S","ip":"127.0.0.1","port":28987,"cluster":"DEFAULT","weight":1,"metadata":{"role":"anchor"},"scheduled":true}`,
	`{"cluster":"c1","ip":"10.0.0.1","metadata":{},"period":5000,"port":8080,"scheduled":false,"serviceName":"DEFAULT_GROUP@@J","stopped":false,"weight":1.0}`,
	`{"ip":"10.0.0.1","port":"80","ephemeral":false,"metadata":{"n":1,"b":true,"z":null}}`,
	`{"ip":"a","port":1.5}`, `{"port":1e400}`, `{"weight":"NaN"}`, `{"metadata":{"k":[1]}}`, `{}`, `null`, `[]`, `{"ip":"a"}{}`,
}

func TestDecodeBeat(t *testing.T) {
	b, err := DecodeBeat(beatSamples[0])
	if err != nil {
		t.Fatal(err)
	}
	want := Beat{IP: "127.0.0.1", Port: 25677, Weight: 1, ServiceName: "DEFAULT_GROUP@@S", Metadata: map[string]string{"role": "anchor"}, Ephemeral: true}
	if !beatEqual(b, want) {
		t.Errorf("go sample: got %+v, want %+v", b, want)
	}
	b, err = DecodeBeat(beatSamples[3])
	if err != nil {
		t.Fatal(err)
	}
	want = Beat{IP: "10.0.0.1", Port: 80, Weight: 1, Metadata: map[string]string{"n": "1", "b": "true"}}
	if !beatEqual(b, want) {
		t.Errorf("strings and numbers: got %+v, want %+v", b, want)
	}
	for _, bad := range []string{`{"ip":"a","port":1.5}`, `{"port":1e400}`, `{"weight":"NaN"}`, `{"metadata":{"k":[1]}}`, `[]`, `{"ip":"a"}{}`, `{`, ``} {
		if b, err := DecodeBeat(bad); err == nil {
			t.Errorf("DecodeBeat(%q) = %+v, want an error", bad, b)
		}
	}
}

func beatEqual(a, b Beat) bool {
	return a.IP == b.IP && a.Port == b.Port && a.Weight == b.Weight && a.ServiceName == b.ServiceName &&
		a.Cluster == b.Cluster && a.Ephemeral == b.Ephemeral && maps.Equal(a.Metadata, b.Metadata)
}

func FuzzDecodeBeat(f *testing.F) {
	for _, s := range beatSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBeat(s)
		if err != nil {
			return
		}
		if b.Port < math.MinInt32 || b.Port > math.MaxInt32 || math.IsNaN(b.Weight) || math.IsInf(b.Weight, 0) {
			t.Fatalf("DecodeBeat(%q) = %+v: port or weight out of range", s, b)
		}
		// What decoded re-encodes and decodes to the same beat.
		again, err := json.Marshal(map[string]any{
			"ip": b.IP, "port": b.Port, "weight": b.Weight, "serviceName": b.ServiceName,
			"cluster": b.Cluster, "metadata": b.Metadata, "ephemeral": b.Ephemeral,
		})
		if err != nil {
			t.Fatal(err)
		}
		b2, err := DecodeBeat(string(again))
		if err != nil || !beatEqual(b, b2) {
			t.Fatalf("round trip of %q via %s: got %+v, %v; want %+v", s, again, b2, err, b)
		}
	})
}

func TestDecodeMetadata(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{``, nil},
		{`  `, nil},
		{`{}`, map[string]string{}},
		{`{"a":"1","b":2,"c":true,"d":null}`, map[string]string{"a": "1", "b": "2", "c": "true"}},
		{`a=1,b=`, map[string]string{"a": "1", "b": ""}},
		{`a=x=y`, map[string]string{"a": "x=y"}},
		{` {"a":"&;%+"} `, map[string]string{"a": "&;%+"}},
	} {
		got, err := DecodeMetadata(tc.in)
		if err != nil || !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("DecodeMetadata(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`x`, `{"a":1`, `{"a":{"b":"c"}}`, `["a"]`, `a=1,b`, `=1`, `{"a":"b"} x`} {
		if got, err := DecodeMetadata(bad); err == nil || err.Error() != "metadata format incorrect:"+strings.TrimSpace(bad) {
			t.Errorf("DecodeMetadata(%q) = %v, %v; want the Nacos error", bad, got, err)
		}
	}
}

func FuzzDecodeMetadata(f *testing.F) {
	for _, s := range []string{`{"role":"anchor"}`, `{"a":"x&y=z","b":"50%","c":"1+1","d":"p;q"}`, `a=1,b=2`, `{"n":1,"z":null}`, `{`, `=`, `,`, `{"a":[1]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := DecodeMetadata(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "metadata format incorrect:") {
				t.Fatalf("DecodeMetadata(%q): unexpected error %v", s, err)
			}
			return
		}
		for k, v := range m {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return // JSON would replace the bad bytes
			}
		}
		// The stored form (canonical JSON) decodes to the same map.
		again, err := DecodeMetadata(naming.MetadataOf(m).JSON())
		if err != nil || !maps.Equal(again, m) {
			t.Fatalf("round trip of %q: got %v, %v; want %v", s, again, err, m)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "\x00\x01\x1f\x7f", "\n\r\t\b\f", "<&>", "\u2028\u2029", "é✓😀", "\xff\xfe", "a\xc3", string([]byte{0xed, 0xa0, 0x80})} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString([]byte("x"), s)[1:] // appends, leaves the prefix alone
		if !json.Valid(out) {
			t.Fatalf("AppendString(%q) = %s: not valid JSON", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("AppendString(%q) decodes to %q, encoding/json's encoding to %q", s, got, want)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("AppendString(%q) decodes to %q", s, got)
		}
		if bytes.ContainsAny(out[1:len(out)-1], "\u2028\u2029") {
			t.Fatalf("AppendString(%q) = %s: raw line separators break JavaScript clients", s, out)
		}
	})
}

func TestAck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ack
	}{
		{`{"data":"","lastRefTime":"1","type":"push-ack"}`, Ack{"push-ack", 1}},      // Go
		{`{"type":"push-ack","lastRefTime":1,"data":""}`, Ack{"push-ack", 1}},        // Node
		{`{"type":"push-ack","lastRefTime":1.7e12}`, Ack{"push-ack", 1700000000000}}, // a JS number in float form
		{`{"type":"push-ack","lastRefTime":" 42 "}`, Ack{"push-ack", 42}},
		{`{"type":"unknow-ack","lastRefTime":"9223372036854775807"}`, Ack{"unknow-ack", math.MaxInt64}},
	} {
		got, err := DecodeAck([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("DecodeAck(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"lastRefTime":1.5}`, `{"lastRefTime":"x"}`, `{"lastRefTime":true}`, `{}`, `nope`, `{"lastRefTime":"9223372036854775808"}`} {
		if got, err := DecodeAck([]byte(bad)); err == nil {
			t.Errorf("DecodeAck(%s) = %+v, want an error", bad, got)
		}
	}
}

func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"data":"","lastRefTime":"1","type":"push-ack"}`), int64(1))
	f.Add([]byte(`{"type":"push-ack","lastRefTime":1,"data":""}`), int64(1<<53-1))
	f.Add([]byte(`{"lastRefTime":1e400}`), int64(-1))
	f.Add([]byte(`{"lastRefTime":"\u0031"}`), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, datagram []byte, seq int64) {
		_, _ = DecodeAck(datagram) // must not panic
		// What the Go and Java clients send decodes to the sequence pushed.
		a, err := DecodeAck(AppendAck(nil, seq))
		if err != nil || a.Type != PushTypeAck || a.LastRefTime != seq {
			t.Fatalf("Go-style ack of %d: got %+v, %v", seq, a, err)
		}
		// Node echoes a number; exact below 2^53, which push sequences stay under.
		if seq >= 0 && seq <= MaxSeq {
			node := `{"type":"push-ack","lastRefTime":` + strconv.FormatInt(seq, 10) + `,"data":""}`
			if a, err := DecodeAck([]byte(node)); err != nil || a.LastRefTime != seq {
				t.Fatalf("Node-style ack of %d: got %+v, %v", seq, a, err)
			}
		}
	})
}

func FuzzDecodePush(f *testing.F) {
	small := []byte(`{"name":"DEFAULT_GROUP@@S","clusters":"","cacheMillis":10000,"hosts":[]}`)
	big := []byte(`{"hosts":[` + strings.Repeat(`{"ip":"10.0.0.1","port":8080,"metadata":{"k":"v"}},`, 40) + `{}]}`)
	f.Add(small, int64(1))
	f.Add(big, int64(MaxSeq))
	f.Add([]byte("\x1f\x8b\x08\x00"), int64(0))
	f.Add([]byte("\xff\"\\\u2028"), int64(-5))
	f.Fuzz(func(t *testing.T, data []byte, seq int64) {
		_, _ = DecodePush(data) // arbitrary datagrams, gzipped or not: no panic
		pkt, err := EncodePush(seq, data)
		if errors.Is(err, ErrPushTooLarge) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(pkt) > MaxDatagram {
			t.Fatalf("packet of %d bytes, above %d", len(pkt), MaxDatagram)
		}
		p, err := DecodePush(pkt)
		if err != nil {
			t.Fatalf("decode own push: %v", err)
		}
		if p.Type != PushTypeDom || p.LastRefTime != seq {
			t.Fatalf("got type %q seq %d, want dom %d", p.Type, p.LastRefTime, seq)
		}
		if utf8.Valid(data) && p.Data != string(data) {
			t.Fatalf("data: got %q, want %q", p.Data, data)
		}
	})
}

// sdkService and sdkInstance have the shape of nacos-sdk-go v1.1.4's
// model.Service, which decodes list answers and pushes: a wrong JSON type
// anywhere makes the Go client drop the whole answer.
type sdkService struct {
	Dom             string            `json:"dom"`
	CacheMillis     uint64            `json:"cacheMillis"`
	UseSpecifiedURL bool              `json:"useSpecifiedUrl"`
	Hosts           []sdkInstance     `json:"hosts"`
	Checksum        string            `json:"checksum"`
	LastRefTime     uint64            `json:"lastRefTime"`
	Env             string            `json:"env"`
	Clusters        string            `json:"clusters"`
	Metadata        map[string]string `json:"metadata"`
	Name            string            `json:"name"`
}

type sdkInstance struct {
	Valid       bool              `json:"valid"`
	Marked      bool              `json:"marked"`
	InstanceID  string            `json:"instanceId"`
	Port        uint64            `json:"port"`
	IP          string            `json:"ip"`
	Weight      float64           `json:"weight"`
	Metadata    map[string]string `json:"metadata"`
	ClusterName string            `json:"clusterName"`
	ServiceName string            `json:"serviceName"`
	Enable      bool              `json:"enabled"`
	Healthy     bool              `json:"healthy"`
	Ephemeral   bool              `json:"ephemeral"`
}

// FuzzAppendList registers what the fuzzer makes up (whatever the registry
// accepts), queries it and checks that the answer is JSON the Go SDK decodes,
// echoing name and clusters and carrying every selected host.
func FuzzAppendList(f *testing.F) {
	f.Add("S", "", "10.0.0.1", uint16(8080), "DEFAULT", "role", "anchor", 1.0, true, true, false, "", false, uint8(2))
	f.Add("g@@S", ",a,,", "::1", uint16(0), "a", "k\"\\", "v\u2028\x00", 10000.0, false, true, true, "prod", true, uint8(5))
	f.Add("bad name", "DEFAULT", "\xff", uint16(65535), "DEFAULT", "preserved.instance.id.generator", "snowflake", 0.5, true, false, false, "\x01", true, uint8(1))
	f.Fuzz(func(t *testing.T, name, clusters, ip string, port uint16, cluster, mk, mv string, weight float64,
		healthy, enabled, persistent bool, env string, grouped bool, n uint8) {
		reg := naming.New(naming.Config{})
		key := naming.ServiceKey{Namespace: "public", Name: naming.Grouped("", name)}
		now := time.Unix(1767323045, 0)
		for i := range int(n % 8) {
			_ = reg.Register(key, naming.InstanceSpec{
				IP: ip, Port: (int(port) + i) % 65536, Cluster: cluster, Weight: weight,
				Healthy: healthy || i%2 == 0, Enabled: enabled || i%3 == 0, Ephemeral: !persistent,
				Metadata: map[string]string{mk: mv}, App: "x",
			}, now)
		}
		q := naming.Query{Key: key, Clusters: naming.ParseClusters(clusters)}
		l := List{Name: key.Name, Clusters: clusters, Env: env, CacheMillis: 10000, Grouped: grouped, Selection: reg.Select(q, nil)}
		out := AppendList(nil, &l)
		if !json.Valid(out) {
			t.Fatalf("not valid JSON: %s", out)
		}
		var s sdkService
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("the Go SDK's model.Service cannot decode %s: %v", out, err)
		}
		if len(s.Hosts) != len(l.Selection.Hosts) {
			t.Fatalf("%d hosts decoded, %d selected: %s", len(s.Hosts), len(l.Selection.Hosts), out)
		}
		for _, s := range []string{key.Name, clusters, env, ip, mk, mv} {
			if !utf8.ValidString(s) {
				return // the rest compares text, which JSON makes valid UTF-8
			}
		}
		if s.Name != key.Name || s.Clusters != clusters || s.CacheMillis != 10000 {
			t.Fatalf("name, clusters, cacheMillis: got %q, %q, %d; want %q, %q, 10000", s.Name, s.Clusters, s.CacheMillis, key.Name, clusters)
		}
		if l.Selection.Found && (s.Env != env || s.LastRefTime != uint64(l.Selection.Revision)) {
			t.Fatalf("env, lastRefTime: got %q, %d; want %q, %d", s.Env, s.LastRefTime, env, l.Selection.Revision)
		}
		for i, h := range s.Hosts {
			sel := l.Selection.Hosts[i]
			if h.IP != sel.IP || h.Port != uint64(sel.Port) || h.Weight != sel.Weight || h.Healthy != sel.Healthy ||
				h.Valid != sel.Healthy || !h.Enable || h.ClusterName != sel.Cluster || !maps.Equal(h.Metadata, sel.Metadata.Map()) ||
				h.InstanceID != sel.InstanceID(key.Name) {
				t.Fatalf("host %d: got %+v, want %+v", i, h, sel)
			}
			if want := key.Bare(); grouped {
				if h.ServiceName != key.Name {
					t.Fatalf("grouped serviceName: got %q, want %q", h.ServiceName, key.Name)
				}
			} else if h.ServiceName != want {
				t.Fatalf("bare serviceName: got %q, want %q", h.ServiceName, want)
			}
		}
	})
}

// A large list is written into one allocation, not a doubling series.
func TestAppendList_OneAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	reg := naming.New(naming.Config{})
	key := naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@big"}
	for i := range 5000 {
		err := reg.Register(key, naming.InstanceSpec{
			IP: "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256), Port: 8080 + i%7, Weight: 0.123456789,
			Healthy: true, Enabled: true, Ephemeral: true, Cluster: "cluster-" + strconv.Itoa(i%3),
			Metadata: map[string]string{"preserved.heart.beat.timeout": "123456789", "k": strconv.Itoa(i)},
		}, time.Unix(1767323045, 0))
		if err != nil {
			t.Fatal(err)
		}
	}
	l := List{Name: key.Name, Clusters: "cluster-0,cluster-1,cluster-2", Grouped: true, Selection: reg.Select(naming.Query{Key: key}, nil)}
	var out []byte
	allocs := testing.AllocsPerRun(5, func() { out = AppendList(nil, &l) })
	if allocs != 1 {
		t.Errorf("AppendList of %d hosts: %v allocations, want 1", len(l.Selection.Hosts), allocs)
	}
	if est := listSize(&l); est < len(out) || est > len(out)*5/4 {
		t.Errorf("size estimate %d for %d bytes: want above, by at most a quarter", est, len(out))
	}
}
