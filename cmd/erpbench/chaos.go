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

const chaosHelp = `erpbench chaos runs the connector child against a platform's reference
server (both separate processes) and checks, after each soak, that the
server holds exactly one platform record per valid ERP row, that every
valid row (and no invalid one) has the platform's id written back, the ids
distinct, that the queue is empty and that the dead letters are exactly the
deliberately invalid rows, each with a reason naming the invalid field.

Platforms (--platform; all runs each one with the soaks it has):

  one          ONe, the default; every soak. The generator's mix of Polish
               and UK companies, individuals and farms, flagged for ONe only.
               One client per valid row, the ERP key its external id (the
               external ids distinct); ids written back to one_client_id;
               dead letters keyed one:push:<ERP key>.
  customerapi  The Customer API; the kill, faults and badinput soaks. UK
               farms only (companies and individuals, three to one: the
               platform takes organisations in GB, US, ZA and FR, each
               with an owner), flagged for the Customer API only, each
               with its own owner e-mail and its own name and company
               number (the platform refuses a second of either). Exactly
               one organisation per valid row by name and company number
               (the bench user's own organisation left out), none for any
               other, the row's customer_api_id its id (the ids
               distinct), and for every farm row exactly one farm business
               unit carrying the farm's business: each valid row costs two
               creates. Dead letters keyed capi:push:<ERP key>.

Soaks:

  kill      SIGKILL the connector K times at seeded moments (the first within
            0.15 s of its start, the others when the server has seen a seeded
            share of the creates: createClient, createOrganisation), restart
            it each time, then let it finish. Quick: 1,500 records, 3 kills,
            on either platform. Full: 10 kills; 100,000 records on ONe,
            20,000 on the Customer API (its reference server takes time
            growing with the organisations it holds for every create and
            read: 20,000 measured 6.5 min, most of it the last run's).
  faults    10 % 500/502/503 without Retry-After, 5 % 429 with Retry-After
            uniform in 1-3 s, 1 % of the record creates (createClient,
            createOrganisation) dropped after commit, latency 0-200 ms on
            every request, one outage (503, no Retry-After) that opens the
            breaker: quick 5 s from 3 s in, full 30 s from 20 s in. What a
            run reads once, outside the queue, has latency only, outage
            included: a failed request there fails the whole run rather
            than one job (and it may wait out Retry-After pauses into the
            outage). On ONe that is the feed poll; on the Customer API the
            listing walk (listOrganisations, getBusinessesByBusinessUnitIds)
            and the login its first page waits for (a token lasts the run),
            so the look-ups by name after a dropped create or a 409 (also
            listOrganisations) are not faulted either. Checks also that no
            request came back before its Retry-After (server side) and that
            the platform's breaker opened and closed (connector metrics,
            upstream one or customer; breaker_open is set to 1 s quick, 5 s
            full). Every 429 pauses the WHOLE upstream for its 1-3 s (2 s
            mean), so the soak's length follows its requests. On ONe a
            record costs about 1.75 requests (create, finance data,
            retries), so 5 % of them cost up to 0.05 x 1.75 x 2 s = 0.175 s
            per record (less where pauses overlap): ~6 records/s (measured:
            3,000 records in 7.8 min, 5,000 in 14.3 min). On the Customer
            API about 3 (organisation, farm business unit, retries; a
            retried farm reads its organisation and units first): measured
            100 records in 34-55 s (about 320 requests), 1,500 in 11.5 min
            (4,248). Quick: 150 records on ONe (~30 s), 100 on the Customer
            API (~45 s). Full: 5,000 on ONe, 1,500 on the Customer API, within
            the ~20 min a hand run allows. Past 2,000 records the connector's
            ERP scan waits for deliveries (it holds at most 2,000 jobs), so
            the listing walk runs late and reads back every organisation
            created by then, two requests more each: 3,000 records took
            19,239 requests and 31.6 min.
  shutdown  (ONe) SIGTERM the connector when the server has seen 30 % of
            the creates; it must exit within 10 s; restart it to completion.
            Quick: 1,500 records. Full: 100,000 records.
  badinput  Every 10th ERP row invalid (each kind the generator makes),
            3 % malformed and 3 % truncated answers on the platform's
            record operations: on ONe createClient, listClients, getClient,
            updateClient and the finance update; on the Customer API
            createOrganisation, createBusinessUnit, getOrganisation,
            getOrganisationsByIds, updateOrganisation, updateBusinessUnit
            and listOrganisations. The rows go to two ERPs, each with a
            server, a state file and one connector run of its own (a
            connector takes in the platform records it does not know, so
            they cannot share a server), each read 5 rows a page
            (erp.page_size), and each run must exit 0:
              SQL ERP      four rows in five. Another tool has written
                           updated_at as text: CURRENT_TIMESTAMP
                           (2026-12-01 23:24:13), ISO with milliseconds
                           and Z, ISO with an offset (+02:00, -05:00); a
                           fifth left as the driver wrote it. The rows
                           share some 25 to an instant, whatever the
                           notation (the native ones all one), in no
                           relation to the key order.
              drop folder  the fifth row as CSV and JSON Lines exports
                           (erp.adapter files), with a row with too few
                           fields, a row with an empty key, a row whose
                           quote never closes (last in its file: the
                           reader runs the quoted field on to the end of
                           the file), a JSON line cut short, a JSON line
                           that is no object, a CSV export without the
                           key column and an image named .csv.
            Each connector run records what the ERP adapter returned,
            pass by pass (the new-customer scan and the update scan each
            make one): no item twice at one place in a pass (a loop is
            stopped at the fifth reading; a SQL row the run rewrote
            meanwhile, taking the platform's values back in, moves to its
            new updated_at and is rightly read again there: read_again
            counts those), none the ERP does not hold, and every row and
            unreadable record in the first pass (in every pass on the SQL
            ERP, whose scans both start at its beginning). Beyond the
            shared checks (for the drop folder the ids written back are
            read from its outbox, which holds nothing but ids and rows
            taking the platform's values back in, for valid rows, one id
            each): every unreadable row and file is exactly one erp.reject
            dead letter keyed erp:reject:<file>:<line> or erp:reject:<file>
            holding {source, raw, reason} (raw the row's text), counted by
            erpconnector_erp_rejected_total{kind="row"|"file"}; every
            unreadable file sits in rejected/ beside <file>.reason.txt.
            Quick: 500 records on either platform (400 SQL, 100 in the
            drop folder; 5-15 s). Full: 100,000 on ONe (measured 168 s),
            20,000 on the Customer API (290 s): a create whose answer is
            broken is looked up in a listing of every client (one listing
            serves the look-ups that come together); a broken listing page
            is read again (3 tries), so a 100-page listing gets through
            whole.

The kill, faults and shutdown soaks make every 50th row invalid (the
generator's defects in turn, each one the platform's validation rejects).
Each soak prints its progress and a last JSON line naming the soak and the
platform; a violated invariant is named on stderr and the exit status is 1.
`

