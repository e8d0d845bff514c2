package gosdk

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/pulse-registry/pulse/internal/servertest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/clients"
	"github.com/nacos-group/nacos-sdk-go/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/common/constant"
	"github.com/nacos-group/nacos-sdk-go/vo"

	"github.com/pulse-registry/pulse/internal/server"
)

// pulse is an in-process Pulse server. It runs until TestMain ends.
type pulse struct {
	*server.Server
	host string
	port int
	// api is the root of the naming API, e.g. http://127.0.0.1:41234/nacos.
	api string
}

// startPulse starts a server on 127.0.0.1 with a free port. Its log is shown
// when the test fails.
func startPulse(t *testing.T) *pulse {
	t.Helper()
	logs := &servertest.Buffer{}
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 2 * time.Second
	// The SDK announces its first non-loopback address as clientIP; pushing
	// to the query's source keeps every datagram on 127.0.0.1.
	cfg.PushToSource = true
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, server.Options{Logger: log})
	if err != nil {
		t.Fatalf("start pulse: %v", err)
	}
	serversWG.Add(1)
	go func() {
		defer serversWG.Done()
		if err := srv.Run(servers); err != nil {
			log.Error("server stopped", "err", err)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pulse log:\n%s", logs.String())
		}
	})
	addr := srv.Addr().(*net.TCPAddr)
	return &pulse{
		Server: srv,
		host:   addr.IP.String(),
		port:   addr.Port,
		api:    "http://" + addr.String() + cfg.ContextPath,
	}
}

// clientConfig is the SDK configuration the tests use unless they change it:
// the defaults a typical application has, plus directories of our own.
func clientConfig(namespace string) constant.ClientConfig {
	return constant.ClientConfig{
		NamespaceId: namespace,
		TimeoutMs:   5000,
		LogDir:      sdkLogDir,
		LogLevel:    "info",
	}
}

var cacheDirs atomic.Int64

// newClient returns an SDK naming client of addr (host:port) configured by
// cc. It gets a fresh cache directory.
func newClient(t *testing.T, addr string, cc constant.ClientConfig) naming_client.INamingClient {
	t.Helper()
	host, port, err := splitAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	if cc.CacheDir == "" {
		cc.CacheDir = filepath.Join(root, "cache", strconv.FormatInt(cacheDirs.Add(1), 10))
	}
	if err := makeCacheDir(cc.CacheDir); err != nil {
		t.Fatal(err)
	}
	c, err := clients.NewNamingClient(vo.NacosClientParam{
		ClientConfig:  &cc,
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: port, ContextPath: "/nacos"}},
	})
	if err != nil {
		t.Fatalf("new naming client: %v", err)
	}
	return c
}

// makeCacheDir creates the SDK's cache directory: a new client reads it at
// start and logs an error when it is missing.
func makeCacheDir(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "naming"), 0o755); err != nil {
		return fmt.Errorf("SDK cache dir: %w", err)
	}
	return nil
}

func (p *pulse) addr() string { return net.JoinHostPort(p.host, strconv.Itoa(p.port)) }

// watchSDKLog fails the test if the shared SDK log gains error-level lines
// while the test runs. The SDK logger is process-wide, so a line may come
// from a test running in parallel; TestMain also scans the whole log.
func watchSDKLog(t *testing.T) {
	t.Helper()
	path := sdkLogPath(sdkLogDir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	from := fi.Size()
	t.Cleanup(func() { checkSDKLog(t, path, from, nil) })
}

// checkSDKLog fails the test for each error-level line of the SDK log at
// path from offset on, except those allow accepts.
func checkSDKLog(t *testing.T, path string, offset int64, allow func(string) bool) {
	t.Helper()
	lines, err := sdkErrors(path, offset, allow)
	if err != nil {
		t.Errorf("read SDK log: %v", err)
		return
	}
	for _, l := range lines {
		t.Errorf("nacos-sdk-go logged an error: %s", l)
	}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// busyPort is the line the SDK logs when the random UDP port it tried for
// its push receiver is taken (by anything on the machine); it then tries
// another, up to three, and logs "failed to start udp server" only when all
// fail. A taken port says nothing about the server.
var busyPort = regexp.MustCompile(`error listening :\d+,err:listen udp :\d+: bind: address already in use$`)

// sdkErrors returns the error-level lines of an SDK log file from offset on.
// The SDK writes zap console lines: time, level (colored), caller, message,
// separated by tabs.
func sdkErrors(path string, offset int64, allow func(string) bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open SDK log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek SDK log: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := ansi.ReplaceAllString(sc.Text(), "")
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) < 2 {
			continue
		}
		switch fields[1] {
		case "ERROR", "DPANIC", "PANIC", "FATAL":
			if !busyPort.MatchString(line) && (allow == nil || !allow(line)) {
				out = append(out, line)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("scan SDK log: %w", err)
	}
	return out, nil
}

// waitFor polls cond every few milliseconds until it holds or d passes, and
// reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uniq returns a name no other test uses.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), names.Add(1))
}

var names atomic.Int64

// listJSON is what GET /instance/list answers, as far as the tests read it.
type listJSON struct {
	Name        string `json:"name"`
	Clusters    string `json:"clusters"`
	CacheMillis int64  `json:"cacheMillis"`
	Hosts       []struct {
		IP          string            `json:"ip"`
		Port        int               `json:"port"`
		Weight      float64           `json:"weight"`
		Healthy     bool              `json:"healthy"`
		Enabled     bool              `json:"enabled"`
		Ephemeral   bool              `json:"ephemeral"`
		ClusterName string            `json:"clusterName"`
		Metadata    map[string]string `json:"metadata"`
	} `json:"hosts"`
}

// getJSON GETs api+path with query q and decodes the JSON answer into v.
func getJSON(api, path string, q url.Values, v any) error {
	resp, err := http.Get(api + path + "?" + q.Encode())
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decode %s: %w", path, body, err)
	}
	return nil
}

// metricsJSON is the part of /operator/metrics the tests read.
type metricsJSON struct {
	BeatCount     int64 `json:"beatCount"`
	RegisterCount int64 `json:"registerCount"`
	InstanceCount int   `json:"instanceCount"`
	TotalPush     int64 `json:"totalPush"`
	FailedPush    int64 `json:"failedPush"`
}

func metrics(t *testing.T, api string) metricsJSON {
	t.Helper()
	var m metricsJSON
	if err := getJSON(api, "/v1/ns/operator/metrics", nil, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// urlValues builds a query from key, value pairs.
func urlValues(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// do sends one request without a body and returns the status and body.
func do(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
