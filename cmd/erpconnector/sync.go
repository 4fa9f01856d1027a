package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
)

func newSyncCmd(g *globals) *cobra.Command {
	var once, noWait bool
	cmd := &cobra.Command{
		Use:   "sync --once",
		Short: "Run the ERP scans and the platform polls now and wait until their work is delivered",
		Long: `Run the ERP scans and the platform polls once, now, and wait until their
work is delivered (the queue is empty), then print the status.

With no daemon running the pass runs in this process. With a daemon running
(its admin API answers at admin.listen) the daemon runs it, and sync waits
by asking the daemon's status: until each of its runs (new_customers,
updates, the platform polls, certificates) has finished a run that had not
started when sync asked, and the queue is empty. With --no-wait it returns
as soon as the daemon has started the pass.

A run of the pass that failed makes the exit code 1. While the schedules are
paused (erpconnector pause) nothing runs and the exit code is 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return &usageError{errors.New("sync needs --once (the daemon is `erpconnector run`)")}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if s.Daemon != "" {
				return g.syncDaemon(ctx, s, !noWait)
			}
			run, syncErr := s.Sync(ctx)
			if !run.Delivered {
				return cmp.Or(syncErr, errors.New("sync: the pass was not delivered"))
			}
			st, err := s.Status(ctx)
			if err != nil {
				return errors.Join(syncErr, err)
			}
			return errors.Join(syncErr, g.print(st, func(w io.Writer) {
				printStatus(w, st, false)
				printRunHistory(w, st.RunHistory, statusRuns, time.Now())
			}))
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "with a daemon running: return once it has started the pass")
	return cmd
}

// passPoll is how often sync asks a running daemon how far the pass is.
const passPoll = 400 * time.Millisecond

// passReport is how often, while it waits, sync says what it waits for.
const passReport = 5 * time.Second

// syncDaemon has the running daemon run a pass and, when wait is set,
// waits until the pass is delivered.
func (g *globals) syncDaemon(ctx context.Context, c connector.Control, wait bool) error {
	var before connector.Status
	if wait {
		var err error
		if before, err = c.Status(ctx); err != nil {
			return err
		}
	}
	if _, err := c.Sync(ctx); err != nil {
		return err
	}
	if wait && before.RunHistory == nil {
		// A daemon of a version without the run history: nothing to go by.
		fmt.Fprintln(g.stderr, "sync: the running daemon reports no run history to wait by")
		wait = false
	}
	if !wait {
		res := map[string]any{"started": true, "delivered": false}
		return g.print(res, func(w io.Writer) {
			fmt.Fprintln(w, "sync started on the running daemon; not waiting for delivery (see `erpconnector status`)")
		})
	}
	st, err := waitForPass(ctx, c, newPassWatch(before), passPoll, func(p passProgress) {
		fmt.Fprintf(g.stderr, "sync: waiting for the running daemon: %d of %d runs finished, %d jobs queued\n",
			p.RunsDone, p.Runs, p.Queued)
	})
	if err != nil {
		return err
	}
	perr := g.print(st, func(w io.Writer) {
		printStatus(w, st, true)
		printRunHistory(w, st.RunHistory, statusRuns, time.Now())
	})
	return errors.Join(passErrors(st, newPassWatch(before)), perr)
}

// waitForPass asks c for its status every poll until w says the pass is
// delivered, and tells report how far it is every passReport meanwhile.
func waitForPass(ctx context.Context, c connector.Control, w passWatch, poll time.Duration, report func(passProgress)) (connector.Status, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	reported := time.Now()
	for {
		select {
		case <-ctx.Done():
			return connector.Status{}, fmt.Errorf("sync: stopped waiting for the running daemon (the pass goes on there): %w", ctx.Err())
		case <-t.C:
		}
		st, err := c.Status(ctx)
		if err != nil {
			return st, err
		}
		p := w.progress(st)
		if p.Delivered() {
			return st, nil
		}
		if time.Since(reported) >= passReport {
			report(p)
			reported = time.Now()
		}
	}
}

// passErrors are the errors of the pass's runs, as the status has them.
func passErrors(st connector.Status, w passWatch) error {
	var errs []error
	for _, name := range sortedKeys(w.need) {
		if r := st.Runs[name]; r.LastError != "" {
			errs = append(errs, fmt.Errorf("%s: %s", name, r.LastError))
		}
	}
	return errors.Join(errs...)
}
