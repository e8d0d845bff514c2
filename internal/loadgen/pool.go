package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/latency"
)

// Hist is a latency histogram with 1 µs buckets below 1 ms, 10 µs below
// 10 ms, 100 µs below 100 ms and 1 ms below 10 s. One per worker, merged at
// the end, so recording costs an index and an increment. The zero value is
// ready to use; it is not safe for concurrent use.
type Hist struct {
	counts []int64 // histBuckets, allocated on first use
	max    time.Duration
}

const histBuckets = 1000 + 900 + 900 + 9900 + 1

func histIndex(d time.Duration) int {
	us := int64(d / time.Microsecond)
	switch {
	case us < 0:
		return 0
	case us < 1000:
		return int(us)
	case us < 10_000:
		return 1000 + int((us-1000)/10)
	case us < 100_000:
		return 1900 + int((us-10_000)/100)
	case us < 10_000_000:
		return 2800 + int((us-100_000)/1000)
	}
	return histBuckets - 1
}

// histBounds are the buckets' upper bounds; the last bucket, above them
// all, has none.
var histBounds = func() []time.Duration {
	b := make([]time.Duration, histBuckets-1)
	for i := range b {
		var us int
		switch {
		case i < 1000:
			us = i + 1
		case i < 1900:
			us = 1000 + (i-1000+1)*10
		case i < 2800:
			us = 10_000 + (i-1900+1)*100
		default:
			us = 100_000 + (i-2800+1)*1000
		}
		b[i] = time.Duration(us) * time.Microsecond
	}
	return b
}()

// Observe records d.
func (h *Hist) Observe(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]int64, histBuckets)
	}
	h.counts[histIndex(d)]++
	h.max = max(h.max, d)
}

func (h *Hist) merge(o *Hist) {
	if h.counts == nil && o.counts != nil {
		h.counts = make([]int64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.max = max(h.max, o.max)
}

// Quantile returns the upper bound of the bucket holding quantile q (0 to
// 1), capped at the largest value seen; 0 when nothing was recorded.
func (h *Hist) Quantile(q float64) time.Duration {
	return latency.Quantile(histBounds, h.counts, q, h.max)
}

// Max is the largest value recorded.
func (h *Hist) Max() time.Duration { return h.max }

// load describes a bounded run of requests from a pool of keep-alive
// connections: request i (0 <= i < count) is built by build and, when rate
// is positive, sent no earlier than i/rate after the start.
type load struct {
	addr    string
	conns   int
	count   int64
	rate    float64 // requests per second; 0 means as fast as replies come
	maxTime time.Duration
	timeout time.Duration // of one request; default 10 s
	// build returns request i, built into r's buffers.
	build func(r *requests, i int64) []byte
	// check, when set, validates the reply to request i.
	check func(body []byte, i int64) error
	// newRequests gives each worker its builders.
	newRequests func() *requests
}

// loadResult is what a load run did.
type loadResult struct {
	done     int64 // requests answered with 200 and passing check
	errors   int64
	firstErr error
	elapsed  time.Duration
	lat      Hist
	// behind is how late the last paced request was sent; a paced run that
	// could not keep up shows it here.
	behind time.Duration
}

// start runs l in a goroutine of its own until its bounds or ctx end it.
// The returned stop cancels the run, waits for it and returns its result;
// it may be called more than once (a deferred call as well as a direct
// one), and always returns the same result.
func (l load) start(ctx context.Context) (stop func() loadResult) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var res loadResult
	wg.Go(func() { res = l.run(ctx) })
	return sync.OnceValue(func() loadResult {
		cancel()
		wg.Wait()
		return res
	})
}

// maxErrors stops a run that only produces errors, such as one whose server
// died.
const maxErrors = 1000

func (l load) run(ctx context.Context) loadResult {
	if l.timeout == 0 {
		l.timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, l.maxTime)
	defer cancel()
	var (
		next    atomic.Int64
		errs    atomic.Int64
		mu      sync.Mutex
		res     loadResult
		wg      sync.WaitGroup
		deadErr = errors.New("stopped")
	)
	start := time.Now()
	for range max(l.conns, 1) {
		wg.Go(func() {
			c := newConn(l.addr, l.timeout)
			defer c.close()
			r := l.newRequests()
			h := new(Hist)
			var done int64
			var firstErr error
			var behind time.Duration
			for ctx.Err() == nil && errs.Load() < maxErrors {
				i := next.Add(1) - 1
				if i >= l.count {
					break
				}
				if l.rate > 0 {
					due := start.Add(time.Duration(float64(i) / l.rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(wait):
						}
						if ctx.Err() != nil {
							break
						}
					} else {
						behind = -wait
					}
				}
				req := l.build(r, i)
				t0 := time.Now()
				body, err := c.do(req)
				d := time.Since(t0)
				if err == nil && l.check != nil {
					err = l.check(body, i)
				}
				if err != nil {
					errs.Add(1)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				h.Observe(d)
				done++
			}
			mu.Lock()
			res.lat.merge(h)
			res.done += done
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			res.behind = max(res.behind, behind)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.errors = errs.Load()
	if res.errors >= maxErrors && res.firstErr == nil {
		res.firstErr = deadErr
	}
	return res
}
