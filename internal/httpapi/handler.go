// Package httpapi serves the Nacos 1.x naming API (/nacos/v1/ns/...) and the
// console health endpoints over HTTP. It parses and validates parameters the
// way Nacos does, calls the registry through small interfaces, and maps
// errors to Nacos status codes and messages in one place (errors.go).
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/switches"
	"github.com/pulse-registry/pulse/internal/wire"
)

// Writer is the write side of the registry. Standalone it is the
// *naming.Registry; in cluster mode a replicated store implements it.
type Writer interface {
	Register(key naming.ServiceKey, spec naming.InstanceSpec, now time.Time) error
	Update(key naming.ServiceKey, spec naming.InstanceSpec, now time.Time) error
	PatchInstance(key naming.ServiceKey, cluster, ip string, port int, p naming.Patch, now time.Time) error
	Deregister(key naming.ServiceKey, cluster, ip string, port int, ephemeral bool, now time.Time) bool
	Beat(key naming.ServiceKey, b naming.BeatSpec, now time.Time) (naming.BeatResult, error)
	CreateService(key naming.ServiceKey, spec naming.ServiceSpec, now time.Time) error
	UpdateService(key naming.ServiceKey, spec naming.ServiceSpec, now time.Time) error
	DeleteService(key naming.ServiceKey, now time.Time) error
	UpdateCluster(key naming.ServiceKey, name string, spec naming.ClusterSpec, now time.Time) error
	UpdateMetadata(key naming.ServiceKey, b naming.MetadataBatch, now time.Time) ([]string, error)
}

// Reader is the read side of the registry.
type Reader interface {
	Select(q naming.Query, buf []naming.Host) naming.Selection
	Instance(key naming.ServiceKey, cluster, ip string, port int) (naming.Host, error)
	Service(key naming.ServiceKey) (naming.ServiceInfo, error)
	Services(namespace string) []string
	Stats() naming.Stats
}

// Subscriber registers UDP push targets from list queries. *push.Pusher
// implements it.
type Subscriber interface {
	// Subscribe adds or refreshes a target and reports whether pushes to it
	// are enabled (the answer then advertises the push cacheMillis).
	Subscribe(t push.Target) bool
	// Targets lists a service's live targets.
	Targets(key naming.ServiceKey) []push.TargetInfo
	// Stats reports what the pusher has done.
	Stats() push.Stats
}

// Config wires a Handler.
type Config struct {
	Writer   Writer
	Reader   Reader
	Switches *switches.Set
	Clock    clock.Clock
	Logger   *slog.Logger
	// ContextPath is the URL prefix, "/nacos" by default.
	ContextPath string
	// Subscriber registers push targets; nil disables push.
	Subscriber Subscriber
	// PushToSource sends pushes to the address a list query came from,
	// ignoring its clientIP parameter. Nacos trusts clientIP, which lets
	// anyone aim pushes at any address; this closes that at the cost of
	// clients behind an HTTP proxy.
	PushToSource bool
	// Ready reports whether the server takes traffic; nil means always.
	Ready func() bool
	// Metrics adds the figures of other components to /operator/metrics.
	Metrics func(*wire.Metrics)
	// Self is the address this server is reached at, for /operator/servers.
	Self netip.AddrPort
	// Version is reported by /v1/console/server/state.
	Version string
}

// Handler is the http.Handler of the API. It is safe for concurrent use.
type Handler struct {
	cfg  Config
	w    Writer
	r    Reader
	sw   *switches.Set
	clk  clock.Clock
	log  *slog.Logger
	mux  *http.ServeMux
	pool sync.Pool // *listBuf
	// exact routes the API's fixed paths without the ServeMux's pattern
	// matching, which costs more than a beat; filled by routes, read-only
	// after.
	exact map[string]http.HandlerFunc
	// beatReply is the last beat reply written, reused while the switches
	// give the same one.
	beatReply atomic.Pointer[beatReply]

	beats, registers, deregisters atomic.Int64
}

// New returns a Handler serving cfg's registry.
func New(cfg Config) *Handler {
	if cfg.ContextPath == "" {
		cfg.ContextPath = "/nacos"
	}
	cfg.ContextPath = "/" + strings.Trim(cfg.ContextPath, "/")
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Switches == nil {
		cfg.Switches = switches.New()
	}
	h := &Handler{
		cfg:   cfg,
		w:     cfg.Writer,
		r:     cfg.Reader,
		sw:    cfg.Switches,
		clk:   cfg.Clock,
		log:   cfg.Logger,
		mux:   http.NewServeMux(),
		exact: map[string]http.HandlerFunc{},
	}
	h.routes()
	return h
}

// route maps one path to a handler per method; any other method under the
// naming prefix gets Nacos' 501 "no such api".
type route map[string]func(http.ResponseWriter, *http.Request, *params) error

