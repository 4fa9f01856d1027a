package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check and print configuration files"}
	validate := &cobra.Command{
		Use: "validate [FILE]", Short: "Check a configuration file; every problem is listed with its key path", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath
			if len(args) == 1 {
				path = args[0]
			}
			f, err := g.loadFrom(path, true)
			name := path
			if name == "" {
				name = config.EmbeddedDemoName
			}
			res := validation{File: name, Valid: err == nil, Problems: []problem{}}
			var ce *config.Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					res.Problems = append(res.Problems, problem{Path: p.Path, Message: p.Message})
				}
			} else if err != nil {
				res.Problems = append(res.Problems, problem{Message: err.Error()})
			}
			if f != nil {
				for _, name := range f.UnknownEnv() {
					w := warning{Env: name, DidYouMean: config.NearestEnv(name)}
					res.Warnings = append(res.Warnings, w)
					hint := ""
					if w.DidYouMean != "" {
						hint = " (did you mean " + w.DidYouMean + "?)"
					}
					fmt.Fprintf(g.stderr, "warning: %s matches no configuration key and is ignored%s\n", name, hint)
				}
			}
			if g.json() {
				if perr := g.print(res, nil); perr != nil {
					return perr
				}
			}
			if err != nil {
				return &configError{err}
			}
			if !g.json() {
				fmt.Fprintf(g.stdout, "%s: configuration is valid\n", name)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use: "show [FILE]", Short: "Print the effective configuration with secrets redacted", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath
			if len(args) == 1 {
				path = args[0]
			}
			f, err := g.loadFrom(path, false)
			if err != nil {
				return &configError{err}
			}
			fmt.Fprint(g.stdout, f.Redacted())
			return nil
		},
	}
	keys := &cobra.Command{
		Use: "keys", Short: "List every configuration key with its environment variable and default (Markdown)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks := config.Keys()
			return g.print(ks, func(w io.Writer) { writeKeyTable(w, ks) })
		},
	}
	cmd.AddCommand(validate, show, keys)
	return cmd
}

// validation is what config validate -o json prints.
type validation struct {
	File     string    `json:"file"`
	Valid    bool      `json:"valid"`
	Problems []problem `json:"problems"`
	Warnings []warning `json:"warnings,omitempty"`
}

type problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

type warning struct {
	Env        string `json:"env"`
	DidYouMean string `json:"did_you_mean,omitempty"`
}

// writeKeyTable writes the configuration reference as a Markdown table.
func writeKeyTable(w io.Writer, ks []config.Key) {
	fmt.Fprintln(w, "| key | environment variable | type | default |")
	fmt.Fprintln(w, "|---|---|---|---|")
	known := map[string]bool{}
	for _, k := range ks {
		known[k.Path] = true
	}
	for _, k := range ks {
		def := k.Default
		if def != "" {
			def = "`" + def + "`"
		}
		typ := k.Type
		switch {
		case k.Secret && known[k.Path+"_file"]:
			typ += " (secret; or `" + k.Path + "_file`)"
		case k.Secret:
			typ += " (secret)"
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %s | %s |\n", k.Path, k.Env, typ, def)
	}
}