const chaosUsage = `  erpbench chaos   [--soak kill|faults|shutdown|badinput|all] [--platform one|customerapi|all] [--full] [--records N] [--kills K] [--seed S] [--timeout D] [--keep] [--concurrency C]
`

// chaosOptions are the flags of `erpbench chaos`.
type chaosOptions struct {
	soaks       []string
	platforms   []*chaosPlatform
	full        bool
	records     int // 0: the soak's size
	kills       int // 0: the kill soak's count
	seed        uint64
	timeout     time.Duration
	keep        bool
	concurrency int
	dir         string   // working directory; "" makes a temporary one per soak
	childArgs   []string // added to every connector run's command line (tests)
	self        self
	log         io.Writer
}

func parseChaos(args []string, stderr io.Writer) (chaosOptions, error) {
	var o chaosOptions
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, "usage:\n"+chaosUsage+"\n"+chaosHelp+"\nflags:\n"); fs.PrintDefaults() }
	soak := fs.String("soak", "all", "kill, faults, shutdown, badinput or all")
	plat := fs.String("platform", platformONe, "one, customerapi or all (each platform with the soaks it has)")
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
	if *plat == "all" {
		o.platforms = slices.Clone(chaosPlatforms)
	} else if i := slices.IndexFunc(chaosPlatforms, func(p *chaosPlatform) bool { return p.name == *plat }); i >= 0 {
		o.platforms = []*chaosPlatform{chaosPlatforms[i]}
	} else {
		errs = append(errs, fmt.Errorf("--platform: want %s or all, got %q", strings.Join(platformNames(), ", "), *plat))
	}
	if len(o.platforms) == 1 && len(o.soaks) == 1 && !slices.Contains(o.platforms[0].soaks, o.soaks[0]) {
		errs = append(errs, fmt.Errorf("--soak %s: not a soak of the %s platform (it has %s)", o.soaks[0], o.platforms[0].name, strings.Join(o.platforms[0].soaks, ", ")))
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
	Soak string `json:"soak"`
	// Platform is the platform the soak ran against: one or customerapi.
	Platform string  `json:"platform"`
	Full     bool    `json:"full"`
	Records  int     `json:"records"`
	Seconds  float64 `json:"seconds"`
	// ValidRows and InvalidRows split the ERP rows; InvalidKinds counts the
	// distinct generator defects among the invalid rows.
	ValidRows    int `json:"valid_rows"`
	InvalidRows  int `json:"invalid_rows"`
	InvalidKinds int `json:"invalid_kinds"`
	// Runs counts connector starts; Kills the SIGKILLs that landed.
	Runs  int `json:"runs"`
	Kills int `json:"kills"`
	// ChunksResumed counts, over the connector runs' logs, the chunk jobs
	// (several new customers in one queue job) delivered again with
	// members left: after a kill, those it cut short mid-chunk.
	ChunksResumed int `json:"chunks_resumed"`
	// Clients and DistinctExternalIDs are what the server holds at the end:
	// ONe's clients and their distinct external ids, or the Customer API's
	// organisations (the bench user's own left out) and their distinct
	// names and company numbers.
	Clients             int `json:"clients"`
	DistinctExternalIDs int `json:"distinct_external_ids"`
	// FarmRows are the valid farm rows (Customer API only), FarmUnits the
	// farm business units their organisations hold (one each).
	FarmRows  int `json:"farm_rows,omitempty"`
	FarmUnits int `json:"farm_units,omitempty"`
	// BoundRows are the ERP rows with the platform's id written back
	// (one_client_id or customer_api_id), DistinctONeIDs the distinct ids
	// among them (the name dates from ONe only).
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
	// client, organisation or business unit existed, the connector then
	// adopts it); ListRequests are the listing pages the connector read
	// (to find such records; the Customer API's also its listing walk).
	Conflicts    int64 `json:"conflicts"`
	ListRequests int64 `json:"list_requests"`
	// BreakerOpened, BreakerHalfOpened and BreakerClosed are the
	// platform's breaker's transitions; UpstreamPauses its Retry-After
	// pauses.
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
	// The bad-input soak's figures. ERPPageSize is its connector's ERP
	// page size. TimestampShapes counts the SQL ERP's rows by the notation
	// their updated_at is written in, SharedTimestampMax is the most rows
	// that share one instant. ERPPasses are the walks over the ERP's
	// changes the connector runs made (every row once in each), PassItems
	// the items the adapter returned in them, ReadAgain those returned
	// again in a pass at a new place because the run had rewritten their
	// row meanwhile (taking the platform's values back in moves its
	// updated_at to the time of the change). FileExports are the drop
	// folder's export files, FileRows its rows with a key in the readable
	// ones; RejectedRows and RejectedFiles are the erp.reject dead letters
	// of its unreadable rows and files (not in DeadLetters), and
	// RejectedRowsMetric and RejectedFilesMetric what the connector's
	// erpconnector_erp_rejected_total counted of each. OutboxIDs are the
	// platform ids the connector wrote back to the drop folder's outbox,
	// OutboxUpserts the rows it wrote there taking the platform's own
	// values back in (the Customer API's certificate status).
	ERPPageSize         int            `json:"erp_page_size,omitempty"`
	TimestampShapes     map[string]int `json:"timestamp_shapes,omitempty"`
	SharedTimestampMax  int            `json:"shared_timestamp_max,omitempty"`
	ERPPasses           int            `json:"erp_passes,omitempty"`
	PassItems           int            `json:"pass_items,omitempty"`
	ReadAgain           int            `json:"read_again,omitempty"`
	FileExports         int            `json:"file_exports,omitempty"`
	FileRows            int            `json:"file_rows,omitempty"`
	RejectedRows        int            `json:"rejected_rows,omitempty"`
	RejectedFiles       int            `json:"rejected_files,omitempty"`
	RejectedRowsMetric  int            `json:"rejected_rows_metric,omitempty"`
	RejectedFilesMetric int            `json:"rejected_files_metric,omitempty"`
	OutboxIDs           int            `json:"outbox_ids,omitempty"`
	OutboxUpserts       int            `json:"outbox_upserts,omitempty"`
	// Violations name every invariant that does not hold (empty on success).
	Violations []string `json:"violations"`
	// Error is why the soak could not finish (the figures are then partial).
	Error string `json:"error,omitempty"`
}

