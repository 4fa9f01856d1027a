package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
)

// checkShared asserts the invariants every soak shares, from its result.
func checkShared(t *testing.T, res ChaosResult, platform, soak string, records int) {
	t.Helper()
	if res.Soak != soak || res.Platform != platform || res.Records != records || res.ValidRows+res.InvalidRows != records || res.InvalidRows == 0 {
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
	switch platform {
	case platformCustomerAPI:
		// Every valid row is a UK farm: one farm business unit each.
		if res.FarmRows != res.ValidRows || res.FarmUnits != res.ValidRows {
			t.Errorf("%d farm business units for %d farm rows, want one for each of the %d valid rows", res.FarmUnits, res.FarmRows, res.ValidRows)
		}
	default:
		if res.FarmRows != 0 || res.FarmUnits != 0 {
			t.Errorf("farm figures on %s: %+v", platform, res)
		}
	}
}

func TestChaosKill(t *testing.T) {
	var res ChaosResult
	out := bench(t, []string{"chaos", "--soak", "kill", "--records", "1500", "--kills", "3", "--seed", "5"}, &res)
	checkKill(t, res, out, platformONe)
}

func TestChaosKillCustomerAPI(t *testing.T) {
	t.Parallel() // beside the faults soaks, which mostly wait
	var res ChaosResult
	out := bench(t, []string{"chaos", "--soak", "kill", "--platform", "customerapi", "--records", "1500", "--kills", "3", "--seed", "5"}, &res)
	checkKill(t, res, out, platformCustomerAPI)
}

// checkKill asserts the result of a quick kill soak of 1,500 records.
func checkKill(t *testing.T, res ChaosResult, out, platform string) {
	t.Helper()
	checkShared(t, res, platform, soakKill, 1500)
	if res.Kills != 3 || res.Runs != 4 {
		t.Fatalf("%d kills landed in %d runs, want 3 in 4", res.Kills, res.Runs)
	}
	if res.InvalidRows != 30 {
		t.Fatalf("invalid rows %d, want every 50th of 1500", res.InvalidRows)
	}
	// The kills land mid-migration, where the deliveries are chunk jobs:
	// the runs after them deliver the chunks a kill cut short again (the
	// invariants above: nothing lost, nothing created twice).
	if res.ChunksResumed == 0 {
		t.Fatalf("no chunk job was delivered again after a kill: %+v", res)
	}
	// ONe's look-ups are a listing of its clients: the customers of the
	// chunks a kill cut short share one per run (8 pages of 200 hold the
	// 1,500), not one each.
	if platform == platformONe && res.ListRequests > int64(8*res.Runs) {
		t.Fatalf("%d listing pages read in %d runs: the look-ups after the kills did not share listings", res.ListRequests, res.Runs)
	}
	if strings.Count(out, "SIGKILL after") != 3 {
		t.Fatalf("output lacks the kill lines:\n%s", out)
	}
}

// The faults soaks spend most of their time in Retry-After pauses and
// breaker timeouts: they run side by side (and beside the Customer API's
// kill soak, which uses the processor they leave idle).

func TestChaosFaults(t *testing.T) {
	t.Parallel()
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "faults", "--records", "150", "--seed", "3"}, &res)
	checkFaults(t, res, platformONe, 150)
}

func TestChaosFaultsCustomerAPI(t *testing.T) {
	t.Parallel()
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "faults", "--platform", "customerapi", "--seed", "3"}, &res)
	checkFaults(t, res, platformCustomerAPI, capiQuickFaults)
}

// checkFaults asserts the result of a quick faults soak.
func checkFaults(t *testing.T, res ChaosResult, platform string, records int) {
	t.Helper()
	checkShared(t, res, platform, soakFaults, records)
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
	checkShared(t, res, platformONe, soakShutdown, 1500)
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
	checkBadInput(t, res, platformONe)
}

func TestChaosBadInputCustomerAPI(t *testing.T) {
	var res ChaosResult
	bench(t, []string{"chaos", "--soak", "badinput", "--platform", "customerapi", "--records", "500", "--seed", "11"}, &res)
	checkBadInput(t, res, platformCustomerAPI)
}

