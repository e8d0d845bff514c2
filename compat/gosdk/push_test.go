package gosdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/model"
	"github.com/nacos-group/nacos-sdk-go/vo"

	"github.com/pulse-registry/pulse/internal/push"
)

// pushWait bounds the wait for a pushed change to reach a callback. It is
// well under the SDK's poll period (cacheMillis 10 s, plus up to 1 s), so a
// callback within it on a busy machine still cannot come from a poll; the
// list counter below proves it.
const pushWait = 5 * time.Second

// listCounter is an HTTP proxy in front of a server that counts instance
// list queries per serviceName. Pushes do not pass through it (they go from
// the server to the client over UDP), so a change a client learns while the
// count stands still was pushed. It also keeps every request as the client
// sent it. Like the servers, it runs until TestMain ends.
type listCounter struct {
	addr string
	mu   sync.Mutex
	n    map[string]int
	reqs []sentRequest
}

// sentRequest is a request as it reached the proxy.
type sentRequest struct {
	Method, Path, RawQuery, Body string
}

func startListCounter(t *testing.T, api string) *listCounter {
	t.Helper()
	target, err := url.Parse(api)
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lc := &listCounter{addr: ln.Addr().String(), n: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(r.URL.Path, "/instance/list") {
			lc.mu.Lock()
			lc.n[r.URL.Query().Get("serviceName")]++ // counted when sent
			lc.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
		lc.mu.Lock()
		lc.reqs = append(lc.reqs, sentRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body)}) // kept when answered
		lc.mu.Unlock()
	})}
	serversWG.Add(2)
	go func() {
		defer serversWG.Done()
		_ = srv.Serve(ln) // returns when closed below
	}()
	go func() {
		defer serversWG.Done()
		<-servers.Done()
		_ = srv.Close()
	}()
	return lc
}

// requests returns the answered requests whose path ends with suffix.
func (lc *listCounter) requests(suffix string) []sentRequest {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var out []sentRequest
	for _, r := range lc.reqs {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// lists returns how many list queries for grouped went through.
func (lc *listCounter) lists(grouped string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.n[grouped]
}

// callbacks records what a Subscribe callback was given, in order.
type callbacks struct {
	mu  sync.Mutex
	got []string
}

// record is a SubscribeCallback. Each call is kept as the sorted
// "port:healthy" of its instances, or "error: ..." .
func (cb *callbacks) record(services []model.SubscribeService, err error) {
	var s string
	if err != nil {
		s = "error: " + err.Error()
	} else {
		parts := make([]string, 0, len(services))
		for _, x := range services {
			h := "healthy"
			if !x.Healthy {
				h = "unhealthy"
			}
			parts = append(parts, fmt.Sprintf("%d:%s", x.Port, h))
		}
		sort.Strings(parts)
		s = strings.Join(parts, " ")
	}
	cb.mu.Lock()
	cb.got = append(cb.got, s)
	cb.mu.Unlock()
}

func (cb *callbacks) all() []string {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]string(nil), cb.got...)
}

// saw waits up to pushWait for a callback equal to want among those from
// index from on, and fails the test if none comes. Unlike waiting for the
// last callback, it cannot miss a state that lasted only briefly.
func (cb *callbacks) saw(t *testing.T, from int, what, want string) {
	t.Helper()
	if !waitFor(pushWait, func() bool { return slices.Contains(cb.all()[min(from, len(cb.all())):], want) }) {
		t.Fatalf("%s: got callbacks %q since #%d, want one with %s (waited %v)", what, cb.all()[min(from, len(cb.all())):], from, want, pushWait)
	}
}

func (cb *callbacks) count() int { return len(cb.all()) }

func (cb *callbacks) last() string {
	all := cb.all()
	if len(all) == 0 {
		return "(no callback)"
	}
	return all[len(all)-1]
}

// pushStateJSON is the part of /operator/push/state the tests read.
type pushStateJSON struct {
	Total      int64 `json:"total"`
	Succeed    int64 `json:"succeed"`
	Failed     int64 `json:"failed"`
	Targets    int   `json:"targets"`
	WaitingAck int   `json:"waitingAck"`
	TooLarge   int64 `json:"tooLarge"`
	Superseded int64 `json:"superseded"`
}

