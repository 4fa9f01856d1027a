package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

// stateLockTimeout is how long the state commands wait for a state file
// another process holds (the daemon's own wait, queue.Options.LockTimeout).
const stateLockTimeout = 5 * time.Second

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

// usageArgs turns cobra's argument count errors into usage errors (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// stateTarget is the state file of the configuration and the running
// daemon's admin API when it answers.
type stateTarget struct {
	path   string
	remote *adminClient
}

func (g *globals) stateTarget(ctx context.Context) (*stateTarget, error) {
	f, err := g.load()
	if err != nil {
		return nil, err
	}
	t := &stateTarget{path: f.Connector().Defaults().StatePath}
	if abs, err := filepath.Abs(t.path); err == nil {
		t.path = abs
	}
	if c := newAdminClient(f); c.up(ctx) {
		t.remote = c
	}
	return t, nil
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
			ctx := cmd.Context()
			var res connector.StateCheck
			var err error
			by, target := "", ""
			if len(args) == 1 {
				target = args[0]
				res.Report, err = queue.CheckFile(target, stateLockTimeout)
			} else {
				t, terr := g.stateTarget(ctx)
				if terr != nil {
					return terr
				}
				target = t.path
				if t.remote != nil {
					if err := t.remote.do(ctx, http.MethodGet, "/api/v1/state/check", nil, &res); err != nil {
						return err
					}
					if !res.OK {
						err = errors.New(res.Error)
					}
					by = "checked by the running daemon (" + t.remote.base + ")"
				} else {
					res.Report, err = queue.CheckFile(t.path, stateLockTimeout)
					if errors.Is(err, os.ErrNotExist) {
						err = fmt.Errorf("state file %s does not exist (the first start creates it): nothing to check: %w", t.path, os.ErrNotExist)
					}
				}
			}
			res.OK = err == nil
			if err != nil {
				res.Error = err.Error()
			}
			if res.Report.Path == "" {
				res.Report.Path = target
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
			t, err := g.stateTarget(ctx)
			if err != nil {
				return err
			}
			dst := args[0]
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				dst = filepath.Join(dst, "state-"+time.Now().UTC().Format("20060102T150405Z")+".db")
			}
			if sameFile(dst, t.path) {
				return &usageError{fmt.Errorf("backup: %s is the state file itself", dst)}
			}
			res := backupResult{State: t.path, Backup: dst, Daemon: t.remote != nil}
			if t.remote != nil {
				res.Report, err = queue.SaveBackup(dst, func(w io.Writer) error { return t.remote.download(ctx, "/api/v1/state/backup", w) })
			} else {
				res.Report, err = queue.BackupFile(ctx, t.path, dst, stateLockTimeout)
				if errors.Is(err, os.ErrNotExist) {
					err = fmt.Errorf("state file %s does not exist: nothing to back up", t.path)
				}
			}
			if err != nil {
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

// download streams a GET response body into w and fails unless all of it
// (its Content-Length) arrived.
func (a *adminClient) download(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	// No overall timeout: a large file takes what it takes (ctx ends it).
	resp, err := (&http.Client{Transport: a.hc.Transport}).Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(b)
		}
		return fmt.Errorf("admin API: GET %s: %d %s", path, resp.StatusCode, e.Error)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("admin API: GET %s: after %d bytes: %w", path, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("admin API: GET %s: %d bytes of %d", path, n, resp.ContentLength)
	}
	return nil
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
			t, err := g.stateTarget(cmd.Context())
			if err != nil {
				return err
			}
			if t.remote != nil {
				return fmt.Errorf("a daemon is running on this state (admin API %s): stop it before restoring", t.remote.base)
			}
			if err := os.MkdirAll(filepath.Dir(t.path), 0o750); err != nil {
				return err
			}
			res, err := queue.Restore(args[0], t.path, stateLockTimeout)
			if err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "state file %s restored from %s, checked: %d jobs, %d dead letters\n", t.path, args[0], res.State.Jobs, res.State.Dead)
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
			t, err := g.stateTarget(cmd.Context())
			if err != nil {
				return err
			}
			out := map[string]any{"state": t.path}
			if fi, err := os.Stat(t.path); err == nil && fi.Size() > 0 {
				if t.remote == nil {
					if _, err := queue.CheckFile(t.path, stateLockTimeout); err != nil {
						return err
					}
				}
				out["initialised"] = false
				return g.print(out, func(w io.Writer) {
					fmt.Fprintf(w, "state file %s already holds a state; left as it is\n", t.path)
				})
			}
			if err := os.MkdirAll(filepath.Dir(t.path), 0o750); err != nil {
				return err
			}
			s, err := queue.Open(t.path, queue.Options{InitEmpty: true, LockTimeout: stateLockTimeout})
			if err != nil {
				return err
			}
			if err := s.Close(); err != nil {
				return err
			}
			out["initialised"] = true
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "state file %s initialised, empty; if the connector ran before, start it and run a full resync (erpconnector resync)\n", t.path)
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
