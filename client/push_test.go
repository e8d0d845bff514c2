package client_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/wire"
)

// listJSON is an instance-list answer for service with hosts "ip:port",
// each carrying meta.
func listJSON(t testing.TB, service string, lastRefTime int64, meta map[string]string, hosts ...string) []byte {
	t.Helper()
	type host struct {
		IP          string            `json:"ip"`
		Port        int               `json:"port"`
		Weight      float64           `json:"weight"`
		Healthy     bool              `json:"healthy"`
		Enabled     bool              `json:"enabled"`
		Ephemeral   bool              `json:"ephemeral"`
		ClusterName string            `json:"clusterName"`
		ServiceName string            `json:"serviceName"`
		Metadata    map[string]string `json:"metadata"`
	}
	hs := []host{}
	for _, h := range hosts {
		ip, port, _ := strings.Cut(h, ":")
		var p int
		fmt.Sscan(port, &p)
		hs = append(hs, host{ip, p, 1, true, true, true, "DEFAULT", service, meta})
	}
	b, err := json.Marshal(map[string]any{
		"name": service, "clusters": "", "cacheMillis": 10000, "lastRefTime": lastRefTime, "hosts": hs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pusher sends datagrams to a client's push socket, as a server does.
type pusher struct {
	t    testing.TB
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newPusher(t testing.TB, c *client.Client) *pusher {
	t.Helper()
	return newPusherFrom(t, c, net.IPv4(127, 0, 0, 1))
}

// newPusherFrom returns a pusher whose datagrams come from ip, a loopback
// address.
func newPusherFrom(t testing.TB, c *client.Client, ip net.IP) *pusher {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &pusher{t: t, conn: conn, to: net.UDPAddrFromAddrPort(c.PushAddr())}
}

func (p *pusher) send(datagram []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(datagram, p.to); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pusher) push(seq int64, list []byte) []byte {
	p.t.Helper()
	d, err := wire.EncodePush(seq, list)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(d)
	return d
}

// ack reads one datagram back, or returns nil when none comes within d.
func (p *pusher) ack(d time.Duration) []byte {
	p.t.Helper()
	buf := make([]byte, 1<<16)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	if from.Port != p.to.Port {
		p.t.Errorf("ack from port %d, want the push socket's %d", from.Port, p.to.Port)
	}
	return buf[:n]
}

func TestClient_push(t *testing.T) {
	srv := startServer(t)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	ctx := t.Context()
	if err := admin.RegisterInstance(ctx, client.Registration{Service: "p", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	var evs events
	sub, err := c.Subscribe(ctx, client.Query{Service: "p"}, evs.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	evs.waitEvent(t, 0, 3*time.Second, "the first event", func(client.Event) bool { return true })
	p := newPusher(t, c)
	const name = "DEFAULT_GROUP@@p"
	// Far ahead of the server's revisions (ms): its polls count as older.
	base := time.Now().Add(time.Hour).UnixMilli()

	t.Run("push is applied and acked", func(t *testing.T) {
		p.push(7, listJSON(t, name, base, nil, "10.0.0.1:1", "10.0.0.2:1"))
		if got, want := string(p.ack(2*time.Second)), string(wire.AppendAck(nil, 7)); got != want {
			t.Fatalf("ack: got %q, want %q", got, want)
		}
		evs.waitEvent(t, 1, 3*time.Second, "the pushed change", func(ev client.Event) bool {
			return len(ev.Added) == 1 && ev.Added[0].IP == "10.0.0.2"
		})
	})
	t.Run("older data is ignored but acked", func(t *testing.T) {
		p.push(8, listJSON(t, name, base-1, nil, "10.0.0.1:1"))
		if got, want := string(p.ack(2*time.Second)), string(wire.AppendAck(nil, 8)); got != want {
			t.Fatalf("ack: got %q, want %q", got, want)
		}
		// A newer push after it: its event must show only its own change.
		p.push(9, listJSON(t, name, base+1, nil, "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"))
		p.ack(2 * time.Second)
		evs.waitEvent(t, 2, 3*time.Second, "the newer change", func(client.Event) bool { return true })
		ev := evs.all()[2]
		if len(ev.Removed) != 0 || len(ev.Added) != 1 || ev.Added[0].IP != "10.0.0.3" {
			t.Fatalf("event after an older push: got %+v, want only 10.0.0.3 added", ev)
		}
	})
	t.Run("gzipped push", func(t *testing.T) {
		meta := map[string]string{"padding": strings.Repeat("x", 2000)}
		d := p.push(10, listJSON(t, name, base+2, meta, "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"))
		if d[0] != 0x1f || d[1] != 0x8b {
			t.Fatalf("the push is not gzipped; the test needs a larger one")
		}
		if got, want := string(p.ack(2*time.Second)), string(wire.AppendAck(nil, 10)); got != want {
			t.Fatalf("ack: got %q, want %q", got, want)
		}
		evs.waitEvent(t, 3, 3*time.Second, "the gzipped change", func(ev client.Event) bool {
			return len(ev.Modified) == 3 && len(ev.Modified[0].Metadata["padding"]) == 2000
		})
	})
	t.Run("other types", func(t *testing.T) {
		p.send([]byte(`{"type":"weird","data":"","lastRefTime":11}`))
		var ack struct{ Type, LastRefTime string }
		if err := json.Unmarshal(p.ack(2*time.Second), &ack); err != nil || ack.Type != "unknown-ack" || ack.LastRefTime != "11" {
			t.Errorf("ack of an unknown type: got %+v, %v", ack, err)
		}
		// Servers never ask for a dump: the cache is nobody's business.
		p.send([]byte(`{"type":"dump","data":"","lastRefTime":12}`))
		var dump struct{ Type, LastRefTime, Data string }
		if err := json.Unmarshal(p.ack(2*time.Second), &dump); err != nil || dump.Type != "unknown-ack" || dump.LastRefTime != "12" || dump.Data != "" {
			t.Errorf("ack of a dump: got %+v, %v; want an empty unknown-ack", dump, err)
		}
	})
	t.Run("garbage gets no ack", func(t *testing.T) {
		p.send([]byte("not json"))
		if ack := p.ack(300 * time.Millisecond); ack != nil {
			t.Errorf("garbage was acked with %q", ack)
		}
		p.push(13, listJSON(t, name, base+3, nil, "10.0.0.1:1"))
		if ack := p.ack(2 * time.Second); ack == nil {
			t.Fatal("no ack for a push after garbage: the receiver stopped")
		}
	})
}

func TestClient_push_slowCallback(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	ctx := t.Context()
	release := make(chan struct{})
	defer close(release)
	var stuck atomic.Bool
	subA, err := c.Subscribe(ctx, client.Query{Service: "a"}, func(client.Event) {
		stuck.Store(true)
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Unsubscribe()
	var evsB events
	subB, err := c.Subscribe(ctx, client.Query{Service: "b"}, evsB.add)
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Unsubscribe()
	p := newPusher(t, c)
	base := time.Now().Add(time.Hour).UnixMilli()
	p.push(1, listJSON(t, "DEFAULT_GROUP@@a", base, nil, "10.0.0.1:1"))
	if p.ack(2*time.Second) == nil {
		t.Fatal("no ack")
	}
	waitFor(t, 3*time.Second, "the callback of a to be stuck", stuck.Load)
	// Pushes keep being read, acked and delivered while a's callback hangs.
	for i := range 5 {
		seq := int64(100 + i)
		p.push(seq, listJSON(t, "DEFAULT_GROUP@@a", base+int64(i)+1, nil, "10.0.0.1:1", fmt.Sprintf("10.0.1.%d:1", i)))
		if got, want := string(p.ack(2*time.Second)), string(wire.AppendAck(nil, seq)); got != want {
			t.Fatalf("ack %d: got %q, want %q", i, got, want)
		}
		p.push(seq+50, listJSON(t, "DEFAULT_GROUP@@b", base+int64(i), nil, fmt.Sprintf("10.0.2.%d:1", i)))
		if p.ack(2*time.Second) == nil {
			t.Fatalf("no ack for push %d of b", i)
		}
		evsB.waitEvent(t, i, 3*time.Second, "b's event", func(ev client.Event) bool {
			_, ok := find(ev.Instances, fmt.Sprintf("10.0.2.%d", i), 1)
			return ok
		})
	}
}

func TestClient_Subscribe_serverPush(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clientIP string
		byName   bool // the server is configured as localhost
	}{
		{"to the query's source address", "", false},
		{"to the declared client IP", "127.0.0.1", false},
		{"from a server named by host name", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			rec := startRecorder(t, srv.URL)
			admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
			// No MaxPollInterval: the server's 10 s cacheMillis rules, so
			// only a push can bring a change within a second.
			addr := rec.Addr()
			if tc.byName {
				// Pushes are taken from the addresses the name resolves to.
				_, port, _ := strings.Cut(addr, ":")
				addr = "localhost:" + port
			}
			c := newClient(t, client.Config{Servers: []string{addr}, ClientIP: tc.clientIP})
			ctx := t.Context()
			var evs events
			sub, err := c.Subscribe(ctx, client.Query{Service: "live"}, evs.add)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			lists := rec.requests("/v1/ns/instance/list")
			if len(lists) != 1 || !strings.Contains(lists[0].Answer, `"cacheMillis":10000`) {
				t.Fatalf("first list answer: got %+v, want cacheMillis 10000 (push registered)", lists)
			}
			if got := lists[0].Params.Get("clientIP"); got != tc.clientIP {
				t.Errorf("clientIP sent: got %q, want %q", got, tc.clientIP)
			}

			reg := client.Registration{Service: "live", IP: "10.0.0.1", Port: 1, Persistent: true}
			if err := admin.RegisterInstance(ctx, reg); err != nil {
				t.Fatal(err)
			}
			i := evs.waitEvent(t, 0, time.Second, "the pushed registration", func(ev client.Event) bool {
				_, ok := find(ev.Added, "10.0.0.1", 1)
				return ok
			})
			if err := admin.DeregisterInstance(ctx, reg); err != nil {
				t.Fatal(err)
			}
			evs.waitEvent(t, i, time.Second, "the pushed removal", func(ev client.Event) bool {
				_, ok := find(ev.Removed, "10.0.0.1", 1)
				return ok && len(ev.Instances) == 0
			})
			if got := len(rec.requests("/v1/ns/instance/list")); got != 1 {
				t.Errorf("list queries: got %d, want 1: the changes must have come by push", got)
			}
			waitFor(t, 2*time.Second, "the server to count two acks", func() bool {
				return srv.Pusher().Stats().Acks >= 2
			})
		})
	}
}

func TestClient_Subscribe_pushBeforeFirstAnswer(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	ctx := t.Context()
	// Hold the first list answer until the server has pushed a change made
	// after it: the push reaches the client before the answer does.
	var once atomic.Bool
	hold := func(q request) {
		if q.Path != "/v1/ns/instance/list" || !once.CompareAndSwap(false, true) {
			return
		}
		if err := admin.RegisterInstance(ctx, client.Registration{Service: "early", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
			t.Error(err)
			return
		}
		// Not waitFor: this runs on the recorder's goroutine, where
		// t.Fatal must not be called.
		for deadline := time.Now().Add(2 * time.Second); srv.Pusher().Stats().Acks < 1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the server did not push the change")
				return
			}
		}
	}
	rec.after.Store(&hold)
	var evs events
	sub, err := c.Subscribe(ctx, client.Query{Service: "early"}, evs.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	evs.waitEvent(t, 0, time.Second, "the early push applied", func(ev client.Event) bool {
		_, ok := find(ev.Added, "10.0.0.1", 1)
		return ok
	})
	if got := len(rec.requests("/v1/ns/instance/list")); got != 1 {
		t.Errorf("list queries: got %d, want 1: the change must have come by push", got)
	}
}

func TestClient_push_source(t *testing.T) {
	for _, tc := range []struct {
		name string
		any  bool
	}{
		{"only from the servers", false},
		{"from any address", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
			c := newClient(t, client.Config{Servers: []string{addrOf(srv)}, PushFromAny: tc.any})
			ctx := t.Context()
			if err := admin.RegisterInstance(ctx, client.Registration{Service: "src", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
				t.Fatal(err)
			}
			var evs events
			sub, err := c.Subscribe(ctx, client.Query{Service: "src"}, evs.add)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			evs.waitEvent(t, 0, 3*time.Second, "the first event", func(client.Event) bool { return true })
			const name = "DEFAULT_GROUP@@src"
			base := time.Now().Add(time.Hour).UnixMilli()
			server := newPusher(t, c)                               // from 127.0.0.1, the server's address
			stranger := newPusherFrom(t, c, net.IPv4(127, 0, 0, 2)) // from an address no server has

			stranger.push(1, listJSON(t, name, base, nil, "10.0.0.1:1", "10.6.6.6:1"))
			if tc.any {
				if got, want := string(stranger.ack(2*time.Second)), string(wire.AppendAck(nil, 1)); got != want {
					t.Fatalf("ack to the stranger: got %q, want %q", got, want)
				}
				evs.waitEvent(t, 1, 3*time.Second, "the stranger's push", func(ev client.Event) bool {
					_, ok := find(ev.Added, "10.6.6.6", 1)
					return ok
				})
				if got := c.PushesRejected(); got != 0 {
					t.Errorf("pushes rejected: got %d, want 0", got)
				}
				return
			}
			// The receiver reads in order: once the server's push is acked,
			// the stranger's has been handled, and an ack to it would
			// already be waiting.
			server.push(2, listJSON(t, name, base+1, nil, "10.0.0.1:1", "10.0.0.2:1"))
			if got, want := string(server.ack(2*time.Second)), string(wire.AppendAck(nil, 2)); got != want {
				t.Fatalf("ack to the server: got %q, want %q", got, want)
			}
			if ack := stranger.ack(100 * time.Millisecond); ack != nil {
				t.Errorf("the stranger got an ack: %q", ack)
			}
			if got := c.PushesRejected(); got != 1 {
				t.Errorf("pushes rejected: got %d, want 1", got)
			}
			evs.waitEvent(t, 1, 3*time.Second, "the server's push", func(ev client.Event) bool {
				_, ok := find(ev.Added, "10.0.0.2", 1)
				return ok
			})
			for _, ev := range evs.all() {
				if _, ok := find(ev.Instances, "10.6.6.6", 1); ok {
					t.Errorf("the stranger's instance was applied: %+v", ev)
				}
			}
			list, err := c.Instances(ctx, client.Query{Service: "src"})
			if _, ok := find(list, "10.6.6.6", 1); ok || err != nil {
				t.Errorf("instances: got %v, %v; want no 10.6.6.6", addrs(list), err)
			}
		})
	}
}

// Servers are looked up when the socket opens, and again for a datagram
// from an unknown address only when the last lookup is 30 s old.
func TestClient_push_sourceLookups(t *testing.T) {
	c := newClient(t, client.Config{Servers: []string{"127.0.0.1:1"}})
	var now atomic.Int64
	start := time.Now()
	now.Store(start.UnixNano())
	c.SetNow(func() time.Time { return time.Unix(0, now.Load()) })
	stranger := newPusherFrom(t, c, net.IPv4(127, 0, 0, 2))
	waitFor(t, 2*time.Second, "the lookup at open", func() bool { return c.PushSourceLookups() == 1 })
	flood := func(n int, want int64) {
		t.Helper()
		for i := range n {
			stranger.push(int64(i), listJSON(t, "DEFAULT_GROUP@@x", 1, nil))
		}
		waitFor(t, 2*time.Second, "the datagrams to be rejected", func() bool { return c.PushesRejected() == want })
	}
	flood(20, 20)
	if got := c.PushSourceLookups(); got != 1 {
		t.Errorf("lookups after 20 datagrams within 30 s: got %d, want 1", got)
	}
	now.Store(start.Add(31 * time.Second).UnixNano())
	flood(20, 40)
	if got := c.PushSourceLookups(); got != 2 {
		t.Errorf("lookups after 20 datagrams 31 s later: got %d, want 2", got)
	}
}
