// Command erpbench measures the connector against the raw-HTTP limit of the
// platforms' reference servers, side by side in one run:
//
//	erpbench migrate --records N [--platform P]   ERP → platform migration vs raw loops sending the same requests
//	erpbench feed    --events N                   ONe → ERP catch-up vs a raw feed + GET loop
//	erpbench update  --records N --changed-fields F[,F…] [--platform P]   a sync of changed ERP fields
//	erpbench pull    --records N                  Customer API → ERP: organisations and farms changed on the platform
//	erpbench noop    --records N [--platform P]   a second sync and two full resyncs with nothing changed
//	erpbench chaos   [--soak S] [--platform P] [--full]   the kill, faults, shutdown and bad-input soaks
//
// --latency and --server-rate make the platform's server a realistic
// upstream (a latency on every request, 429 with Retry-After above the
// rate) and set the connector's upstream rate to the server's.
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
	"slices"
	"strings"
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
  erpbench migrate --records N [--platform one|customerapi] [UPSTREAM] [COMMON]
  erpbench feed    --events N  [UPSTREAM] [COMMON]
  erpbench update  --records N --changed-fields F[,F…] [--platform one|customerapi] [UPSTREAM] [COMMON]
  erpbench pull    --records N [--platform customerapi] [UPSTREAM] [COMMON]
  erpbench noop    --records N [--platform one|customerapi] [UPSTREAM] [COMMON]
` + chaosUsage + `  (erpbench chaos --help describes the soaks)
UPSTREAM: [--latency D] [--server-rate R] [--server-burst B] [--upstream-rate R]
COMMON:   [--concurrency C] [--seed S] [--timeout D] [--keep] [--cpuprofile FILE] [--memprofile FILE] [--idle-poll D] [--sqlite-txlock M] [--index-write-back]
update's fields: ` + changeableFields + `
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
	case "migrate", "feed", "noop", "update", "pull":
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
	memProfile  string
	idlePoll    time.Duration
	txlock      string
	indexIDs    bool
	dir         string // working directory; "" makes a temporary one
	self        self
	log         io.Writer // progress lines
	// platform is the platform of migrate, update and pull (nil: ONe).
	platform *chaosPlatform
	// changed are update's ERP columns (see changeableFields).
	changed []string
	// upstream is the realistic upstream of the timed runs.
	upstream upstreamOptions
	// configExtra, when set, makes a last change to every connector
	// configuration (pull's ownership).
	configExtra func(doc map[string]any)
}

// plat is the bench's platform.
func (o benchOptions) plat() *chaosPlatform {
	if o.platform == nil {
		return onePlatform
	}
	return o.platform
}

// upstreamOptions make the platform's server a realistic upstream for the
// timed runs (and the baselines), and set the connector's upstream rate.
type upstreamOptions struct {
	// latency is added by the server to every request.
	latency time.Duration
	// serverRate is the requests per second the server accepts over all
	// operations (0: no limit); serverBurst its token bucket (0: the rate).
	serverRate  float64
	serverBurst int
	// rate is the connector's upstream rate (its <platform>.upstream.rate;
	// 0: unlimited) and the pace of the baselines' raw loops.
	rate float64
}

// on reports whether the server is throttled at all.
func (u upstreamOptions) on() bool { return u.latency > 0 || u.serverRate > 0 }

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
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the connector child to this file (noop's resyncs: to FILE.resync and FILE.steady-resync)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile of the connector child, taken once its queue is idle, to this file (noop's resyncs: to FILE.resync and FILE.steady-resync)")
	fs.StringVar(&o.txlock, "sqlite-txlock", "immediate", "the connector's SQLite ERP DSN _txlock (\"\" keeps the driver's deferred transactions)")
	fs.BoolVar(&o.indexIDs, "index-write-back", false, "index the ERP's platform id columns (the demo layout has no such index)")
	fs.DurationVar(&o.idlePoll, "idle-poll", 0, "connector child: poll the queue for idleness at this interval instead of WaitIdle's (0: as sync --once does)")
	plat := platformONe
	if cmd == "pull" {
		plat = platformCustomerAPI
	}
	var fields string
	upstreamRate := -1.0
	switch cmd {
	case "migrate", "update", "pull", "noop":
		fs.StringVar(&plat, "platform", plat, "the platform: "+strings.Join(benchPlatforms(cmd), " or "))
	}
	if cmd == "update" {
		fs.StringVar(&fields, "changed-fields", "name", "comma-separated ERP columns changed in every record: "+changeableFields)
	}
	fs.DurationVar(&o.upstream.latency, "latency", 0, "the platform's server adds this latency to every request")
	fs.Float64Var(&o.upstream.serverRate, "server-rate", 0, "the platform's server accepts this many requests per second and answers 429 with Retry-After above it (0: no limit)")
	fs.IntVar(&o.upstream.serverBurst, "server-burst", 0, "the server's token bucket size (0: one second's worth, the rate)")
	fs.Float64Var(&upstreamRate, "upstream-rate", -1, "the connector's upstream rate and the baselines' pace (default: --server-rate; 0: unlimited)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	var errs []error
	if i := slices.IndexFunc(chaosPlatforms, func(p *chaosPlatform) bool { return p.name == plat }); i >= 0 && slices.Contains(benchPlatforms(cmd), plat) {
		o.platform = chaosPlatforms[i]
	} else {
		errs = append(errs, fmt.Errorf("--platform: %s runs on %s, got %q", cmd, strings.Join(benchPlatforms(cmd), " or "), plat))
	}
	if cmd == "update" {
		var err error
		if o.changed, err = parseChangedFields(fields); err != nil {
			errs = append(errs, fmt.Errorf("--changed-fields: %w", err))
		}
	}
	o.upstream.rate = upstreamRate
	if upstreamRate < 0 {
		o.upstream.rate = o.upstream.serverRate
	}
	if o.upstream.latency < 0 {
		errs = append(errs, errors.New("--latency: must not be negative"))
	}
	if o.upstream.serverRate < 0 {
		errs = append(errs, errors.New("--server-rate: must not be negative"))
	}
	if o.upstream.serverBurst < 0 || (o.upstream.serverBurst > 0 && o.upstream.serverRate == 0) {
		errs = append(errs, errors.New("--server-burst: must be positive, with --server-rate"))
	}
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

// benchPlatforms are the platforms a bench command runs on.
func benchPlatforms(cmd string) []string {
	switch cmd {
	case "migrate", "update", "noop":
		return []string{platformONe, platformCustomerAPI}
	case "pull":
		// ONe's platform → ERP direction is the feed command.
		return []string{platformCustomerAPI}
	}
	return []string{platformONe}
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
	case "update":
		res, err = runUpdate(ctx, o, stdout)
	case "pull":
		res, err = runPull(ctx, o, stdout)
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
