package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
	"github.com/erpconnector/erpconnector/queue"
)

// The soaks of `erpbench chaos`.
const (
	soakKill     = "kill"
	soakFaults   = "faults"
	soakShutdown = "shutdown"
	soakBadInput = "badinput"
)

var allSoaks = []string{soakKill, soakFaults, soakShutdown, soakBadInput}

const chaosHelp = `erpbench chaos runs the connector child against the ONe reference server
(both separate processes) and checks, after each soak, that the server holds
exactly one client per valid ERP row (distinct external ids), that every
valid row has its ONe id written back, that the queue is empty and that the
dead letters are exactly the deliberately invalid rows, each with a reason
naming the invalid field. Soaks:

  kill      SIGKILL the connector K times at seeded moments (the first within
            0.15 s of its start, the others when the server has seen a seeded
            share of the creates), restart it each time, then let it finish.
            Quick: 1,500 records, 3 kills. Full: 100,000 records, 10 kills.
  faults    10 % 500/502/503 without Retry-After, 5 % 429 with Retry-After
            uniform in 1-3 s, 1 % createClient dropped after commit, latency
            0-200 ms on every request, one outage (503, no Retry-After) that
            opens the breaker: quick 5 s from 3 s in, full 30 s from 20 s in.
            The feed poll is left unfaulted (it runs outside the queue, once,
            before delivery). Checks also that no request came back before
            its Retry-After (server side) and that the breaker opened and
            closed (connector metrics; one.upstream.breaker_open is set to
            1 s quick, 5 s full). Quick: 150 records. Full: 5,000 records:
            every 429 pauses the WHOLE upstream for its 1-3 s (2 s mean), and
            a record costs about 1.75 requests (create, finance data,
            retries), so 5 % of them cost up to 0.05 x 1.75 x 2 s = 0.175 s
            per record (less where pauses overlap): ~6 records/s (measured:
            3,000 records in 7.8 min, 5,000 in 14.3 min), within the ~20 min
            a hand run allows.
  shutdown  SIGTERM the connector when the server has seen 30 % of the
            creates; it must exit within 10 s; restart it to completion.
            Quick: 1,500 records. Full: 100,000 records.
  badinput  every 10th ERP row invalid (each kind the generator makes), plus
            3 % malformed and 3 % truncated answers on createClient,
            listClients, getClient, updateClient and the finance update; the
            one connector run must exit 0. Quick: 500 records. Full:
            100,000: a create whose answer is broken is looked up in a
            listing of every client (one listing serves the look-ups that
            come together); a broken listing page is read again (3 tries),
            so a 100-page listing gets through whole.

The kill, faults and shutdown soaks make every 50th row invalid. Each soak
prints its progress and a last JSON line; a violated invariant is named on
stderr and the exit status is 1.
`

const chaosUsage = `  erpbench chaos   [--soak kill|faults|shutdown|badinput|all] [--full] [--records N] [--kills K] [--seed S] [--timeout D] [--keep] [--concurrency C]
`

// chaosOptions are the flags of `erpbench chaos`.
type chaosOptions struct {
	soaks       []string
	full        bool
	records     int // 0: the soak's size
	kills       int // 0: the kill soak's count
	seed        uint64
	timeout     time.Duration
	keep        bool
	concurrency int
	dir         string // working directory; "" makes a temporary one per soak
	self        self
	log         io.Writer
}

func parseChaos(args []string, stderr io.Writer) (chaosOptions, error) {
	var o chaosOptions
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, "usage:\n"+chaosUsage+"\n"+chaosHelp+"\nflags:\n"); fs.PrintDefaults() }
	soak := fs.String("soak", "all", "kill, faults, shutdown, badinput or all")
	fs.BoolVar(&o.full, "full", false, "the issue's sizes instead of the quick ones")
	fs.IntVar(&o.records, "records", 0, "ERP rows (0: the soak's quick or full size)")
	fs.IntVar(&o.kills, "kills", 0, "SIGKILLs of the kill soak (0: 3 quick, 10 full)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the ERP rows, the server, the faults and the kill moments")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Minute, "bound on the whole run")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directories (ERP, state, logs)")
	fs.IntVar(&o.concurrency, "concurrency", 8, "the connector's delivery workers")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("chaos: unexpected arguments %q", fs.Args()))
	}
	switch {
	case *soak == "all":
		o.soaks = slices.Clone(allSoaks)
	case slices.Contains(allSoaks, *soak):
		o.soaks = []string{*soak}
	default:
		errs = append(errs, fmt.Errorf("--soak: want kill, faults, shutdown, badinput or all, got %q", *soak))
	}
	if o.records < 0 {
		errs = append(errs, errors.New("--records: must not be negative"))
	}
	if o.kills < 0 {
		errs = append(errs, errors.New("--kills: must not be negative"))
	}
	if o.timeout <= 0 {
		errs = append(errs, errors.New("--timeout: must be positive"))
	}
	if o.concurrency <= 0 {
		errs = append(errs, errors.New("--concurrency: must be positive"))
	}
	return o, errors.Join(errs...)
}

