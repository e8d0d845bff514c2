package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pulse-registry/pulse/internal/loadgen"
)

type config struct {
	etcdBin      string
	dataRoot     string
	leases       int
	ttl          time.Duration
	grantTTL     time.Duration
	conc         int
	duration     time.Duration
	streams      int
	flatDuration time.Duration
	window       int
	detectLeases int
	detectTTL    time.Duration
	maxTime      time.Duration
}

func runAll(ctx context.Context, args []string) (err error) {
	var c config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&c.etcdBin, "etcd", "etcd", "etcd server binary")
	fs.StringVar(&c.dataRoot, "data-root", defaultDataRoot(), "where etcd's temporary data dir goes (tmpfs spares etcd the disk's fsync cost)")
	fs.IntVar(&c.leases, "leases", 100_000, "leases, one key on each")
	fs.DurationVar(&c.ttl, "ttl", 15*time.Second, "renewals are paced at TTL/3 per lease, as clientv3 sends them")
	fs.DurationVar(&c.grantTTL, "grant-ttl", 10*time.Minute, "TTL the leases are granted with: long, so that none expires while the others are still being registered (a renewal costs etcd the same whatever the TTL)")
	fs.IntVar(&c.conc, "conc", 64, "concurrent grant+put requests while registering")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of the paced renewal run")
	fs.IntVar(&c.streams, "streams", 8, "LeaseKeepAlive streams")
	fs.DurationVar(&c.flatDuration, "flat-duration", 10*time.Second, "length of the flat-out renewal run (0: skip)")
	fs.IntVar(&c.window, "window", 32, "renewals in flight per stream when flat out")
	fs.IntVar(&c.detectLeases, "detect-leases", 1000, "leases held by the process that is killed (0: skip)")
	fs.DurationVar(&c.detectTTL, "detect-ttl", 3*time.Second, "their TTL")
	fs.DurationVar(&c.maxTime, "max-time", 5*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.maxTime)
	defer cancel()

	e, err := startEtcd(ctx, c.etcdBin, c.dataRoot)
	if err != nil {
		return err
	}
	defer func() { err = e.stop(err) }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()

	s := &loadgen.Summary{Scenario: "etcd"}
	s.Add("version", e.version, "etcd server version")
	s.Add("data_dir_fs", fsName(e.dataDir), "file system of etcd's data dir")
	idle, err := loadgen.ReadProc(e.pid())
	if err != nil {
		return err
	}
	logf("registering %d leases with a key each", c.leases)
	start := time.Now()
	ids, err := register(ctx, cli, "/bench/", c.leases, c.conc, c.grantTTL)
	if err != nil {
		return err
	}
	regTime := time.Since(start)
	regSample, _ := loadgen.ReadProc(e.pid())
	s.Add("leases", c.leases, "leases, one key on each")
	s.Add("register_per_s", float64(c.leases)/regTime.Seconds(), "instances registered per second: lease grant + put with the lease")
	s.Add("register_cpu_s_per_1k", (regSample.CPU-idle.CPU).Seconds()/float64(c.leases)*1000, "etcd CPU seconds per 1,000 registrations")
	time.Sleep(3 * time.Second)
	settled, _ := loadgen.ReadProc(e.pid())
	s.Add("idle_rss_mib", float64(idle.RSS)/(1<<20), "etcd RSS before registering")
	s.Add("rss_mib", float64(settled.RSS)/(1<<20), "etcd RSS 3s after registering")
	s.Add("bytes_per_lease", float64(settled.RSS-idle.RSS)/float64(c.leases), "(RSS after - RSS before) / leases")

	paced := float64(c.leases) / (c.ttl / 3).Seconds()
	logf("renewing %d leases every %v (%.0f/s) for %v", c.leases, c.ttl/3, paced, c.duration)
	r, err := renew(ctx, cli, e, ids, c.streams, paced, 0, c.duration)
	if err != nil {
		return err
	}
	r.add(s, "paced_", "paced at TTL/3")
	if c.flatDuration > 0 {
		logf("renewing flat out for %v", c.flatDuration)
		r, err := renew(ctx, cli, e, ids, c.streams, 0, c.window, c.flatDuration)
		if err != nil {
			return err
		}
		r.add(s, "flat_", "flat out")
	}
	if c.detectLeases > 0 {
		logf("killing a process that holds %d leases of TTL %v", c.detectLeases, c.detectTTL)
		if err := detect(ctx, cli, e.endpoint, c.detectLeases, c.detectTTL, s); err != nil {
			return err
		}
	}
	s.Print(os.Stdout)
	return nil
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "# "+format+"\n", args...) }

