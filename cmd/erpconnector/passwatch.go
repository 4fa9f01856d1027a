package main

import (
	"github.com/erpconnector/erpconnector/connector"
)

// passWatch tells, from a running daemon's status, whether the pass of
// `sync --once` asked of it is delivered. The status has no id of the
// pass; the watch goes by the run history, which the status gives as one
// consistent snapshot of every kept run, running or ended:
//
//   - The pass runs each run of the schedules but resync once, one after the
//     other. The runs the watch waits for are those the status lists before
//     the pass (Status.Runs: the scheduled ones and those that ran), and any
//     run that first shows up in the history after it.
//   - A record of the history stands for one run or, once ended, for
//     several idle runs in a row (RunRecord.Runs): an idle run that ends
//     joins the record before it. So the runs a pipeline has ended are the
//     sum over its ended records, and the watch notes that sum per record
//     before the pass.
//   - Runs going on before the pass began before it. The pass's run of a
//     pipeline has ended once the history has ended more runs of it than
//     the runs going on before the pass: at most that many of the new ends
//     are theirs.
//
// The pass is delivered when each of its runs has ended, no run begun since
// is still going on, the queue holds no job and no platform id waits to be
// written back to the ERP.
type passWatch struct {
	newest uint64         // the newest record before the pass
	ended  map[uint64]int // record → the runs it had ended before the pass
	need   map[string]int // pipeline → the new ends its run of the pass needs
}

// passPipeline reports whether a pass of sync runs the pipeline.
func passPipeline(name string) bool {
	return name != connector.RunResync && name != connector.RunReplay && name != connector.RunOther
}

func newPassWatch(before connector.Status) passWatch {
	w := passWatch{ended: map[uint64]int{}, need: map[string]int{}}
	for name := range before.Runs {
		if passPipeline(name) {
			w.need[name] = 1
		}
	}
	for _, r := range before.RunHistory {
		w.newest = max(w.newest, r.ID)
		switch {
		case !r.End.IsZero():
			w.ended[r.ID] = max(r.Runs, 1)
		case passPipeline(r.Pipeline):
			w.need[r.Pipeline]++ // going on: its end is not the pass's
		}
	}
	return w
}

// passProgress is how far a pass is.
type passProgress struct {
	// Runs counts the runs of the pass, RunsDone those that have ended.
	Runs, RunsDone int
	// Running is set while a run begun since the pass was asked for goes on.
	Running bool
	// Queued counts the jobs in the queue, WriteBacks the platform ids that
	// wait to be written back to the ERP.
	Queued, WriteBacks int
}

// Delivered reports whether the pass is over and its work delivered.
func (p passProgress) Delivered() bool {
	return p.Runs > 0 && p.RunsDone == p.Runs && !p.Running && p.Queued == 0 && p.WriteBacks == 0
}

// progress is how far the pass is as of st.
func (w passWatch) progress(st connector.Status) passProgress {
	p := passProgress{Queued: st.Queue.Counts.Total(), WriteBacks: st.WriteBacksPending}
	need := make(map[string]int, len(w.need))
	for name, n := range w.need {
		need[name] = n
	}
	gained := map[string]int{}
	for _, r := range st.RunHistory {
		if !passPipeline(r.Pipeline) {
			continue
		}
		if r.ID > w.newest && need[r.Pipeline] == 0 {
			need[r.Pipeline] = 1 // a run the status did not list before
		}
		if r.End.IsZero() {
			p.Running = p.Running || r.ID > w.newest
			continue
		}
		gained[r.Pipeline] += max(r.Runs, 1) - w.ended[r.ID]
	}
	for name, n := range need {
		p.Runs++
		if gained[name] >= n {
			p.RunsDone++
		}
	}
	return p
}
