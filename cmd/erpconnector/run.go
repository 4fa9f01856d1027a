package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/daemon"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the connector daemon (default config: configs/demo.yaml)",
		Long: `Run the connector: the schedules, the delivery workers and the admin API.
SIGINT or SIGTERM stops it gracefully; SIGHUP reloads the configuration file
(an invalid file is reported and the running configuration is kept).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return runDaemon(cmd.Context(), g, hup)
		},
	}
}

// runDaemon loads the configuration and runs the daemon until ctx ends;
// each signal on hup reloads the configuration.
func runDaemon(ctx context.Context, g *globals, hup <-chan os.Signal) error {
	f, err := g.load()
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(f.Level())
	return daemon.Run(ctx, f, daemon.Options{
		Load:    g.load,
		Logger:  f.NewLoggerAt(g.stderr, level),
		Level:   level,
		Reload:  hup,
		Version: buildVersion(),
		Listening: func(addr string) {
			fmt.Fprintf(g.stdout, "erpconnector running; admin API on http://%s (status: erpconnector status --config %s)\n", addr, f.Path())
		},
	})
}
