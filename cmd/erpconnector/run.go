package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/daemon"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the connector daemon (without --config: the embedded demo)",
		Long: `Run the connector: the schedules, the delivery workers and the admin API.
SIGINT or SIGTERM stops it gracefully; SIGHUP reloads the configuration file
(an invalid file is reported and the running configuration is kept; a new
log_level applies at once, a new log_format at the next start).

Without --config (or ERPCONNECTOR_CONFIG) it runs the demo compiled into the
binary (configs/demo.yaml): both reference servers and a seeded SQLite ERP,
from any directory. Its files (the state, the ERP, the reference servers'
data) go to DATA_DIR/data/, DATA_DIR being --data-dir, ERPCONNECTOR_DATA_DIR,
$XDG_DATA_HOME/erpconnector/demo or ~/.local/share/erpconnector/demo. The
other commands, given no configuration either, use the same demo and data
directory: they find the running demo's admin API, or read its state.`,
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
	if dir := f.DataDir(); dir != "" {
		fmt.Fprintf(g.stdout, "erpconnector: no configuration file: running the embedded demo; data directory %s (state %s; move it with --data-dir or %s)\n",
			dir, f.StatePath, config.EnvDataDir)
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
			status := "erpconnector status"
			if g.configPath != "" {
				status += " --config " + g.configPath
			}
			fmt.Fprintf(g.stdout, "erpconnector running; admin API on http://%s (status: %s)\n", addr, status)
		},
	})
}
