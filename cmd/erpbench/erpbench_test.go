package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestMain lets the test binary stand in for erpbench: started with
// childEnv set, it runs the command line it was given (serve-one,
// connector) instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		exe, err := os.Executable()
		if err != nil {
			os.Exit(exitFailure)
		}
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, self{exe: exe}))
	}
	os.Exit(m.Run())
}

// testSelf re-executes the test binary as the children.
func testSelf(t *testing.T) self {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self{exe: exe, env: []string{childEnv + "=1"}}
}

// bench runs one bench command in-process and decodes its last stdout line.
func bench(t *testing.T, args []string, v any) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb, testSelf(t)); code != exitOK {
		t.Fatalf("erpbench %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	dec := json.NewDecoder(strings.NewReader(last))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("last line is not the result JSON: %v\n%s", err, out.String())
	}
	return out.String()
}

const testN = 300

// rawLine decodes the last output line into a map, to check the names.
func rawLine(t *testing.T, out string) map[string]any {
	t.Helper()
	var raw map[string]any
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// hasKeys checks that the JSON line carries every name.
func hasKeys(t *testing.T, raw map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON line lacks %q: %v", k, raw)
		}
	}
}

// checkRun checks the figures every timed run reports.
func checkRun(t *testing.T, f RunFigures, records int) {
	t.Helper()
	if f.Seconds <= 0 || f.ConnectorRPS <= 0 || f.PeakRSSMiB <= 0 || f.PeakAnonMiB <= 0 || f.PeakAnonMiB > f.PeakRSSMiB || f.ConnectorCPUS <= 0 {
		t.Errorf("run figures not measured: %+v", f)
	}
	if f.PeakAnonGoMiB <= 0 || f.PeakAnonGoMiB > f.PeakRSSMiB {
		t.Errorf("peak_anon_go_mib %v: want the Go runtime's part, within the peak RSS %v", f.PeakAnonGoMiB, f.PeakRSSMiB)
	}
	// CPU per record is the child's CPU time over the records.
	if want := f.ConnectorCPUS * 1e6 / float64(records); f.ConnectorCPUUSPerRecord <= 0 || math.Abs(f.ConnectorCPUUSPerRecord-want) > 0.01*want+5000/float64(records) {
		t.Errorf("connector_cpu_us_per_record %v, want about %v", f.ConnectorCPUUSPerRecord, want)
	}
	if f.ServerCPUUSPerRecord < 0 {
		t.Errorf("server_cpu_us_per_record %v", f.ServerCPUUSPerRecord)
	}
	var sum int64
	for _, n := range f.RequestsByOperation {
		sum += n
	}
	if f.Requests <= 0 || sum != f.Requests || math.Abs(f.RequestsPerRecord-float64(f.Requests)/float64(records)) > 0.006 {
		t.Errorf("requests %d, by operation %v (sum %d), %.2f a record", f.Requests, f.RequestsByOperation, sum, f.RequestsPerRecord)
	}
	if f.Responses429 < 0 || f.Responses429 > f.Requests {
		t.Errorf("responses_429 %d of %d requests", f.Responses429, f.Requests)
	}
}

// runKeys are the names every timed run's JSON line carries.
var runKeys = []string{"seconds", "connector_rps", "peak_rss_mib", "peak_anon_mib", "peak_anon_go_mib", "connector_cpu_s", "connector_cpu_us_per_record", "server_cpu_us_per_record",
	"requests", "requests_per_record", "requests_by_operation", "responses_429"}

