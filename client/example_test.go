package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/server"
)

// exampleServer runs a Pulse server on a free loopback port for an example
// and returns its address and how to stop it.
func exampleServer() (string, func()) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	return srv.Addr().String(), func() { cancel(); <-done }
}

func Example() {
	addr, stop := exampleServer()
	defer stop()

	c, err := client.New(client.Config{Servers: []string{addr}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	// Register an ephemeral instance: the client beats for it until it is
	// deregistered or the client closes.
	reg := client.Registration{Service: "orders", IP: "10.0.0.5", Port: 8080}
	if err := c.RegisterInstance(ctx, reg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("beating for", c.ActiveBeats(), "instance")

	in, err := c.SelectOne(ctx, client.Query{Service: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("selected", in.Addr())

	if err := c.DeregisterInstance(ctx, reg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("beating for", c.ActiveBeats(), "instances")
	// Output:
	// beating for 1 instance
	// selected 10.0.0.5:8080
	// beating for 0 instances
}

func ExampleClient_Subscribe() {
	addr, stop := exampleServer()
	defer stop()

	c, err := client.New(client.Config{Servers: []string{addr}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	changes := make(chan client.Event, 8)
	sub, err := c.Subscribe(ctx, client.Query{Service: "payments"}, func(ev client.Event) {
		changes <- ev // a callback that blocks delays only its own subscription
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Unsubscribe()

	reg := client.Registration{Service: "payments", IP: "10.0.0.7", Port: 9000, Metadata: map[string]string{"zone": "a"}}
	if err := c.RegisterInstance(ctx, reg); err != nil {
		log.Fatal(err)
	}
	select {
	case ev := <-changes:
		for _, in := range ev.Added {
			fmt.Printf("added %s zone=%s healthy=%v\n", in.Addr(), in.Metadata["zone"], in.Healthy)
		}
	case <-time.After(10 * time.Second):
		fmt.Println("no change seen")
	}
	// Output:
	// added 10.0.0.7:9000 zone=a healthy=true
}

func ExampleClient_Instances() {
	addr, stop := exampleServer()
	defer stop()

	c, err := client.New(client.Config{Servers: []string{addr}, Namespace: "staging"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	for i, cluster := range []string{"east", "west"} {
		reg := client.Registration{Service: "search", Cluster: cluster, IP: fmt.Sprintf("10.0.1.%d", i+1), Port: 80, Persistent: true}
		if err := c.RegisterInstance(ctx, reg); err != nil {
			log.Fatal(err)
		}
	}
	list, err := c.Instances(ctx, client.Query{Service: "search", Clusters: []string{"west"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, in := range list {
		fmt.Println(in.Cluster, in.Addr(), in.Ephemeral)
	}
	// Output:
	// west 10.0.1.2:80 false
}

func ExampleNew() {
	// Two servers: a request that fails on one is tried on the other. The
	// disk cache lets a subscription start while neither answers.
	c, err := client.New(client.Config{
		Servers:  []string{"10.0.0.1:8848", "10.0.0.2:8848"},
		Timeout:  2 * time.Second,
		CacheDir: "cache/pulse",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.ActiveBeats())
	// Output: 0
}
