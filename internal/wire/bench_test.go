package wire

import (
	"fmt"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/naming"
)

// benchList is a list answer of n hosts as the registry serves them.
func benchList(n int) *List {
	meta := naming.MetadataOf(map[string]string{"version": "1.2.3", "zone": "eu-1"})
	hosts := make([]naming.Host, n)
	for i := range hosts {
		hosts[i] = naming.Host{
			IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), Port: 8080,
			Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Cluster: "DEFAULT",
			Metadata: meta, Timing: naming.Timing{BeatTimeout: 15 * time.Second, DeleteTimeout: 30 * time.Second},
		}
	}
	return &List{
		Name: "DEFAULT_GROUP@@orders", CacheMillis: 10000,
		Selection: naming.Selection{Found: true, Revision: 1_790_000_000_000, Hosts: hosts},
	}
}

// BenchmarkAppendList is the list encoder alone, reusing its buffer as the
// API and the pusher do.
func BenchmarkAppendList(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			l := benchList(n)
			buf := AppendList(nil, l)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendList(buf[:0], l)
			}
		})
	}
}

// BenchmarkEncodePush is the push encoder: the list answer wrapped as a
// string in the dom packet, gzipped from 1024 bytes. A round encodes once
// per query variant and sends the same bytes to every target.
func BenchmarkEncodePush(b *testing.B) {
	for _, n := range []int{1, 10} {
		data := AppendList(nil, benchList(n))
		pkt, err := EncodePush(1, data)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("hosts=%d/bytes=%d/datagram=%d", n, len(data), len(pkt)), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodePush(1, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
