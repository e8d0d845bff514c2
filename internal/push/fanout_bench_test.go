package push_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/server"
	"github.com/pulse-registry/pulse/internal/servertest"
	"github.com/pulse-registry/pulse/internal/wire"
)

// receivers is a set of loopback UDP subscribers that ack every packet at
// once and record when each first saw the current round.
type receivers struct {
	conns []*net.UDPConn
	round atomic.Int64
	seen  []atomic.Int64 // round each receiver last saw
	at    []atomic.Int64 // unix ns of that receipt
	done  atomic.Int64
	wg    sync.WaitGroup
}

func newReceivers(b *testing.B, n int) *receivers {
	b.Helper()
	r := &receivers{seen: make([]atomic.Int64, n), at: make([]atomic.Int64, n)}
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			r.close()
			b.Skipf("open %d UDP sockets: %v (raise ulimit -n)", n, err)
		}
		r.conns = append(r.conns, c)
		r.wg.Go(func() { r.serve(i, c) })
	}
	b.Cleanup(r.close)
	return r
}

func (r *receivers) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

var seqKey = []byte(`"lastRefTime":`)

func (r *receivers) serve(i int, c *net.UDPConn) {
	buf := make([]byte, 4096)
	var ack []byte
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		// The envelope ends with "lastRefTime":<seq>}; read just that, as a
		// client would before acking, without decoding the service.
		pkt := buf[:n]
		if k := bytes.LastIndex(pkt, seqKey); k >= 0 {
			seq, _ := strconv.ParseInt(string(bytes.TrimRight(pkt[k+len(seqKey):], "}")), 10, 64)
			ack = wire.AppendAck(ack[:0], seq)
			_, _ = c.WriteToUDPAddrPort(ack, from)
		}
		if cur := r.round.Load(); r.seen[i].Swap(cur) != cur {
			r.at[i].Store(now)
			r.done.Add(1)
		}
	}
}

func (r *receivers) port(i int) int { return r.conns[i].LocalAddr().(*net.UDPAddr).Port }

// wait blocks until every receiver saw the current round and returns the
// sorted delays since start.
func (r *receivers) wait(b *testing.B, start time.Time, want int64) []time.Duration {
	deadline := time.Now().Add(20 * time.Second)
	for r.done.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d receivers got the change within 20 s", r.done.Load(), want)
		}
		time.Sleep(200 * time.Microsecond)
	}
	d := make([]time.Duration, len(r.at))
	for i := range r.at {
		d[i] = time.Duration(r.at[i].Load() - start.UnixNano())
	}
	slices.Sort(d)
	return d
}

func quantile(d []time.Duration, q float64) time.Duration {
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkFanout measures one change pushed to N loopback subscribers:
// from the change (before the register request is sent) to each
// subscriber's receipt, which is when it acks. The baseline sends one
// ready-made datagram to the same subscribers from a plain socket: the cost
// of the UDP fan-out itself on this machine.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("pulse/subscribers=%d", n), func(b *testing.B) { benchPulseFanout(b, n) })
		b.Run(fmt.Sprintf("baseline/subscribers=%d", n), func(b *testing.B) { benchBaselineFanout(b, n) })
	}
}

func report(b *testing.B, all []time.Duration) {
	slices.Sort(all)
	b.ReportMetric(float64(quantile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(quantile(all, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}

func benchPulseFanout(b *testing.B, n int) {
	srv := servertest.Start(b, servertest.WithConfig(func(c *server.Config) {
		c.Push.MaxTargets = n + 10
	}))
	r := newReceivers(b, n)
	q := url.Values{"serviceName": {"DEFAULT_GROUP@@fan"}, "clientIP": {"127.0.0.1"}}
	for i := range n {
		q.Set("udpPort", strconv.Itoa(r.port(i)))
		subscribeQuery(b, srv, q)
	}
	var all []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// A change that comes within the merge window of the previous push
		// is held for the trailing push; measure a first change.
		time.Sleep(push.DefaultConfig().MergeWindow + 5*time.Millisecond)
		round := r.round.Add(1)
		start := time.Now()
		registerQuery(b, srv, url.Values{"serviceName": {"fan"}, "ip": {"10.0.0.1"}, "port": {strconv.Itoa(i + 1)}})
		all = append(all, r.wait(b, start, round*int64(n))...)
	}
	b.StopTimer()
	report(b, all)
	st := srv.Pusher().Stats()
	b.ReportMetric(float64(st.Retries), "retries")
}

func benchBaselineFanout(b *testing.B, n int) {
	r := newReceivers(b, n)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	var wg sync.WaitGroup
	wg.Go(func() { // drain the acks, as the pusher reads them
		buf := make([]byte, 2048)
		for {
			if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	})
	defer func() { conn.Close(); wg.Wait() }()
	addrs := make([]netip.AddrPort, n)
	for i := range n {
		addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(r.port(i)))
	}
	pkt, _ := wire.EncodePush(1, []byte(`{"name":"DEFAULT_GROUP@@fan","hosts":[]}`))
	var all []time.Duration
	b.ResetTimer()
	for b.Loop() {
		round := r.round.Add(1)
		start := time.Now()
		for _, a := range addrs {
			_, _ = conn.WriteToUDPAddrPort(pkt, a)
		}
		all = append(all, r.wait(b, start, round*int64(n))...)
	}
	b.StopTimer()
	report(b, all)
}

// httpClient speaks as nacos-sdk-go, a push-capable agent.
var httpClient = &http.Client{Transport: agentTransport{http.DefaultTransport}}

type agentTransport struct{ rt http.RoundTripper }

func (a agentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", goAgent)
	return a.rt.RoundTrip(r)
}

func subscribeQuery(b *testing.B, srv *servertest.Server, q url.Values) {
	b.Helper()
	resp, err := httpClient.Get(srv.API + "/v1/ns/instance/list?" + q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
}

func registerQuery(b *testing.B, srv *servertest.Server, q url.Values) {
	b.Helper()
	resp, err := httpClient.Post(srv.API+"/v1/ns/instance?"+q.Encode(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("register: %s", resp.Status)
	}
}
