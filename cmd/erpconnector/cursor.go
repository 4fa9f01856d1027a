package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
)

func newCursorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cursor", Short: "Read or set the connector's cursors (" + strings.Join(connector.CursorNames, ", ") + ")",
		Long: connector.CursorHelp}
	get := &cobra.Command{
		Use: "get [NAME]", Short: "Print one cursor, or all", Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: g.completeCursors(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.Cursors(ctx)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				v, ok := all[args[0]]
				if !ok {
					return &usageError{fmt.Errorf("unknown cursor %q (known: %s)", args[0], strings.Join(connector.CursorNames, ", "))}
				}
				return g.print(map[string]string{args[0]: v}, func(w io.Writer) { fmt.Fprintln(w, v) })
			}
			return g.print(all, func(w io.Writer) {
				for _, n := range sortedKeys(all) {
					fmt.Fprintf(w, "%s\t%s\n", n, all[n])
				}
			})
		},
	}
	set := &cobra.Command{
		Use: "set NAME VALUE", Short: "Set a cursor by hand (logged with the old value)", Long: connector.CursorHelp,
		Args: cobra.ExactArgs(2), ValidArgsFunction: g.completeCursors(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := g.session(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.SetCursor(ctx, args[0], args[1]); err != nil {
				return &usageError{err}
			}
			all, err := s.Cursors(ctx)
			if err != nil {
				return err
			}
			v := all[args[0]]
			return g.print(map[string]string{args[0]: v}, func(w io.Writer) { fmt.Fprintf(w, "%s set to %s\n", args[0], v) })
		},
	}
	cmd.AddCommand(get, set)
	return cmd
}