// soakSize is a soak's default size on platform p.
func soakSize(p *chaosPlatform, soak string, full bool) (records, kills int) {
	capi := p == customerAPIPlatform
	switch soak {
	case soakKill:
		switch {
		case full && capi:
			return capiFullKill, 10
		case full:
			return 100000, 10
		}
		return 1500, 3
	case soakFaults:
		switch {
		case full && capi:
			return capiFullFaults, 0
		case full:
			return 5000, 0
		case capi:
			return capiQuickFaults, 0
		}
		return 150, 0
	case soakShutdown:
		if full {
			return 100000, 0
		}
		return 1500, 0
	default: // badinput
		switch {
		case full && capi:
			return capiFullBadInput, 0
		case full:
			return 100000, 0
		}
		return 500, 0
	}
}

// runChaos runs the chosen soaks on each chosen platform that has them,
// in turn, printing each one's JSON line.
func runChaos(ctx context.Context, o chaosOptions, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var errs []error
	for _, p := range o.platforms {
		for _, s := range o.soaks {
			if !slices.Contains(p.soaks, s) {
				continue
			}
			res, err := runSoak(ctx, p, s, o, stdout)
			if err != nil && !errors.Is(err, errCheck) {
				res.Error = err.Error()
			}
			b, jerr := json.Marshal(res)
			if jerr != nil {
				return fmt.Errorf("chaos %s %s: encode result: %w", p.name, s, jerr)
			}
			if _, werr := fmt.Fprintf(stdout, "%s\n", b); werr != nil {
				return fmt.Errorf("chaos %s %s: %w", p.name, s, werr)
			}
			if err != nil {
				errs = append(errs, err)
			}
			if ctx.Err() != nil {
				return errors.Join(errs...)
			}
		}
	}
	return errors.Join(errs...)
}

