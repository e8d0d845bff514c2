package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// BeatsConfig sets up the beats scenario.
type BeatsConfig struct {
	// N instances beat (default 100,000), PerService to a service (100).
	N, PerService int
	// Interval is each instance's beat period when paced (default 5 s).
	Interval time.Duration
	// Rate is beats per second: negative (the default) means N/Interval,
	// zero means as fast as replies come.
	Rate float64
	// Duration bounds each run of beats (default 30 s paced, 10 s flat out);
	// Count bounds its number of beats (default Rate*Duration when paced,
	// 10,000,000 flat out).
	Duration time.Duration
	Count    int64
	// Light sends light beats (ip and port in the query) instead of the
	// nacos-sdk-go beat with its JSON body.
	Light bool
	// Batch, when above 1, sends the beats Batch at a time through Pulse's
	// PUT /instance/beat/batch (light beats, as the Pulse client sends them);
	// Rate and Count still count beats.
	Batch int
	// Ceiling loads the trivial-handler baseline instead of Pulse.
	Ceiling bool
	// VsCeiling runs the ceiling and Pulse alternately, Repeat times each,
	// and reports Pulse's figures as ratios of the ceiling's (medians).
	VsCeiling bool
	Repeat    int
}

func (c *BeatsConfig) fill() {
	if c.N <= 0 {
		c.N = 100_000
	}
	if c.PerService <= 0 {
		c.PerService = 100
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Rate < 0 {
		c.Rate = float64(c.N) / c.Interval.Seconds()
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
		if c.Rate == 0 {
			c.Duration = 10 * time.Second
		}
	}
	if c.Count <= 0 {
		c.Count = 10_000_000
		if c.Rate > 0 {
			c.Count = int64(c.Rate*c.Duration.Seconds()) + 1
		}
	}
	if c.Repeat <= 0 {
		c.Repeat = 1
	}
}

// beatRun is the outcome of one run of beats against one server.
type beatRun struct {
	res        loadResult
	server     usage
	client     usage
	beatsPerS  float64
	cpuPer1k   float64 // server CPU seconds per 1,000 beats
	clientPer1 float64 // generator CPU seconds per 1,000 beats
}

func (e *Env) beatRun(ctx context.Context, t *Target, cfg BeatsConfig) beatRun {
	srv, cli := sampleStart(t), self()
	l := load{
		addr:        t.Addr,
		conns:       e.Conns,
		count:       cfg.Count,
		rate:        cfg.Rate,
		maxTime:     cfg.Duration,
		newRequests: e.requests(t),
		build: func(r *requests, i int64) []byte {
			return r.beat(instanceOf("beats", int(i%int64(cfg.N)), cfg.PerService), cfg.Light)
		},
		check: func(body []byte, _ int64) error { return checkBeatReply(body) },
	}
	if k := int64(cfg.Batch); k > 1 {
		l.count = (cfg.Count + k - 1) / k
		l.rate = cfg.Rate / float64(k)
		l.build = func(r *requests, i int64) []byte {
			return r.beatBatch(func(j int) instance {
				return instanceOf("beats", int((i*k+int64(j))%int64(cfg.N)), cfg.PerService)
			}, int(k))
		}
		l.check = func(body []byte, _ int64) error {
			if n := bytes.Count(body, beatOK); n != int(k) {
				return fmt.Errorf("batch reply with %d of %d beats answered %s: %.200q", n, k, beatOK, body)
			}
			return nil
		}
	}
	res := l.run(ctx)
	if k := int64(cfg.Batch); k > 1 {
		res.done *= k // beats, not requests
	}
	srv.end(t)
	cli.endSelf()
	return beatRun{
		res:        res,
		server:     srv,
		client:     cli,
		beatsPerS:  perSecond(res.done, res.elapsed),
		cpuPer1k:   srv.cpuPer1k(res.done),
		clientPer1: cli.cpuPer1k(res.done),
	}
}

func (r beatRun) add(s *Summary, prefix, who string) {
	s.Add(prefix+"beats", r.res.done, who+": beats answered with code 10200")
	s.Add(prefix+"beats_per_s", r.beatsPerS, who+": beats per second achieved")
	s.Add(prefix+"p50_ms", r.res.lat.Quantile(0.50), who+": median beat latency")
	s.Add(prefix+"p99_ms", r.res.lat.Quantile(0.99), who+": 99th percentile beat latency")
	s.Add(prefix+"max_ms", r.res.lat.Max(), who+": slowest beat")
	s.Add(prefix+"errors", r.res.errors, who+": failed beats (first: "+errText(r.res.firstErr)+")")
	s.Add(prefix+"cpu_s_per_1k", r.cpuPer1k, who+": server CPU seconds per 1,000 beats (-1: unknown)")
	s.Add(prefix+"server_cores", r.server.utilisation(), who+": server CPU time / wall time")
	s.Add(prefix+"client_cpu_s_per_1k", r.clientPer1, who+": load generator CPU seconds per 1,000 beats")
	if r.res.behind > 0 {
		s.Add(prefix+"behind_ms", r.res.behind, who+": how late the last paced beat went out")
	}
}

// Beats runs the beats scenario.
func Beats(ctx context.Context, e Env, cfg BeatsConfig) (_ *Summary, err error) {
	if err := e.fill(); err != nil {
		return nil, err
	}
	cfg.fill()
	ctx, cancel := context.WithTimeout(ctx, e.MaxTime)
	defer cancel()
	s := &Summary{Scenario: "beats"}
	s.Add("instances", cfg.N, "instances beating")
	s.Add("rate_per_s", cfg.Rate, "target beats per second (0: flat out)")
	s.Add("conns", e.Conns, "keep-alive connections")
	style := map[bool]string{true: "light", false: "sdk"}[cfg.Light]
	if cfg.Batch > 1 {
		style = "batch"
		s.Add("batch", cfg.Batch, "beats per request")
	}
	s.Add("style", style, "beat request form")

	if cfg.Batch > 1 && (cfg.Ceiling || cfg.VsCeiling) {
		return nil, errors.New("batched beats are Pulse's own endpoint: not with the ceiling")
	}
	if cfg.Ceiling && !cfg.VsCeiling {
		t, cerr := e.ceiling(ctx)
		if cerr != nil {
			return nil, cerr
		}
		defer func() { err = t.Release(err) }() // the result, not cerr
		s.Add("target", "ceiling", "server under load")
		r := e.beatRun(ctx, t, cfg)
		r.add(s, "", "ceiling")
		return s, r.res.firstErr
	}

	p, err := e.pulse(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = p.Release(err) }()
	var c *Target
	if cfg.VsCeiling {
		ce := e
		ce.Spawn = true // the ceiling is always this tool's own process
		if c, err = ce.ceiling(ctx); err != nil {
			return nil, err
		}
		defer func() { err = c.Release(err) }()
	}
	before, err := metrics(p.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	e.logf("registering %d instances", cfg.N)
	meta := "{}" // Nacos' timeouts, 15 s and 30 s
	if c != nil {
		// Pulse's instances wait while the ceiling runs: long timeouts keep
		// them healthy, so that every run beats healthy instances.
		meta = registerMeta
	}
	reg := e.register(ctx, p, "beats", cfg.N, cfg.PerService, meta)
	if reg.errors > 0 || reg.done < int64(cfg.N) {
		return nil, fmt.Errorf("register %d instances: %d done, %d errors, first: %v", cfg.N, reg.done, reg.errors, reg.firstErr)
	}
	s.Add("register_per_s", perSecond(reg.done, reg.elapsed), "registrations per second while setting up")

	var pulseRuns, ceilRuns []beatRun
	for i := range cfg.Repeat {
		if c != nil {
			e.logf("run %d/%d: ceiling", i+1, cfg.Repeat)
			ceilRuns = append(ceilRuns, e.beatRun(ctx, c, cfg))
		}
		e.logf("run %d/%d: pulse", i+1, cfg.Repeat)
		pulseRuns = append(pulseRuns, e.beatRun(ctx, p, cfg))
		if ctx.Err() != nil {
			break
		}
	}
	after, err := metrics(p.Addr, e.ContextPath)
	if err != nil {
		return nil, err
	}
	s.Add("target", "pulse", "server under load")
	pr := medianRun(pulseRuns)
	pr.add(s, "", "pulse")
	s.Add("unhealthy_delta", after.UnhealthyCount-before.UnhealthyCount, "instances the server marked unhealthy during the run (must be 0)")
	s.Add("expired_delta", after.ExpiredCount-before.ExpiredCount, "instances the server removed during the run (must be 0)")
	var errs []error
	for _, r := range pulseRuns {
		errs = append(errs, r.res.firstErr)
	}
	if c != nil {
		cr := medianRun(ceilRuns)
		cr.add(s, "ceiling_", "ceiling")
		s.Add("ratio_beats_per_s", pr.beatsPerS/cr.beatsPerS, "Pulse beats/s over the ceiling's (target >= 0.8)")
		if pr.cpuPer1k > 0 && cr.cpuPer1k > 0 {
			s.Add("ratio_cpu_per_beat", pr.cpuPer1k/cr.cpuPer1k, "Pulse CPU per beat over the ceiling's")
		}
		for _, r := range ceilRuns {
			errs = append(errs, r.res.firstErr)
		}
	}
	s.Add("runs", len(pulseRuns), "runs per server; figures are medians")
	return s, errors.Join(errs...)
}

// medianRun returns a run whose figures are the medians of runs' (counts
// and latencies from the run with the median throughput).
func medianRun(runs []beatRun) beatRun {
	if len(runs) == 1 {
		return runs[0]
	}
	var rate, cpu, cli []float64
	for _, r := range runs {
		rate = append(rate, r.beatsPerS)
		cpu = append(cpu, r.cpuPer1k)
		cli = append(cli, r.clientPer1)
	}
	m := runs[0]
	mr := median(rate)
	for _, r := range runs {
		if abs(r.beatsPerS-mr) < abs(m.beatsPerS-mr) {
			m = r
		}
	}
	m.beatsPerS, m.cpuPer1k, m.clientPer1 = mr, median(cpu), median(cli)
	return m
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
