package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// defaultConfig is the embedded demo: reference servers and a SQLite ERP.
const defaultConfig = "configs/demo.yaml"

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "erpconnector",
		Short:         "Keep ERP customers in sync with ONe and the Customer API",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return &usageError{fmt.Errorf("--output: want text or json, got %q", g.output)}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", defaultConfig, "configuration file (env ERPCONNECTOR_CONFIG)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	if v := os.Getenv("ERPCONNECTOR_CONFIG"); v != "" {
		g.configPath = v
	}
	root.AddCommand(newVersionCmd(), newReferenceCmd(), newRunCmd(g), newSyncCmd(g), newResyncCmd(g), newPlanCmd(g),
		newStatusCmd(g), newDLQCmd(g), newCursorCmd(g), newConfigCmd(g), newDemoCmd(g))
	root.AddCommand(newStateCmd(g))
	root.AddCommand(newPauseCmd(g), newResumeCmd(g))
	root.AddCommand(newFieldsCmd(g), newCheckCmd(g), newTraceCmd(g))
	finishCommands(root)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "erpconnector", buildVersion())
			return nil
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
