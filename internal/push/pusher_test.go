package push_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/server"
	"github.com/pulse-registry/pulse/internal/servertest"
	"github.com/pulse-registry/pulse/internal/wire"
)

const goAgent = "Nacos-Go-Client:v1.1.4"

var srvKey = naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@demo"}

// packet is a received push with its raw size.
type packet struct {
	wire.PushPacket
	size    int
	gzipped bool
	at      time.Time
}

// udpClient is a push receiver on 127.0.0.1 that acks (unless told not to)
// the way nacos-sdk-go does.
type udpClient struct {
	conn     *net.UDPConn
	noAck    atomic.Bool
	ackDelay atomic.Int64 // ns to wait before acking
	packets  chan packet
	done     chan struct{} // closed at clean-up
	wg       sync.WaitGroup
}

func newUDPClient(t *testing.T) *udpClient {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &udpClient{conn: conn, packets: make(chan packet, 1000), done: make(chan struct{})}
	c.wg.Go(func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p, err := wire.DecodePush(buf[:n])
			if err != nil {
				t.Errorf("undecodable push: %v", err)
				continue
			}
			if !c.noAck.Load() {
				ack := wire.AppendAck(nil, p.LastRefTime)
				if d := time.Duration(c.ackDelay.Load()); d > 0 {
					c.wg.Go(func() {
						time.Sleep(d)
						_, _ = conn.WriteToUDPAddrPort(ack, from)
					})
				} else {
					_, _ = conn.WriteToUDPAddrPort(ack, from)
				}
			}
			select { // a test that stopped reading must not block its clean-up
			case c.packets <- packet{PushPacket: p, size: n, gzipped: n > 1 && buf[0] == 0x1f && buf[1] == 0x8b, at: time.Now()}:
			case <-c.done:
				return
			}
		}
	})
	t.Cleanup(func() {
		close(c.done)
		conn.Close()
		c.wg.Wait()
	})
	return c
}

func (c *udpClient) port() int { return c.conn.LocalAddr().(*net.UDPAddr).Port }

// next waits up to 2 s for a push.
func (c *udpClient) next(t *testing.T) packet {
	t.Helper()
	select {
	case p := <-c.packets:
		return p
	case <-time.After(2 * time.Second):
		t.Fatal("no push within 2 s")
		return packet{}
	}
}

// none asserts that no push arrives within d.
func (c *udpClient) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-c.packets:
		t.Fatalf("got an unexpected push: %s", p.Data)
	case <-time.After(d):
	}
}

