package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// erpTable is the customer table of the bench ERP (the demo layout).
const erpTable = "erp_customers"

// MigrateResult is the JSON line of `erpbench migrate`.
type MigrateResult struct {
	// Platform is one or customerapi.
	Platform string `json:"platform"`
	Records  int    `json:"records"`
	// BaselineSameRPS is the raw loop sending, per record, exactly the
	// requests the connector's create path sends (see baseline.go), in
	// records/s; RatioSame is connector_rps ÷ it.
	// BaselineSameRequestsPerRecord is that loop's requests per record.
	BaselineSameRPS               float64 `json:"baseline_same_rps"`
	BaselineSameRequestsPerRecord float64 `json:"baseline_same_requests_per_record"`
	RatioSame                     float64 `json:"ratio_same"`
	// BaselinePostRPS (ONe only) is the POST-only loop: the client's create
	// alone, without its finance data; RatioPost is connector_rps ÷ it.
	BaselinePostRPS float64 `json:"baseline_post_rps,omitempty"`
	RatioPost       float64 `json:"ratio_post,omitempty"`
	RunFigures
	UpstreamFigures
	// Clients and DistinctExternalIDs are what the server holds at the end:
	// ONe's clients and their distinct external ids, or the Customer API's
	// organisations (the bench user's own left out) and their distinct
	// names and company numbers; FarmUnits the Customer API's farm
	// business units (one per farm row). BoundRows are the ERP rows with
	// the platform id written back.
	Clients             int `json:"clients"`
	DistinctExternalIDs int `json:"distinct_external_ids"`
	FarmUnits           int `json:"farm_units,omitempty"`
	BoundRows           int `json:"bound_rows"`
	// StateBytes is the state file's size after the run;
	// StateBytesPerBinding that ÷ the customers bound (the queue is empty).
	StateBytes           int64   `json:"state_bytes"`
	StateBytesPerBinding float64 `json:"state_bytes_per_binding"`
	// Outcomes are the connector's outcomes in the run (direction →
	// outcome → records).
	Outcomes map[string]map[string]int `json:"outcomes"`
}

// FeedResult is the JSON line of `erpbench feed`: clients are the ERP
// customers created, distinct_external_ids the distinct ONe ids among them.
type FeedResult struct {
	Records int `json:"records"`
	// BaselineFeedGetRPS is the raw loop reading the feed pages and GETting
	// every client (the connector also writes each to the ERP and PUTs the
	// client with its ERP key as external id), in records/s; RatioFeedGet
	// is connector_rps ÷ it.
	BaselineFeedGetRPS float64 `json:"baseline_feed_get_rps"`
	RatioFeedGet       float64 `json:"ratio_feed_get"`
	RunFigures
	UpstreamFigures
	Clients             int `json:"clients"`
	DistinctExternalIDs int `json:"distinct_external_ids"`
}

// NoopResult is the JSON line of `erpbench noop`: the figures of the second
// run (nothing changed), writes counted by the server during it.
type NoopResult struct {
	Platform            string  `json:"platform"`
	Records             int     `json:"records"`
	Seconds             float64 `json:"seconds"`
	Writes              int64   `json:"writes"`
	PeakRSSMiB          float64 `json:"peak_rss_mib"`
	PeakAnonMiB         float64 `json:"peak_anon_mib"`
	ConnectorCPUS       float64 `json:"connector_cpu_s"`
	Clients             int     `json:"clients"`
	DistinctExternalIDs int     `json:"distinct_external_ids"`
	FirstRunRPS         float64 `json:"first_run_rps"`
	// UpstreamFigures are the upstream the second sync and the resyncs
	// met (--latency, --server-rate; the migration before them met none).
	UpstreamFigures
	// ResyncSeconds is a third run, a full resync (every ERP record and
	// every ONe client read and compared) with nothing changed;
	// ResyncWrites the server's writes during it (must be 0), ResyncJobs
	// the checks it queued (a client the connector has never read back is
	// fetched and compared once).
	ResyncSeconds float64 `json:"resync_seconds"`
	ResyncWrites  int64   `json:"resync_writes"`
	ResyncJobs    int     `json:"resync_jobs"`
	// ResyncCPUS and SteadyResyncCPUS are the connector's CPU seconds in
	// each resync (a figure this machine's load moves less than the time).
	ResyncCPUS       float64 `json:"resync_cpu_s"`
	SteadyResyncCPUS float64 `json:"steady_resync_cpu_s"`
	// SteadyResync* are a second full resync: every client has been read
	// back once, so only the listings and the ERP are read and compared.
	SteadyResyncSeconds float64 `json:"steady_resync_seconds"`
	SteadyResyncWrites  int64   `json:"steady_resync_writes"`
	SteadyResyncJobs    int     `json:"steady_resync_jobs"`
	// RequestsByOperation are the requests the server received during the
	// second sync, Resync… and SteadyResync… during the two resyncs, by
	// the server's operation ids.
	RequestsByOperation             map[string]int64 `json:"requests_by_operation"`
	ResyncRequestsByOperation       map[string]int64 `json:"resync_requests_by_operation"`
	SteadyResyncRequestsByOperation map[string]int64 `json:"steady_resync_requests_by_operation"`
}

