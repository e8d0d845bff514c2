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
