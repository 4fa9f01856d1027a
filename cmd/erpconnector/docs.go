package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

//go:generate go run . docs --markdown ../../docs/cli --man ../../docs/man

func newDocsCmd() *cobra.Command {
	var manDir, mdDir string
	cmd := &cobra.Command{
		Use:    "docs",
		Short:  "Write the command line reference as man pages and Markdown",
		Hidden: true,
		Long: `Write the command line reference: a man page (section 1) per command into
the --man directory and a Markdown page per command into the --markdown
directory. Pages of an earlier run that no command has any more are
removed. The output depends on nothing but the commands, so the pages
committed in docs/ can be compared with a fresh run (go generate
./cmd/erpconnector writes them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if manDir == "" && mdDir == "" {
				return &usageError{errors.New("docs: give --man DIR, --markdown DIR or both")}
			}
			return writeDocs(cmd.Root(), manDir, mdDir)
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "directory for the man pages")
	cmd.Flags().StringVar(&mdDir, "markdown", "", "directory for the Markdown pages")
	return cmd
}

// writeDocs writes the pages of root and every command under it.
func writeDocs(root *cobra.Command, manDir, mdDir string) error {
	disableAutoGenTag(root)
	if mdDir != "" {
		if err := cleanDir(mdDir, ".md"); err != nil {
			return err
		}
		if err := doc.GenMarkdownTree(root, mdDir); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	if manDir != "" {
		if err := cleanDir(manDir, ".1"); err != nil {
			return err
		}
		if err := writeManTree(root, manDir); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	return nil
}

func disableAutoGenTag(cmd *cobra.Command) {
	cmd.DisableAutoGenTag = true
	for _, c := range cmd.Commands() {
		disableAutoGenTag(c)
	}
}

// cleanDir makes dir and removes the pages of an earlier run from it
// (files named after the root command with the extension ext).
func cleanDir(dir, ext string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "erpconnector*"+ext))
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("docs: %w", err)
		}
	}
	return nil
}

// manDate stands for the date in the .TH line of the man pages, which is
// left empty: the pages change when the commands do, not with the day.
var manDate = time.Date(1999, time.December, 1, 0, 0, 0, 0, time.UTC)

var thLine = regexp.MustCompile(`(?m)^\.TH .*$`)

// writeManTree writes a man page for cmd and every command under it that
// help lists, as cmd-sub-subsub.1 (what doc.GenManTree names them).
func writeManTree(cmd *cobra.Command, dir string) error {
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManTree(c, dir); err != nil {
			return err
		}
	}
	date := manDate
	header := &doc.GenManHeader{Title: strings.ToUpper(strings.ReplaceAll(cmd.CommandPath(), " ", "-")), Section: "1",
		Date: &date, Source: "erpconnector", Manual: "erpconnector manual"}
	var b bytes.Buffer
	if err := doc.GenMan(cmd, header, &b); err != nil {
		return err
	}
	// The date goes from the .TH line.
	page := b.Bytes()
	th := thLine.FindIndex(page)
	if th == nil {
		return fmt.Errorf("the man page of %s has no .TH line", cmd.CommandPath())
	}
	dated := fmt.Appendf(nil, "%q", manDate.Format("Jan 2006"))
	line := bytes.Replace(page[th[0]:th[1]], dated, []byte(`""`), 1)
	page = slices.Concat(page[:th[0]], line, page[th[1]:])
	name := strings.ReplaceAll(cmd.CommandPath(), " ", "-") + ".1"
	return os.WriteFile(filepath.Join(dir, name), page, 0o644)
}
