package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
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

func TestMigrate(t *testing.T) {
	var res MigrateResult
	out := bench(t, []string{"migrate", "--records", "300", "--concurrency", "4", "--seed", "7"}, &res)
	if res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN {
		t.Fatalf("want %d records, clients and distinct external ids, got %+v", testN, res)
	}
	if res.BaselineRPS <= 0 || res.ConnectorRPS <= 0 || res.Ratio <= 0 || res.PeakRSSMiB <= 0 || res.ConnectorCPUS <= 0 {
		t.Fatalf("every figure must be measured, got %+v", res)
	}
	for _, want := range []string{"baseline:", "connector:", "verify:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the %q line:\n%s", want, out)
		}
	}
	// The line carries exactly the documented names.
	var raw map[string]any
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"records", "baseline_rps", "connector_rps", "ratio", "peak_rss_mib", "connector_cpu_s", "clients", "distinct_external_ids"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON line lacks %q: %s", k, lines[len(lines)-1])
		}
	}
}

func TestFeed(t *testing.T) {
	var res FeedResult
	bench(t, []string{"feed", "--events", "300", "--concurrency", "4"}, &res)
	if res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN {
		t.Fatalf("want %d ERP customers bound to distinct ONe ids, got %+v", testN, res)
	}
	if res.BaselineRPS <= 0 || res.ConnectorRPS <= 0 || res.PeakRSSMiB <= 0 || res.PeakAnonMiB <= 0 || res.PeakAnonMiB > res.PeakRSSMiB {
		t.Fatalf("every figure must be measured, got %+v", res)
	}
}

func TestNoop(t *testing.T) {
	var res NoopResult
	bench(t, []string{"noop", "--records", "300", "--concurrency", "4"}, &res)
	if res.Writes != 0 {
		t.Fatalf("a sync with nothing changed wrote %d times", res.Writes)
	}
	if res.Records != testN || res.Clients != testN || res.DistinctExternalIDs != testN || res.Seconds <= 0 || res.FirstRunRPS <= 0 {
		t.Fatalf("unexpected figures %+v", res)
	}
	if res.ResyncWrites != 0 || res.ResyncSeconds <= 0 || res.ResyncJobs > testN {
		t.Fatalf("full resync with nothing changed: %+v", res)
	}
	// Once every client has been read back, a resync queues nothing.
	if res.SteadyResyncWrites != 0 || res.SteadyResyncSeconds <= 0 || res.SteadyResyncJobs != 0 {
		t.Fatalf("steady-state resync: %+v", res)
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