// ChaosResult is the JSON line of one soak.
type ChaosResult struct {
	Soak    string  `json:"soak"`
	Full    bool    `json:"full"`
	Records int     `json:"records"`
	Seconds float64 `json:"seconds"`
	// ValidRows and InvalidRows split the ERP rows; InvalidKinds counts the
	// distinct generator defects among the invalid rows.
	ValidRows    int `json:"valid_rows"`
	InvalidRows  int `json:"invalid_rows"`
	InvalidKinds int `json:"invalid_kinds"`
	// Runs counts connector starts; Kills the SIGKILLs that landed.
	Runs  int `json:"runs"`
	Kills int `json:"kills"`
	// Clients and DistinctExternalIDs are what the server holds at the end.
	Clients             int `json:"clients"`
	DistinctExternalIDs int `json:"distinct_external_ids"`
	// BoundRows are the ERP rows with an ONe id written back, DistinctONeIDs
	// the distinct ids among them.
	BoundRows      int `json:"bound_rows"`
	DistinctONeIDs int `json:"distinct_one_ids"`
	// QueueLeft is the live jobs left in the state file.
	QueueLeft int `json:"queue_left"`
	// DeadLetters and DeadLetterKeys count the dead letters and their
	// distinct ERP keys.
	DeadLetters    int `json:"dead_letters"`
	DeadLetterKeys int `json:"dead_letter_keys"`
	// Requests, Faulted and EarlyRetries are the server's counters summed
	// over its operations (Faulted counts every request a rule acted on,
	// latency-only rules included). Injected counts the failures answered:
	// 429, 500, 502, 503 and connections dropped after commit.
	Requests     int64 `json:"requests"`
	Faulted      int64 `json:"faulted"`
	Injected     int64 `json:"injected"`
	EarlyRetries int64 `json:"early_retries"`
	// Conflicts are creates the server refused as duplicates (409: the
	// client existed, the connector then adopts it); ListRequests are the
	// listing pages the connector read to find such clients.
	Conflicts    int64 `json:"conflicts"`
	ListRequests int64 `json:"list_requests"`
	// BreakerOpened, BreakerHalfOpened and BreakerClosed are the ONe
	// breaker's transitions; UpstreamPauses its Retry-After pauses.
	BreakerOpened     int `json:"breaker_opened"`
	BreakerHalfOpened int `json:"breaker_half_opened"`
	BreakerClosed     int `json:"breaker_closed"`
	UpstreamPauses    int `json:"upstream_pauses"`
	// ShutdownSeconds is how long the connector took to exit after SIGTERM,
	// ShutdownExit its exit status.
	ShutdownSeconds float64 `json:"shutdown_seconds"`
	ShutdownExit    int     `json:"shutdown_exit"`
	// FinalExit is the exit status of the last connector run.
	FinalExit int `json:"final_exit"`
	// Violations name every invariant that does not hold (empty on success).
	Violations []string `json:"violations"`
	// Error is why the soak could not finish (the figures are then partial).
	Error string `json:"error,omitempty"`
}

// soakSize is a soak's default size.
func soakSize(soak string, full bool) (records, kills int) {
	switch soak {
	case soakKill:
		if full {
			return 100000, 10
		}
		return 1500, 3
	case soakFaults:
		if full {
			return 5000, 0
		}
		return 150, 0
	case soakShutdown:
		if full {
			return 100000, 0
		}
		return 1500, 0
	default: // badinput
		if full {
			return 100000, 0
		}
		return 500, 0
	}
}

