package connector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/fault"
)

// TestSafeCreate: the platform commits creates and drops the connection
// before answering; the connector ends with exactly one record per ERP
// customer, each written back, adopted instead of created again.
func TestSafeCreate(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 8, noStart: true, configure: func(c *connector.Config) {
			// Every create fails alike: let the breaker probe again quickly.
			if c.ONe != nil {
				c.ONe.Upstream.BreakerOpen = 50 * time.Millisecond
			} else {
				c.CustomerAPI.Upstream.BreakerOpen = 50 * time.Millisecond
			}
		}})
		if _, err := h.faults(w).Add(fault.Rule{Operation: h.createOp, DropAfterCommit: true, Count: 2}); err != nil {
			t.Fatal(err)
		}
		if h.platform == capiHarness.platform {
			// The farm business unit's create is dropped too.
			if _, err := h.faults(w).Add(fault.Rule{Operation: "createBusinessUnit", DropAfterCommit: true, Count: 1}); err != nil {
				t.Fatal(err)
			}
		}
		w.start()
		w.sync()
		w.sync()
		exactlyOnce(t, w, h)
		if n := h.faults(w).Counts()[h.createOp].ByStatus[0]; n != 2 {
			t.Fatalf("%d dropped creates, want 2", n)
		}
		if !strings.Contains(w.logs.String(), "adopting the record an earlier attempt created") {
			t.Fatal("no adoption logged")
		}
		if h.platform == capiHarness.platform {
			for _, r := range h.valid(w) {
				if r.Value("holding_number") == "" {
					continue
				}
				if units := farmsOf(w, h.id(w, r.Key)); len(units) != 1 {
					t.Errorf("%s: %d farm business units", r.Key, len(units))
				}
			}
		}
		if dead := deadLetters(t, w, h); len(dead) != 0 {
			t.Fatalf("dead letters: %+v", dead)
		}
	})
}

// TestRateLimitStormAndOutage: 429s with Retry-After and a full outage are
// ridden out; the breaker opens and closes; nothing is lost or duplicated.
func TestRateLimitStormAndOutage(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		up := connector.Upstream{Workers: 4, BreakerFailures: 3, BreakerOpen: 300 * time.Millisecond}
		w := h.world(t, worldOpts{records: 30, configure: func(c *connector.Config) {
			if c.ONe != nil {
				c.ONe.Upstream = up
			} else {
				c.CustomerAPI.Upstream = up
			}
		}})
		storm, _ := h.faults(w).Add(fault.Rule{Operation: h.createOp, Status: 429, RetryAfter: 1, Probability: 0.4})
		outage, _ := h.faults(w).Add(fault.Rule{Operation: h.createOp, Status: 503, Count: 6})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := w.conn.SyncOnce(ctx); err != nil {
			t.Fatal(err)
		}
		upstream := map[string]string{"one": "one", "customerapi": "customer"}[h.name]
		opened := false
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !opened; {
			st, err := w.conn.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			opened = st.Breakers[upstream] == "open"
			time.Sleep(5 * time.Millisecond)
		}
		h.faults(w).Remove(outage)
		time.Sleep(1500 * time.Millisecond)
		h.faults(w).Remove(storm)
		w.idle()
		w.sync()
		exactlyOnce(t, w, h)
		st, _ := w.conn.Status(ctx)
		if !opened || st.Breakers[upstream] != "closed" {
			t.Fatalf("breaker opened=%v, now %s", opened, st.Breakers[upstream])
		}
		if c := h.faults(w).Counts()[h.createOp]; c.ByStatus[429] == 0 {
			t.Fatalf("the storm never hit: %+v", c)
		}
		if st.Queue.Dead != 0 {
			t.Fatalf("%d dead letters after a storm", st.Queue.Dead)
		}
	})
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
	forEach(t, func(t *testing.T, h harness) {
		up := connector.Upstream{Workers: 2, Rate: 200, Burst: 1}
		w := h.world(t, worldOpts{records: 120, configure: func(c *connector.Config) {
			if c.ONe != nil {
				c.ONe.Upstream = up
			} else {
				c.CustomerAPI.Upstream = up
			}
		}})
		// Creates at 100 ms each on 2 workers: the Customer API's 46 farms
		// take over 2 s, ONe's clients more, so the stop after the 10th
		// comes well before the end even on a loaded machine.
		if _, err := h.faults(w).Add(fault.Rule{Operation: h.createOp, Latency: fault.Duration(100 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		if err := w.conn.SyncOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		for h.count(w) < 10 {
			time.Sleep(5 * time.Millisecond)
		}
		w.stop()
		if n := h.count(w); n >= len(h.valid(w)) {
			t.Fatalf("migration finished before the stop (%d records); the test proves nothing", n)
		}
		w.start()
		w.idle()
		w.sync()
		exactlyOnce(t, w, h)
	})
}

// TestSecretsStayOut: the API key and the password never reach logs or
// status, even when the platform refuses them.
func TestSecretsStayOut(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 5})
		// The platform refuses every request (the Customer API's login too):
		// a request it accepted would rightly end the refusal.
		if _, err := h.faults(w).Add(fault.Rule{Operation: "*", Status: 401}); err != nil {
			t.Fatal(err)
		}
		_ = w.conn.SyncOnce(context.Background())
		// The refused credentials pause the platform's upstream (its jobs
		// wait for the next probe): the status says so, the secret stays out.
		st, err := w.conn.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		refused := false
		for _, u := range st.Upstreams {
			refused = refused || u.CredentialsRefused
		}
		if !refused {
			t.Fatalf("status does not show the refused credentials: %+v", st.Upstreams)
		}
		all := w.logs.String() + strings.Join(statusStrings(st), " ")
		for _, secret := range []string{apiKey, apiKey[:16], capiPass} {
			if strings.Contains(all, secret) {
				t.Fatal("a secret leaked into logs or status")
			}
		}
		if !strings.Contains(w.logs.String(), "401") {
			t.Fatal("the refusal was not logged at all")
		}
	})
}