func TestSDK_SubscribeByPush(t *testing.T) {
	p, reg := begin(t)
	lc := startListCounter(t, p.api)
	sub := newClient(t, lc.addr, clientConfig(""))
	svc, empty, clustered := uniq("push"), uniq("push-empty"), uniq("push-c1")
	grouped := "DEFAULT_GROUP@@" + svc
	register(t, reg, instance(svc, "", "", 7701, 1, true, nil))
	// A cached service that turns up empty makes the SDK log an error, so
	// the cluster subscription starts with an instance.
	register(t, reg, instance(clustered, "", "c1", 7720, 1, true, nil))

	var cb, cbEmpty, cbC1 callbacks
	if err := sub.Subscribe(&vo.SubscribeParam{ServiceName: svc, SubscribeCallback: cb.record}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	// A service nobody registered answers 200 with no hosts, so the SDK
	// keeps the subscription (and registers for push).
	if err := sub.Subscribe(&vo.SubscribeParam{ServiceName: empty, SubscribeCallback: cbEmpty.record}); err != nil {
		t.Fatalf("Subscribe to an empty service: %v", err)
	}
	// The push for a cluster subscription must echo its clusters, or the
	// SDK files it under another key and never calls back.
	if err := sub.Subscribe(&vo.SubscribeParam{ServiceName: clustered, Clusters: []string{"c1"}, SubscribeCallback: cbC1.record}); err != nil {
		t.Fatalf("Subscribe to cluster c1: %v", err)
	}
	s, err := sub.GetService(vo.GetServiceParam{ServiceName: svc})
	if err != nil || s.CacheMillis != 10000 {
		t.Fatalf("GetService: got cacheMillis %d, %v; want 10000 (subscribed for push)", s.CacheMillis, err)
	}
	eventually(t, pushWait, "first callback", "7701:healthy", cb.last)

	// deliver makes a change and expects the callback to see it without the
	// SDK having polled: it polls only cacheMillis (10 s) after its last
	// update, so everything here happens well before its next poll.
	deliver := func(what string, cb *callbacks, grouped string, want string, change func()) {
		t.Helper()
		before := lc.lists(grouped)
		start := time.Now()
		change()
		eventually(t, pushWait, what, want, cb.last)
		if n := lc.lists(grouped); n != before {
			t.Errorf("%s: the SDK polled (%d list queries, want %d): not delivered by push", what, n, before)
		}
		t.Logf("%s: delivered %v after the change", what, time.Since(start).Round(time.Millisecond))
	}
	// Persistent: no beat can race with the deregistration (see
	// TestSDK_DeregisterInstance).
	deliver("register", &cb, grouped, "7701:healthy 7702:healthy", func() {
		register(t, reg, instance(svc, "", "", 7702, 1, false, nil))
	})
	deliver("deregister", &cb, grouped, "7701:healthy", func() {
		ok, err := reg.DeregisterInstance(vo.DeregisterInstanceParam{Ip: "127.0.0.1", Port: 7702, ServiceName: svc, Ephemeral: false})
		if err != nil || !ok {
			t.Fatalf("DeregisterInstance: got %v, %v", ok, err)
		}
	})
	deliver("register unhealthy", &cb, grouped, "7701:healthy 7703:unhealthy", func() {
		in := instance(svc, "", "", 7703, 1, false, nil)
		in.Healthy = false
		register(t, reg, in)
	})
	deliver("register in an empty service", &cbEmpty, "DEFAULT_GROUP@@"+empty, "7711:healthy", func() {
		register(t, reg, instance(empty, "", "", 7711, 1, true, nil))
	})
	eventually(t, pushWait, "first callback of cluster c1", "7720:healthy", cbC1.last)
	deliver("register in the subscribed cluster", &cbC1, "DEFAULT_GROUP@@"+clustered, "7720:healthy 7721:healthy", func() {
		register(t, reg, instance(clustered, "", "c2", 7722, 1, true, nil))
		register(t, reg, instance(clustered, "", "c1", 7721, 1, true, nil))
	})
	// A service whose answer is over 1 KB is pushed gzipped.
	big := uniq("push-big")
	var cbBig callbacks
	register(t, reg, instance(big, "", "", 7800, 1, false, nil))
	if err := sub.Subscribe(&vo.SubscribeParam{ServiceName: big, SubscribeCallback: cbBig.record}); err != nil {
		t.Fatalf("Subscribe to the big service: %v", err)
	}
	eventually(t, pushWait, "first callback of the big service", "7800:healthy", cbBig.last)
	want := []string{"7800:healthy"}
	for port := 7801; port <= 7830; port++ {
		want = append(want, fmt.Sprintf("%d:healthy", port))
	}
	deliver("register 30 instances", &cbBig, "DEFAULT_GROUP@@"+big, strings.Join(want, " "), func() {
		for port := uint64(7801); port <= 7830; port++ {
			register(t, reg, instance(big, "", "", port, 1, false, map[string]string{"zone": "zone-a", "version": "v1.2.3", "owner": "team-compat"}))
		}
	})
	var l listJSON
	if err := getJSON(p.api, "/v1/ns/instance/list", urlValues("serviceName", "DEFAULT_GROUP@@"+big), &l); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(l); len(b) < 1024 {
		t.Errorf("big service: answer of %d bytes, want over 1024 to be gzipped", len(b))
	}

	if got := cbEmpty.all(); len(got) != 2 || !strings.HasPrefix(got[0], "error: ") {
		t.Errorf("callbacks of the empty service: got %q, want the SDK's empty-list error, then 7711", got)
	}

	// The SDK acks right after it handled a push: let the last ack land.
	var ps pushStateJSON
	waitFor(2*time.Second, func() bool {
		err = getJSON(p.api, "/v1/ns/operator/push/state", nil, &ps)
		return err != nil || ps.WaitingAck == 0
	})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics(t, p.api)
	// A push still unacked when a newer one for the same target goes out is
	// superseded: that one is acked instead.
	if ps.Total < 6 || ps.TooLarge != 0 || ps.Succeed+ps.Superseded != ps.Total || ps.Failed != 0 || m.TotalPush != ps.Total || m.FailedPush != 0 {
		t.Errorf("push counters: got push/state %+v, metrics totalPush %d failedPush %d; want at least 6 pushes, each acked or superseded, none too large",
			ps, m.TotalPush, m.FailedPush)
	}
}

// subscribersJSON is the part of /service/subscribers the tests read.
type subscribersJSON struct {
	Count       int `json:"count"`
	Subscribers []struct {
		AddrStr     string `json:"addrStr"`
		Agent       string `json:"agent"`
		LastRefTime int64  `json:"lastRefTime"`
	} `json:"subscribers"`
}

// The SDK refreshes its push registration only by polling, every cacheMillis
// (10 s) after its last update; the server drops a target that has not
// refreshed for its zombie timeout (25 s). A subscription that outlives that
// timeout must still get its changes by push.
func TestSDK_PushAfterZombieTimeout(t *testing.T) {
	p, reg := begin(t)
	lc := startListCounter(t, p.api)
	sub := newClient(t, lc.addr, clientConfig(""))
	svc := uniq("idle")
	grouped := "DEFAULT_GROUP@@" + svc
	register(t, reg, instance(svc, "", "", 7901, 1, true, nil))
	var cb callbacks
	if err := sub.Subscribe(&vo.SubscribeParam{ServiceName: svc, SubscribeCallback: cb.record}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	subscribed := time.Now()
	zombie := push.DefaultConfig().ZombieTimeout
	if !waitFor(zombie+15*time.Second, func() bool {
		return time.Since(subscribed) > zombie+time.Second && lc.lists(grouped) >= 3
	}) {
		t.Fatalf("after %v: got %d list queries, want the first and two polls", time.Since(subscribed), lc.lists(grouped))
	}
	var subs subscribersJSON
	if err := getJSON(p.api, "/v1/ns/service/subscribers", urlValues("serviceName", grouped), &subs); err != nil {
		t.Fatal(err)
	}
	if subs.Count != 1 || !strings.HasPrefix(subs.Subscribers[0].Agent, "Nacos-Go-Client") {
		t.Fatalf("subscribers after %v: got %+v, want the SDK", time.Since(subscribed), subs)
	}
	// Polls that bring nothing new must not call back: host lists are
	// compared field by field, so a volatile field would.
	if got := cb.all(); len(got) != 1 {
		t.Errorf("callbacks before any change: got %q, want only the first", got)
	}
	before := lc.lists(grouped)
	register(t, reg, instance(svc, "", "", 7902, 1, true, nil))
	eventually(t, pushWait, "callback after the zombie timeout", "7901:healthy 7902:healthy", cb.last)
	if n := lc.lists(grouped); n != before {
		t.Errorf("the SDK polled (%d list queries, want %d): not delivered by push", n, before)
	}
}
