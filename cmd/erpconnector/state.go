package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/daemon"
	"github.com/erpconnector/erpconnector/queue"
)

func newStateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Check, back up, restore or initialise the state file (queue, cursors, bindings)",
		Long: `Check, back up, restore or initialise the state file: the bbolt file (state_path)
that holds the job queue, the dead letters, the cursors and the bindings
between ERP records and platform records.

Every start checks the file before using it. A damaged file (truncated, bad
meta pages, overwritten pages, not a state file at all) is reported as
"state file damaged" with the path and the ways to recover, and the command
exits 1. An existing 0-byte file is refused too ("state file ... is empty"):
it is more often a state lost to a failed copy than a first start, which
finds no file at all and creates one. "erpconnector state init" initialises
an empty file (or a missing one) on purpose.

Exit codes: 0 done, 1 the check failed or the work failed, 2 bad command
line, 3 invalid configuration.`,
	}
	cmd.AddCommand(newStateCheckCmd(g), newStateBackupCmd(g), newStateRestoreCmd(g), newStateInitCmd(g))
	return cmd
}

func newStateCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check the state file (or FILE, e.g. a backup): every page in use and every job record",
		Long: `Check the state file of the configuration, or FILE (a backup, say): the meta
pages, the file's length, every page in use (in bounds, of the right type,
referenced once, keys in order) and every job record and dead letter.

With a daemon running (its admin API answers at admin.listen) the daemon
checks its file as of now, while it works; otherwise the file is read
directly (a shared lock: it waits for, then fails on, a process holding the
file).

Prints "state file PATH: ok" and what it found, exit 0; or "state file
PATH: damaged" and the problem with the recovery steps, exit 1.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, by, err := g.checkState(cmd.Context(), args)
			if err != nil && res.Report.Path == "" {
				return err
			}
			perr := g.print(res, func(w io.Writer) {
				if !res.OK {
					fmt.Fprintf(w, "state file %s: %s\n", res.Report.Path, verdict(err))
					return
				}
				fmt.Fprintf(w, "state file %s: ok\n", res.Report.Path)
				printCheckReport(w, res.Report)
				if by != "" {
					fmt.Fprintf(w, "  %s\n", by)
				}
			})
			return errors.Join(err, perr)
		},
	}
}

// checkState checks FILE when args names one, otherwise the state file of
// the configuration (through the daemon when it runs: by says so).
func (g *globals) checkState(ctx context.Context, args []string) (res connector.StateCheck, by string, err error) {
	if len(args) == 1 {
		res.Report, err = queue.CheckFile(args[0], daemon.StateLockTimeout)
		res.Report.Path = cmp.Or(res.Report.Path, args[0])
	} else {
		s, serr := g.session(ctx)
		if serr != nil {
			return res, "", serr
		}
		defer s.Close()
		res.Report, err = s.CheckState(ctx)
		res.Report.Path = cmp.Or(res.Report.Path, s.StatePath)
		if s.Daemon != "" {
			by = "checked by the running daemon (" + s.Daemon + ")"
		}
	}
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	return res, by, err
}

// verdict names what a failed check found.
func verdict(err error) string {
	switch {
	case errors.Is(err, queue.ErrEmpty):
		return "empty"
	case errors.Is(err, queue.ErrLocked):
		return "locked by another process"
	case errors.Is(err, os.ErrNotExist):
		return "missing"
	case errors.Is(err, queue.ErrDamaged), strings.HasPrefix(err.Error(), "state file damaged"):
		return "damaged"
	}
	return "not checked"
}

func printCheckReport(w io.Writer, r queue.CheckReport) {
	fmt.Fprintf(w, "  %s, %d pages of %d bytes (%d in use), last transaction %d\n",
		size(r.Size), r.Pages, r.PageSize, r.PagesInUse, r.TxID)
	fmt.Fprintf(w, "  %d buckets, %d keys; %d jobs and %d dead letters, every record decoded\n", r.Buckets, r.Keys, r.Jobs, r.Dead)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// backupResult is what state backup prints.
type backupResult struct {
	State  string            `json:"state"`
	Backup string            `json:"backup"`
	Daemon bool              `json:"through_daemon"`
	Report queue.CheckReport `json:"report"`
}

func newStateBackupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE|DIR",
		Short: "Write a consistent copy of the state file, while the daemon runs or not",
		Long: `Write a consistent copy of the state file to FILE (replaced if it exists), or