// TestChangeSourceRidesOutRateLimits: the change source answers 429 with
// Retry-After (ONe's feed, the Customer API's listing) and then 503s; the
// pass waits them out and succeeds, and the platform's changes arrive.
func TestChangeSourceRidesOutRateLimits(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 6, configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: connector.OwnerPlatform}}
		}})
		w.sync()
		r := h.firstValid(t, w)
		h.rename(w, h.id(w, r.Key), "Renamed During A Storm Ltd")
		if _, err := h.faults(w).Add(fault.Rule{Operation: h.changesOp, Status: 429, RetryAfter: 1, Count: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.faults(w).Add(fault.Rule{Operation: h.changesOp, Status: 503, Count: 1}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.conn.SyncOnce(ctx); err != nil {
			t.Fatalf("a pass failed over a rate limit: %v", err)
		}
		w.idle()
		if got := w.get(r.Key).Customer.Name; got != "Renamed During A Storm Ltd" {
			t.Fatalf("the platform change did not arrive: %q", got)
		}
		if c := h.faults(w).Counts()[h.changesOp]; c.ByStatus[429] != 2 || c.ByStatus[503] != 1 {
			t.Fatalf("the storm did not hit: %+v", c)
		}
	})
}

// TestRefusedCredentials: with a wrong API key (ONe) or password (the
// Customer API) the platform's upstream is paused, not its records: no
// dead letter, the jobs wait; status, readiness and a metric say why, one
// error is logged; after a reload with the right credentials every record
// is delivered.
func TestRefusedCredentials(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		const wrong = "a-wrong-secret-0123456789"
		// One attempt each: an attempt counted against a record would bury it.
		w := h.world(t, worldOpts{records: 12, noStart: true, configure: func(c *connector.Config) { c.Queue.MaxAttempts = 1 }})
		good := w.cfg
		bad := w.cfg
		if bad.ONe != nil {
			one := *bad.ONe
			one.APIKey = wrong
			bad.ONe = &one
		} else {
			ca := *bad.CustomerAPI
			ca.Password = wrong
			bad.CustomerAPI = &ca
		}
		w.cfg = bad
		w.start()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = w.conn.SyncOnce(ctx) // the change source is refused too
		upstream := map[string]string{"one": "one", "customerapi": "customer"}[h.name]
		var st connector.Status
		for deadline := time.Now().Add(20 * time.Second); ; {
			var err error
			if st, err = w.conn.Status(ctx); err != nil {
				t.Fatal(err)
			}
			if st.Upstreams[upstream].CredentialsRefused && st.Queue.Counts.Total() > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the refusal never showed: %+v\n%s", st, w.logLines())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the held jobs come back
		if st, _ = w.conn.Status(ctx); st.Queue.Dead != 0 || st.Queue.Counts.Total() == 0 {
			t.Fatalf("refused credentials failed records: %+v", st.Queue)
		}
		r := w.conn.Readiness()
		if r.Ready || !strings.Contains(r.Reasons[upstream], "refuses the credentials") {
			t.Fatalf("readiness %+v", r)
		}
		if got := gauge(t, w, "erpconnector_queue_credentials_refused"); got != 1 {
			t.Fatalf("credentials_refused = %v", got)
		}
		logs := w.logs.String()
		if n := strings.Count(logs, "refuses the connector's credentials"); n != 1 {
			t.Fatalf("the refusal was logged %d times, want once\n%s", n, w.logLines())
		}
		if strings.Contains(logs, wrong) || strings.Contains(strings.Join(statusStrings(st), ""), wrong) {
			t.Fatal("the refused secret appears in the logs or the status")
		}
		// A reload with the right credentials: a new generation on the same state.
		w.stop()
		w.cfg = good
		w.start()
		w.sync()
		w.sync()
		exactlyOnce(t, w, h)
		if st, _ = w.conn.Status(ctx); st.Queue.Dead != 0 {
			t.Fatalf("%d dead letters after the reload", st.Queue.Dead)
		}
		if r := w.conn.Readiness(); !r.Ready {
			t.Fatalf("not ready after the reload: %+v", r)
		}
	})
}

// gauge reads one series of the running connector's metrics.
func gauge(t *testing.T, w *world, name string) float64 {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}