// runSoak runs one soak. A violated invariant is an error wrapping
// errCheck that lists the violations (also in the result).
func runSoak(ctx context.Context, p *chaosPlatform, soak string, o chaosOptions, out io.Writer) (ChaosResult, error) {
	n, k := soakSize(p, soak, o.full)
	if o.records > 0 {
		n = o.records
	}
	if o.kills > 0 {
		k = o.kills
	}
	res := ChaosResult{Soak: soak, Platform: p.name, Full: o.full, Records: n, Violations: []string{}}
	start := time.Now()
	fmt.Fprintf(out, "== chaos %s on %s: %d records\n", soak, p.label, n)
	var err error
	switch soak {
	case soakKill:
		err = killSoak(ctx, o, p, n, k, &res, out)
	case soakFaults:
		err = faultsSoak(ctx, o, p, n, &res, out)
	case soakShutdown:
		err = shutdownSoak(ctx, o, p, n, &res, out)
	case soakBadInput:
		err = badInputSoak(ctx, o, p, n, &res, out)
	default:
		err = fmt.Errorf("unknown soak %q", soak)
	}
	res.Seconds = round2(time.Since(start).Seconds())
	name := soak
	if p != onePlatform {
		name = soak + " " + p.name
	}
	if err != nil {
		return res, fmt.Errorf("chaos %s: %w", name, err)
	}
	if len(res.Violations) > 0 {
		return res, fmt.Errorf("chaos %s: %w: %s", name, errCheck, strings.Join(res.Violations, "; "))
	}
	fmt.Fprintf(out, "%s: every invariant holds (%.1f s)\n", name, res.Seconds)
	return res, nil
}

