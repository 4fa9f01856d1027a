package connector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/oneapi"
)

func flaggedValid(w *world) map[string]bool {
	keys := map[string]bool{}
	for _, r := range w.recs {
		if r.SyncONe && !r.Deleted && r.Invalid == "" {
			keys[r.Key] = true
		}
	}
	return keys
}

// exactlyOnce checks ONe holds exactly one client per flagged valid ERP key.
func exactlyOnce(t *testing.T, w *world) {
	t.Helper()
	want := flaggedValid(w)
	seen := map[string]int{}
	for _, cl := range w.one.Clients(tenant) {
		seen[cl.ExternalID]++
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("ERP key %s: %d clients on ONe", k, seen[k])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d distinct external ids on ONe, want %d", len(seen), len(want))
	}
}

// TestSafeCreate: the server commits a create and drops the connection; the
// connector must end with exactly one client for the key.
func TestSafeCreate(t *testing.T) {
	w := newWorld(t, worldOpts{records: 5})
	if _, err := w.one.Faults().Add(fault.Rule{Operation: "createClient", DropAfterCommit: true, Count: 2}); err != nil {
		t.Fatal(err)
	}
	w.sync()
	exactlyOnce(t, w)
	if n := w.one.Faults().Counts()["createClient"].ByStatus[0]; n != 2 {
		t.Fatalf("%d dropped creates, want 2", n)
	}
	if !strings.Contains(w.logs.String(), "adopting the client an earlier attempt created") {
		t.Fatal("no adoption logged")
	}
	for k := range flaggedValid(w) {
		if w.get(k).Customer.PlatformIDs.ONe == "" {
			t.Fatalf("%s not written back", k)
		}
	}
}

// lostCreates starts a world of records whose every create commits on ONe
// and loses its answer (plus the extra rules), and returns it with the
// number of customers flagged for ONe.
func lostCreates(t *testing.T, records int, extra ...fault.Rule) (*world, int) {
	t.Helper()
	// Every create fails alike: let the breaker probe again quickly.
	w := newWorld(t, worldOpts{records: records, noStart: true, configure: func(c *connector.Config) {
		c.ONe.Upstream.BreakerOpen = 50 * time.Millisecond
	}})
	n := len(flaggedValid(w))
	for _, r := range append([]fault.Rule{{Operation: "createClient", DropAfterCommit: true, Count: n}}, extra...) {
		if _, err := w.one.Faults().Add(r); err != nil {
			t.Fatal(err)
		}
	}
	w.start()
	return w, n
}

// TestLookupsShareOneListing: when every create's answer is lost (the
// clients exist, the connector does not know their ids), the lookups by
// external id are answered from one listing of ONe's clients, not one
// listing per record, and every client is adopted exactly once.
func TestLookupsShareOneListing(t *testing.T) {
	w, n := lostCreates(t, 40)
	w.sync()
	exactlyOnce(t, w)
	counts := w.one.Faults().Counts()
	if got := counts["createClient"].ByStatus[0]; got != int64(n) {
		t.Fatalf("%d dropped creates, want %d", got, n)
	}
	// One page of 50 holds every client: a listing per lookup would be n requests.
	if got := counts["listClients"].Total; got > 3 {
		t.Fatalf("%d listing requests for %d lookups, want them to share a listing", got, n)
	}
	for k := range flaggedValid(w) {
		if w.get(k).Customer.PlatformIDs.ONe == "" {
			t.Fatalf("%s not written back", k)
		}
	}
}

// TestListingSurvivesABadPage: a malformed listing page is read again
// within the listing; no lookup (and no job) fails because of it.
func TestListingSurvivesABadPage(t *testing.T) {
	w, _ := lostCreates(t, 12, fault.Rule{Operation: "listClients", Malformed: true, Count: 2})
	w.sync()
	exactlyOnce(t, w)
	logs := w.logs.String()
	if !strings.Contains(logs, "listing page failed; reading it again") {
		t.Fatal("the malformed pages were not read again")
	}
	if strings.Contains(logs, "look up ONe client") {
		t.Fatal("a lookup failed over a malformed listing page")
	}
}