func defaultDataRoot() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func fsName(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	if st.Type == 0x01021994 { // TMPFS_MAGIC
		return "tmpfs"
	}
	return "disk"
}

// etcd is a server started for the run.
type etcd struct {
	cmd      *exec.Cmd
	done     chan struct{}
	dataDir  string
	endpoint string
	version  string
}

func (e *etcd) pid() int { return e.cmd.Process.Pid }

func startEtcd(ctx context.Context, bin, root string) (*etcd, error) {
	client, err1 := loadgen.FreePort()
	peer, err2 := loadgen.FreePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pick ports: %w", err)
	}
	dir, err := os.MkdirTemp(root, "etcdload-")
	if err != nil {
		return nil, fmt.Errorf("etcd data dir: %w", err)
	}
	out, _ := exec.Command(bin, "--version").Output()
	version := "unknown"
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			version = strings.TrimSpace(v)
		}
	}
	cu, pu := "http://"+client, "http://"+peer
	cmd := exec.Command(bin,
		"--name", "bench", "--data-dir", dir,
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "bench="+pu, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn")
	logFile, err := os.Create(dir + ".log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		os.Remove(logFile.Name())
		return nil, fmt.Errorf("start etcd (apt-get install etcd-server): %w", err)
	}
	e := &etcd{cmd: cmd, done: make(chan struct{}), dataDir: dir, endpoint: client, version: version}
	go func() { _ = cmd.Wait(); close(e.done) }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err == nil {
		defer cli.Close()
		deadline := time.Now().Add(20 * time.Second)
		for {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err = cli.Status(sctx, client)
			cancel()
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			select {
			case <-e.done:
			case <-time.After(50 * time.Millisecond):
			}
			if e.exited() {
				err = errors.New("etcd exited")
				break
			}
		}
	}
	if err != nil {
		return nil, e.stop(fmt.Errorf("etcd did not come up: %w", err))
	}
	logf("etcd %s on %s, pid %d, data %s", version, client, e.pid(), dir)
	return e, nil
}

func (e *etcd) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// stop stops etcd and removes its data dir, at the end of a run that ended
// with runErr. Its log is removed when the run succeeded and etcd stopped
// cleanly; otherwise it is kept, and the error returned names it.
func (e *etcd) stop(runErr error) error {
	err := errors.Join(runErr, loadgen.StopProcess(e.cmd.Process, e.done, 10*time.Second))
	os.RemoveAll(e.dataDir)
	if err != nil {
		return fmt.Errorf("%w (etcd log kept: %s.log)", err, e.dataDir)
	}
	os.Remove(e.dataDir + ".log")
	return nil
}

