package health

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/switches"
)

var key = naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@demo"}

func spec(port int) naming.InstanceSpec {
	return naming.InstanceSpec{IP: "10.0.0.1", Port: port, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true}
}

func healthy(t *testing.T, reg *naming.Registry, port int) (bool, bool) {
	t.Helper()
	h, err := reg.Instance(key, "", "10.0.0.1", port)
	if err != nil {
		return false, false
	}
	return h.Healthy, true
}

// startChecker runs a Checker on the real clock, which synctest fakes.
func startChecker(t *testing.T, reg *naming.Registry, sw *switches.Set) *Checker {
	t.Helper()
	c := New(reg, sw, clock.Real{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}

func TestChecker_ExactDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := naming.New(naming.Config{})
		c := startChecker(t, reg, switches.New())
		start := time.Now()
		if err := reg.Register(key, spec(1), start); err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(key, spec(2), start); err != nil {
			t.Fatal(err)
		}
		// Port 2 beats every 5 s for a minute; port 1 never does.
		go func() {
			for range 12 {
				time.Sleep(5 * time.Second)
				if _, err := reg.Beat(key, naming.BeatSpec{IP: "10.0.0.1", Port: 2}, time.Now()); err != nil {
					t.Error(err)
				}
			}
		}()

		time.Sleep(naming.DefaultBeatTimeout - time.Millisecond)
		synctest.Wait()
		if h, ok := healthy(t, reg, 1); !ok || !h {
			t.Fatalf("1 ms before the timeout: got healthy=%v present=%v, want healthy", h, ok)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if h, ok := healthy(t, reg, 1); !ok || h {
			t.Fatalf("at the timeout: got healthy=%v present=%v, want unhealthy", h, ok)
		}
		time.Sleep(naming.DefaultDeleteTimeout - naming.DefaultBeatTimeout)
		synctest.Wait()
		if _, ok := healthy(t, reg, 1); ok {
			t.Fatal("at the delete timeout: instance still present")
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if h, ok := healthy(t, reg, 2); !ok || !h {
			t.Errorf("beating instance: got healthy=%v present=%v", h, ok)
		}
		st := c.Stats()
		if st.Unhealthy != 1 || st.Expired != 1 || st.Late.Max != 0 {
			t.Errorf("got %+v, want one of each, on time", st)
		}
		if st.LateUnhealthy.Count != 1 || st.LateExpired.Count != 1 || st.Late.Count != 2 {
			t.Errorf("got lateness counts %d unhealthy, %d expired, %d in all; want 1, 1, 2",
				st.LateUnhealthy.Count, st.LateExpired.Count, st.Late.Count)
		}
	})
}

func TestChecker_SwitchOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := naming.New(naming.Config{})
		sw := switches.New()
		startChecker(t, reg, sw)
		if err := sw.Update("check", "false"); err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(key, spec(1), time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if h, ok := healthy(t, reg, 1); !ok || !h {
			t.Fatalf("with checking off: got healthy=%v present=%v, want untouched", h, ok)
		}
		// Housekeeping goes on with checking off: an implicit service left
		// empty is still dropped after its TTL.
		other := naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@other"}
		if err := reg.Register(other, spec(9), time.Now()); err != nil {
			t.Fatal(err)
		}
		reg.Deregister(other, "", "10.0.0.1", 9, true, time.Now())
		time.Sleep(naming.DefaultEmptyServiceTTL)
		synctest.Wait()
		if _, err := reg.Service(other); err == nil {
			t.Error("with checking off: an empty implicit service outlived its TTL")
		}
		if err := sw.Update("check", "true"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, ok := healthy(t, reg, 1); ok {
			t.Error("checking back on: a long-silent instance was not removed at once")
		}
	})
}
