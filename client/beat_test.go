package client_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/server"
	"github.com/pulse-registry/pulse/internal/servertest"
)

// beatBody decodes the "beat" parameter of a full beat.
func beatBody(t testing.TB, q request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(q.Params.Get("beat")), &m); err != nil {
		t.Fatalf("beat body %q: %v", q.Params.Get("beat"), err)
	}
	return m
}

// checkSpacing fails when two consecutive beats started less than min
// apart: one loop waits the interval after each answer, two loops would not.
func checkSpacing(t testing.TB, beats []request, min time.Duration) {
	t.Helper()
	for i := 1; i < len(beats); i++ {
		if gap := beats[i].Start.Sub(beats[i-1].End); gap < min {
			t.Errorf("beat %d started %v after the previous one ended, want at least %v", i, gap, min)
		}
	}
}

func TestClient_Beat_firstAtOnce(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	// A 60 s interval: a first beat that waited for it would not come in time.
	meta := map[string]string{"preserved.heart.beat.interval": "60000"}
	if err := c.RegisterInstance(t.Context(), client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the first beat", func() bool { return len(rec.beatsOf("10.0.0.1", 1)) == 1 })
	b := rec.beatsOf("10.0.0.1", 1)[0]
	if got := rec.requests("/v1/ns/instance"); len(got) != 1 || got[0].Method != "POST" || got[0].End.After(b.Start) {
		t.Errorf("the beat should follow the registration: got requests %+v", got)
	}
	if !strings.Contains(b.Answer, `"clientBeatInterval":60000`) {
		t.Errorf("beat answer %s: want clientBeatInterval 60000", b.Answer)
	}
}

func TestClient_Beat_light(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	reg := client.Registration{Service: "s", Group: "g", Cluster: "c1", IP: "10.0.0.1", Port: 7, Weight: 2, Metadata: withMeta(map[string]string{"k": "v"})}
	if err := c.RegisterInstance(t.Context(), reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "five beats", func() bool { return len(rec.beatsOf("10.0.0.1", 7)) >= 5 })
	beats := rec.beatsOf("10.0.0.1", 7)

	first := beats[0]
	body := beatBody(t, first)
	if body["ip"] != "10.0.0.1" || body["port"] != 7.0 || body["weight"] != 2.0 || body["serviceName"] != "g@@s" ||
		body["cluster"] != "c1" || body["metadata"].(map[string]any)["k"] != "v" {
		t.Errorf("first beat body: got %v", body)
	}
	if !strings.Contains(first.Answer, `"lightBeatEnabled":true`) {
		t.Fatalf("first beat answer %s: want lightBeatEnabled true", first.Answer)
	}
	for i, b := range beats[1:] {
		if b.Params.Has("beat") {
			t.Errorf("beat %d carries a body after lightBeatEnabled: %s", i+1, b.Params.Get("beat"))
		}
		if b.Params.Get("ip") != "10.0.0.1" || b.Params.Get("port") != "7" || b.Params.Get("clusterName") != "c1" ||
			b.Params.Get("serviceName") != "g@@s" {
			t.Errorf("light beat %d params: got %v", i+1, b.Params)
		}
		if !strings.Contains(b.Answer, `"code":10200`) {
			t.Errorf("light beat %d answer: got %s, want code 10200", i+1, b.Answer)
		}
	}
	// The server asked for 200 ms (clientBeatInterval): the loop waits that
	// long after each answer.
	checkSpacing(t, beats, 150*time.Millisecond)
}

// startBeating registers 10.0.0.1:1 through a recorder and waits for two
// beats.
func startBeating(t *testing.T) (*client.Client, *recorder, client.Registration) {
	t.Helper()
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	reg := client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Metadata: withMeta(nil)}
	if err := c.RegisterInstance(t.Context(), reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "two beats", func() bool { return len(rec.beatsOf("10.0.0.1", 1)) >= 2 })
	return c, rec, reg
}

