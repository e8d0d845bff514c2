package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pulse-registry/pulse/client"
	"github.com/pulse-registry/pulse/internal/wire"
)

// connFlags are the flags every client subcommand takes to reach a server.
type connFlags struct {
	servers     string
	namespace   string
	contextPath string
	username    string
	password    string
	timeout     time.Duration
	logLevel    string
}

func (f *connFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.servers, "server", client.DefaultServer, "server address host:port; a comma-separated list for failover")
	fs.StringVar(&f.namespace, "namespace", "", "namespace ID (blank: public)")
	fs.StringVar(&f.contextPath, "context-path", client.DefaultContextPath, "URL prefix of the server's API")
	fs.StringVar(&f.username, "username", "", "user to log in as, when the server requires auth")
	fs.StringVar(&f.password, "password", "", "password of --username")
	fs.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "timeout of each request")
	fs.StringVar(&f.logLevel, "log-level", "warn", "client log level on stderr: debug, info, warn or error")
}

// connFlagNames are the flags that also come from the environment, as
// PULSE_SERVER, PULSE_NAMESPACE and so on: what says where the server is,
// not what to do there.
var connFlagNames = []string{"server", "namespace", "context-path", "username", "password", "timeout", "log-level"}

// newClient applies the environment to the connection flags the command
// line left alone and returns a client.
func (f *connFlags) newClient(cmd *cobra.Command) (*client.Client, error) {
	env := pflag.NewFlagSet("env", pflag.ContinueOnError)
	for _, name := range connFlagNames {
		env.AddFlag(cmd.Flags().Lookup(name)) // the same flags: setting one sets the other
	}
	if err := applyEnv(env); err != nil {
		return nil, err
	}
	logger, err := newLogger(cmd.ErrOrStderr(), f.logLevel, "text")
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{
		Servers:     splitList(f.servers),
		Namespace:   f.namespace,
		ContextPath: f.contextPath,
		Username:    f.username,
		Password:    f.password,
		Timeout:     f.timeout,
		Logger:      logger.With("component", "client"),
	})
}

// clientCmd is a subcommand that talks to a server: it takes the connection
// flags, and run gets a client that is closed when it returns.
func clientCmd(cmd *cobra.Command, run func(cmd *cobra.Command, c *client.Client) error) *cobra.Command {
	var conn connFlags
	conn.register(cmd)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := conn.newClient(cmd)
		if err != nil {
			return err
		}
		defer c.Close()
		return run(cmd, c)
	}
	return cmd
}

// outputFlag adds -o/--output, table or json.
type outputFlag string

func (o *outputFlag) register(cmd *cobra.Command, table string) {
	cmd.Flags().StringVarP((*string)(o), "output", "o", "table", "output format: "+table+" or json")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if *o != "table" && *o != "json" {
			return fmt.Errorf("--output %q: want table or json", string(*o))
		}
		return nil
	}
}

// instanceFlags name one instance, for register and deregister.
type instanceFlags struct {
	service   string
	group     string
	cluster   string
	ip        string
	port      int
	weight    float64
	metadata  string
	ephemeral bool
	full      bool // weight and metadata are flags too
}

func (f *instanceFlags) register(cmd *cobra.Command, full bool) {
	fs := cmd.Flags()
	fs.StringVar(&f.service, "service", "", "service name (required)")
	fs.StringVar(&f.group, "group", client.DefaultGroup, "group of the service")
	fs.StringVar(&f.cluster, "cluster", client.DefaultCluster, "cluster of the instance")
	fs.StringVar(&f.ip, "ip", "", "IP address of the instance (required)")
	fs.IntVar(&f.port, "port", 0, "port of the instance (required)")
	fs.BoolVar(&f.ephemeral, "ephemeral", true, "ephemeral instance, kept alive by heartbeats; false: persistent")
	f.full = full
	if full {
		fs.Float64Var(&f.weight, "weight", 1, "weight of the instance, 0 to 10000")
		fs.StringVar(&f.metadata, "metadata", "", "metadata as k=v,k2=v2, or a JSON object")
	}
	for _, name := range []string{"service", "ip", "port"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

func (f *instanceFlags) registration() (client.Registration, error) {
	// Read as the server reads its metadata parameter.
	meta, err := wire.DecodeMetadata(f.metadata)
	if err != nil {
		return client.Registration{}, fmt.Errorf("--metadata: want k=v pairs separated by commas, or a JSON object: %w", err)
	}
	if f.full && f.weight <= 0 {
		// The client reads weight 0 as the default, 1: refuse it rather
		// than register weight 1 silently.
		return client.Registration{}, fmt.Errorf("--weight %v: must be above 0", f.weight)
	}
	return client.Registration{
		Service:    f.service,
		Group:      f.group,
		Cluster:    f.cluster,
		IP:         f.ip,
		Port:       f.port,
		Weight:     f.weight,
		Metadata:   meta,
		Persistent: !f.ephemeral,
	}, nil
}

// formatMetadata writes metadata as k=v,k2=v2, keys sorted.
func formatMetadata(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
