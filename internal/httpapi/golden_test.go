package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/servertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// normalize pretty-prints a JSON document, keeping its key order and number
// literals (so 1.0 stays 1.0), and replaces the values of the volatile keys,
// at any depth, with a placeholder of the same kind: a number becomes
// "<number>", a string keeps its text with every run of digits turned into
// N. A volatile value of another kind is kept as is, so a changed type still
// shows in the comparison.
func normalize(doc []byte, volatile ...string) ([]byte, error) {
	n := normalizer{dec: json.NewDecoder(bytes.NewReader(doc)), volatile: map[string]bool{}}
	n.dec.UseNumber()
	for _, k := range volatile {
		n.volatile[k] = true
	}
	if err := n.value(0, ""); err != nil {
		return nil, err
	}
	if _, err := n.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the document (%v)", err)
	}
	n.out.WriteByte('\n')
	return n.out.Bytes(), nil
}

type normalizer struct {
	dec      *json.Decoder
	out      bytes.Buffer
	volatile map[string]bool
}

func (n *normalizer) value(depth int, key string) error {
	tok, err := n.dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		closing := byte('}')
		if v == '[' {
			closing = ']'
		}
		n.out.WriteByte(byte(v))
		empty := true
		for n.dec.More() {
			empty = false
			n.newline(depth + 1)
			k := key // array elements inherit their key, so "hosts" items are not volatile unless hosts is
			if v == '{' {
				kt, err := n.dec.Token()
				if err != nil {
					return err
				}
				k = kt.(string)
				n.writeString(k)
				n.out.WriteString(": ")
			}
			if err := n.value(depth+1, k); err != nil {
				return err
			}
			if n.dec.More() {
				n.out.WriteByte(',')
			}
		}
		if _, err := n.dec.Token(); err != nil {
			return err
		}
		if !empty {
			n.newline(depth)
		}
		n.out.WriteByte(closing)
	case json.Number:
		if n.volatile[key] {
			n.out.WriteString(`"<number>"`)
		} else {
			n.out.WriteString(v.String())
		}
	case string:
		if n.volatile[key] {
			v = collapseDigits(v)
		}
		n.writeString(v)
	case bool:
		fmt.Fprint(&n.out, v)
	case nil:
		n.out.WriteString("null")
	}
	return nil
}

func (n *normalizer) newline(depth int) {
	n.out.WriteByte('\n')
	n.out.WriteString(strings.Repeat("  ", depth))
}

