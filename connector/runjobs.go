package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/queue"
)

// How runs and jobs meet in the run history (see runhistory.go).

type runCtxKey struct{}

// withRun returns ctx naming the run (or the job's run, in a delivery)
// whose work is done under it.
func withRun(ctx context.Context, id uint64) context.Context {
	return context.WithValue(ctx, runCtxKey{}, id)
}

// runOf returns the run ctx names (0: none).
func runOf(ctx context.Context) uint64 {
	id, _ := ctx.Value(runCtxKey{}).(uint64)
	return id
}

// runField starts a payload stamped with its run.
var runField = []byte(`{"run":`)

// stampRun writes the run ctx names into the payloads of jobs about to be
// queued (the payloads are JSON objects; one that names a run already
// keeps it).
func stampRun(ctx context.Context, jobs []queue.Job) {
	run := runOf(ctx)
	if run == 0 {
		return
	}
	for i := range jobs {
		j := &jobs[i]
		if len(j.Payload) < 2 || j.Payload[0] != '{' || bytes.HasPrefix(j.Payload, runField) {
			continue
		}
		p := strconv.AppendUint(bytes.Clone(runField), run, 10)
		if !bytes.Equal(bytes.TrimSpace(j.Payload[1:]), []byte("}")) {
			p = append(p, ',')
		}
		j.Payload = append(p, j.Payload[1:]...)
	}
}

// noteQueued counts jobs queued (committed) as queued by the run ctx names.
func (c *Connector) noteQueued(ctx context.Context, jobs []queue.Job) {
	run := runOf(ctx)
	if run == 0 || len(jobs) == 0 {
		return
	}
	queued := map[string]int{}
	for _, j := range jobs {
		if s := c.siteOfType(j.Type); s != nil {
			queued[string(s.name)] += s.jobRecords(j)
		}
	}
	for p, n := range queued {
		c.book.tally(run, p, func(rc *RunCounts) { rc.Queued += n })
	}
}

// siteOfType returns the site whose pool delivers a job type, or nil.
func (c *Connector) siteOfType(typ string) *site {
	prefix, _, _ := strings.Cut(typ, ".")
	return c.siteOfPrefix(prefix)
}

// siteOfJobKey returns the site a job key ("one:push:<erp key>") names, or nil.
func (c *Connector) siteOfJobKey(key string) *site {
	prefix, _, _ := strings.Cut(key, ":")
	return c.siteOfPrefix(prefix)
}

// siteOfPrefix returns the site with a job prefix, or nil.
func (c *Connector) siteOfPrefix(prefix string) *site {
	for _, s := range c.sites {
		if s.prefix == prefix {
			return s
		}
	}
	return nil
}

// count counts an outcome in the status counters and in the run history
// (for the run ctx names).
func (c *Connector) count(ctx context.Context, s *site, direction, outcome string) {
	c.st.count(direction, outcome)
	c.book.tally(runOf(ctx), string(s.name), func(rc *RunCounts) { addOutcome(rc, outcome) })
}

// noteRead counts records a run read for a site's platform; a nil site
// counts them for every platform (an ERP record is read for each).
func (c *Connector) noteRead(ctx context.Context, s *site, n int) {
	run := runOf(ctx)
	if run == 0 || n == 0 {
		return
	}
	for _, each := range c.sites {
		if s == nil || s == each {
			c.book.tally(run, string(each.name), func(rc *RunCounts) { rc.Read += n })
		}
	}
}

// noteUnreadable counts the ERP records a run could not read (by kind, as
// reject returns them).
func (c *Connector) noteUnreadable(ctx context.Context, rejected map[string]int) {
	if run := runOf(ctx); run != 0 {
		n := 0
		for _, k := range rejected {
			n += k
		}
		c.book.unreadable(run, n)
	}
}

// delivering returns the context a delivery of job runs under: it names
// the replay that claimed the job's key, else the run in its payload.
func (c *Connector) delivering(ctx context.Context, job queue.Job, run uint64) context.Context {
	c.book.mu.Lock()
	if r, ok := c.book.replays[job.Key]; ok {
		run = r
	}
	c.book.mu.Unlock()
	return withRun(ctx, run)
}

