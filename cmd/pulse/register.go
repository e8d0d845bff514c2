package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/client"
)

func newRegisterCmd() *cobra.Command {
	var inst instanceFlags
	cmd := clientCmd(&cobra.Command{
		Use:   "register --service S --ip I --port P",
		Short: "Register an instance and keep it alive until interrupted",
		Long: `Register an instance. An ephemeral instance (the default) is kept alive by
heartbeats until SIGINT or SIGTERM, when it is deregistered; if the process
dies instead, the server expires it. A persistent instance (--ephemeral=false)
is registered and the command exits; remove it with pulse deregister.`,
	}, func(cmd *cobra.Command, c *client.Client) error {
		reg, err := inst.registration()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if err := c.RegisterInstance(ctx, reg); err != nil {
			return err
		}
		out := cmd.ErrOrStderr()
		if reg.Persistent {
			fmt.Fprintf(out, "registered %s %s:%d (persistent)\n", reg.Service, reg.IP, reg.Port)
			return nil
		}
		fmt.Fprintf(out, "registered %s %s:%d, beating until interrupted\n", reg.Service, reg.IP, reg.Port)
		<-ctx.Done()
		// The command's context is over: deregister within a fresh one.
		timeout, _ := cmd.Flags().GetDuration("timeout")
		dctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
		defer cancel()
		if err := c.DeregisterInstance(dctx, reg); err != nil {
			return err
		}
		fmt.Fprintf(out, "deregistered %s %s:%d\n", reg.Service, reg.IP, reg.Port)
		return nil
	})
	inst.register(cmd, true)
	return cmd
}
