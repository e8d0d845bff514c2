package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// runMainEnv set to 1 makes the test binary run main (see TestMain), so
// that `pulse bench --spawn` can start it as the server.
const runMainEnv = "PULSE_TEST_RUN_MAIN"

func TestBench_SpawnVsCeiling(t *testing.T) {
	t.Setenv(runMainEnv, "1")
	t.Setenv("TMPDIR", t.TempDir()) // the spawned servers' logs
	prof := t.TempDir() + "/cpu.prof"
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"bench", "beats", "--spawn", "--vs-ceiling", "--n", "200", "--rate", "0",
		"--count", "2000", "--duration", "20s", "--conns", "4", "--max-time", "60s",
		"--server-log-level", "warn", "--server-cpu-profile", prof})
	cmd.SetOut(&out)
	cmd.SetErr(t.Output())
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	line := regexp.MustCompile(`(?m)^RESULT scenario=beats .*$`).Find(out.Bytes())
	if line == nil {
		t.Fatalf("no RESULT line in:\n%s", out.String())
	}
	for _, key := range []string{"beats", "ceiling_beats"} {
		m := regexp.MustCompile(` ` + key + `=(\d+)`).FindSubmatch(line)
		if m == nil {
			t.Fatalf("no %s in %s", key, line)
		}
		if n, _ := strconv.Atoi(string(m[1])); n != 2000 {
			t.Errorf("got %s=%d, want 2000", key, n)
		}
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("server CPU profile: got %v, want a non-empty file", err)
	}
	for _, key := range []string{"ratio_beats_per_s", "ratio_cpu_per_beat", "cpu_s_per_1k"} {
		if !regexp.MustCompile(` ` + key + `=[0-9.]+`).Match(line) {
			t.Errorf("no positive %s in %s", key, line)
		}
	}
}

func TestBench_RefusesRemoteServer(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetArgs([]string{"bench", "query", "--server", "192.168.1.1:8848"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.ExecuteContext(t.Context()); err == nil {
		t.Fatal("got no error for a non-loopback server")
	}
}