// runChaos runs the chosen soaks in turn, printing each one's JSON line.
func runChaos(ctx context.Context, o chaosOptions, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var errs []error
	for _, s := range o.soaks {
		res, err := runSoak(ctx, s, o, stdout)
		if err != nil && !errors.Is(err, errCheck) {
			res.Error = err.Error()
		}
		b, jerr := json.Marshal(res)
		if jerr != nil {
			return fmt.Errorf("chaos %s: encode result: %w", s, jerr)
		}
		if _, werr := fmt.Fprintf(stdout, "%s\n", b); werr != nil {
			return fmt.Errorf("chaos %s: %w", s, werr)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// runSoak runs one soak. A violated invariant is an error wrapping
// errCheck that lists the violations (also in the result).
func runSoak(ctx context.Context, soak string, o chaosOptions, out io.Writer) (ChaosResult, error) {
	n, k := soakSize(soak, o.full)
	if o.records > 0 {
		n = o.records
	}
	if o.kills > 0 {
		k = o.kills
	}
	res := ChaosResult{Soak: soak, Full: o.full, Records: n, Violations: []string{}}
	start := time.Now()
	fmt.Fprintf(out, "== chaos %s: %d records\n", soak, n)
	var err error
	switch soak {
	case soakKill:
		err = killSoak(ctx, o, n, k, &res, out)
	case soakFaults:
		err = faultsSoak(ctx, o, n, &res, out)
	case soakShutdown:
		err = shutdownSoak(ctx, o, n, &res, out)
	case soakBadInput:
		err = badInputSoak(ctx, o, n, &res, out)
	default:
		err = fmt.Errorf("unknown soak %q", soak)
	}
	res.Seconds = round2(time.Since(start).Seconds())
	if err != nil {
		return res, fmt.Errorf("chaos %s: %w", soak, err)
	}
	if len(res.Violations) > 0 {
		return res, fmt.Errorf("chaos %s: %w: %s", soak, errCheck, strings.Join(res.Violations, "; "))
	}
	fmt.Fprintf(out, "%s: every invariant holds (%.1f s)\n", soak, res.Seconds)
	return res, nil
}

// violate records a violated invariant.
func (r *ChaosResult) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// soakEnv is one soak's ERP, server, configuration and state.
type soakEnv struct {
	o         chaosOptions
	dir       string
	key       string
	erpPath   string
	statePath string
	cfg       string
	srv       *serverProc
	valid     map[string]bool
	invalid   map[string]erpgen.Invalid
	out       io.Writer
}

// benchOpts are the options the shared process helpers read.
func (o chaosOptions) benchOpts() benchOptions {
	return benchOptions{seed: o.seed, self: o.self, log: o.log, keep: o.keep, dir: o.dir, concurrency: o.concurrency}
}

// newSoakEnv seeds an ERP of n rows (every invalidEvery-th invalid), starts
// a server and writes the connector's configuration (extra may change it).
// close stops the server and removes the working directory.
func newSoakEnv(ctx context.Context, o chaosOptions, soak string, n, invalidEvery int, extra func(map[string]any), out io.Writer) (e *soakEnv, closeEnv func(), err error) {
	bo := o.benchOpts()
	if o.dir != "" {
		bo.dir = filepath.Join(o.dir, soak)
	}
	dir, cleanup, err := workDir(bo)
	if err != nil {
		return nil, nil, err
	}
	e = &soakEnv{o: o, dir: dir, out: out, erpPath: filepath.Join(dir, "erp.db"), statePath: filepath.Join(dir, "state.db"),
		valid: map[string]bool{}, invalid: map[string]erpgen.Invalid{}}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	if e.key, err = newAPIKey(); err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	recs, err := seedChaosERP(ctx, e.erpPath, n, o.seed, invalidEvery)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range recs {
		if r.Invalid != "" {
			e.invalid[r.Key] = r.Invalid
		} else {
			e.valid[r.Key] = true
		}
	}
	fmt.Fprintf(out, "ERP: %d flagged customers (%d deliberately invalid) generated in %s\n", n, len(e.invalid), time.Since(t0).Round(time.Millisecond))
	e.srv, err = startServer(ctx, bo, dir, "server", e.key)
	if err != nil {
		return nil, nil, err
	}
	e.cfg, err = writeConfigWith(dir, "connector.yaml", e.srv.url, e.key, e.erpPath, e.statePath, o.concurrency, "immediate",
		func(doc map[string]any) {
			one := doc["one"].(map[string]any)
			// The server's largest page: a look-up by external id (after an
			// unknown outcome or a 409) pages through every client.
			one["page_size"] = oneapitest.MaxPageSize
			if extra != nil {
				extra(doc)
			}
		})
	if err != nil {
		e.srv.stop()
		return nil, nil, err
	}
	return e, func() { e.srv.stop(); cleanup() }, nil
}

// seedChaosERP creates a fresh SQLite ERP with n generated customers flagged
// for ONe, every invalidEvery-th one deliberately invalid.
func seedChaosERP(ctx context.Context, path string, n int, seed uint64, invalidEvery int) ([]erpgen.Record, error) {
	_ = os.Remove(path)
	db, d, err := openERPDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := sqlerp.CreateDemoSchema(ctx, db, d, erpTable); err != nil {
		return nil, fmt.Errorf("erp: %w", err)
	}
	recs := erpgen.New(erpgen.Options{Seed: seed, InvalidEvery: invalidEvery}).Records(n)
	for i := range recs {
		recs[i].SyncONe, recs[i].SyncCustomerAPI = true, false
	}
	if err := sqlerp.InsertDemoRecords(ctx, db, d, erpTable, recs, time.Now().Add(-time.Minute)); err != nil {
		return nil, fmt.Errorf("erp: %w", err)
	}
	return recs, nil
}

// connProc is a running connector child.
type connProc struct {
	tag   string
	cmd   *exec.Cmd
	out   bytes.Buffer
	log   string
	done  chan struct{}
	err   error
	start time.Time
	end   time.Time
}

// startConnector starts the connector child on the soak's configuration.
func (e *soakEnv) startConnector(ctx context.Context, tag string) (*connProc, error) {
	p := &connProc{tag: tag, log: filepath.Join(e.dir, "connector-"+tag+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", tag, err)
	}
	p.cmd = e.o.self.command(ctx, "connector", "--config", e.cfg)
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = logf
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("connector %s: %w", tag, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.end = time.Now()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// signal sends sig to the child (a no-op once it has exited).
func (p *connProc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// exitCode is the child's exit status: -1 when a signal ended it.
func (p *connProc) exitCode() int {
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// exitedBy says how the child ended, for the output.
func (p *connProc) exitedBy() string {
	ps := p.cmd.ProcessState
	if ps == nil {
		return "not started"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ps.ExitCode())
}

// report decodes the child's last stdout line.
func (p *connProc) report() (childReport, error) {
	var r childReport
	lines := strings.Split(strings.TrimSpace(p.out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("connector %s: report: %w (log: %s)", p.tag, err, tail(p.log))
	}
	return r, nil
}

// finish runs a connector child to its end and records its exit status
// and guards in res. A run that fails is a violation, not an error.
func (e *soakEnv) finish(ctx context.Context, tag string, res *ChaosResult) (childReport, error) {
	p, err := e.startConnector(ctx, tag)
	if err != nil {
		return childReport{}, err
	}
	res.Runs++
	select {
	case <-p.done:
	case <-ctx.Done():
		<-p.done
		return childReport{}, fmt.Errorf("connector %s: %w", tag, ctx.Err())
	}
	res.FinalExit = p.exitCode()
	fmt.Fprintf(e.out, "connector %s: %s after %s\n", tag, p.exitedBy(), p.end.Sub(p.start).Round(time.Millisecond))
	if p.err != nil {
		res.violate("final_exit: the connector's final run ended with %s (log: %s)", p.exitedBy(), tail(p.log))
		return childReport{}, nil
	}
	rep, err := p.report()
	if err != nil {
		return rep, err
	}
	if tr := rep.BreakerTransitions["one"]; tr != nil {
		res.BreakerOpened += tr["open"]
		res.BreakerHalfOpened += tr["half-open"]
		res.BreakerClosed += tr["closed"]
	}
	res.UpstreamPauses += rep.UpstreamPauses["one"]
	return rep, nil
}

// creates is the number of createClient requests the server has seen.
func (e *soakEnv) creates(ctx context.Context) (int64, error) {
	c, err := counters(ctx, e.srv.url)
	if err != nil {
		return 0, err
	}
	return c["createClient"].Total, nil
}

// waitCreates waits until the server has seen at least n creates; it
// reports false when the child exited first.
func (e *soakEnv) waitCreates(ctx context.Context, p *connProc, n int64) (bool, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		got, err := e.creates(ctx)
		if err != nil {
			return false, err
		}
		if got >= n {
			return true, nil
		}
		select {
		case <-p.done:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// killSoak is the kill soak: K SIGKILLs at seeded moments, restarts, a
// final run to completion, then the invariants.
func killSoak(ctx context.Context, o chaosOptions, n, k int, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSoakEnv(ctx, o, soakKill, n, 50, nil, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.describe(res)
	rng := rand.New(rand.NewPCG(o.seed, 0x6b696c6c))
	// The first kill lands within 150 ms of the start (configuration,
	// ERP scan, first deliveries); the others when the server has seen a
	// seeded share (3-93 %) of the valid rows' creates.
	at := make([]int64, k)
	for i := 1; i < k; i++ {
		at[i] = int64((0.03 + 0.9*rng.Float64()) * float64(len(e.valid)))
	}
	sort.Slice(at, func(a, b int) bool { return at[a] < at[b] })
	for i := range k {
		tag := fmt.Sprintf("run%d", i+1)
		p, err := e.startConnector(ctx, tag)
		if err != nil {
			return err
		}
		res.Runs++
		if i == 0 {
			select {
			case <-time.After(time.Duration(rng.Int64N(int64(150 * time.Millisecond)))):
			case <-p.done:
			case <-ctx.Done():
			}
		} else {
			if _, err := e.waitCreates(ctx, p, at[i]); err != nil {
				p.signal(syscall.SIGKILL)
				<-p.done
				return err
			}
			select { // a little later, so the kill lands anywhere in a request
			case <-time.After(time.Duration(rng.Int64N(int64(100 * time.Millisecond)))):
			case <-p.done:
			}
		}
		select {
		case <-p.done:
			fmt.Fprintf(out, "kill %d: the connector had already ended (%s) after %s\n", i+1, p.exitedBy(), p.end.Sub(p.start).Round(time.Millisecond))
			continue
		default:
		}
		p.signal(syscall.SIGKILL)
		<-p.done
		c, err := e.creates(ctx)
		if err != nil {
			return err
		}
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.Kills++
		}
		fmt.Fprintf(out, "kill %d: SIGKILL after %s (%s), server has seen %d creates\n", i+1, p.end.Sub(p.start).Round(time.Millisecond), p.exitedBy(), c)
	}
	if res.Kills < k {
		res.violate("kills: only %d of %d SIGKILLs landed while the connector ran", res.Kills, k)
	}
	if _, err := e.finish(ctx, "final", res); err != nil {
		return err
	}
	if _, err := e.readCounters(ctx, res); err != nil {
		return err
	}
	return e.verify(ctx, res)
}

// faultRules are the faults soak's rules, first match wins. The
// probabilities of the later rules are conditional on the earlier ones not
// firing, so that the shares are of all requests.
func faultRules(now time.Time, full bool) []fault.Rule {
	lat := fault.Duration(200 * time.Millisecond)
	outageFrom, outage := 3*time.Second, 5*time.Second
	if full {
		outageFrom, outage = 20*time.Second, 30*time.Second
	}
	third := 0.10 / 3
	p429 := 0.05 / 0.90
	pDrop := 0.01 / 0.85
	return []fault.Rule{
		// The outage: every operation, 503 without Retry-After, as a load
		// balancer in front of a dead backend answers.
		{Operation: "*", From: now.Add(outageFrom), Until: now.Add(outageFrom + outage), Status: http.StatusServiceUnavailable},
		// The feed is polled once, outside the queue: latency only.
		{Operation: "getClientSyncFeed", LatencyMax: lat},
		{Operation: "*", Probability: third, Status: http.StatusInternalServerError, LatencyMax: lat},
		{Operation: "*", Probability: third / (1 - third), Status: http.StatusBadGateway, LatencyMax: lat},
		{Operation: "*", Probability: third / (1 - 2*third), Status: http.StatusServiceUnavailable, LatencyMax: lat},
		{Operation: "*", Probability: p429, Status: http.StatusTooManyRequests, RetryAfter: 1, RetryAfterMax: 3, LatencyMax: lat},
		{Operation: "createClient", Probability: pDrop, DropAfterCommit: true, LatencyMax: lat},
		{Operation: "*", LatencyMax: lat},
	}
}

// addRules installs fault rules on the soak's server over HTTP.
func (e *soakEnv) addRules(ctx context.Context, rules []fault.Rule) error {
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	for _, r := range rules {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("fault rule: %w", err)
		}
		if err := send(ctx, hc, http.MethodPost, e.srv.url+oneapitest.ControlPrefix+"/faults", "", b, http.StatusOK, nil); err != nil {
			return fmt.Errorf("fault rule: %w", err)
		}
	}
	return nil
}

// clearRules removes every fault rule (before the verification reads the server).
func (e *soakEnv) clearRules(ctx context.Context) error {
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	if err := send(ctx, hc, http.MethodDelete, e.srv.url+oneapitest.ControlPrefix+"/faults", "", nil, http.StatusOK, nil); err != nil {
		return fmt.Errorf("clear faults: %w", err)
	}
	return nil
}

// readCounters sums the server's counters into res.
func (e *soakEnv) readCounters(ctx context.Context, res *ChaosResult) (map[string]fault.OpCount, error) {
	c, err := counters(ctx, e.srv.url)
	if err != nil {
		return nil, err
	}
	res.Requests, res.Faulted, res.Injected, res.EarlyRetries = 0, 0, 0, 0
	for op, oc := range c {
		res.Requests += oc.Total
		res.Faulted += oc.Faulted
		res.EarlyRetries += oc.EarlyRetries
		if op == "createClient" {
			res.Conflicts = oc.ByStatus[http.StatusConflict]
		}
		if op == "listClients" {
			res.ListRequests = oc.Total
		}
		for _, st := range []int{0, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
			res.Injected += oc.ByStatus[st]
		}
	}
	return c, nil
}

// faultsSoak is the faults soak.
func faultsSoak(ctx context.Context, o chaosOptions, n int, res *ChaosResult, out io.Writer) error {
	open := "1s"
	if o.full {
		open = "5s"
	}
	e, closeEnv, err := newSoakEnv(ctx, o, soakFaults, n, 50, func(doc map[string]any) {
		up := doc["one"].(map[string]any)["upstream"].(map[string]any)
		up["breaker_open"] = open
	}, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.describe(res)
	rules := faultRules(time.Now(), o.full)
	if err := e.addRules(ctx, rules); err != nil {
		return err
	}
	fmt.Fprintf(out, "faults: %d rules installed; outage %s-%s from now; breaker open timeout %s\n", len(rules),
		rules[0].From.Sub(time.Now()).Round(time.Second), rules[0].Until.Sub(time.Now()).Round(time.Second), open)
	if _, err := e.finish(ctx, "run1", res); err != nil {
		return err
	}
	if err := e.clearRules(ctx); err != nil {
		return err
	}
	c, err := e.readCounters(ctx, res)
	if err != nil {
		return err
	}
	var n429 int64
	for _, oc := range c {
		n429 += oc.ByStatus[http.StatusTooManyRequests]
	}
	fmt.Fprintf(out, "faults: %d requests, %d failures injected (%d answered 429, %d creates dropped after commit), %d early retries; breaker opened %d, half-open %d, closed %d; %d upstream pauses\n",
		res.Requests, res.Injected, n429, c["createClient"].ByStatus[0], res.EarlyRetries, res.BreakerOpened, res.BreakerHalfOpened, res.BreakerClosed, res.UpstreamPauses)
	if res.EarlyRetries != 0 {
		res.violate("early_retries: %d requests came back before their Retry-After", res.EarlyRetries)
	}
	if res.BreakerOpened == 0 {
		res.violate("breaker_opened: the ONe breaker never opened")
	}
	if res.BreakerClosed == 0 {
		res.violate("breaker_closed: the ONe breaker never closed again")
	}
	return e.verify(ctx, res)
}

// shutdownSoak is the shutdown soak: SIGTERM mid-delivery, exit within
// 10 s, restart to completion.
func shutdownSoak(ctx context.Context, o chaosOptions, n int, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSoakEnv(ctx, o, soakShutdown, n, 50, nil, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.describe(res)
	p, err := e.startConnector(ctx, "run1")
	if err != nil {
		return err
	}
	res.Runs++
	mid := int64(len(e.valid) * 3 / 10)
	ok, err := e.waitCreates(ctx, p, mid)
	if err != nil {
		p.signal(syscall.SIGKILL)
		<-p.done
		return err
	}
	if !ok {
		res.violate("shutdown: the connector ended (%s) before the server saw %d creates: nothing to interrupt", p.exitedBy(), mid)
	} else {
		c, _ := e.creates(ctx)
		t0 := time.Now()
		p.signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.signal(syscall.SIGKILL)
			<-p.done
		}
		took := time.Since(t0)
		res.ShutdownSeconds = round2(took.Seconds())
		res.ShutdownExit = p.exitCode()
		fmt.Fprintf(out, "shutdown: SIGTERM after %s (server had seen %d creates); the connector ended with %s %.2f s later\n",
			t0.Sub(p.start).Round(time.Millisecond), c, p.exitedBy(), took.Seconds())
		if took > 10*time.Second {
			res.violate("shutdown_seconds: the connector took %.1f s to exit after SIGTERM, want at most 10 s", took.Seconds())
		}
	}
	if _, err := e.finish(ctx, "final", res); err != nil {
		return err
	}
	if _, err := e.readCounters(ctx, res); err != nil {
		return err
	}
	return e.verify(ctx, res)
}

// badInputOps are the operations whose answers the bad-input soak breaks.
var badInputOps = []string{"createClient", "listClients", "getClient", "updateClient", "updateClientFinanceData"}

// badInputSoak is the bad-input soak.
func badInputSoak(ctx context.Context, o chaosOptions, n int, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSoakEnv(ctx, o, soakBadInput, n, 10, nil, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.describe(res)
	if res.InvalidKinds != len(erpgen.AllInvalid()) {
		res.violate("invalid_kinds: the ERP holds %d of the generator's %d defect kinds (need at least %d rows)",
			res.InvalidKinds, len(erpgen.AllInvalid()), 10*len(erpgen.AllInvalid()))
	}
	var rules []fault.Rule
	for _, op := range badInputOps {
		rules = append(rules,
			fault.Rule{Operation: op, Probability: 0.03, Malformed: true},
			fault.Rule{Operation: op, Probability: 0.03 / 0.97, Truncate: true})
	}
	if err := e.addRules(ctx, rules); err != nil {
		return err
	}
	if _, err := e.finish(ctx, "run1", res); err != nil {
		return err
	}
	if err := e.clearRules(ctx); err != nil {
		return err
	}
	if _, err := e.readCounters(ctx, res); err != nil {
		return err
	}
	fmt.Fprintf(out, "badinput: %d requests, %d answers malformed or truncated\n", res.Requests, res.Faulted)
	if res.Faulted == 0 {
		res.violate("faulted: no answer was broken; the soak tested nothing")
	}
	return e.verify(ctx, res)
}

// describe fills the ERP figures of res.
func (e *soakEnv) describe(res *ChaosResult) {
	res.ValidRows, res.InvalidRows = len(e.valid), len(e.invalid)
	kinds := map[erpgen.Invalid]bool{}
	for _, k := range e.invalid {
		kinds[k] = true
	}
	res.InvalidKinds = len(kinds)
}

// verify checks the invariants every soak shares, after the last run:
// one client per valid row on the server, every valid row (and no invalid
// one) bound in the ERP, an empty queue, and dead letters that are exactly
// the invalid rows, each naming its field.
func (e *soakEnv) verify(ctx context.Context, res *ChaosResult) error {
	valid := len(e.valid)
	var err error
	res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, e.srv.url, e.key)
	if err != nil {
		return err
	}
	if res.Clients != valid {
		res.violate("clients: the server holds %d clients, want %d (the valid rows)", res.Clients, valid)
	}
	if res.DistinctExternalIDs != res.Clients {
		res.violate("distinct_external_ids: %d distinct external ids among %d clients", res.DistinctExternalIDs, res.Clients)
	}

	ids, err := erpONeIDs(ctx, e.erpPath)
	if err != nil {
		return err
	}
	distinct := map[string]bool{}
	var unbound, wrongBound []string
	for key, id := range ids {
		if id != "" {
			res.BoundRows++
			distinct[id] = true
		}
		switch {
		case e.valid[key] && id == "":
			unbound = append(unbound, key)
		case !e.valid[key] && id != "":
			wrongBound = append(wrongBound, key)
		}
	}
	res.DistinctONeIDs = len(distinct)
	if len(ids) != res.Records {
		res.violate("erp_rows: the ERP holds %d rows, want %d", len(ids), res.Records)
	}
	if len(unbound) > 0 {
		res.violate("bound_rows: %d valid rows have no ONe id written back (%s)", len(unbound), sample(unbound))
	}
	if len(wrongBound) > 0 {
		res.violate("bound_rows: %d invalid rows have an ONe id (%s)", len(wrongBound), sample(wrongBound))
	}
	if res.DistinctONeIDs != res.BoundRows {
		res.violate("distinct_one_ids: %d distinct ONe ids among %d bound rows", res.DistinctONeIDs, res.BoundRows)
	}

	st, err := queue.Open(e.statePath, queue.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	res.QueueLeft = stats.Total()
	if res.QueueLeft != 0 {
		res.violate("queue_left: %d live jobs left in the queue (%+v)", res.QueueLeft, stats.Counts)
	}
	deadKeys := map[string]bool{}
	var notInvalid, noField []string
	for f := (queue.DeadFilter{Limit: 1000}); ; {
		jobs, next, err := st.DeadLetters(ctx, f)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for _, j := range jobs {
			res.DeadLetters++
			key := strings.TrimPrefix(j.Key, "one:push:")
			deadKeys[key] = true
			kind, ok := e.invalid[key]
			if !ok || j.Type != "one.push" {
				notInvalid = append(notInvalid, fmt.Sprintf("%s %s: %s", j.Type, j.Key, j.LastError))
				continue
			}
			if !strings.Contains(j.LastError, kind.Field()) {
				noField = append(noField, fmt.Sprintf("%s (%s, field %s): %s", key, kind, kind.Field(), j.LastError))
			}
		}
		if next == 0 {
			break
		}
		f.AfterID = next
	}
	res.DeadLetterKeys = len(deadKeys)
	var missing []string
	for key := range e.invalid {
		if !deadKeys[key] {
			missing = append(missing, key)
		}
	}
	if len(notInvalid) > 0 {
		res.violate("dead_letters: %d dead letters are not deliberately invalid rows (%s)", len(notInvalid), sample(notInvalid))
	}
	if len(missing) > 0 {
		res.violate("dead_letters: %d invalid rows are not in the dead letters (%s)", len(missing), sample(missing))
	}
	if len(noField) > 0 {
		res.violate("dead_letters: %d reasons do not name the invalid field (%s)", len(noField), sample(noField))
	}
	fmt.Fprintf(e.out, "verify: server holds %d clients (%d distinct external ids) for %d valid rows; ERP rows %d, bound %d (%d distinct ids); queue %d; dead letters %d for %d keys (%d invalid rows); server: %d requests, %d creates refused as duplicates, %d listing pages read\n",
		res.Clients, res.DistinctExternalIDs, valid, len(ids), res.BoundRows, res.DistinctONeIDs, res.QueueLeft, res.DeadLetters, res.DeadLetterKeys, len(e.invalid),
		res.Requests, res.Conflicts, res.ListRequests)
	return nil
}

// sample lists up to three items, sorted, for a message.
func sample(xs []string) string {
	sort.Strings(xs)
	if len(xs) > 3 {
		return strings.Join(xs[:3], "; ") + "; …"
	}
	return strings.Join(xs, "; ")
}

// erpONeIDs reads every ERP row's written-back ONe id by key.
func erpONeIDs(ctx context.Context, path string) (map[string]string, error) {
	db, _, err := openERPDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT %q, COALESCE(%q, '') FROM %q`, erpgen.KeyColumn, erpgen.ONeIDColumn, erpTable)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("verify: erp: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("verify: erp: %w", err)
		}
		out[k] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: erp: %w", err)
	}
	return out, nil
}