// writesBetween counts the requests of operations that change a record
// (either platform's: create…, update…, delete…, patch…, …) between two
// readings of the server's counters.
func writesBetween(before, after map[string]fault.OpCount) int64 {
	var n int64
	for op, c := range after {
		for _, w := range []string{"create", "update", "delete", "patch", "import", "activate", "add", "remove", "set", "change"} {
			if strings.HasPrefix(op, w) {
				n += c.Total - before[op].Total
				break
			}
		}
	}
	return n
}

// runMigrate is `erpbench migrate`.
func runMigrate(ctx context.Context, o benchOptions, out io.Writer) (MigrateResult, error) {
	dir, cleanup, err := workDir(o)
	if err != nil {
		return MigrateResult{}, err
	}
	defer cleanup()
	res, m, err := migrate(ctx, o, dir, true, out)
	if m != nil {
		m.server.stop()
	}
	return res, err
}

// migrated is what a migration leaves for a following step (noop, update,
// pull).
type migrated struct {
	server *serverProc
	cfg    string
	key    string
	erp    string
	state  string
}

// migrate runs the baselines (when baseline is set) and the connector
// migration on o's platform. On success the connector's server is left
// running in m. The migration is timed as o.upstream says only when
// baseline is set (migrate itself); otherwise it is an untimed first step
// on a plain server and configuration.
func migrate(ctx context.Context, o benchOptions, dir string, baseline bool, out io.Writer) (res MigrateResult, m *migrated, err error) {
	p := o.plat()
	n := o.records
	res.Platform, res.Records = p.name, n
	key, err := newAPIKey()
	if err != nil {
		return res, nil, err
	}
	erpPath, statePath := filepath.Join(dir, "erp.db"), filepath.Join(dir, "state.db")
	t0 := time.Now()
	if err := seedERP(ctx, erpPath, n, p, o.seed, o.indexIDs); err != nil {
		return res, nil, err
	}
	fmt.Fprintf(out, "ERP: %d flagged valid customers for %s generated in %s\n", n, p.label, time.Since(t0).Round(time.Millisecond))

	up := o.upstream
	if baseline {
		res.UpstreamFigures = up.figures()
		if err := migrateBaselines(ctx, o, dir, key, erpPath, &res, out); err != nil {
			return res, nil, err
		}
	} else {
		up = upstreamOptions{}
	}

	srv, err := p.start(ctx, o, dir, "server-connector", key)
	if err != nil {
		return res, nil, err
	}
	defer func() {
		if err != nil {
			srv.stop()
		}
	}()
	if err := throttle(ctx, srv.url, up); err != nil {
		return res, nil, err
	}
	cfg, err := benchConfig(o, dir, "connector.yaml", srv.url, key, erpPath, statePath, up.rate)
	if err != nil {
		return res, nil, err
	}
	ro := o
	ro.upstream = up
	figs, run, err := timedRun(ctx, ro, dir, cfg, "migrate", srv, n)
	if err != nil {
		return res, nil, err
	}
	res.RunFigures, res.Outcomes = figs, run.report.Outcomes
	if res.BaselineSameRPS > 0 {
		res.RatioSame = round2(res.ConnectorRPS / res.BaselineSameRPS)
	}
	if res.BaselinePostRPS > 0 {
		res.RatioPost = round2(res.ConnectorRPS / res.BaselinePostRPS)
	}
	fmt.Fprintf(out, "connector: %d records, workers %d, %s: %.0f records/s, peak RSS %.1f MiB (anonymous %.1f MiB), CPU %.2f s\n",
		n, o.concurrency, run.wall.Round(time.Millisecond), res.ConnectorRPS, res.PeakRSSMiB, res.PeakAnonMiB, res.ConnectorCPUS)
	fmt.Fprintf(out, "connector: %s; outcomes %v\n", figs.describe(), run.report.Outcomes)
	if res.StateBytes, err = stateBytes(statePath); err != nil {
		return res, nil, err
	}
	if b := bindings(run.report); b > 0 {
		res.StateBytesPerBinding = round1(float64(res.StateBytes) / float64(b))
	}
	fmt.Fprintf(out, "state file: %d bytes for %d bound customers (%.0f bytes a binding)\n", res.StateBytes, bindings(run.report), res.StateBytesPerBinding)

	// The verification reads the server at full speed.
	if err := unthrottle(ctx, srv.url, up); err != nil {
		return res, nil, err
	}
	if err := verifyMigration(ctx, p, srv, key, erpPath, n, &res, out); err != nil {
		return res, nil, err
	}
	fmt.Fprintf(out, "verify: dead letters %d, queue %d\n", run.report.Queue.Dead, run.report.Queue.Total())
	if res.RatioSame > 0 {
		fmt.Fprintf(out, "ratio connector/baseline (same requests): %.2f\n", res.RatioSame)
	}
	if res.RatioPost > 0 {
		fmt.Fprintf(out, "ratio connector/baseline (POST only): %.2f\n", res.RatioPost)
	}
	if run.report.Queue.Dead != 0 || run.report.Queue.Total() != 0 || bindings(run.report) != n {
		return res, nil, fmt.Errorf("migrate: %w: want %d customers bound, no dead letters, an empty queue; got %d bound, %d dead letters, %d queued",
			errCheck, n, bindings(run.report), run.report.Queue.Dead, run.report.Queue.Total())
	}
	return res, &migrated{server: srv, cfg: cfg, key: key, erp: erpPath, state: statePath}, nil
}

