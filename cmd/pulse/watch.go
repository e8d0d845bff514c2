package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/client"
)

func newWatchCmd() *cobra.Command {
	var q queryFlags
	cmd := clientCmd(&cobra.Command{
		Use:   "watch --service S",
		Short: "Print every change of a service's instances as it happens",
		Long: `Subscribe to a service and print one line per change until interrupted:
the instances listed at the start (added), then every instance added,
removed or changed (health, weight, enabled, metadata). Changes arrive by
UDP push, with polling as the fallback.`,
	}, func(cmd *cobra.Command, c *client.Client) error {
		out := cmd.OutOrStdout()
		ctx := cmd.Context()
		sub, err := c.Subscribe(ctx, q.query(), func(ev client.Event) { printEvent(out, ev) })
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		fmt.Fprintf(cmd.ErrOrStderr(), "watching %s\n", q.service)
		<-ctx.Done()
		return nil
	})
	q.register(cmd)
	return cmd
}

func printEvent(w io.Writer, ev client.Event) {
	now := time.Now().Format("15:04:05.000")
	for _, in := range ev.Added {
		fmt.Fprintf(w, "%s added   %s\n", now, describe(in))
	}
	for _, in := range ev.Modified {
		fmt.Fprintf(w, "%s changed %s\n", now, describe(in))
	}
	for _, in := range ev.Removed {
		fmt.Fprintf(w, "%s removed %s cluster=%s\n", now, in.Addr(), in.Cluster)
	}
}

func describe(in client.Instance) string {
	s := fmt.Sprintf("%s cluster=%s healthy=%t enabled=%t weight=%g", in.Addr(), in.Cluster, in.Healthy, in.Enabled, in.Weight)
	if len(in.Metadata) > 0 {
		s += " metadata=" + formatMetadata(in.Metadata)
	}
	return s
}
