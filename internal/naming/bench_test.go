package naming

import (
	"fmt"
	"strconv"
	"testing"
)

// benchRegistry holds n ephemeral instances, 100 per service.
func benchRegistry(b *testing.B, n int) (*Registry, []ServiceKey, []BeatSpec) {
	b.Helper()
	reg := New(Config{})
	keys := make([]ServiceKey, n)
	beats := make([]BeatSpec, n)
	for i := range n {
		keys[i] = ServiceKey{Namespace: DefaultNamespace, Name: "DEFAULT_GROUP@@svc-" + strconv.Itoa(i/100)}
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		mustRegister(b, reg, keys[i], spec(ip, 8080), t0)
		beats[i] = BeatSpec{IP: ip, Port: 8080}
	}
	return reg, keys, beats
}

// BenchmarkRegistry_Beat beats the instances of a registry of 1k and of
// 100k. Its cost must not depend on how many instances the registry holds:
// "one" beats the same instance over and over (the algorithmic cost), "all"
// beats every instance in turn, so that the working set is the registry's
// and caches miss as they would in production.
func BenchmarkRegistry_Beat(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		reg, keys, beats := benchRegistry(b, n)
		for _, order := range []string{"one", "all"} {
			b.Run("instances="+strconv.Itoa(n)+"/beat="+order, func(b *testing.B) {
				m := n
				if order == "one" {
					m = 1
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					j := i % m
					res, err := reg.Beat(keys[j], beats[j], t0)
					if err != nil || !res.Found {
						b.Fatalf("beat %d: %+v, %v", j, res, err)
					}
				}
			})
		}
	}
}