// migrateBaselines runs the raw loops of o's platform, each against a
// fresh server of its own, into res.
func migrateBaselines(ctx context.Context, o benchOptions, dir, key, erpPath string, res *MigrateResult, out io.Writer) error {
	p, n, up := o.plat(), o.records, o.upstream
	// start runs one loop against a fresh, throttled server.
	start := func(name string, loop func(url string) (baselineRun, error)) (baselineRun, error) {
		srv, err := p.start(ctx, o, dir, name, key)
		if err != nil {
			return baselineRun{}, err
		}
		defer srv.stop()
		if err := throttle(ctx, srv.url, up); err != nil {
			return baselineRun{}, err
		}
		return loop(srv.url)
	}
	report := func(what string, b baselineRun) float64 {
		rps := float64(n) / b.wall.Seconds()
		fmt.Fprintf(out, "baseline (%s): %d records, %d requests (%.2f a record, %d answered 429), concurrency %d, %s: %.0f records/s\n",
			what, n, b.requests, float64(b.requests)/float64(n), b.throttled, o.concurrency, b.wall.Round(time.Millisecond), rps)
		return rps
	}
	switch p {
	case onePlatform:
		bodies, err := prepayloads(ctx, erpPath, n)
		if err != nil {
			return err
		}
		b, err := start("server-baseline", func(url string) (baselineRun, error) {
			return postLoop(ctx, url, key, bodies.create, o.concurrency, up)
		})
		if err != nil {
			return err
		}
		res.BaselinePostRPS = round1(report("POST only", b))
		b, err = start("server-baseline-same", func(url string) (baselineRun, error) {
			return oneSameLoop(ctx, url, key, bodies, o.concurrency, up)
		})
		if err != nil {
			return err
		}
		res.BaselineSameRPS = round1(report("same requests: create + finance data", b))
		res.BaselineSameRequestsPerRecord = round2(float64(b.requests) / float64(n))
	case customerAPIPlatform:
		bodies, err := capiPayloads(ctx, erpPath, n)
		if err != nil {
			return err
		}
		b, err := start("server-baseline-same", func(url string) (baselineRun, error) {
			return capiSameLoop(ctx, url, key, bodies, o.concurrency, up)
		})
		if err != nil {
			return err
		}
		res.BaselineSameRPS = round1(report("same requests: organisation + farm business unit", b))
		res.BaselineSameRequestsPerRecord = round2(float64(b.requests) / float64(n))
	}
	return nil
}

