package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// QueryConfig sets up the query scenario.
type QueryConfig struct {
	K        int           // instances in the service (default 100)
	Duration time.Duration // length of the run (default 10 s)
	Count    int64         // most queries (default 5,000,000)
}

// Query registers K instances in one service and sends nacos-sdk-go
// instance list queries for it as fast as they are answered.
func Query(ctx context.Context, e Env, cfg QueryConfig) (_ *Summary, err error) {
	if err := e.fill(); err != nil {
		return nil, err
	}
	if cfg.K <= 0 {
		cfg.K = 100
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Count <= 0 {
		cfg.Count = 5_000_000
	}
	ctx, cancel := context.WithTimeout(ctx, e.MaxTime)
	defer cancel()
	t, err := e.pulse(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = t.Release(err) }()
	if r := e.register(ctx, t, "query", cfg.K, cfg.K, "{}"); r.done != int64(cfg.K) {
		return nil, fmt.Errorf("register %d instances: %d done, first error: %v", cfg.K, r.done, r.firstErr)
	}
	service := instanceOf("query", 0, cfg.K).service
	// Check one answer in full, then only its size.
	var first listed
	c := newConn(t.Addr, 10*time.Second)
	body, err := c.do((&requests{host: t.Addr, ctx: e.ContextPath}).list(service, 0))
	c.close()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &first); err != nil || len(first.Hosts) != cfg.K {
		return nil, fmt.Errorf("list %s: got %d hosts (%v), want %d", service, len(first.Hosts), err, cfg.K)
	}
	size := len(body)
	u, cli := sampleStart(t), self()
	res := load{
		addr:        t.Addr,
		conns:       e.Conns,
		count:       cfg.Count,
		maxTime:     cfg.Duration,
		newRequests: e.requests(t),
		build:       func(r *requests, _ int64) []byte { return r.list(service, 0) },
		check: func(body []byte, _ int64) error {
			if len(body) < size/2 {
				return fmt.Errorf("list reply of %d bytes, want about %d", len(body), size)
			}
			return nil
		},
	}.run(ctx)
	u.end(t)
	cli.endSelf()
	s := &Summary{Scenario: "query"}
	s.Add("instances", cfg.K, "instances in the service")
	s.Add("conns", e.Conns, "keep-alive connections")
	s.Add("reply_bytes", size, "size of one answer")
	s.Add("queries", res.done, "queries answered")
	s.Add("queries_per_s", perSecond(res.done, res.elapsed), "queries per second")
	s.Add("p50_ms", res.lat.Quantile(0.5), "median query latency")
	s.Add("p99_ms", res.lat.Quantile(0.99), "99th percentile query latency")
	s.Add("errors", res.errors, "failed queries (first: "+errText(res.firstErr)+")")
	s.Add("cpu_s_per_1k", u.cpuPer1k(res.done), "server CPU seconds per 1,000 queries")
	s.Add("server_cores", u.utilisation(), "server CPU time / wall time")
	s.Add("client_cpu_s_per_1k", cli.cpuPer1k(res.done), "load generator CPU seconds per 1,000 queries")
	return s, res.firstErr
}
