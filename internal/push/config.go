package push

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the pusher's settings. DefaultConfig gives the defaults; a
// zero Config as a whole means DefaultConfig, but a zero field means zero.
type Config struct {
	// MergeWindow: the first change to a service is pushed at once; changes
	// that arrive within this window after a push are merged into one
	// trailing push of the latest state. Default 20 ms (Nacos waits a fixed
	// 1 s before every push); zero means no window.
	MergeWindow time.Duration
	// AckTimeout is the shortest wait for a push's ack before it is sent
	// again. Default 250 ms. The wait adapts to measured round trips, and
	// starts at 4 times this before the first measurement; each further wait
	// for the same push is RetryBackoff times longer.
	AckTimeout time.Duration
	// RetryBackoff multiplies the wait between resends. Default 2.
	RetryBackoff float64
	// MaxRetries is how many times an unacked push is sent again before it
	// counts as failed. Default 3, so a target that never acks gets at most
	// 4 datagrams per change; zero means no resend.
	MaxRetries int
	// ZombieTimeout drops a target that has not refreshed its subscription
	// (by a list query) for this long. Default 25 s: clients poll every
	// cacheMillis (10 s), nacos-sdk-go rounds up to the next second, and a
	// poll may be lost.
	ZombieTimeout time.Duration
	// RatePerAddr bounds the datagrams per second sent to one address
	// (ip:port), whatever the client asks for. Pushes over the rate wait for
	// their turn; a newer push to the same target replaces a waiting one.
	// Default 100.
	RatePerAddr float64
	// BurstPerAddr is the burst allowed above RatePerAddr. Default 200.
	BurstPerAddr int
	// MaxTargets bounds the number of push targets. A subscription over the
	// bound is refused (counted; the client then polls). Default 200,000.
	MaxTargets int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MergeWindow:   20 * time.Millisecond,
		AckTimeout:    250 * time.Millisecond,
		RetryBackoff:  2,
		MaxRetries:    3,
		ZombieTimeout: 25 * time.Second,
		RatePerAddr:   100,
		BurstPerAddr:  200,
		MaxTargets:    200_000,
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.AckTimeout > 0, "push ack timeout %v: must be positive", c.AckTimeout)
	check(c.RetryBackoff >= 1, "push retry backoff %v: must be at least 1", c.RetryBackoff)
	check(c.MergeWindow >= 0, "push merge window %v: must not be negative", c.MergeWindow)
	check(c.MaxRetries >= 0 && c.MaxRetries <= 10, "push max retries %d: must be in 0..10", c.MaxRetries)
	check(c.ZombieTimeout > 0, "push zombie timeout %v: must be positive", c.ZombieTimeout)
	check(c.RatePerAddr > 0, "push rate per address %v: must be positive", c.RatePerAddr)
	check(c.BurstPerAddr >= 1, "push burst per address %d: must be at least 1", c.BurstPerAddr)
	check(c.MaxTargets >= 1, "push max targets %d: must be at least 1", c.MaxTargets)
	return errors.Join(errs...)
}
