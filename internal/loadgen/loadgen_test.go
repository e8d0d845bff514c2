package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/servertest"
)

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8848":   true,
		"127.9.8.7:1":      true,
		"[::1]:8848":       true,
		"localhost:8848":   true,
		"10.0.0.1:8848":    false,
		"192.168.1.1:8848": false,
		"[::]:8848":        false,
		"0.0.0.0:8848":     false,
		"example.com:80":   false,
		"127.0.0.1":        false, // no port
	} {
		if err := CheckLoopback(addr); (err == nil) != ok {
			t.Errorf("CheckLoopback(%q): got %v, want ok=%v", addr, err, ok)
		}
	}
	if _, err := Connect("10.1.2.3:8848", 0); err == nil {
		t.Error("Connect to 10.1.2.3: got no error, want a refusal")
	}
}

func TestConn_Do(t *testing.T) {
	big := strings.Repeat("x", 100_000) // chunked by net/http
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/small":
			_, _ = w.Write([]byte("small:" + string(body)))
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			http.Error(w, "nope", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := newConn(addr, 5*time.Second)
	defer c.close()
	for range 3 { // the same connection, reused
		got, err := c.do(appendWithBody(nil, "PUT", addr, "/small", []byte("a=b")))
		if err != nil || string(got) != "small:a=b" {
			t.Fatalf("small: got %q, %v; want %q", got, err, "small:a=b")
		}
		got, err = c.do(appendGet(nil, addr, "/big"))
		if err != nil || string(got) != big {
			t.Fatalf("big: got %d bytes, %v; want %d bytes", len(got), err, len(big))
		}
	}
	got, err := c.do(appendGet(nil, addr, "/close"))
	if err != nil || string(got) != "bye" || c.c != nil {
		t.Errorf("close: got %q, %v, open=%v; want bye, closed", got, err, c.c != nil)
	}
	_, err = c.do(appendGet(nil, addr, "/missing"))
	var st *errStatus
	if !errors.As(err, &st) || st.code != 400 {
		t.Errorf("missing: got %v, want HTTP 400", err)
	}
	if got, err := c.do(appendGet(nil, addr, "/small")); err != nil || string(got) != "small:" {
		t.Errorf("after an error reply: got %q, %v", got, err)
	}
}

// TestSpawnHelper is the server that TestTarget_Release spawns: this test
// binary, run again with the address as its last argument.
func TestSpawnHelper(t *testing.T) {
	switch os.Getenv("LOADGEN_SPAWN_HELPER") {
	case "serve":
		ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGTERM)
		defer stop()
		fmt.Println("helper serving")
		if err := ServeCeiling(ctx, os.Args[len(os.Args)-1], nil); err != nil {
			t.Fatal(err)
		}
	case "exit":
		fmt.Println("helper giving up")
		os.Exit(3)
	default:
		t.Skip("run by TestTarget_Release")
	}
}

func TestTarget_Release(t *testing.T) {
	dir := t.TempDir()
	spawn := func(t *testing.T, mode string) (*Target, error) {
		t.Setenv("LOADGEN_SPAWN_HELPER", mode)
		return Spawn(t.Context(), os.Args[0], []string{"-test.run=^TestSpawnHelper$", "--"}, dir, "/")
	}
	logs := func(t *testing.T) []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("success removes the log", func(t *testing.T) {
		tg, err := spawn(t, "serve")
		if err != nil {
			t.Fatal(err)
		}
		if got := logs(t); len(got) != 1 || got[0] != tg.Log() {
			t.Fatalf("got logs %v, want %s", got, tg.Log())
		}
		if err := tg.Release(nil); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if got := logs(t); len(got) != 0 {
			t.Errorf("got logs %v after a successful run, want none", got)
		}
	})
	t.Run("failure keeps the log and names it", func(t *testing.T) {
		tg, err := spawn(t, "serve")
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = tg.Release(boom)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), tg.Log()) {
			t.Errorf("got %v, want boom naming %s", err, tg.Log())
		}
		body, rerr := os.ReadFile(tg.Log())
		if rerr != nil || !strings.Contains(string(body), "helper serving") {
			t.Errorf("got log %q, %v; want the server's output", body, rerr)
		}
		os.Remove(tg.Log())
	})
	t.Run("a server that exits keeps the last attempt's log", func(t *testing.T) {
		_, err := spawn(t, "exit")
		got := logs(t)
		if err == nil || len(got) != 1 || !strings.Contains(err.Error(), got[0]) {
			t.Fatalf("got %v and logs %v, want an error naming the one log kept", err, got)
		}
		if body, _ := os.ReadFile(got[0]); !strings.Contains(string(body), "helper giving up") {
			t.Errorf("got log %q, want the server's output", body)
		}
	})
	t.Run("a server found running has no log", func(t *testing.T) {
		tg, err := Connect("127.0.0.1:1", 0)
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := tg.Release(boom); err != boom {
			t.Errorf("got %v, want boom unchanged", err)
		}
	})
}

