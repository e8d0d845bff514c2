package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Client samples from the protocol notes, used as unit cases and fuzz seeds.
var paramSamples = []string{
	`serviceName=DEFAULT_GROUP@@S&beat={"ip":"127.0.0.1","port":25677,"weight":1,"serviceName":"DEFAULT_GROUP@@S","cluster":"","metadata":{"role":"anchor"},"scheduled":false}`,
	`app=&clusterName=&enable=true&ephemeral=true&groupName=DEFAULT_GROUP&healthy=true&ip=127.0.0.1&metadata=%7B%22role%22%3A%22anchor%22%7D&namespaceId=&port=25677&serviceName=DEFAULT_GROUP%40%40S&weight=1`,
	`clusters=&udpPort=55475&healthyOnly=false&clientIP=127.0.0.1&namespaceId=&serviceName=DEFAULT_GROUP@@S&app=`,
	`beat=%7B%22serviceName%22%3A%22DEFAULT_GROUP%40%40S%22%2C%22ip%22%3A%22127.0.0.1%22%2C%22port%22%3A28987%2C%22cluster%22%3A%22DEFAULT%22%2C%22weight%22%3A1%2C%22metadata%22%3A%7B%22role%22%3A%22anchor%22%7D%2C%22scheduled%22%3Atrue%7D&namespaceId=public&serviceName=DEFAULT_GROUP%40%40S`,
	`metadata={"a":"x&y=z","b":"50%","c":"1+1","d":"p;q"}&ip=10.0.0.1&port=80`,
	`instances=[{"ip":"10.0.0.1","port":80},{"ip":"a&b"}]&metadata={"k":"v"}`,
	`a={&b={"x":"1&2"}`,
	`a={"&"a={"&"a={"&"`,
}

func parse(s string) []pair {
	p := &params{}
	p.parseInto(s)
	return p.kv
}

func TestParams_ParseInto(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []pair
	}{
		{paramSamples[0], []pair{
			{"serviceName", "DEFAULT_GROUP@@S"},
			{"beat", `{"ip":"127.0.0.1","port":25677,"weight":1,"serviceName":"DEFAULT_GROUP@@S","cluster":"","metadata":{"role":"anchor"},"scheduled":false}`},
		}},
		{paramSamples[4], []pair{
			{"metadata", `{"a":"x&y=z","b":"50%","c":"1+1","d":"p;q"}`}, {"ip", "10.0.0.1"}, {"port", "80"},
		}},
		{paramSamples[5], []pair{
			{"instances", `[{"ip":"10.0.0.1","port":80},{"ip":"a&b"}]`}, {"metadata", `{"k":"v"}`},
		}},
		{"metadata=%7B%22a%22%3A%22x%26y%22%7D", []pair{{"metadata", `{"a":"x&y"}`}}},
		{"serviceName=DEFAULT_GROUP%40%40S&groupName=a+b", []pair{{"serviceName", "DEFAULT_GROUP@@S"}, {"groupName", "a b"}}},
		{"app=50%off&x=%zz", []pair{{"app", "50%off"}, {"x", "%zz"}}}, // bad escapes stay raw
		{"a=1;b=2", []pair{{"a", "1;b=2"}}},                           // no ';' separator, unlike url.ParseQuery
		{"&&a=1&&", []pair{{"a", "1"}}},
		{"flag&k=", []pair{{"flag", ""}, {"k", ""}}},
		{"k=a=b", []pair{{"k", "a=b"}}},
		{"a={}x&b=1", []pair{{"a", "{}x"}, {"b", "1"}}},
		{`beat={"ip":"1&x=2`, []pair{{"beat", `{"ip":"1`}, {"x", "2"}}},          // unbalanced: plain split
		{`a={"s":"}\"&"}&b=2`, []pair{{"a", `{"s":"}\"&"}`}, {"b", "2"}}},        // braces and quotes inside strings
		{`a={&b={"x":"1&2"}`, []pair{{"a", "{"}, {"b", `{"x":"1`}, {`2"}`, ""}}}, // scanning stops after the first failure
		{"", nil},
	} {
		if got := parse(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("parseInto(%q):\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// A body of many unbalanced raw JSON values must not be rescanned once per
// pair: the first failed scan turns scanning off for the rest of the input.
// (Before this, a 1 MiB body of "a={" pairs took minutes of CPU.)
func TestParams_NextPairStopsScanning(t *testing.T) {
	s := strings.Repeat(`a={"&"`, 3)
	kv, rest, scan := nextPair(s, true)
	if kv != `a={"` || rest != `"a={"&"a={"&"` || scan {
		t.Errorf("nextPair(%q, true) = %q, %q, %v; want the first pair and scanning off", s, kv, rest, scan)
	}
	kv, rest, scan = nextPair(rest, false)
	if kv != `"a={"` || rest != `"a={"&"` || scan {
		t.Errorf("with scanning off: got %q, %q, %v", kv, rest, scan)
	}
	kv, rest, scan = nextPair(`b={"x":1}&c=2`, true)
	if kv != `b={"x":1}` || rest != "c=2" || !scan {
		t.Errorf("balanced value: got %q, %q, %v", kv, rest, scan)
	}
}

// encodeURIComponent encodes like JavaScript's function of that name, as the
// Node client (urllib) does.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func FuzzParseInto(f *testing.F) {
	for _, s := range paramSamples {
		f.Add(s)
	}
	f.Add("a=%&b=%2&c=%zz&d=+&e=%2B")
	f.Add(`x=[[[[&y={"a":[1,{"b":"]}"}]}&z`)
	f.Fuzz(func(t *testing.T, s string) {
		got := parse(s) // must not panic or hang
		if n := strings.Count(s, "&") + 1; len(got) > n {
			t.Fatalf("%d pairs from %d '&'-separated parts", len(got), n)
		}
		if strings.ContainsAny(s, "%+{[]}\"") {
			return
		}
		// Plain text: the parser must be a plain split.
		var want []pair
		for _, kv := range strings.Split(s, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			want = append(want, pair{k, v})
		}
		if !slices.Equal(got, want) {
			t.Fatalf("parseInto(%q) = %q, want %q", s, got, want)
		}
	})
}

func FuzzParseInto_Encoded(f *testing.F) {
	f.Add("serviceName", "DEFAULT_GROUP@@S", "metadata", `{"a":"x&y=z","b":"50%"}`)
	f.Add("beat", `{"ip":"127.0.0.1","port":1}`, "", "")
	f.Add("a b", "c+d", "%", "&=;")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		want := []pair{{k1, v1}, {k2, v2}}
		// Java, C# and Go's POST: url.QueryEscape ('+' for space).
		s := url.QueryEscape(k1) + "=" + url.QueryEscape(v1) + "&" + url.QueryEscape(k2) + "=" + url.QueryEscape(v2)
		if got := parse(s); !slices.Equal(got, want) {
			t.Fatalf("query-escaped %q: got %q, want %q", s, got, want)
		}
		// Node: encodeURIComponent ('%20' for space).
		s = encodeURIComponent(k1) + "=" + encodeURIComponent(v1) + "&" + encodeURIComponent(k2) + "=" + encodeURIComponent(v2)
		if got := parse(s); !slices.Equal(got, want) {
			t.Fatalf("component-encoded %q: got %q, want %q", s, got, want)
		}
	})
}

