package client_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/server"
	"github.com/pulse-registry/pulse/internal/servertest"
)

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClient_failover(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()

	t.Run("no connection", func(t *testing.T) {
		// Whichever server the client starts with, every call succeeds.
		for range 5 {
			c := newClient(t, client.Config{Servers: []string{deadAddr(t), addrOf(srv)}})
			if _, err := c.ListServices(ctx, ""); err != nil {
				t.Fatalf("list services with the first server down: %v", err)
			}
			c.Close()
		}
	})

	t.Run("5xx moves on and the client stays", func(t *testing.T) {
		down := startRecorder(t, srv.URL)
		down.fail.Store(true) // answers 503
		up := startRecorder(t, srv.URL)
		c := newClient(t, client.Config{Servers: []string{down.Addr(), up.Addr()}})
		for range 10 {
			if _, err := c.ListServices(ctx, ""); err != nil {
				t.Fatalf("list services: %v", err)
			}
		}
		if got := len(down.requests("")); got > 1 {
			t.Errorf("the failing server got %d requests, want at most 1: the client should stay with the one that answers", got)
		}
		if got := len(up.requests("")); got != 10 {
			t.Errorf("the working server got %d requests, want 10", got)
		}
	})

	t.Run("4xx is not retried elsewhere", func(t *testing.T) {
		a, b := startRecorder(t, srv.URL), startRecorder(t, srv.URL)
		c := newClient(t, client.Config{Servers: []string{a.Addr(), b.Addr()}})
		err := c.RegisterInstance(ctx, client.Registration{Service: "s", Cluster: "no_underscore", IP: "10.0.0.1", Port: 1})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Status != 400 {
			t.Fatalf("got %v, want a 400", err)
		}
		if got := len(a.requests("")) + len(b.requests("")); got != 1 {
			t.Errorf("the bad request was sent %d times, want once", got)
		}
	})

	t.Run("every server down", func(t *testing.T) {
		c := newClient(t, client.Config{Servers: []string{deadAddr(t), deadAddr(t)}, Timeout: time.Second})
		if _, err := c.ListServices(ctx, ""); err == nil {
			t.Fatal("got no error with every server down")
		}
	})
}

func TestClient_Subscribe_diskCache(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	ctx := t.Context()
	admin := newClient(t, client.Config{Servers: []string{addrOf(srv)}})
	if err := admin.RegisterInstance(ctx, client.Registration{Service: "cached", Group: "g", IP: "10.0.0.1", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	q := client.Query{Service: "cached", Group: "g", Clusters: []string{"DEFAULT"}}

	first := newClient(t, client.Config{Servers: []string{addrOf(srv)}, CacheDir: dir})
	var evs events
	if _, err := first.Subscribe(ctx, q, evs.add); err != nil {
		t.Fatal(err)
	}
	evs.waitEvent(t, 0, 3*time.Second, "the first event", func(client.Event) bool { return true })
	file := filepath.Join(dir, "public", "g@@cached@@DEFAULT.json")
	waitFor(t, 3*time.Second, "the cache file", func() bool { _, err := os.Stat(file); return err == nil })
	first.Close()

	// No server answers: a new subscriber starts from the cache.
	dead := deadAddr(t)
	offline := newClient(t, client.Config{Servers: []string{dead}, CacheDir: dir})
	var got events
	sub, err := offline.Subscribe(ctx, q, got.add)
	if err != nil {
		t.Fatalf("subscribe with a cache and no server: %v", err)
	}
	defer sub.Unsubscribe()
	got.waitEvent(t, 0, 3*time.Second, "the cached instances", func(ev client.Event) bool {
		in, ok := find(ev.Added, "10.0.0.1", 1)
		return ok && in.Healthy && ev.Service == "g@@cached" && ev.Clusters == "DEFAULT"
	})
	if list, err := offline.Instances(ctx, q); err != nil || len(list) != 1 {
		t.Errorf("instances from the cached subscription: got %+v, %v", list, err)
	}

	// A server comes up where none answered: the subscription catches up
	// with what it says.
	back := startServer(t, servertest.WithConfig(func(c *server.Config) { c.Addr = dead }))
	other := newClient(t, client.Config{Servers: []string{addrOf(back)}})
	if err := other.RegisterInstance(ctx, client.Registration{Service: "cached", Group: "g", IP: "10.0.0.2", Port: 1, Persistent: true}); err != nil {
		t.Fatal(err)
	}
	got.waitEvent(t, 1, 5*time.Second, "the new server's instances", func(ev client.Event) bool {
		_, added := find(ev.Added, "10.0.0.2", 1)
		_, removed := find(ev.Removed, "10.0.0.1", 1)
		return added && removed
	})

	// Without a cache there is nothing to start from.
	bare := newClient(t, client.Config{Servers: []string{deadAddr(t)}, CacheDir: t.TempDir()})
	if _, err := bare.Subscribe(ctx, q, func(client.Event) {}); err == nil {
		t.Error("subscribe with no server and no cache: got no error")
	}
}
