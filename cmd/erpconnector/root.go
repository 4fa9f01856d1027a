package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

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
			if g.dataDir != "" && g.configPath != "" {
				return &usageError{errors.New("--data-dir is the embedded demo's data directory; a configuration file names its own paths")}
			}
			return nil
		},
	}
	// --version prints what `version` prints.
	root.Version = readBuild().text()
	root.SetVersionTemplate("{{.Version}}")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "configuration file (env ERPCONNECTOR_CONFIG); without one, the embedded demo (configs/demo.yaml)")
	pf.StringVar(&g.dataDir, "data-dir", "", "the embedded demo's data directory (env ERPCONNECTOR_DATA_DIR; default $XDG_DATA_HOME/erpconnector/demo or ~/.local/share/erpconnector/demo)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	if v := os.Getenv("ERPCONNECTOR_CONFIG"); v != "" {
		g.configPath = v
	}
	root.AddCommand(newVersionCmd(g), newReferenceCmd(), newRunCmd(g), newSyncCmd(g), newResyncCmd(g), newPlanCmd(g),
		newStatusCmd(g), newDLQCmd(g), newCursorCmd(g), newConfigCmd(g), newDemoCmd(g))
	root.AddCommand(newStateCmd(g))
	root.AddCommand(newPauseCmd(g), newResumeCmd(g))
	root.AddCommand(newFieldsCmd(g), newCheckCmd(g), newTraceCmd(g))
	finishCommands(root)
	return root
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := readBuild()
			return g.print(bi, func(w io.Writer) { fmt.Fprint(w, bi.text()) })
		},
	}
}

// build is what `version` and `--version` print.
type build struct {
	// Version is -ldflags "-X main.version=…" when set, else the main
	// module's version, else "dev".
	Version string `json:"version"`
	// Revision is the commit the binary was built from ("unknown" without
	// version control information: -buildvcs=false, or no checkout).
	Revision string `json:"revision"`
	// Modified says the checkout had changes the commit does not hold.
	Modified bool `json:"modified"`
	// Time is the commit's time ("unknown" without version control information).
	Time string `json:"time"`
	// Go is the Go version the binary was built with.
	Go string `json:"go"`
}

func (b build) text() string {
	rev := b.Revision
	if b.Modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("erpconnector %s\nrevision: %s\ntime:     %s\ngo:       %s\n", b.Version, rev, b.Time, b.Go)
}

// readBuild reads the build information of this binary.
func readBuild() build {
	bi, ok := debug.ReadBuildInfo()
	return buildFrom(version, bi, ok)
}

// buildFrom makes the build information from the -X version and what
// debug.ReadBuildInfo returned (the vcs.* settings the go command stamps).
func buildFrom(ldVersion string, bi *debug.BuildInfo, ok bool) build {
	b := build{Version: "dev", Revision: "unknown", Time: "unknown", Go: runtime.Version()}
	if ok && bi != nil {
		if bi.GoVersion != "" {
			b.Go = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					b.Revision = s.Value
				}
			case "vcs.time":
				if s.Value != "" {
					b.Time = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		b.Version = ldVersion
	}
	return b
}

// buildVersion is the version alone (metrics, the admin API).
func buildVersion() string { return readBuild().Version }
