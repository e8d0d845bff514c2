package client_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/naming"
)

func serviceKey(grouped string) naming.ServiceKey {
	return naming.ServiceKey{Namespace: naming.DefaultNamespace, Name: grouped}
}

func TestNew_config(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  client.Config
		want string // substring of the error; "" for success
	}{
		{"zero value", client.Config{}, ""},
		{"host without port", client.Config{Servers: []string{"localhost"}}, ""},
		{"http prefix", client.Config{Servers: []string{"http://127.0.0.1:8848/"}}, ""},
		{"bad scheme", client.Config{Servers: []string{"ftp://x:1"}}, "scheme"},
		{"bad port", client.Config{Servers: []string{"127.0.0.1:99999"}}, "bad port"},
		{"empty server", client.Config{Servers: []string{" "}}, "empty"},
		{"negative timeout", client.Config{Timeout: -time.Second}, "timeout"},
		{"udp port", client.Config{UDPPort: 70000}, "udp port"},
		{"every error", client.Config{Servers: []string{"ftp://x"}, Timeout: -1}, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				_ = c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestClient_RegisterInstance(t *testing.T) {
	srv := startServer(t)
	owner := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	other := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	ctx := t.Context()

	reg := client.Registration{
		Service: "orders", Group: "shop", Cluster: "east", IP: "10.0.0.5", Port: 8080,
		Weight: 2.5, Metadata: withMeta(map[string]string{"version": "v2"}),
	}
	if err := owner.RegisterInstance(ctx, reg); err != nil {
		t.Fatalf("register: %v", err)
	}
	if got := owner.ActiveBeats(); got != 1 {
		t.Errorf("active beats: got %d, want 1", got)
	}

	q := client.Query{Service: "orders", Group: "shop"}
	list, err := other.Instances(ctx, q)
	if err != nil {
		t.Fatalf("instances: %v", err)
	}
	in, ok := find(list, "10.0.0.5", 8080)
	if !ok || len(list) != 1 {
		t.Fatalf("instances: got %+v, want 10.0.0.5:8080 alone", list)
	}
	if in.Cluster != "east" || in.Weight != 2.5 || !in.Healthy || !in.Enabled || !in.Ephemeral ||
		in.Metadata["version"] != "v2" || in.Service != "shop@@orders" {
		t.Errorf("instance: got %+v", in)
	}
	if got, err := other.Instances(ctx, client.Query{Service: "orders", Group: "shop", Clusters: []string{"west"}}); err != nil || len(got) != 0 {
		t.Errorf("instances of cluster west: got %+v, %v; want none", got, err)
	}
	healthy, err := other.HealthyInstances(ctx, q)
	if err != nil || len(healthy) != 1 {
		t.Errorf("healthy instances: got %+v, %v; want one", healthy, err)
	}
	one, err := other.SelectOne(ctx, q)
	if err != nil || one.Addr() != "10.0.0.5:8080" {
		t.Errorf("select one: got %+v, %v; want 10.0.0.5:8080", one, err)
	}

	// Beats keep it healthy past its heartbeat timeout (1 s).
	registered := time.Now()
	waitFor(t, 5*time.Second, "a beat 1.2 s after registering", func() bool {
		h, err := srv.Registry().Instance(serviceKey("shop@@orders"), "east", "10.0.0.5", 8080)
		if err != nil || !h.Healthy {
			t.Fatalf("instance on the server: got %+v, %v; want healthy", h, err)
		}
		return h.LastBeat.Sub(registered) > 1200*time.Millisecond
	})

	if err := owner.DeregisterInstance(ctx, reg); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if got := owner.ActiveBeats(); got != 0 {
		t.Errorf("active beats after deregister: got %d, want 0", got)
	}
	list, err = other.Instances(ctx, q)
	if err != nil || len(list) != 0 {
		t.Errorf("instances after deregister: got %+v, %v; want none", list, err)
	}
}

func TestClient_RegisterInstance_persistent(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	reg := client.Registration{Service: "db", IP: "10.0.0.9", Port: 5432, Persistent: true}
	if err := c.RegisterInstance(t.Context(), reg); err != nil {
		t.Fatalf("register: %v", err)
	}
	if got := c.ActiveBeats(); got != 0 {
		t.Errorf("active beats: got %d, want 0 for a persistent instance", got)
	}
	list, err := c.Instances(t.Context(), client.Query{Service: "db"})
	if err != nil || len(list) != 1 || list[0].Ephemeral {
		t.Fatalf("instances: got %+v, %v; want one persistent instance", list, err)
	}
	if err := c.DeregisterInstance(t.Context(), reg); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if list, _ := c.Instances(t.Context(), client.Query{Service: "db"}); len(list) != 0 {
		t.Errorf("after deregister: got %+v, want none", list)
	}
}

func TestClient_RegisterInstance_invalid(t *testing.T) {
	c := newClient(t, client.Config{Servers: []string{"127.0.0.1:1"}})
	for _, tc := range []struct {
		name string
		reg  client.Registration
		want string
	}{
		{"no service", client.Registration{IP: "1.2.3.4", Port: 1}, "service name"},
		{"no ip", client.Registration{Service: "s", Port: 1}, "IP"},
		{"bad port", client.Registration{Service: "s", IP: "1.2.3.4", Port: -1}, "port"},
		{"bad weight", client.Registration{Service: "s", IP: "1.2.3.4", Weight: 20000}, "weight"},
		{"group mismatch", client.Registration{Service: "a@@s", Group: "b", IP: "1.2.3.4"}, "grouped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.RegisterInstance(t.Context(), tc.reg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestClient_RegisterInstance_serverRejects(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	// Cluster names allow no underscore: the server answers 400.
	err := c.RegisterInstance(t.Context(), client.Registration{Service: "s", Cluster: "bad_name", IP: "1.2.3.4", Port: 1})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Body, "cluster name") {
		t.Fatalf("got %v, want a 400 ServerError about the cluster name", err)
	}
	if got := c.ActiveBeats(); got != 0 {
		t.Errorf("active beats: got %d, want 0 after a failed register", got)
	}
}

func TestClient_UpdateInstance(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	ctx := t.Context()
	reg := client.Registration{Service: "web", IP: "10.0.0.1", Port: 80, Metadata: withMeta(nil)}
	if err := c.RegisterInstance(ctx, reg); err != nil {
		t.Fatalf("register: %v", err)
	}
	reg.Weight = 7
	reg.Metadata = withMeta(map[string]string{"zone": "b"})
	if err := c.UpdateInstance(ctx, reg); err != nil {
		t.Fatalf("update: %v", err)
	}
	list, err := c.Instances(ctx, client.Query{Service: "web"})
	if err != nil || len(list) != 1 || list[0].Weight != 7 || list[0].Metadata["zone"] != "b" {
		t.Fatalf("after update: got %+v, %v; want weight 7 and zone b", list, err)
	}
	if got := c.ActiveBeats(); got != 1 {
		t.Errorf("active beats: got %d, want 1", got)
	}
}

func TestClient_SelectOne(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	ctx := t.Context()
	q := client.Query{Service: "api"}
	if _, err := c.SelectOne(ctx, q); !errors.Is(err, client.ErrNoInstance) {
		t.Fatalf("select from an unknown service: got %v, want ErrNoInstance", err)
	}
	for _, r := range []client.Registration{
		{Service: "api", IP: "10.0.0.1", Port: 1, Weight: 1, Persistent: true},
		{Service: "api", IP: "10.0.0.2", Port: 1, Weight: 3, Persistent: true},
		{Service: "api", IP: "10.0.0.3", Port: 1, Weight: 5, Persistent: true, Disabled: true},
	} {
		if err := c.RegisterInstance(ctx, r); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	// Subscribe so that selections are answered from memory.
	sub, err := c.Subscribe(ctx, q, func(client.Event) {})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Unsubscribe()
	const n = 4000
	counts := map[string]int{}
	for range n {
		in, err := c.SelectOne(ctx, q)
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		counts[in.IP]++
	}
	if counts["10.0.0.3"] != 0 {
		t.Errorf("the disabled instance was selected %d times", counts["10.0.0.3"])
	}
	// Weight 3 of 4: expect 3000, with a standard deviation of about 27.
	if got := counts["10.0.0.2"]; math.Abs(float64(got)-0.75*n) > 200 {
		t.Errorf("weight 3 of 4 selected %d times of %d, want about %d", got, n, 3*n/4)
	}
}

func TestClient_ListServices(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}, Namespace: "dev"})
	ctx := t.Context()
	for _, r := range []client.Registration{
		{Service: "b", IP: "10.0.0.1", Port: 1, Persistent: true},
		{Service: "a", IP: "10.0.0.1", Port: 1, Persistent: true},
		{Service: "c", Group: "other", IP: "10.0.0.1", Port: 1, Persistent: true},
	} {
		if err := c.RegisterInstance(ctx, r); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	got, err := c.ListServices(ctx, "")
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("default group: got %v, %v; want [a b]", got, err)
	}
	got, err = c.ListServices(ctx, "*")
	if err != nil || !slices.Equal(got, []string{"DEFAULT_GROUP@@a", "DEFAULT_GROUP@@b", "other@@c"}) {
		t.Errorf("every group: got %v, %v", got, err)
	}
	public := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	if got, err := public.ListServices(ctx, ""); err != nil || len(got) != 0 {
		t.Errorf("public namespace: got %v, %v; want none", got, err)
	}
}

func TestClient_Close(t *testing.T) {
	srv := startServer(t)
	c, err := client.New(client.Config{Servers: []string{addrOf(srv)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.RegisterInstance(ctx, client.Registration{Service: "x", IP: "10.0.0.1", Port: 1, Metadata: fastMeta}); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, client.Query{Service: "x"}, func(client.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub
	if g := clientGoroutines(); g == "" {
		t.Fatal("no client goroutine while running: the leak check below could not fail")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Close waits: nothing of the client may be left right after it.
	if g := clientGoroutines(); g != "" {
		t.Fatalf("goroutines left after Close:\n%s", g)
	}
	if err := c.RegisterInstance(ctx, client.Registration{Service: "x", IP: "10.0.0.1", Port: 2}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("register after close: got %v, want ErrClosed", err)
	}
	if _, err := c.Subscribe(ctx, client.Query{Service: "x"}, func(client.Event) {}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("subscribe after close: got %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
