package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
)

// TestRunFigures: requests and 429s are the counters' differences over
// the run, the rate utilisation the accepted requests over what the
// server's bucket allowed in the run's time, CPU per record the child's
// CPU over the records.
func TestRunFigures(t *testing.T) {
	before := map[string]fault.OpCount{
		"createClient": {Total: 10, ByStatus: map[int]int64{200: 10}},
		"listClients":  {Total: 3, ByStatus: map[int]int64{200: 3}},
	}
	after := map[string]fault.OpCount{
		"createClient":            {Total: 1010, ByStatus: map[int]int64{200: 990, 429: 20}},
		"updateClientFinanceData": {Total: 400, ByStatus: map[int]int64{200: 390, 429: 10}},
		"listClients":             {Total: 3, ByStatus: map[int]int64{200: 3}},
	}
	run := childRun{wall: 10 * time.Second, cpuS: 1.5, rssMiB: 40, anonMiB: 20}
	u := upstreamOptions{latency: 20 * time.Millisecond, serverRate: 140, rate: 140}
	f := runFigures(run, 1000, before, after, u)
	if f.Requests != 1400 || f.RequestsPerRecord != 1.4 || f.Responses429 != 30 {
		t.Fatalf("requests %d (%.2f a record), 429 %d", f.Requests, f.RequestsPerRecord, f.Responses429)
	}
	if len(f.RequestsByOperation) != 2 || f.RequestsByOperation["createClient"] != 1000 || f.RequestsByOperation["updateClientFinanceData"] != 400 {
		t.Fatalf("by operation %v (an operation without requests in the run is left out)", f.RequestsByOperation)
	}
	// 1370 accepted; the server allowed its burst (140) + 140/s × 10 s.
	if f.RateUtilisation != 0.89 {
		t.Fatalf("rate utilisation %v, want 1370/1540 = 0.89", f.RateUtilisation)
	}
	if f.ConnectorCPUUSPerRecord != 1500 || f.ConnectorRPS != 100 || f.Seconds != 10 {
		t.Fatalf("figures %+v", f)
	}
	if plain := runFigures(run, 1000, before, after, upstreamOptions{}); plain.RateUtilisation != 0 {
		t.Fatalf("utilisation without a server rate: %v", plain.RateUtilisation)
	}
	if got := u.figures(); got != (UpstreamFigures{LatencyMS: 20, ServerRate: 140, ServerBurst: 140, UpstreamRate: 140}) {
		t.Fatalf("upstream figures %+v", got)
	}
	if !strings.Contains(f.describe(), "createClient 1000, updateClientFinanceData 400") {
		t.Fatalf("describe: %s", f.describe())
	}
}

// TestProcCPU: a process's CPU time read from /proc grows by about the
// CPU it spends.
func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var spin uint64
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		spin++
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 150*time.Millisecond {
		t.Fatalf("CPU %v after spinning 300 ms (%d turns)", d, spin)
	}
	if _, err := procCPU(-1); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

// TestRawLoopWaitsOutA429: the baselines' loop waits for the Retry-After
// of a throttled request and sends it again, counting both.
func TestRawLoopWaitsOutA429(t *testing.T) {
	t.Parallel()
	in := fault.New(1)
	if err := in.SetThrottle(fault.Throttle{Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in.Wrap("op", func(w http.ResponseWriter, status int, msg string) { http.Error(w, msg, status) },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })))
	defer srv.Close()
	l := newRawLoop(1, upstreamOptions{}, nil)
	defer l.close()
	start := time.Now()
	for range 2 {
		if err := l.do(t.Context(), http.MethodPost, srv.URL, []byte(`{}`), http.StatusOK, nil); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("second request answered after %s, before the Retry-After", d)
	}
	if l.requests.Load() != 3 || l.throttled.Load() != 1 {
		t.Fatalf("%d requests, %d throttled; want 3 and 1", l.requests.Load(), l.throttled.Load())
	}
	if c := in.Counts()["op"]; c.EarlyRetries != 0 || c.Throttled != 1 {
		t.Fatalf("server counts %+v", c)
	}
}

// TestFieldChangesKeepRowsValid: every change update makes gives the rows
// it applies to a new value that the platforms still take (and the
// Customer API's names stay unique); a row it does not apply to is left
// alone.
func TestFieldChangesKeepRowsValid(t *testing.T) {
	rules := mapping.MustCompileRules(erpgen.Rules())
	for _, p := range []*chaosPlatform{onePlatform, customerAPIPlatform} {
		validate := mapping.ValidateONe
		if p == customerAPIPlatform {
			validate = mapping.ValidateCustomerAPI
		}
		altered := map[string]int{}
		identities := map[string]bool{}
		err := genRecords(p, 400, 3, func(recs []erpgen.Record) error {
			for _, r := range recs {
				for f, change := range fieldChanges {
					old := r.Value(f)
					v := change(old)
					if v == old {
						if old != "" {
							t.Errorf("%s %s: %s %q left as it is", p.name, r.Key, f, old)
						}
						continue
					}
					altered[f]++
					r.Set(f, v)
				}
				c, ferrs := rules.Apply(r.Values)
				if len(ferrs) > 0 {
					t.Fatalf("%s %s: rule errors %v", p.name, r.Key, ferrs)
				}
				c.ERPKey = r.Key
				if err := validate(c); err != nil {
					t.Fatalf("%s %s: changed row refused: %v", p.name, r.Key, err)
				}
				id := strings.ToLower(c.Name) + "|" + strings.ToLower(c.CompanyNumber)
				if p == customerAPIPlatform && identities[id] {
					t.Fatalf("%s: name and company number %q twice", r.Key, id)
				}
				identities[id] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for f := range fieldChanges {
			// The UK farms of the Customer API have no credit limit or
			// payment term.
			none := p == customerAPIPlatform && (f == "credit_limit" || f == "term_payment_id")
			if (altered[f] == 0) != none {
				t.Errorf("%s: %d rows' %s changed", p.name, altered[f], f)
			}
		}
	}
	if _, err := parseChangedFields("name, street,name"); err != nil {
		t.Fatal(err)
	}
	if got, _ := parseChangedFields("name, street,name"); strings.Join(got, ",") != "name,street" {
		t.Fatalf("parsed %v", got)
	}
}
