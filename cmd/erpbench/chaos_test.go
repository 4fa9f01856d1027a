package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
)

// checkShared asserts the invariants every soak shares, from its result.
func checkShared(t *testing.T, res ChaosResult, soak string, records int) {
	t.Helper()
	if res.Soak != soak || res.Records != records || res.ValidRows+res.InvalidRows != records || res.InvalidRows == 0 {
		t.Fatalf("sizes: %+v", res)
	}
	if len(res.Violations) != 0 {
		t.Fatalf("violations: %v", res.Violations)
	}
	if res.Clients != res.ValidRows || res.DistinctExternalIDs != res.ValidRows {
		t.Errorf("server holds %d clients (%d distinct external ids), want %d", res.Clients, res.DistinctExternalIDs, res.ValidRows)
	}
	if res.BoundRows != res.ValidRows || res.DistinctONeIDs != res.ValidRows {
		t.Errorf("ERP: %d rows bound to %d distinct ids, want %d", res.BoundRows, res.DistinctONeIDs, res.ValidRows)
	}
	if res.QueueLeft != 0 {
		t.Errorf("queue left %d", res.QueueLeft)
	}
	if res.DeadLetterKeys != res.InvalidRows || res.DeadLetters < res.InvalidRows {
		t.Errorf("dead letters %d for %d keys, want the %d invalid rows", res.DeadLetters, res.DeadLetterKeys, res.InvalidRows)
	}
	if res.FinalExit != 0 {
		t.Errorf("final run exit %d", res.FinalExit)
	}
	if res.Seconds <= 0 || res.Requests <= 0 {
		t.Errorf("figures not measured: %+v", res)
	}
}

func TestChaosKill(t *testing.T) {
	var res ChaosResult
	out := bench(t, []string{"chaos", "--soak", "kill", "--records", "1500", "--kills", "3", "--seed", "5"}, &res)
	checkShared(t, res, soakKill, 1500)
	if res.Kills != 3 || res.Runs != 4 {
		t.Fatalf("%d kills landed in %d runs, want 3 in 4", res.Kills, res.Runs)
	}
	if res.InvalidRows != 30 {
		t.Fatalf("invalid rows %d, want every 50th of 1500", res.InvalidRows)
	}
	if strings.Count(out, "SIGKILL after") != 3 {
		t.Fatalf("output lacks the kill lines:\n%s", out)
	}
}

func TestChaosFaults(t *testing.T) {
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "faults", "--records", "150", "--seed", "3"}, &res)
	checkShared(t, res, soakFaults, 150)
	if res.EarlyRetries != 0 {
		t.Fatalf("%d requests came back before their Retry-After", res.EarlyRetries)
	}
	if res.BreakerOpened == 0 || res.BreakerClosed == 0 || res.BreakerHalfOpened == 0 {
		t.Fatalf("breaker opened %d, half-opened %d, closed %d: want each at least once", res.BreakerOpened, res.BreakerHalfOpened, res.BreakerClosed)
	}
	if res.UpstreamPauses == 0 || res.Injected == 0 {
		t.Fatalf("no Retry-After pause or no injected failure: %+v", res)
	}
}

func TestChaosShutdown(t *testing.T) {
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "shutdown", "--records", "1500", "--seed", "9"}, &res)
	checkShared(t, res, soakShutdown, 1500)
	// The behaviour requirement: out within 10 s of SIGTERM.
	if res.ShutdownSeconds <= 0 || res.ShutdownSeconds > 10 {
		t.Fatalf("shutdown took %.2f s", res.ShutdownSeconds)
	}
	if res.Runs != 2 {
		t.Fatalf("runs %d, want the interrupted one and the restart", res.Runs)
	}
}

func TestChaosBadInput(t *testing.T) {
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "badinput", "--records", "500", "--seed", "11"}, &res)
	checkShared(t, res, soakBadInput, 500)
	if res.InvalidRows != 50 || res.InvalidKinds != len(erpgen.AllInvalid()) {
		t.Fatalf("%d invalid rows of %d kinds, want 50 of %d", res.InvalidRows, res.InvalidKinds, len(erpgen.AllInvalid()))
	}
	if res.Faulted == 0 || res.Runs != 1 {
		t.Fatalf("no broken answer or more than one run: %+v", res)
	}
}

// TestVerifyNamesViolations runs the verification on an ERP the connector
// never saw: every invariant about the outcome must be reported broken.
func TestVerifyNamesViolations(t *testing.T) {
	o := chaosOptions{seed: 2, concurrency: 2, self: testSelf(t), log: &bytes.Buffer{}, timeout: time.Minute}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	e, closeEnv, err := newSoakEnv(ctx, o, soakKill, 40, 10, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer closeEnv()
	res := ChaosResult{Records: 40}
	e.describe(&res)
	if err := e.verify(ctx, &res); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(res.Violations, "\n")
	for _, want := range []string{"clients: the server holds 0 clients, want 36", "bound_rows: 36 valid rows have no ONe id",
		"dead_letters: 4 invalid rows are not in the dead letters"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}

func TestChaosCommandLines(t *testing.T) {
	runCLICases(t, []cliCase{
		{"unknown soak", []string{"chaos", "--soak", "flood"}, exitUsage, `--soak: want kill, faults, shutdown, badinput or all, got "flood"`},
		{"negative records", []string{"chaos", "--records", "-1"}, exitUsage, "--records: must not be negative"},
		{"negative kills", []string{"chaos", "--kills", "-2"}, exitUsage, "--kills: must not be negative"},
		{"zero timeout", []string{"chaos", "--timeout", "0s"}, exitUsage, "--timeout: must be positive"},
		{"stray argument", []string{"chaos", "now"}, exitUsage, "unexpected arguments"},
		{"help", []string{"chaos", "--help"}, exitOK, "0.05 x 1.75 x 2 s"},
	})
}

// TestRetriedCreateWritesTheIDBack is the smallest reproduction of what the
// faults soak found: one failed finance-data update right after a create.
// The retry finds the binding, takes the update path and acks without
// writing the ONe id back to the ERP row.
func TestRetriedCreateWritesTheIDBack(t *testing.T) {
	o := chaosOptions{seed: 4, concurrency: 2, self: testSelf(t), log: &bytes.Buffer{}, timeout: time.Minute}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, closeEnv, err := newSoakEnv(ctx, o, soakFaults, 20, 50, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer closeEnv()
	if err := e.addRules(ctx, []fault.Rule{{Operation: "updateClientFinanceData", Status: 500, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	res := ChaosResult{Records: 20}
	e.describe(&res)
	if _, err := e.finish(ctx, "run1", &res); err != nil {
		t.Fatal(err)
	}
	c, err := e.readCounters(ctx, &res)
	if err != nil {
		t.Fatal(err)
	}
	if c["updateClientFinanceData"].ByStatus[500] != 1 {
		t.Fatalf("the fault did not fire: %+v", c["updateClientFinanceData"])
	}
	if err := e.verify(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) > 0 {
		t.Fatalf("violations: %v\n%s", res.Violations, out.String())
	}
}
