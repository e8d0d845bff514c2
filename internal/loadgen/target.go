package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Target is a server under load: where it listens and, when it runs on this
// machine, its process for CPU and memory figures.
type Target struct {
	Addr string // host:port on loopback
	PID  int    // 0 when unknown
	// proc is set when this tool started the server; Close stops it.
	proc *exec.Cmd
	done chan struct{}
	log  string // the spawned server's log file
}

// CheckLoopback refuses any address that is not on the loopback network:
// this tool sends bounded but heavy load, and only to this machine.
func CheckLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("server address %q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("server address %q: the host must be localhost or a loopback IP address", hostport)
	}
	if !ip.Unmap().IsLoopback() {
		return fmt.Errorf("server address %q: not a loopback address; the load tool only talks to this machine", hostport)
	}
	return nil
}

// Connect describes a server that is already running at addr. pid may be 0:
// the process is then looked up by its listening port, and CPU and memory
// figures are left out when that fails.
func Connect(addr string, pid int) (*Target, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	t := &Target{Addr: addr, PID: pid}
	if pid == 0 {
		_, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		if found, err := FindListener(p); err == nil {
			t.PID = found
		}
	}
	return t, nil
}

// Spawn starts exe with args plus "--addr 127.0.0.1:<free port>", its
// output going to a log file in dir, and waits until it answers HTTP GET
// healthPath with 200. Close stops it; Release stops it and removes the log
// unless the run failed. When it fails to start, the error names its log.
func Spawn(ctx context.Context, exe string, args []string, dir, healthPath string) (*Target, error) {
	for attempt := 0; ; attempt++ {
		t, err := spawnOnce(ctx, exe, args, dir, healthPath)
		if err == nil {
			return t, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, err
		}
		// A free port may be taken between picking and binding it: try
		// again, without the log of an attempt whose error is dropped.
		if t != nil {
			_ = os.Remove(t.log)
		}
	}
}

func spawnOnce(ctx context.Context, exe string, args []string, dir, healthPath string) (*Target, error) {
	addr, err := FreePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp(dir, filepath.Base(exe)+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, append(append([]string(nil), args...), "--addr", addr)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = os.Remove(logf.Name()) // empty
		return nil, fmt.Errorf("spawn %s: %w", exe, err)
	}
	t := &Target{Addr: addr, PID: cmd.Process.Pid, proc: cmd, done: make(chan struct{}), log: logf.Name()}
	go func() { _ = cmd.Wait(); close(t.done) }() // owned by t: Close waits for it
	if err := t.waitUp(ctx, healthPath, 15*time.Second); err != nil {
		t.Close()
		return t, err // stopped; its log is kept
	}
	return t, nil
}

// FreePort returns a loopback address with a TCP port that was free a
// moment ago.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

func (t *Target) waitUp(ctx context.Context, path string, limit time.Duration) error {
	c := newConn(t.Addr, time.Second)
	defer c.close()
	req := appendGet(nil, t.Addr, path)
	deadline := time.Now().Add(limit)
	for {
		_, err := c.do(req)
		if err == nil {
			return nil
		}
		select {
		case <-t.done:
			return fmt.Errorf("spawned server exited before answering (log: %s)", t.log)
		case <-ctx.Done():
			return fmt.Errorf("wait for the spawned server: %w (log: %s)", ctx.Err(), t.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spawned server did not answer %s within %v: %w (log: %s)", path, limit, err, t.log)
		}
	}
}

// Spawned reports whether this tool started the server.
func (t *Target) Spawned() bool { return t.proc != nil }

// Log is the spawned server's log file, "" for a server found running.
func (t *Target) Log() string { return t.log }

// Sample reads the server's CPU time and RSS; ok is false when its process
// is unknown or gone.
func (t *Target) Sample() (ProcSample, bool) {
	if t.PID == 0 {
		return ProcSample{}, false
	}
	s, err := ReadProc(t.PID)
	return s, err == nil
}

// Close stops a spawned server, with SIGTERM and then, after 15 s, SIGKILL,
// and waits for it to exit. It does nothing to a server it did not start.
// The server's log is kept.
func (t *Target) Close() error {
	if t.proc == nil {
		return nil
	}
	return StopProcess(t.proc.Process, t.done, 15*time.Second)
}

// Release stops the server as Close does, at the end of a run that ended
// with runErr. A spawned server's log is removed when the run succeeded and
// the server stopped cleanly; otherwise it is kept, and the error returned
// (runErr joined with Close's) names it.
func (t *Target) Release(runErr error) error {
	if t.proc == nil {
		return runErr
	}
	err := errors.Join(runErr, t.Close())
	if err != nil {
		return fmt.Errorf("%w (server log kept: %s)", err, t.log)
	}
	if rerr := os.Remove(t.log); rerr != nil {
		return fmt.Errorf("remove server log: %w", rerr)
	}
	return nil
}

// StopProcess sends p SIGTERM and, if done is not closed within grace,
// SIGKILL; it returns once done is closed (by whoever waits for p).
func StopProcess(p *os.Process, done <-chan struct{}, grace time.Duration) error {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	_ = p.Kill()
	<-done
	return fmt.Errorf("process %d ignored SIGTERM for %v; killed", p.Pid, grace)
}
