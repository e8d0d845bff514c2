package latency

import (
	"sync"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	if s := h.Snapshot(); s.Count != 0 || s.P99 != 0 {
		t.Fatalf("got %+v for an empty histogram", s)
	}
	for i := range 100 {
		h.Observe(time.Duration(i) * time.Millisecond / 10) // 0 .. 9.9 ms
	}
	h.Observe(2 * time.Second)
	s := h.Snapshot()
	if s.Count != 101 || s.Max != 2*time.Second {
		t.Errorf("got %+v", s)
	}
	if s.P50 != 5*time.Millisecond {
		t.Errorf("got p50 %v, want 5ms", s.P50)
	}
	if s.P99 != 10*time.Millisecond {
		t.Errorf("got p99 %v, want 10ms", s.P99)
	}
	h.Observe(-time.Second)
	if s := h.Snapshot(); s.Count != 102 {
		t.Errorf("negative duration not counted: %+v", s)
	}
}

func TestHistogram_Concurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Observe(time.Duration(i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 8000 || s.Max != 999*time.Microsecond {
		t.Errorf("got %+v", s)
	}
}

func TestHistogram_Buckets(t *testing.T) {
	var h Histogram
	h.Observe(300 * time.Microsecond)
	h.Observe(3 * time.Millisecond)
	h.Observe(time.Hour)
	s := h.Snapshot()
	b := Bounds()
	if len(s.Buckets) != len(b)+1 {
		t.Fatalf("got %d buckets, want %d", len(s.Buckets), len(b)+1)
	}
	want := map[int]int64{}
	for i, bound := range b {
		if bound == 500*time.Microsecond || bound == 3*time.Millisecond {
			want[i] = 1
		}
	}
	want[len(b)] = 1
	for i, c := range s.Buckets {
		if c != want[i] {
			t.Errorf("bucket %d: got %d, want %d", i, c, want[i])
		}
	}
}

func TestQuantile(t *testing.T) {
	ms := []float64{1, 2, 5} // bounds; counts[3] is above 5
	for _, c := range []struct {
		name   string
		counts []int64
		q, max float64
		want   float64
	}{
		{"no counts", nil, 0.5, 7, 0},
		{"all zero", []int64{0, 0, 0, 0}, 0.99, 7, 0},
		{"median in the second bucket", []int64{0, 98, 1, 1}, 0.5, 7, 2},
		{"quantile above every bound is the max", []int64{0, 98, 1, 1}, 0.995, 7, 7},
		{"bound capped at the max", []int64{4, 4, 0, 0}, 0.99, 1.5, 1.5},
		{"q 0 is the first non-empty bucket", []int64{0, 0, 3, 0}, 0, 9, 5},
		{"q 1 is the last non-empty bucket", []int64{5, 0, 1, 0}, 1, 4, 4},
		{"rank rounds half up", []int64{1, 1, 0, 0}, 0.75, 9, 2},
		{"rank rounds down below half", []int64{3, 1, 0, 0}, 0.6, 9, 1},
		{"only overflow", []int64{0, 0, 0, 2}, 0.5, 42, 42},
		{"counts shorter than bounds+1", []int64{0, 2}, 0.5, 9, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Quantile(ms, c.counts, c.q, c.max); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	// The histogram's own bounds, as Snapshot reads them.
	counts := make([]int64, len(bounds)+1)
	counts[3] = 10 // (500 µs, 1 ms]
	counts[len(bounds)] = 1
	if got := Quantile(bounds, counts, 0.5, 2*time.Minute); got != time.Millisecond {
		t.Errorf("durations: got p50 %v, want 1ms", got)
	}
	if got := Quantile(bounds, counts, 0.99, 2*time.Minute); got != 2*time.Minute {
		t.Errorf("durations: got p99 %v, want the max 2m0s", got)
	}
}
