package state

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/queue"
)

// The run history keeps what it is given across a reopen of the file,
// replaces a record written again, deletes what it is told to, and prunes
// on every write: records that ended before the retention's start, and
// all but the newest PerPipeline of each pipeline (a running record counts
// by its start).
func TestRunHistoryIsKeptAndPrunedOnWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() (*queue.Store, *Store) {
		q, err := queue.Open(path, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q, s
	}
	q, s := open()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	rec := func(id uint64, pipeline string, ago time.Duration, counts map[string]RunCounts) RunRecord {
		start := now.Add(-ago)
		return RunRecord{ID: id, Pipeline: pipeline, Start: start, End: start.Add(time.Second), Platforms: counts}
	}
	keep := RunRetention{Since: now.Add(-7 * 24 * time.Hour), PerPipeline: 2}
	put := func(recs []RunRecord, drop []uint64) []uint64 {
		t.Helper()
		var pruned []uint64
		if err := s.Update(ctx, func(tx *Tx) error {
			var err error
			pruned, err = tx.PutRuns(recs, drop, keep)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return pruned
	}
	list := func() []RunRecord {
		t.Helper()
		var out []RunRecord
		if err := s.View(ctx, func(tx *Tx) error {
			var err error
			out, err = tx.Runs()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ids := func(recs []RunRecord) []uint64 {
		var out []uint64
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}

	counts := map[string]RunCounts{"one": {Read: 5, Queued: 4, Created: 3, Rejected: 1}}
	old := rec(1, "updates", 8*24*time.Hour, nil)
	if pruned := put([]RunRecord{old, rec(2, "updates", time.Hour, counts), rec(3, "feed", time.Hour, nil)}, nil); !reflect.DeepEqual(pruned, []uint64{1}) {
		t.Fatalf("pruned %v, want the 8-day-old run", pruned)
	}
	running := RunRecord{ID: 6, Pipeline: "updates", Start: now}
	put([]RunRecord{rec(4, "updates", 30*time.Minute, nil), rec(5, "feed", 20*time.Minute, nil), running}, nil)
	if got := ids(list()); !reflect.DeepEqual(got, []uint64{3, 4, 5, 6}) {
		t.Fatalf("kept %v, want the newest two of each pipeline", got)
	}

	// Written again (its counts grew), and one dropped; kept across a reopen.
	grown := running
	grown.End, grown.Platforms = now.Add(time.Minute), counts
	put([]RunRecord{grown}, []uint64{5})
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, s = open()
	defer q.Close()
	got := list()
	if !reflect.DeepEqual(ids(got), []uint64{3, 4, 6}) {
		t.Fatalf("after a reopen %v", ids(got))
	}
	if last := got[2]; !last.End.Equal(grown.End) || !reflect.DeepEqual(last.Platforms, counts) || last.Idle() {
		t.Fatalf("record read back %+v, want %+v", last, grown)
	}
	if !got[0].Idle() {
		t.Fatalf("a record without counts is idle: %+v", got[0])
	}
}

// Clone copies the counts: changing the copy leaves the record.
func TestRunRecordCloneIsDeep(t *testing.T) {
	r := RunRecord{ID: 1, Platforms: map[string]RunCounts{"one": {Created: 1}}}
	c := r.Clone()
	c.Platforms["one"] = RunCounts{Created: 2}
	if r.Platforms["one"].Created != 1 {
		t.Fatal("the clone shares the counts")
	}
}