func TestLoad_Start(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	stop := load{
		addr: addr, conns: 2, count: 1 << 40, rate: 2000, maxTime: time.Minute,
		newRequests: func() *requests { return &requests{host: addr} },
		build:       func(*requests, int64) []byte { return appendGet(nil, addr, "/") },
	}.start(t.Context())
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	res := stop()
	// stop returned after the workers: every request sent was answered and
	// counted, and none follows.
	if got := hits.Load(); res.done < 20 || res.done != got || res.errors != 0 {
		t.Errorf("got %d done, %d errors; the server saw %d; want at least 20, all counted", res.done, res.errors, got)
	}
	if again := stop(); again.done != res.done || again.elapsed != res.elapsed {
		t.Errorf("second stop: got %+v, want the same result %+v", again, res)
	}
}

func TestReadProc(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.CPU < 0 {
		t.Errorf("got %+v, want a positive RSS", s)
	}
	if _, err := ReadProc(-1); err == nil {
		t.Error("ReadProc(-1): got no error")
	}
}

func TestFindListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	pid, err := FindListener(port)
	if err != nil || pid != os.Getpid() {
		t.Errorf("got pid %d, %v; want %d", pid, err, os.Getpid())
	}
	ln.Close()
	if pid, err := FindListener(port); err == nil {
		t.Errorf("after close: got pid %d, want an error", pid)
	}
}

func TestHist_Quantile(t *testing.T) {
	var h Hist
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("empty: got %v, want 0", got)
	}
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * 10 * time.Microsecond) // 10 µs .. 10 ms
	}
	if got := h.Quantile(0.5); got < 4990*time.Microsecond || got > 5010*time.Microsecond {
		t.Errorf("p50: got %v, want 5ms within a bucket", got)
	}
	if got := h.Quantile(0.99); got < 9890*time.Microsecond || got > 9910*time.Microsecond {
		t.Errorf("p99: got %v, want 9.9ms within a bucket", got)
	}
	if got := h.Quantile(1); got != 10*time.Millisecond || h.Max() != 10*time.Millisecond {
		t.Errorf("p100: got %v (max %v), want the max, 10ms", got, h.Max())
	}
	h.Observe(time.Hour) // the last bucket, above every bound
	if got := h.Quantile(1); got != time.Hour {
		t.Errorf("p100 after an hour: got %v, want 1h0m0s", got)
	}
	if len(histBounds) != histBuckets-1 || !slices.IsSorted(histBounds) {
		t.Fatalf("got %d bounds (sorted: %v), want %d ascending", len(histBounds), slices.IsSorted(histBounds), histBuckets-1)
	}
	for _, d := range []time.Duration{0, 999 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond, 5 * time.Second, 10 * time.Second} {
		// Bucket i holds [histBounds[i-1], histBounds[i]).
		i := histIndex(d)
		if i < len(histBounds) && histBounds[i] <= d || i > 0 && histBounds[i-1] > d {
			t.Errorf("%v: got bucket %d, whose bounds do not hold it", d, i)
		}
	}
	if got := histIndex(10 * time.Second); got != histBuckets-1 {
		t.Errorf("10s: got bucket %d, want the last, %d", got, histBuckets-1)
	}
}

func TestDiffCounts(t *testing.T) {
	if got, want := diffCounts([]int64{5, 5, 0, 2}, []int64{5, 1, 0}), []int64{0, 4, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSummary(t *testing.T) {
	s := &Summary{Scenario: "x"}
	s.Add("n", 3, "count")
	s.Add("rate_per_s", 12345.678, "")
	s.Add("lat_ms", 1500*time.Microsecond, "")
	s.Add("text", "a b", "")
	if got, want := s.Line(), `RESULT scenario=x n=3 rate_per_s=12346 lat_ms=1.5 text="a b"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// testEnv points the scenarios at a server running in this test.
func testEnv(t *testing.T) (Env, *servertest.Server) {
	srv := servertest.Start(t)
	return Env{
		Server:    srv.Addr().String(),
		ServerPID: os.Getpid(),
		Conns:     4,
		MaxTime:   30 * time.Second,
		Log:       t.Output(),
	}, srv
}

func figure(t *testing.T, s *Summary, key string) float64 {
	t.Helper()
	v, ok := s.Get(key)
	if !ok {
		t.Fatalf("no figure %s in %s", key, s.Line())
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("figure %s=%q: %v", key, v, err)
	}
	return f
}

func TestBeats(t *testing.T) {
	env, srv := testEnv(t)
	s, err := Beats(t.Context(), env, BeatsConfig{N: 300, PerService: 50, Rate: 0, Count: 1500, Duration: 20 * time.Second})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	if got := figure(t, s, "beats"); got != 1500 {
		t.Errorf("got %v beats, want 1500", got)
	}
	if got := figure(t, s, "cpu_s_per_1k"); got <= 0 {
		t.Errorf("got cpu_s_per_1k %v, want a positive figure", got)
	}
	if got := figure(t, s, "unhealthy_delta"); got != 0 {
		t.Errorf("got unhealthy_delta %v, want 0", got)
	}
	if st := srv.Registry().Stats(); st.Instances != 300 || st.Services != 6 {
		t.Errorf("server holds %+v, want 300 instances in 6 services", st)
	}
	if got := srv.Pusher(); got == nil {
		t.Fatal("no pusher")
	}
}

func TestBeats_Light(t *testing.T) {
	env, _ := testEnv(t)
	s, err := Beats(t.Context(), env, BeatsConfig{N: 50, Light: true, Rate: 500, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	// Paced at 500/s for 0.3 s: about 150 beats, never much more.
	if got := figure(t, s, "beats"); got < 50 || got > 160 {
		t.Errorf("got %v beats, want about 150", got)
	}
}

func TestBeats_Batch(t *testing.T) {
	env, srv := testEnv(t)
	s, err := Beats(t.Context(), env, BeatsConfig{N: 120, Batch: 50, Rate: 0, Count: 1000})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	// 1000 beats in batches of 50: 20 requests, every beat answered 10200.
	if got := figure(t, s, "beats"); got != 1000 {
		t.Errorf("got %v beats, want 1000", got)
	}
	if got := figure(t, s, "errors"); got != 0 {
		t.Errorf("got %v errors, want 0", got)
	}
	if st := srv.Registry().Stats(); st.Instances != 120 {
		t.Errorf("server holds %d instances, want 120", st.Instances)
	}
}

func TestBeats_Ceiling(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- ServeCeiling(ctx, "127.0.0.1:0", func(a net.Addr) { addr <- a.String() }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ceiling server: %v", err)
		}
	}()
	env := Env{Server: <-addr, ServerPID: os.Getpid(), Conns: 2, Log: t.Output()}
	s, err := Beats(t.Context(), env, BeatsConfig{N: 10, Ceiling: true, Rate: 0, Count: 500})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	if got := figure(t, s, "beats"); got != 500 {
		t.Errorf("got %v beats, want 500", got)
	}
	if err := ServeCeiling(t.Context(), "10.0.0.1:0", nil); err == nil {
		t.Error("ceiling on 10.0.0.1: got no error, want a refusal")
	}
}

func TestRegister(t *testing.T) {
	env, srv := testEnv(t)
	s, err := Register(t.Context(), env, RegisterConfig{N: 1000, PerService: 100, Settle: time.Millisecond})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	if got := figure(t, s, "instance_count"); got != 1000 {
		t.Errorf("got instance_count %v, want 1000", got)
	}
	if st := srv.Registry().Stats(); st.Instances != 1000 {
		t.Errorf("server holds %d instances, want 1000", st.Instances)
	}
	figure(t, s, "bytes_per_instance")
}

func TestQuery(t *testing.T) {
	env, _ := testEnv(t)
	s, err := Query(t.Context(), env, QueryConfig{K: 20, Count: 300, Duration: 20 * time.Second})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	if got := figure(t, s, "queries"); got != 300 {
		t.Errorf("got %v queries, want 300", got)
	}
}

func TestExpiry(t *testing.T) {
	env, _ := testEnv(t)
	// Margins for a loaded machine under the race detector: the control
	// group beats eight times per timeout.
	s, err := Expiry(t.Context(), env, ExpiryConfig{
		N: 100, Control: 20, PerService: 30,
		BeatTimeout: 2 * time.Second, DeleteTimeout: 3 * time.Second,
		ControlInterval: 250 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	for key, want := range map[string]float64{"unhealthy": 100, "expired": 100, "false_unhealthy": 0} {
		if got := figure(t, s, key); got != want {
			t.Errorf("got %s=%v, want %v", key, got, want)
		}
	}
	if got := figure(t, s, "control_checks"); got < 2 {
		t.Errorf("got %v control checks, want several", got)
	}
	if p99, max := figure(t, s, "removal_late_p99_ms"), figure(t, s, "removal_late_max_ms"); p99 > max || max <= 0 {
		t.Errorf("got removal lateness p99 %v, max %v", p99, max)
	}
}

func TestPush(t *testing.T) {
	env, _ := testEnv(t)
	s, err := Push(t.Context(), env, PushConfig{M: 20, Rounds: 4})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Line())
	}
	for key, want := range map[string]float64{"rounds": 4, "pushes": 80, "failed": 0, "dropped_packets": 0} {
		if got := figure(t, s, key); got != want {
			t.Errorf("got %s=%v, want %v", key, got, want)
		}
	}
}
