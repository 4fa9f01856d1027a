package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/check"
	"github.com/erpconnector/erpconnector/internal/daemon"
)

// exitError carries a command's own exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newCheckCmd(g *globals) *cobra.Command {
	var sample int
	var strict bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a configuration against the ERP and the platforms before a first run",
		Long: `Check a configuration against the ERP and the platforms, writing nothing:

  - the configuration file (every problem, as config validate);
  - the ERP: it opens (address, user, password), and every configured table,
    inbound table and column (key, cursor, flags, deleted, write-back, the
    rules' columns) exists, key and cursor columns with a usable type; for a
    drop folder, the folders exist and are writable and the newest export's
    header has the key, rule, flag and deleted columns;
  - a sample of ERP rows (--sample, the first changes) read through the
    rules, and what each platform a row is flagged for would do with it
    (the platform's own validation, as a sync decides): the refused rows
    are listed with their field errors;
  - one read-only authenticated request per configured platform (ONe: list
    one client; Customer API: log in and list one organisation). A refused
    API key or password is reported as such; secrets are never printed.

A demo configuration (reference.enabled) starts its reference servers first.

Exit codes: 0 every check passed; 3 the configuration is invalid; 4 the ERP
cannot be opened or does not match the configuration (with --strict also:
a sampled row would be refused); 5 a platform cannot be reached or refuses
the credentials. With ERP and platform problems both, 4.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sample <= 0 {
				return &usageError{fmt.Errorf("--sample: want a positive number, got %d", sample)}
			}
			f, err := g.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			log := g.logger(f)
			refs, err := daemon.StartReferences(f, log)
			if err != nil {
				return err
			}
			defer refs.Close(context.WithoutCancel(ctx))
			rep, err := check.Run(ctx, check.Options{File: f, Sample: sample, Version: buildVersion(), Logger: log})
			if err != nil {
				return err
			}
			if err := g.print(rep, func(w io.Writer) { printCheck(w, g.configName(), rep) }); err != nil {
				return err
			}
			switch {
			case rep.ERPFailed():
				return &exitError{exitERP, errors.New("check: the ERP does not match the configuration")}
			case strict && rep.Refused() > 0:
				return &exitError{exitERP, fmt.Errorf("check: %d sampled ERP rows would be refused", rep.Refused())}
			case rep.PlatformsFailed():
				return &exitError{exitPlatform, errors.New("check: a platform cannot be used")}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&sample, "sample", check.DefaultSample, "how many ERP rows to read through the rules")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail (exit 4) when a sampled row would be refused by a platform")
	return cmd
}

func printCheck(w io.Writer, path string, rep check.Report) {
	fmt.Fprintf(w, "config: %s: valid\n", path)
	e := rep.ERP
	if e.OK {
		fmt.Fprintf(w, "erp (%s, %s): ok\n", e.Adapter, e.Where)
	} else {
		fmt.Fprintf(w, "erp (%s, %s): %s\n", e.Adapter, e.Where, plural(len(e.Problems), "problem"))
	}
	for _, p := range e.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	if s := e.Sample; s != nil {
		names := make([]string, 0, len(s.Accepted))
		for n := range s.Accepted {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, 0, len(names))
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("%s %d accepted, %d refused", n, s.Accepted[n], s.Refused[n]))
		}
		fmt.Fprintf(w, "erp sample: %d rows read through the rules; %s\n", s.Rows, strings.Join(parts, "; "))
		for _, r := range s.Records {
			who := r.Key
			if who == "" {
				who = r.Source
			}
			fmt.Fprintf(w, "  - %s refused by %s: %s\n", who, r.Platform, r.Reason)
		}
	}
	for _, p := range rep.Platforms {
		switch {
		case p.OK:
			fmt.Fprintf(w, "platform %s (%s): ok (%s)\n", p.Platform, p.URL, p.Request)
		case p.CredentialsRefused:
			fmt.Fprintf(w, "platform %s (%s): credentials refused (%s): %s\n", p.Platform, p.URL, p.Request, p.Error)
		default:
			fmt.Fprintf(w, "platform %s (%s): failed (%s): %s\n", p.Platform, p.URL, p.Request, p.Error)
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