func TestClient_Beat_replace(t *testing.T) {
	c, rec, reg := startBeating(t)
	ctx := t.Context()

	reg.Weight = 3
	if err := c.RegisterInstance(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if got := c.ActiveBeats(); got != 1 {
		t.Errorf("active beats after registering twice: got %d, want 1", got)
	}
	// The old loop ends (after its beat in flight, if any) before the new
	// one starts.
	waitFor(t, 3*time.Second, "one beat loop", func() bool { return c.BeatLoops() == 1 })
	posts := rec.requests("/v1/ns/instance")
	second := posts[len(posts)-1].End
	waitFor(t, 5*time.Second, "five beats of the new record", func() bool {
		n := 0
		for _, b := range rec.beatsOf("10.0.0.1", 1) {
			if b.Start.After(second) {
				n++
			}
		}
		return n >= 5
	})
	var after []request
	for _, b := range rec.beatsOf("10.0.0.1", 1) {
		if b.Start.After(second) {
			after = append(after, b)
		}
	}
	// The new record starts with a full beat that carries the new weight.
	var firstFull *request
	for i := range after {
		if after[i].Params.Has("beat") {
			firstFull = &after[i]
			break
		}
	}
	if firstFull == nil || beatBody(t, *firstFull)["weight"] != 3.0 {
		t.Fatalf("no full beat with weight 3 after re-registering: %+v", after)
	}
	var newBeats []request
	for _, b := range after {
		if !b.Start.Before(firstFull.Start) {
			newBeats = append(newBeats, b)
		}
	}
	checkSpacing(t, newBeats, 150*time.Millisecond)
	if got := c.BeatLoops(); got != 1 {
		t.Errorf("beat loops: got %d, want 1", got)
	}
}

func TestClient_DeregisterInstance_stopsBeatsFirst(t *testing.T) {
	c, rec, reg := startBeating(t)
	ctx := t.Context()

	// Hold the next beat at the server for 400 ms, and deregister while it
	// is in flight.
	inFlight := make(chan struct{})
	var once sync.Once
	slow := func(q request) {
		if q.Path == "/v1/ns/instance/beat" {
			once.Do(func() { close(inFlight) })
			time.Sleep(400 * time.Millisecond)
		}
	}
	rec.delay.Store(&slow)
	<-inFlight
	if err := c.DeregisterInstance(ctx, reg); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if got, loops := c.ActiveBeats(), c.BeatLoops(); got != 0 || loops != 0 {
		t.Fatalf("after deregister: %d beats, %d loops; want none", got, loops)
	}
	var del request
	for _, q := range rec.requests("/v1/ns/instance") {
		if q.Method == "DELETE" {
			del = q
		}
	}
	beats := rec.beatsOf("10.0.0.1", 1)
	last := beats[len(beats)-1]
	if del.Start.Before(last.End) {
		t.Errorf("DELETE started at %v, before the beat in flight ended at %v", del.Start, last.End)
	}
	for _, b := range beats {
		if b.Start.After(del.Start) {
			t.Errorf("a beat started after the DELETE: %+v", b)
		}
	}
	list, err := c.Instances(ctx, client.Query{Service: "s"})
	if err != nil || len(list) != 0 {
		t.Errorf("instances after deregister: got %+v, %v; want none", list, err)
	}
}

func TestClient_Beat_oneInFlight(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	// Every beat takes 500 ms at the server, more than the 200 ms interval.
	slow := func(q request) {
		if q.Path == "/v1/ns/instance/beat" {
			time.Sleep(500 * time.Millisecond)
		}
	}
	rec.delay.Store(&slow)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	if err := c.RegisterInstance(t.Context(), client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Metadata: withMeta(nil)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "four slow beats", func() bool { return len(rec.beatsOf("10.0.0.1", 1)) >= 4 })
	beats := rec.beatsOf("10.0.0.1", 1)
	for i := 1; i < len(beats); i++ {
		if beats[i].Start.Before(beats[i-1].End) {
			t.Errorf("beat %d started at %v while beat %d was in flight until %v", i, beats[i].Start, i-1, beats[i-1].End)
		}
	}
	checkSpacing(t, beats, 150*time.Millisecond)
}

func TestClient_Beat_failureRetried(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	var logs servertest.Buffer
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := c.RegisterInstance(t.Context(), client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Metadata: withMeta(nil)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a beat", func() bool { return len(rec.beatsOf("10.0.0.1", 1)) >= 1 })
	rec.fail.Store(true)
	failedBeats := func() int {
		n := 0
		for _, b := range rec.beatsOf("10.0.0.1", 1) {
			if b.Status == 503 {
				n++
			}
		}
		return n
	}
	waitFor(t, 5*time.Second, "three failed beats", func() bool { return failedBeats() >= 3 })
	if got := c.ActiveBeats(); got != 1 {
		t.Errorf("active beats while failing: got %d, want 1", got)
	}
	rec.fail.Store(false)
	n := len(rec.beatsOf("10.0.0.1", 1))
	waitFor(t, 5*time.Second, "beats to succeed again", func() bool {
		beats := rec.beatsOf("10.0.0.1", 1)
		return len(beats) > n && beats[len(beats)-1].Status == 200
	})
	if !strings.Contains(logs.String(), "beat failed") {
		t.Errorf("no failed beat was logged; logs:\n%s", logs.String())
	}
	checkSpacing(t, rec.beatsOf("10.0.0.1", 1), 150*time.Millisecond)
}

func TestClient_Beat_reregisterAfterRestart(t *testing.T) {
	first := startServer(t)
	addr := addrOf(first)
	rec := startRecorder(t, "http://"+addr)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}})
	reg := client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Weight: 4, Metadata: withMeta(map[string]string{"k": "v"})}
	if err := c.RegisterInstance(t.Context(), reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a light beat", func() bool {
		for _, b := range rec.beatsOf("10.0.0.1", 1) {
			if !b.Params.Has("beat") && b.Status == 200 {
				return true
			}
		}
		return false
	})

	first.Stop() // the registry is gone with the server
	restarted := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.Addr = addr }))
	waitFor(t, 5*time.Second, "the instance on the restarted server", func() bool {
		h, err := restarted.Registry().Instance(serviceKey("DEFAULT_GROUP@@s"), "DEFAULT", "10.0.0.1", 1)
		return err == nil && h.Weight == 4 && h.Metadata.Map()["k"] == "v"
	})

	// The recorder logs a request once the backend has answered it, which
	// may be after the instance is visible: wait for both registrations.
	waitFor(t, 3*time.Second, "the re-registration to be recorded", func() bool {
		n := 0
		for _, q := range rec.requests("/v1/ns/instance") {
			if q.Method == "POST" {
				n++
			}
		}
		return n >= 2
	})

	// What happened on the wire: a light beat got 20404, the client
	// registered again, and its next beat carried the body.
	reqs := rec.requests("")
	notFound := -1
	for i, q := range reqs {
		if q.Path == "/v1/ns/instance/beat" && strings.Contains(q.Answer, `"code":20404`) {
			notFound = i
			break
		}
	}
	if notFound < 0 {
		t.Fatalf("no beat was answered 20404: %+v", reqs)
	}
	if reqs[notFound].Params.Has("beat") {
		t.Errorf("the beat answered 20404 carried a body; want a light beat")
	}
	var post, next *request
	for i := notFound + 1; i < len(reqs); i++ {
		q := &reqs[i]
		if post == nil && q.Method == "POST" && q.Path == "/v1/ns/instance" {
			post = q
		}
		if post != nil && q.Path == "/v1/ns/instance/beat" {
			next = q
			break
		}
	}
	if post == nil || post.Params.Get("weight") != "4" || post.Params.Get("ephemeral") != "true" {
		t.Fatalf("no re-registration after the 20404: %+v", post)
	}
	waitFor(t, 3*time.Second, "a beat after the re-registration", func() bool {
		if next != nil {
			return true
		}
		for _, q := range rec.requests("/v1/ns/instance/beat") {
			if q.Start.After(post.End) {
				next = &q
				return true
			}
		}
		return false
	})
	if !next.Params.Has("beat") {
		t.Errorf("the beat after re-registering is light; want the body again")
	}
}

