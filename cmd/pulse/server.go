package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pulse-registry/pulse/internal/server"
)

func newServerCmd() *cobra.Command {
	cfg := server.DefaultConfig()
	var logLevel, logFormat, cpuProfile string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Pulse server",
		Long: `Run a Pulse server. It speaks the Nacos 1.x naming API under the context
path (default /nacos) and listens on 127.0.0.1:8848 unless told otherwise.

Every flag can also be set with an environment variable: PULSE_ and the
flag name in capitals with - turned into _, e.g. PULSE_ADDR=:8848.
Flags win over the environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			logger, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Version = version
			srv, err := server.New(cfg, server.Options{Logger: logger})
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "HTTP listen address (host:port; port 0 picks a free one)")
	f.StringVar(&cfg.ContextPath, "context-path", cfg.ContextPath, "URL prefix of every endpoint")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long shutdown waits for in-flight requests")
	pc := cfg.Push
	f.StringVar(&cfg.PushAddr, "push-addr", "", "UDP address pushes are sent from (default: the host of --addr, any port)")
	f.BoolVar(&cfg.PushToSource, "push-to-source", false, "push to the address a list query came from, ignoring its clientIP")
	f.DurationVar(&cfg.Push.MergeWindow, "push-merge-window", pc.MergeWindow, "changes within this window after a push are merged into one trailing push")
	f.DurationVar(&cfg.Push.AckTimeout, "push-ack-timeout", pc.AckTimeout, "wait for a push's ack before sending it again (doubling each time)")
	f.IntVar(&cfg.Push.MaxRetries, "push-retries", pc.MaxRetries, "resends of an unacked push before it counts as failed")
	f.Float64Var(&cfg.Push.RatePerAddr, "push-rate", pc.RatePerAddr, "most datagrams per second sent to one address")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	// For the load tool: profiling stays off unless asked for.
	f.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run to this file")
	_ = f.MarkHidden("cpu-profile")
	return cmd
}

// startCPUProfile profiles the process until the returned function is
// called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// applyEnv sets every flag the command line left alone from PULSE_<FLAG>.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "PULSE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
