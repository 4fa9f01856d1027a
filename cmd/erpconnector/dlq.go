package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "List, show, replay and purge dead letters"}
	cmd.AddCommand(newDLQListCmd(g), newDLQShowCmd(g), newDLQReplayCmd(g), newDLQPurgeCmd(g))
	return cmd
}

func newDLQListCmd(g *globals) *cobra.Command {
	var typ string
	var limit int
	var after uint64
	list := &cobra.Command{
		Use: "list", Short: "List dead letters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return &usageError{fmt.Errorf("--limit: want 1 or more, got %d", limit)}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			out, err := s.DeadLetters(ctx, queue.DeadFilter{Type: typ, AfterID: after, Limit: limit})
			if err != nil {
				return err
			}
			return g.print(out, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "id\ttype\tkey\tattempts\treason")
				for _, d := range out.DeadLetters {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", d.ID, d.Type, d.Key, d.Attempts, d.LastError)
				}
				_ = tw.Flush()
				fmt.Fprint(w, plural(len(out.DeadLetters), "dead letter"))
				if out.Next != 0 {
					fmt.Fprintf(w, " (more: --after %d)", out.Next)
				}
				fmt.Fprintln(w)
			})
		},
	}
	list.Flags().StringVar(&typ, "type", "", "only this job type (one.push, one.pull, capi.push, …)")
	_ = list.RegisterFlagCompletionFunc("type", g.completeDeadTypes)
	list.Flags().IntVar(&limit, "limit", 100, "page size")
	list.Flags().Uint64Var(&after, "after", 0, "start after this id")
	return list
}

func newDLQShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "show ID", Short: "Show one dead letter with its payload and attempt history", Args: cobra.ExactArgs(1),
		ValidArgsFunction: g.completeDeadLetters(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			d, err := s.DeadLetter(ctx, ids[0])
			if err != nil {
				return err
			}
			return g.print(d, func(w io.Writer) { printDeadLetter(w, d) })
		},
	}
}

