package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"
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
func Push(ctx context.Context, e Env, cfg PushConfig) (_ *Summary, err error) {
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
	defer func() { err = t.Release(err) }()
	rc, err := NewReceivers(cfg.M)
	if err != nil {
		return nil, err
	}
	defer rc.Close()

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
		build:       func(r *requests, i int64) []byte { return r.list(service, rc.Port(int(i))) },
	}.run(ctx)
	if sub.done != int64(cfg.M) {
		return nil, fmt.Errorf("subscribe %d sockets: %d done, first error: %v", cfg.M, sub.done, sub.firstErr)
	}
	c := newConn(t.Addr, 10*time.Second)
	defer c.close()
	r := &requests{host: t.Addr, ctx: e.ContextPath}
	var all Hist
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
		rc.Next()
		start := time.Now()
		req := r.register(instanceOf("push", pushBase, 1<<30), "{}")
		if i%2 == 1 {
			req = r.deregister(instanceOf("push", pushBase, 1<<30))
		}
		if _, err := c.do(req); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		d, err := rc.Wait(ctx, start, 10*time.Second)
		if err != nil {
			roundErr = fmt.Errorf("change %d: %w", i, err)
			break
		}
		for _, x := range d {
			all.Observe(x)
		}
		rounds = append(rounds, d[len(d)-1])
	}
	after, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	// The baseline: the same subscribers, the last push's datagram sent
	// from a plain socket, one each: the cost of the fan-out itself on this
	// machine.
	var base Hist
	pkt := rc.Last()
	if roundErr == nil && pkt != nil {
		if err := baseline(ctx, rc, pkt, len(rounds), cfg.Gap, &base); err != nil {
			return nil, err
		}
	}
	slices.Sort(rounds)
	s := &Summary{Scenario: "push"}
	s.Add("subscribers", cfg.M, "UDP subscribers of the service")
	s.Add("rounds", len(rounds), "changes pushed and received by every subscriber")
	s.Add("p50_ms", all.Quantile(0.50), "from change to one subscriber's receipt: median")
	s.Add("p99_ms", all.Quantile(0.99), "from change to one subscriber's receipt: 99th percentile")
	s.Add("max_ms", all.Max(), "from change to one subscriber's receipt: slowest")
	if len(rounds) > 0 {
		s.Add("all_p50_ms", rounds[len(rounds)/2], "from change until every subscriber got it: median round")
		s.Add("all_max_ms", rounds[len(rounds)-1], "from change until every subscriber got it: slowest round")
	}
	s.Add("datagram_bytes", len(pkt), "size of the last push, which the baseline sends")
	s.Add("baseline_p50_ms", base.Quantile(0.50), "raw UDP baseline, the same datagram to the same subscribers: median receipt")
	s.Add("baseline_p99_ms", base.Quantile(0.99), "raw UDP baseline: 99th percentile receipt")
	s.Add("pushes", after.TotalPush-before.TotalPush, "pushes the server sent")
	s.Add("retries", after.PushRetries-before.PushRetries, "pushes sent again for want of an ack")
	s.Add("failed", after.FailedPush-before.FailedPush, "pushes never acked")
	s.Add("dropped_packets", rc.Dropped(), "packets that were not a push")
	return s, roundErr
}

// baseline sends pkt to every receiver from a plain socket, rounds times,
// gap apart, and records the receipt delays in h.
func baseline(ctx context.Context, rc *Receivers, pkt []byte, rounds int, gap time.Duration, h *Hist) error {
	s, err := NewRawSender()
	if err != nil {
		return err
	}
	defer s.Close()
	for range rounds {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(gap):
		}
		d, err := s.Round(ctx, pkt, rc, 10*time.Second)
		if err != nil {
			return err
		}
		for _, x := range d {
			h.Observe(x)
		}
	}
	return nil
}