// watchKill subscribes to service, registers an anchor instance that stays
// healthy (so that the protection threshold does not hide an unhealthy
// one), calls kill once 10.9.0.1:port is listed healthy, and checks that
// the subscriber is told it turned unhealthy and then removed.
func watchKill(t *testing.T, srv *servertest.Server, service string, port int, start, kill func()) {
	t.Helper()
	ctx := t.Context()
	// The server pushes every change: polls (every 10 s) play no part.
	watcher := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	if err := watcher.RegisterInstance(ctx, client.Registration{Service: service, IP: "10.9.9.9", Port: 1}); err != nil {
		t.Fatal(err)
	}
	var evs events
	sub, err := watcher.Subscribe(ctx, client.Query{Service: service}, evs.add)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	start()
	i := evs.waitEvent(t, 0, 5*time.Second, "the instance added", func(ev client.Event) bool {
		in, ok := find(ev.Added, "10.9.0.1", port)
		return ok && in.Healthy
	})
	kill()
	i = evs.waitEvent(t, i, 5*time.Second, "the instance unhealthy", func(ev client.Event) bool {
		in, ok := find(ev.Modified, "10.9.0.1", port)
		return ok && !in.Healthy
	})
	evs.waitEvent(t, i, 5*time.Second, "the instance removed", func(ev client.Event) bool {
		_, ok := find(ev.Removed, "10.9.0.1", port)
		_, still := find(ev.Instances, "10.9.0.1", port)
		return ok && !still
	})
}

func TestClient_Beat_processKilled(t *testing.T) {
	srv := startServer(t)
	var cmd *exec.Cmd
	watchKill(t, srv, "killed", 2, func() {
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,killed,10.9.0.1,2", childEnv, addrOf(srv)))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "registered\n" {
			t.Fatalf("child said %q, %v; want registered", line, err)
		}
	}, func() {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClient_Beat_loopStopped(t *testing.T) {
	srv := startServer(t)
	owner := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	watchKill(t, srv, "halted", 3, func() {
		err := owner.RegisterInstance(t.Context(), client.Registration{Service: "halted", IP: "10.9.0.1", Port: 3, Metadata: fastMeta})
		if err != nil {
			t.Fatal(err)
		}
	}, func() {
		owner.HaltBeats() // no deregistration: the server must notice alone
		if got := owner.BeatLoops(); got != 0 {
			t.Fatalf("beat loops after halting: got %d, want 0", got)
		}
	})
}
