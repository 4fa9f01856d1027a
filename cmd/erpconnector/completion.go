package main

import (
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

// Dynamic shell completion (erpconnector completion bash|zsh|fish|powershell
// writes the script; the shell then runs the hidden __complete command).
// Dead letter ids and cursor values come from the session, as the commands
// would see them: the running daemon's, or the state file.

// completionTimeout bounds a completion that opens the session: the shell
// waits for it, so it gives up and offers nothing rather than hang.
const completionTimeout = 2 * time.Second

// completionDeadLetters bounds the dead letters a completion lists.
const completionDeadLetters = 2000

// quietly runs fn on a session opened for a completion: nothing is logged
// (the shell shows stderr), fn gets completionTimeout, and with no daemon
// running fn is not run unless the state file exists. It reports whether
// fn finished in time without an error.
func (g *globals) quietly(ctx context.Context, fn func(ctx context.Context, c connector.Control) error) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	q := *g
	q.stdout, q.stderr = io.Discard, io.Discard
	done := make(chan error, 1)
	go func() {
		s, err := q.session(ctx)
		if err != nil {
			done <- err
			return
		}
		defer s.Close()
		if s.Daemon == "" {
			// No daemon: a completion reads a state file, never creates one.
			if _, err := os.Stat(s.StatePath); err != nil {
				done <- err
				return
			}
		}
		done <- fn(ctx, s)
	}()
	select {
	case err := <-done:
		return err == nil
	case <-ctx.Done():
		return false
	}
}

// completeDeadLetters completes the ids of dead letters (of --type when the
// command has the flag and it is given), for a command that takes at most
// most of them (-1: any number); ids already given are left out.
func (g *globals) completeDeadLetters(most int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if most >= 0 && len(args) >= most {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ftype, _ := cmd.Flags().GetString("type")
		var out []cobra.Completion
		ok := g.quietly(cmd.Context(), func(ctx context.Context, c connector.Control) error {
			f := queue.DeadFilter{Type: ftype, Limit: 500}
			for seen := 0; seen < completionDeadLetters; {
				page, err := c.DeadLetters(ctx, f)
				if err != nil {
					return err
				}
				for _, d := range page.DeadLetters {
					id := strconv.FormatUint(d.ID, 10)
					if strings.HasPrefix(id, toComplete) && !slices.Contains(args, id) {
						out = append(out, cobra.CompletionWithDesc(id, deadLetterHint(d)))
					}
				}
				seen += len(page.DeadLetters)
				if page.Next == 0 {
					return nil
				}
				f.AfterID = page.Next
			}
			return nil
		})
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// deadLetterHint describes a dead letter in a completion: its key (the
// job type's platform and the record) and reason, on one short line.
func deadLetterHint(d connector.DeadLetter) string {
	hint := d.Key
	if d.LastError != "" {
		hint += ": " + oneLine(d.LastError)
	}
	if r := []rune(hint); len(r) > 72 {
		hint = string(r[:71]) + "…"
	}
	return hint
}

// completeDeadTypes completes a --type value: the job types that have dead
// letters.
func (g *globals) completeDeadTypes(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var types map[string]int
	ok := g.quietly(cmd.Context(), func(ctx context.Context, c connector.Control) error {
		st, err := c.Status(ctx)
		types = st.Queue.DeadByType
		return err
	})
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, t := range sortedKeys(types) {
		if strings.HasPrefix(t, toComplete) {
			out = append(out, cobra.CompletionWithDesc(t, plural(types[t], "dead letter")))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeCursors completes a cursor name as the first argument and, for
// cursor set (withValue), the cursor's current value as the second.
func (g *globals) completeCursors(withValue bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch {
		case len(args) == 0:
			var out []cobra.Completion
			for _, n := range connector.CursorNames {
				if strings.HasPrefix(n, toComplete) {
					out = append(out, n)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		case len(args) == 1 && withValue:
			var value string
			ok := g.quietly(cmd.Context(), func(ctx context.Context, c connector.Control) error {
				all, err := c.Cursors(ctx)
				value = all[args[0]]
				return err
			})
			if ok && value != "" && strings.HasPrefix(value, toComplete) {
				return []cobra.Completion{cobra.CompletionWithDesc(value, "the current value")}, cobra.ShellCompDirectiveNoFileComp
			}
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completePlatforms completes a --platform or --target value: the
// platforms the configuration sets up, and all (every target when the
// configuration cannot be read).
func (g *globals) completePlatforms(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	targets := connector.ResyncTargets
	if f, err := g.load(); err == nil {
		cfg := f.Connector()
		targets = slices.DeleteFunc(slices.Clone(targets), func(t string) bool {
			return t == "one" && cfg.ONe == nil || t == "customer_api" && cfg.CustomerAPI == nil
		})
	}
	var out []cobra.Completion
	for _, t := range targets {
		if strings.HasPrefix(t, toComplete) {
			out = append(out, t)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
