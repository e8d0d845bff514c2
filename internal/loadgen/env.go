// Package loadgen is Pulse's load tool: bounded scenarios (beats, register,
// expiry, push, query) that drive a Pulse server on this machine over its
// Nacos v1 API, the way nacos-sdk-go does, and report throughput, latency,
// and the server's CPU time and memory read from /proc. It also serves the
// "ceiling" baseline: a trivial net/http handler with a fixed beat reply.
//
// The generator shares the cores with the server it measures, so it is kept
// cheap: keep-alive connections, requests built into reused buffers, and a
// minimal HTTP/1.1 reader (conn.go). Every scenario is bounded in count and
// time and talks only to loopback addresses.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// Env is what every scenario needs: where the server is, or how to start
// one, and the bounds of the run.
type Env struct {
	// Server is the address of a running server, used unless Spawn.
	Server string
	// ServerPID is its process, for CPU and memory; 0 looks it up by port.
	ServerPID int
	// Spawn starts a fresh server for the scenario and stops it after.
	Spawn bool
	// Exe is the pulse binary to spawn; default the running executable.
	Exe string
	// ServerArgs are extra arguments for a spawned `pulse server`.
	ServerArgs []string
	// ContextPath is the servers' URL prefix; default /nacos.
	ContextPath string
	// Conns is the number of keep-alive connections; default 32.
	Conns int
	// MaxTime bounds the whole scenario; default 5 minutes.
	MaxTime time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// TempDir holds spawned servers' logs; default os.TempDir().
	TempDir string
}

func (e *Env) fill() error {
	if e.ContextPath == "" {
		e.ContextPath = "/nacos"
	}
	if e.Conns <= 0 {
		e.Conns = 32
	}
	if e.MaxTime <= 0 {
		e.MaxTime = 5 * time.Minute
	}
	if e.Log == nil {
		e.Log = io.Discard
	}
	if e.TempDir == "" {
		e.TempDir = os.TempDir()
	}
	if e.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the pulse binary: %w", err)
		}
		e.Exe = exe
	}
	if e.Server == "" {
		e.Server = "127.0.0.1:8848"
	}
	return nil
}

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.Log, "# "+format+"\n", args...)
}

// pulse returns the Pulse server to load: a spawned one or the one at
// e.Server.
func (e *Env) pulse(ctx context.Context) (*Target, error) {
	if !e.Spawn {
		t, err := Connect(e.Server, e.ServerPID)
		if err == nil {
			e.logf("server %s, pid %d", t.Addr, t.PID)
		}
		return t, err
	}
	args := append([]string{"server"}, e.ServerArgs...)
	t, err := Spawn(ctx, e.Exe, args, e.TempDir, e.ContextPath+"/v1/console/health/liveness")
	if err != nil {
		return nil, err
	}
	e.logf("spawned pulse server %s, pid %d, log %s", t.Addr, t.PID, t.Log())
	return t, nil
}

// ceiling returns the trivial-handler baseline: a spawned one, or the one
// at e.Server.
func (e *Env) ceiling(ctx context.Context) (*Target, error) {
	if !e.Spawn {
		return Connect(e.Server, e.ServerPID)
	}
	t, err := Spawn(ctx, e.Exe, []string{"bench", "ceiling-server"}, e.TempDir, "/")
	if err != nil {
		return nil, err
	}
	e.logf("spawned ceiling server %s, pid %d", t.Addr, t.PID)
	return t, nil
}

func (e *Env) requests(t *Target) func() *requests {
	return func() *requests { return &requests{host: t.Addr, ctx: e.ContextPath} }
}

// register creates n instances named after prefix, perService to a
// service, as fast as the server takes them.
func (e *Env) register(ctx context.Context, t *Target, prefix string, n, perService int, metadata string) loadResult {
	return load{
		addr:        t.Addr,
		conns:       e.Conns,
		count:       int64(n),
		maxTime:     e.MaxTime,
		newRequests: e.requests(t),
		build: func(r *requests, i int64) []byte {
			return r.register(instanceOf(prefix, int(i), perService), metadata)
		},
	}.run(ctx)
}

// usage is the server's CPU and memory over a phase.
type usage struct {
	before, after ProcSample
	ok            bool
}

func sampleStart(t *Target) usage {
	s, ok := t.Sample()
	return usage{before: s, ok: ok}
}

func (u *usage) end(t *Target) {
	s, ok := t.Sample()
	u.after, u.ok = s, u.ok && ok
}

func (u usage) cpu() time.Duration { return u.after.CPU - u.before.CPU }

// cpuPer1k is CPU seconds per 1,000 operations.
func (u usage) cpuPer1k(ops int64) float64 {
	if !u.ok || ops == 0 {
		return -1
	}
	return u.cpu().Seconds() / float64(ops) * 1000
}

// utilisation is the server's CPU time over wall time, in cores.
func (u usage) utilisation() float64 {
	wall := u.after.At.Sub(u.before.At)
	if !u.ok || wall <= 0 {
		return -1
	}
	return u.cpu().Seconds() / wall.Seconds()
}

func self() usage {
	s, err := ReadProc(os.Getpid())
	return usage{before: s, ok: err == nil}
}

func (u *usage) endSelf() {
	s, err := ReadProc(os.Getpid())
	u.after, u.ok = s, u.ok && err == nil
}

func errText(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
