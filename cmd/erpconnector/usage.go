package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// finishCommands completes the command tree built by newRootCmd: it adds
// the hidden docs command, cobra's completion command and a help command,
// and makes every bad command line a usage error (exit 2), whatever the
// command:
//
//   - a wrong number of arguments (every runnable command's Args);
//   - an unknown subcommand, at the root or under a group (dlq, cursor,
//     config, demo, state, completion), which cobra would otherwise report
//     as a plain failure or answer with the group's help and exit 0;
//   - a help topic that names no command.
//
// A group named alone (erpconnector dlq) prints its help and exits 0.
// Unknown flags and unparsable flag values are usage errors through the
// root's flag error function.
func finishCommands(root *cobra.Command) {
	root.AddCommand(newDocsCmd())
	root.InitDefaultCompletionCmd()
	root.SetHelpCommand(newHelpCmd())
	strictArgs(root)
}

// newHelpCmd is cobra's help command, except that a topic that names no
// command is a usage error (the root's help would be printed otherwise:
// the groups take arguments now).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help provides help for any command in the application.",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			var out []cobra.Completion
			for _, sub := range cmd.Commands() {
				if err == nil && sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return &usageError{fmt.Errorf("unknown help topic %q (see erpconnector help)", strings.Join(args, " "))}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// strictArgs makes the argument errors of cmd and every command under it
// usage errors.
func strictArgs(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		strictArgs(c)
	}
	if !cmd.Runnable() && cmd.HasSubCommands() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = groupRun
		if !strings.Contains(cmd.Use, " ") {
			cmd.Use += " COMMAND"
		}
		// Its help shows "erpconnector dlq [command]" alone, as before it ran.
		const runnable = "{{if .Runnable}}"
		if t := cmd.UsageTemplate(); strings.Contains(t, runnable) {
			cmd.SetUsageTemplate(strings.Replace(t, runnable, "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
		}
		return
	}
	if !cmd.Runnable() {
		return
	}
	check := cmd.Args
	if check == nil {
		check = cobra.NoArgs
	}
	cmd.Args = usageArgs(check)
}

// usageArgs makes the errors of check usage errors (exit 2) that name the
// command and show its usage line.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		var ue *usageError
		switch {
		case err == nil || errors.As(err, &ue):
			return err
		case len(args) > 0 && strings.HasPrefix(err.Error(), "unknown command"):
			err = fmt.Errorf("takes no arguments, got %q", args)
		}
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		return &usageError{fmt.Errorf("%s: %w (usage: %s)", name, err, cmd.UseLine())}
	}
}

// groupRun is the run of a command that only groups others: its help when
// named alone, a usage error naming the unknown subcommand otherwise.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &usageError{fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())}
}
