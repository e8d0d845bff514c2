// Package health decides when ephemeral instances have gone silent. Its
// Checker owns the timer: it sleeps until the registry's earliest deadline
// and then asks the registry to apply what is due, so an instance turns
// unhealthy (and is later removed) within a few milliseconds of its
// deadline, not up to 5 s late as with Nacos' periodic sweep.
package health

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/latency"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/switches"
)

// Expirer is the part of the registry the checker drives. *naming.Registry
// implements it.
type Expirer interface {
	ExpireDue(now time.Time, out []naming.Transition) ([]naming.Transition, time.Time)
	Housekeep(now time.Time) time.Time
	Wake() <-chan struct{}
}

// Checker applies heartbeat expiry on time. Create it with New and run it
// with Run.
type Checker struct {
	reg Expirer
	sw  *switches.Set
	clk clock.Clock
	log *slog.Logger

	unhealthy, expired atomic.Int64
	// late covers every transition; lateUnhealthy and lateExpired each kind.
	late, lateUnhealthy, lateExpired latency.Histogram
}

// New returns a Checker for reg. The "check" switch turns it off, as in
// Nacos: while off, nothing becomes unhealthy or expires.
func New(reg Expirer, sw *switches.Set, clk clock.Clock, log *slog.Logger) *Checker {
	return &Checker{reg: reg, sw: sw, clk: clk, log: log}
}

// Stats is what the checker has done.
type Stats struct {
	Unhealthy int64 // instances turned unhealthy
	Expired   int64 // instances removed
	// Late is how long after their deadlines transitions were applied;
	// LateUnhealthy and LateExpired split it by kind.
	Late, LateUnhealthy, LateExpired latency.Snapshot
}

// Stats returns counters since start.
func (c *Checker) Stats() Stats {
	return Stats{
		Unhealthy:     c.unhealthy.Load(),
		Expired:       c.expired.Load(),
		Late:          c.late.Snapshot(),
		LateUnhealthy: c.lateUnhealthy.Snapshot(),
		LateExpired:   c.lateExpired.Snapshot(),
	}
}

// Run applies expiry until ctx is done. It returns nil on cancellation.
func (c *Checker) Run(ctx context.Context) error {
	timer := c.clk.NewTimer(time.Hour)
	defer timer.Stop()
	var buf []naming.Transition
	for {
		changed := c.sw.Changed()
		next := c.reg.Housekeep(c.clk.Now())
		if c.sw.Get().HealthCheckEnabled {
			var due time.Time
			buf, due = c.reg.ExpireDue(c.clk.Now(), buf[:0])
			c.record(buf)
			if !due.IsZero() && (next.IsZero() || due.Before(next)) {
				next = due
			}
		}
		wait := time.Hour // re-armed by Wake whenever something earlier appears
		if !next.IsZero() {
			wait = max(next.Sub(c.clk.Now()), 0)
		}
		timer.Stop()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-c.reg.Wake():
		case <-changed:
		}
	}
}

func (c *Checker) record(trs []naming.Transition) {
	if len(trs) == 0 {
		return
	}
	now := c.clk.Now()
	var unhealthy, expired int64
	// One line per instance, as Nacos' {IP-DISABLED} lines, unless a mass
	// expiry would flood the log: then one summary at info level.
	level := slog.LevelInfo
	if len(trs) > 20 {
		level = slog.LevelDebug
	}
	for _, tr := range trs {
		late := now.Sub(tr.Deadline)
		c.late.Observe(late)
		if tr.Kind == naming.BecameUnhealthy {
			unhealthy++
			c.lateUnhealthy.Observe(late)
		} else {
			expired++
			c.lateExpired.Observe(late)
		}
		c.log.Log(context.Background(), level, "instance "+tr.Kind.String(), "service", tr.Key.Name,
			"namespace", tr.Key.Namespace, "cluster", tr.Cluster, "ip", tr.IP, "port", tr.Port,
			"late", now.Sub(tr.Deadline))
	}
	c.unhealthy.Add(unhealthy)
	c.expired.Add(expired)
	if level == slog.LevelDebug {
		c.log.Info("expiry applied", "unhealthy", unhealthy, "expired", expired)
	}
}
