package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
)

func newTraceCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trace KEY",
		Short: "Show what the connector knows of one ERP customer: bindings, ids, hashes, recent outcomes, dead letters",
		Long: `Show what the connector knows of the ERP customer KEY, per platform: whether
it is bound and to which platform record (and its secondary ids: the ONe
billing address id, the Customer API farm business unit id), the hashes of
what was last pushed and seen and when, the last outcomes with their reasons
(created, updated, unchanged, adopted, refused, deleted, deactivated,
unbound, pulled, imported, unlinked, marked_deleted), its dead letters with
their history, its queued jobs and a platform id waiting to be written back.

With a daemon running (its admin API answers at admin.listen) the daemon
answers; otherwise the state file is read directly. Either way only the
connector's own state is read: it works while the ERP is down.

Exit codes: 0 found, 1 no record of KEY (or the state could not be read),
2 bad command line, 3 invalid configuration.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr, daemon, err := g.trace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.print(tr, func(w io.Writer) { printTrace(w, tr, daemon) })
		},
	}
}

// trace reads the trail of key through the daemon or from the state file;
// it reports whether the daemon answered.
func (g *globals) trace(ctx context.Context, key string) (connector.Trace, bool, error) {
	s, err := g.session(ctx)
	if err != nil {
		return connector.Trace{}, false, err
	}
	defer s.Close()
	tr, err := s.Trace(ctx, key)
	return tr, s.Daemon != "", err
}

// printTrace prints a trail as text, platform by platform.
func printTrace(w io.Writer, tr connector.Trace, daemon bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	by := "the state file (no daemon running)"
	if daemon {
		by = "the running daemon"
	}
	fmt.Fprintf(tw, "ERP customer %s, as %s knows it\n", tr.ERPKey, by)
	for _, p := range tr.Platforms {
		fmt.Fprintln(tw)
		printPlatformTrace(tw, p)
	}
	_ = tw.Flush()
}

func printPlatformTrace(w io.Writer, p connector.PlatformTrace) {
	name := string(p.Platform)
	if !p.Configured {
		name += " (not configured)"
	}
	if !p.Bound {
		fmt.Fprintf(w, "%s:\tnot bound\n", name)
	} else {
		fmt.Fprintf(w, "%s:\tbound to %s\n", name, p.PlatformID)
		for _, k := range sortedKeys(p.ExtraIDs) {
			fmt.Fprintf(w, "  %s:\t%s\n", k, p.ExtraIDs[k])
		}
		fmt.Fprintf(w, "  last pushed:\t%s\t%s\n", ts(p.PushedAt), orDash(p.PushedHash))
		fmt.Fprintf(w, "  last seen:\t%s\t%s\n", ts(p.SeenAt), orDash(p.SeenHash))
		fmt.Fprintf(w, "  binding:\tversion %d, changed %s\n", p.Version, ts(p.BindingUpdated))
	}
	if p.UnboundID != "" {
		fmt.Fprintf(w, "  unbound on purpose:\t%s (flagged again, it gets this record back)\n", p.UnboundID)
	}
	if p.WriteBack != "" {
		fmt.Fprintf(w, "  write-back pending:\t%s\n", p.WriteBack)
	}
	if len(p.History) > 0 {
		fmt.Fprintln(w, "  history:")
		for _, e := range p.History {
			what := e.Outcome
			if e.Times > 1 {
				what += fmt.Sprintf(" (%d times)", e.Times)
			}
			fmt.Fprintf(w, "    %s\t%s\t%s\t%s\n", ts(e.At), what, orDash(e.ID), e.Reason)
		}
	}
	for _, d := range p.DeadLetters {
		fmt.Fprintf(w, "  dead letter %d:\t%s, %d attempts: %s\n", d.ID, d.Type, d.Attempts, d.LastError)
		for _, a := range d.History {
			fmt.Fprintf(w, "    %s\t%s\n", ts(a.At), oneLine(a.Error))
		}
	}
	for _, j := range p.Queued {
		fmt.Fprintf(w, "  queued job %d:\t%s, %s, %d attempts, next %s\t%s\n", j.ID, j.Type, j.State, j.Attempts, ts(j.NextAttempt), j.LastError)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
