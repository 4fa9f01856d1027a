// Command erpconnector keeps ERP customer master data in sync with the ONe
// platform and the Customer API. main only wires: flags and signals become an
// Options value and a context; the work lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes a script can rely on.
const (
	exitOK       = 0
	exitFailure  = 1 // the work failed (a platform or the ERP refused, a run failed)
	exitUsage    = 2 // the command line is wrong
	exitConfig   = 3 // the configuration file is invalid; every problem is printed
	exitERP      = 4 // check: the ERP cannot be opened or does not match the configuration
	exitPlatform = 5 // check: a platform cannot be reached or refuses the credentials
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "erpconnector:", err)
		var ue *usageError
		var ce *configError
		var xe *exitError
		switch {
		case errors.As(err, &ue):
			return exitUsage
		case errors.As(err, &ce):
			return exitConfig
		case errors.As(err, &xe):
			return xe.code
		}
		return exitFailure
	}
	return exitOK
}

// usageError marks a problem with the command line itself.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }
