package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/httpapi"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/server"
)

// benchServer is a whole server holding n instances, shared by the
// benchmarks of a run (building 100k instances for every b.Run would dwarf
// what is measured). Services svc-0, svc-1, ... hold 100 instances each;
// from 100k on, one service, "big", holds 10k of them.
type benchServer struct {
	srv     *server.Server
	url     string       // http://127.0.0.1:port/nacos/v1/ns
	handler http.Handler // the API handler over the same registry, in process
	beats   [][]byte     // one Go-SDK beat body per instance
	stop    func()
}

var (
	benchMu      sync.Mutex
	benchServers = map[int]*benchServer{}
)

func startBenchServer(b *testing.B, n int) *benchServer {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchServers[n]; s != nil {
		return s
	}
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	// Nothing may expire while a long benchmark runs; beats do not depend on
	// the checker.
	if err := srv.Switches().Update("check", "false"); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	s := &benchServer{
		srv:     srv,
		url:     "http://" + srv.Addr().String() + "/nacos/v1/ns",
		handler: httpapi.New(httpapi.Config{Writer: srv.Registry(), Reader: srv.Registry(), Switches: srv.Switches()}),
		beats:   make([][]byte, n),
		stop: func() {
			cancel()
			<-done
		},
	}
	reg, now := srv.Registry(), time.Now()
	big := 0
	if n >= 100_000 {
		big = 10_000
	}
	for i := range n {
		svc := "big"
		if i >= big {
			svc = "svc-" + strconv.Itoa((i-big)/100)
		}
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		key := naming.ServiceKey{Namespace: naming.DefaultNamespace, Name: "DEFAULT_GROUP@@" + svc}
		err := reg.Register(key, naming.InstanceSpec{
			IP: ip, Port: 8080, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true,
			Metadata: map[string]string{"role": "bench", "version": "1.2.3"},
		}, now)
		if err != nil {
			b.Fatal(err)
		}
		s.beats[i] = []byte(`serviceName=DEFAULT_GROUP@@` + svc + `&beat={"ip":"` + ip +
			`","port":8080,"weight":1,"serviceName":"DEFAULT_GROUP@@` + svc + `","cluster":"","metadata":{"role":"bench","version":"1.2.3"},"scheduled":false}`)
	}
	benchServers[n] = s
	return s
}

// TestMain stops the benchmark servers once every test and benchmark ran.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range benchServers {
		s.stop()
	}
	os.Exit(code)
}

// keepAlive is a client that reuses one connection, as the SDKs do.
func keepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
}

// put sends one PUT with a form body and reads the whole answer.
func put(b *testing.B, c *http.Client, url string, body []byte, agent string) int {
	req, err := http.NewRequest("PUT", url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	req.Header.Set("User-Agent", agent)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	return int(n)
}

const beatReply = `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}`

// BenchmarkBeat measures PUT /instance/beat with the Go SDK's body, beating
// every instance in turn: over HTTP on a keep-alive connection to a real
// server, and through the handler alone with a ResponseRecorder.
func BenchmarkBeat(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		s := startBenchServer(b, n)
		b.Run(fmt.Sprintf("path=http/instances=%d", n), func(b *testing.B) {
			c := keepAlive()
			defer c.CloseIdleConnections()
			url := s.url + "/instance/beat"
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				put(b, c, url, s.beats[i%n], goAgent)
			}
		})
		b.Run(fmt.Sprintf("path=handler/instances=%d", n), func(b *testing.B) {
			body := &bytes.Reader{}
			req := httptest.NewRequest("PUT", "/nacos/v1/ns/instance/beat", nil)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
			req.Header.Set("User-Agent", goAgent)
			req.Body = io.NopCloser(body)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				body.Reset(s.beats[i%n])
				rec := httptest.NewRecorder()
				s.handler.ServeHTTP(rec, req)
				if rec.Code != 200 || rec.Body.String() != beatReply {
					b.Fatalf("got %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkBaseline is what the same client and harness cost around a
// handler that does nothing but read the body and write the fixed beat
// reply; BENCHMARKS.md reports the beat as a ratio of it.
func BenchmarkBaseline(b *testing.B) {
	fixed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = io.WriteString(w, beatReply)
	})
	body := []byte(`serviceName=DEFAULT_GROUP@@svc-1&beat={"ip":"10.0.1.44","port":8080,"weight":1,"serviceName":"DEFAULT_GROUP@@svc-1","cluster":"","metadata":{"role":"bench","version":"1.2.3"},"scheduled":false}`)
	b.Run("path=http", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: fixed, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
		done := make(chan error, 1)
		go func() { done <- hs.Serve(ln) }()
		defer func() {
			_ = hs.Close()
			<-done
		}()
		c := keepAlive()
		defer c.CloseIdleConnections()
		url := "http://" + ln.Addr().String() + "/nacos/v1/ns/instance/beat"
		b.ReportAllocs()
		for b.Loop() {
			put(b, c, url, body, goAgent)
		}
	})
	b.Run("path=handler", func(b *testing.B) {
		rd := &bytes.Reader{}
		req := httptest.NewRequest("PUT", "/nacos/v1/ns/instance/beat", nil)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
		req.Body = io.NopCloser(rd)
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(body)
			rec := httptest.NewRecorder()
			fixed.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("got %d", rec.Code)
			}
		}
	})
}

// BenchmarkList measures GET /instance/list with 100k instances registered,
// for a service of 100 instances and for one of 10k, as the Go SDK asks.
func BenchmarkList(b *testing.B) {
	s := startBenchServer(b, 100_000)
	for _, tc := range []struct {
		name, service string
		hosts         int
	}{
		{"service=100of100k", "svc-42", 100},
		{"service=10kof100k", "big", 10_000},
	} {
		query := "clusters=&healthyOnly=false&namespaceId=&serviceName=DEFAULT_GROUP@@" + tc.service + "&app="
		b.Run("path=http/"+tc.name, func(b *testing.B) {
			c := keepAlive()
			defer c.CloseIdleConnections()
			url := s.url + "/instance/list?" + query
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("User-Agent", goAgent)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				size = int(n)
			}
			b.ReportMetric(float64(size), "B/answer")
		})
		b.Run("path=handler/"+tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/nacos/v1/ns/instance/list?"+query, nil)
			req.Header.Set("User-Agent", goAgent)
			b.ReportAllocs()
			var rec *httptest.ResponseRecorder
			for b.Loop() {
				rec = httptest.NewRecorder()
				s.handler.ServeHTTP(rec, req)
			}
			if rec.Code != 200 || bytes.Count(rec.Body.Bytes(), []byte(`"instanceId"`)) != tc.hosts {
				b.Fatalf("got %d, %d bytes, want %d hosts", rec.Code, rec.Body.Len(), tc.hosts)
			}
			b.ReportMetric(float64(rec.Body.Len()), "B/answer")
		})
	}
}
