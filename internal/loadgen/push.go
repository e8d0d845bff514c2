package loadgen

import (
	"bytes"
	"context"
	"fmt"
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
	service := instanceOf("push", 0, 1).service
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
		if _, err := c.do(r.register(instanceOf("push", i, 1<<30), "{}")); err != nil {
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
	s.Add("pushes", after.TotalPush-before.TotalPush, "pushes the server sent")
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
	var ack []byte
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		// The envelope ends with "lastRefTime":<seq>}; read just that, as
		// a client would before acking.
		pkt := buf[:n]
		k := bytes.LastIndex(pkt, seqKey)
		if k < 0 {
			r.bad.Add(1)
			continue
		}
		seq, err := strconv.ParseInt(string(bytes.TrimRight(pkt[k+len(seqKey):], "}")), 10, 64)
		if err != nil {
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
