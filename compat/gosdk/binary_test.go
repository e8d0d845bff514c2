package gosdk

import (
	"bufio"
	"encoding/json"
	"errors"
	"github.com/pulse-registry/pulse/internal/servertest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pulseBinary returns the path of a pulse binary: $PULSE_BIN when set (the
// Makefile builds one before the suites), else one built from this
// repository into the temporary root.
func pulseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("PULSE_BIN"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		binPath = filepath.Join(root, "pulse")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/pulse")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/pulse: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// pulseProc is a pulse server running as its own process.
type pulseProc struct {
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	api    string // http://host:port/nacos
	stderr *servertest.Buffer
	exited chan error
}

// runPulse starts `pulse server --addr addr` and waits for its "listening"
// log line, which carries the address (addr may have port 0). The process is
// stopped when the test ends.
func runPulse(t *testing.T, addr string) *pulseProc {
	t.Helper()
	cmd := exec.Command(pulseBinary(t), "server", "--addr", addr, "--push-to-source", "--log-format", "json", "--log-level", "debug")
	p := &pulseProc{cmd: cmd, stderr: &servertest.Buffer{}, exited: make(chan error, 1)}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pulse: %v", err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			_, _ = p.stderr.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "pulse server listening" {
				select {
				case listening <- line.Addr:
				default:
				}
			}
		}
		close(listening)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("pulse %s log:\n%s", p.addr, p.stderr.String())
		}
	})
	select {
	case a, ok := <-listening:
		if !ok {
			t.Fatalf("pulse exited before listening:\n%s", p.stderr.String())
		}
		p.addr, p.api = a, "http://"+a+"/nacos"
	case <-time.After(15 * time.Second):
		t.Fatalf("pulse not listening after 15s:\n%s", p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and expects a clean exit within a few seconds. It may
// be called more than once.
func (p *pulseProc) stop(t *testing.T) {
	t.Helper()
	if p.exited == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("pulse on %s: exit after SIGTERM: %v, want status 0", p.addr, err)
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("pulse on %s: still running 15s after SIGTERM", p.addr)
	}
	p.exited = nil
}
