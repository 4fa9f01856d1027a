package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths lists the command lines (without the program name) of cmd
// and of every command under it, and reports which are groups.
func commandPaths(cmd *cobra.Command, prefix []string, visit func(path []string, c *cobra.Command)) {
	visit(prefix, cmd)
	for _, c := range cmd.Commands() {
		commandPaths(c, append(append([]string(nil), prefix...), c.Name()), visit)
	}
}

// Every command refuses a bad command line with exit code 2: an unknown
// flag, a flag value of the wrong type, too many arguments, and under a
// group an unknown subcommand. Nothing runs: no configuration is read.
func TestEveryBadCommandLineExits2(t *testing.T) {
	t.Setenv("ERPCONNECTOR_CONFIG", "does-not-exist.yaml") // a command that ran would exit 3
	root := newRootCmd(io.Discard, io.Discard)
	seen := 0
	commandPaths(root, nil, func(path []string, c *cobra.Command) {
		seen++
		exits2 := func(what string, args ...string) {
			t.Helper()
			var stderr strings.Builder
			line := append(append([]string(nil), path...), args...)
			if code := run(line, io.Discard, &stderr); code != exitUsage {
				t.Errorf("%s: erpconnector %s: exit %d, want %d\n%s", what, strings.Join(line, " "), code, exitUsage, stderr.String())
			}
		}
		exits2("an unknown flag", "--no-such-flag")
		exits2("a bad --output", "-o", "yaml")
		if c.HasSubCommands() {
			exits2("an unknown subcommand", "no-such-command")
			return
		}
		extra := make([]string, 12)
		for i := range extra {
			extra[i] = "x"
		}
		exits2("too many arguments", extra...)
	})
	if seen < 35 {
		t.Fatalf("walked %d commands; the tree is larger", seen)
	}
}

// A group named alone prints its help and exits 0.
func TestGroupAloneShowsHelp(t *testing.T) {
	var stdout strings.Builder
	if code := run([]string{"dlq"}, &stdout, io.Discard); code != exitOK || !strings.Contains(stdout.String(), "Available Commands:") {
		t.Fatalf("dlq: exit %d\n%s", code, stdout.String())
	}
}
