// Command erpbench measures the connector against the raw-HTTP limit of the
// ONe reference server, side by side in one run:
//
//	erpbench migrate --records N [--concurrency C]   ERP → ONe migration vs a raw POST loop
//	erpbench feed    --events N  [--concurrency C]   ONe → ERP catch-up vs a raw feed + GET loop
//	erpbench noop    --records N [--concurrency C]   a second sync with nothing changed
//	erpbench chaos   [--soak S] [--platform P] [--full]   the kill, faults, shutdown and bad-input soaks
//
// Every server and the connector run as separate processes: erpbench
// re-executes itself with the hidden subcommands serve-one, serve-customer
// and connector.
// The last line each command prints is one JSON object with every figure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// childEnv marks a process started by a test binary as an erpbench child.
const childEnv = "ERPBENCH_CHILD"

func main() {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "erpbench: find own executable:", err)
		os.Exit(exitFailure)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, self{exe: exe}))
}

// self is how erpbench starts copies of itself as child processes.
type self struct {
	// exe is the executable to run.
	exe string
	// env is added to the child's environment (the test binary needs a marker).
	env []string
}

const usage = `usage:
  erpbench migrate --records N [--concurrency C] [--seed S] [--timeout D] [--keep] [--cpuprofile FILE] [--idle-poll D] [--sqlite-txlock M] [--index-write-back]
  erpbench feed    --events N  [--concurrency C] [--seed S] [--timeout D] [--keep] [--cpuprofile FILE] [--idle-poll D] [--sqlite-txlock M] [--index-write-back]
  erpbench noop    --records N [--concurrency C] [--seed S] [--timeout D] [--keep] [--cpuprofile FILE] [--idle-poll D] [--sqlite-txlock M] [--index-write-back]
` + chaosUsage + `  (erpbench chaos --help describes the soaks)
`

func run(args []string, stdout, stderr io.Writer, me self) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve-one":
		err = serveOneMain(ctx, rest, stdout, stderr)
	case "serve-customer":
		err = serveCustomerMain(ctx, rest, stdout, stderr)
	case "connector":
		err = connectorMain(ctx, rest, stdout, stderr)
	case "migrate", "feed", "noop":
		var o benchOptions
		o, err = parseBench(cmd, rest, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "erpbench:", err)
			return exitUsage
		}
		o.self = me
		o.log = stderr
		err = runBench(ctx, cmd, o, stdout)
	case "chaos":
		var o chaosOptions
		o, err = parseChaos(rest, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			fmt.Fprintln(stderr, "erpbench:", err)
			return exitUsage
		}
		o.self = me
		o.log = stderr
		err = runChaos(ctx, o, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "erpbench: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "erpbench:", err)
		return exitFailure
	}
	return exitOK
}

// benchOptions are the flags of the bench commands.
type benchOptions struct {
	records     int
	concurrency int
	seed        uint64
	timeout     time.Duration
	keep        bool
	cpuProfile  string
	idlePoll    time.Duration
	txlock      string
	indexIDs    bool
	dir         string // working directory; "" makes a temporary one
	self        self
	log         io.Writer // progress lines
}

func parseBench(cmd string, args []string, stderr io.Writer) (benchOptions, error) {
	var o benchOptions
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := "records"
	if cmd == "feed" {
		count = "events"
	}
	fs.IntVar(&o.records, count, 100000, "number of "+count)
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent requests (baseline) and delivery workers (connector)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated customers and server ids")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (ERP, state, logs)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the connector child to this file")
	fs.StringVar(&o.txlock, "sqlite-txlock", "immediate", "the connector's SQLite ERP DSN _txlock (\"\" keeps the driver's deferred transactions)")
	fs.BoolVar(&o.indexIDs, "index-write-back", false, "index the ERP's platform id columns (the demo layout has no such index)")
	fs.DurationVar(&o.idlePoll, "idle-poll", 0, "connector child: poll the queue for idleness at this interval instead of WaitIdle's (0: as sync --once does)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	var errs []error
	if o.records <= 0 {
		errs = append(errs, fmt.Errorf("--%s: must be positive", count))
	}
	if o.concurrency <= 0 {
		errs = append(errs, errors.New("--concurrency: must be positive"))
	}
	if o.txlock != "" && o.txlock != "deferred" && o.txlock != "immediate" && o.txlock != "exclusive" {
		errs = append(errs, errors.New("--sqlite-txlock: must be deferred, immediate, exclusive or empty"))
	}
	if o.timeout <= 0 {
		errs = append(errs, errors.New("--timeout: must be positive"))
	}
	return o, errors.Join(errs...)
}

// runBench runs one bench command and prints its figures, the JSON line last.
func runBench(ctx context.Context, cmd string, o benchOptions, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var res any
	var err error
	switch cmd {
	case "migrate":
		res, err = runMigrate(ctx, o, stdout)
	case "feed":
		res, err = runFeed(ctx, o, stdout)
	case "noop":
		res, err = runNoop(ctx, o, stdout)
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("%s: encode result: %w", cmd, err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
