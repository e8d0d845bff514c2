package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pulse-registry/pulse/internal/loadgen"
)

// hold is the process that gets killed: it grants leases, puts a key on
// each, keeps them alive with clientv3's KeepAlive (renewing every TTL/3),
// and prints "renewed <lease hex> <unix ns>" for every renewal, then waits to
// be killed (or for its bound to pass).
func hold(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "127.0.0.1:2379", "etcd client address (loopback only)")
	n := fs.Int("leases", 1000, "leases to hold")
	ttl := fs.Duration("ttl", 3*time.Second, "lease TTL")
	prefix := fs.String("prefix", "/detect/", "key prefix")
	limit := fs.Duration("max-time", 2*time.Minute, "exit after this long if not killed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loadgen.CheckLoopback(*endpoint); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ids, err := register(ctx, cli, *prefix, *n, 16, *ttl)
	if err != nil {
		return err
	}
	// Unbuffered: a line still in a buffer when the kill comes would make
	// the parent think the lease was renewed earlier than it was.
	out := os.Stdout
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		ch, err := cli.KeepAlive(ctx, id)
		if err != nil {
			return fmt.Errorf("keepalive: %w", err)
		}
		wg.Go(func() {
			for resp := range ch {
				now := time.Now().UnixNano()
				mu.Lock()
				fmt.Fprintf(out, "renewed %016x %d\n", int64(resp.ID), now)
				mu.Unlock()
			}
		})
	}
	mu.Lock()
	fmt.Fprintln(out, "ready")
	mu.Unlock()
	<-ctx.Done()
	wg.Wait()
	return nil
}

// detect starts a hold process, lets its leases renew for two TTLs, kills
// it, and times until a watch sees each of its keys deleted: from the kill,
// and past each lease's deadline (last renewal seen + TTL).
func detect(ctx context.Context, cli *clientv3.Client, endpoint string, n int, ttl time.Duration, s *loadgen.Summary) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	prefix := "/detect/"
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	watch := cli.Watch(wctx, prefix, clientv3.WithPrefix())

	cmd := exec.CommandContext(ctx, self, "hold", "--endpoint", endpoint, "--leases", strconv.Itoa(n),
		"--ttl", ttl.String(), "--prefix", prefix)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start hold process: %w", err)
	}
	var mu sync.Mutex
	last := map[string]int64{} // lease hex -> unix ns of its last renewal
	ready := make(chan struct{})
	readDone := make(chan struct{})
	go func() { // owned: ends when the child's stdout closes, waited below
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "ready":
				close(ready)
			case len(f) == 3 && f[0] == "renewed":
				ns, _ := strconv.ParseInt(f[2], 10, 64)
				mu.Lock()
				last[f[1]] = ns
				mu.Unlock()
			}
		}
	}()
	select {
	case <-ready:
	case <-readDone:
		_ = cmd.Wait()
		return fmt.Errorf("hold process ended before it was ready")
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-readDone
		_ = cmd.Wait()
		return fmt.Errorf("hold process not ready within 60 s")
	}
	time.Sleep(2 * ttl)
	killAt := time.Now()
	_ = cmd.Process.Kill()
	<-readDone
	_ = cmd.Wait()

	var fromKill, late []time.Duration
	deadline := time.After(ttl + 15*time.Second)
	for len(fromKill) < n {
		select {
		case wr, ok := <-watch:
			if !ok {
				return fmt.Errorf("watch ended after %d of %d deletions", len(fromKill), n)
			}
			now := time.Now()
			for _, ev := range wr.Events {
				if ev.Type != clientv3.EventTypeDelete {
					continue
				}
				fromKill = append(fromKill, now.Sub(killAt))
				lease := strings.TrimPrefix(string(ev.Kv.Key), prefix)
				mu.Lock()
				ns, ok := last[lease]
				mu.Unlock()
				if ok {
					late = append(late, now.Sub(time.Unix(0, ns).Add(ttl)))
				}
			}
		case <-deadline:
			return fmt.Errorf("only %d of %d keys deleted within %v of the kill", len(fromKill), n, ttl+15*time.Second)
		}
	}
	q := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, int(p*float64(len(d))))]
	}
	s.Add("detect_leases", n, "leases of the killed process")
	s.Add("detect_ttl_ms", ttl, "their TTL")
	s.Add("detect_from_kill_p50_ms", q(fromKill, 0.5), "kill to key deletion seen by a watch: median")
	s.Add("detect_from_kill_max_ms", q(fromKill, 1), "kill to key deletion: slowest")
	s.Add("detect_late_p50_ms", q(late, 0.5), "deletion seen past the lease deadline (last renewal + TTL): median")
	s.Add("detect_late_p99_ms", q(late, 0.99), "deletion past the deadline: 99th percentile")
	s.Add("detect_late_max_ms", q(late, 1), "deletion past the deadline: latest")
	return nil
}
