package connector

import (
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
)

// The run history: a record of each run of each pipeline (the names given
// to run: RunNewCustomers, RunUpdates, …) with its start, end, error and
// what its records came to on each platform.
//
// Attribution. The outcomes of a run happen in the queue's workers after
// the run has returned, so a job carries the id of the run that queued it
// (the "run" field of its JSON payload; stampRun). A job a delivery queues
// (the push that follows a pull, the pull that follows a push) carries the
// run of the job being delivered. A delivery's outcomes (counted where the
// status counters count them) go to the record of the job's run, and a job
// that goes to the dead letters counts as rejected there. Further:
//
//   - A job replaced, before its delivery, by a newer job with the same key
//     counts for the newer job's run.
//   - A dead letter replayed by an operator (the admin API or the status
//     page) counts for a record of its own, pipeline "replay", made by the
//     replay, until its outcome is final (delivered or dead again). The
//     mark is kept in memory: after a restart the replayed job counts for
//     the run that first queued it. A dead letter tried again by the heal
//     (the updates run) counts for the run that first queued it.
//   - A job without a run id (queued by an earlier version) or whose run is
//     no longer kept counts for this process's record of pipeline "other".
//   - ERP records the run could not read count as Unreadable on the run.
//
// Cost. Counting is a map update under the book's mutex; nothing is
// written per record. The book writes the records it changed to the state
// file every runFlushEvery, in one transaction that also prunes the
// history, and once more when the connector stops.
//
// Retention. Records that ended more than runHistoryAge ago go, and so do
// all but the newest runHistoryPerPipeline of each pipeline. Runs of a
// pipeline that did nothing (nothing read, queued or counted, the same
// error or none) in a row share one record (RunRecord.Runs), so a frequent
// idle poll does not push the runs that did something out.

// RunRecord and RunCounts are the run history's records (Status.RunHistory).
type (
	RunRecord = state.RunRecord
	RunCounts = state.RunCounts
)

// Pipelines of the run history that are not runs.
const (
	// RunReplay records an operator's replay of dead letters.
	RunReplay = "replay"
	// RunOther collects the outcomes no kept run claims.
	RunOther = "other"
)

const (
	runHistoryAge         = 7 * 24 * time.Hour
	runHistoryPerPipeline = 50
	runFlushEvery         = 2 * time.Second
	// maxReplayMarks bounds the dead letters one replay marks as its own.
	maxReplayMarks = 10000
)

// runBook holds the run history in memory.
type runBook struct {
	now func() time.Time

	mu      sync.Mutex
	recs    []*RunRecord // in id order
	byID    map[uint64]*RunRecord
	lastID  uint64
	dirty   map[uint64]bool
	dropped []uint64          // ids merged away, to delete from the file
	other   uint64            // this process's record of unclaimed outcomes
	replays map[string]uint64 // job key → the replay record it counts for
}

func newRunBook(now func() time.Time) *runBook {
	return &runBook{now: now, byID: map[uint64]*RunRecord{}, dirty: map[uint64]bool{}, replays: map[string]uint64{}}
}

// retention is the history's retention as of now.
func (b *runBook) retention() state.RunRetention {
	return state.RunRetention{Since: b.now().Add(-runHistoryAge), PerPipeline: runHistoryPerPipeline}
}

// load takes in the records kept in the state file. A record without an
// end is a run the previous process did not finish.
func (b *runBook) load(recs []RunRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range recs {
		r := r.Clone()
		if r.End.IsZero() {
			r.End, r.Error = r.Start, "did not finish: the process ended first"
			b.dirty[r.ID] = true
		}
		b.add(&r)
	}
}

// add appends a record (its id above every other).
func (b *runBook) add(r *RunRecord) {
	b.recs = append(b.recs, r)
	b.byID[r.ID] = r
	b.lastID = max(b.lastID, r.ID)
}

// newRecord starts a record of a pipeline. Ids follow the start time in
// microseconds, so they stay unique across restarts without a write.
func (b *runBook) newRecord(pipeline string) *RunRecord {
	now := b.now().UTC()
	id := uint64(max(now.UnixMicro(), 0))
	if id <= b.lastID {
		id = b.lastID + 1
	}
	r := &RunRecord{ID: id, Pipeline: pipeline, Start: now}
	b.add(r)
	b.dirty[id] = true
	return r
}

// begin records the start of a run and returns its id.
func (b *runBook) begin(pipeline string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.newRecord(pipeline).ID
}

// end records the end of a run; an idle run that follows an idle record of
// its pipeline with the same error joins it.
func (b *runBook) end(id uint64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.byID[id]
	if r == nil {
		return
	}
	r.End = b.now().UTC()
	if err != nil {
		r.Error = err.Error()
	}
	b.dirty[id] = true
	if prev := b.previous(r); prev != nil && prev.Idle() && r.Idle() && prev.Error == r.Error {
		prev.End, prev.Runs = r.End, max(prev.Runs, 1)+max(r.Runs, 1)
		b.dirty[prev.ID] = true
		b.remove(id)
	}
}

// previous returns the ended record of r's pipeline just before r.
func (b *runBook) previous(r *RunRecord) *RunRecord {
	for i := len(b.recs) - 1; i >= 0; i-- {
		p := b.recs[i]
		if p.ID < r.ID && p.Pipeline == r.Pipeline {
			if p.End.IsZero() {
				return nil
			}
			return p
		}
	}
	return nil
}

// remove forgets a record and deletes it from the file at the next flush.
func (b *runBook) remove(id uint64) {
	b.forget(id)
	b.dropped = append(b.dropped, id)
}

// forget drops a record from memory.
func (b *runBook) forget(id uint64) {
	delete(b.byID, id)
	delete(b.dirty, id)
	for i, r := range b.recs {
		if r.ID == id {
			b.recs = append(b.recs[:i], b.recs[i+1:]...)
			break
		}
	}
}

// claim returns the record an outcome of run counts for: run's, else this
// process's "other" record. The caller holds mu.
func (b *runBook) claim(run uint64) *RunRecord {
	if r := b.byID[run]; r != nil && run != 0 {
		return r
	}
	r := b.byID[b.other]
	if r == nil {
		r = b.newRecord(RunOther)
		b.other = r.ID
	}
	r.End = b.now().UTC()
	return r
}

// tally changes the counts of platform p on the record run's outcomes go to.
func (b *runBook) tally(run uint64, p string, fn func(*RunCounts)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.claim(run)
	if r.Platforms == nil {
		r.Platforms = map[string]RunCounts{}
	}
	c := r.Platforms[p]
	fn(&c)
	r.Platforms[p] = c
	b.dirty[r.ID] = true
}

// unreadable counts ERP records a run could not read.
func (b *runBook) unreadable(run uint64, n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.claim(run)
	r.Unreadable += n
	b.dirty[r.ID] = true
}

// addOutcome counts a named outcome (the status counters' names); it
// reports false for a name the run history does not count.
func addOutcome(c *RunCounts, outcome string) bool {
	switch outcome {
	case "created", "imported":
		c.Created++
	case "updated", "pulled":
		c.Updated++
	case "adopted":
		c.Adopted++
	case "deleted", "deactivated", "unbound", "unlinked", "marked_deleted":
		c.Deleted++
	case "unchanged":
		c.Unchanged++
	case "rejected", "refused":
		c.Rejected++
	default:
		return false
	}
	return true
}

// snapshot returns copies of the records, newest first.
func (b *runBook) snapshot() []RunRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]RunRecord, 0, len(b.recs))
	for i := len(b.recs) - 1; i >= 0; i-- {
		out = append(out, b.recs[i].Clone())
	}
	return out
}
