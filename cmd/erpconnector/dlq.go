package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	replay := dlqFilterCmd(g, "replay", "Put dead letters back in the queue", func(ctx context.Context, c connector.Control, f queue.DeadFilter) (any, error) {
		return c.ReplayDeadLetters(ctx, f)
	})
	purge := dlqFilterCmd(g, "purge", "Delete dead letters", func(ctx context.Context, c connector.Control, f queue.DeadFilter) (any, error) {
		n, err := c.PurgeDeadLetters(ctx, f)
		return map[string]int{"purged": n}, err
	})
	cmd.AddCommand(newDLQListCmd(g), newDLQShowCmd(g), replay, purge)
	return cmd
}

func newDLQListCmd(g *globals) *cobra.Command {
	var typ string
	var limit int
	var after uint64
	list := &cobra.Command{
		Use: "list", Short: "List dead letters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
				fmt.Fprintf(w, "%d dead letters", len(out.DeadLetters))
				if out.Next != 0 {
					fmt.Fprintf(w, " (more: --after %d)", out.Next)
				}
				fmt.Fprintln(w)
			})
		},
	}
	list.Flags().StringVar(&typ, "type", "", "only this job type (one.push, one.pull, capi.push, …)")
	list.Flags().IntVar(&limit, "limit", 100, "page size")
	list.Flags().Uint64Var(&after, "after", 0, "start after this id")
	return list
}

func newDLQShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "show ID", Short: "Show one dead letter with its payload and attempt history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return &usageError{fmt.Errorf("ID: want a number, got %q", args[0])}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			d, err := s.DeadLetter(ctx, id)
			if err != nil {
				return err
			}
			return g.print(d, func(w io.Writer) { printDeadLetter(w, d) })
		},
	}
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

// dlqFilterCmd is a dlq command that acts on the dead letters chosen by
// --id, --type or --all; purge asks first (or needs --yes).
func dlqFilterCmd(g *globals, use, short string, run func(ctx context.Context, c connector.Control, f queue.DeadFilter) (any, error)) *cobra.Command {
	var all, yes bool
	var rawIDs []uint
	var ftype string
	c := &cobra.Command{
		Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids := make([]uint64, 0, len(rawIDs))
			for _, id := range rawIDs {
				ids = append(ids, uint64(id))
			}
			if !all && len(ids) == 0 && ftype == "" {
				return &usageError{errors.New("choose dead letters with --id, --type or --all")}
			}
			if use == "purge" && !yes {
				if err := confirmPurge(cmd.InOrStdin(), g.stderr, ids, ftype); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := run(ctx, s, queue.DeadFilter{IDs: ids, Type: ftype})
			if err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) { fmt.Fprintf(w, "%s: %+v\n", use, res) })
		},
	}
	c.Flags().BoolVar(&all, "all", false, "every dead letter")
	c.Flags().UintSliceVar(&rawIDs, "id", nil, "dead letter id (repeatable)")
	c.Flags().StringVar(&ftype, "type", "", "every dead letter of this job type")
	if use == "purge" {
		c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (needed when not run on a terminal)")
	}
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
	case len(ids) > 0:
		what = fmt.Sprintf("the dead letters %v", ids)
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
