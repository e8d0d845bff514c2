package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pulse-registry/pulse/internal/latency"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/wire"
)

// ExpiryConfig sets up the expiry scenario.
type ExpiryConfig struct {
	// N instances stop beating at once (default 10,000); Control instances
	// keep beating every ControlInterval (default 1,000 every 1 s).
	N, Control      int
	PerService      int           // default 100
	BeatTimeout     time.Duration // default 3 s
	DeleteTimeout   time.Duration // default 6 s
	ControlInterval time.Duration
}

func (c *ExpiryConfig) fill() {
	if c.N <= 0 {
		c.N = 10_000
	}
	if c.Control < 0 {
		c.Control = 0
	} else if c.Control == 0 {
		c.Control = 1_000
	}
	if c.PerService <= 0 {
		c.PerService = 100
	}
	if c.BeatTimeout <= 0 {
		c.BeatTimeout = 3 * time.Second
	}
	if c.DeleteTimeout <= 0 {
		c.DeleteTimeout = 2 * c.BeatTimeout
	}
	if c.ControlInterval <= 0 {
		c.ControlInterval = time.Second
	}
}

// Expiry registers N instances and a control group with short timeouts,
// beats them all, then stops the N at once while the control group keeps
// beating. It reports how late the server turned each silent instance
// unhealthy and removed it, from the lateness histograms in the server's
// metrics (the difference of two reads), and checks that the control group
// stayed healthy: no more transitions than N of each kind, and every control
// instance healthy in every list answer read meanwhile.
func Expiry(ctx context.Context, e Env, cfg ExpiryConfig) (_ *Summary, err error) {
	if err := e.fill(); err != nil {
		return nil, err
	}
	cfg.fill()
	ctx, cancel := context.WithTimeout(ctx, e.MaxTime)
	defer cancel()
	t, err := e.pulse(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = t.Release(err) }()
	meta, _ := json.Marshal(map[string]string{
		naming.MetaBeatInterval:  strconv.FormatInt(cfg.ControlInterval.Milliseconds(), 10),
		naming.MetaBeatTimeout:   strconv.FormatInt(cfg.BeatTimeout.Milliseconds(), 10),
		naming.MetaDeleteTimeout: strconv.FormatInt(cfg.DeleteTimeout.Milliseconds(), 10),
	})
	before, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	e.logf("registering %d + %d control instances", cfg.N, cfg.Control)
	for _, g := range []struct {
		prefix string
		n      int
	}{{"ctl", cfg.Control}, {"exp", cfg.N}} {
		if r := e.register(ctx, t, g.prefix, g.n, cfg.PerService, string(meta)); r.done != int64(g.n) {
			return nil, fmt.Errorf("register %d %s instances: %d done, first error: %v", g.n, g.prefix, r.done, r.firstErr)
		}
	}

	// The control group beats until the end; every return stops it and
	// waits for it before the server is closed.
	stopCtl := func() loadResult { return loadResult{} }
	if cfg.Control > 0 {
		stopCtl = load{
			addr:        t.Addr,
			conns:       max(e.Conns/4, 1),
			count:       1 << 40,
			rate:        float64(cfg.Control) / cfg.ControlInterval.Seconds(),
			maxTime:     e.MaxTime,
			newRequests: e.requests(t),
			build: func(r *requests, i int64) []byte {
				return r.beat(instanceOf("ctl", int(i%int64(cfg.Control)), cfg.PerService), false)
			},
			check: func(body []byte, _ int64) error { return checkBeatReply(body) },
		}.start(ctx)
	}
	defer stopCtl()

	// One last round of beats for the N, as fast as possible: their
	// deadlines then fall within a short span, the hardest case.
	last := load{
		addr:        t.Addr,
		conns:       e.Conns,
		count:       int64(cfg.N),
		maxTime:     e.MaxTime,
		newRequests: e.requests(t),
		build: func(r *requests, i int64) []byte {
			return r.beat(instanceOf("exp", int(i), cfg.PerService), false)
		},
		check: func(body []byte, _ int64) error { return checkBeatReply(body) },
	}.run(ctx)
	stopAt := time.Now()
	if last.done != int64(cfg.N) {
		return nil, fmt.Errorf("last beats of %d instances: %d done, first error: %v", cfg.N, last.done, last.firstErr)
	}
	e.logf("%d instances stopped beating in %v; waiting for their expiry", cfg.N, last.elapsed.Round(time.Millisecond))

	// Watch until every silent instance is gone, and a second more for any
	// late false alarm; check the control group on the way.
	ctl := newControlCheck(t, e.ContextPath, cfg)
	defer ctl.c.close()
	limit := stopAt.Add(cfg.DeleteTimeout + 20*time.Second)
	var goneAt time.Time
	var m wire.Metrics
	for tick := 0; ; tick++ {
		if m, err = metrics(t.Addr, e.ContextPath); err != nil {
			return nil, err
		}
		if tick%5 == 0 {
			ctl.check()
		}
		now := time.Now()
		if goneAt.IsZero() && m.ExpiredCount-before.ExpiredCount >= int64(cfg.N) {
			goneAt = now
		}
		if !goneAt.IsZero() && now.Sub(goneAt) > time.Second || now.After(limit) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	ctl.check()
	ctlRes := stopCtl()
	after, err := metrics(t.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}

	s := &Summary{Scenario: "expiry"}
	s.Add("instances", cfg.N, "instances that stopped beating")
	s.Add("control", cfg.Control, "instances that kept beating")
	s.Add("beat_timeout_ms", cfg.BeatTimeout, "their heartbeat timeout")
	s.Add("delete_timeout_ms", cfg.DeleteTimeout, "their delete timeout")
	s.Add("stop_spread_ms", last.elapsed, "time the last round of beats took (the spread of the deadlines)")
	unhealthy := after.UnhealthyCount - before.UnhealthyCount
	expired := after.ExpiredCount - before.ExpiredCount
	s.Add("unhealthy", unhealthy, "instances turned unhealthy (want N)")
	s.Add("expired", expired, "instances removed (want N)")
	if !goneAt.IsZero() {
		s.Add("all_removed_after_ms", goneAt.Sub(stopAt), "from the last beat round's end until the server counted N removals (100 ms polls)")
	}
	lh, lb := after.ExpiryLate, before.ExpiryLate
	if lh != nil && lb != nil {
		for _, k := range []struct {
			name        string
			now, before []int64
			maxMs       float64
		}{
			{"unhealthy", lh.Unhealthy, lb.Unhealthy, lh.UnhealthyMaxMs},
			{"removal", lh.Expired, lb.Expired, lh.ExpiredMaxMs},
		} {
			d := diffCounts(k.now, k.before)
			s.Add(k.name+"_late_p50_ms", latency.Quantile(lh.BoundsMs, d, 0.50, k.maxMs), k.name+" transitions: median lateness past the deadline (bucket bound)")
			s.Add(k.name+"_late_p99_ms", latency.Quantile(lh.BoundsMs, d, 0.99, k.maxMs), k.name+" transitions: 99th percentile lateness (bucket bound)")
			s.Add(k.name+"_late_max_ms", k.maxMs, k.name+" transitions: latest since the server started")
		}
	}
	s.Add("control_beats", ctlRes.done, "beats of the control group answered 10200")
	s.Add("control_beat_errors", ctlRes.errors, "control beats that failed or found their instance gone (first: "+errText(ctlRes.firstErr)+")")
	s.Add("control_checks", ctl.checks, "list queries of the control group's services")
	s.Add("control_seen_unhealthy", ctl.unhealthy, "control instances seen unhealthy or missing in those answers (must be 0)")
	falseAlarms := max(unhealthy-int64(cfg.N), 0) + ctl.unhealthy + ctlRes.errors
	s.Add("false_unhealthy", falseAlarms, "beating instances marked unhealthy: extra transitions + control seen unhealthy + control beats refused (must be 0)")
	switch {
	case falseAlarms > 0:
		return s, fmt.Errorf("%d beating instances were treated as silent", falseAlarms)
	case expired < int64(cfg.N) || unhealthy < int64(cfg.N):
		return s, fmt.Errorf("only %d unhealthy and %d removed of %d silent instances within %v", unhealthy, expired, cfg.N, cfg.DeleteTimeout+20*time.Second)
	case ctl.err != nil:
		return s, ctl.err
	}
	return s, nil
}

// controlCheck reads the control group's services.
type controlCheck struct {
	c         *conn
	r         *requests
	services  []string
	sizes     []int
	checks    int64
	unhealthy int64
	err       error
}

func newControlCheck(t *Target, ctxPath string, cfg ExpiryConfig) *controlCheck {
	cc := &controlCheck{c: newConn(t.Addr, 10*time.Second), r: &requests{host: t.Addr, ctx: ctxPath}}
	for i := 0; i < cfg.Control; i += cfg.PerService {
		cc.services = append(cc.services, instanceOf("ctl", i, cfg.PerService).service)
		cc.sizes = append(cc.sizes, min(cfg.PerService, cfg.Control-i))
	}
	return cc
}

func (cc *controlCheck) check() {
	for i, svc := range cc.services {
		body, err := cc.c.do(cc.r.list(svc, 0))
		if err != nil {
			if cc.err == nil {
				cc.err = fmt.Errorf("list control service %s: %w", svc, err)
			}
			continue
		}
		var l listed
		if err := json.Unmarshal(body, &l); err != nil {
			cc.err = fmt.Errorf("list control service %s: %w", svc, err)
			continue
		}
		cc.checks++
		bad := int64(cc.sizes[i] - len(l.Hosts)) // missing
		for _, h := range l.Hosts {
			if !h.Healthy {
				bad++
			}
		}
		cc.unhealthy += bad
	}
}

func diffCounts(now, before []int64) []int64 {
	d := make([]int64, len(now))
	for i := range now {
		d[i] = now[i]
		if i < len(before) {
			d[i] -= before[i]
		}
	}
	return d
}
