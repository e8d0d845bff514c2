package main

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/pulse-registry/pulse/internal/servertest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listening returns the attributes of the "pulse server listening" record.
func listening(t *testing.T, logs func() string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(logs(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "pulse server listening" {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JSON listening record in:\n%s", logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cmdRun is `pulse server args...` running in process.
type cmdRun struct {
	logs     *servertest.Buffer
	cancel   context.CancelFunc
	returned chan struct{} // closed when Execute returns
	err      error         // what Execute returned, once returned is closed
}

// runServer runs `pulse server args...` until the test cancels it or ends.
func runServer(t *testing.T, args ...string) *cmdRun {
	t.Helper()
	r := &cmdRun{logs: &servertest.Buffer{}, returned: make(chan struct{})}
	root := newRootCmd()
	root.SetArgs(append([]string{"server"}, args...))
	root.SetOut(io.Discard)
	root.SetErr(r.logs)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.err = root.ExecuteContext(ctx)
		close(r.returned)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.returned
	})
	return r
}

func TestServerCmd_Config(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		args        []string
		wantContext string
	}{
		{"flags", nil, []string{"--addr", "127.0.0.1:0", "--log-format", "json"}, "/nacos"},
		{"environment", map[string]string{"PULSE_ADDR": "127.0.0.1:0", "PULSE_LOG_FORMAT": "json", "PULSE_CONTEXT_PATH": "/env"}, nil, "/env"},
		{"flags win over the environment",
			map[string]string{"PULSE_ADDR": "127.0.0.1:1", "PULSE_LOG_FORMAT": "text", "PULSE_CONTEXT_PATH": "/env", "PULSE_LOG_LEVEL": "info"},
			[]string{"--addr=127.0.0.1:0", "--log-format=json", "--context-path", "/flag"}, "/flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runServer(t, tc.args...)
			rec := listening(t, r.logs.String)
			addr, _ := rec["addr"].(string)
			if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:0" || addr == "127.0.0.1:1" || rec["context_path"] != tc.wantContext {
				t.Fatalf("listening record: got %v, want a chosen port on 127.0.0.1 and context path %s", rec, tc.wantContext)
			}
			if status, body := get(t, "http://"+addr+tc.wantContext+"/v1/console/health/liveness"); status != 200 || body != "OK" {
				t.Errorf("liveness under %s: got %d %q", tc.wantContext, status, body)
			}
			r.cancel()
			<-r.returned
			if r.err != nil {
				t.Errorf("Execute: got %v, want nil after cancellation", r.err)
			}
		})
	}
}

func TestServerCmd_BadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad environment value", map[string]string{"PULSE_SHUTDOWN_TIMEOUT": "soon"}, []string{"--addr", "127.0.0.1:0"}, `environment PULSE_SHUTDOWN_TIMEOUT="soon"`},
		{"bad log format", nil, []string{"--addr", "127.0.0.1:0", "--log-format", "xml"}, `log format "xml": want text or json`},
		{"bad log level from the environment", map[string]string{"PULSE_LOG_LEVEL": "loud"}, []string{"--addr", "127.0.0.1:0"}, `log level "loud": want debug, info, warn or error`},
		{"bad address", nil, []string{"--addr", "nonsense"}, `addr "nonsense"`},
		{"unknown flag", nil, []string{"--port", "1"}, "unknown flag: --port"},
		{"arguments", nil, []string{"extra"}, `unknown command "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runServer(t, tc.args...)
			select {
			case <-r.returned:
				if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
					t.Errorf("got %v, want an error containing %q", r.err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server started despite a bad configuration")
			}
		})
	}
}

// TestBinary builds the real binary and checks that it logs its chosen
// address, serves, and exits 0 on SIGTERM and SIGINT.
func TestBinary(t *testing.T) {
	bin := buildPulse(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "server", "--addr", "127.0.0.1:0", "--log-format", "json")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			logs := &servertest.Buffer{}
			var wg sync.WaitGroup
			wg.Go(func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logs.Write(append(sc.Bytes(), '\n'))
				}
			})

			rec := listening(t, logs.String)
			addr, _ := rec["addr"].(string)
			if rec["version"] != "v0.0.0-test" {
				t.Errorf("version in the log: got %v, want the one stamped at build time", rec["version"])
			}
			if status, body := get(t, "http://"+addr+"/nacos/v1/console/server/state"); status != 200 || !strings.Contains(body, `"version":"v0.0.0-test"`) {
				t.Errorf("server state: got %d %s", status, body)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			wg.Wait() // stderr reaches EOF when the process exits
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after %v: %v\n%s", sig, err, logs.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code: got %d, want 0", code)
			}
			for _, msg := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
				if !strings.Contains(logs.String(), msg) {
					t.Errorf("log lacks %s:\n%s", msg, logs.String())
				}
			}
		})
	}
}

func TestMain(m *testing.M) {
	// The load tool's --spawn starts os.Executable(), which is this test
	// binary: asked to, it runs as the pulse binary (see bench_test.go).
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	// The environment must not leak a configuration into these tests.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PULSE_") {
			os.Unsetenv(k)
		}
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
