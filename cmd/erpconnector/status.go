package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/erpconnector/erpconnector/connector"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what the connector is doing: runs, outcomes, cursors, queue, breakers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := s.Status(cmd.Context())
			if err != nil {
				return err
			}
			return g.print(st, func(w io.Writer) { printStatus(w, st, s.Daemon != "") })
		},
	}
}

func printStatus(w io.Writer, st connector.Status, daemon bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if daemon {
		fmt.Fprintln(tw, "daemon:\trunning")
	} else {
		fmt.Fprintln(tw, "daemon:\tnot running (state read directly)")
	}
	fmt.Fprintf(tw, "paused:\t%v\n", st.Paused)
	fmt.Fprintf(tw, "queue:\tready %d, scheduled %d, waiting %d, leased %d, dead letters %d\n",
		st.Queue.Ready, st.Queue.Scheduled, st.Queue.Waiting, st.Queue.Leased, st.Queue.Dead)
	for _, name := range sortedKeys(st.Breakers) {
		fmt.Fprintf(tw, "breaker %s:\t%s\n", name, st.Breakers[name])
	}
	for _, name := range sortedKeys(st.Cursors) {
		fmt.Fprintf(tw, "cursor %s:\t%s\n", name, st.Cursors[name])
	}
	for _, name := range sortedKeys(st.Bindings) {
		fmt.Fprintf(tw, "bindings %s:\t%d\n", name, st.Bindings[name])
	}
	fmt.Fprintln(tw, "\nrun\tlast run\tlast success\tnext run\truns\tfailures\tlast error")
	for _, name := range sortedKeys(st.Runs) {
		r := st.Runs[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", name, ts(r.LastRun), ts(r.LastSuccess), ts(r.NextRun), r.Runs, r.Failures, r.LastError)
	}
	if len(st.Outcomes) > 0 {
		fmt.Fprintln(tw, "\ndirection\toutcome\trecords")
		for _, d := range sortedKeys(st.Outcomes) {
			for _, o := range sortedKeys(st.Outcomes[d]) {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", d, o, st.Outcomes[d][o])
			}
		}
	}
	_ = tw.Flush()
}

func newSyncCmd(g *globals) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "sync --once",
		Short: "Run the ERP scans and the platform polls now and wait until their work is delivered",
		Args:  cobra.NoArgs,
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
			run, syncErr := s.Sync(ctx)
			if !run.Delivered {
				if syncErr != nil {
					return syncErr
				}
				fmt.Fprintln(g.stdout, "sync started in the running daemon; see `erpconnector status`")
				return nil
			}
			st, err := s.Status(ctx)
			if err != nil {
				return errors.Join(syncErr, err)
			}
			perr := g.print(st, func(w io.Writer) { printStatus(w, st, s.Daemon != "") })
			return errors.Join(syncErr, perr)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit")
	return cmd
}

// targetError makes a target that names no configured platform a usage
// error (exit 2).
func targetError(err error) error {
	if errors.Is(err, connector.ErrTarget) {
		return &usageError{err}
	}
	return err
}

func newPlanCmd(g *globals) *cobra.Command {
	var limit int
	var target string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Report what a sync would create, update, adopt, delete, reject, and the conflicts, per platform, without writing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(connector.ResyncTargets, target) {
				return &usageError{fmt.Errorf("--platform %q: want one of %s", target, strings.Join(connector.ResyncTargets, ", "))}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			plan, err := s.PlanTarget(ctx, target, limit)
			if err != nil {
				return targetError(err)
			}
			return g.print(plan, func(w io.Writer) { printPlan(w, plan) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 200, "most items to list per platform")
	cmd.Flags().StringVar(&target, "platform", "all", "platform to plan: "+strings.Join(connector.ResyncTargets, ", "))
	return cmd
}

// printPlan prints a plan as text, platform by platform.
func printPlan(w io.Writer, plan connector.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, rep := range plan.Platforms {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "plan for %s (nothing was written)\n", rep.Platform)
		for _, a := range sortedKeys(rep.Counts) {
			fmt.Fprintf(tw, "  %s:\t%d\n", a, rep.Counts[a])
		}
		if len(rep.Items) > 0 {
			fmt.Fprintln(tw, "\naction\terp key\tplatform id\treason\tfields")
			for _, it := range rep.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Action, it.ERPKey, it.PlatformID, it.Reason, strings.Join(it.Fields, ","))
			}
		}
		if rep.Truncated {
			fmt.Fprintln(tw, "(more items; raise --limit)")
		}
	}
	_ = tw.Flush()
}

func newResyncCmd(g *globals) *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "resync",
		Short: "Run (or resume) a full resync of one platform or all, and wait until it is delivered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(connector.ResyncTargets, target) {
				return &usageError{fmt.Errorf("--target %q: want one of %s", target, strings.Join(connector.ResyncTargets, ", "))}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			p := g.newProgress()
			run, err := s.ResyncTarget(ctx, target, func(rs connector.ResyncStatus) {
				p.set(rs.Progress, fmt.Sprintf("(%d records read, %d jobs queued)", rs.RecordsDone, rs.Queued))
			})
			if err != nil {
				return targetError(err)
			}
			p.set(1, "done")
			if !run.Delivered {
				fmt.Fprintln(g.stdout, "resync queued in the running daemon; its workers deliver it (see `erpconnector status`)")
				return nil
			}
			fmt.Fprintln(g.stdout, "resync complete")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "all", "platform to resync: "+strings.Join(connector.ResyncTargets, ", "))
	return cmd
}

// progress shows a bar on a terminal and log lines otherwise.
type progress struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	last time.Time
}

func (g *globals) newProgress() *progress {
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !g.json() {
		return &progress{bar: progressbar.NewOptions(1000, progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionSetDescription("resync"), progressbar.OptionShowCount())}
	}
	return &progress{w: g.stderr}
}

func (p *progress) set(frac float64, line string) {
	if p.bar != nil {
		_ = p.bar.Set(int(frac * 1000))
		return
	}
	if time.Since(p.last) >= time.Second {
		fmt.Fprintf(p.w, "resync: %.0f%% %s\n", frac*100, line)
		p.last = time.Now()
	}
}
