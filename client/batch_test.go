package client_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/wire"
)

func batchesOf(t *testing.T, rec *recorder) []wire.BeatBatch {
	t.Helper()
	var out []wire.BeatBatch
	for _, q := range rec.requests("/v1/ns/instance/beat/batch") {
		var b wire.BeatBatch
		if err := json.Unmarshal([]byte(q.Body), &b); err != nil {
			t.Fatalf("batch body %q: %v", q.Body, err)
		}
		out = append(out, b)
	}
	return out
}

func TestClient_BatchBeats(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, BatchBeats: true})
	const n = 20
	for i := range n {
		reg := client.Registration{Service: fmt.Sprintf("s%d", i%4), IP: "10.0.0.1", Port: i + 1, Metadata: withMeta(nil)}
		if err := c.RegisterInstance(t.Context(), reg); err != nil {
			t.Fatal(err)
		}
	}
	// Well past the 1 s heartbeat timeout, every instance must be healthy,
	// kept alive by batches alone.
	waitFor(t, 5*time.Second, "beats for 1.5 s", func() bool {
		beats := 0
		for _, b := range batchesOf(t, rec) {
			beats += len(b.Beats)
		}
		return beats >= n*8
	})
	if single := rec.requests("/v1/ns/instance/beat"); len(single) != 0 {
		t.Errorf("got %d single beats with batching on, want 0", len(single))
	}
	batches := batchesOf(t, rec)
	beats := 0
	for _, b := range batches {
		beats += len(b.Beats)
	}
	// Loops with the same interval are aligned, so a round is one batch.
	if avg := beats / len(batches); avg < n/2 {
		t.Errorf("got %d beats in %d batches (%d a batch), want about %d a batch", beats, len(batches), avg, n)
	}
	last := batches[len(batches)-1]
	for _, b := range last.Beats {
		if len(b.Beat) != 0 {
			t.Errorf("a later batch still carries a full body for %s:%d", b.IP, b.Port)
		}
	}
	full := 0
	for _, b := range batches[0].Beats {
		if len(b.Beat) != 0 {
			full++
		}
	}
	if full != len(batches[0].Beats) {
		t.Errorf("first batch: %d of %d beats carry a body, want all", full, len(batches[0].Beats))
	}
	other := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	for i := range 4 {
		list, err := other.HealthyInstances(t.Context(), client.Query{Service: fmt.Sprintf("s%d", i)})
		if err != nil || len(list) != n/4 {
			t.Errorf("s%d: got %d healthy instances (%v), want %d", i, len(list), err, n/4)
		}
	}
	t.Logf("%d instances, %d batch requests", n, len(batches))

	t.Run("an instance the server lost is registered again", func(t *testing.T) {
		key := naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@s0"}
		if !srv.Registry().Deregister(key, "", "10.0.0.1", 1, true, time.Now()) {
			t.Fatal("the instance was not there to delete")
		}
		waitFor(t, 3*time.Second, "re-registration", func() bool {
			list, err := other.Instances(t.Context(), client.Query{Service: "s0"})
			_, ok := find(list, "10.0.0.1", 1)
			return err == nil && ok
		})
	})
}

func TestClient_BatchBeats_fallback(t *testing.T) {
	srv := startServer(t)
	rec := startRecorder(t, srv.URL)
	path := "/v1/ns/instance/beat/batch"
	rec.refuse.Store(&path) // as Nacos, which has no batch endpoint
	c := newClient(t, client.Config{Servers: []string{rec.Addr()}, BatchBeats: true})
	reg := client.Registration{Service: "s", IP: "10.0.0.1", Port: 1, Metadata: withMeta(nil)}
	if err := c.RegisterInstance(t.Context(), reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "single beats", func() bool { return len(rec.beatsOf("10.0.0.1", 1)) >= 5 })
	if n := len(rec.requests(path)); n != 1 {
		t.Errorf("got %d batch attempts, want 1 before falling back", n)
	}
}
