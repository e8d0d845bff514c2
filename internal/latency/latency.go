// Package latency records durations in a fixed-bucket histogram that is
// cheap to update from many goroutines and answers quantiles to within a
// bucket's width.
package latency

import (
	"cmp"
	"sync/atomic"
	"time"
)

// bounds are the bucket upper bounds: three below 1 ms, 1 ms steps to 20 ms,
// then coarser.
var bounds = func() []time.Duration {
	b := []time.Duration{100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond}
	for ms := 1; ms <= 20; ms++ {
		b = append(b, time.Duration(ms)*time.Millisecond)
	}
	for _, ms := range []int{25, 30, 40, 50, 60, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000, 30000, 60000} {
		b = append(b, time.Duration(ms)*time.Millisecond)
	}
	return b
}()

// Histogram counts durations. The zero value is ready to use and safe for
// concurrent use.
type Histogram struct {
	counts [64]atomic.Int64 // len(bounds)+1 used; the last is overflow
	n      atomic.Int64
	sum    atomic.Int64 // ns
	max    atomic.Int64 // ns
}

// Observe records d; negative durations count as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(bounds) && d > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.n.Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// Snapshot is a point-in-time summary of a Histogram.
type Snapshot struct {
	Count int64
	Mean  time.Duration
	Max   time.Duration
	P50   time.Duration // upper bound of the bucket holding the quantile
	P99   time.Duration
	// Buckets counts the durations of each bucket: Buckets[i] those up to
	// Bounds()[i] (and above the bound before), the last one those above
	// every bound. A tool that reads two snapshots can take the quantiles
	// of what happened between them.
	Buckets []int64
}

// Bounds returns the bucket upper bounds, shared by every Histogram.
func Bounds() []time.Duration { return append([]time.Duration(nil), bounds...) }

// Snapshot summarises what was observed.
func (h *Histogram) Snapshot() Snapshot {
	var counts [64]int64
	var n int64
	for i := range len(bounds) + 1 {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	s := Snapshot{Count: n, Max: time.Duration(h.max.Load()), Buckets: append([]int64(nil), counts[:len(bounds)+1]...)}
	if n == 0 {
		return s
	}
	s.Mean = time.Duration(h.sum.Load() / max(h.n.Load(), 1))
	s.P50 = Quantile(bounds, s.Buckets, 0.50, s.Max)
	s.P99 = Quantile(bounds, s.Buckets, 0.99, s.Max)
	return s
}

// Quantile returns the upper bound of the bucket that holds quantile q
// (0 to 1) of the values counted in counts, capped at maxSeen, the largest
// value seen. counts[i] counts the values up to bounds[i]; counts has one
// more entry than bounds, for the values above every bound, whose quantile
// is maxSeen. It returns zero when counts is empty or all zero.
func Quantile[T cmp.Ordered](bounds []T, counts []int64, q float64, maxSeen T) T {
	var n int64
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		var zero T
		return zero
	}
	rank := max(int64(q*float64(n)+0.5), 1)
	var seen int64
	for i, c := range counts {
		if seen += c; seen >= rank {
			if i < len(bounds) {
				return min(bounds[i], maxSeen)
			}
			break
		}
	}
	return maxSeen
}
