package httpapi_test

import (
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/servertest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// expiryClient is a client of a server on a fake clock.
type expiryClient struct {
	*client
	fake *clock.Fake
}

func newExpiryClient(t *testing.T) *expiryClient {
	fake := clock.NewFake(t0)
	return &expiryClient{client: newClient(t, servertest.WithClock(fake)), fake: fake}
}

// armed waits until the health checker's timer is set for at, so that an
// Advance past at fires it (a timer re-armed after an Advance would count
// its wait from the advanced time).
func (c *expiryClient) armed(at time.Duration) {
	c.t.Helper()
	want := t0.Add(at)
	eventually(c.t, "the checker's timer at t0+"+at.String(), func() bool {
		for _, d := range c.fake.Deadlines() {
			if d.Equal(want) {
				return true
			}
		}
		return false
	})
}

// advanceTo moves the fake clock to t0+at.
func (c *expiryClient) advanceTo(at time.Duration) {
	c.t.Helper()
	c.fake.Advance(t0.Add(at).Sub(c.fake.Now()))
}

// health returns "healthy", "unhealthy" or "gone" from GET /instance.
func (c *expiryClient) health(query string) string {
	c.t.Helper()
	status, body := c.call("GET", "/instance", query, "")
	switch status {
	case 200:
		var d detailReply
		decodeStrict(c.t, body, &d)
		if d.Healthy {
			return "healthy"
		}
		return "unhealthy"
	case 404:
		return "gone"
	}
	c.t.Fatalf("GET /instance?%s: got %d %q", query, status, body)
	return ""
}

func (c *expiryClient) waitHealth(query, want string) {
	c.t.Helper()
	eventually(c.t, query+" "+want, func() bool { return c.health(query) == want })
}

func (c *expiryClient) wantHealth(query, want string) {
	c.t.Helper()
	if got := c.health(query); got != want {
		c.t.Fatalf("%s at t0+%v: got %s, want %s", query, c.fake.Now().Sub(t0), got, want)
	}
}

func TestExpiry_ExactDeadlines(t *testing.T) {
	c := newExpiryClient(t)
	const ms = time.Millisecond
	const early, silent, beating = "serviceName=S&ip=10.0.0.3&port=80", "serviceName=S&ip=10.0.0.1&port=80", "serviceName=S&ip=10.0.0.2&port=80"
	// early's deadlines wake the checker exactly 1 ms before silent's.
	c.register(early)
	c.advanceTo(ms)
	c.register(silent)
	c.register(beating)
	c.armed(15 * time.Second)

	c.advanceTo(10 * time.Second)
	c.beat(beating, "")
	c.advanceTo(15*time.Second - ms)
	c.armed(15 * time.Second) // nothing was due: the timer is where it was
	c.wantHealth(early, "healthy")
	c.advanceTo(15 * time.Second)
	c.waitHealth(early, "unhealthy")
	c.armed(15*time.Second + ms)
	c.wantHealth(silent, "healthy") // the checker ran 1 ms before its deadline
	if got := c.list("serviceName=S").summary(); got != "10.0.0.1:80/DEFAULT healthy, 10.0.0.2:80/DEFAULT healthy, 10.0.0.3:80/DEFAULT unhealthy" {
		t.Fatalf("list 1 ms before the heartbeat timeout: %s", got)
	}

	c.advanceTo(15*time.Second + ms)
	c.waitHealth(silent, "unhealthy")
	c.wantHealth(beating, "healthy")
	l := c.list("serviceName=S")
	if got := l.summary(); got != "10.0.0.2:80/DEFAULT healthy, 10.0.0.3:80/DEFAULT unhealthy, 10.0.0.1:80/DEFAULT unhealthy" {
		t.Fatalf("list at the heartbeat timeout: %s", got)
	}
	if want := uint64(t0.Add(15*time.Second + ms).UnixMilli()); l.LastRefTime != want {
		t.Errorf("lastRefTime: got %d, want %d, the moment of the change", l.LastRefTime, want)
	}
	c.armed(25 * time.Second) // the beating instance's own timeout is next

	c.beat(beating, "")
	c.advanceTo(25 * time.Second)
	c.armed(30 * time.Second)
	c.beat(beating, "")
	c.advanceTo(30*time.Second - ms)
	c.armed(30 * time.Second)
	c.wantHealth(early, "unhealthy")
	c.advanceTo(30 * time.Second)
	c.waitHealth(early, "gone")
	c.armed(30*time.Second + ms)
	c.wantHealth(silent, "unhealthy") // the checker ran 1 ms before its delete deadline

	c.advanceTo(30*time.Second + ms)
	c.waitHealth(silent, "gone")
	c.wantHealth(beating, "healthy")
	if got := c.list("serviceName=S").summary(); got != "10.0.0.2:80/DEFAULT healthy" {
		t.Fatalf("list at the delete timeout: %s", got)
	}

	// Without beats the other one follows: unhealthy at its last beat + 15 s.
	c.armed(40 * time.Second)
	c.advanceTo(40 * time.Second)
	c.waitHealth(beating, "unhealthy")
	// Alone and unhealthy, it is listed as healthy (threshold 0) until removed.
	if l := c.list("serviceName=S"); l.summary() != "10.0.0.2:80/DEFAULT healthy" || !l.ReachedProtection {
		t.Errorf("list of a lone unhealthy instance: got %s, want it protected", l.Raw)
	}
}

func TestExpiry_PreservedTimeouts(t *testing.T) {
	c := newExpiryClient(t)
	const short = "serviceName=S&ip=10.0.0.1&port=80"
	c.register(short + `&metadata={"preserved.heart.beat.timeout":"3000","preserved.ip.delete.timeout":"6000","preserved.heart.beat.interval":"1000"}`)
	c.register("serviceName=S&ip=10.0.0.2&port=80")
	c.armed(3 * time.Second)
	c.advanceTo(3*time.Second - time.Millisecond)
	c.wantHealth(short, "healthy")
	c.advanceTo(3 * time.Second)
	c.waitHealth(short, "unhealthy")
	c.armed(6 * time.Second)
	c.advanceTo(6*time.Second - time.Millisecond)
	c.wantHealth(short, "unhealthy")
	c.advanceTo(6 * time.Second)
	c.waitHealth(short, "gone")
	c.wantHealth("serviceName=S&ip=10.0.0.2&port=80", "healthy")
}

func TestExpiry_BeatRevivesBeforeDeletion(t *testing.T) {
	c := newExpiryClient(t)
	const inst = "serviceName=S&ip=10.0.0.1&port=80"
	c.register(inst)
	c.register("serviceName=S&ip=10.0.0.2&port=80&healthy=false&ephemeral=false") // persistent: never expires
	c.armed(15 * time.Second)
	c.advanceTo(20 * time.Second)
	c.waitHealth(inst, "unhealthy")
	c.armed(30 * time.Second)
	// The Go client's full beat revives it and restarts both timeouts.
	if got := c.beat("", goBeatBodyFor("S", "10.0.0.1", 80)); got != beatOK {
		t.Fatalf("beat: got %s", got)
	}
	c.wantHealth(inst, "healthy")
	c.advanceTo(30 * time.Second) // the old delete deadline: nothing happens
	c.armed(35 * time.Second)
	c.wantHealth(inst, "healthy")
	c.advanceTo(35 * time.Second)
	c.waitHealth(inst, "unhealthy")
	c.armed(50 * time.Second)
	c.advanceTo(50 * time.Second)
	c.waitHealth(inst, "gone")
	c.wantHealth("serviceName=S&ip=10.0.0.2&port=80", "unhealthy")

	// Once removed, the Go client's next beat re-registers it.
	if got := c.beat("", goBeatBodyFor("S", "10.0.0.1", 80)); got != beatOK {
		t.Fatalf("beat after removal: got %s", got)
	}
	c.wantHealth(inst, "healthy")
}

func TestExpiry_CheckSwitchOff(t *testing.T) {
	c := newExpiryClient(t)
	const inst = "serviceName=S&ip=10.0.0.1&port=80"
	c.register(inst)
	c.armed(15 * time.Second)
	c.ok("PUT", "/operator/switches", "entry=check&value=false", "")
	c.armed(time.Hour) // the checker sleeps while checking is off
	c.advanceTo(time.Minute)
	c.armed(time.Hour)
	c.wantHealth(inst, "healthy")
	if l := c.list("serviceName=S"); len(l.Hosts) != 1 {
		t.Fatalf("with checking off: %s", l.Raw)
	}
	// Back on: the overdue instance goes at once.
	c.ok("PUT", "/operator/switches", "entry=check&value=true", "")
	c.waitHealth(inst, "gone")
}

func TestExpiry_LastRefTimeNeverGoesBack(t *testing.T) {
	c := newExpiryClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	first := c.list("serviceName=S").LastRefTime
	if want := uint64(t0.UnixMilli()); first != want {
		t.Fatalf("lastRefTime: got %d, want %d", first, want)
	}
	// Two changes in the same millisecond still move it forward.
	c.register("serviceName=S&ip=10.0.0.2&port=80")
	if got := c.list("serviceName=S").LastRefTime; got != first+1 {
		t.Fatalf("second change in the same ms: got %d, want %d", got, first+1)
	}
	// The clock going back does not take lastRefTime with it.
	c.fake.Advance(-time.Hour)
	c.ok("DELETE", "/instance", "serviceName=S&ip=10.0.0.2&port=80", "")
	if got := c.list("serviceName=S").LastRefTime; got != first+2 {
		t.Fatalf("after the clock went back: got %d, want %d", got, first+2)
	}
	// Nor does deleting the service and creating it again.
	c.ok("DELETE", "/service", "serviceName=S", "")
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	if got := c.list("serviceName=S").LastRefTime; got != first+4 {
		t.Fatalf("after delete and re-create: got %d, want %d", got, first+4)
	}
}

func TestExpiry_EmptyServiceRemoved(t *testing.T) {
	c := newExpiryClient(t)
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	c.armed(15 * time.Second)
	c.advanceTo(15 * time.Second)
	c.armed(30 * time.Second)
	c.advanceTo(30 * time.Second)
	c.waitHealth("serviceName=S&ip=10.0.0.1&port=80", "gone")
	last := c.list("serviceName=S")
	if len(last.Hosts) != 0 || last.LastRefTime != uint64(t0.Add(30*time.Second).UnixMilli()) {
		t.Fatalf("after the delete timeout: got %s, want the empty service", last.Raw)
	}
	// An implicitly created service goes 90 s after its last instance.
	c.armed(120 * time.Second)
	c.advanceTo(120*time.Second - time.Millisecond)
	c.armed(120 * time.Second)
	c.service("serviceName=S")
	c.advanceTo(120 * time.Second)
	eventually(t, "the empty service removed", func() bool {
		status, _ := c.call("GET", "/service", "serviceName=S", "")
		return status == 404
	})
	// Created again later with a clock set back, its lastRefTime is still ahead.
	c.fake.Advance(-time.Hour)
	c.register("serviceName=S&ip=10.0.0.1&port=80")
	if got := c.list("serviceName=S").LastRefTime; got <= last.LastRefTime {
		t.Errorf("re-created service: lastRefTime %d, want above %d", got, last.LastRefTime)
	}
}