// checkBadInput asserts the result of a quick bad-input soak of 500
// records: 400 in the SQL ERP, 100 in the drop folder.
func checkBadInput(t *testing.T, res ChaosResult, platform string) {
	t.Helper()
	checkShared(t, res, platform, soakBadInput, 500)
	if kinds := erpgen.InvalidFor(mapping.Platform(platform)); res.InvalidRows != 50 || len(kinds) == 0 || res.InvalidKinds != len(kinds) {
		t.Fatalf("%d invalid rows of %d kinds, want 50 of %d", res.InvalidRows, res.InvalidKinds, len(kinds))
	}
	if res.Faulted == 0 || res.Runs != 2 {
		t.Fatalf("no broken answer, or not one run for each ERP: %+v", res)
	}
	// The SQL ERP: every notation of updated_at, instants shared across
	// pages of 5.
	if res.ERPPageSize != badInputPageSize {
		t.Errorf("ERP page size %d, want %d", res.ERPPageSize, badInputPageSize)
	}
	for _, shape := range []string{shapeNative, shapeCurrentTimestamp, shapeISOZ, shapeOffset} {
		if res.TimestampShapes[shape] == 0 {
			t.Errorf("no row with updated_at as %s: %v", shape, res.TimestampShapes)
		}
	}
	if res.SharedTimestampMax < 4*badInputPageSize {
		t.Errorf("at most %d rows share an instant: the ties span no pages", res.SharedTimestampMax)
	}
	// Two passes over each ERP (the new-customer scan and the update
	// scan): the SQL ERP's 400 rows in each, the drop folder's 100 rows
	// and 7 unreadable records in its first.
	if res.ERPPasses != 4 || res.PassItems < 2*400+100+7 {
		t.Errorf("%d ERP passes read %d items, want 4 reading every SQL row twice and every drop-folder record", res.ERPPasses, res.PassItems)
	}
	// The drop folder.
	if res.FileExports != 5 || res.FileRows != 100 {
		t.Errorf("drop folder: %d exports, %d rows", res.FileExports, res.FileRows)
	}
	if res.RejectedRows != 5 || res.RejectedFiles != 2 || res.RejectedRowsMetric != 5 || res.RejectedFilesMetric != 2 {
		t.Errorf("rejected %d rows and %d files (metric %d and %d), want 5 and 2", res.RejectedRows, res.RejectedFiles, res.RejectedRowsMetric, res.RejectedFilesMetric)
	}
	if res.OutboxIDs < 90 {
		t.Errorf("%d ids in the outbox, want one for each of the drop folder's 90 valid rows", res.OutboxIDs)
	}
}

