// Command etcdload is the etcd side of Pulse's side-by-side benchmark: the
// peer a user would pick instead of Pulse for service liveness, an etcd
// lease per instance kept alive by its owner.
//
//	etcdload run --etcd etcd [--leases 100000] [--ttl 15s] ...
//
// starts etcd on 127.0.0.1 (temporary data dir, loopback-only client and
// peer URLs), and measures, reading etcd's /proc figures:
//   - registration: a lease granted and a key put on it per instance, per second;
//   - RSS per lease (with its key);
//   - renewals paced as clientv3 sends them (every TTL/3) and flat out:
//     renewals per second, latency, etcd CPU per renewal;
//   - detection: a child process holding leases with a short TTL is killed,
//     and a watch times the deletion of its keys.
//
// It prints a table and one line "RESULT scenario=etcd key=value ...", the
// format of `pulse bench`. It lives in its own module so that Pulse itself
// does not depend on the etcd client.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: etcdload run|hold [flags]")
	}
	switch args[0] {
	case "run":
		return runAll(ctx, args[1:])
	case "hold":
		return hold(ctx, args[1:])
	}
	return fmt.Errorf("unknown command %q: want run or hold", args[0])
}
