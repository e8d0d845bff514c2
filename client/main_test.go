package client_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
)

// childEnv selects the child mode of the test binary: a process that
// registers one instance, beats, and waits to be killed.
const childEnv = "PULSE_CLIENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	code := m.Run()
	if code == 0 {
		// Every test closed its clients: none of their goroutines may be left.
		if leaked := waitNoClientGoroutines(2 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines of the client left after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// runChild registers the instance "server,service,ip,port" with fast beat
// metadata, says "registered" on stdout and beats until killed.
func runChild(spec string) int {
	parts := strings.Split(spec, ",")
	if len(parts) != 4 {
		fmt.Fprintln(os.Stderr, "child: bad spec", spec)
		return 2
	}
	port, _ := strconv.Atoi(parts[3])
	c, err := client.New(client.Config{Servers: []string{parts[0]}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = c.RegisterInstance(ctx, client.Registration{Service: parts[1], IP: parts[2], Port: port, Metadata: fastMeta})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	fmt.Println("registered")
	<-ctx.Done() // SIGKILL never gets here
	return 0
}

// clientGoroutines returns the stacks of goroutines running code of the
// client package outside of a test function.
func clientGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "pulse-registry/pulse/client.") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func waitNoClientGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		g := clientGoroutines()
		if g == "" || time.Now().After(deadline) {
			return g
		}
		time.Sleep(5 * time.Millisecond)
	}
}
