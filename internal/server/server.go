// Package server composes a Pulse server: the registry, the health checker,
// UDP push and the HTTP API. New binds the
// listeners, so their addresses are known before Run; Run supervises the
// components and shuts them down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/health"
	"github.com/pulse-registry/pulse/internal/httpapi"
	"github.com/pulse-registry/pulse/internal/latency"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/switches"
	"github.com/pulse-registry/pulse/internal/wire"
)

// Config holds the server's settings.
type Config struct {
	// Addr is the HTTP listen address. Default 127.0.0.1:8848: a fresh
	// server is reachable only from this machine until told otherwise.
	Addr string
	// ContextPath prefixes every URL. Default /nacos, which the Node client
	// cannot change.
	ContextPath string
	// ShutdownTimeout bounds how long shutdown waits for in-flight requests.
	// Default 10 s.
	ShutdownTimeout time.Duration
	// ReadTimeout bounds the reading of one whole request, body included,
	// so that a client trickling bytes cannot hold a connection. Default 30 s.
	ReadTimeout time.Duration
	// Version is reported to clients and in logs.
	Version string
	// PushAddr is the UDP address pushes are sent from and acks read on.
	// Default: the host of Addr, any free port.
	PushAddr string
	// PushToSource ignores the clientIP of list queries and pushes to the
	// address the query came from (see httpapi.Config.PushToSource).
	PushToSource bool
	// Push tunes UDP push; the zero value means push.DefaultConfig.
	Push push.Config
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8848",
		ContextPath:     "/nacos",
		ShutdownTimeout: 10 * time.Second,
		ReadTimeout:     30 * time.Second,
		Push:            push.DefaultConfig(),
		Version:         "dev",
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.PushAddr != "" {
		if _, _, err := net.SplitHostPort(c.PushAddr); err != nil {
			errs = append(errs, fmt.Errorf("push addr %q: %w", c.PushAddr, err))
		}
	}
	if !strings.HasPrefix(c.ContextPath, "/") || strings.ContainsAny(c.ContextPath, "?# ") {
		errs = append(errs, fmt.Errorf("context path %q: must start with / and hold no ?, # or space", c.ContextPath))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout %v: must not be negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// Options are the server's collaborators; the zero value uses the real clock
// and discards logs.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
}

// Server is a running Pulse node.
type Server struct {
	cfg      Config
	clk      clock.Clock
	log      *slog.Logger
	reg      *naming.Registry
	sw       *switches.Set
	checker  *health.Checker
	pusher   *push.Pusher
	api      *httpapi.Handler
	httpSrv  *http.Server
	ln       net.Listener
	ready    atomic.Bool
	notifier notifiers
}

// New builds a server and binds its listener. Call Run to serve.
func New(cfg Config, opts Options) (*Server, error) {
	def := DefaultConfig()
	if cfg.Addr == "" {
		cfg.Addr = def.Addr
	}
	if cfg.ContextPath == "" {
		cfg.ContextPath = def.ContextPath
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = def.ShutdownTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = def.ReadTimeout
	}
	if cfg.Version == "" {
		cfg.Version = def.Version
	}
	cfg.ContextPath = "/" + strings.Trim(cfg.ContextPath, "/")
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, clk: opts.Clock, log: opts.Logger, sw: switches.New()}
	s.reg = naming.New(naming.Config{Notifier: &s.notifier})
	s.checker = health.New(s.reg, s.sw, s.clk, s.log.With("component", "health"))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	if err := s.newPusher(cfg); err != nil {
		ln.Close()
		return nil, err
	}
	self, _ := netip.ParseAddrPort(ln.Addr().String())
	s.api = httpapi.New(httpapi.Config{
		Writer:       s.reg,
		Reader:       s.reg,
		Switches:     s.sw,
		Clock:        s.clk,
		Logger:       s.log.With("component", "http"),
		ContextPath:  cfg.ContextPath,
		Ready:        s.ready.Load,
		Subscriber:   s.pusher,
		PushToSource: cfg.PushToSource,
		Metrics:      s.metrics,
		Self:         self,
		Version:      cfg.Version,
	})
	s.httpSrv = &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Addr returns the address the HTTP listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Registry returns the server's registry, for tests and tools in this module.
func (s *Server) Registry() *naming.Registry { return s.reg }

// Switches returns the server's runtime switches.
func (s *Server) Switches() *switches.Set { return s.sw }

// Run serves until ctx is cancelled, then shuts down: it stops accepting,
// lets in-flight requests finish (up to ShutdownTimeout), stops the health
// checker and returns once every goroutine it started has ended. It returns
// nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	// Ready before the first request can be served, not after: a probe that
	// connects at once must not see a 500.
	s.ready.Store(true)
	g.Go(func() error { return s.checker.Run(bg) })
	g.Go(func() error { return s.pusher.Run(bg) })
	g.Go(func() error {
		err := s.httpSrv.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve http: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		s.ready.Store(false)
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		err := s.httpSrv.Shutdown(sctx)
		stopBG()
		if err != nil {
			_ = s.httpSrv.Close()
			return fmt.Errorf("shut down http: %w", err)
		}
		return nil
	})
	s.log.Info("pulse server listening", "addr", s.ln.Addr().String(), "push_addr", s.pusher.Addr().String(),
		"context_path", s.cfg.ContextPath, "version", s.cfg.Version)
	err := g.Wait()
	s.log.Info("stopped")
	return err
}

