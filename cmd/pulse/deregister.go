package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/client"
)

func newDeregisterCmd() *cobra.Command {
	var inst instanceFlags
	cmd := clientCmd(&cobra.Command{
		Use:   "deregister --service S --ip I --port P",
		Short: "Remove an instance",
		Long: `Remove an instance. Use --ephemeral=false for a persistent one: the server
keeps ephemeral and persistent instances apart.`,
	}, func(cmd *cobra.Command, c *client.Client) error {
		reg, err := inst.registration()
		if err != nil {
			return err
		}
		if err := c.DeregisterInstance(cmd.Context(), reg); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "deregistered %s %s:%d\n", reg.Service, reg.IP, reg.Port)
		return nil
	})
	inst.register(cmd, false)
	return cmd
}