func TestMigrate(t *testing.T) {
	var res MigrateResult
	heap := filepath.Join(t.TempDir(), "heap.prof")
	out := bench(t, []string{"migrate", "--records", "300", "--concurrency", "4", "--seed", "7", "--memprofile", heap}, &res)
	// The heap profile of the connector child: a gzipped pprof profile.
	if b, err := os.ReadFile(heap); err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--memprofile: want a gzipped profile, got %d bytes, %v", len(b), err)
	}
	if res.Platform != platformONe || res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN || res.BoundRows != testN {
		t.Fatalf("want %d records, clients, distinct external ids and bound rows, got %+v", testN, res)
	}
	checkRun(t, res.RunFigures, testN)
	if res.BaselinePostRPS <= 0 || res.RatioPost <= 0 || res.BaselineSameRPS <= 0 || res.RatioSame <= 0 {
		t.Fatalf("every baseline must be measured, got %+v", res)
	}
	// The same-requests loop sends exactly the connector's create path:
	// a create per record, a finance PUT for those with finance data.
	ops := res.RequestsByOperation
	if ops["createClient"] != testN || ops["updateClientFinanceData"] == 0 || ops["updateClientFinanceData"] >= testN {
		t.Fatalf("requests by operation %v: want %d creates and finance data for some", ops, testN)
	}
	if want := float64(ops["createClient"]+ops["updateClientFinanceData"]) / testN; math.Abs(res.BaselineSameRequestsPerRecord-want) > 0.006 {
		t.Errorf("baseline sends %.2f requests a record, the connector's creates %.2f", res.BaselineSameRequestsPerRecord, want)
	}
	if res.RequestsPerRecord < 1 || res.Responses429 != 0 || res.RateUtilisation != 0 {
		t.Errorf("plain server: %+v", res.RunFigures)
	}
	if res.StateBytes <= 0 || res.StateBytesPerBinding <= 0 || math.Abs(res.StateBytesPerBinding-float64(res.StateBytes)/testN) > 0.1 {
		t.Errorf("state: %d bytes, %v a binding", res.StateBytes, res.StateBytesPerBinding)
	}
	for _, want := range []string{"baseline (POST only):", "baseline (same requests", "connector:", "verify:", "state file:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the %q line:\n%s", want, out)
		}
	}
	// The line carries exactly the documented names.
	raw := rawLine(t, out)
	hasKeys(t, raw, append([]string{"platform", "records", "baseline_post_rps", "ratio_post", "baseline_same_rps", "ratio_same",
		"baseline_same_requests_per_record", "clients", "distinct_external_ids", "bound_rows", "state_bytes", "state_bytes_per_binding", "outcomes"}, runKeys...)...)
	if res.Outcomes["erp_to_one"]["created"] != testN {
		t.Errorf("outcomes %v, want %d created", res.Outcomes, testN)
	}
	for _, k := range []string{"rate_utilisation", "latency_ms", "server_rate"} {
		if _, ok := raw[k]; ok {
			t.Errorf("plain run reports %q", k)
		}
	}
}

// TestMigrateCustomerAPI: every record becomes an organisation with its
// farm business unit, each bound, and the baseline sends the same creates.
func TestMigrateCustomerAPI(t *testing.T) {
	const n = 100
	var res MigrateResult
	out := bench(t, []string{"migrate", "--platform", "customerapi", "--records", "100", "--concurrency", "4", "--seed", "5"}, &res)
	if res.Platform != platformCustomerAPI || res.Records != n || res.Clients != n || res.DistinctExternalIDs != n || res.BoundRows != n || res.FarmUnits != n {
		t.Fatalf("want %d organisations, distinct, bound, each with a farm unit, got %+v", n, res)
	}
	checkRun(t, res.RunFigures, n)
	ops := res.RequestsByOperation
	if ops["createOrganisation"] != n || ops["createBusinessUnit"] != n {
		t.Fatalf("requests by operation %v: want %d organisations and farm units created", ops, n)
	}
	if res.BaselineSameRPS <= 0 || res.RatioSame <= 0 || res.BaselinePostRPS != 0 {
		t.Fatalf("baselines: %+v", res)
	}
	if want := float64(2*n+1) / n; math.Abs(res.BaselineSameRequestsPerRecord-want) > 0.006 {
		t.Errorf("baseline sends %.2f requests a record, want %.2f (a login, an organisation and a farm each)", res.BaselineSameRequestsPerRecord, want)
	}
	if res.RequestsPerRecord < 2 || res.StateBytesPerBinding <= 0 {
		t.Errorf("figures: %+v", res)
	}
	hasKeys(t, rawLine(t, out), append([]string{"platform", "baseline_same_rps", "ratio_same", "farm_units", "state_bytes_per_binding"}, runKeys...)...)
}