// verifyMigration checks what the server and the ERP hold after a
// migration of n records into res: ONe one client per record with
// distinct external ids; the Customer API one organisation per record
// (by name and company number, the one written back) with a farm business
// unit for each farm; every ERP row bound to a distinct id.
func verifyMigration(ctx context.Context, p *chaosPlatform, srv *serverProc, key, erpPath string, n int, res *MigrateResult, out io.Writer) error {
	rows, bound, distinct, err := erpBindings(ctx, erpPath, p.idColumn)
	if err != nil {
		return err
	}
	res.BoundRows = bound
	switch p {
	case onePlatform:
		if res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, srv.url, key); err != nil {
			return err
		}
	case customerAPIPlatform:
		e := &soakEnv{p: p, srv: srv, key: key, erpPath: erpPath, valid: map[string]bool{}, out: out}
		ids, err := erpPlatformIDs(ctx, erpPath, p.idColumn)
		if err != nil {
			return err
		}
		for k := range ids {
			e.valid[k] = true
		}
		var cr ChaosResult
		if err := verifyOrganisations(ctx, e, ids, &cr); err != nil {
			return err
		}
		if len(cr.Violations) > 0 {
			return fmt.Errorf("verify: %w: %s", errCheck, strings.Join(cr.Violations, "; "))
		}
		res.Clients, res.DistinctExternalIDs, res.FarmUnits = cr.Clients, cr.DistinctExternalIDs, cr.FarmUnits
	}
	fmt.Fprintf(out, "verify: server holds %d %s with %d distinct %s; ERP rows %d, bound %d (%d distinct ids)\n",
		res.Clients, p.records, res.DistinctExternalIDs, p.identities, rows, bound, distinct)
	if res.Clients != n || res.DistinctExternalIDs != n || rows != n || bound != n || distinct != n {
		return fmt.Errorf("verify: %w: want %d %s with distinct %s, %d ERP rows all bound to distinct ids",
			errCheck, n, p.records, p.identities, n)
	}
	return nil
}

// runNoop is `erpbench noop`: a migration, then a second connector run
// with nothing changed.
func runNoop(ctx context.Context, o benchOptions, out io.Writer) (NoopResult, error) {
	dir, cleanup, err := workDir(o)
	if err != nil {
		return NoopResult{}, err
	}
	defer cleanup()
	first, m, err := migrate(ctx, o, dir, false, out)
	if err != nil {
		return NoopResult{}, err
	}
	defer m.server.stop()
	res := NoopResult{Platform: o.plat().name, Records: o.records, FirstRunRPS: first.ConnectorRPS}
	// The second sync and the resyncs meet the upstream the options
	// describe (the migration before them did not); the checks of the
	// server's records read it at full speed.
	cfg := m.cfg
	res.UpstreamFigures = o.upstream.figures()
	if o.upstream.on() {
		if err := throttle(ctx, m.server.url, o.upstream); err != nil {
			return res, err
		}
		if cfg, err = benchConfig(o, dir, "connector-timed.yaml", m.server.url, m.key, m.erp, m.state, o.upstream.rate); err != nil {
			return res, err
		}
	}
	before, err := counters(ctx, m.server.url)
	if err != nil {
		return res, err
	}
	run, err := runConnectorChild(ctx, o, dir, cfg, "noop")
	if err != nil {
		return res, err
	}
	after, err := counters(ctx, m.server.url)
	if err != nil {
		return res, err
	}
	res.Writes = writesBetween(before, after)
	f := runFigures(run, o.records, before, after, upstreamOptions{})
	res.RequestsByOperation = f.RequestsByOperation
	fmt.Fprintf(out, "noop: second sync: %s\n", f.describe())
	res.Seconds = round2(run.wall.Seconds())
	res.PeakRSSMiB = round2(run.rssMiB)
	res.PeakAnonMiB = round2(run.anonMiB)
	res.ConnectorCPUS = round2(run.cpuS)
	if o.plat() == onePlatform {
		if err := unthrottle(ctx, m.server.url, o.upstream); err != nil {
			return res, err
		}
		res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, m.server.url, m.key)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(out, "noop: server holds %d clients (%d distinct external ids)\n", res.Clients, res.DistinctExternalIDs)
		if res.Clients != o.records || res.DistinctExternalIDs != o.records {
			return res, fmt.Errorf("noop: %w: want %d clients", errCheck, o.records)
		}
		if err := throttle(ctx, m.server.url, o.upstream); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(out, "noop: second sync of %d unchanged records in %.2f s, %d writes, peak RSS %.1f MiB, CPU %.2f s\n",
		o.records, res.Seconds, res.Writes, res.PeakRSSMiB, res.ConnectorCPUS)
	if res.Writes != 0 {
		return res, fmt.Errorf("noop: %w: want 0 writes", errCheck)
	}

	// Full resyncs: every ERP record and every ONe client read and compared.
	for i, tag := range []string{"resync", "steady-resync"} {
		before, err = counters(ctx, m.server.url)
		if err != nil {
			return res, err
		}
		full, err := runConnectorChild(ctx, o, dir, cfg, tag, "--resync")
		if err != nil {
			return res, err
		}
		after, err = counters(ctx, m.server.url)
		if err != nil {
			return res, err
		}
		writes := writesBetween(before, after)
		secs, jobs := round2(full.report.ResyncSeconds), full.report.ResyncQueued
		f := runFigures(full, o.records, before, after, upstreamOptions{})
		fmt.Fprintf(out, "noop: %s: %s\n", tag, f.describe())
		cpu := round2(full.report.ResyncCPUSeconds)
		if i == 0 {
			res.ResyncSeconds, res.ResyncJobs, res.ResyncWrites, res.ResyncCPUS = secs, jobs, writes, cpu
			res.ResyncRequestsByOperation = f.RequestsByOperation
		} else {
			res.SteadyResyncSeconds, res.SteadyResyncJobs, res.SteadyResyncWrites, res.SteadyResyncCPUS = secs, jobs, writes, cpu
			res.SteadyResyncRequestsByOperation = f.RequestsByOperation
		}
		fmt.Fprintf(out, "noop: %s of %d unchanged records in %.2f s, %d checks queued, %d writes, peak RSS %.1f MiB\n",
			tag, o.records, secs, jobs, writes, full.rssMiB)
		if writes != 0 {
			return res, fmt.Errorf("noop: %s: %w: want 0 writes", tag, errCheck)
		}
	}
	return res, nil
}

