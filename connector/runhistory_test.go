package connector_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
)

// refusedWorld is a ONe world of n records of which the first `refused`
// flagged for ONe are refused by the platform (they go to the dead
// letters); it returns those records.
func refusedWorld(t *testing.T, n, refused int, o worldOpts) (*world, []erpgen.Record) {
	t.Helper()
	var out []erpgen.Record
	o.records = n
	o.edit = func(recs []erpgen.Record) {
		for i := range recs {
			r := &recs[i]
			if len(out) < refused && oneHarness.wants(*r) && r.Invalid == "" && !r.Deleted {
				oneHarness.refuse(r)
				out = append(out, *r)
			}
		}
	}
	w := newWorld(t, o)
	if len(out) != refused {
		t.Fatalf("only %d records to refuse", len(out))
	}
	return w, out
}

// latestRun returns the newest run record of a pipeline.
func latestRun(t *testing.T, w *world, pipeline string) connector.RunRecord {
	t.Helper()
	st, err := w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.RunHistory {
		if r.Pipeline == pipeline {
			return r
		}
	}
	t.Fatalf("no %s run in the history: %+v", pipeline, st.RunHistory)
	return connector.RunRecord{}
}

// TestRunHistoryCountsOutcomesPerRun: the outcomes the queue's workers
// reach after a run has returned count for the run that queued the jobs
// (created, rejected = dead letters); an operator's replay has its own
// record; the history survives a restart.
func TestRunHistoryCountsOutcomesPerRun(t *testing.T) {
	w, refused := refusedWorld(t, 12, 2, worldOpts{})
	w.sync()
	st, err := w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(st); !strings.Contains(string(b), `"run_history":[{`) {
		t.Fatalf("status JSON without its run history: %s", b)
	}
	scan := latestRun(t, w, connector.RunNewCustomers)
	one := scan.Platforms["one"]
	dead := deadLetters(t, w, oneHarness)
	if one.Created == 0 || one.Created != st.Bindings["one"] || one.Rejected != len(dead) || len(dead) != 2 ||
		one.Queued < one.Created+one.Rejected || one.Read < one.Queued || scan.End.IsZero() || scan.Error != "" {
		t.Fatalf("new customers run %+v (bindings %d, dead letters %d)", scan, st.Bindings["one"], len(dead))
	}
	hs := httptest.NewServer(w.conn.AdminHandler(connector.AdminOptions{}))
	defer hs.Close()
	replay := func() connector.RunRecord {
		t.Helper()
		if code, body := adminCall(t, hs.URL, "POST", "/api/v1/dlq/replay", "", "{}"); code != 200 {
			t.Fatalf("replay: %d %s", code, body)
		}
		w.idle()
		return latestRun(t, w, connector.RunReplay)
	}
	// Replayed unfixed: refused again, counted for the replay.
	if r := replay().Platforms["one"]; r.Queued != 2 || r.Rejected != 2 || r.Created != 0 {
		t.Fatalf("replay of the refused records: %+v", r)
	}
	// One fixed in the ERP: created, for the second replay.
	fixed := refused[0]
	oneHarness.fix(&fixed)
	w.put(fixed)
	second := replay()
	if r := second.Platforms["one"]; r.Queued != 2 || r.Rejected != 1 || r.Created != 1 {
		t.Fatalf("replay after a fix: %+v", r)
	}
	if again := latestRun(t, w, connector.RunNewCustomers); again.ID != scan.ID || again.Platforms["one"] != one {
		t.Fatalf("the replays changed the scan's record: %+v, was %+v", again, scan)
	}

	w.stop()
	w.start()
	st, err = w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range st.RunHistory {
		if r.ID == scan.ID && r.Platforms["one"] == one || r.ID == second.ID && r.Platforms["one"] == second.Platforms["one"] {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("after a restart the run history is %+v", st.RunHistory)
	}
}

// TestRunHistoryCountsExhaustedRetriesAsRejected: a record whose last
// attempt fails (the platform keeps answering 500) goes to the dead
// letters and counts as rejected for its run; the others are created.
func TestRunHistoryCountsExhaustedRetriesAsRejected(t *testing.T) {
	w := newWorld(t, worldOpts{records: 6, configure: func(c *connector.Config) {
		c.Queue.MaxAttempts = 1
		c.ONe.Upstream.BreakerFailures = 100
	}})
	if _, err := w.one.Faults().Add(fault.Rule{Operation: oneHarness.createOp, Status: 500, Count: 2}); err != nil {
		t.Fatal(err)
	}
	w.sync()
	one := latestRun(t, w, connector.RunNewCustomers).Platforms["one"]
	dead := deadLetters(t, w, oneHarness)
	if len(dead) != 2 || one.Rejected != 2 || one.Created == 0 || one.Created+one.Rejected != one.Queued {
		t.Fatalf("scan counts %+v with %d dead letters\n%s", one, len(dead), w.logLines())
	}
}
