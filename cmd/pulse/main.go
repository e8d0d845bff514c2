// Command pulse is the Pulse service registry: `pulse server` runs a server,
// the other subcommands talk to one.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulse:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "pulse",
		Short:         "Pulse: a Nacos 1.x compatible service registry",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCmd(), newBenchCmd())
	root.AddCommand(newRegisterCmd(), newDeregisterCmd(), newListCmd(), newServicesCmd(), newWatchCmd())
	return root
}
