package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/daemon"
)

func newDemoCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "Demo helpers"}
	seed := &cobra.Command{
		Use: "seed", Short: "Create and seed the demo ERP (only when it is empty)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.load()
			if err != nil {
				return err
			}
			if !f.IsDemo() {
				return &usageError{errors.New("demo seed needs a demo configuration (reference.enabled: true)")}
			}
			n, err := daemon.SeedDemo(cmd.Context(), f, g.logger(f))
			if err != nil {
				return err
			}
			return g.print(map[string]int{"seeded": n}, func(w io.Writer) {
				if n == 0 {
					fmt.Fprintln(w, "demo ERP already has customers; nothing seeded")
					return
				}
				fmt.Fprintf(w, "seeded %d demo customers\n", n)
			})
		},
	}
	cmd.AddCommand(seed)
	return cmd
}