func call(t *testing.T, method, u string, q url.Values, agent string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if agent != "" {
		req.Header.Set("User-Agent", agent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func register(t *testing.T, srv *servertest.Server, service, ip string, port int, extra ...string) {
	t.Helper()
	q := url.Values{"serviceName": {service}, "ip": {ip}, "port": {strconv.Itoa(port)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	if status, body := call(t, "POST", srv.API+"/v1/ns/instance", q, ""); status != 200 {
		t.Fatalf("register: %d %s", status, body)
	}
}

// subscribe sends the list query that registers a push target and returns
// the decoded answer.
func subscribe(t *testing.T, srv *servertest.Server, service string, c *udpClient, extra ...string) map[string]any {
	t.Helper()
	q := url.Values{"serviceName": {service}, "udpPort": {strconv.Itoa(c.port())}, "clientIP": {"127.0.0.1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	status, body := call(t, "GET", srv.API+"/v1/ns/instance/list", q, goAgent)
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func hostsOf(t *testing.T, data string) []map[string]any {
	t.Helper()
	var m struct {
		Hosts []map[string]any `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("push data is not list JSON: %v: %s", err, data)
	}
	return m.Hosts
}

func pushState(t *testing.T, srv *servertest.Server) wire.PushState {
	t.Helper()
	_, body := call(t, "GET", srv.API+"/v1/ns/operator/push/state", nil, "")
	var st wire.PushState
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls cond for up to 2 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestPush_FirstChange(t *testing.T) {
	// On a fake clock that never moves, a push that needs any wait (Nacos
	// waits 1 s) never goes out: the first change must go at once.
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := servertest.Start(t, servertest.WithClock(fake))
	c := newUDPClient(t)
	register(t, srv, "demo", "10.0.0.1", 1)
	m := subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	if m["cacheMillis"] != float64(10000) {
		t.Errorf("got cacheMillis %v for a push subscriber, want 10000", m["cacheMillis"])
	}
	register(t, srv, "demo", "10.0.0.2", 2)
	p := c.next(t)
	if p.Type != "dom" {
		t.Errorf("got type %q, want dom", p.Type)
	}
	if p.LastRefTime <= 0 || p.LastRefTime > wire.MaxSeq {
		t.Errorf("got sequence %d, want in 1..2^53", p.LastRefTime)
	}
	if hosts := hostsOf(t, p.Data); len(hosts) != 2 {
		t.Errorf("got %d hosts in the push, want 2", len(hosts))
	}
	eventually(t, "the ack to be counted", func() bool { return pushState(t, srv).Acks == 1 })
	st := pushState(t, srv)
	if st.Total != 1 || st.Succeed != 1 || st.Retries != 0 || st.Targets != 1 {
		t.Errorf("got %+v", st)
	}

	// A second change within the merge window waits for its end, then goes
	// out as one trailing push of the latest state.
	register(t, srv, "demo", "10.0.0.3", 3)
	register(t, srv, "demo", "10.0.0.4", 4)
	c.none(t, 100*time.Millisecond)
	fake.Advance(push.DefaultConfig().MergeWindow)
	if p := c.next(t); len(hostsOf(t, p.Data)) != 4 {
		t.Errorf("trailing push: got %d hosts, want the latest 4", len(hostsOf(t, p.Data)))
	}
	c.none(t, 100*time.Millisecond)
}

func TestPush_DataMatchesTheTargetsQuery(t *testing.T) {
	srv := servertest.Start(t)
	register(t, srv, "demo", "10.0.0.1", 1, "clusterName", "a")
	register(t, srv, "demo", "10.0.0.2", 2, "clusterName", "b", "healthy", "false")
	tests := []struct {
		name   string
		extra  []string
		agent  string
		hosts  int
		dom    string
		echoed string
	}{
		{"all clusters", nil, goAgent, 3, "demo", ""},
		{"one cluster, echoed", []string{"clusters", "b"}, goAgent, 2, "demo", "b"},
		{"healthy only", []string{"healthyOnly", "true"}, goAgent, 2, "demo", ""},
		{"java agent gets grouped names", []string{"clusters", "a,,b"}, "Nacos-Java-Client:v1.4.1", 3, "DEFAULT_GROUP@@demo", "a,,b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newUDPClient(t)
			q := url.Values{"serviceName": {"DEFAULT_GROUP@@demo"}, "udpPort": {strconv.Itoa(c.port())}, "clientIP": {"127.0.0.1"}}
			for i := 0; i+1 < len(tt.extra); i += 2 {
				q.Set(tt.extra[i], tt.extra[i+1])
			}
			_, _ = call(t, "GET", srv.API+"/v1/ns/instance/list", q, tt.agent)
			register(t, srv, "demo", "10.0.0.3", 3, "clusterName", "b")
			defer call(t, "DELETE", srv.API+"/v1/ns/instance", url.Values{"serviceName": {"demo"}, "ip": {"10.0.0.3"}, "port": {"3"}, "clusterName": {"b"}}, "")
			// A push of the previous subtest's clean-up may come first.
			p := c.next(t)
			for !strings.Contains(p.Data, `10.0.0.3`) {
				p = c.next(t)
			}
			// The push must carry what the same query answers now, but for
			// cacheMillis and the volatile checksum.
			_, body := call(t, "GET", srv.API+"/v1/ns/instance/list", q, tt.agent)
			var want, got map[string]any
			_ = json.Unmarshal([]byte(body), &want)
			if err := json.Unmarshal([]byte(p.Data), &got); err != nil {
				t.Fatal(err)
			}
			if got["dom"] != tt.dom || got["clusters"] != tt.echoed || len(got["hosts"].([]any)) != tt.hosts {
				t.Errorf("got dom %v clusters %q hosts %d; want %s %q %d", got["dom"], got["clusters"], len(got["hosts"].([]any)), tt.dom, tt.echoed, tt.hosts)
			}
			for _, k := range []string{"name", "clusters", "hosts", "lastRefTime", "dom", "reachProtectionThreshold"} {
				if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
					t.Errorf("%s: push has %v, list has %v", k, got[k], want[k])
				}
			}
		})
	}
}

func TestPush_Gzip(t *testing.T) {
	srv := servertest.Start(t)
	c := newUDPClient(t)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	register(t, srv, "demo", "10.0.0.1", 1)
	if p := c.next(t); p.gzipped || p.size >= wire.GzipThreshold {
		t.Errorf("small push: got gzipped=%v size=%d, want plain under %d bytes", p.gzipped, p.size, wire.GzipThreshold)
	}
	register(t, srv, "demo", "10.0.0.2", 2, "metadata", `{"pad":"`+strings.Repeat("x", 1200)+`"}`)
	p := c.next(t)
	if !p.gzipped || p.size > wire.MaxDatagram {
		t.Errorf("large push: got gzipped=%v size=%d, want gzipped within %d bytes", p.gzipped, p.size, wire.MaxDatagram)
	}
	if len(hostsOf(t, p.Data)) != 2 {
		t.Error("gzipped push did not decode to the service")
	}
}

func TestPush_TooLargeIsSkipped(t *testing.T) {
	srv := servertest.Start(t)
	c := newUDPClient(t)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	// Random-looking metadata does not compress: the push cannot fit.
	var b strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&b, "%08x", uint32(i)*2654435761)
	}
	register(t, srv, "demo", "10.0.0.1", 1, "metadata", `{"pad":"`+b.String()+`"}`)
	c.none(t, 200*time.Millisecond)
	eventually(t, "the skip to be counted", func() bool { return pushState(t, srv).TooLarge == 1 })
	if st := pushState(t, srv); st.Total != 0 {
		t.Errorf("got %d pushes sent, want 0", st.Total)
	}
}

func TestPush_BurstIsMerged(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.Push.MergeWindow = 50 * time.Millisecond }))
	c := newUDPClient(t)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	start := time.Now()
	for i := range 100 {
		register(t, srv, "demo", "10.0.0.1", i)
	}
	burst := time.Since(start)
	// Wait for the trailing push to settle, then count.
	var got []packet
	timeout := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case p := <-c.packets:
			got = append(got, p)
			done = len(hostsOf(t, p.Data)) == 100
		case <-timeout:
			t.Fatalf("no push carried all 100 instances; got %d pushes", len(got))
		}
	}
	c.none(t, 150*time.Millisecond)
	// One leading push, then at most one trailing push per window.
	limit := 2 + int(burst/(50*time.Millisecond))
	if len(got) > limit {
		t.Errorf("got %d pushes for a burst of 100 changes in %v, want at most %d", len(got), burst, limit)
	}
	t.Logf("100 changes in %v gave %d pushes", burst, len(got))
}

func TestPush_NoAckMeansBoundedResends(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Push.AckTimeout = 20 * time.Millisecond
		c.Push.MaxRetries = 2
	}))
	c := newUDPClient(t)
	c.noAck.Store(true)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	register(t, srv, "demo", "10.0.0.1", 1)
	first := c.next(t)
	for range 2 {
		if p := c.next(t); p.LastRefTime != first.LastRefTime {
			t.Errorf("resend carries sequence %d, want %d", p.LastRefTime, first.LastRefTime)
		}
	}
	c.none(t, 300*time.Millisecond) // waits of 80 then 160 ms (4 times the floor, doubling), then give up
	eventually(t, "the failure to be counted", func() bool { return pushState(t, srv).Failed == 1 })
	if st := pushState(t, srv); st.Retries != 2 || st.Total != 1 || st.WaitingAck != 0 {
		t.Errorf("got %+v, want 1 push, 2 retries, nothing waiting", st)
	}
}

func TestPush_OldAckDoesNotCancelNewerPush(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Push.AckTimeout = 30 * time.Millisecond
		c.Push.MergeWindow = 0
	}))
	c := newUDPClient(t)
	c.noAck.Store(true)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	register(t, srv, "demo", "10.0.0.1", 1)
	old := c.next(t)
	register(t, srv, "demo", "10.0.0.2", 2)
	newer := c.next(t)
	for newer.LastRefTime == old.LastRefTime { // a resend of the old one
		newer = c.next(t)
	}
	// Ack the old push only: the newer one must still be resent.
	pushAddr := srv.PushAddr()
	if _, err := c.conn.WriteToUDPAddrPort(wire.AppendAck(nil, old.LastRefTime), pushAddr); err != nil {
		t.Fatal(err)
	}
	for {
		p := c.next(t)
		if p.LastRefTime == newer.LastRefTime {
			break // resent
		}
	}
	if st := pushState(t, srv); st.Superseded != 1 {
		t.Errorf("got %d superseded, want 1", st.Superseded)
	}
}

func TestPush_AckForms(t *testing.T) {
	// Java and Go send lastRefTime as a string, C# and Node as a number.
	for _, form := range []string{`{"type":"push-ack","lastRefTime":"%d","data":""}`, `{"type":"push-ack","lastRefTime":%d,"data":""}`} {
		srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.Push.AckTimeout = time.Second }))
		c := newUDPClient(t)
		c.noAck.Store(true)
		subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
		register(t, srv, "demo", "10.0.0.1", 1)
		p := c.next(t)
		if _, err := c.conn.WriteToUDPAddrPort([]byte(fmt.Sprintf(form, p.LastRefTime)), srv.PushAddr()); err != nil {
			t.Fatal(err)
		}
		eventually(t, "ack "+form, func() bool { return pushState(t, srv).Acks == 1 })
	}
}

func TestPush_SlowTargetDoesNotDelayOthers(t *testing.T) {
	// The clock never moves: the dead target's pushes stay unacked and are
	// never resent, and the live target must get every change regardless.
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := servertest.Start(t, servertest.WithClock(fake), servertest.WithConfig(func(c *server.Config) { c.Push.MergeWindow = 0 }))
	dead := newUDPClient(t)
	dead.noAck.Store(true)
	live := newUDPClient(t)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", dead)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", live)
	for i := range 5 {
		register(t, srv, "demo", "10.0.0.1", i)
		if p := live.next(t); len(hostsOf(t, p.Data)) != i+1 {
			t.Fatalf("change %d: got %d hosts, want %d", i, len(hostsOf(t, p.Data)), i+1)
		}
	}
	// The live target's last push is acked; only the dead one's waits.
	eventually(t, "only the dead target's push to wait", func() bool { return pushState(t, srv).WaitingAck == 1 })
	st := pushState(t, srv)
	if st.Targets != 2 || st.Superseded < 4 || st.Retries != 0 || st.Failed != 0 {
		t.Errorf("got %+v, want 2 targets, the dead one's 4 older pushes superseded, no retry", st)
	}
}

func TestPush_Subscribers(t *testing.T) {
	srv := servertest.Start(t)
	var clients []*udpClient
	for range 3 {
		c := newUDPClient(t)
		clients = append(clients, c)
		subscribe(t, srv, "DEFAULT_GROUP@@demo", c, "app", "shop")
	}
	// An agent Nacos would not push to registers no target.
	q := url.Values{"serviceName": {"demo"}, "udpPort": {"9"}, "clientIP": {"127.0.0.1"}}
	_, body := call(t, "GET", srv.API+"/v1/ns/instance/list", q, "curl/8.0")
	if !strings.Contains(body, `"cacheMillis":3000`) {
		t.Errorf("non-push agent: got %s, want cacheMillis 3000", body)
	}
	_, body = call(t, "GET", srv.API+"/v1/ns/service/subscribers", url.Values{"serviceName": {"demo"}, "pageNo": {"2"}, "pageSize": {"2"}}, "")
	var got wire.Subscribers
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Count != 3 || len(got.Subscribers) != 1 {
		t.Fatalf("got %s, want count 3 and one subscriber on page 2", body)
	}
	s := got.Subscribers[0]
	if s.Agent != goAgent || s.App != "shop" || s.IP != "127.0.0.1" || s.ServiceName != "DEFAULT_GROUP@@demo" || s.NamespaceID != "public" {
		t.Errorf("got %+v", s)
	}
}

func TestPush_SwitchOff(t *testing.T) {
	srv := servertest.Start(t)
	if status, body := call(t, "PUT", srv.API+"/v1/ns/operator/switches", url.Values{"entry": {"pushEnabled"}, "value": {"false"}}, ""); status != 200 {
		t.Fatalf("switch: %d %s", status, body)
	}
	c := newUDPClient(t)
	if m := subscribe(t, srv, "DEFAULT_GROUP@@demo", c); m["cacheMillis"] != float64(3000) {
		t.Errorf("got cacheMillis %v with push off, want 3000", m["cacheMillis"])
	}
	register(t, srv, "demo", "10.0.0.1", 1)
	c.none(t, 100*time.Millisecond)
}

func TestPush_ZombieTargetsExpire(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := servertest.Start(t, servertest.WithClock(fake))
	c := newUDPClient(t)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	fake.Advance(20 * time.Second)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c) // refreshed: still alive at 40 s
	fake.Advance(20 * time.Second)
	if n := len(srv.Pusher().Targets(srvKey)); n != 1 {
		t.Fatalf("got %d targets after a refresh, want 1", n)
	}
	fake.Advance(7 * time.Second) // 27 s since the refresh
	eventually(t, "the zombie to be dropped", func() bool { return pushState(t, srv).Targets == 0 })
	register(t, srv, "demo", "10.0.0.1", 1)
	c.none(t, 100*time.Millisecond)
}

func TestPush_RateLimitPerAddress(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Push.RatePerAddr = 20
		c.Push.BurstPerAddr = 5
		c.Push.MergeWindow = 0
		c.Push.MaxRetries = 0
	}))
	c := newUDPClient(t)
	// One client subscribing to many services from one socket cannot make
	// the server flood its address.
	for i := range 30 {
		subscribe(t, srv, fmt.Sprintf("DEFAULT_GROUP@@s%d", i), c)
	}
	start := time.Now()
	for i := range 30 {
		register(t, srv, fmt.Sprintf("s%d", i), "10.0.0.1", 1)
	}
	n := 0
	for time.Since(start) < 500*time.Millisecond {
		select {
		case <-c.packets:
			n++
		case <-time.After(10 * time.Millisecond):
		}
	}
	if limit := 5 + 20*int(time.Since(start)/time.Second+1); n > limit {
		t.Errorf("got %d packets in %v, want at most %d", n, time.Since(start), limit)
	}
	if pushState(t, srv).RateLimited == 0 {
		t.Error("no send was rate limited")
	}
}

func TestPush_AckTimeoutAdapts(t *testing.T) {
	srv := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.Push.AckTimeout = 30 * time.Millisecond
		c.Push.MergeWindow = 0
	}))
	c := newUDPClient(t)
	c.ackDelay.Store(int64(200 * time.Millisecond)) // a slow client, or a busy server
	subscribe(t, srv, "DEFAULT_GROUP@@demo", c)
	var retriesAfter []int64
	for i := range 6 {
		register(t, srv, "demo", "10.0.0.1", i)
		eventually(t, "the ack", func() bool { return pushState(t, srv).Acks == int64(i+1) })
		retriesAfter = append(retriesAfter, pushState(t, srv).Retries)
	}
	// The first pushes are resent (the initial 120 ms is too short for 200 ms
	// acks); the timeout then follows the acks, and the last pushes go out
	// once.
	if retriesAfter[0] == 0 {
		t.Errorf("the first push was not resent; the test does not test adaptation")
	}
	if late := retriesAfter[5] - retriesAfter[3]; late != 0 {
		t.Errorf("got %d resends for the last two pushes, want 0 (retries after each push: %v)", late, retriesAfter)
	}
}

func TestPush_PushVersionSwitch(t *testing.T) {
	srv := servertest.Start(t)
	c := newUDPClient(t)
	if m := subscribe(t, srv, "DEFAULT_GROUP@@demo", c); m["cacheMillis"] != float64(10000) {
		t.Fatalf("Go client 1.1.4 with the default minimum: got cacheMillis %v, want 10000", m["cacheMillis"])
	}
	if status, body := call(t, "PUT", srv.API+"/v1/ns/operator/switches", url.Values{"entry": {"pushVersion"}, "value": {"go:1.2.0"}}, ""); status != 200 {
		t.Fatalf("switch: %d %s", status, body)
	}
	other := newUDPClient(t)
	if m := subscribe(t, srv, "DEFAULT_GROUP@@demo", other); m["cacheMillis"] != float64(3000) {
		t.Errorf("Go client 1.1.4 below a 1.2.0 minimum: got cacheMillis %v, want 3000 (no push)", m["cacheMillis"])
	}
	if n := len(srv.Pusher().Targets(srvKey)); n != 1 {
		t.Errorf("got %d targets, want only the one from before the switch", n)
	}
}

func TestPush_NoResendWhileAcksComeIn(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := clock.NewFake(t0)
	srv := servertest.Start(t, servertest.WithClock(fake), servertest.WithConfig(func(c *server.Config) {
		c.Push.AckTimeout = 100 * time.Millisecond // the first wait is 4 times this: 400 ms
		c.Push.MergeWindow = 0
	}))
	a, b := newUDPClient(t), newUDPClient(t)
	a.noAck.Store(true)
	b.noAck.Store(true)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", a)
	subscribe(t, srv, "DEFAULT_GROUP@@demo", b)
	register(t, srv, "demo", "10.0.0.1", 1)
	pa, pb := a.next(t), b.next(t)

	// armed waits until the pusher's timer is set for at.
	armed := func(at time.Time) {
		t.Helper()
		eventually(t, fmt.Sprintf("a timer at t0+%v", at.Sub(t0)), func() bool {
			for _, d := range fake.Deadlines() {
				if d.Equal(at) {
					return true
				}
			}
			return false
		})
	}
	armed(t0.Add(400 * time.Millisecond))
	fake.Advance(390 * time.Millisecond)
	// a's ack comes in 10 ms before both pushes are due: acks are flowing.
	if _, err := a.conn.WriteToUDPAddrPort(wire.AppendAck(nil, pa.LastRefTime), srv.PushAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's ack", func() bool { return pushState(t, srv).Acks == 1 })
	fake.Advance(10 * time.Millisecond)
	armed(t0.Add(420 * time.Millisecond)) // b's resend waits for a quiet moment
	b.none(t, 50*time.Millisecond)
	fake.Advance(20 * time.Millisecond)
	if p := b.next(t); p.LastRefTime != pb.LastRefTime {
		t.Errorf("b got sequence %d, want the resend of %d", p.LastRefTime, pb.LastRefTime)
	}
	if st := pushState(t, srv); st.Retries != 1 {
		t.Errorf("got %d resends, want 1 (b's, once acks went quiet)", st.Retries)
	}
}
