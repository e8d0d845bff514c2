package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/naming"
)

// logBuffer collects JSON log lines; the server writes from its goroutines
// while the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// find returns the first record whose msg is msg.
func (b *logBuffer) find(msg string) (map[string]any, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec, true
		}
	}
	return nil, false
}

func (b *logBuffer) wait(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if rec, ok := b.find(msg); ok {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q in:\n%s", msg, b.buf.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// running is a server started by startServer.
type running struct {
	*Server
	logs     *logBuffer
	cancel   context.CancelFunc
	returned chan struct{} // closed when Run returns
	err      error         // Run's result, once returned is closed
}

func (r *running) wait() error {
	<-r.returned
	return r.err
}

// startServer runs a server until the test ends or cancels it, with its log
// in JSON.
func startServer(t *testing.T, cfg Config) *running {
	t.Helper()
	r := &running{logs: &logBuffer{}, returned: make(chan struct{})}
	var err error
	r.Server, err = New(cfg, Options{Logger: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.err = r.Run(ctx)
		close(r.returned)
	}()
	t.Cleanup(func() {
		cancel()
		_ = r.wait()
	})
	return r
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer_Run(t *testing.T) {
	srv := startServer(t, Config{Addr: "127.0.0.1:0", ContextPath: "reg/"})
	// Ready as soon as Run has been called: no window of 500s.
	if status, body := get(t, "http://"+srv.Addr().String()+"/reg/v1/console/health/readiness"); status != 200 || body != "OK" {
		t.Errorf("readiness right after Run: got %d %q, want 200 OK", status, body)
	}
	rec := srv.logs.wait(t, "pulse server listening")
	if rec["addr"] != srv.Addr().String() || rec["context_path"] != "/reg" || rec["version"] != "dev" {
		t.Errorf("listening record: got %v, want addr %s, context_path /reg, version dev", rec, srv.Addr())
	}
	if !strings.HasPrefix(srv.Addr().String(), "127.0.0.1:") || strings.HasSuffix(srv.Addr().String(), ":0") {
		t.Errorf("Addr: got %s, want 127.0.0.1 and a chosen port", srv.Addr())
	}
	if status, body := get(t, "http://"+srv.Addr().String()+"/reg/v1/console/health/liveness"); status != 200 || body != "OK" {
		t.Errorf("liveness: got %d %q", status, body)
	}
	srv.cancel()
	if err := srv.wait(); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	srv.logs.wait(t, "stopped")
	if _, err := net.Dial("tcp", srv.Addr().String()); err == nil {
		t.Error("still accepting after Run returned")
	}
}

// inFlight starts a POST /instance whose body the handler is waiting for:
// the server answers "100 Continue" only once the handler reads the body.
func inFlight(t *testing.T, addr, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: pulse\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("waiting for 100 Continue: got %v, %v", resp, err)
	}
	return conn, br
}

func TestServer_GracefulShutdown(t *testing.T) {
	srv := startServer(t, Config{Addr: "127.0.0.1:0"})
	srv.logs.wait(t, "pulse server listening")
	body := "serviceName=demo&ip=10.0.0.1&port=80"
	conn, br := inFlight(t, srv.Addr().String(), body)

	srv.cancel()
	srv.logs.wait(t, "shutting down")
	// New connections are refused while the request is still in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections during shutdown")
		}
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case <-srv.returned:
		t.Fatalf("Run returned with a request in flight: %v", srv.err)
	default:
	}

	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("in-flight request: got %d %q, want 200 ok", resp.StatusCode, b)
	}
	if err := srv.wait(); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	if _, err := srv.Registry().Instance(naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@demo"}, "", "10.0.0.1", 80); err != nil {
		t.Errorf("the in-flight registration was not applied: %v", err)
	}
}

func TestServer_ShutdownTimeout(t *testing.T) {
	srv := startServer(t, Config{Addr: "127.0.0.1:0", ShutdownTimeout: 50 * time.Millisecond})
	srv.logs.wait(t, "pulse server listening")
	inFlight(t, srv.Addr().String(), "serviceName=demo&ip=10.0.0.1&port=80") // never finished
	srv.cancel()
	err := srv.wait()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shut down http") {
		t.Errorf("Run: got %v, want a shutdown error wrapping context.DeadlineExceeded", err)
	}
}

func TestNew_Errors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"bad address", Config{Addr: "nonsense"}, []string{`server config: addr "nonsense"`}},
		{"bad context path", Config{Addr: "127.0.0.1:0", ContextPath: "/a b"}, []string{`context path "/a b"`}},
		{"negative timeout", Config{Addr: "127.0.0.1:0", ShutdownTimeout: -time.Second}, []string{"shutdown timeout -1s"}},
		{"every error at once", Config{Addr: "x", ContextPath: "/a?b", ShutdownTimeout: -1}, []string{`addr "x"`, `context path "/a?b"`, "shutdown timeout -1ns"}},
		{"address in use", Config{Addr: ln.Addr().String()}, []string{"listen on " + ln.Addr().String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New(tc.cfg, Options{})
			if err == nil {
				srv.ln.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestConfig_Defaults(t *testing.T) {
	d := DefaultConfig()
	if d.Addr != "127.0.0.1:8848" || d.ContextPath != "/nacos" || d.ShutdownTimeout != 10*time.Second || d.Validate() != nil {
		t.Errorf("DefaultConfig: got %+v", d)
	}
}

func TestServer_ReadTimeout(t *testing.T) {
	srv := startServer(t, Config{Addr: "127.0.0.1:0", ReadTimeout: 200 * time.Millisecond})
	srv.logs.wait(t, "pulse server listening")
	// Headers, then a body that never comes: the server must drop the
	// connection instead of holding it.
	conn, br := inFlight(t, srv.Addr().String(), "serviceName=demo&ip=10.0.0.1&port=80")
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(br, nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("got %d for a request whose body never came", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still held the connection after 5 s")
	}
	t.Logf("connection dropped after %v", time.Since(start))
}
