package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/client"
)

func newServicesCmd() *cobra.Command {
	var group string
	var output outputFlag
	cmd := clientCmd(&cobra.Command{
		Use:   "services",
		Short: "List the services of a group",
		Long:  `List the services of a group, one per line; --group '*' lists every group's, as group@@name.`,
	}, func(cmd *cobra.Command, c *client.Client) error {
		names, err := c.ListServices(cmd.Context(), group)
		if err != nil {
			return err
		}
		if output == "json" {
			if names == nil {
				names = []string{}
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(names)
		}
		for _, n := range names {
			fmt.Fprintln(cmd.OutOrStdout(), n)
		}
		return nil
	})
	cmd.Flags().StringVar(&group, "group", client.DefaultGroup, "group to list; * for all")
	output.register(cmd, "table (one name a line)")
	return cmd
}
