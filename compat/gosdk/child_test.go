package gosdk

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/pulse-registry/pulse/internal/servertest"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/clients"
	"github.com/nacos-group/nacos-sdk-go/common/constant"
	"github.com/nacos-group/nacos-sdk-go/vo"
)

// childEnv holds the JSON childSpec of a child process: the test binary run
// again as an application that registers instances with the SDK and keeps
// beating until it is killed.
const childEnv = "PULSE_COMPAT_CHILD"

type childSpec struct {
	Addr      string // host:port of the server
	Namespace string
	LogDir    string
	CacheDir  string
	Instances []vo.RegisterInstanceParam
}

// runChild is the child's main. It prints "ready" once every instance is
// registered, and exits when its standard input closes (the parent died) or
// on SIGTERM.
func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child: spec:", err)
		return 2
	}
	host, port, err := splitAddr(spec.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if err := makeCacheDir(spec.CacheDir); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	cc := constant.ClientConfig{
		NamespaceId: spec.Namespace,
		// Long enough that a request in flight while a test stops this
		// process (SIGSTOP) does not time out when it resumes.
		TimeoutMs: 30000,
		LogDir:    spec.LogDir,
		CacheDir:  spec.CacheDir,
		LogLevel:  "info",
	}
	c, err := clients.NewNamingClient(vo.NacosClientParam{
		ClientConfig:  &cc,
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: port, ContextPath: "/nacos"}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: new client:", err)
		return 1
	}
	for _, in := range spec.Instances {
		if ok, err := c.RegisterInstance(in); !ok || err != nil {
			fmt.Fprintf(os.Stderr, "child: register %s:%d: %v\n", in.Ip, in.Port, err)
			return 1
		}
	}
	fmt.Println("ready")
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	select {
	case <-done:
	case <-term:
	}
	return 0
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	logDir string
	stderr *servertest.Buffer
	waited chan error
}

// startChild runs a child that registers spec's instances (its Addr,
// Namespace and directories are filled in) and waits until it says ready.
// The child is killed when the test ends.
func startChild(t *testing.T, addr, namespace string, instances ...vo.RegisterInstanceParam) *child {
	t.Helper()
	dir := t.TempDir()
	spec := childSpec{
		Addr:      addr,
		Namespace: namespace,
		LogDir:    filepath.Join(dir, "log"),
		CacheDir:  filepath.Join(dir, "cache"),
		Instances: instances,
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	c := &child{cmd: cmd, logDir: spec.LogDir, stderr: &servertest.Buffer{}, waited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if sc.Text() == "ready" && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		c.waited <- cmd.Wait()
	}()
	t.Cleanup(func() { c.kill() })
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("child exited before it was ready; stderr:\n%s", c.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("child not ready after 20s; stderr:\n%s", c.stderr.String())
	}
	return c
}

// kill sends SIGKILL, as a crash would, and waits for the process to end.
// It may be called more than once.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.stdin.Close()
	if _, ok := <-c.waited; ok { // the exit status only says it was killed
		close(c.waited)
	}
}

// checkLog fails the test for the error lines of the child's SDK log that
// allow does not accept.
func (c *child) checkLog(t *testing.T, allow func(string) bool) {
	t.Helper()
	checkSDKLog(t, sdkLogPath(c.logDir), 0, allow)
}

func splitAddr(addr string) (string, uint64, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("address %q: no port", addr)
	}
	var port uint64
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	return addr[:i], port, nil
}

// signal sends sig to the child.
func (c *child) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to the child: %v", sig, err)
	}
}
