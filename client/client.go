package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/naming"
)

// Version is the version of this package. The client sends it in its
// User-Agent, "Pulse-Go-Client:v" + Version, which Pulse servers recognise
// as push-capable.
const Version = "0.1.0"

const userAgent = "Pulse-Go-Client:v" + Version

// Defaults used where Config leaves a field zero.
const (
	DefaultServer       = "127.0.0.1:8848"
	DefaultContextPath  = "/nacos"
	DefaultTimeout      = 5 * time.Second
	DefaultBeatInterval = naming.DefaultBeatInterval
	DefaultGroup        = naming.DefaultGroup
	DefaultCluster      = naming.DefaultCluster
)

// Errors returned by the client.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("client: closed")
	// ErrNoInstance is returned by SelectOne when no instance is healthy,
	// enabled and of positive weight.
	ErrNoInstance = errors.New("client: no healthy instance")
)

// ServerError is a server's answer other than 200 OK.
type ServerError struct {
	Server string // the server's base URL, e.g. "http://127.0.0.1:8848"
	Status int    // the HTTP status code
	Body   string // the answer's text, such as "Param 'ip' is required."
}

// Error says which server answered what.
func (e *ServerError) Error() string {
	return fmt.Sprintf("client: server %s answered %d: %s", e.Server, e.Status, e.Body)
}

// Config configures a Client. The zero value talks to 127.0.0.1:8848.
type Config struct {
	// Servers lists the servers as host:port (the port defaults to 8848);
	// an http:// or https:// prefix is allowed. Default 127.0.0.1:8848.
	Servers []string
	// ContextPath prefixes every URL. Default /nacos.
	ContextPath string
	// Namespace is the namespace ID; blank means the public namespace.
	Namespace string
	// Username and Password, when Username is set, make the client log in
	// (POST <ContextPath>/v1/auth/users/login) and send the token it gets as
	// the accessToken parameter of every request. The token is renewed once
	// 90% of its lifetime (tokenTtl) has passed, and after a 403. A server
	// without auth (its login answers 404 or 501, or 200 without an
	// accessToken) gets no token; the client logs that once at info and
	// tries to log in again after 5 minutes (or 90% of a tokenTtl given),
	// or at the first 403. A login answered 403 (a wrong password) fails
	// the request.
	Username string
	Password string
	// Timeout bounds each request to one server. Default 5 s.
	Timeout time.Duration
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// CacheDir, when set, is where the last answer for each subscribed
	// service is written, and read back when a subscription starts while no
	// server answers.
	CacheDir string
	// UDPPort is the port of the socket that receives pushes; 0 picks a free
	// one. The socket listens on all interfaces and opens with the first
	// subscription.
	UDPPort int
	// PushFromAny makes the client take pushes from any address. By default
	// it takes them only from the addresses the Servers resolve to (looked
	// up when the push socket opens, and again at most every 30 s when a
	// datagram comes from elsewhere) and drops others unanswered, so that
	// nobody else on the network can rewrite its view of a service. Set it
	// when servers push from addresses not in Servers, as behind a
	// load-balanced virtual IP; polls keep a subscription current either way.
	PushFromAny bool
	// ClientIP is the address announced for pushes (the clientIP parameter).
	// Blank lets the server push to the address the query came from.
	ClientIP string
	// MaxPollInterval caps the time between two polls of a subscribed
	// service. Zero follows the server, which says how long its answers stay
	// fresh (cacheMillis: 10 s when it pushes to this client, 3 s
	// otherwise).
	MaxPollInterval time.Duration
	// BeatInterval is the heartbeat period until the server names one
	// (clientBeatInterval), unless the instance's metadata
	// preserved.heart.beat.interval gives it in milliseconds. Default 5 s.
	BeatInterval time.Duration
	// AppName is sent as the app parameter of registrations and queries.
	AppName string
	// BatchBeats sends the beats of all this client's instances together,
	// in one PUT /instance/beat/batch per round, instead of one request per
	// instance: a process with many instances then costs the server one
	// request per period. It is a Pulse extension; against a server without
	// it (Nacos answers 501) the client goes back to one request per beat.
	BatchBeats bool
}

// server is one configured server.
type server struct {
	base string // scheme://host:port
	host string // name or IP, without brackets
}

