package connector

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// Idle runs of a pipeline in a row share one record while their error is
// the same; a run that read something, or failed otherwise, has its own.
func TestRunHistoryFoldsIdleRuns(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b := newRunBook(func() time.Time { now = now.Add(time.Second); return now })
	run := func(pipeline string, err error, read int) {
		id := b.begin(pipeline)
		if read > 0 {
			b.tally(id, "one", func(rc *RunCounts) { rc.Read += read })
		}
		b.end(id, err)
	}
	run("feed", nil, 0)
	run("feed", nil, 0)
	run("updates", nil, 0) // another pipeline between them does not stop the fold
	run("feed", nil, 0)
	down := errors.New("the platform is down")
	run("feed", down, 0)
	run("feed", down, 0)
	run("feed", nil, 3)
	run("feed", nil, 0)
	got := b.snapshot()
	type row struct {
		pipeline, err string
		runs, read    int
	}
	want := []row{{"feed", "", 0, 0}, {"feed", "", 0, 3}, {"feed", down.Error(), 2, 0}, {"updates", "", 0, 0}, {"feed", "", 3, 0}}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Pipeline != w.pipeline || g.Error != w.err || g.Runs != w.runs || g.Platforms["one"].Read != w.read {
			t.Errorf("record %d: %+v, want %+v", i, g, w)
		}
	}
	if first := got[4]; !first.End.After(first.Start.Add(5 * time.Second)) {
		t.Errorf("the folded record ends with its last run: %+v", first)
	}
	if len(b.dropped) != 3 {
		t.Errorf("%d folded records to delete from the file, want 3", len(b.dropped))
	}
}

// Outcomes of jobs without a run, or of a run no longer kept, go to one
// record of pipeline "other"; those of a kept run go to it.
func TestRunHistoryOtherClaimsUnknownRuns(t *testing.T) {
	b := newRunBook(time.Now)
	id := b.begin(RunUpdates)
	b.end(id, nil)
	for _, run := range []uint64{0, 12345, id} {
		b.tally(run, "one", func(rc *RunCounts) { addOutcome(rc, "created") })
	}
	if !addOutcome(&RunCounts{}, "marked_deleted") || addOutcome(&RunCounts{}, "pull") {
		t.Fatal("addOutcome counts the status counters' outcomes only")
	}
	recs := b.snapshot()
	if len(recs) != 2 || recs[0].Pipeline != RunOther || recs[0].Platforms["one"].Created != 2 ||
		recs[1].ID != id || recs[1].Platforms["one"].Created != 1 {
		t.Fatalf("records %+v", recs)
	}
}

// A payload is stamped with the run in its context, once, and reads back
// with its fields; without a run it is left as it is.
func TestStampRunWritesTheRunIntoPayloads(t *testing.T) {
	p, _ := json.Marshal(pushPayload{Op: opUpsert, Hash: "h"})
	jobs := []queue.Job{{Payload: p}, {Payload: []byte("{}")}, {Payload: []byte(`{"run":3,"id":"x"}`)}, {Payload: []byte("not json")}}
	stampRun(context.Background(), jobs)
	if string(jobs[0].Payload) != string(p) {
		t.Fatalf("stamped without a run: %s", jobs[0].Payload)
	}
	stampRun(withRun(context.Background(), 42), jobs)
	var push pushPayload
	if err := json.Unmarshal(jobs[0].Payload, &push); err != nil || push.Run != 42 || push.Op != opUpsert || push.Hash != "h" {
		t.Fatalf("push payload %s: %+v %v", jobs[0].Payload, push, err)
	}
	var pull pullPayload
	if err := json.Unmarshal(jobs[1].Payload, &pull); err != nil || pull.Run != 42 {
		t.Fatalf("empty payload %s: %v", jobs[1].Payload, err)
	}
	if err := json.Unmarshal(jobs[2].Payload, &pull); err != nil || pull.Run != 3 || pull.ID != "x" {
		t.Fatalf("a stamped payload keeps its run: %s", jobs[2].Payload)
	}
	if string(jobs[3].Payload) != "not json" {
		t.Fatalf("a payload that is no JSON object is left: %s", jobs[3].Payload)
	}
}
