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
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

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
	Records             int     `json:"records"`
	BaselineRPS         float64 `json:"baseline_rps"`
	ConnectorRPS        float64 `json:"connector_rps"`
	Ratio               float64 `json:"ratio"`
	PeakRSSMiB          float64 `json:"peak_rss_mib"`
	PeakAnonMiB         float64 `json:"peak_anon_mib"`
	ConnectorCPUS       float64 `json:"connector_cpu_s"`
	Clients             int     `json:"clients"`
	DistinctExternalIDs int     `json:"distinct_external_ids"`
}

// FeedResult is the JSON line of `erpbench feed`: clients are the ERP
// customers created, distinct_external_ids the distinct ONe ids among them.
type FeedResult = MigrateResult

// NoopResult is the JSON line of `erpbench noop`: the figures of the second
// run (nothing changed), writes counted by the server during it.
type NoopResult struct {
	Records             int     `json:"records"`
	Seconds             float64 `json:"seconds"`
	Writes              int64   `json:"writes"`
	PeakRSSMiB          float64 `json:"peak_rss_mib"`
	PeakAnonMiB         float64 `json:"peak_anon_mib"`
	ConnectorCPUS       float64 `json:"connector_cpu_s"`
	Clients             int     `json:"clients"`
	DistinctExternalIDs int     `json:"distinct_external_ids"`
	FirstRunRPS         float64 `json:"first_run_rps"`
	// ResyncSeconds is a third run, a full resync (every ERP record and
	// every ONe client read and compared) with nothing changed;
	// ResyncWrites the server's writes during it (must be 0), ResyncJobs
	// the checks it queued (a client the connector has never read back is
	// fetched and compared once).
	ResyncSeconds float64 `json:"resync_seconds"`
	ResyncWrites  int64   `json:"resync_writes"`
	ResyncJobs    int     `json:"resync_jobs"`
	// SteadyResync* are a second full resync: every client has been read
	// back once, so only the listings and the ERP are read and compared.
	SteadyResyncSeconds float64 `json:"steady_resync_seconds"`
	SteadyResyncWrites  int64   `json:"steady_resync_writes"`
	SteadyResyncJobs    int     `json:"steady_resync_jobs"`
}

// writeOps are the server operations that change a client.
var writeOps = []string{"createClient", "updateClient", "deleteClient", "updateClientAdditionalData",
	"updateClientAdvancedData", "updateClientBasicData", "updateClientFinanceData"}

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

// migrated is what a migration leaves for a following step (noop).
type migrated struct {
	server *serverProc
	cfg    string
	key    string
	erp    string
}