// runFeed is `erpbench feed`: N storefront registrations, then the raw
// feed + GET loop against one server and the connector's ONe → ERP
// catch-up against another.
func runFeed(ctx context.Context, o benchOptions, out io.Writer) (FeedResult, error) {
	n := o.records
	res := FeedResult{Records: n, UpstreamFigures: o.upstream.figures()}
	dir, cleanup, err := workDir(o)
	if err != nil {
		return res, err
	}
	defer cleanup()
	key, err := newAPIKey()
	if err != nil {
		return res, err
	}
	bodies, err := storefrontBodies(n, o.seed)
	if err != nil {
		return res, err
	}

	srv, err := startServer(ctx, o, dir, "server-baseline", key)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	err = register(ctx, srv.url, bodies, o.concurrency)
	if err == nil {
		err = throttle(ctx, srv.url, o.upstream)
	}
	if err != nil {
		srv.stop()
		return res, err
	}
	fmt.Fprintf(out, "storefront: %d registrations in %s\n", n, time.Since(t0).Round(time.Millisecond))
	b, got, err := feedLoop(ctx, srv.url, key, o.concurrency, o.upstream)
	srv.stop()
	if err != nil {
		return res, err
	}
	if got != n {
		return res, fmt.Errorf("feed: baseline: %w: read %d clients from the feed, want %d", errCheck, got, n)
	}
	baselineRPS := float64(n) / b.wall.Seconds()
	res.BaselineFeedGetRPS = round1(baselineRPS)
	fmt.Fprintf(out, "baseline: feed pages + %d GETs, %d requests (%d answered 429), concurrency %d, %s: %.0f records/s\n",
		n, b.requests, b.throttled, o.concurrency, b.wall.Round(time.Millisecond), baselineRPS)

	srv, err = startServer(ctx, o, dir, "server-connector", key)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	if err := register(ctx, srv.url, bodies, o.concurrency); err != nil {
		return res, err
	}
	if err := throttle(ctx, srv.url, o.upstream); err != nil {
		return res, err
	}
	erpPath := filepath.Join(dir, "erp.db")
	if err := seedERP(ctx, erpPath, 0, onePlatform, o.seed, o.indexIDs); err != nil {
		return res, err
	}
	cfg, err := benchConfig(o, dir, "connector.yaml", srv.url, key, erpPath, filepath.Join(dir, "state.db"), o.upstream.rate)
	if err != nil {
		return res, err
	}
	figs, run, err := timedRun(ctx, o, dir, cfg, "feed", srv, n)
	if err != nil {
		return res, err
	}
	res.RunFigures = figs
	res.RatioFeedGet = round2(figs.ConnectorRPS / baselineRPS)
	fmt.Fprintf(out, "connector: %d events, workers %d, %s: %.0f records/s, peak RSS %.1f MiB (anonymous %.1f MiB), CPU %.2f s\n",
		n, o.concurrency, run.wall.Round(time.Millisecond), res.ConnectorRPS, res.PeakRSSMiB, res.PeakAnonMiB, res.ConnectorCPUS)
	fmt.Fprintf(out, "connector: %s\n", figs.describe())
	rows, bound, distinct, err := erpBindings(ctx, erpPath, erpgen.ONeIDColumn)
	if err != nil {
		return res, err
	}
	res.Clients, res.DistinctExternalIDs = rows, distinct
	fmt.Fprintf(out, "verify: ERP holds %d customers, %d bound to %d distinct ONe ids; dead letters %d, queue %d\n",
		rows, bound, distinct, run.report.Queue.Dead, run.report.Queue.Total())
	fmt.Fprintf(out, "ratio connector/baseline (feed + GET): %.2f\n", res.RatioFeedGet)
	if rows != n || bound != n || distinct != n || run.report.Queue.Dead != 0 || run.report.Queue.Total() != 0 {
		return res, fmt.Errorf("feed: %w: want %d ERP customers bound to %d distinct ONe ids, no dead letters, an empty queue", errCheck, n, n)
	}
	return res, nil
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// openERPDB opens the bench SQLite ERP with database/sql.
func openERPDB(path string) (*sql.DB, sqlerp.Dialect, error) {
	d, err := sqlerp.DialectFor("sqlite")
	if err != nil {
		return nil, d, err
	}
	db, err := sql.Open(d.Driver, sqlerp.SQLiteDSN(path))
	if err != nil {
		return nil, d, fmt.Errorf("erp: open: %w", err)
	}
	return db, d, nil
}

// genBatch is how many generated records are held at once.
const genBatch = 10000

// genRecords generates n valid customers for platform p (its generator
// options, flagged for p only) and hands them to fn in batches: the same
// rows as generated at once, without holding them all.
func genRecords(p *chaosPlatform, n int, seed uint64, fn func([]erpgen.Record) error) error {
	gen := p.gen
	gen.Seed, gen.InvalidEvery = seed, 0
	g := erpgen.New(gen)
	for done := 0; done < n; {
		recs := g.Records(min(genBatch, n-done))
		for i := range recs {
			p.flag(&recs[i])
		}
		if err := fn(recs); err != nil {
			return err
		}
		done += len(recs)
	}
	return nil
}

// seedERP creates a fresh SQLite ERP with the demo layout holding n
// generated, valid customers flagged for platform p only, changed a minute
// ago (well before the connector's first read).
func seedERP(ctx context.Context, path string, n int, p *chaosPlatform, seed uint64, indexIDs bool) error {
	_ = os.Remove(path)
	db, d, err := openERPDB(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := sqlerp.CreateDemoSchema(ctx, db, d, erpTable); err != nil {
		return fmt.Errorf("erp: %w", err)
	}
	if indexIDs {
		for _, col := range []string{erpgen.ONeIDColumn, erpgen.CustomerAPIColumn} {
			q := fmt.Sprintf(`CREATE INDEX %q ON %q (%q)`, erpTable+"_"+col, erpTable, col)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("erp: index %s: %w", col, err)
			}
		}
	}
	at := time.Now().Add(-time.Minute)
	return genRecords(p, n, seed, func(recs []erpgen.Record) error {
		if err := sqlerp.InsertDemoRecords(ctx, db, d, erpTable, recs, at); err != nil {
			return fmt.Errorf("erp: %w", err)
		}
		return nil
	})
}

// storefrontBodies are n generated customers as storefront registrations
// (no client external id: the storefront does not know the ERP).
func storefrontBodies(n int, seed uint64) ([][]byte, error) {
	rules, err := mapping.CompileRules(erpgen.Rules())
	if err != nil {
		return nil, fmt.Errorf("storefront: %w", err)
	}
	cols := rules.Columns()
	vals := make([]string, len(cols))
	bodies := make([][]byte, 0, n)
	for _, r := range erpgen.New(erpgen.Options{Seed: seed, KeyPrefix: "web-"}).Records(n) {
		for i, c := range cols {
			vals[i] = r.Value(c)
		}
		c, ferrs := rules.Apply(vals)
		if len(ferrs) > 0 {
			return nil, fmt.Errorf("storefront: record %s: %v", r.Key, ferrs)
		}
		c.ERPKey = r.Key // gives the address its external id
		w := mapping.ToONeWrite(c)
		w.ExternalID = ""
		b, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("storefront: encode: %w", err)
		}
		bodies = append(bodies, b)
	}
	return bodies, nil
}

