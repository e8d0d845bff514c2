package wire

import (
	"reflect"
	"testing"
)

var fastBeatSamples = []string{
	// nacos-sdk-go v1.1.4
	`{"cluster":"DEFAULT","ip":"127.0.0.1","metadata":{},"port":8080,"scheduled":false,"serviceName":"DEFAULT_GROUP@@svc","weight":1}`,
	// Java client
	`{"port":8080,"ip":"10.0.0.5","weight":1.0,"metadata":{"preserved.heart.beat.timeout":"3000","k":"v"},"serviceName":"g@@s","cluster":"c1","scheduled":false,"period":5000,"stopped":false}`,
	// Node client
	` { "serviceName" : "DEFAULT_GROUP@@n", "ip":"1.2.3.4", "port": 80, "cluster": "DEFAULT", "weight": 1, "metadata": {"n": 5, "b": true, "f": false}, "scheduled": true } `,
	`{"ip":"a","port":1,"ephemeral":false}`,
	`{"ip":"a","port":8080.0,"weight":-2.5e2}`,
	`{}`,
	// handled by the general path
	`{"ip":"a\u0062","port":1}`,
	`{"ip":"é","port":1}`,
	`{"ip":null,"port":1}`,
	`{"IP":"a","port":1}`,
	`{"ip":"a","ip":"b"}`,
	`{"port":"8080"}`,
	`{"weight":" 2 "}`,
	`{"port":1.5}`,
	`{"port":1e12}`,
	`{"weight":1e999}`,
	`{"metadata":{"a":null}}`,
	`{"metadata":{"a":{"b":"c"}}}`,
	`{"metadata":{"a":"1","a":"2"}}`,
	`{"other":{"x":[1,2]},"ip":"a"}`,
	`{"ip":"a"} x`,
	`{"ip":"a"}{}`,
	`null`,
	`{"ip":"a",}`,
	`{"port":01}`,
	`{"port":-}`,
	`{"ephemeral":"true"}`,
	`[1]`,
	``,
}

func TestDecodeBeat_FastPathAgrees(t *testing.T) {
	fast := 0
	for _, s := range fastBeatSamples {
		got, gotErr := DecodeBeat(s)
		want, wantErr := decodeBeatGeneral(s)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", s, got, gotErr, want, wantErr)
		}
		if _, ok := decodeBeatFast(s, false); ok {
			fast++
		}
	}
	if fast != 6 {
		t.Errorf("fast path took %d samples, want the first 6", fast)
	}
}

func FuzzDecodeBeatFast(f *testing.F) {
	for _, s := range append(fastBeatSamples, beatSamples...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeBeatFast(s, false)
		ref, refOK := decodeBeatFast(s, true)
		if ok && !refOK {
			t.Fatalf("%q: skipping metadata rejected a body the full decode takes", s)
		}
		want, err := decodeBeatGeneral(s)
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: fast %+v; general %+v, %v", s, got, want, err)
		}
		// Skipping metadata may take bodies the full decode leaves to the
		// general path (repeated metadata keys), but it must identify the
		// same instance.
		if refOK && err == nil {
			want.Metadata = nil
			if !reflect.DeepEqual(ref, want) {
				t.Errorf("%q: skipping metadata %+v; want %+v without metadata", s, ref, want)
			}
		}
	})
}

// BenchmarkDecodeBeat decodes nacos-sdk-go v1.1.4 beat bodies: with empty
// metadata, and with two keys, whose map the full decode must build. ref is
// DecodeBeatRef, all that the beat of a known instance decodes.
func BenchmarkDecodeBeat(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"metadata=0", fastBeatSamples[0]},
		{"metadata=2", `{"cluster":"DEFAULT","ip":"127.0.0.1","metadata":{"version":"1.2.3","zone":"eu-1"},"port":8080,"scheduled":false,"serviceName":"DEFAULT_GROUP@@svc","weight":1}`},
	} {
		if _, ok := decodeBeatFast(c.body, false); !ok {
			b.Fatalf("%s: not on the fast path", c.name)
		}
		b.Run(c.name+"/ref", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeBeatRef(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeBeat(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/general", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeBeatGeneral(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var ackSamples = []string{
	`{"data":"","lastRefTime":"1","type":"push-ack"}`,           // Go
	`{"type": "push-ack", "lastRefTime":"12345", "data":""}`,    // Java
	`{"type":"push-ack","lastRefTime":1795250698950,"data":""}`, // C#, Node
	`{"type":"push-ack","lastRefTime":" 7 ","data":""}`,
	`{"type":"push-ack","lastRefTime":1e3}`,
	`{"type":"push-ack","LastRefTime":"5"}`,
	`{"type":"push-ack","lastRefTime":"5","lastRefTime":"6"}`,
	`{"type":"push-ack"}`,
	`{"lastRefTime":"9","extra":{"nested":1}}`,
	`{"lastRefTime":"-3"}`,
	`not json`,
}

func TestDecodeAck_FastPathAgrees(t *testing.T) {
	fast := 0
	for _, s := range ackSamples {
		got, gotErr := DecodeAck([]byte(s))
		want, wantErr := decodeAckGeneral([]byte(s))
		if (gotErr == nil) != (wantErr == nil) || got != want {
			t.Errorf("%s: got %+v, %v; want %+v, %v", s, got, gotErr, want, wantErr)
		}
		if _, ok := decodeAckFast(s); ok {
			fast++
		}
	}
	if fast < 3 {
		t.Errorf("the fast path took %d samples, want at least the three clients' acks", fast)
	}
}

func FuzzDecodeAckFast(f *testing.F) {
	for _, s := range ackSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeAckFast(s)
		if !ok {
			return
		}
		want, err := decodeAckGeneral([]byte(s))
		if err != nil || got != want {
			t.Errorf("%q: fast %+v; general %+v, %v", s, got, want, err)
		}
	})
}