// TestMigrateRealisticUpstream: with a latency and a server rate, every
// request of the connector and of the baselines is throttled by the
// server, the connector's rate is the server's, and the utilisation and
// the 429s are reported.
func TestMigrateRealisticUpstream(t *testing.T) {
	t.Parallel() // it mostly waits for the server's rate
	const n = 150
	var res MigrateResult
	out := bench(t, []string{"migrate", "--records", "150", "--concurrency", "4", "--latency", "5ms", "--server-rate", "150"}, &res)
	if res.Clients != n || res.BoundRows != n {
		t.Fatalf("migration incomplete: %+v", res)
	}
	checkRun(t, res.RunFigures, n)
	if res.LatencyMS != 5 || res.ServerRate != 150 || res.ServerBurst != 150 || res.UpstreamRate != 150 {
		t.Fatalf("upstream settings: %+v", res.UpstreamFigures)
	}
	if res.RateUtilisation <= 0 || res.RateUtilisation > 1.2 {
		t.Fatalf("rate_utilisation %v, want within (0, 1.2]", res.RateUtilisation)
	}
	// The server accepts no more than its bucket (150) and 150/s over the
	// run (Seconds is rounded to 0.01 s).
	if accepted, most := float64(res.Requests-res.Responses429), 150+150*(res.Seconds+0.01); accepted > most {
		t.Fatalf("the server accepted %.0f requests in %.2f s, above its rate (%.0f)", accepted, res.Seconds, most)
	}
	// The connector spaces its requests evenly at the upstream rate (burst
	// 1 by default): a server allowing that rate never refuses one.
	if res.Responses429 != 0 {
		t.Errorf("the connector received %d answers 429 at the server's own rate", res.Responses429)
	}
	if res.RatioSame <= 0 || res.RatioPost <= 0 {
		t.Fatalf("baselines: %+v", res)
	}
	hasKeys(t, rawLine(t, out), "rate_utilisation", "responses_429", "latency_ms", "server_rate", "server_burst", "upstream_rate")
	if !strings.Contains(out, "rate utilisation") {
		t.Errorf("output lacks the utilisation:\n%s", out)
	}
}

