package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newPauseCmd and newResumeCmd pause and resume the schedules: through the
// running daemon's admin API, or in the state file when no daemon runs
// (the daemon then starts paused). The pause is kept in the state file
// either way, across reloads and restarts.
func newPauseCmd(g *globals) *cobra.Command {
	return pauseCmd(g, true, "pause",
		"Pause the schedules (ERP scans, platform polls, scheduled resync) until `erpconnector resume`; kept across restarts",
		`Pause the schedules: no ERP scan, platform poll or scheduled resync starts
(runs going on finish; queued jobs are still delivered; sync --once is
refused). The pause is kept in the state file, so a reloaded or restarted
daemon stays paused until "erpconnector resume". With a daemon running the
pause goes through its admin API; otherwise it is written to the state file.`)
}

func newResumeCmd(g *globals) *cobra.Command {
	return pauseCmd(g, false, "resume", "Resume the schedules paused by `erpconnector pause`",
		`Resume the schedules paused by "erpconnector pause", in the running daemon
(through its admin API) or in the state file when no daemon runs.`)
}

func pauseCmd(g *globals, paused bool, use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("%s takes no arguments, got %q", use, args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.SetPaused(ctx, paused); err != nil {
				return err
			}
			daemon := s.Daemon != ""
			res := map[string]any{"paused": paused, "daemon": daemon}
			return g.print(res, func(w io.Writer) {
				where := "in the state file " + s.StatePath + " (no daemon running)"
				if daemon {
					where = "in the running daemon"
				}
				if paused {
					fmt.Fprintf(w, "schedules paused %s; they stay paused across restarts until `erpconnector resume`\n", where)
				} else {
					fmt.Fprintf(w, "schedules resumed %s\n", where)
				}
			})
		},
	}
}
