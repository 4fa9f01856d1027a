package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
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
	checkShared(t, res, platformONe, soakBadInput, 500)
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
		{"soak the platform lacks", []string{"chaos", "--soak", "badinput", "--platform", "customerapi"}, exitUsage,
			"--soak badinput: not a soak of the customerapi platform (it has kill, faults)"},
		{"negative records", []string{"chaos", "--records", "-1"}, exitUsage, "--records: must not be negative"},
		{"negative kills", []string{"chaos", "--kills", "-2"}, exitUsage, "--kills: must not be negative"},
		{"zero timeout", []string{"chaos", "--timeout", "0s"}, exitUsage, "--timeout: must be positive"},
		{"stray argument", []string{"chaos", "now"}, exitUsage, "unexpected arguments"},
		{"help", []string{"chaos", "--help"}, exitOK, "0.05 x 1.75 x 2 s"},
		{"help names the platforms", []string{"chaos", "--help"}, exitOK, "customerapi  The Customer API; the kill and faults soaks"},
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