// violate records a violated invariant.
func (r *ChaosResult) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// soakEnv is one soak's ERP, server, configuration and state.
type soakEnv struct {
	o         chaosOptions
	p         *chaosPlatform
	dir       string
	key       string
	erpPath   string
	statePath string
	cfg       string
	srv       *serverProc
	valid     map[string]bool
	invalid   map[string]erpgen.Invalid
	out       io.Writer
	// seededAt is the updated-at the SQL ERP's rows were written with.
	seededAt time.Time
	// drop is the drop-folder ERP (erp.adapter files) in place of the SQL
	// one, nil for a SQL ERP.
	drop *dropFolder
	// passes makes every connector run record the ERP passes it makes
	// (erp-passes-<tag>.json in dir).
	passes bool
	// childArgs are added to the connector's command line.
	childArgs []string
}

// benchOpts are the options the shared process helpers read.
func (o chaosOptions) benchOpts() benchOptions {
	return benchOptions{seed: o.seed, self: o.self, log: o.log, keep: o.keep, dir: o.dir, concurrency: o.concurrency}
}

// newSoakEnv seeds an ERP of n rows for platform p (every invalidEvery-th
// invalid), starts p's server and writes the connector's configuration, p's
// section only (extra may change it). close stops the server and removes
// the working directory.
func newSoakEnv(ctx context.Context, o chaosOptions, p *chaosPlatform, soak string, n, invalidEvery int, extra func(map[string]any), out io.Writer) (e *soakEnv, closeEnv func(), err error) {
	return newSQLSoakEnv(ctx, o, p, soak, chaosRecords(p, n, o.seed, invalidEvery), extra, out)
}

// newSQLSoakEnv is newSoakEnv with the ERP's rows given: a SQLite ERP in
// the working directory named name.
func newSQLSoakEnv(ctx context.Context, o chaosOptions, p *chaosPlatform, name string, recs []erpgen.Record, extra func(map[string]any), out io.Writer) (e *soakEnv, closeEnv func(), err error) {
	e, closeEnv, err = openSoakEnv(ctx, o, p, name, recs, out)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			closeEnv()
		}
	}()
	t0 := time.Now()
	e.seededAt = t0.Add(-time.Minute) // well before the connector's first read
	if err := seedChaosERP(ctx, e.erpPath, recs, e.seededAt); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "ERP: %d customers flagged for %s (%d deliberately invalid) written in %s\n", len(recs), p.label, len(e.invalid), time.Since(t0).Round(time.Millisecond))
	e.cfg, err = writeConfigWith(e.dir, "connector.yaml", e.srv.url, e.key, e.erpPath, e.statePath, o.concurrency, "immediate",
		func(doc map[string]any) {
			p.configure(doc, e.srv.url, e.key, o.concurrency)
			if extra != nil {
				extra(doc)
			}
		})
	if err != nil {
		return nil, nil, err
	}
	return e, closeEnv, nil
}

// openSoakEnv makes the working directory of a soak's part (named name),
// takes the ERP's rows in as valid or invalid and starts p's server; the
// caller writes the ERP and the configuration. close stops the server and
// removes the working directory.
func openSoakEnv(ctx context.Context, o chaosOptions, p *chaosPlatform, name string, recs []erpgen.Record, out io.Writer) (e *soakEnv, closeEnv func(), err error) {
	bo := o.benchOpts()
	if o.dir != "" {
		bo.dir = filepath.Join(o.dir, name)
		if p != onePlatform {
			bo.dir += "-" + p.name
		}
	}
	dir, cleanup, err := workDir(bo)
	if err != nil {
		return nil, nil, err
	}
	e = &soakEnv{o: o, p: p, dir: dir, out: out, erpPath: filepath.Join(dir, "erp.db"), statePath: filepath.Join(dir, "state.db"),
		valid: map[string]bool{}, invalid: map[string]erpgen.Invalid{}, childArgs: o.childArgs}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	for _, r := range recs {
		if r.Invalid != "" {
			e.invalid[r.Key] = r.Invalid
		} else {
			e.valid[r.Key] = true
		}
	}
	if e.key, err = newAPIKey(); err != nil {
		return nil, nil, err
	}
	e.srv, err = p.start(ctx, bo, dir, "server", e.key)
	if err != nil {
		return nil, nil, err
	}
	return e, func() { e.srv.stop(); cleanup() }, nil
}

