package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/servertest"
)

// built is the pulse binary, built once for every test that runs it.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildPulse returns the pulse binary, stamped with version v0.0.0-test,
// building it on first use; TestMain removes it.
func buildPulse(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pulse-test-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "pulse")
		out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// lines collects the output lines of a running command.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.l = append(l.l, sc.Text())
		l.mu.Unlock()
	}
}

// wait waits for a line, at index from or later, holding every part, and
// returns the index after it.
func (l *lines) wait(t *testing.T, from int, what string, parts ...string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.l); i++ {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l.l[i], p)
			}
			if ok {
				l.mu.Unlock()
				return i + 1
			}
		}
		all := strings.Join(l.l, "\n")
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cli runs the pulse binary against one server.
type cli struct {
	t      *testing.T
	bin    string
	server string
}

// run runs a command to its end and returns its stdout.
func (c *cli) run(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, "--server", c.server)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("pulse %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// start starts a command in the background; the test kills it at the end.
func (c *cli) start(args ...string) (*exec.Cmd, *lines, *lines) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, "--server", c.server)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	var out, errs lines
	var wg sync.WaitGroup
	wg.Go(func() { out.read(stdout) })
	wg.Go(func() { errs.read(stderr) })
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wg.Wait()
		_ = cmd.Wait()
	})
	return cmd, &out, &errs
}

func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPulse(t)
	srv := servertest.Start(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := &cli{t: t, bin: bin, server: addr}

	// An instance that stays healthy, so that the protection threshold does
	// not serve the dead one as healthy.
	anchor, err := client.New(client.Config{Servers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer anchor.Close()
	if err := anchor.RegisterInstance(t.Context(), client.Registration{Service: "web", IP: "10.1.9.9", Port: 1}); err != nil {
		t.Fatal(err)
	}

	fast := "preserved.heart.beat.interval=200,preserved.heart.beat.timeout=1000,preserved.ip.delete.timeout=3000"
	reg, _, regErr := c.start("register", "--service", "web", "--ip", "10.1.0.1", "--port", "8080",
		"--weight", "2", "--metadata", "zone=a,"+fast)
	regErr.wait(t, 0, "the registration", "registered web 10.1.0.1:8080")

	table := c.run("list", "--service", "web")
	if !strings.Contains(table, "IP") || !strings.Contains(table, "10.1.0.1  8080") || !strings.Contains(table, "zone=a") {
		t.Errorf("list table:\n%s", table)
	}
	var list []struct {
		IP       string            `json:"ip"`
		Port     int               `json:"port"`
		Weight   float64           `json:"weight"`
		Healthy  bool              `json:"healthy"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(c.run("list", "--service", "web", "-o", "json")), &list); err != nil {
		t.Fatalf("list -o json: %v", err)
	}
	if len(list) != 2 || list[0].IP != "10.1.0.1" || list[0].Port != 8080 || list[0].Weight != 2 || !list[0].Healthy || list[0].Metadata["zone"] != "a" {
		t.Errorf("list -o json: got %+v", list)
	}
	if got := strings.Fields(c.run("services")); !slices.Equal(got, []string{"web"}) {
		t.Errorf("services: got %v, want [web]", got)
	}

	_, watch, watchErr := c.start("watch", "--service", "web")
	watchErr.wait(t, 0, "watch to start", "watching web")
	i := watch.wait(t, 0, "the instance listed", "added", "10.1.0.1:8080", "healthy=true")

	// Kill the registering process: no deregistration, the server expires
	// the instance and watch reports each step.
	if err := reg.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	i = watch.wait(t, i, "the instance unhealthy", "changed", "10.1.0.1:8080", "healthy=false")
	watch.wait(t, i, "the instance removed", "removed", "10.1.0.1:8080")

	// A persistent registration: registered, and the command exits.
	c.run("register", "--service", "web", "--ip", "10.1.0.2", "--port", "81", "--ephemeral=false")
	i = watch.wait(t, i, "the persistent instance", "added", "10.1.0.2:81")
	c.run("deregister", "--service", "web", "--ip", "10.1.0.2", "--port", "81", "--ephemeral=false")
	i = watch.wait(t, i, "the persistent instance removed", "removed", "10.1.0.2:81")

	// SIGTERM: register deregisters before it exits.
	term, _, termErr := c.start("register", "--service", "web", "--ip", "10.1.0.3", "--port", "82")
	termErr.wait(t, 0, "the registration", "registered web 10.1.0.3:82")
	i = watch.wait(t, i, "the third instance", "added", "10.1.0.3:82")
	if err := term.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	watch.wait(t, i, "the third instance removed", "removed", "10.1.0.3:82")
	termErr.wait(t, 0, "the deregistration", "deregistered web 10.1.0.3:82")

	// The server can come from the environment.
	env := exec.Command(bin, "services", "--group", "*")
	env.Env = append(os.Environ(), "PULSE_SERVER="+addr)
	out, err := env.Output()
	if err != nil || strings.TrimSpace(string(out)) != "DEFAULT_GROUP@@web" {
		t.Errorf("services with PULSE_SERVER: got %q, %v", out, err)
	}
}

func TestInstanceFlags_registration(t *testing.T) {
	for _, tc := range []struct {
		name     string
		metadata string
		want     map[string]string
	}{
		{"pairs", "zone=a,k=", map[string]string{"zone": "a", "k": ""}},
		{"JSON object", `{"zone":"a","n":1,"ok":true}`, map[string]string{"zone": "a", "n": "1", "ok": "true"}},
		{"blank", " ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := instanceFlags{service: "s", ip: "10.0.0.1", port: 1, weight: 1, metadata: tc.metadata, full: true}
			reg, err := f.registration()
			if err != nil || !maps.Equal(reg.Metadata, tc.want) {
				t.Errorf("metadata %q: got %v, %v; want %v", tc.metadata, reg.Metadata, err, tc.want)
			}
		})
	}
}

func TestCLI_errors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPulse(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing service", []string{"list"}, `required flag(s) "service" not set`},
		{"bad output", []string{"list", "--service", "s", "-o", "yaml"}, "want table or json"},
		{"bad metadata", []string{"register", "--service", "s", "--ip", "1.2.3.4", "--port", "1", "--metadata", "novalue"}, "k=v pairs"},
		{"zero weight", []string{"register", "--service", "s", "--ip", "1.2.3.4", "--port", "1", "--weight", "0"}, "must be above 0"},
		{"no server", []string{"services", "--server", "127.0.0.1:1", "--timeout", "1s"}, "every server failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("got %v and output %q, want a failure saying %q", err, out, tc.want)
			}
		})
	}
}
