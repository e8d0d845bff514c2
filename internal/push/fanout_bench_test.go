package push_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/loadgen"
	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/server"
	"github.com/pulse-registry/pulse/internal/servertest"
)

// fanout is a server with n subscribers of one service of fanoutHosts
// instances, shared by a size's two sub-benchmarks.
type fanout struct {
	srv    *servertest.Server
	r      *loadgen.Receivers
	rounds int // changes made so far
}

const fanoutHosts = 10

// fanoutMeta keeps the instances alive through a long run (nothing beats
// them) and carries a round number of constant width: a change alters the
// service without changing its size.
func fanoutMeta(round int) string {
	return fmt.Sprintf(`{"preserved.heart.beat.timeout":"3600000","preserved.ip.delete.timeout":"3600000","round":"%06d"}`, round%1_000_000)
}

func startFanout(b *testing.B, n int) *fanout {
	srv := servertest.Start(b, servertest.WithConfig(func(c *server.Config) {
		c.Push.MaxTargets = n + 10
		c.Push.ZombieTimeout = time.Hour // subscribed once, never refreshed
	}))
	r, err := loadgen.NewReceivers(n)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(r.Close)
	for i := range fanoutHosts {
		registerQuery(b, srv, url.Values{"serviceName": {"fan"}, "ip": {fmt.Sprintf("10.0.0.%d", i+1)}, "port": {"8080"}, "metadata": {fanoutMeta(0)}})
	}
	q := url.Values{"serviceName": {"DEFAULT_GROUP@@fan"}, "clientIP": {"127.0.0.1"}}
	for i := range n {
		q.Set("udpPort", strconv.Itoa(r.Port(i)))
		subscribeQuery(b, srv, q)
	}
	return &fanout{srv: srv, r: r}
}

// change re-registers an instance with new metadata of the same size and
// returns each subscriber's delay from just before the request to its
// receipt of the push, sorted.
func (f *fanout) change(b *testing.B) []time.Duration {
	f.rounds++
	f.r.Next()
	start := time.Now()
	registerQuery(b, f.srv, url.Values{"serviceName": {"fan"}, "ip": {"10.0.0.1"}, "port": {"8080"}, "metadata": {fanoutMeta(f.rounds)}})
	d, err := f.r.Wait(b.Context(), start, 20*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkFanout measures one change pushed to N loopback subscribers:
// from the change (before the request that makes it is sent) to each
// subscriber's receipt, which is when it acks (p50, p99, max over every
// receipt; round-p50 is the median round's time until every subscriber had
// it). The service keeps its 10 instances and its size; a change alters one
// instance's metadata. The baseline sends the same subscribers the very
// datagram of the last push from a plain socket that reads their acks: the
// cost of the UDP fan-out itself on this machine. Both wait out the merge
// window before a round.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			f := startFanout(b, n)
			b.Run("pulse", f.benchPulse)
			b.Run("baseline", f.benchBaseline)
		})
	}
}

// pause lets the acks of a round drain and, on the Pulse side, makes the
// next change a first (leading-edge) one: a change within the merge window
// of the previous push is held for the trailing push.
func pause() { time.Sleep(push.DefaultConfig().MergeWindow + 5*time.Millisecond) }

func (f *fanout) benchPulse(b *testing.B) {
	var st stats
	before := f.srv.Pusher().Stats().Retries
	for b.Loop() {
		pause()
		st.add(f.change(b))
	}
	st.report(b, len(f.r.Last()))
	b.ReportMetric(float64(f.srv.Pusher().Stats().Retries-before), "retries")
}

func (f *fanout) benchBaseline(b *testing.B) {
	if f.rounds == 0 {
		pause()
		f.change(b) // a push to copy
	}
	pkt := f.r.Last()
	s, err := loadgen.NewRawSender()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var st stats
	for b.Loop() {
		pause()
		d, err := s.Round(b.Context(), pkt, f.r, 20*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		st.add(d)
	}
	st.report(b, len(pkt))
}

// stats collects the receipt delays of every round, and each round's
// slowest: the time until every subscriber had the change.
type stats struct {
	all    loadgen.Hist
	rounds []time.Duration
}

func (st *stats) add(sorted []time.Duration) {
	for _, x := range sorted {
		st.all.Observe(x)
	}
	st.rounds = append(st.rounds, sorted[len(sorted)-1])
}

func (st *stats) report(b *testing.B, datagram int) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	slices.Sort(st.rounds)
	b.ReportMetric(ms(st.all.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(st.all.Quantile(0.99)), "p99-ms")
	b.ReportMetric(ms(st.all.Max()), "max-ms")
	b.ReportMetric(ms(st.rounds[len(st.rounds)/2]), "round-p50-ms")
	b.ReportMetric(float64(datagram), "B/datagram")
	b.ReportMetric(0, "ns/op")
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
	if resp.StatusCode != 200 {
		b.Fatalf("subscribe: %s", resp.Status)
	}
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