func (h *Handler) routes() {
	ns := h.cfg.ContextPath + "/v1/ns"
	h.handle(ns+"/instance", route{
		"POST":   h.register,
		"DELETE": h.deregister,
		"PUT":    h.update,
		"PATCH":  h.patch,
		"GET":    h.detail,
	})
	h.handle(ns+"/instance/list", route{"GET": h.list})
	h.handle(ns+"/instance/beat", route{"PUT": h.beat})
	h.handle(ns+"/instance/beat/batch", route{"PUT": h.beatBatch})
	h.handle(ns+"/instance/metadata/batch", route{"PUT": h.metadataBatch, "DELETE": h.metadataBatch})
	h.handle(ns+"/service", route{
		"POST":   h.createService,
		"DELETE": h.deleteService,
		"PUT":    h.updateService,
		"GET":    h.getService,
	})
	h.handle(ns+"/service/list", route{"GET": h.serviceList})
	h.handle(ns+"/service/subscribers", route{"GET": h.subscribers})
	h.handle(ns+"/cluster", route{"PUT": h.updateCluster})
	h.handle(ns+"/health", route{"PUT": h.setHealth})
	h.handle(ns+"/health/instance", route{"PUT": h.setHealth})
	for _, op := range []string{"/operator", "/ops"} {
		h.handle(ns+op+"/switches", route{"GET": h.getSwitches, "PUT": h.putSwitches})
		h.handle(ns+op+"/metrics", route{"GET": h.metrics})
		h.handle(ns+op+"/servers", route{"GET": h.servers})
		h.handle(ns+op+"/push/state", route{"GET": h.pushState})
	}
	h.mux.HandleFunc(ns+"/", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusNotImplemented, "no such api:"+r.Method+":"+r.URL.Path)
	})
	auth := h.cfg.ContextPath + "/v1/auth"
	h.handle(auth+"/login", route{"POST": h.login})
	h.handle(auth+"/users/login", route{"POST": h.login})
	console := h.cfg.ContextPath + "/v1/console"
	h.mux.HandleFunc("GET "+console+"/health/liveness", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "OK")
	})
	h.mux.HandleFunc("GET "+console+"/health/readiness", func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.Ready != nil && !h.cfg.Ready() {
			writeText(w, http.StatusInternalServerError, "Naming is not in readiness")
			return
		}
		writeText(w, http.StatusOK, "OK")
	})
	h.mux.HandleFunc("GET "+console+"/server/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, wire.ServerState{Version: h.cfg.Version, StandaloneMode: "standalone", FunctionMode: "naming"})
	})
}

func (h *Handler) handle(path string, rt route) {
	f := func(w http.ResponseWriter, r *http.Request) {
		fn := rt[r.Method]
		if fn == nil {
			writeText(w, http.StatusNotImplemented, "no such api:"+r.Method+":"+r.URL.Path)
			return
		}
		if h.revise(w, r) {
			return
		}
		p, err := parseParams(r)
		if err == nil {
			err = fn(w, r, p)
			p.release()
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	}
	h.mux.HandleFunc(path, f)
	h.exact[path] = f
}

// revise applies the switches an operator can use to shed traffic, as Nacos'
// TrafficReviseFilter does: limitedUrlMap and overriddenServerStatus. The
// switches endpoint itself is exempt, so that an operator can always undo
// them.
func (h *Handler) revise(w http.ResponseWriter, r *http.Request) bool {
	path := strings.TrimPrefix(r.URL.Path, h.cfg.ContextPath)
	if strings.HasSuffix(path, "/switches") {
		return false
	}
	sw := h.sw.Get()
	for prefix, code := range sw.LimitedURLMap {
		if strings.HasPrefix(path, prefix) || strings.HasPrefix(r.URL.Path, prefix) {
			w.WriteHeader(code)
			return true
		}
	}
	status := "UP"
	if sw.OverriddenServerStatus != nil {
		status = *sw.OverriddenServerStatus
	}
	switch {
	case status == "UP",
		agentOf(r).Kind == wire.AgentServer, // peers always pass; also how an operator undoes DOWN
		status == "WRITE_ONLY" && r.Method != http.MethodGet,
		status == "READ_ONLY" && r.Method == http.MethodGet:
		return false
	}
	writeText(w, http.StatusServiceUnavailable, "server is "+status+"now, please try again later!")
	return true
}

// ServeHTTP serves the API. A panic in a handler becomes a 500 and a log
// line instead of a dropped connection.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeText(w, http.StatusInternalServerError, "caused: internal error;")
		}
	}()
	if f := h.exact[r.URL.Path]; f != nil {
		f(w, r) // what the mux would pick for this clean, exact path
		return
	}
	h.mux.ServeHTTP(w, r)
}

func writeOK(w http.ResponseWriter) { writeText(w, http.StatusOK, "ok") }

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "caused: "+err.Error()+";")
		return
	}
	writeJSONBytes(w, b)
}

// jsonType is set as is, saving Header.Set's canonicalisation and slice;
// its capacity is its length, so an Add elsewhere copies it.
var jsonType = []string{"application/json;charset=UTF-8"}[:1:1]

func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