// TestConnectorRateIsTheServers: the connector's configuration for a
// throttled run carries the server's rate (or --upstream-rate).
func TestConnectorRateIsTheServers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want float64
	}{
		{[]string{"--server-rate", "200"}, 200},
		{[]string{"--server-rate", "200", "--upstream-rate", "190"}, 190},
		{[]string{"--latency", "20ms"}, 0},
	} {
		o, err := parseBench("update", append([]string{"--platform", "customerapi"}, tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cfg, err := benchConfig(o, dir, "c.yaml", "http://127.0.0.1:1", "k", dir+"/erp.db", dir+"/state.db", o.upstream.rate)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			One         map[string]any `yaml:"one"`
			CustomerAPI struct {
				Upstream map[string]float64 `yaml:"upstream"`
			} `yaml:"customer_api"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.One != nil || doc.CustomerAPI.Upstream["rate"] != tc.want || doc.CustomerAPI.Upstream["workers"] != 8 {
			t.Errorf("%v: configuration %s", tc.args, b)
		}
	}
}

func TestFeed(t *testing.T) {
	var res FeedResult
	out := bench(t, []string{"feed", "--events", "300", "--concurrency", "4"}, &res)
	if res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN {
		t.Fatalf("want %d ERP customers bound to distinct ONe ids, got %+v", testN, res)
	}
	checkRun(t, res.RunFigures, testN)
	if res.BaselineFeedGetRPS <= 0 || res.RatioFeedGet <= 0 || res.RequestsByOperation["getClient"] < testN || res.RequestsPerRecord < 1 {
		t.Fatalf("every figure must be measured, got %+v", res)
	}
	// The server answered 600 requests for the 300 events: some CPU.
	if res.ServerCPUUSPerRecord <= 0 {
		t.Fatalf("server_cpu_us_per_record %v: the server's CPU in the run not measured", res.ServerCPUUSPerRecord)
	}
	hasKeys(t, rawLine(t, out), append([]string{"baseline_feed_get_rps", "ratio_feed_get"}, runKeys...)...)
}

// TestUpdate: a name and a credit limit changed in every ERP record reach
// ONe (a full PUT each, finance data where there is a credit limit), and
// the requests are counted by operation.
func TestUpdate(t *testing.T) {
	const n = 100
	var res UpdateResult
	out := bench(t, []string{"update", "--records", "100", "--concurrency", "4", "--changed-fields", "name,credit_limit"}, &res)
	if res.Platform != platformONe || res.Records != n || res.ChangedRecords != n || !slices.Equal(res.ChangedFields, []string{"name", "credit_limit"}) {
		t.Fatalf("sizes: %+v", res)
	}
	checkRun(t, res.RunFigures, n)
	ops := res.RequestsByOperation
	if ops["updateClient"] != n || ops["updateClientFinanceData"] == 0 || ops["createClient"] != 0 || res.RequestsPerRecord < 1 {
		t.Fatalf("requests by operation %v (%.2f a record)", ops, res.RequestsPerRecord)
	}
	if res.Outcomes["erp_to_one"]["updated"] != n || res.MigrateSeconds <= 0 {
		t.Fatalf("outcomes %v, migration %v s", res.Outcomes, res.MigrateSeconds)
	}
	if !strings.Contains(out, "verify: the platform holds the ERP's name, credit_limit") {
		t.Errorf("output lacks the verification:\n%s", out)
	}
	hasKeys(t, rawLine(t, out), append([]string{"platform", "changed_fields", "changed_records", "outcomes", "migrate_seconds"}, runKeys...)...)
}

// TestUpdateCustomerAPI: renamed ERP customers reach their organisations
// and farm business units.
func TestUpdateCustomerAPI(t *testing.T) {
	const n = 100
	var res UpdateResult
	bench(t, []string{"update", "--platform", "customerapi", "--records", "100", "--concurrency", "4", "--changed-fields", "name"}, &res)
	checkRun(t, res.RunFigures, n)
	ops := res.RequestsByOperation
	if res.Platform != platformCustomerAPI || res.ChangedRecords != n || ops["updateOrganisation"] != n || ops["updateBusinessUnit"] != n || res.RequestsPerRecord < 2 {
		t.Fatalf("result %+v", res)
	}
	if res.Outcomes["erp_to_capi"]["updated"] != n {
		t.Fatalf("outcomes %v", res.Outcomes)
	}
}

// TestPull: organisations renamed and farms given new holding numbers on
// the Customer API are taken into the ERP (the platform owns them in the
// run's configuration).
func TestPull(t *testing.T) {
	const n = 100
	var res PullResult
	out := bench(t, []string{"pull", "--records", "100", "--concurrency", "4"}, &res)
	checkRun(t, res.RunFigures, n)
	if res.Platform != platformCustomerAPI || res.Records != n || res.ChangedRecords != n || res.Outcomes["capi_to_erp"]["updated"] != n {
		t.Fatalf("result %+v", res)
	}
	if res.RequestsByOperation["getOrganisation"] < n || res.RequestsPerRecord < 1 {
		t.Fatalf("requests by operation %v", res.RequestsByOperation)
	}
	if !strings.Contains(out, "verify: the ERP holds the platform's names and holding numbers for all 100 records") {
		t.Errorf("output lacks the verification:\n%s", out)
	}
}

func TestNoop(t *testing.T) {
	var res NoopResult
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	bench(t, []string{"noop", "--records", "300", "--concurrency", "4", "--cpuprofile", prof}, &res)
	// The second sync's CPU profile, and each resync's beside it.
	for _, f := range []string{prof, prof + ".resync", prof + ".steady-resync"} {
		if b, err := os.ReadFile(f); err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("--cpuprofile: %s: want a gzipped profile, got %d bytes, %v", filepath.Base(f), len(b), err)
		}
	}
	if res.Writes != 0 {
		t.Fatalf("a sync with nothing changed wrote %d times", res.Writes)
	}
	if res.Platform != platformONe || res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN || res.Seconds <= 0 || res.FirstRunRPS <= 0 {
		t.Fatalf("unexpected figures %+v", res)
	}
	if res.ResyncWrites != 0 || res.ResyncSeconds <= 0 || res.ResyncJobs > testN {
		t.Fatalf("full resync with nothing changed: %+v", res)
	}
	// Once every client has been read back, a resync queues nothing.
	if res.SteadyResyncWrites != 0 || res.SteadyResyncSeconds <= 0 || res.SteadyResyncJobs != 0 {
		t.Fatalf("steady-state resync: %+v", res)
	}
	// The resyncs' CPU is the connector's own in the resync: some, and no
	// more than its cores could give in the resync's time.
	for _, r := range [][2]float64{{res.ResyncCPUS, res.ResyncSeconds}, {res.SteadyResyncCPUS, res.SteadyResyncSeconds}} {
		if r[0] <= 0 || r[0] > r[1]*float64(runtime.NumCPU())+0.02 {
			t.Fatalf("a resync of %.2f s used %.2f s of CPU: %+v", r[1], r[0], res)
		}
	}
	// The resyncs read listing pages only: no client one by one.
	for _, ops := range []map[string]int64{res.ResyncRequestsByOperation, res.SteadyResyncRequestsByOperation} {
		if ops["listClients"] == 0 || ops["getClient"] != 0 {
			t.Fatalf("resync requests %v", ops)
		}
	}
}

// TestNoopCustomerAPI: the Customer API's second sync and full resyncs of
// unchanged organisations write nothing and queue nothing, against a
// server with a latency.
func TestNoopCustomerAPI(t *testing.T) {
	var res NoopResult
	bench(t, []string{"noop", "--platform", "customerapi", "--records", "300", "--concurrency", "4", "--latency", "50ms"}, &res)
	if res.Platform != platformCustomerAPI || res.Records != testN || res.Writes != 0 || res.Seconds <= 0 || res.FirstRunRPS <= 0 || res.LatencyMS != 50 {
		t.Fatalf("unexpected figures %+v", res)
	}
	// The resyncs met the latency: each read a listing page, then the
	// businesses of its farms, one after the other.
	if res.ResyncSeconds < 0.1 || res.SteadyResyncSeconds < 0.1 {
		t.Fatalf("resyncs of %.2f s and %.2f s: the server's 50 ms latency was not met", res.ResyncSeconds, res.SteadyResyncSeconds)
	}
	if res.ResyncWrites != 0 || res.ResyncJobs != 0 || res.ResyncSeconds <= 0 ||
		res.SteadyResyncWrites != 0 || res.SteadyResyncJobs != 0 || res.SteadyResyncSeconds <= 0 {
		t.Fatalf("full resyncs with nothing changed: %+v", res)
	}
	// The resyncs read listing pages only: no organisation one by one.
	for _, ops := range []map[string]int64{res.ResyncRequestsByOperation, res.SteadyResyncRequestsByOperation} {
		if ops["listOrganisations"] == 0 || ops["getOrganisation"] != 0 || ops["getOrganisationBusinessUnits"] != 0 {
			t.Fatalf("resync requests %v", ops)
		}
	}
	if res.RequestsByOperation["listOrganisations"] == 0 {
		t.Fatalf("second sync requests %v", res.RequestsByOperation)
	}
}

func TestKeepLeavesTheWorkingFiles(t *testing.T) {
	dir := t.TempDir()
	o := benchOptions{records: 20, concurrency: 2, seed: 3, dir: dir, self: testSelf(t), log: &bytes.Buffer{}, txlock: "immediate", indexIDs: true, idlePoll: 50 * time.Millisecond}
	var out bytes.Buffer
	res, err := runMigrate(t.Context(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Clients != 20 {
		t.Fatalf("clients = %d", res.Clients)
	}
	for _, f := range []string{"erp.db", "state.db", "connector.yaml", "connector-migrate.log"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Errorf("working file %s: %v", f, err)
		}
	}
	// The configuration holds the run's API key; logs and output never do.
	cfg, err := os.ReadFile(dir + "/connector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key := keyFrom(t, cfg)
	for _, f := range []string{"connector-migrate.log", "server-baseline.log", "server-connector.log"} {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("%s shows the API key", f)
		}
	}
	if strings.Contains(out.String(), key) {
		t.Error("the output shows the API key")
	}
}

func keyFrom(t *testing.T, cfg []byte) string {
	t.Helper()
	for _, l := range strings.Split(string(cfg), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(l), "api_key: "); ok && len(k) == 32 {
			return k
		}
	}
	t.Fatalf("no api_key in the configuration:\n%s", cfg)
	return ""
}

func TestBadCommandLines(t *testing.T) {
	runCLICases(t, []cliCase{
		{"no command", nil, exitUsage, "usage:"},
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{"zero records", []string{"migrate", "--records", "0"}, exitUsage, "--records: must be positive"},
		{"negative concurrency", []string{"noop", "--concurrency", "-1"}, exitUsage, "--concurrency: must be positive"},
		{"zero events", []string{"feed", "--events", "0", "--timeout", "0s"}, exitUsage, "--timeout: must be positive"},
		{"bad txlock", []string{"feed", "--sqlite-txlock", "later"}, exitUsage, "--sqlite-txlock: must be deferred, immediate, exclusive or empty"},
		{"stray argument", []string{"migrate", "extra"}, exitUsage, "unexpected arguments"},
		{"unknown platform", []string{"migrate", "--platform", "sap"}, exitUsage, `--platform: migrate runs on one or customerapi, got "sap"`},
		{"pull on ONe", []string{"pull", "--platform", "one"}, exitUsage, `--platform: pull runs on customerapi, got "one"`},
		{"feed has no platform", []string{"feed", "--platform", "customerapi"}, exitUsage, "flag provided but not defined: -platform"},
		{"unknown field", []string{"update", "--changed-fields", "name,colour"}, exitUsage, `--changed-fields: "colour": want some of name, street`},
		{"no field", []string{"update", "--changed-fields", " , "}, exitUsage, "--changed-fields: want at least one of"},
		{"negative latency", []string{"migrate", "--latency", "-1s"}, exitUsage, "--latency: must not be negative"},
		{"negative rate", []string{"update", "--server-rate", "-5"}, exitUsage, "--server-rate: must not be negative"},
		{"burst without rate", []string{"pull", "--server-burst", "5"}, exitUsage, "--server-burst: must be positive, with --server-rate"},
		{"negative noop latency", []string{"noop", "--latency", "-1ms"}, exitUsage, "--latency: must not be negative"},
		{"serve-one without tenant", []string{"serve-one"}, exitFailure, "--tenant: want NAME with $ERPBENCH_API_KEY set"},
		{"serve-customer without user", []string{"serve-customer"}, exitFailure, "--user: want EMAIL with $ERPBENCH_API_KEY set"},
	})
}

// cliCase is one command line and what it must answer.
type cliCase struct {
	name string
	args []string
	code int
	want string // in stderr
}

// runCLICases runs each command line and checks its exit code and stderr.
func runCLICases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb, testSelf(t))
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.want)
			}
		})
	}
}