// TestBadInputNamesLostRecords has the connector child leave items out of
// the pages it reads (an unreadable row, an unreadable file, a row of each
// ERP), as a connector that skipped them would: the soak must name each.
func TestBadInputNamesLostRecords(t *testing.T) {
	o := chaosOptions{seed: 11, concurrency: 4, self: testSelf(t), log: &bytes.Buffer{}, timeout: 2 * time.Minute,
		childArgs: []string{"--leave-out", "reject:customers-1.csv:5,reject:customers-5-binary.csv,C0000001,C0000402"}}
	var out bytes.Buffer
	res, err := runSoak(t.Context(), onePlatform, soakBadInput, o, &out)
	if !errors.Is(err, errCheck) {
		t.Fatalf("the soak did not fail its checks: %v\n%s", err, out.String())
	}
	got := strings.Join(res.Violations, "\n")
	for _, want := range []string{
		"sql erp: bound_rows: 1 valid rows have no ONe id written back (C0000001)",
		"drop folder: bound_rows: 1 valid rows have no ONe id written back (C0000402)",
		"drop folder: rejected: 2 unreadable rows and files are not erp.reject dead letters (erp:reject:customers-1.csv:5; erp:reject:customers-5-binary.csv)",
		"drop folder: rejected_total: erpconnector_erp_rejected_total counted 4 rows and 1 files, want 5 and 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}

// TestCheckPassesNamesViolations feeds the pass check what an adapter that
// skips, repeats, invents or fails would have returned.
func TestCheckPassesNamesViolations(t *testing.T) {
	e := &soakEnv{dir: t.TempDir(), valid: map[string]bool{"K1": true, "K2": true, "K3": true}, invalid: map[string]erpgen.Invalid{"K4": erpgen.BadEmail},
		drop: &dropFolder{rejects: map[string]wantReject{"erp:reject:a.csv:3": {source: "a.csv:3"}}}}
	passes := []erpPass{
		{Pages: 2, Items: map[string]int{"K1": 2, "K2": 2, "K3": 3, "reject:a.csv:3": 1, "K9": 1}, Places: map[string]int{"K1": 2, "K3": 2}},
		{Pages: 1, Items: map[string]int{"K3": 1}, Err: "sqlerp: changes: the change scan cannot advance"},
	}
	b, err := json.Marshal(passes)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.passesPath("run1"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// K1's row was rewritten during the pass: read again at its new
	// place; K3's too, but it came twice at one of its places.
	res := ChaosResult{Violations: []string{}}
	if err := e.checkPasses(&res, "run1", false); err != nil {
		t.Fatal(err)
	}
	if res.ReadAgain != 2 {
		t.Errorf("read again %d, want K1's and K3's readings at their new places", res.ReadAgain)
	}
	got := strings.Join(res.Violations, "\n")
	for _, want := range []string{
		"erp_passes: pass 1 of connector run1 (2 pages) returned 2 items more than once at one place (K2 2 times at 1 places; K3 3 times at 2 places)",
		"erp_passes: pass 1 of connector run1 (2 pages) skipped 1 of the ERP's 5 records (K4)",
		"erp_passes: pass 1 of connector run1 (2 pages) returned 1 items the ERP does not hold (K9)",
		"erp_passes: pass 2 of connector run1 (1 pages) ended in an error: sqlerp: changes: the change scan cannot advance",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "pass 2 of connector run1 (1 pages) skipped") {
		t.Errorf("the second pass of a drop folder need not be complete:\n%s", got)
	}
	// On the SQL ERP every pass starts from the beginning.
	res = ChaosResult{Violations: []string{}}
	if err := e.checkPasses(&res, "run1", true); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Violations, "\n"); !strings.Contains(got, "pass 2 of connector run1 (1 pages) skipped 4 of the ERP's 5 records (K1; K2; K4; …)") {
		t.Errorf("violations lack the second pass's skipped records:\n%s", got)
	}
	// No record at all.
	res = ChaosResult{Violations: []string{}}
	if err := e.checkPasses(&res, "run2", true); err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 1 || !strings.Contains(res.Violations[0], "connector run2 recorded no ERP passes") {
		t.Errorf("violations %v", res.Violations)
	}
}

// TestVerifyNamesViolations runs the verification on an ERP the connector
// never saw: every invariant about the outcome must be reported broken.
func TestVerifyNamesViolations(t *testing.T) {
	for _, tc := range []struct {
		p    *chaosPlatform
		want []string
	}{
		{onePlatform, []string{"clients: the server holds 0 clients, want 36", "bound_rows: 36 valid rows have no ONe id",
			"dead_letters: 4 invalid rows are not in the dead letters"}},
		{customerAPIPlatform, []string{"clients: the server holds 0 organisations, want 36",
			"clients: 36 valid rows have no organisation with their name and company number",
			"bound_rows: 36 valid rows have no Customer API id", "dead_letters: 4 invalid rows are not in the dead letters"}},
	} {
		t.Run(tc.p.name, func(t *testing.T) {
			o := chaosOptions{seed: 2, concurrency: 2, self: testSelf(t), log: &bytes.Buffer{}, timeout: time.Minute}
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			e, closeEnv, err := newSoakEnv(ctx, o, tc.p, soakKill, 40, 10, nil, &out)
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
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("violations lack %q:\n%s", want, got)
				}
			}
		})
	}
}