// delivered counts a delivery's refusal (the job goes to the dead letters:
// refused for good, or its last attempt failed) and ends a replay's claim
// on the job's key once its outcome is final.
func (c *Connector) delivered(ctx context.Context, s *site, job queue.Job, err error) {
	switch apierr.Classify(err) {
	case apierr.Success:
	case apierr.Permanent:
		c.book.tally(runOf(ctx), string(s.name), func(rc *RunCounts) { rc.Rejected++ })
	case apierr.Retryable, apierr.OutcomeUnknown:
		if job.Attempts < c.cfg.Queue.MaxAttempts {
			return // tried again
		}
		c.book.tally(runOf(ctx), string(s.name), func(rc *RunCounts) { rc.Rejected++ })
	default: // cancelled, or the credentials refused: the job is kept as it was
		return
	}
	c.book.mu.Lock()
	delete(c.book.replays, job.Key)
	c.book.mu.Unlock()
}

// deadKeys lists the job keys of the dead letters f selects that a replay
// sends again (up to maxReplayMarks).
func (c *Connector) deadKeys(ctx context.Context, f queue.DeadFilter) ([]string, error) {
	var keys []string
	page := f
	page.Limit = 500
	for len(keys) < maxReplayMarks {
		jobs, next, err := c.store.DeadLetters(ctx, page)
		if err != nil {
			return nil, fmt.Errorf("connector: replay: %w", err)
		}
		for _, j := range jobs {
			if !j.Rejected && (f.Limit == 0 || len(keys) < f.Limit) {
				keys = append(keys, j.Key)
			}
		}
		if next == 0 || len(jobs) == 0 || f.Limit > 0 && len(keys) >= f.Limit {
			return keys, nil
		}
		page.AfterID = next
	}
	return keys, nil
}

// markReplayed starts a replay record claiming the keys' next outcomes.
func (c *Connector) markReplayed(keys []string) {
	b := c.book
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.newRecord(RunReplay)
	r.End = r.Start
	r.Platforms = map[string]RunCounts{}
	for _, k := range keys {
		b.replays[k] = r.ID
		if s := c.siteOfJobKey(k); s != nil {
			rc := r.Platforms[string(s.name)]
			rc.Queued++
			r.Platforms[string(s.name)] = rc
		}
	}
}

// loadRunHistory reads the run history kept in the state file.
func (c *Connector) loadRunHistory(ctx context.Context) error {
	var recs []RunRecord
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		var err error
		recs, err = tx.Runs()
		return err
	}); err != nil {
		return fmt.Errorf("connector: read the run history: %w", err)
	}
	c.book.load(recs)
	return nil
}

// flushRunHistory writes the records changed since the last flush to the
// state file, pruning the history there and in memory.
func (c *Connector) flushRunHistory(ctx context.Context) error {
	b := c.book
	keep := b.retention()
	b.mu.Lock()
	recs := make([]RunRecord, 0, len(b.dirty))
	for id := range b.dirty {
		recs = append(recs, b.byID[id].Clone())
	}
	drop := b.dropped
	b.dirty, b.dropped = map[uint64]bool{}, nil
	b.mu.Unlock()
	if len(recs) == 0 && len(drop) == 0 {
		return nil
	}
	var pruned []uint64
	err := c.state.Update(ctx, func(tx *state.Tx) error {
		var err error
		pruned, err = tx.PutRuns(recs, drop, keep)
		return err
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		for _, r := range recs {
			if b.byID[r.ID] != nil {
				b.dirty[r.ID] = true
			}
		}
		b.dropped = append(drop, b.dropped...)
		return fmt.Errorf("connector: write the run history: %w", err)
	}
	for _, id := range pruned {
		b.forget(id)
	}
	b.forgetReplays()
	return nil
}

// forgetReplays drops the replay claims of records no longer kept. The
// caller holds mu.
func (b *runBook) forgetReplays() {
	for k, id := range b.replays {
		if b.byID[id] == nil {
			delete(b.replays, k)
		}
	}
}

// keepRunHistory flushes the run history every runFlushEvery until ctx
// ends; it closes done when it returns.
func (c *Connector) keepRunHistory(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(runFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.flushRunHistory(ctx); err != nil && !errors.Is(err, context.Canceled) {
				c.log.Warn("run history not written; tried again later", "err", err)
			}
		}
	}
}

// countKeyless counts the items without a key (unreadable records).
func countKeyless(items []erp.Item) int {
	n := 0
	for _, it := range items {
		if it.Key == "" {
			n++
		}
	}
	return n
}