// TestRateLimitStormAndOutage: 429s with Retry-After and a full outage are
// ridden out; the breaker opens and closes; nothing is lost or duplicated.
func TestRateLimitStormAndOutage(t *testing.T) {
	w := newWorld(t, worldOpts{records: 30, configure: func(c *connector.Config) {
		c.ONe.Upstream = connector.Upstream{Workers: 4, BreakerFailures: 3, BreakerOpen: 300 * time.Millisecond}
	}})
	storm, _ := w.one.Faults().Add(fault.Rule{Operation: "createClient", Status: 429, RetryAfter: 1, Probability: 0.4})
	outage, _ := w.one.Faults().Add(fault.Rule{Operation: "createClient", Status: 503, Count: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.conn.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	opened := false
	for time.Now().Before(deadline) {
		st, err := w.conn.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Breakers["one"] == "open" {
			opened = true
		}
		if opened {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.one.Faults().Remove(outage)
	time.Sleep(1500 * time.Millisecond)
	w.one.Faults().Remove(storm)
	w.idle()
	exactlyOnce(t, w)
	st, _ := w.conn.Status(ctx)
	if !opened || st.Breakers["one"] != "closed" {
		t.Fatalf("breaker opened=%v, now %s", opened, st.Breakers["one"])
	}
	if c := w.one.Faults().Counts()["createClient"]; c.ByStatus[429] == 0 {
		t.Fatalf("the storm never hit: %+v", c)
	}
	if st.Queue.Dead != 0 {
		t.Fatalf("%d dead letters after a storm", st.Queue.Dead)
	}
}

func TestLifecycle(t *testing.T) {
	w := newWorld(t, worldOpts{records: 3, noStart: true})
	// Everything the test world runs (servers, the SQLite pool) is there
	// before the connector starts; whatever is left after Stop is a leak.
	ignore := goleak.IgnoreCurrent()
	w.start()
	w.sync()
	w.stop()
	w.stop() // twice
	// Stop before Start, then Start after Stop is refused.
	c, err := connector.New(connector.Options{Config: w.cfg, ERP: w.erp})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err == nil {
		t.Fatal("start after stop accepted")
	}
	goleak.VerifyNone(t, ignore)
}

// TestStopDuringMigration: a stop in the middle of a busy migration loses
// nothing; a restart finishes the work with no duplicate.
func TestStopDuringMigration(t *testing.T) {
	w := newWorld(t, worldOpts{records: 120, configure: func(c *connector.Config) {
		c.ONe.Upstream = connector.Upstream{Workers: 2, Rate: 200, Burst: 1}
	}})
	if _, err := w.one.Faults().Add(fault.Rule{Operation: "createClient", Latency: fault.Duration(5 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.conn.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for w.one.ClientCount(tenant) < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	w.stop()
	if n := w.one.ClientCount(tenant); n >= len(flaggedValid(w)) {
		t.Fatalf("migration finished before the stop (%d clients); the test proves nothing", n)
	}
	w.start()
	w.idle()
	exactlyOnce(t, w)
}

// TestSecretsStayOut: the API key never reaches logs or status.
func TestSecretsStayOut(t *testing.T) {
	w := newWorld(t, worldOpts{records: 5})
	w.one.Faults().Add(fault.Rule{Operation: "getClientSyncFeed", Status: 401, Count: 1})
	_ = w.conn.SyncOnce(context.Background())
	w.idle()
	st, err := w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := w.logs.String() + strings.Join(statusStrings(st), " ")
	if strings.Contains(all, apiKey) || strings.Contains(all, apiKey[:16]) {
		t.Fatal("the API key leaked into logs or status")
	}
	if !strings.Contains(w.logs.String(), "feed") {
		t.Fatal("the feed failure was not logged at all")
	}
	_ = oneapi.EscapeID
}
