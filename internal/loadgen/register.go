package loadgen

import (
	"context"
	"fmt"
	"time"
)

// RegisterConfig sets up the register scenario.
type RegisterConfig struct {
	// N instances are registered (default 100,000), PerService to a
	// service (default 100).
	N, PerService int
	// Settle is how long the server is left idle before its RSS is read
	// after registering (default 3 s).
	Settle time.Duration
}

var registerMeta = `{"preserved.heart.beat.timeout":"3600000","preserved.ip.delete.timeout":"3600000"}`

// Register registers N instances as fast as the server takes them, then
// reads the server's resident memory: idle before, and after settling.
func Register(ctx context.Context, e Env, cfg RegisterConfig) (_ *Summary, err error) {
	if err := e.fill(); err != nil {
		return nil, err
	}
	if cfg.N <= 0 {
		cfg.N = 100_000
	}
	if cfg.PerService <= 0 {
		cfg.PerService = 100
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, e.MaxTime)
	defer cancel()
	t, err := e.pulse(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = t.Release(err) }()
	before, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	s := &Summary{Scenario: "register"}
	s.Add("instances", cfg.N, "instances registered")
	s.Add("conns", e.Conns, "keep-alive connections")
	u := sampleStart(t)
	e.logf("registering %d instances", cfg.N)
	// Nothing beats these instances: long timeouts keep the first ones from
	// expiring while the last are registered (a million take longer than
	// the default 30 s). The metadata is interned, one copy for all.
	res := e.register(ctx, t, "reg", cfg.N, cfg.PerService, registerMeta)
	u.end(t)
	s.Add("registered", res.done, "registrations answered 200")
	s.Add("register_per_s", perSecond(res.done, res.elapsed), "registrations per second")
	s.Add("p50_ms", res.lat.Quantile(0.5), "median registration latency")
	s.Add("p99_ms", res.lat.Quantile(0.99), "99th percentile registration latency")
	s.Add("errors", res.errors, "failed registrations (first: "+errText(res.firstErr)+")")
	s.Add("cpu_s_per_1k", u.cpuPer1k(res.done), "server CPU seconds per 1,000 registrations")
	if u.ok {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Settle):
		}
		settled, _ := t.Sample()
		s.Add("idle_rss_mib", float64(u.before.RSS)/(1<<20), "server RSS before registering")
		s.Add("rss_mib", float64(settled.RSS)/(1<<20), fmt.Sprintf("server RSS %v after registering", cfg.Settle))
		s.Add("peak_rss_mib", float64(max(settled.RSS, u.after.RSS))/(1<<20), "largest RSS read after registering")
		if res.done > 0 {
			s.Add("bytes_per_instance", float64(settled.RSS-u.before.RSS)/float64(res.done), "(RSS after - RSS before) / instances")
		}
	}
	after, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return s, err
	}
	s.Add("instance_count", after.InstanceCount, "instances the server holds")
	if got := int64(after.InstanceCount - before.InstanceCount); got != res.done {
		return s, fmt.Errorf("server holds %d more instances, want %d", got, res.done)
	}
	return s, res.firstErr
}