// chaosRecords generates n customers for platform p, flagged for it only,
// every invalidEvery-th one deliberately invalid.
func chaosRecords(p *chaosPlatform, n int, seed uint64, invalidEvery int) []erpgen.Record {
	gen := p.gen
	gen.Seed, gen.InvalidEvery = seed, invalidEvery
	recs := erpgen.New(gen).Records(n)
	for i := range recs {
		p.flag(&recs[i])
	}
	return recs
}

// seedChaosERP creates a fresh SQLite ERP holding recs, each changed at at.
func seedChaosERP(ctx context.Context, path string, recs []erpgen.Record, at time.Time) error {
	_ = os.Remove(path)
	db, d, err := openERPDB(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := sqlerp.CreateDemoSchema(ctx, db, d, erpTable); err != nil {
		return fmt.Errorf("erp: %w", err)
	}
	if err := sqlerp.InsertDemoRecords(ctx, db, d, erpTable, recs, at); err != nil {
		return fmt.Errorf("erp: %w", err)
	}
	return nil
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
	args := []string{"connector", "--config", e.cfg}
	if e.passes {
		args = append(args, "--erp-passes", e.passesPath(tag))
	}
	p.cmd = e.o.self.command(ctx, append(args, e.childArgs...)...)
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
	if tr := rep.BreakerTransitions[e.p.upstream]; tr != nil {
		res.BreakerOpened += tr["open"]
		res.BreakerHalfOpened += tr["half-open"]
		res.BreakerClosed += tr["closed"]
	}
	res.UpstreamPauses += rep.UpstreamPauses[e.p.upstream]
	return rep, nil
}

// creates is the number of record creates (createClient,
// createOrganisation) the server has seen.
func (e *soakEnv) creates(ctx context.Context) (int64, error) {
	c, err := counters(ctx, e.srv.url)
	if err != nil {
		return 0, err
	}
	return c[e.p.createOps[0]].Total, nil
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
func killSoak(ctx context.Context, o chaosOptions, plat *chaosPlatform, n, k int, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSoakEnv(ctx, o, plat, soakKill, n, 50, nil, out)
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
	if res.ChunksResumed, err = countLogLines(filepath.Join(e.dir, "connector-*.log"), chunkResumedLog); err != nil {
		return err
	}
	return e.verify(ctx, res)
}

// chunkResumedLog is what the connector logs when it delivers a chunk job
// again with members left.
const chunkResumedLog = "chunk delivered again;"

// countLogLines counts the lines holding s in the files glob matches.
func countLogLines(glob, s string) (int, error) {
	files, err := filepath.Glob(glob)
	if err != nil {
		return 0, fmt.Errorf("count log lines: %w", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("count log lines: %w", err)
		}
		n += bytes.Count(b, []byte(s))
	}
	return n, nil
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
	res.Requests, res.Faulted, res.Injected, res.EarlyRetries, res.Conflicts, res.ListRequests = 0, 0, 0, 0, 0, 0
	for op, oc := range c {
		res.Requests += oc.Total
		res.Faulted += oc.Faulted
		res.EarlyRetries += oc.EarlyRetries
		if slices.Contains(e.p.createOps, op) {
			res.Conflicts += oc.ByStatus[http.StatusConflict]
		}
		if op == e.p.listOp {
			res.ListRequests = oc.Total
		}
		for _, st := range []int{0, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
			res.Injected += oc.ByStatus[st]
		}
	}
	return c, nil
}

// faultsSoak is the faults soak.
func faultsSoak(ctx context.Context, o chaosOptions, plat *chaosPlatform, n int, res *ChaosResult, out io.Writer) error {
	open := "1s"
	if o.full {
		open = "5s"
	}
	e, closeEnv, err := newSoakEnv(ctx, o, plat, soakFaults, n, 50, func(doc map[string]any) {
		up := doc[plat.section].(map[string]any)["upstream"].(map[string]any)
		up["breaker_open"] = open
	}, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.describe(res)
	rules := plat.faultRules(time.Now(), o.full)
	if err := e.addRules(ctx, rules); err != nil {
		return err
	}
	outage := rules[slices.IndexFunc(rules, func(r fault.Rule) bool { return !r.From.IsZero() })]
	fmt.Fprintf(out, "faults: %d rules installed; outage %s-%s from now; breaker open timeout %s\n", len(rules),
		outage.From.Sub(time.Now()).Round(time.Second), outage.Until.Sub(time.Now()).Round(time.Second), open)
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
		res.Requests, res.Injected, n429, c[plat.createOps[0]].ByStatus[0], res.EarlyRetries, res.BreakerOpened, res.BreakerHalfOpened, res.BreakerClosed, res.UpstreamPauses)
	if res.EarlyRetries != 0 {
		res.violate("early_retries: %d requests came back before their Retry-After", res.EarlyRetries)
	}
	if res.BreakerOpened == 0 {
		res.violate("breaker_opened: the %s breaker never opened", plat.label)
	}
	if res.BreakerClosed == 0 {
		res.violate("breaker_closed: the %s breaker never closed again", plat.label)
	}
	return e.verify(ctx, res)
}

// shutdownSoak is the shutdown soak: SIGTERM mid-delivery, exit within
// 10 s, restart to completion.
func shutdownSoak(ctx context.Context, o chaosOptions, plat *chaosPlatform, n int, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSoakEnv(ctx, o, plat, soakShutdown, n, 50, nil, out)
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
// one platform record per valid row on the server (the platform's own
// checks), every valid row (and no invalid one) bound in the ERP to a
// distinct id, an empty queue, and dead letters that are exactly the
// invalid rows, each naming its field.
func (e *soakEnv) verify(ctx context.Context, res *ChaosResult) error {
	valid := len(e.valid)
	ids, err := e.platformIDs(ctx)
	if err != nil {
		return err
	}
	if err := e.p.verifyServer(ctx, e, ids, res); err != nil {
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
		res.violate("bound_rows: %d valid rows have no %s id written back (%s)", len(unbound), e.p.label, sample(unbound))
	}
	if len(wrongBound) > 0 {
		res.violate("bound_rows: %d invalid rows have %s id (%s)", len(wrongBound), article(e.p.label), sample(wrongBound))
	}
	if res.DistinctONeIDs != res.BoundRows {
		res.violate("distinct_one_ids: %d distinct %s ids among %d bound rows", res.DistinctONeIDs, e.p.label, res.BoundRows)
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
	rejects := map[string]queue.Job{}
	for f := (queue.DeadFilter{Limit: 1000}); ; {
		jobs, next, err := st.DeadLetters(ctx, f)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for _, j := range jobs {
			if j.Type == erpRejectType {
				// An unreadable ERP record: the drop folder's checks.
				rejects[j.Key] = j
				continue
			}
			res.DeadLetters++
			key := strings.TrimPrefix(j.Key, e.p.pushKey())
			deadKeys[key] = true
			kind, ok := e.invalid[key]
			if !ok || j.Type != e.p.pushType() {
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
	if e.drop != nil {
		if err := e.drop.verify(rejects, e.p, e.valid, res); err != nil {
			return err
		}
	} else if len(rejects) > 0 {
		var keys []string
		for k := range rejects {
			keys = append(keys, k)
		}
		res.violate("dead_letters: %d ERP records rejected as unreadable (%s)", len(rejects), sample(keys))
	}
	farms := ""
	if res.FarmRows > 0 {
		farms = fmt.Sprintf(", %d farm business units for %d farm rows", res.FarmUnits, res.FarmRows)
	}
	fmt.Fprintf(e.out, "verify: server holds %d %s (%d distinct %s%s) for %d valid rows; ERP rows %d, bound %d (%d distinct ids); queue %d; dead letters %d for %d keys (%d invalid rows); server: %d requests, %d creates refused as duplicates, %d listing pages read\n",
		res.Clients, e.p.records, res.DistinctExternalIDs, e.p.identities, farms, valid, len(ids), res.BoundRows, res.DistinctONeIDs, res.QueueLeft, res.DeadLetters, res.DeadLetterKeys, len(e.invalid),
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

// article is "an" or "a" before name.
func article(name string) string {
	if strings.ContainsRune("AEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// erpPlatformIDs reads every ERP row's platform id written back to column, by key.
func erpPlatformIDs(ctx context.Context, path, column string) (map[string]string, error) {
	db, _, err := openERPDB(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT %q, COALESCE(%q, '') FROM %q`, erpgen.KeyColumn, column, erpTable)
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