// PushAddr returns the UDP address pushes are sent from.
func (s *Server) PushAddr() netip.AddrPort { return s.pusher.Addr() }

// Pusher returns the server's pusher.
func (s *Server) Pusher() *push.Pusher { return s.pusher }

func (s *Server) newPusher(cfg Config) error {
	addr := cfg.PushAddr
	if addr == "" {
		host, _, _ := net.SplitHostPort(s.ln.Addr().String())
		addr = net.JoinHostPort(host, "0")
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("push addr %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("listen for push on %s: %w", addr, err)
	}
	// A change fanned out to thousands of subscribers brings their acks
	// back at once; the default buffer holds only a few hundred datagrams.
	// The kernel caps these at net.core.[rw]mem_max.
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	s.pusher, err = push.New(cfg.Push, conn, s.reg, s.sw, s.clk, s.log.With("component", "push"))
	if err != nil {
		conn.Close()
		return fmt.Errorf("server config: %w", err)
	}
	s.notifier = append(s.notifier, s.pusher)
	return nil
}

func (s *Server) metrics(m *wire.Metrics) {
	ps := s.pusher.Stats()
	m.SubscribeCount = ps.Targets
	m.TotalPush = ps.Pushes
	m.FailedPush = ps.Failed
	m.PushRetries = ps.Retries
	m.AvgPushCost = ps.Latency.Mean.Milliseconds()
	m.MaxPushCost = ps.Latency.Max.Milliseconds()
	st := s.checker.Stats()
	m.UnhealthyCount = st.Unhealthy
	m.ExpiredCount = st.Expired
	m.ExpiryLateMaxMs = st.Late.Max.Milliseconds()
	m.ExpiryLateP99Ms = st.Late.P99.Milliseconds()
	m.ExpiryLateP50Ms = st.Late.P50.Milliseconds()
	h := &wire.LateHistograms{
		Unhealthy:      st.LateUnhealthy.Buckets,
		Expired:        st.LateExpired.Buckets,
		UnhealthyMaxMs: millis(st.LateUnhealthy.Max),
		ExpiredMaxMs:   millis(st.LateExpired.Max),
	}
	for _, b := range latency.Bounds() {
		h.BoundsMs = append(h.BoundsMs, millis(b))
	}
	m.ExpiryLate = h
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// notifiers fans registry changes out to the components that listen. It is
// filled before Run and read-only after.
type notifiers []naming.Notifier

func (n *notifiers) ServiceChanged(key naming.ServiceKey, rev int64) {
	for _, x := range *n {
		x.ServiceChanged(key, rev)
	}
}