func FuzzParseInto_RawJSON(f *testing.F) {
	f.Add("role", "anchor", "x")
	f.Add("a", "x&y=z", "50%")
	f.Add("}", `"{&`, "[")
	f.Fuzz(func(t *testing.T, k, v, after string) {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return // json.Marshal would change the text
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // keep '&' raw, the hard case
		if err := enc.Encode(map[string]any{k: v, "n": []any{v, 1}}); err != nil {
			t.Fatal(err)
		}
		raw := strings.TrimSuffix(b.String(), "\n")
		// The Go SDK's PUT body: raw JSON, unencoded neighbours.
		tail := url.QueryEscape(after)
		s := "serviceName=DEFAULT_GROUP@@S&metadata=" + raw + "&x=" + tail
		want := []pair{{"serviceName", "DEFAULT_GROUP@@S"}, {"metadata", raw}, {"x", after}}
		if got := parse(s); !slices.Equal(got, want) {
			t.Fatalf("parseInto(%q):\ngot  %q\nwant %q", s, got, want)
		}
	})
}

func FuzzDecodeLenient(f *testing.F) {
	for _, s := range []string{"", "a+b", "%41", "%zz", `{"a":"%41"}`, "[%41]", "100%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := decodeLenient(s)
		switch {
		case strings.ContainsAny(s, `{}"[]`) || !strings.ContainsAny(s, "%+"):
			if got != s {
				t.Fatalf("decodeLenient(%q) = %q, want it unchanged", s, got)
			}
		default:
			if d, err := url.QueryUnescape(s); err == nil && got != d || err != nil && got != s {
				t.Fatalf("decodeLenient(%q) = %q, want the decoded text, or the raw text when decoding fails", s, got)
			}
		}
	})
}

// BenchmarkParseInto parses a Go SDK beat body, and hostile bodies of many
// unbalanced raw JSON values at 64 KiB and 1 MiB: their cost must grow
// linearly with the size (it was quadratic, minutes for 1 MiB).
func BenchmarkParseInto(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"body=go-beat", paramSamples[0]},
		{"body=hostile-64KiB", strings.Repeat(`a={"&"`, 64<<10/6)},
		{"body=hostile-1MiB", strings.Repeat(`a={"&"`, 1<<20/6)},
	}
	for _, tc := range bodies {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			p := &params{}
			for b.Loop() {
				p.kv = p.kv[:0]
				p.parseInto(tc.body)
			}
		})
	}
}
