package gosdk

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/vo"

	"github.com/pulse-registry/pulse/internal/naming"
)

// Preserved metadata keys that set an instance's heartbeat timing.
const (
	metaInterval = "preserved.heart.beat.interval"
	metaTimeout  = "preserved.heart.beat.timeout"
	metaDelete   = "preserved.ip.delete.timeout"
)

// slack is how late a server-side transition may be seen: the server acts
// within milliseconds of the deadline, but the test sees it through a poll
// on a machine that may be busy running other tests under the race detector.
const slack = 3 * time.Second

// watched starts a test (see begin) with a service of its own in which
// an in-process client registers a healthy instance on port and subscribes.
// The healthy neighbour keeps the share of healthy instances above the
// protect threshold (0), so a dead instance is served as unhealthy.
func watched(t *testing.T, prefix string, port uint64) (*pulse, string, naming.ServiceKey, *callbacks) {
	t.Helper()
	p, c := begin(t)
	svc := uniq(prefix)
	register(t, c, instance(svc, "", "", port, 1, true, nil))
	cb := &callbacks{}
	if err := c.Subscribe(&vo.SubscribeParam{ServiceName: svc, SubscribeCallback: cb.record}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return p, svc, naming.ServiceKey{Namespace: naming.Namespace(""), Name: naming.Grouped("", svc)}, cb
}

func TestSDK_CrashedClient(t *testing.T) {
	p, svc, key, cb := watched(t, "crash", 7401)

	const timeout, deleteAfter = 2 * time.Second, 4 * time.Second
	meta := map[string]string{
		metaInterval: "300",
		metaTimeout:  fmt.Sprint(timeout.Milliseconds()),
		metaDelete:   fmt.Sprint(deleteAfter.Milliseconds()),
	}
	ch := startChild(t, p.addr(), "", instance(svc, "", "", 7402, 1, true, meta))

	// The child's beats keep its instance alive past its heartbeat timeout.
	first, err := p.Registry().Instance(key, naming.DefaultCluster, "127.0.0.1", 7402)
	if err != nil {
		t.Fatalf("child instance: %v", err)
	}
	var h naming.Host
	if !waitFor(10*time.Second, func() bool {
		h, err = p.Registry().Instance(key, naming.DefaultCluster, "127.0.0.1", 7402)
		return err == nil && h.Healthy && h.LastBeat.Sub(first.LastBeat) > timeout
	}) {
		t.Fatalf("child instance not kept alive by beats: got %+v, %v; first beat at %v", h, err, first.LastBeat)
	}
	if !maps.Equal(h.Metadata.Map(), meta) {
		t.Errorf("child instance metadata: got %v, want %v", h.Metadata.Map(), meta)
	}

	ch.kill()
	killed, since := time.Now(), cb.count()
	var unhealthyAt time.Time
	if !waitFor(timeout+5*time.Second, func() bool {
		h, err = p.Registry().Instance(key, naming.DefaultCluster, "127.0.0.1", 7402)
		unhealthyAt = time.Now()
		return err == nil && !h.Healthy
	}) {
		t.Fatalf("after SIGKILL: got %+v, %v; want the instance unhealthy", h, err)
	}
	lastBeat := h.LastBeat
	if d := unhealthyAt.Sub(lastBeat); d < timeout || d > timeout+slack {
		t.Errorf("unhealthy %v after the last beat, want %v (+%v)", d, timeout, slack)
	}
	// The subscribed client learns it by push: it would poll only 10 s after
	// its last update.
	cb.saw(t, since, "SDK callback after the heartbeat timeout", "7401:healthy 7402:unhealthy")
	var goneAt time.Time
	if !waitFor(deleteAfter+5*time.Second, func() bool {
		_, err = p.Registry().Instance(key, naming.DefaultCluster, "127.0.0.1", 7402)
		goneAt = time.Now()
		return errors.Is(err, naming.ErrInstanceNotFound)
	}) {
		t.Fatalf("after SIGKILL: got %v, want the instance removed", err)
	}
	if d := goneAt.Sub(lastBeat); d < deleteAfter || d > deleteAfter+slack {
		t.Errorf("removed %v after the last beat, want %v (+%v)", d, deleteAfter, slack)
	}
	t.Logf("killed %v after the last beat; unhealthy after %v, removed after %v",
		killed.Sub(lastBeat).Round(time.Millisecond), unhealthyAt.Sub(lastBeat).Round(time.Millisecond), goneAt.Sub(lastBeat).Round(time.Millisecond))

	eventually(t, pushWait, "SDK callback after the delete timeout", "7401:healthy", cb.last)
	t.Logf("callbacks: %q", cb.all())
	ch.checkLog(t, nil)
}

// isConnError accepts the SDK's error lines about a request that could not
// reach the server, which is what a client sees while its server restarts.
func isConnError(line string) bool {
	for _, s := range []string{"connection refused", "connection reset by peer", "EOF", "server closed idle connection"} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func TestSDK_ServerRestart(t *testing.T) {
	t.Parallel()
	srv := runPulse(t, "127.0.0.1:0")
	ns, svcA, svcB := uniq("ns-restart"), uniq("restart-a"), uniq("restart-b")
	metaA := maps.Clone(trickyMeta)
	metaA[metaInterval], metaA["role"] = "300", "a"
	a := instance(svcA, "G-r", "c1", 7501, 3, true, metaA)
	b := instance(svcB, "", "", 7502, 2, true, map[string]string{metaInterval: "300", "role": "b"})
	childA := startChild(t, srv.addr, "", a)
	childB := startChild(t, srv.addr, ns, b)

	// describe lists an instance the way the server has it, or "".
	describe := func(api, namespace, grouped string) string {
		var l listJSON
		if err := getJSON(api, "/v1/ns/instance/list", urlValues("namespaceId", namespace, "serviceName", grouped), &l); err != nil {
			return err.Error()
		}
		var out []string
		for _, h := range l.Hosts {
			out = append(out, fmt.Sprintf("%s:%d cluster=%s weight=%g healthy=%v ephemeral=%v role=%s",
				h.IP, h.Port, h.ClusterName, h.Weight, h.Healthy, h.Ephemeral, h.Metadata["role"]))
		}
		return strings.Join(out, "; ")
	}
	wantA := "127.0.0.1:7501 cluster=c1 weight=3 healthy=true ephemeral=true role=a"
	wantB := "127.0.0.1:7502 cluster=DEFAULT weight=2 healthy=true ephemeral=true role=b"
	eventually(t, 5*time.Second, "A before the restart", wantA, func() string { return describe(srv.api, "", "G-r@@"+svcA) })
	eventually(t, 5*time.Second, "B before the restart", wantB, func() string { return describe(srv.api, ns, "DEFAULT_GROUP@@"+svcB) })

	srv.stop(t)
	srv2 := runPulse(t, srv.addr)
	// The new process starts empty; only the beats, which carry the whole
	// instance, can bring the instances back: the SDK never re-registers.
	eventually(t, 5*time.Second, "A after the restart", wantA, func() string { return describe(srv2.api, "", "G-r@@"+svcA) })
	eventually(t, 5*time.Second, "B after the restart", wantB, func() string { return describe(srv2.api, ns, "DEFAULT_GROUP@@"+svcB) })
	var l listJSON
	if err := getJSON(srv2.api, "/v1/ns/instance/list", urlValues("serviceName", "G-r@@"+svcA), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Hosts) != 1 || !maps.Equal(l.Hosts[0].Metadata, metaA) {
		t.Errorf("A's metadata after the restart: got %+v, want %v", l.Hosts, metaA)
	}
	if m := metrics(t, srv2.api); m.RegisterCount != 0 || m.InstanceCount != 2 {
		t.Errorf("restarted server: got %d registrations and %d instances, want 0 and 2 (restored by beats)", m.RegisterCount, m.InstanceCount)
	}
	childA.kill()
	childB.kill()
	childA.checkLog(t, isConnError)
	childB.checkLog(t, isConnError)
}

// A client that stops beating for a while (a long GC pause, a network
// blip) comes back: after the heartbeat timeout its next beat makes it
// healthy again, and after the delete timeout its next beat re-creates it
// from the beat's body, since the SDK never registers again.
func TestSDK_PausedClient(t *testing.T) {
	p, svc, key, cb := watched(t, "pause", 7451)
	meta := map[string]string{metaInterval: "300", metaTimeout: "1500", metaDelete: "4000", "role": "paused"}
	ch := startChild(t, p.addr(), "", instance(svc, "", "c1", 7452, 2, true, meta))
	eventually(t, pushWait, "callback with the child", "7451:healthy 7452:healthy", cb.last)
	state := func() string {
		h, err := p.Registry().Instance(key, "c1", "127.0.0.1", 7452)
		switch {
		case errors.Is(err, naming.ErrInstanceNotFound), errors.Is(err, naming.ErrClusterNotFound):
			return "gone"
		case err != nil:
			return err.Error()
		case h.Healthy:
			return "healthy"
		}
		return "unhealthy"
	}

	for _, pause := range []struct {
		past, state, seen string
		within            time.Duration
	}{
		{"heartbeat timeout", "unhealthy", "7451:healthy 7452:unhealthy", 1500*time.Millisecond + slack},
		{"delete timeout", "gone", "7451:healthy", 4*time.Second + slack},
	} {
		since := cb.count()
		ch.signal(t, syscall.SIGSTOP)
		eventually(t, pause.within, "paused past the "+pause.past, pause.state, state)
		cb.saw(t, since, "callback after the "+pause.past, pause.seen)
		ch.signal(t, syscall.SIGCONT)
		eventually(t, pushWait, "resumed after the "+pause.past, "healthy", state)
		eventually(t, pushWait, "callback after resuming", "7451:healthy 7452:healthy", cb.last)
	}
	h, _ := p.Registry().Instance(key, "c1", "127.0.0.1", 7452)
	if !maps.Equal(h.Metadata.Map(), meta) || h.Weight != 2 {
		t.Errorf("re-created instance: got weight %v metadata %v, want 2 and %v", h.Weight, h.Metadata.Map(), meta)
	}
	ch.kill()
	ch.checkLog(t, nil)
}
