package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
)

// statusRuns is how many records of the run history status prints by
// default.
const statusRuns = 10

func newStatusCmd(g *globals) *cobra.Command {
	var runs int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the connector is doing: runs, outcomes, cursors, queue, breakers",
		Long: `Show what the connector is doing: whether it is paused, the queue, the
breakers, the cursors, the bindings, each run's last run and next run, the
outcomes counted since the start, and the run history, newest first: each
run (or several idle runs in a row) with its start, how long it took, its
result and what its records came to on each platform. --runs sets how many
records of the history the text shows (-o json gives all that are kept).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 0 {
				return &usageError{fmt.Errorf("--runs: want 0 or more, got %d", runs)}
			}
			s, err := g.session(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			st, err := s.Status(cmd.Context())
			if err != nil {
				return err
			}
			return g.print(st, func(w io.Writer) {
				printStatus(w, st, s.Daemon != "")
				printRunHistory(w, st.RunHistory, runs, time.Now())
			})
		},
	}
	cmd.Flags().IntVar(&runs, "runs", statusRuns, "records of the run history to show, newest first (0: none)")
	return cmd
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

// printRunHistory prints the newest n records of the run history (given
// newest first), one line each, and the error of a failed run under it.
func printRunHistory(w io.Writer, recs []connector.RunRecord, n int, now time.Time) {
	if n == 0 || len(recs) == 0 {
		return
	}
	shown := recs[:min(n, len(recs))]
	fmt.Fprintf(w, "\nrun history, newest first (%d of %d kept):\n", len(shown), len(recs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "started\trun\ttook\tresult\trecords")
	for _, r := range shown {
		result, took := "ok", "-"
		switch {
		case r.End.IsZero():
			result, took = "running", now.Sub(r.Start).Round(time.Second).String()
		case r.Error != "":
			result = "failed"
		}
		if !r.End.IsZero() && r.Runs <= 1 {
			took = r.End.Sub(r.Start).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ts(r.Start), r.Pipeline, took, result, runRecords(r))
		if r.Error != "" {
			fmt.Fprintf(tw, "\t\t\t\terror: %s\n", oneLine(r.Error))
		}
	}
	_ = tw.Flush()
}

// runRecords says compactly what a run's records came to, platform by
// platform; counts of 0 are left out.
func runRecords(r connector.RunRecord) string {
	var parts []string
	if r.Runs > 1 {
		parts = append(parts, fmt.Sprintf("%d idle runs", r.Runs))
	}
	for _, name := range sortedKeys(r.Platforms) {
		c := r.Platforms[name]
		var counts []string
		for _, kv := range []struct {
			what string
			n    int
		}{{"read", c.Read}, {"queued", c.Queued}, {"created", c.Created}, {"updated", c.Updated}, {"adopted", c.Adopted},
			{"deleted", c.Deleted}, {"unchanged", c.Unchanged}, {"rejected", c.Rejected}} {
			if kv.n != 0 {
				counts = append(counts, fmt.Sprintf("%d %s", kv.n, kv.what))
			}
		}
		if len(counts) > 0 {
			parts = append(parts, name+": "+strings.Join(counts, ", "))
		}
	}
	if r.Unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable", r.Unreadable))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
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
			if limit < 0 {
				return &usageError{fmt.Errorf("--limit: want 0 or more, got %d", limit)}
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
	_ = cmd.RegisterFlagCompletionFunc("platform", g.completePlatforms)
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
			p := g.newResyncProgress()
			logged := *g // the logs of the session keep off the bar
			logged.stderr = p.logs()
			ctx := cmd.Context()
			s, err := logged.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			run, err := s.ResyncTarget(ctx, target, p.update)
			p.end()
			if err != nil {
				return targetError(err)
			}
			if !run.Delivered {
				fmt.Fprintln(g.stdout, "resync queued in the running daemon; its workers deliver it (see `erpconnector status`)")
				return nil
			}
			fmt.Fprintln(g.stdout, "resync complete")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", "all", "platform to resync: "+strings.Join(connector.ResyncTargets, ", "))
	_ = cmd.RegisterFlagCompletionFunc("target", g.completePlatforms)
	return cmd
}
