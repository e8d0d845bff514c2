package client_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
)

func addrs(list []client.Instance) []string {
	var out []string
	for _, in := range list {
		out = append(out, in.Addr())
	}
	return out
}

func TestClient_Subscribe_realChangesOnly(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, MaxPollInterval: 50 * time.Millisecond})
	ctx := t.Context()
	a := client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Persistent: true}
	b := client.Registration{Service: "s", IP: "10.0.0.2", Port: 1, Persistent: true}
	if err := admin.RegisterInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	var evs events
	sub, err := c.Subscribe(ctx, client.Query{Service: "s"}, evs.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	evs.waitEvent(t, 0, 3*time.Second, "the first event", func(client.Event) bool { return true })
	first := evs.all()[0]
	if got := addrs(first.Added); !slices.Equal(got, []string{"10.0.0.1:1"}) || first.Service != "DEFAULT_GROUP@@s" {
		t.Fatalf("first event: got %+v, want 10.0.0.1:1 added", first)
	}

	// Polls that find nothing new call nobody.
	polls := func() int { return len(rec.requests("/v1/ns/instance/list")) }
	n := polls()
	waitFor(t, 3*time.Second, "five more polls", func() bool { return polls() >= n+5 })
	if got := evs.len(); got != 1 {
		t.Fatalf("events after unchanged polls: got %d, want 1", got)
	}

	steps := []struct {
		name   string
		change func() error
		check  func(client.Event) bool
	}{
		{"add", func() error { return admin.RegisterInstance(ctx, b) }, func(ev client.Event) bool {
			return slices.Equal(addrs(ev.Added), []string{"10.0.0.2:1"}) && len(ev.Removed)+len(ev.Modified) == 0 &&
				slices.Equal(addrs(ev.Instances), []string{"10.0.0.1:1", "10.0.0.2:1"})
		}},
		{"modify", func() error { a.Weight = 5; return admin.UpdateInstance(ctx, a) }, func(ev client.Event) bool {
			return len(ev.Modified) == 1 && ev.Modified[0].Weight == 5 && len(ev.Added)+len(ev.Removed) == 0
		}},
		{"remove", func() error { return admin.DeregisterInstance(ctx, b) }, func(ev client.Event) bool {
			return slices.Equal(addrs(ev.Removed), []string{"10.0.0.2:1"}) && len(ev.Added)+len(ev.Modified) == 0
		}},
	}
	for i, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		waitFor(t, 3*time.Second, "the event of "+st.name, func() bool { return evs.len() >= i+2 })
		if ev := evs.all()[i+1]; !st.check(ev) {
			t.Errorf("%s: got event %+v", st.name, ev)
		}
	}
	n = polls()
	waitFor(t, 3*time.Second, "five more polls", func() bool { return polls() >= n+5 })
	if got := evs.len(); got != 1+len(steps) {
		t.Errorf("events: got %d, want %d, one per change", got, 1+len(steps))
	}
}