// Client talks to a Pulse or Nacos 1.x naming server. It is safe for
// concurrent use. Create it with New and release it with Close.
type Client struct {
	cfg     Config
	log     *slog.Logger
	servers []server
	cur     atomic.Uint32 // index of the server that answered last
	tr      *http.Transport
	hc      *http.Client
	auth    auth
	now     func() time.Time

	ctx    context.Context // ends with Close; bounds every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the client

	beatLoops  atomic.Int32 // running beat loops, for tests
	watchLoops atomic.Int32 // running watcher loops, for tests
	// batchIn feeds the batcher (BatchBeats); noBatch is set once a server
	// said it has no batch endpoint; phase aligns this client's beats.
	batchIn chan *beatReq
	noBatch atomic.Bool
	phase   uint64
	// dropPushes, when set, makes the receiver discard datagrams unread, as
	// if UDP lost them (a test hook).
	dropPushes atomic.Bool
	// pushFrom is owned by the receiver goroutine.
	pushFrom pushSources

	// mu guards the fields below.
	mu       sync.Mutex
	closed   bool
	batcher  bool                // the batcher goroutine runs
	beats    map[string]*beat    // by beatKey
	watchers map[string]*watcher // by cache key: name, or name@@clusters
	conn     *net.UDPConn        // the push socket, opened by the first subscription
}

// New returns a Client for cfg. It checks the configuration but does not
// contact any server.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		cfg.Servers = []string{DefaultServer}
	}
	if cfg.ContextPath == "" {
		cfg.ContextPath = DefaultContextPath
	}
	cfg.ContextPath = "/" + strings.Trim(cfg.ContextPath, "/")
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BeatInterval == 0 {
		cfg.BeatInterval = DefaultBeatInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	var servers []server
	for _, s := range cfg.Servers {
		srv, err := parseServer(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		servers = append(servers, srv)
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v: must not be negative", cfg.Timeout))
	}
	if cfg.BeatInterval < 0 {
		errs = append(errs, fmt.Errorf("beat interval %v: must not be negative", cfg.BeatInterval))
	}
	if cfg.MaxPollInterval < 0 {
		errs = append(errs, fmt.Errorf("max poll interval %v: must not be negative", cfg.MaxPollInterval))
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		errs = append(errs, fmt.Errorf("udp port %d: must be 0 to 65535", cfg.UDPPort))
	}
	if strings.ContainsAny(cfg.ContextPath, "?# ") {
		errs = append(errs, fmt.Errorf("context path %q: must hold no ?, # or space", cfg.ContextPath))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		servers:  servers,
		tr:       tr,
		hc:       &http.Client{Transport: tr},
		now:      time.Now,
		ctx:      ctx,
		cancel:   cancel,
		beats:    map[string]*beat{},
		watchers: map[string]*watcher{},
		batchIn:  make(chan *beatReq),
		phase:    rand.Uint64(),
	}
	// Start at a random server so that many clients spread their load.
	c.cur.Store(uint32(rand.IntN(len(servers))))
	return c, nil
}

func parseServer(s string) (server, error) {
	s = strings.TrimSpace(s)
	scheme := "http"
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, s = strings.ToLower(s[:i]), s[i+3:]
		if scheme != "http" && scheme != "https" {
			return server{}, fmt.Errorf("server %q: scheme must be http or https", s)
		}
	}
	s = strings.TrimRight(s, "/")
	if s == "" {
		return server{}, errors.New("server address is empty")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: the Nacos default.
		host, port = strings.Trim(s, "[]"), "8848"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return server{}, fmt.Errorf("server %q: bad port %q", s, port)
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return server{}, fmt.Errorf("server %q: bad host", s)
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	return server{base: u.String(), host: host}, nil
}

// Close stops every heartbeat, subscription and the push socket, and
// returns once all the client's goroutines have ended. It waits for
// callbacks that are running. It does not deregister anything: instances
// that stop beating expire on the server. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	clear(c.beats)
	clear(c.watchers)
	c.mu.Unlock()
	c.cancel()
	var err error
	if conn != nil {
		err = conn.Close() // unblocks the receiver
	}
	c.wg.Wait()
	c.tr.CloseIdleConnections()
	return err
}

// ActiveBeats returns the number of instances the client is sending
// heartbeats for.
func (c *Client) ActiveBeats() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.beats)
}

// groupedName returns group@@service; a service name that already holds
// "@@" is taken as grouped, and then group must be blank or the same.
func groupedName(service, group string) (string, error) {
	service = strings.TrimSpace(service)
	if service == "" {
		return "", errors.New("client: service name is empty")
	}
	if g, _, ok := strings.Cut(service, naming.GroupSeparator); ok && group != "" && g != group {
		return "", fmt.Errorf("client: service %q is grouped but group is %q", service, group)
	}
	return naming.Grouped(group, service), nil
}
