package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/client"
)

func newListCmd() *cobra.Command {
	var q queryFlags
	var output outputFlag
	var healthyOnly bool
	cmd := clientCmd(&cobra.Command{
		Use:   "list --service S",
		Short: "List the instances of a service",
	}, func(cmd *cobra.Command, c *client.Client) error {
		get := c.Instances
		if healthyOnly {
			get = c.HealthyInstances
		}
		list, err := get(cmd.Context(), q.query())
		if err != nil {
			return err
		}
		if output == "json" {
			return writeInstancesJSON(cmd.OutOrStdout(), list)
		}
		return writeInstancesTable(cmd.OutOrStdout(), list)
	})
	q.register(cmd)
	output.register(cmd, "table")
	cmd.Flags().BoolVar(&healthyOnly, "healthy", false, "only healthy, enabled instances of positive weight")
	return cmd
}

// queryFlags name a service to read.
type queryFlags struct {
	service  string
	group    string
	clusters string
}

func (f *queryFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.service, "service", "", "service name (required)")
	fs.StringVar(&f.group, "group", client.DefaultGroup, "group of the service")
	fs.StringVar(&f.clusters, "cluster", "", "only these clusters (comma-separated); blank: all")
	_ = cmd.MarkFlagRequired("service")
}

func (f *queryFlags) query() client.Query {
	return client.Query{Service: f.service, Group: f.group, Clusters: splitList(f.clusters)}
}

// instanceJSON is how list -o json writes an instance.
type instanceJSON struct {
	ID        string            `json:"instanceId"`
	IP        string            `json:"ip"`
	Port      int               `json:"port"`
	Cluster   string            `json:"cluster"`
	Weight    float64           `json:"weight"`
	Healthy   bool              `json:"healthy"`
	Enabled   bool              `json:"enabled"`
	Ephemeral bool              `json:"ephemeral"`
	Metadata  map[string]string `json:"metadata"`
}

func writeInstancesJSON(w io.Writer, list []client.Instance) error {
	out := make([]instanceJSON, 0, len(list))
	for _, in := range list {
		meta := in.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		out = append(out, instanceJSON{in.ID, in.IP, in.Port, in.Cluster, in.Weight, in.Healthy, in.Enabled, in.Ephemeral, meta})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeInstancesTable(w io.Writer, list []client.Instance) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tPORT\tCLUSTER\tWEIGHT\tHEALTHY\tENABLED\tEPHEMERAL\tMETADATA")
	for _, in := range list {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%g\t%t\t%t\t%t\t%s\n",
			in.IP, in.Port, in.Cluster, in.Weight, in.Healthy, in.Enabled, in.Ephemeral, formatMetadata(in.Metadata))
	}
	return tw.Flush()
}
