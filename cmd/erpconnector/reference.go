package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/daemon"
)

type referenceFlags struct {
	oneListen      string
	oneTenants     []string
	customerListen string
	customerUsers  []string
	seed           uint64
	state          string
	customerState  string
}

func newReferenceCmd() *cobra.Command {
	var f referenceFlags
	cmd := &cobra.Command{
		Use:   "reference",
		Short: "Serve the reference platform APIs (for tests and demos)",
		Long: `Serve in-memory reference implementations of the platform APIs on loopback.

The ONe clients API answers under /api/v1/account/integrations/auth-required
with the one-tenant and ApiAuth headers of a configured tenant. The Customer
API answers under /v1 to a bearer token from POST /v1/auth/login with a
configured user (each owns a seeded organisation). Each server has a
test-only control surface under /_reference/. An empty listen address turns
that server off.

--state FILE keeps the ONe reference data (tenants' clients, users and feed)
and --customer-state FILE the Customer API reference data (organisations,
business units, users with their passwords, tokens) across restarts: each
file is loaded at start if it exists, written shortly after changes and once
more on shutdown. Configured tenants and users keep the keys and passwords
given on the command line. The files hold secrets in clear text; use them for
tests and demos only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReference(cmd.Context(), f, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.oneListen, "one-listen", "127.0.0.1:18080", "address of the ONe reference API")
	fl.StringArrayVar(&f.oneTenants, "one-tenant", []string{"demo=secret"}, "ONe tenant and its API key as NAME=KEY (repeatable)")
	fl.StringVar(&f.customerListen, "customer-listen", "127.0.0.1:18081", "address of the Customer API reference server")
	fl.StringArrayVar(&f.customerUsers, "customer-user", []string{"owner@example.com=Passw0rd!"}, "Customer API user and password as EMAIL=PASSWORD (repeatable)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for generated ids (deterministic runs)")
	fl.StringVar(&f.state, "state", "", "file to keep the ONe reference data in across restarts")
	fl.StringVar(&f.customerState, "customer-state", "", "file to keep the Customer API reference data in across restarts")
	return cmd
}

func parsePairs(flag string, values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		name, secret, ok := strings.Cut(v, "=")
		if !ok || name == "" || secret == "" {
			return nil, &usageError{fmt.Errorf("--%s: want NAME=SECRET, got %q", flag, redactPair(v))}
		}
		out[name] = secret
	}
	return out, nil
}

// redactPair keeps the name of a NAME=SECRET pair and hides the rest.
func redactPair(v string) string {
	name, _, ok := strings.Cut(v, "=")
	if !ok {
		return "[REDACTED]"
	}
	return name + "=[REDACTED]"
}

// runReference serves the reference APIs the flags ask for until ctx
// ends, printing each server's address on out.
func runReference(ctx context.Context, f referenceFlags, log *slog.Logger, out io.Writer) error {
	tenants, err := parsePairs("one-tenant", f.oneTenants)
	if err != nil {
		return err
	}
	users, err := parsePairs("customer-user", f.customerUsers)
	if err != nil {
		return err
	}
	return daemon.ServeReferences(ctx, daemon.ReferenceOptions{
		ONeListen: f.oneListen, CustomerListen: f.customerListen, ONeTenants: tenants, CustomerUsers: users,
		Seed: f.seed, ONeState: f.state, CustomerState: f.customerState,
		Listening: func(name, addr string) { fmt.Fprintf(out, "%s reference API on http://%s\n", name, addr) },
	}, log)
}