// register grants n leases and puts one key on each, conc at a time.
func register(ctx context.Context, cli *clientv3.Client, prefix string, n, conc int, ttl time.Duration) ([]clientv3.LeaseID, error) {
	ids := make([]clientv3.LeaseID, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				g, err := cli.Grant(rctx, int64(ttl/time.Second))
				if err == nil {
					ids[i] = g.ID
					_, err = cli.Put(rctx, fmt.Sprintf("%s%016x", prefix, int64(g.ID)), "127.0.0.1:8080", clientv3.WithLease(g.ID))
				}
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("register %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return ids, firstErr
}

// renewal is the outcome of a renewal run.
type renewal struct {
	done, errors int64
	elapsed      time.Duration
	cpu          time.Duration
	clientCPU    time.Duration   // this process: the gRPC client's share
	lat          []time.Duration // a sample
}

func (r renewal) add(s *loadgen.Summary, prefix, how string) {
	s.Add(prefix+"renewals", r.done, how+": renewals answered with a live lease")
	s.Add(prefix+"renewals_per_s", float64(r.done)/r.elapsed.Seconds(), how+": renewals per second")
	s.Add(prefix+"errors", r.errors, how+": renewals of a lease etcd no longer had")
	if r.done > 0 {
		s.Add(prefix+"cpu_s_per_1k", r.cpu.Seconds()/float64(r.done)*1000, how+": etcd CPU seconds per 1,000 renewals")
		s.Add(prefix+"server_cores", r.cpu.Seconds()/r.elapsed.Seconds(), how+": etcd CPU time / wall time")
		s.Add(prefix+"client_cpu_s_per_1k", r.clientCPU.Seconds()/float64(r.done)*1000, how+": load generator (gRPC client) CPU seconds per 1,000 renewals")
	}
	if len(r.lat) > 0 {
		slices.Sort(r.lat)
		s.Add(prefix+"p50_ms", r.lat[len(r.lat)/2], how+": median renewal latency")
		s.Add(prefix+"p99_ms", r.lat[min(len(r.lat)-1, len(r.lat)*99/100)], how+": 99th percentile renewal latency")
	}
}

// renew sends LeaseKeepAlive requests for ids round-robin over streams: at
// rate per second when rate > 0, else as fast as etcd answers with window
// requests in flight per stream. It reads etcd's CPU time around the run.
func renew(ctx context.Context, cli *clientv3.Client, e *etcd, ids []clientv3.LeaseID, streams int, rate float64, window int, d time.Duration) (renewal, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lc := pb.NewLeaseClient(cli.ActiveConnection())
	var (
		next       atomic.Int64
		done, errs atomic.Int64
		wg         sync.WaitGroup
		mu         sync.Mutex
		lat        []time.Duration
		firstErr   error
	)
	before, err := loadgen.ReadProc(e.pid())
	if err != nil {
		return renewal{}, err
	}
	selfBefore, err := loadgen.ReadProc(os.Getpid())
	if err != nil {
		return renewal{}, err
	}
	start := time.Now()
	for range streams {
		sctx, scancel := context.WithCancel(context.Background())
		st, err := lc.LeaseKeepAlive(sctx)
		if err != nil {
			scancel()
			cancel()
			wg.Wait()
			return renewal{}, fmt.Errorf("open keepalive stream: %w", err)
		}
		// Replies come in request order on a stream: sent times queue up
		// here, and window bounds them when flat out.
		inflight := make(chan time.Time, max(window, 1<<14))
		slots := make(chan struct{}, max(window, 1))
		wg.Go(func() { // receiver
			var local []time.Duration
			for {
				resp, err := st.Recv()
				if err != nil {
					break
				}
				sent := <-inflight
				if window > 0 {
					<-slots
				}
				if ctx.Err() != nil {
					continue // after the run: not counted
				}
				if resp.TTL <= 0 {
					errs.Add(1)
				} else if done.Add(1)%64 == 0 {
					local = append(local, time.Since(sent))
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
		wg.Go(func() { // sender
			defer func() {
				// Let the last replies arrive, then end the stream.
				_ = st.CloseSend()
				time.Sleep(200 * time.Millisecond)
				scancel()
			}()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if rate > 0 {
					due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(wait):
						}
					}
				} else {
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return
					}
				}
				inflight <- time.Now()
				if err := st.Send(&pb.LeaseKeepAliveRequest{ID: int64(ids[i%int64(len(ids))])}); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("send keepalive: %w", err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	<-ctx.Done()
	elapsed := time.Since(start)
	after, err := loadgen.ReadProc(e.pid())
	selfAfter, err2 := loadgen.ReadProc(os.Getpid())
	wg.Wait()
	if err := errors.Join(err, err2); err != nil {
		return renewal{}, err
	}
	return renewal{
		done: done.Load(), errors: errs.Load(), elapsed: elapsed,
		cpu: after.CPU - before.CPU, clientCPU: selfAfter.CPU - selfBefore.CPU, lat: lat,
	}, firstErr
}