// newHTTPClient is a keep-alive client for c concurrent requests.
func newHTTPClient(c int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c
	tr.MaxIdleConns = c
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// parallel runs fn(i) for i in [0, n) on c goroutines and returns the first error.
func parallel(ctx context.Context, n, c int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// send does one request and fails on any status but want.
func send(ctx context.Context, hc *http.Client, method, url, key string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if key != "" {
		req.Header.Set("one-tenant", benchTenant)
		req.Header.Set("ApiAuth", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d: %s", method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// register creates the bodies as storefront registrations through the
// server's control surface.
func register(ctx context.Context, base string, bodies [][]byte, c int) error {
	hc := newHTTPClient(c)
	defer hc.CloseIdleConnections()
	url := base + oneapitest.ControlPrefix + "/tenants/" + benchTenant + "/clients?context=APPLICATION"
	err := parallel(ctx, len(bodies), c, func(ctx context.Context, i int) error {
		return send(ctx, hc, http.MethodPost, url, "", bodies[i], http.StatusOK, nil)
	})
	if err != nil {
		return fmt.Errorf("storefront: %w", err)
	}
	return nil
}

// feedLoop is the feed baseline: drain the feed page by page, then GET
// every distinct client with c goroutines. It returns how many clients it read.
func feedLoop(ctx context.Context, base, key string, c int, u upstreamOptions) (baselineRun, int, error) {
	l := newRawLoop(c, u, oneAuth(key))
	defer l.close()
	api := base + oneapitest.BasePath
	start := time.Now()
	seen := map[string]bool{}
	var ids []string
	cursor := int64(1)
	for {
		var f oneapi.SyncFeed
		if err := l.do(ctx, http.MethodGet, api+"/clients/synchronization?startId="+strconv.FormatInt(cursor, 10), nil, http.StatusOK, &f); err != nil {
			return baselineRun{}, 0, fmt.Errorf("baseline: feed: %w", err)
		}
		for _, e := range f.Events {
			if !seen[e.ClientID] {
				seen[e.ClientID] = true
				ids = append(ids, e.ClientID)
			}
		}
		if len(f.Events) < oneapitest.MaxFeedPage || f.NextID <= cursor {
			break
		}
		cursor = f.NextID
	}
	err := parallel(ctx, len(ids), c, func(ctx context.Context, i int) error {
		return l.do(ctx, http.MethodGet, api+"/clients/"+oneapi.EscapeID(ids[i]), nil, http.StatusOK, nil)
	})
	if err != nil {
		return baselineRun{}, 0, fmt.Errorf("baseline: get client: %w", err)
	}
	return baselineRun{wall: time.Since(start), requests: l.requests.Load(), throttled: l.throttled.Load()}, len(ids), nil
}

// serverClients lists every client through the ONe API and counts the
// distinct external ids.
func serverClients(ctx context.Context, base, key string) (clients, distinct int, err error) {
	api, err := oneapi.New(oneapi.Config{BaseURL: base, Tenant: benchTenant, APIKey: key, Timeout: time.Minute})
	if err != nil {
		return 0, 0, fmt.Errorf("verify: %w", err)
	}
	defer api.CloseIdleConnections()
	ext := map[string]bool{}
	for c, err := range api.AllClients(ctx, oneapitest.MaxPageSize) {
		if err != nil {
			return 0, 0, fmt.Errorf("verify: list clients: %w", err)
		}
		clients++
		if c.ExternalID != "" {
			ext[c.ExternalID] = true
		}
	}
	return clients, len(ext), nil
}

// erpBindings counts the ERP's customers, those with a platform id written
// back to column, and the distinct ids.
func erpBindings(ctx context.Context, path, column string) (rows, bound, distinct int, err error) {
	db, _, err := openERPDB(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT COUNT(*), COUNT(NULLIF(%[1]q, '')), COUNT(DISTINCT NULLIF(%[1]q, '')) FROM %[2]q`, column, erpTable)
	if err := db.QueryRowContext(ctx, q).Scan(&rows, &bound, &distinct); err != nil {
		return 0, 0, 0, fmt.Errorf("verify: erp: %w", err)
	}
	return rows, bound, distinct, nil
}

// counters reads the server's request counters.
func counters(ctx context.Context, base string) (map[string]fault.OpCount, error) {
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	var out map[string]fault.OpCount
	if err := send(ctx, hc, http.MethodGet, base+oneapitest.ControlPrefix+"/counters", "", nil, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	return out, nil
}

// writeConfig writes the connector child's configuration: the ERP, the
// ONe server, the schedules off but the daily certificates' (the child runs
// one pass), no Customer API,
// no reference servers.
//
// txlock sets the DSN's _txlock: with the driver's deferred transactions,
// concurrent ERP upserts (a read, then a write) fail with SQLITE_BUSY_SNAPSHOT
// ("database is locked (517)"), which no busy timeout resolves.
func writeConfig(dir, name, oneURL, key, erpPath, statePath string, workers int, txlock string) (string, error) {
	return writeConfigWith(dir, name, oneURL, key, erpPath, statePath, workers, txlock, nil)
}

// benchConfig writes the connector child's configuration for o's platform
// (writeConfigWith's, with the platform's own section in place of ONe's for
// the Customer API); rate > 0 sets the platform's upstream rate, extra
// (may be nil) makes a last change.
func benchConfig(o benchOptions, dir, name, url, key, erpPath, statePath string, rate float64, extra ...func(doc map[string]any)) (string, error) {
	p := o.plat()
	return writeConfigWith(dir, name, url, key, erpPath, statePath, o.concurrency, o.txlock, func(doc map[string]any) {
		if p != onePlatform {
			p.configure(doc, url, key, o.concurrency)
		}
		if rate > 0 {
			doc[p.section].(map[string]any)["upstream"].(map[string]any)["rate"] = rate
		}
		if o.configExtra != nil {
			o.configExtra(doc)
		}
		for _, f := range extra {
			f(doc)
		}
	})
}

// writeConfigWith is writeConfig with a last change to the document
// (extra may be nil).
func writeConfigWith(dir, name, oneURL, key, erpPath, statePath string, workers int, txlock string, extra func(doc map[string]any)) (string, error) {
	dsn := erpPath
	if txlock != "" {
		dsn += "?_txlock=" + txlock
	}
	cfg := sqlerp.DemoConfig("sqlite", dsn, erpTable)
	doc := map[string]any{
		"state_path": statePath,
		"log_level":  "warn",
		"log_format": "text",
		"reference":  map[string]any{"enabled": false},
		"one": map[string]any{
			"base_url": oneURL,
			"tenant":   benchTenant,
			"api_key":  key,
			"upstream": map[string]any{"workers": workers},
		},
		"erp": map[string]any{
			"adapter": "sql",
			"sql": map[string]any{
				"driver":         cfg.Driver,
				"dsn":            cfg.DSN,
				"table":          cfg.Table,
				"key_column":     cfg.KeyColumn,
				"cursor_column":  cfg.CursorColumn,
				"cursor_kind":    cfg.CursorKind,
				"deleted_column": cfg.DeletedColumn,
				"flags":          platformColumns(cfg.Flags),
				"write_back":     platformColumns(cfg.WriteBack),
				"rules":          cfg.Rules,
			},
		},
		// Every schedule off but the certificates', on its default: a pass
		// looks a farm's certificates up only when the daily refresh is due
		// or the farm changed, as in production (off, every pass would).
		"schedules": map[string]any{
			"new_customers": "", "updates": "", "feed": "", "customer_pull": "", "resync": "",
			"certificates": connector.DefaultCertificates,
		},
	}
	if extra != nil {
		extra(doc)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return p, nil
}

func platformColumns(cs []sqlerp.PlatformColumn) []map[string]string {
	out := make([]map[string]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]string{"platform": string(c.Platform), "column": c.Column})
	}
	return out
}
