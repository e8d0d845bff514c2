package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// PushConfig sets up the push scenario.
type PushConfig struct {
	M      int           // UDP subscribers (default 1,000)
	Rounds int           // changes, one at a time (default 20)
	Gap    time.Duration // pause between changes (default 50 ms)
}

// Push subscribes M loopback UDP sockets to one service, as nacos-sdk-go
// does with an instance list query that carries its udpPort, then makes one
// change at a time and times, from just before the change's request, until
// each subscriber received the push (it acks at once, as clients do).
func Push(ctx context.Context, e Env, cfg PushConfig) (*Summary, error) {
	if err := e.fill(); err != nil {
		return nil, err
	}
	if cfg.M <= 0 {
		cfg.M = 1000
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 20
	}
	if cfg.Gap <= 0 {
		cfg.Gap = 50 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, e.MaxTime)
	defer cancel()
	t, err := e.pulse(ctx)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	rc, err := newReceivers(cfg.M)
	if err != nil {
		return nil, err
	}
	defer rc.close()

	before, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	// A service of pushBase instances; each change adds or removes one more.
	const pushBase = 10
	service := instanceOf("push", 0, 1<<30).service
	if r := e.register(ctx, t, "push", pushBase, 1<<30, "{}"); r.done != pushBase {
		return nil, fmt.Errorf("register %d instances: %d done, first error: %v", pushBase, r.done, r.firstErr)
	}
	e.logf("subscribing %d UDP sockets", cfg.M)
	sub := load{
		addr:        t.Addr,
		conns:       e.Conns,
		count:       int64(cfg.M),
		maxTime:     e.MaxTime,
		newRequests: e.requests(t),
		build:       func(r *requests, i int64) []byte { return r.list(service, rc.port(int(i))) },
	}.run(ctx)
	if sub.done != int64(cfg.M) {
		return nil, fmt.Errorf("subscribe %d sockets: %d done, first error: %v", cfg.M, sub.done, sub.firstErr)
	}
	c := newConn(t.Addr, 10*time.Second)
	defer c.close()
	r := &requests{host: t.Addr, ctx: e.ContextPath}
	var all hist
	var rounds []time.Duration
	var roundErr error
	for i := range cfg.Rounds {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Gap):
		}
		if ctx.Err() != nil {
			break
		}
		round := rc.round.Add(1)
		start := time.Now()
		req := r.register(instanceOf("push", pushBase, 1<<30), "{}")
		if i%2 == 1 {
			req = r.deregister(instanceOf("push", pushBase, 1<<30))
		}
		if _, err := c.do(req); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		d, err := rc.wait(ctx, start, round*int64(cfg.M), 10*time.Second)
		if err != nil {
			roundErr = fmt.Errorf("change %d: %w", i, err)
			break
		}
		for _, x := range d {
			all.observe(x)
		}
		rounds = append(rounds, d[len(d)-1])
	}
	after, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	// The baseline: the same subscribers, a packet of the same size sent
	// from a plain socket, one datagram each: the cost of the fan-out
	// itself on this machine.
	list, err := c.do(r.list(service, 0))
	if err != nil {
		return nil, err
	}
	pkt, err := wire.EncodePush(1, list)
	if err != nil {
		return nil, err
	}
	base := new(hist)
	if roundErr == nil {
		if base, err = rc.baseline(ctx, pkt, len(rounds), cfg.Gap); err != nil {
			return nil, err
		}
	}
	slices.Sort(rounds)
	s := &Summary{Scenario: "push"}
	s.Add("subscribers", cfg.M, "UDP subscribers of the service")
	s.Add("rounds", len(rounds), "changes pushed and received by every subscriber")
	s.Add("p50_ms", all.quantile(0.50), "from change to one subscriber's receipt: median")
	s.Add("p99_ms", all.quantile(0.99), "from change to one subscriber's receipt: 99th percentile")
	s.Add("max_ms", all.max, "from change to one subscriber's receipt: slowest")
	if len(rounds) > 0 {
		s.Add("all_p50_ms", rounds[len(rounds)/2], "from change until every subscriber got it: median round")
		s.Add("all_max_ms", rounds[len(rounds)-1], "from change until every subscriber got it: slowest round")
	}
	s.Add("baseline_p50_ms", base.quantile(0.50), "raw UDP baseline, same packet size and subscribers: median receipt")
	s.Add("baseline_p99_ms", base.quantile(0.99), "raw UDP baseline: 99th percentile receipt")
	s.Add("pushes", after.TotalPush-before.TotalPush, "pushes the server sent")
	s.Add("retries", after.PushRetries-before.PushRetries, "pushes sent again for want of an ack")
	s.Add("failed", after.FailedPush-before.FailedPush, "pushes never acked")
	s.Add("dropped_packets", rc.bad.Load(), "packets that were not a push")
	return s, roundErr
}

