// Package servertest starts a whole Pulse server inside a test, on
// 127.0.0.1 with port 0, the way net/http/httptest starts an HTTP server. The
// server stops, and every goroutine it started ends, when the test ends.
package servertest

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/server"
)

// Server is a running test server.
type Server struct {
	*server.Server
	// URL is the server's root, e.g. "http://127.0.0.1:41234".
	URL string
	// API is URL plus the context path, e.g. "http://127.0.0.1:41234/nacos".
	API string
	// Clock is the server's clock; a *clock.Fake when WithClock gave one.
	Clock clock.Clock

	stop func()
}

// Stop shuts the server down before the test ends, for tests that restart a
// server (WithConfig can bind the new one to the old address). It waits for
// the server to stop; calling it again does nothing.
func (s *Server) Stop() { s.stop() }

// Option changes how Start builds the server.
type Option func(*server.Config, *server.Options)

// WithClock runs the server on clk, typically a *clock.Fake.
func WithClock(clk clock.Clock) Option {
	return func(_ *server.Config, o *server.Options) { o.Clock = clk }
}

// WithConfig lets a test change the server's configuration.
func WithConfig(f func(*server.Config)) Option {
	return func(c *server.Config, _ *server.Options) { f(c) }
}

// Start runs a server for the rest of the test. Its logs go to the test's
// output.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	o := server.Options{
		Clock:  clock.Real{},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, opt := range opts {
		opt(&cfg, &o)
	}
	srv, err := server.New(cfg, o)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with: %v", err)
		}
	})
	t.Cleanup(stop)
	url := "http://" + srv.Addr().String()
	return &Server{Server: srv, URL: url, API: url + cfg.ContextPath, Clock: o.Clock, stop: stop}
}