func (n *normalizer) writeString(s string) {
	enc := json.NewEncoder(&n.out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	n.out.Truncate(n.out.Len() - 1) // Encode's newline
}

func collapseDigits(s string) string {
	var b strings.Builder
	inDigits := false
	for _, r := range s {
		digit := unicode.IsDigit(r)
		switch {
		case !digit:
			b.WriteRune(r)
		case !inDigits:
			b.WriteByte('N')
		}
		inDigits = digit
	}
	return b.String()
}

// checkGolden compares body, normalized, with testdata/<name>.json, or
// rewrites that file with -update.
func checkGolden(t *testing.T, name, body string, volatile ...string) {
	t.Helper()
	got, err := normalize([]byte(body), volatile...)
	if err != nil {
		t.Fatalf("%s: normalize %s: %v", name, body, err)
	}
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s missing: run go test -run Golden -update", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test -run Golden -update rewrites it):\n%s", name, path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ, by position; enough for documents
// whose shape rarely changes.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// TestGolden pins the JSON shapes clients parse. The server runs on a fake
// clock, so lastRefTime, lastBeat and checksums are the same on every run;
// only the machine's load figures and the server's port are normalized.
func TestGolden(t *testing.T) {
	fake := clock.NewFake(t0)
	c := newClient(t, servertest.WithClock(fake))
	c.ok("POST", "/instance", "", `app=&clusterName=&enable=true&ephemeral=true&groupName=DEFAULT_GROUP&healthy=true&ip=10.0.0.1&metadata=%7B%22role%22%3A%22anchor%22%7D&namespaceId=&port=8080&serviceName=DEFAULT_GROUP%40%40S&weight=1`, as(goAgent)...)
	c.register(q("serviceName", "DEFAULT_GROUP@@S", "ip", "10.0.0.2", "port", "8081", "clusterName", "c1", "weight", "2.5",
		"healthy", "false", "metadata", `{"preserved.heart.beat.interval":"2000","preserved.heart.beat.timeout":"6000","preserved.ip.delete.timeout":"9000"}`), as(javaAgent)...)
	c.register("serviceName=DEFAULT_GROUP@@S&ip=10.0.0.3&port=8082&enabled=false")
	c.register("serviceName=DEFAULT_GROUP@@S&ip=10.0.0.4&port=8083&ephemeral=false&weight=0.25")
	c.register(`serviceName=DEFAULT_GROUP@@S&ip=10.0.0.5&port=8084&clusterName=c1&metadata={"preserved.instance.id.generator":"snowflake","k":"a&b\"c"}`)
	c.ok("PUT", "/cluster", `serviceName=S&clusterName=c1&healthChecker={"type":"HTTP","path":"/health","headers":"","expectedResponseCode":200}&metadata={"zone":"z1"}`, "")
	c.ok("POST", "/service", "", `serviceName=M&groupName=G&protectThreshold=0.5&metadata={"owner":"ops"}&selector={"type":"label","expression":"CONSUMER.label.a = PROVIDER.label.a"}`)
	c.register("serviceName=M&groupName=G&ip=10.1.0.1&port=9000")
	c.register("serviceName=P&ip=10.2.0.1&port=1&healthy=false")
	fake.Advance(1500 * time.Millisecond) // so that lastBeat differs from the registration time

	type doc struct {
		name, body string
		volatile   []string
	}
	get := func(path, query string, header ...string) string {
		return mustDo(t, 200, "GET", c.ns+path, query, "", header...)
	}
	docs := []doc{
		{"list_go", get("/instance/list", "clusters=&healthyOnly=false&namespaceId=&serviceName=DEFAULT_GROUP@@S&app=", as(goAgent)...), nil},
		{"list_java", get("/instance/list", q("namespaceId", "public", "serviceName", "DEFAULT_GROUP@@S", "clusters", "DEFAULT,c1", "healthyOnly", "false"), as(javaAgent)...), nil},
		{"list_healthy_only", get("/instance/list", "serviceName=DEFAULT_GROUP@@S&healthyOnly=true", as(goAgent)...), nil},
		{"list_cluster_healthy_only", get("/instance/list", "serviceName=DEFAULT_GROUP@@S&clusters=c1&healthyOnly=true", as(goAgent)...), nil},
		{"list_protected", get("/instance/list", "serviceName=P&healthyOnly=true", as(goAgent)...), nil},
		{"list_unknown", get("/instance/list", "serviceName=DEFAULT_GROUP@@nope&clusters=DEFAULT", as(goAgent)...), nil},
		{"list_empty_served_set", get("/instance/list", "serviceName=DEFAULT_GROUP@@S&clusters=zz", as(goAgent)...), nil},
		{"instance", get("/instance", "serviceName=DEFAULT_GROUP@@S&ip=10.0.0.1&port=8080"), nil},
		{"instance_snowflake", get("/instance", "serviceName=DEFAULT_GROUP@@S&ip=10.0.0.5&port=8084&clusterName=c1"), nil},
		{"service", get("/service", "serviceName=S"), nil},
		{"service_explicit", get("/service", "serviceName=G@@M"), nil},
		{"service_list", get("/service/list", "pageNo=1&pageSize=10&groupName=*"), nil},
		{"switches", get("/operator/switches", ""), nil},
		{"metrics", get("/operator/metrics", ""), []string{"cpu", "load", "mem"}},
		{"servers", get("/operator/servers", ""), []string{"port", "address"}},
		{"server_state", mustDo(t, 200, "GET", c.srv.API+"/v1/console/server/state", "", ""), nil},
		{"beat_ok", c.beat("", goBeatBodyFor("S", "10.0.0.1", 8080), as(goAgent)...), nil},
		{"beat_interval_from_metadata", c.beat("serviceName=DEFAULT_GROUP@@S&ip=10.0.0.2&port=8081&clusterName=c1", ""), nil},
		{"beat_not_found", c.beat("serviceName=DEFAULT_GROUP@@S&ip=10.0.0.9&port=1", ""), nil},
		{"metadata_batch", mustDo(t, 200, "PUT", c.ns+"/instance/metadata/batch", "",
			`serviceName=DEFAULT_GROUP@@S&instances=[{"ip":"10.0.0.1","port":8080},{"ip":"10.0.0.5","port":8084,"clusterName":"c1"}]&metadata={"v":"2"}`), nil},
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) { checkGolden(t, d.name, d.body, d.volatile...) })
	}
}