// receivers are loopback UDP subscribers that ack every push at once and
// note when each first saw the current round.
type receivers struct {
	conns []*net.UDPConn
	round atomic.Int64
	seen  []atomic.Int64 // round each receiver last saw
	at    []atomic.Int64 // unix ns of that receipt
	done  atomic.Int64
	bad   atomic.Int64
	wg    sync.WaitGroup
}

func newReceivers(n int) (*receivers, error) {
	r := &receivers{seen: make([]atomic.Int64, n), at: make([]atomic.Int64, n)}
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			r.close()
			return nil, fmt.Errorf("open UDP socket %d of %d (raise ulimit -n?): %w", i+1, n, err)
		}
		r.conns = append(r.conns, c)
		r.wg.Go(func() { r.serve(i, c) })
	}
	return r, nil
}

func (r *receivers) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

func (r *receivers) port(i int) int { return r.conns[i].LocalAddr().(*net.UDPAddr).Port }

var seqKey = []byte(`"lastRefTime":`)

func (r *receivers) serve(i int, c *net.UDPConn) {
	buf := make([]byte, 64<<10)
	var ack, plain []byte
	var zr *gzip.Reader
	var br bytes.Reader
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		// Gunzip the packet and read the sequence number at its end, as a
		// client does before acking; the generator shares the cores with
		// the server, so it reuses its buffers and skips decoding the rest.
		pkt := buf[:n]
		if n > 2 && pkt[0] == 0x1f && pkt[1] == 0x8b {
			br.Reset(pkt)
			if zr == nil {
				zr, err = gzip.NewReader(&br)
			} else {
				err = zr.Reset(&br)
			}
			if err == nil {
				plain, err = readInto(plain[:0], zr, 1<<20)
			}
			pkt = plain
		}
		k := bytes.LastIndex(pkt, seqKey)
		var seq int64
		if err == nil && k >= 0 {
			seq, err = strconv.ParseInt(string(bytes.TrimRight(pkt[k+len(seqKey):], "}")), 10, 64)
		}
		if err != nil || k < 0 {
			r.bad.Add(1)
			continue
		}
		ack = wire.AppendAck(ack[:0], seq)
		_, _ = c.WriteToUDPAddrPort(ack, from)
		if cur := r.round.Load(); r.seen[i].Swap(cur) != cur {
			r.at[i].Store(now)
			r.done.Add(1)
		}
	}
}

// baseline sends pkt to every receiver from a plain socket, rounds times,
// and returns the receipt delays.
func (r *receivers) baseline(ctx context.Context, pkt []byte, rounds int, gap time.Duration) (*hist, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("baseline socket: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	var wg sync.WaitGroup
	wg.Go(func() { // drain the acks, as the server reads them
		buf := make([]byte, 2048)
		for {
			if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	})
	defer func() { conn.Close(); wg.Wait() }()
	h := new(hist)
	for range rounds {
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(gap):
		}
		round := r.round.Add(1)
		start := time.Now()
		for _, c := range r.conns {
			_, _ = conn.WriteToUDPAddrPort(pkt, c.LocalAddr().(*net.UDPAddr).AddrPort())
		}
		d, err := r.wait(ctx, start, round*int64(len(r.conns)), 10*time.Second)
		if err != nil {
			return h, fmt.Errorf("baseline: %w", err)
		}
		for _, x := range d {
			h.observe(x)
		}
	}
	return h, nil
}

// readInto appends what r yields to dst, up to limit bytes.
func readInto(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 4096)
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		case len(dst) > limit:
			return dst, fmt.Errorf("packet inflates to more than %d bytes", limit)
		}
	}
}

// wait blocks until want receipts were counted and returns each receiver's
// delay since start, sorted.
func (r *receivers) wait(ctx context.Context, start time.Time, want int64, limit time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(limit)
	for r.done.Load() < want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("only %d of %d subscribers got it within %v", int64(len(r.at))-(want-r.done.Load()), len(r.at), limit)
		}
		time.Sleep(200 * time.Microsecond)
	}
	d := make([]time.Duration, len(r.at))
	for i := range r.at {
		d[i] = time.Duration(r.at[i].Load() - start.UnixNano())
	}
	slices.Sort(d)
	return d, nil
}