// parseIDs reads dead letter ids from the command line; one that is not
// a number is a usage error.
func parseIDs(args []string) ([]uint64, error) {
	ids := make([]uint64, 0, len(args))
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil || id == 0 {
			return nil, &usageError{fmt.Errorf("ID: want a dead letter id (a positive number), got %q", a)}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func printDeadLetter(w io.Writer, d connector.DeadLetter) {
	fmt.Fprintf(w, "id:\t%d\ntype:\t%s\nkey:\t%s\nattempts:\t%d\nreason:\t%s\n", d.ID, d.Type, d.Key, d.Attempts, d.LastError)
	fmt.Fprintf(w, "first failed:\t%s\nlast failed:\t%s\n", d.Created.UTC().Format(time.RFC3339), d.Updated.UTC().Format(time.RFC3339))
	switch {
	case d.Unreadable:
		fmt.Fprintf(w, "next:\tnothing to deliver: fix the record in the ERP, then purge this entry\n")
	case !d.NextTry.IsZero():
		fmt.Fprintf(w, "next:\ttried again by itself at %s (%d automatic tries so far)\n", d.NextTry.UTC().Format(time.RFC3339), d.Tries)
	default:
		fmt.Fprintf(w, "next:\tsent again when the ERP record changes, or on dlq replay\n")
	}
	fmt.Fprintf(w, "history:\t%d failures, oldest first\n", len(d.History))
	for _, h := range d.History {
		fmt.Fprintf(w, "  %s\t%s\n", h.At.UTC().Format(time.RFC3339), h.Error)
	}
	if len(d.Payload) > 0 {
		fmt.Fprintf(w, "payload:\t%s\n", d.Payload)
	}
}

// deadSelection is how dlq replay and dlq purge choose dead letters: by
// their ids as arguments (as dlq show takes one), by --type, both (the ids
// of that type), or every one with --all.
type deadSelection struct {
	all     bool
	ftype   string
	flagIDs []uint // --id, the earlier way to give ids
}

func (sel *deadSelection) flags(g *globals, c *cobra.Command) {
	c.Flags().BoolVar(&sel.all, "all", false, "every dead letter")
	c.Flags().StringVar(&sel.ftype, "type", "", "only dead letters of this job type (one.push, one.pull, capi.push, …)")
	_ = c.RegisterFlagCompletionFunc("type", g.completeDeadTypes)
	c.Flags().UintSliceVar(&sel.flagIDs, "id", nil, "dead letter id (repeatable)")
	_ = c.Flags().MarkDeprecated("id", "give the ids as arguments, as to dlq show")
}

// filter checks the selection (a usage error when it chooses nothing or
// is ambiguous) and turns it into a filter.
func (sel *deadSelection) filter(verb string, args []string) (queue.DeadFilter, error) {
	ids, err := parseIDs(args)
	if err != nil {
		return queue.DeadFilter{}, err
	}
	for _, id := range sel.flagIDs {
		if id == 0 {
			return queue.DeadFilter{}, &usageError{errors.New("--id: want a dead letter id (a positive number), got 0")}
		}
		ids = append(ids, uint64(id))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch {
	case sel.all && (len(ids) > 0 || sel.ftype != ""):
		return queue.DeadFilter{}, &usageError{errors.New("--all chooses every dead letter: give no ids and no --type with it")}
	case !sel.all && len(ids) == 0 && sel.ftype == "":
		return queue.DeadFilter{}, &usageError{fmt.Errorf("dlq %s: choose the dead letters: their ids, --type TYPE or --all", verb)}
	}
	return queue.DeadFilter{IDs: ids, Type: sel.ftype}, nil
}

// unmatched counts the ids of f that chose no dead letter, given how many
// dead letters the command acted on.
func unmatched(f queue.DeadFilter, actedOn int) int {
	if len(f.IDs) == 0 {
		return 0
	}
	return max(0, len(f.IDs)-actedOn)
}

// replayResult is what dlq replay prints.
type replayResult struct {
	// Replayed dead letters went back to the queue.
	Replayed int `json:"replayed"`
	// Superseded dead letters were dropped: a newer job for the same
	// record was already queued.
	Superseded int `json:"superseded"`
	// Rejected dead letters stayed: records that could not be read.
	Rejected int `json:"rejected"`
	// Unmatched counts the ids given that named no dead letter.
	Unmatched int `json:"unmatched,omitempty"`
}

func newDLQReplayCmd(g *globals) *cobra.Command {
	var sel deadSelection
	c := &cobra.Command{
		Use:   "replay [ID...]",
		Short: "Put dead letters back in the queue: by id, --type or --all",
		Long: `Put dead letters back in the queue, with a fresh count of attempts: the
dead letters ID... (as dlq show takes an id), every one of job type --type
(with ids: those of them of that type), or every one with --all.

A dead letter whose record has a newer job queued is dropped instead (the
newer job wins: superseded). One whose ERP record could not be read stays:
fix the record in the ERP, then purge it.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: g.completeDeadLetters(-1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := sel.filter("replay", args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.ReplayDeadLetters(ctx, f)
			if err != nil {
				return err
			}
			out := replayResult{Replayed: res.Replayed, Superseded: res.Superseded, Rejected: res.Rejected,
				Unmatched: unmatched(f, res.Replayed+res.Superseded+res.Rejected)}
			return g.print(out, func(w io.Writer) { printReplay(w, out) })
		},
	}
	sel.flags(g, c)
	return c
}

func printReplay(w io.Writer, r replayResult) {
	if r.Replayed+r.Superseded+r.Rejected == 0 {
		fmt.Fprintln(w, "no dead letters to replay")
	} else {
		fmt.Fprintf(w, "replayed %s", plural(r.Replayed, "dead letter"))
		if r.Superseded > 0 {
			fmt.Fprintf(w, " (%d superseded by a newer job for the same record)", r.Superseded)
		}
		fmt.Fprintln(w)
	}
	if r.Rejected > 0 {
		fmt.Fprintf(w, "%s stayed: the ERP record could not be read; fix it in the ERP, then purge the dead letter\n", plural(r.Rejected, "dead letter"))
	}
	if r.Unmatched > 0 {
		fmt.Fprintf(w, "%s named no dead letter\n", plural(r.Unmatched, "id"))
	}
}

// purgeResult is what dlq purge prints.
type purgeResult struct {
	Purged int `json:"purged"`
	// Unmatched counts the ids given that named no dead letter.
	Unmatched int `json:"unmatched,omitempty"`
}

func newDLQPurgeCmd(g *globals) *cobra.Command {
	var sel deadSelection
	var yes bool
	c := &cobra.Command{
		Use:   "purge [ID...]",
		Short: "Delete dead letters for good: by id, --type or --all",
		Long: `Delete dead letters for good: the dead letters ID... (as dlq show takes an
id), every one of job type --type (with ids: those of them of that type), or
every one with --all. Their records are not delivered, unless they change in
the ERP again.

On a terminal purge asks first; otherwise it needs --yes.`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: g.completeDeadLetters(-1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := sel.filter("purge", args)
			if err != nil {
				return err
			}
			if !yes {
				if err := confirmPurge(cmd.InOrStdin(), g.stderr, f.IDs, f.Type); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.PurgeDeadLetters(ctx, f)
			if err != nil {
				return err
			}
			out := purgeResult{Purged: n, Unmatched: unmatched(f, n)}
			return g.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "purged %s\n", plural(n, "dead letter"))
				if out.Unmatched > 0 {
					fmt.Fprintf(w, "%s named no dead letter\n", plural(out.Unmatched, "id"))
				}
			})
		},
	}
	sel.flags(g, c)
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (needed when not run on a terminal)")
	return c
}

// confirmPurge asks on the terminal before dead letters are deleted for
// good; without a terminal to ask on, the purge needs --yes.
func confirmPurge(in io.Reader, out io.Writer, ids []uint64, ftype string) error {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &usageError{errors.New("dlq purge deletes dead letters for good: confirm with --yes (there is no terminal to ask on)")}
	}
	what := "every dead letter"
	switch {
	case len(ids) > 0 && ftype != "":
		what = fmt.Sprintf("the dead letters %s of type %s", joinIDs(ids), ftype)
	case len(ids) > 0:
		what = "the dead letters " + joinIDs(ids)
	case ftype != "":
		what = fmt.Sprintf("every dead letter of type %s", ftype)
	}
	fmt.Fprintf(out, "Delete %s for good? Their records will not be delivered. [y/N] ", what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("dlq purge: not confirmed; nothing deleted")
	}
	return nil
}

func joinIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(s, ", ")
}