func TestNormalize(t *testing.T) {
	const doc = `{"name":"S","port":41234,"hosts":[{"ip":"10.0.0.1","port":8080,"weight":1.0,"ok":true,"meta":{}}],"address":"127.0.0.1:41234","cpu":0.25,"list":[]}`
	base, err := normalize([]byte(doc), "address", "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(base, []byte(`"address": "N.N.N.N:N"`)) || !bytes.Contains(base, []byte(`"cpu": "<number>"`)) ||
		!bytes.Contains(base, []byte(`"weight": 1.0`)) || !bytes.Contains(base, []byte(`"list": []`)) {
		t.Errorf("normalized:\n%s", base)
	}
	same := []string{
		strings.Replace(doc, `"127.0.0.1:41234"`, `"127.0.0.1:9"`, 1),
		strings.Replace(doc, `"cpu":0.25`, `"cpu":0`, 1),
		strings.Replace(doc, `"cpu":0.25`, `"cpu":1e-3`, 1),
		`{"name":"S", "port":41234 ,"hosts":[{"ip":"10.0.0.1","port":8080,"weight":1.0,"ok":true,"meta":{ }}],"address":"127.0.0.1:41234","cpu":0.25,"list":[ ]}`,
	}
	for _, s := range same {
		got, err := normalize([]byte(s), "address", "cpu")
		if err != nil || !bytes.Equal(got, base) {
			t.Errorf("volatile change not normalized away: %s\ngot\n%s", s, got)
		}
	}
	// Any real shape change must still show.
	differ := []string{
		strings.Replace(doc, `"weight":1.0`, `"weight":1`, 1),   // number literal
		strings.Replace(doc, `"port":8080`, `"port":"8080"`, 1), // number became a string
		strings.Replace(doc, `"cpu":0.25`, `"cpu":"0.25"`, 1),   // volatile number became a string
		strings.Replace(doc, `"address":"127.0.0.1:41234"`, `"address":41234`, 1),
		strings.Replace(doc, `"ok":true`, `"ok":"true"`, 1),                           // bool became a string
		strings.Replace(doc, `"name":"S"`, `"dom":"S"`, 1),                            // renamed key
		strings.Replace(doc, `"name":"S",`, ``, 1),                                    // dropped key
		strings.Replace(doc, `"list":[]`, `"list":[],"extra":null`, 1),                // added key
		strings.Replace(doc, `"list":[]`, `"list":{}`, 1),                             // array became an object
		strings.Replace(doc, `"port":41234`, `"port":41235`, 1),                       // not volatile in this call
		strings.Replace(doc, `"name":"S","port":41234`, `"port":41234,"name":"S"`, 1), // key order
	}
	for _, s := range differ {
		got, err := normalize([]byte(s), "address", "cpu")
		if err != nil {
			t.Errorf("normalize %s: %v", s, err)
			continue
		}
		if bytes.Equal(got, base) {
			t.Errorf("shape change hidden by normalization: %s", s)
		}
	}
	if _, err := normalize([]byte(`{"a":1}{}`)); err == nil {
		t.Error("trailing document accepted")
	}
}
