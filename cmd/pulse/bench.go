package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/pulse-registry/pulse/internal/loadgen"
)

func newBenchCmd() *cobra.Command {
	var env loadgen.Env
	var serverLogLevel, serverCPUProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a Pulse server on this machine and report figures",
		Long: `Load a Pulse server on this machine (loopback addresses only) with one
scenario and report what it achieved: a table, then one line
"RESULT scenario=<name> key=value ..." for scripts.

The server is the one at --server (its process, for CPU and memory
figures, is --server-pid or found by its listening port), or a fresh one
that the tool starts with --spawn and stops afterwards. Every scenario is
bounded in count and in time (--max-time).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&env.Server, "server", "127.0.0.1:8848", "address of a running server (loopback only)")
	pf.IntVar(&env.ServerPID, "server-pid", 0, "process id of that server (default: found by its listening port)")
	pf.BoolVar(&env.Spawn, "spawn", false, "start a fresh server for the run and stop it afterwards")
	pf.StringVar(&env.ContextPath, "context-path", "/nacos", "URL prefix of the server")
	pf.IntVar(&env.Conns, "conns", 32, "keep-alive connections")
	pf.DurationVar(&env.MaxTime, "max-time", 5*time.Minute, "bound on the whole scenario")
	pf.StringVar(&serverLogLevel, "server-log-level", "info", "log level of a spawned server")
	pf.StringVar(&serverCPUProfile, "server-cpu-profile", "", "write a spawned server's CPU profile to this file")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		env.Log = cmd.ErrOrStderr()
		env.ServerArgs = []string{"--log-level", serverLogLevel}
		if serverCPUProfile != "" {
			env.ServerArgs = append(env.ServerArgs, "--cpu-profile", serverCPUProfile)
		}
		return nil
	}
	run := func(f func(cmd *cobra.Command) (*loadgen.Summary, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			s, err := f(cmd)
			if s != nil {
				s.Print(cmd.OutOrStdout())
			}
			return err
		}
	}

	var beats loadgen.BeatsConfig
	beatsCmd := &cobra.Command{
		Use:   "beats",
		Short: "Instances beating over keep-alive HTTP, paced or flat out",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) (*loadgen.Summary, error) {
			return loadgen.Beats(cmd.Context(), env, beats)
		}),
	}
	f := beatsCmd.Flags()
	f.IntVar(&beats.N, "n", 100_000, "instances")
	f.IntVar(&beats.PerService, "per-service", 100, "instances per service")
	f.DurationVar(&beats.Interval, "interval", 5*time.Second, "beat period of each instance when paced")
	f.Float64Var(&beats.Rate, "rate", -1, "beats per second; -1: n/interval; 0: flat out")
	f.DurationVar(&beats.Duration, "duration", 0, "length of each run (default 30s paced, 10s flat out)")
	f.Int64Var(&beats.Count, "count", 0, "most beats per run (default rate*duration, or 10,000,000 flat out)")
	f.BoolVar(&beats.Light, "light", false, "send light beats (ip, port in the query) instead of nacos-sdk-go's JSON beat")
	f.IntVar(&beats.Batch, "batch", 1, "beats per request through Pulse's PUT /instance/beat/batch (1: one beat per request)")
	f.BoolVar(&beats.Ceiling, "ceiling", false, "load the trivial-handler baseline instead of Pulse")
	f.BoolVar(&beats.VsCeiling, "vs-ceiling", false, "run the baseline and Pulse alternately and report ratios")
	f.IntVar(&beats.Repeat, "repeat", 1, "runs per server; figures are medians")

	var reg loadgen.RegisterConfig
	regCmd := &cobra.Command{
		Use:   "register",
		Short: "Registrations per second until n instances exist, then RSS per instance",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) (*loadgen.Summary, error) {
			return loadgen.Register(cmd.Context(), env, reg)
		}),
	}
	f = regCmd.Flags()
	f.IntVar(&reg.N, "n", 100_000, "instances to register")
	f.IntVar(&reg.PerService, "per-service", 100, "instances per service")
	f.DurationVar(&reg.Settle, "settle", 3*time.Second, "idle time before reading RSS after registering")

	var exp loadgen.ExpiryConfig
	expCmd := &cobra.Command{
		Use:   "expiry",
		Short: "n instances stop beating at once; lateness of their transitions",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) (*loadgen.Summary, error) {
			return loadgen.Expiry(cmd.Context(), env, exp)
		}),
	}
	f = expCmd.Flags()
	f.IntVar(&exp.N, "n", 10_000, "instances that stop beating")
	f.IntVar(&exp.Control, "control", 1_000, "instances that keep beating")
	f.IntVar(&exp.PerService, "per-service", 100, "instances per service")
	f.DurationVar(&exp.BeatTimeout, "beat-timeout", 3*time.Second, "preserved.heart.beat.timeout of the instances")
	f.DurationVar(&exp.DeleteTimeout, "delete-timeout", 6*time.Second, "preserved.ip.delete.timeout of the instances")
	f.DurationVar(&exp.ControlInterval, "control-interval", time.Second, "beat period of the control group")

	var push loadgen.PushConfig
	pushCmd := &cobra.Command{
		Use:   "push",
		Short: "m UDP subscribers to one service; time until each got a change",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) (*loadgen.Summary, error) {
			return loadgen.Push(cmd.Context(), env, push)
		}),
	}
	f = pushCmd.Flags()
	f.IntVar(&push.M, "m", 1000, "UDP subscribers")
	f.IntVar(&push.Rounds, "rounds", 20, "changes, one at a time")
	f.DurationVar(&push.Gap, "gap", 50*time.Millisecond, "pause between changes (longer than the server's merge window)")

	var query loadgen.QueryConfig
	queryCmd := &cobra.Command{
		Use:   "query",
		Short: "Instance list queries per second on a service of k instances",
		Args:  cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) (*loadgen.Summary, error) {
			return loadgen.Query(cmd.Context(), env, query)
		}),
	}
	f = queryCmd.Flags()
	f.IntVar(&query.K, "k", 100, "instances in the service")
	f.DurationVar(&query.Duration, "duration", 10*time.Second, "length of the run")
	f.Int64Var(&query.Count, "count", 5_000_000, "most queries")

	var ceilingAddr string
	ceilingCmd := &cobra.Command{
		Use:    "ceiling-server",
		Short:  "Serve the trivial beat handler, the baseline of the beats scenario",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return loadgen.ServeCeiling(cmd.Context(), ceilingAddr, func(a net.Addr) {
				fmt.Fprintln(cmd.OutOrStdout(), "ceiling server listening on", a)
			})
		},
	}
	ceilingCmd.Flags().StringVar(&ceilingAddr, "addr", "127.0.0.1:0", "listen address (loopback only)")

	cmd.AddCommand(beatsCmd, regCmd, expCmd, pushCmd, queryCmd, ceilingCmd)
	return cmd
}
