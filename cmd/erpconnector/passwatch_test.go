package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
)

// rec is a run record: started at second id, ended (or running when end is
// false), standing for runs idle runs when runs > 1.
func rec(id uint64, pipeline string, end bool, runs int) connector.RunRecord {
	r := connector.RunRecord{ID: id, Pipeline: pipeline, Start: time.Unix(int64(id), 0), Runs: runs}
	if end {
		r.End = r.Start.Add(time.Second)
	}
	return r
}

// status is a status with the runs names lists (as scheduled), the run
// history recs (newest first) and queued jobs in the queue.
func status(names []string, queued int, recs ...connector.RunRecord) connector.Status {
	st := connector.Status{Runs: map[string]connector.RunStatus{}, RunHistory: recs}
	for _, n := range names {
		st.Runs[n] = connector.RunStatus{}
	}
	st.Queue.Ready = queued
	return st
}

func TestPassWatch(t *testing.T) {
	names := []string{"new_customers", "updates", "feed", "resync"}
	// Before the pass: updates and feed ran (feed's record stands for 3
	// idle runs), and a scheduled run of updates is going on.
	before := status(names, 0,
		rec(30, "updates", false, 0),
		rec(20, "feed", true, 3),
		rec(10, "updates", true, 0),
		rec(5, "replay", false, 0))
	w := newPassWatch(before)
	steps := []struct {
		what      string
		st        connector.Status
		done, all int
		delivered bool
	}{
		{"nothing yet", before, 0, 3, false},
		{"the run going on before ends: not the pass's", status(names, 5,
			rec(40, "new_customers", false, 0), rec(30, "updates", true, 0), rec(20, "feed", true, 3), rec(10, "updates", true, 0)),
			0, 3, false},
		{"new_customers ends, updates runs", status(names, 5,
			rec(50, "updates", false, 0), rec(40, "new_customers", true, 0), rec(30, "updates", true, 0), rec(20, "feed", true, 3)),
			1, 3, false},
		{"updates ends; an idle feed joins the record before it; a certificates run shows up", status(names, 2,
			rec(70, "certificates", false, 0), rec(50, "updates", true, 0), rec(40, "new_customers", true, 0),
			rec(30, "updates", true, 0), rec(20, "feed", true, 4)),
			3, 4, false},
		{"every run ended, jobs still queued", status(names, 2,
			rec(70, "certificates", true, 0), rec(50, "updates", true, 0), rec(40, "new_customers", true, 0),
			rec(30, "updates", true, 0), rec(20, "feed", true, 4)),
			4, 4, false},
		{"delivered; a run of the replay and an old record pruned do not matter", status(names, 0,
			rec(80, "replay", false, 0), rec(70, "certificates", true, 0), rec(50, "updates", true, 0), rec(40, "new_customers", true, 0),
			rec(30, "updates", true, 0), rec(20, "feed", true, 4)),
			4, 4, true},
	}
	for _, s := range steps {
		p := w.progress(s.st)
		if p.RunsDone != s.done || p.Runs != s.all || p.Delivered() != s.delivered {
			t.Errorf("%s: %d of %d runs done, delivered %v; want %d of %d, %v", s.what, p.RunsDone, p.Runs, p.Delivered(), s.done, s.all, s.delivered)
		}
	}
}

// A run begun after the pass was asked for that is still going on holds
// the pass, and so does a platform id waiting to be written back.
func TestPassWatchWaitsForRunsAndWriteBacks(t *testing.T) {
	w := newPassWatch(status([]string{"feed"}, 0, rec(10, "feed", true, 0)))
	st := status([]string{"feed"}, 0, rec(30, "feed", false, 0), rec(20, "feed", true, 0), rec(10, "feed", true, 0))
	if p := w.progress(st); p.RunsDone != 1 || !p.Running || p.Delivered() {
		t.Fatalf("with a new run going on: %+v", p)
	}
	st = status([]string{"feed"}, 0, rec(20, "feed", true, 0), rec(10, "feed", true, 0))
	st.WriteBacksPending = 1
	if p := w.progress(st); p.Delivered() {
		t.Fatalf("with a write-back pending: %+v", p)
	}
	// A status that lists no run waits for one to show up.
	w = newPassWatch(status(nil, 0))
	if p := w.progress(status(nil, 0)); p.Delivered() {
		t.Fatalf("delivered before any run: %+v", p)
	}
}

// oldDaemon answers Status and Sync as a daemon without the run history
// would.
type oldDaemon struct {
	connector.Control
	syncs int
}

func (d *oldDaemon) Status(context.Context) (connector.Status, error) {
	return connector.Status{Runs: map[string]connector.RunStatus{"feed": {}}}, nil
}

func (d *oldDaemon) Sync(context.Context) (connector.RunResult, error) {
	d.syncs++
	return connector.RunResult{}, nil
}

// A daemon that reports no run history has the pass started and sync says
// it does not wait, rather than wait for ever.
func TestSyncDoesNotWaitWithoutRunHistory(t *testing.T) {
	var stdout, stderr strings.Builder
	g := &globals{output: "text", stdout: &stdout, stderr: &stderr}
	d := &oldDaemon{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.syncDaemon(ctx, d, true); err != nil {
		t.Fatal(err)
	}
	if d.syncs != 1 || !strings.Contains(stdout.String(), "sync started on the running daemon; not waiting for delivery") ||
		!strings.Contains(stderr.String(), "reports no run history") {
		t.Fatalf("%d syncs\n%s%s", d.syncs, stdout.String(), stderr.String())
	}
}