// migrate runs the baseline (when baseline is set) and the connector
// migration. On success the connector's server is left running in m.
func migrate(ctx context.Context, o benchOptions, dir string, baseline bool, out io.Writer) (res MigrateResult, m *migrated, err error) {
	n := o.records
	res.Records = n
	key, err := newAPIKey()
	if err != nil {
		return res, nil, err
	}
	erpPath := filepath.Join(dir, "erp.db")
	t0 := time.Now()
	if err := seedERP(ctx, erpPath, n, o.seed, o.indexIDs); err != nil {
		return res, nil, err
	}
	fmt.Fprintf(out, "ERP: %d flagged valid customers generated in %s\n", n, time.Since(t0).Round(time.Millisecond))

	if baseline {
		bodies, err := prepayloads(ctx, erpPath, n)
		if err != nil {
			return res, nil, err
		}
		srv, err := startServer(ctx, o, dir, "server-baseline", key)
		if err != nil {
			return res, nil, err
		}
		d, err := postLoop(ctx, srv.url, key, bodies, o.concurrency)
		srv.stop()
		if err != nil {
			return res, nil, err
		}
		res.BaselineRPS = float64(n) / d.Seconds()
		fmt.Fprintf(out, "baseline: %d POSTs, concurrency %d, %s: %.0f records/s\n", n, o.concurrency, d.Round(time.Millisecond), res.BaselineRPS)
	}

	srv, err := startServer(ctx, o, dir, "server-connector", key)
	if err != nil {
		return res, nil, err
	}
	defer func() {
		if err != nil {
			srv.stop()
		}
	}()
	cfg, err := writeConfig(dir, "connector.yaml", srv.url, key, erpPath, filepath.Join(dir, "state.db"), o.concurrency, o.txlock)
	if err != nil {
		return res, nil, err
	}
	run, err := runConnectorChild(ctx, o, dir, cfg, "migrate")
	if err != nil {
		return res, nil, err
	}
	res.ConnectorRPS = float64(n) / run.wall.Seconds()
	res.PeakRSSMiB = round2(run.rssMiB)
	res.PeakAnonMiB = round2(run.anonMiB)
	res.ConnectorCPUS = round2(run.cpuS)
	if res.BaselineRPS > 0 {
		res.Ratio = round2(res.ConnectorRPS / res.BaselineRPS)
	}
	res.BaselineRPS, res.ConnectorRPS = round1(res.BaselineRPS), round1(res.ConnectorRPS)
	fmt.Fprintf(out, "connector: %d records, workers %d, %s: %.0f records/s, peak RSS %.1f MiB (anonymous %.1f MiB), CPU %.2f s\n",
		n, o.concurrency, run.wall.Round(time.Millisecond), res.ConnectorRPS, res.PeakRSSMiB, res.PeakAnonMiB, res.ConnectorCPUS)

	res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, srv.url, key)
	if err != nil {
		return res, nil, err
	}
	rows, bound, _, err := erpBindings(ctx, erpPath)
	if err != nil {
		return res, nil, err
	}
	fmt.Fprintf(out, "verify: server holds %d clients with %d distinct external ids; ERP rows %d, bound %d; dead letters %d, queue %d\n",
		res.Clients, res.DistinctExternalIDs, rows, bound, run.report.Queue.Dead, run.report.Queue.Total())
	if res.Ratio > 0 {
		fmt.Fprintf(out, "ratio connector/baseline: %.2f\n", res.Ratio)
	}
	if res.Clients != n || res.DistinctExternalIDs != n || rows != n || bound != n || run.report.Queue.Dead != 0 || run.report.Queue.Total() != 0 {
		return res, nil, fmt.Errorf("migrate: %w: want %d clients, %d distinct external ids, %d ERP rows all bound, no dead letters, an empty queue",
			errCheck, n, n, n)
	}
	return res, &migrated{server: srv, cfg: cfg, key: key, erp: erpPath}, nil
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
	res := NoopResult{Records: o.records, FirstRunRPS: first.ConnectorRPS}
	before, err := counters(ctx, m.server.url)
	if err != nil {
		return res, err
	}
	run, err := runConnectorChild(ctx, o, dir, m.cfg, "noop")
	if err != nil {
		return res, err
	}
	after, err := counters(ctx, m.server.url)
	if err != nil {
		return res, err
	}
	for _, op := range writeOps {
		res.Writes += after[op].Total - before[op].Total
	}
	res.Seconds = round2(run.wall.Seconds())
	res.PeakRSSMiB = round2(run.rssMiB)
	res.PeakAnonMiB = round2(run.anonMiB)
	res.ConnectorCPUS = round2(run.cpuS)
	res.Clients, res.DistinctExternalIDs, err = serverClients(ctx, m.server.url, m.key)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "noop: second sync of %d unchanged records in %.2f s, %d writes, peak RSS %.1f MiB, CPU %.2f s; server holds %d clients (%d distinct external ids)\n",
		o.records, res.Seconds, res.Writes, res.PeakRSSMiB, res.ConnectorCPUS, res.Clients, res.DistinctExternalIDs)
	if res.Writes != 0 || res.Clients != o.records || res.DistinctExternalIDs != o.records {
		return res, fmt.Errorf("noop: %w: want 0 writes and %d clients", errCheck, o.records)
	}

	// Full resyncs: every ERP record and every ONe client read and compared.
	for i, tag := range []string{"resync", "steady-resync"} {
		before, err = counters(ctx, m.server.url)
		if err != nil {
			return res, err
		}
		full, err := runConnectorChild(ctx, o, dir, m.cfg, tag, "--resync")
		if err != nil {
			return res, err
		}
		after, err = counters(ctx, m.server.url)
		if err != nil {
			return res, err
		}
		var writes int64
		for _, op := range writeOps {
			writes += after[op].Total - before[op].Total
		}
		secs, jobs := round2(full.report.ResyncSeconds), full.report.ResyncQueued
		if i == 0 {
			res.ResyncSeconds, res.ResyncJobs, res.ResyncWrites = secs, jobs, writes
		} else {
			res.SteadyResyncSeconds, res.SteadyResyncJobs, res.SteadyResyncWrites = secs, jobs, writes
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
	res := FeedResult{Records: n}
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
	if err != nil {
		srv.stop()
		return res, err
	}
	fmt.Fprintf(out, "storefront: %d registrations in %s\n", n, time.Since(t0).Round(time.Millisecond))
	d, got, err := feedLoop(ctx, srv.url, key, o.concurrency)
	srv.stop()
	if err != nil {
		return res, err
	}
	if got != n {
		return res, fmt.Errorf("feed: baseline: %w: read %d clients from the feed, want %d", errCheck, got, n)
	}
	res.BaselineRPS = float64(n) / d.Seconds()
	fmt.Fprintf(out, "baseline: feed pages + %d GETs, concurrency %d, %s: %.0f records/s\n", n, o.concurrency, d.Round(time.Millisecond), res.BaselineRPS)

	srv, err = startServer(ctx, o, dir, "server-connector", key)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	if err := register(ctx, srv.url, bodies, o.concurrency); err != nil {
		return res, err
	}
	erpPath := filepath.Join(dir, "erp.db")
	if err := seedERP(ctx, erpPath, 0, o.seed, o.indexIDs); err != nil {
		return res, err
	}
	cfg, err := writeConfig(dir, "connector.yaml", srv.url, key, erpPath, filepath.Join(dir, "state.db"), o.concurrency, o.txlock)
	if err != nil {
		return res, err
	}
	run, err := runConnectorChild(ctx, o, dir, cfg, "feed")
	if err != nil {
		return res, err
	}
	res.ConnectorRPS = float64(n) / run.wall.Seconds()
	res.Ratio = round2(res.ConnectorRPS / res.BaselineRPS)
	res.BaselineRPS, res.ConnectorRPS = round1(res.BaselineRPS), round1(res.ConnectorRPS)
	res.PeakRSSMiB = round2(run.rssMiB)
	res.PeakAnonMiB = round2(run.anonMiB)
	res.ConnectorCPUS = round2(run.cpuS)
	fmt.Fprintf(out, "connector: %d events, workers %d, %s: %.0f records/s, peak RSS %.1f MiB (anonymous %.1f MiB), CPU %.2f s\n",
		n, o.concurrency, run.wall.Round(time.Millisecond), res.ConnectorRPS, res.PeakRSSMiB, res.PeakAnonMiB, res.ConnectorCPUS)
	rows, bound, distinct, err := erpBindings(ctx, erpPath)
	if err != nil {
		return res, err
	}
	res.Clients, res.DistinctExternalIDs = rows, distinct
	fmt.Fprintf(out, "verify: ERP holds %d customers, %d bound to %d distinct ONe ids; dead letters %d, queue %d\n",
		rows, bound, distinct, run.report.Queue.Dead, run.report.Queue.Total())
	fmt.Fprintf(out, "ratio connector/baseline: %.2f\n", res.Ratio)
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

// seedERP creates a fresh SQLite ERP with the demo layout holding n
// generated, valid customers flagged for ONe only.
func seedERP(ctx context.Context, path string, n int, seed uint64, indexIDs bool) error {
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
	if n == 0 {
		return nil
	}
	recs := erpgen.New(erpgen.Options{Seed: seed}).Records(n)
	for i := range recs {
		recs[i].SyncONe, recs[i].SyncCustomerAPI = true, false
	}
	// A minute in the past: well before the connector's first read.
	if err := sqlerp.InsertDemoRecords(ctx, db, d, erpTable, recs, time.Now().Add(-time.Minute)); err != nil {
		return fmt.Errorf("erp: %w", err)
	}
	return nil
}

// prepayloads reads the ERP through sqlerp and maps every customer to its
// ONe create body, ready to send.
func prepayloads(ctx context.Context, path string, n int) ([][]byte, error) {
	t, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", path, erpTable), nil)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer t.Close()
	bodies := make([][]byte, 0, n)
	cursor := ""
	for {
		page, err := t.Changes(ctx, cursor, 1000)
		if err != nil {
			return nil, fmt.Errorf("baseline: read erp: %w", err)
		}
		for _, it := range page.Items {
			if it.Err != nil {
				return nil, fmt.Errorf("baseline: erp row %q: %w", it.Key, it.Err)
			}
			b, err := json.Marshal(mapping.ToONeWrite(it.Customer))
			if err != nil {
				return nil, fmt.Errorf("baseline: encode %q: %w", it.Key, err)
			}
			bodies = append(bodies, b)
		}
		cursor = page.Cursor
		if !page.More || len(page.Items) == 0 {
			break
		}
	}
	if len(bodies) != n {
		return nil, fmt.Errorf("baseline: %w: read %d customers from the ERP, want %d", errCheck, len(bodies), n)
	}
	return bodies, nil
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

// postLoop is the migration baseline: c goroutines POSTing the bodies over
// keep-alive connections.
func postLoop(ctx context.Context, base, key string, bodies [][]byte, c int) (time.Duration, error) {
	hc := newHTTPClient(c)
	defer hc.CloseIdleConnections()
	url := base + oneapitest.BasePath + "/clients"
	start := time.Now()
	err := parallel(ctx, len(bodies), c, func(ctx context.Context, i int) error {
		return send(ctx, hc, http.MethodPost, url, key, bodies[i], http.StatusOK, nil)
	})
	if err != nil {
		return 0, fmt.Errorf("baseline: %w", err)
	}
	return time.Since(start), nil
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
func feedLoop(ctx context.Context, base, key string, c int) (time.Duration, int, error) {
	hc := newHTTPClient(c)
	defer hc.CloseIdleConnections()
	api := base + oneapitest.BasePath
	start := time.Now()
	seen := map[string]bool{}
	var ids []string
	cursor := int64(1)
	for {
		var f oneapi.SyncFeed
		if err := send(ctx, hc, http.MethodGet, api+"/clients/synchronization?startId="+strconv.FormatInt(cursor, 10), key, nil, http.StatusOK, &f); err != nil {
			return 0, 0, fmt.Errorf("baseline: feed: %w", err)
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
		return send(ctx, hc, http.MethodGet, api+"/clients/"+oneapi.EscapeID(ids[i]), key, nil, http.StatusOK, nil)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("baseline: get client: %w", err)
	}
	return time.Since(start), len(ids), nil
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

// erpBindings counts the ERP's customers, those with an ONe id written
// back, and the distinct ONe ids.
func erpBindings(ctx context.Context, path string) (rows, bound, distinct int, err error) {
	db, _, err := openERPDB(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT COUNT(*), COUNT(NULLIF(%[1]q, '')), COUNT(DISTINCT NULLIF(%[1]q, '')) FROM %[2]q`, erpgen.ONeIDColumn, erpTable)
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
// ONe server, all schedules off (the child runs one pass), no Customer API,
// no reference servers.
//
// txlock sets the DSN's _txlock: with the driver's deferred transactions,
// concurrent ERP upserts (a read, then a write) fail with SQLITE_BUSY_SNAPSHOT
// ("database is locked (517)"), which no busy timeout resolves.
func writeConfig(dir, name, oneURL, key, erpPath, statePath string, workers int, txlock string) (string, error) {
	return writeConfigWith(dir, name, oneURL, key, erpPath, statePath, workers, txlock, nil)
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
		"schedules": map[string]any{
			"new_customers": "", "updates": "", "feed": "", "customer_pull": "", "certificates": "", "resync": "",
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
