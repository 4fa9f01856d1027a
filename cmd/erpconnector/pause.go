package main

import (
	"fmt"
	"io"
	"net/http"

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
			t, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer t.close()
			if t.remote != nil {
				var out struct {
					Paused bool `json:"paused"`
				}
				if err := t.remote.do(ctx, http.MethodPost, "/api/v1/"+use, nil, &out); err != nil {
					return err
				}
				paused = out.Paused
			} else if err := t.local.conn.SetPaused(ctx, paused); err != nil {
				return err
			}
			res := map[string]any{"paused": paused, "daemon": t.remote != nil}
			return g.print(res, func(w io.Writer) {
				where := "in the state file " + t.file.Connector().StatePath + " (no daemon running)"
				if t.remote != nil {
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