func TestClient_Subscribe_slowCallback(t *testing.T) {
	srv := startServer(t)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}, MaxPollInterval: 50 * time.Millisecond})
	ctx := t.Context()
	register := func(service, ip string) {
		t.Helper()
		if err := admin.RegisterInstance(ctx, client.Registration{Service: service, IP: ip, Port: 1, Persistent: true}); err != nil {
			t.Fatal(err)
		}
	}
	register("slow", "10.0.0.1")

	release := make(chan struct{})
	var slow events
	var calls atomic.Int32
	subSlow, err := c.Subscribe(ctx, client.Query{Service: "slow"}, func(ev client.Event) {
		slow.add(ev)
		if calls.Add(1) == 1 {
			<-release // stuck in the first call
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer subSlow.Unsubscribe()
	var fast events
	subFast, err := c.Subscribe(ctx, client.Query{Service: "fast"}, fast.add)
	if err != nil {
		t.Fatal(err)
	}
	defer subFast.Unsubscribe()
	waitFor(t, 3*time.Second, "the slow callback to be stuck", func() bool { return calls.Load() == 1 })

	// While one callback is stuck, the other subscription goes on.
	for i, ip := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"} {
		register("slow", "10.0.0."+string(rune('2'+i)))
		register("fast", ip)
		fast.waitEvent(t, i, 3*time.Second, "fast event for "+ip, func(ev client.Event) bool {
			_, ok := find(ev.Added, ip, 1)
			return ok
		})
	}
	// The slow subscription gets the latest state in one call once free:
	// the states in between are merged.
	waitFor(t, 3*time.Second, "the slow watcher to see every instance", func() bool {
		list, _ := c.Instances(ctx, client.Query{Service: "slow"})
		return len(list) == 4
	})
	close(release)
	slow.waitEvent(t, 1, 3*time.Second, "the merged event", func(client.Event) bool { return true })
	ev := slow.all()[1]
	if len(ev.Instances) != 4 || len(ev.Added) != 3 {
		t.Errorf("merged event: got %d instances, %d added; want 4 and 3", len(ev.Instances), len(ev.Added))
	}
	if got := slow.len(); got != 2 {
		t.Errorf("slow events: got %d, want 2", got)
	}
}

func TestSubscription_Unsubscribe(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, MaxPollInterval: 20 * time.Millisecond})
	ctx := t.Context()
	var evs events
	var sub *client.Subscription
	var mu sync.Mutex
	mu.Lock() // the callback waits until sub is set
	sub, err := c.Subscribe(ctx, client.Query{Service: "u"}, func(ev client.Event) {
		evs.add(ev)
		mu.Lock()
		defer mu.Unlock()
		sub.Unsubscribe() // from inside the callback: must not deadlock
	})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// A second subscription to the same service shares the polling.
	var other events
	sub2, err := c.Subscribe(ctx, client.Query{Service: "u"}, other.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.RegisterInstance(ctx, client.Registration{Service: "u", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	evs.waitEvent(t, 0, 3*time.Second, "the first event", func(client.Event) bool { return true })
	other.waitEvent(t, 0, 3*time.Second, "the first event of the second", func(client.Event) bool { return true })
	if err := admin.RegisterInstance(ctx, client.Registration{Service: "u", IP: "10.0.0.2", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	other.waitEvent(t, 1, 3*time.Second, "the second event of the second", func(client.Event) bool { return true })
	if got := evs.len(); got != 1 {
		t.Errorf("events after unsubscribing: got %d, want 1", got)
	}

	if got := c.WatchLoops(); got != 1 {
		t.Fatalf("watcher loops while subscribed: got %d, want 1", got)
	}
	sub2.Unsubscribe()
	sub2.Unsubscribe() // twice is harmless
	// The last subscriber gone, the watcher ends and nothing polls any
	// more: at most a poll in flight finishes.
	n := len(rec.requests("/v1/ns/instance/list"))
	waitFor(t, 3*time.Second, "the watcher to end", func() bool { return c.WatchLoops() == 0 })
	if got := len(rec.requests("/v1/ns/instance/list")); got > n+1 {
		t.Errorf("polls after the last unsubscribe: %d, want at most 1", got-n)
	}
}

func TestClient_Subscribe_pollWhenPushLost(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, MaxPollInterval: 200 * time.Millisecond})
	c.DropPushes(true) // every datagram is lost
	ctx := t.Context()
	var evs events
	sub, err := c.Subscribe(ctx, client.Query{Service: "lossy"}, evs.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	polls := len(rec.requests("/v1/ns/instance/list"))
	if err := admin.RegisterInstance(ctx, client.Registration{Service: "lossy", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	evs.waitEvent(t, 0, 3*time.Second, "the change, by poll", func(ev client.Event) bool {
		_, ok := find(ev.Added, "10.0.0.1", 1)
		return ok
	})
	if got := len(rec.requests("/v1/ns/instance/list")); got <= polls {
		t.Errorf("no poll since subscribing, yet the change arrived")
	}
	// The server did push, and the push was lost.
	if st := srv.Pusher().Stats(); st.Pushes == 0 || st.Acks != 0 {
		t.Errorf("push stats: %d pushes, %d acks; want some pushes, no ack", st.Pushes, st.Acks)
	}
	for _, q := range rec.requests("/v1/ns/instance/list") {
		if q.Params.Get("udpPort") == "" || q.Params.Get("udpPort") == "0" || q.Params.Has("clientIP") {
			t.Errorf("list query %v: want udpPort set and no clientIP", q.Params)
		}
	}
}