into the directory DIR as state-<UTC time>.db.

With a daemon running (its admin API answers at admin.listen) the copy is
taken by the daemon in one read transaction while it goes on working (GET
/api/v1/state/backup); otherwise the file is checked and copied directly.
Either way the copy is written to a temporary file next to FILE, synced to
disk, checked like "erpconnector state check", and only then renamed to
FILE: a failed or interrupted backup leaves FILE as it was.

Restore a backup with "erpconnector state restore FILE" (daemon stopped).`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			dst := args[0]
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				dst = filepath.Join(dst, "state-"+time.Now().UTC().Format("20060102T150405Z")+".db")
			}
			if sameFile(dst, s.StatePath) {
				return &usageError{fmt.Errorf("backup: %s is the state file itself", dst)}
			}
			res := backupResult{State: s.StatePath, Backup: dst, Daemon: s.Daemon != ""}
			if res.Report, err = s.Backup(ctx, dst); err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) {
				via := "read directly"
				if res.Daemon {
					via = "taken by the running daemon"
				}
				fmt.Fprintf(w, "backup of %s written to %s (%s, %s), checked: %d jobs, %d dead letters\n",
					res.State, res.Backup, size(res.Report.Size), via, res.Report.Jobs, res.Report.Dead)
			})
		},
	}
}

func newStateRestoreCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Replace the state file with a backup (daemon stopped); the replaced file is kept",
		Long: `Replace the state file with BACKUP, a file written by "erpconnector state
backup". The daemon must be stopped: restore refuses while its admin API
answers or while any process holds the state file.

BACKUP is checked first and nothing changes if it is damaged. The copy is
written next to the state file, synced and checked, then renamed over it;
the file it replaces (damaged or not) is kept as STATE.replaced-<UTC time>.

The restored state is the one of the moment of the backup. Start the
daemon, then run a full resync (erpconnector resync) so that the records
changed since then are compared again.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.session(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Restore(args[0])
			if err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "state file %s restored from %s, checked: %d jobs, %d dead letters\n", s.StatePath, args[0], res.State.Jobs, res.State.Dead)
				if res.Previous != "" {
					fmt.Fprintf(w, "the file it replaced is kept as %s\n", res.Previous)
				}
				fmt.Fprintln(w, "start the daemon, then run a full resync (erpconnector resync) to compare the records changed since the backup")
			})
		},
	}
}

func newStateInitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Initialise an empty state file (an existing 0-byte file, or a missing one)",
		Long: `Initialise an empty state: the state file of the configuration when it is
missing or has 0 bytes (the connector refuses to start on a 0-byte file,
which usually means a lost state rather than a first start). A file that
already holds a state is left as it is (exit 0 when it passes the check,
exit 1 with the problem when it is damaged).

Starting from an empty state, the scans read every ERP record again: a
record the ERP links by its platform id is adopted, not created again, and
its binding rebuilt; a create refused as a duplicate looks the record up
first (ONe: by external id). Run a full resync (erpconnector resync) once
the daemon runs to compare every platform record at once.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			initialised, err := s.InitState(cmd.Context())
			if err != nil {
				return err
			}
			out := map[string]any{"state": s.StatePath, "initialised": initialised}
			return g.print(out, func(w io.Writer) {
				if !initialised {
					fmt.Fprintf(w, "state file %s already holds a state; left as it is\n", s.StatePath)
					return
				}
				fmt.Fprintf(w, "state file %s initialised, empty; if the connector ran before, start it and run a full resync (erpconnector resync)\n", s.StatePath)
			})
		},
	}
}

// sameFile reports whether a and b name one file (or one path).
func sameFile(a, b string) bool {
	if pa, err := filepath.Abs(a); err == nil {
		if pb, err := filepath.Abs(b); err == nil && pa == pb {
			return true
		}
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