// TestVerifyOrganisationsNamesViolations breaks the Customer API's side of
// a finished run in three ways the ERP and the queue cannot show: a bound
// organisation deleted on the platform, a stray organisation, a second farm
// business unit. Each must be named.
func TestVerifyOrganisationsNamesViolations(t *testing.T) {
	o := chaosOptions{seed: 6, concurrency: 2, self: testSelf(t), log: &bytes.Buffer{}, timeout: time.Minute}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	e, closeEnv, err := newSoakEnv(ctx, o, customerAPIPlatform, soakKill, 20, 50, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer closeEnv()
	res := ChaosResult{Records: 20, Violations: []string{}}
	e.describe(&res)
	if _, err := e.finish(ctx, "run1", &res); err != nil {
		t.Fatal(err)
	}
	if err := e.verify(ctx, &res); err != nil || len(res.Violations) > 0 {
		t.Fatalf("before the damage: %v %v\n%s", err, res.Violations, out.String())
	}

	ids, err := erpPlatformIDs(ctx, e.erpPath, erpgen.CustomerAPIColumn)
	if err != nil {
		t.Fatal(err)
	}
	api, err := customerapi.New(customerapi.Options{BaseURL: e.srv.url, Credentials: customerapi.Credentials{Username: benchUser, Password: e.key}})
	if err != nil {
		t.Fatal(err)
	}
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	// C0000001's organisation goes.
	if err := send(ctx, hc, http.MethodDelete, e.srv.url+"/_reference/organisations/"+ids["C0000001"], "", nil, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	// C0000002's gets a second farm.
	farm := customerapi.CreateBusinessUnitRequest{OrganisationID: ids["C0000002"], Name: "Second Farm", Type: customerapi.BusinessUnitFarm,
		Business: &customerapi.BusinessInput{HoldingNumber: "12/345/6789"}}
	if _, err := api.CreateBusinessUnit(ctx, farm); err != nil {
		t.Fatal(err)
	}
	// An organisation no ERP row has.
	stray := mapping.Customer{ERPKey: "X1", Type: mapping.Company, Name: "Stray Farms Ltd", CompanyNumber: "99999999", TIN: "1234567890",
		Billing: mapping.Address{Street: "Low Lane", Postcode: "YO62 5AB", City: "Helmsley", CountryISO2: "GB"},
		Admin:   mapping.Contact{Name: "Stray Owner", Email: "stray@owners.example.co.uk"}}
	if _, err := api.CreateOrganisation(ctx, mapping.ToCustomerAPIOrganisation(stray)); err != nil {
		t.Fatal(err)
	}

	res = ChaosResult{Records: 20, Violations: []string{}}
	e.describe(&res)
	if err := e.verify(ctx, &res); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(res.Violations, "\n")
	for _, want := range []string{"clients: 1 valid rows have no organisation with their name and company number (C0000001)",
		"clients: 1 organisations match no valid ERP row", "Stray Farms Ltd",
		"farm_units: 1 farm rows' organisations lack exactly one farm business unit with a business (C0000002: 2 farm units"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}

func TestChaosCommandLines(t *testing.T) {
	runCLICases(t, []cliCase{
		{"unknown soak", []string{"chaos", "--soak", "flood"}, exitUsage, `--soak: want kill, faults, shutdown, badinput or all, got "flood"`},
		{"unknown platform", []string{"chaos", "--platform", "sap"}, exitUsage, `--platform: want one, customerapi or all, got "sap"`},
		{"soak the platform lacks", []string{"chaos", "--soak", "shutdown", "--platform", "customerapi"}, exitUsage,
			"--soak shutdown: not a soak of the customerapi platform (it has kill, faults, badinput)"},
		{"negative records", []string{"chaos", "--records", "-1"}, exitUsage, "--records: must not be negative"},
		{"negative kills", []string{"chaos", "--kills", "-2"}, exitUsage, "--kills: must not be negative"},
		{"zero timeout", []string{"chaos", "--timeout", "0s"}, exitUsage, "--timeout: must be positive"},
		{"stray argument", []string{"chaos", "now"}, exitUsage, "unexpected arguments"},
		{"help", []string{"chaos", "--help"}, exitOK, "0.05 x 1.75 x 2 s"},
		{"help names the platforms", []string{"chaos", "--help"}, exitOK, "customerapi  The Customer API; the kill, faults and badinput soaks."},
		{"help names the bad-input shapes", []string{"chaos", "--help"}, exitOK, `erpconnector_erp_rejected_total{kind="row"|"file"}`},
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
	e, closeEnv, err := newSoakEnv(ctx, o, onePlatform, soakFaults, 20, 50, nil, &out)
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

// TestPassCounterStopsALoop has the counted adapter return the same page
// for ever, as an adapter whose cursor does not advance would: the
// passLoopAt-th time an item comes back in one pass, the pass ends in an
// error.
func TestPassCounterStopsALoop(t *testing.T) {
	pc := newPassCounter("")
	same := func(context.Context, string, int) (erp.Page, error) {
		return erp.Page{Items: []erp.Item{{Key: "K1"}, {Source: "a.csv:3"}}, Cursor: "c", More: true}, nil
	}
	var err error
	calls := 0
	for ; calls < 10 && err == nil; calls++ {
		_, err = pc.changes(t.Context(), same, "c", 5)
	}
	if err == nil || calls != passLoopAt || !strings.Contains(err.Error(), fmt.Sprintf("returned K1 %d times in one pass", passLoopAt)) {
		t.Fatalf("after %d calls: %v", calls, err)
	}
	if len(pc.passes) != 1 || pc.passes[0].Err == "" || pc.passes[0].Items["reject:a.csv:3"] != passLoopAt {
		t.Fatalf("passes %+v", pc.passes)
	}
	// The scan that comes next starts a pass of its own. A row changed
	// meanwhile comes again at its new place.
	at := time.Now()
	moved := func(context.Context, string, int) (erp.Page, error) {
		at = at.Add(time.Second)
		return erp.Page{Items: []erp.Item{{Key: "K1", Customer: mapping.Customer{UpdatedAt: at}}}, More: true}, nil
	}
	for range 2 {
		if _, err := pc.changes(t.Context(), moved, "c", 5); err != nil {
			t.Fatal(err)
		}
	}
	if len(pc.passes) != 2 || pc.passes[1].Items["K1"] != 2 || pc.passes[1].Places["K1"] != 2 {
		t.Fatalf("passes %+v", pc.passes)
	}
}
