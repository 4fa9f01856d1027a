package connector

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Chunk jobs. The new-customer scan (a migration above all) queues the new
// customers of a page for a platform in chunks: one queue job carries up
// to maxChunk of them, so enqueue, lease and settlement are paid once per
// chunk, and the bindings of a chunk commit with its settlement.
//
// Each customer keeps the guarantees of its own push job:
//   - A customer goes into a chunk only when no job and no dead letter of
//     its push key exists. The state file names it a member of the chunk
//     (state: chunk members); any job queued for its key later takes it out
//     (that newer job delivers it), so a chunk never sends a stale copy.
//   - A delivery locks every member's ERP key until its settlement, as a
//     push job locks its one; in key order, so two chunks never wait for
//     each other in a circle. (The other platform's chunk of the same
//     customers waits for the first one to settle.)
//   - A member that fails goes on alone: a per-record job of its own, which
//     reads the ERP record again and retries, dead-letters and replays it
//     as any push job; after a failure the upstream's breaker and pause
//     see, the rest go on the same way, each in its own job.
//   - A chunk is marked started, durably, before its first request, and
//     the mark goes with its settlement. One found marked when delivered
//     (its process died mid-chunk) may have created members whose bindings
//     never committed: each member then looks for the record that attempt
//     created before creating one (all of them sharing one listing where
//     the platform's look-up is a listing).

// maxChunk is the most customers one chunk job carries.
const maxChunk = 32

// requestsPerCreate is what one new customer may cost a platform (create,
// a follow-up write, a look-up), for sizing chunks under a rate limit.
const requestsPerCreate = 3

// chunkAgainMsg is logged when a chunk job found marked started (a kill
// cut an attempt short) is delivered again with members left.
const chunkAgainMsg = "chunk delivered again; its members look for the records an earlier attempt may have created"

// chunkNotStartedMsg is the last error a member handed over from a chunk
// a previous process held but never started goes on with.
const chunkNotStartedMsg = "the chunk it was in was leased by a previous process, which died before starting it"

// chunkPayload is the payload of a chunk job: the ERP keys of its
// members; each member's push payload is kept beside its membership in
// the state file (state: chunk members).
type chunkPayload struct {
	// Run: see pushPayload.Run (the members carry none of their own).
	Run  uint64   `json:"run,omitempty"`
	Keys []string `json:"keys"`
}

func (s *site) chunkType() string { return s.prefix + ".chunk" }

// chunkSize is how many new customers a chunk job of an upstream carries:
// maxChunk, fewer when the upstream's rate would make a chunk's delivery
// take more than a quarter of the lease; 1 (no chunks) when not even two
// fit.
func chunkSize(u Upstream, lease time.Duration) int {
	n := maxChunk
	if u.Rate > 0 {
		perWorker := u.Rate / float64(max(u.Workers, 1))
		n = min(n, int(perWorker*(lease/4).Seconds()/requestsPerCreate))
	}
	return max(n, 1)
}

// chunkable reports whether a planned push may go in a chunk: a create
// (the scan plans only upserts of unbound customers as such) of a key the
// queue holds nothing for.
func chunkable(tx *state.Tx, s *site, p pushPayload) (bool, error) {
	if s.chunk < 2 || p.Op != opUpsert {
		return false, nil
	}
	jobs, dead, err := tx.KeyJobs(s.pushKey(p.Customer.ERPKey))
	if err != nil {
		return false, err
	}
	return len(jobs) == 0 && dead == nil, nil
}

// chunkJobs cuts the creates ps of one platform into chunk jobs (a lone
// one becomes a push job) and records their members in tx. It returns the
// jobs and, for each, the payloads it carries.
func chunkJobs(ctx context.Context, tx *state.Tx, s *site, ps []pushPayload, lane queue.Lane) ([]queue.Job, [][]pushPayload, error) {
	slices.SortFunc(ps, func(a, b pushPayload) int { return cmp.Compare(a.Customer.ERPKey, b.Customer.ERPKey) })
	var jobs []queue.Job
	var carried [][]pushPayload
	for len(ps) > 0 {
		n := min(len(ps), s.chunk)
		part := ps[:n:n]
		ps = ps[n:]
		if n == 1 {
			j, err := s.pushJob(part[0], lane)
			if err != nil {
				return nil, nil, err
			}
			jobs, carried = append(jobs, j), append(carried, part)
			continue
		}
		key, err := tx.NewChunkKey(s.prefix)
		if err != nil {
			return nil, nil, err
		}
		cp := chunkPayload{Run: runOf(ctx), Keys: make([]string, n)}
		for i, p := range part {
			cp.Keys[i] = p.Customer.ERPKey
			p.Run = 0
			b, err := json.Marshal(p)
			if err != nil {
				return nil, nil, fmt.Errorf("connector: encode chunk member: %w", err)
			}
			if err := tx.PutChunkMember(s.pushKey(p.Customer.ERPKey), key, b); err != nil {
				return nil, nil, err
			}
		}
		payload, err := json.Marshal(cp)
		if err != nil {
			return nil, nil, fmt.Errorf("connector: encode chunk: %w", err)
		}
		jobs = append(jobs, queue.Job{Type: s.chunkType(), Key: key, Payload: payload, Lane: lane})
		carried = append(carried, part)
	}
	return jobs, carried, nil
}

// jobRecords is how many customers a job carries: a chunk's members, else 1.
func (s *site) jobRecords(j queue.Job) int {
	if j.Type == s.chunkType() {
		var cp chunkPayload
		if json.Unmarshal(j.Payload, &cp) == nil {
			return len(cp.Keys)
		}
	}
	return 1
}

// deliverChunk delivers a chunk job: each member still the chunk's, in
// key order, under the locks of all of them. handed are the members'
// payloads the scan of this process kept (nil: each is decoded from the
// state file).
func (c *Connector) deliverChunk(ctx context.Context, s *site, job queue.Job, cp chunkPayload, handed []pushPayload) error {
	ctx = withRun(ctx, cp.Run)
	slices.Sort(cp.Keys)
	cp.Keys = slices.Compact(cp.Keys)
	for _, k := range cp.Keys {
		// Held until the settlement, as a push job holds its one (a stop
		// that ends the wait returns the chunk to ready).
		unlock, err := c.locks.lockCtx(ctx, k)
		if err != nil {
			return fmt.Errorf("connector: chunk %s: wait for ERP customer %q: %w", job.Key, k, err)
		}
		if !queue.AfterSettle(ctx, unlock) {
			defer unlock()
		}
	}
	// Every earlier attempt of the chunk has ended now that its locks are
	// held (an earlier delivery here at its settlement), or when the state
	// file was opened (a lease a previous process held): the members'
	// look-ups share one listing begun after that, not one each (and
	// after a restart, every chunk the previous process held shares one).
	ctx = withLookupSince(ctx, c.attemptsEnded(job))
	kept := make(map[string]pushPayload, len(handed))
	for _, p := range handed {
		kept[p.Customer.ERPKey] = p
	}
	var live []pushPayload
	var started bool
	err := c.state.View(ctx, func(tx *state.Tx) error {
		started = tx.ChunkStarted(job.Key)
		for _, k := range cp.Keys {
			mk := s.pushKey(k)
			chunk, raw := tx.ChunkMember(mk)
			if chunk != job.Key {
				continue // delivered, or a newer job of its own delivers it
			}
			jobs, _, err := tx.KeyJobs(mk)
			if err != nil {
				return err
			}
			if len(jobs) != 0 {
				continue
			}
			p, ok := kept[k]
			if !ok {
				if err := json.Unmarshal(raw, &p); err != nil || p.Customer.ERPKey != k {
					// Unreadable: the member reads its ERP record again.
					c.log.Warn("chunk member's payload unreadable in the state file; its ERP record is read again",
						"platform", s.name, "chunk", job.Key, "erp_key", k, "err", err)
					p = pushPayload{Op: opReread, Customer: mapping.Customer{ERPKey: k}}
				}
			}
			live = append(live, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(live) == 0 {
		return c.state.Defer(ctx, func(tx *state.Tx) error { return tx.DropChunkStarted(job.Key) })
	}
	// Started before and never settled (its process died): members may
	// have been created by that attempt, their bindings never committed.
	// Each looks first. (A chunk the previous process only held, never
	// started, creates its members as they are.)
	if started {
		c.log.Warn(chunkAgainMsg, "platform", s.name, "chunk", job.Key, "members", len(live), "attempt", job.Attempts, "last_error", job.LastError)
	}
	// Marked started, durably, before the first request; the mark goes
	// with the settlement, whatever its outcome (the members left then
	// were not tried).
	if !started {
		if err := c.state.Batch(ctx, func(tx *state.Tx) error { return tx.MarkChunkStarted(job.Key) }); err != nil {
			return err
		}
	}
	if err := c.state.Defer(ctx, func(tx *state.Tx) error { return tx.DropChunkStarted(job.Key) }); err != nil {
		return err
	}
	// New members start only in the first quarter of the lease (its wait
	// for the locks included), so the lease outlasts the last one.
	budget := c.now().Add(c.cfg.Queue.LeaseTimeout / 4)
	if !job.LeaseDeadline.IsZero() { // on the queue's clock, c.now
		budget = job.LeaseDeadline.Add(-c.cfg.Queue.LeaseTimeout * 3 / 4)
	}
	for i, p := range live {
		if i > 0 && queue.Stopping(ctx) {
			// The connector stops: the rest wait in the chunk for the next
			// start instead of holding the stop up.
			return fmt.Errorf("connector: chunk %s: %d members left for the next start: %w", job.Key, len(live)-i, context.Canceled)
		}
		if i > 0 && c.now().After(budget) {
			// Slow going: the rest go on in jobs of their own before the
			// lease is at risk.
			return c.handOver(ctx, s, job, nil, live[i:], started)
		}
		mk := s.pushKey(p.Customer.ERPKey)
		mj := queue.Job{ID: job.ID, Type: s.pushType(), Key: mk, Lane: job.Lane, Attempts: job.Attempts,
			LastError: job.LastError, History: job.History, OutcomeUnknown: job.OutcomeUnknown || started, Created: job.Created}
		err := c.pushLocked(ctx, s, mj, p)
		c.m.outcome(s.dirPush(), p.Op, err)
		class := apierr.Classify(err)
		switch class {
		case apierr.Success:
			if err := c.state.Defer(ctx, func(tx *state.Tx) error { return tx.DropChunkMember(mk, job.Key) }); err != nil {
				return err
			}
			c.delivered(ctx, s, mj, nil)
			continue
		case apierr.Canceled, apierr.Unauthorized:
			// Not the record's failure: the chunk keeps this member and
			// the rest, and is delivered again later.
			return err
		}
		// The record failed: it goes on in a job of its own that has had
		// this attempt (refused: straight to the dead letters).
		err = c.refused(ctx, s, p.Customer.ERPKey, err)
		c.delivered(ctx, s, mj, err)
		if herr := c.handOver(ctx, s, job, &failed{p, err}, nil, started); herr != nil {
			return herr
		}
		if class == apierr.Permanent {
			continue
		}
		// A failure the breaker counts: the rest go on in jobs of their
		// own too (retried, paused and dead-lettered as push jobs), and
		// the chunk's retry finds nothing left to do (on its last
		// attempt it is done instead of dead).
		if herr := c.handOver(ctx, s, job, nil, live[i+1:], started); herr != nil {
			return herr
		}
		if job.Attempts >= c.cfg.Queue.MaxAttempts {
			return nil
		}
		return err
	}
	return nil
}

// failed is a chunk member whose attempt just failed with err.
type failed struct {
	p   pushPayload
	err error
}

// handOver queues, with the chunk job's settlement, a push job of its own
// for members of the chunk: f, which has had the chunk's attempt, and
// rest, which have had its earlier attempts only. When the chunk was found
// started (a kill cut an attempt short), each may have been created by
// that attempt and is marked outcome-unknown.
func (c *Connector) handOver(ctx context.Context, s *site, job queue.Job, f *failed, rest []pushPayload, started bool) error {
	jobOf := func(p pushPayload, attempts int) (queue.Job, error) {
		p.Run = runOf(ctx)
		j, err := s.pushJob(p, job.Lane)
		j.Attempts, j.LastError, j.History = attempts, job.LastError, job.History
		if j.LastError == queue.LeaseAbandoned && !started {
			// The process that died holding the chunk never started it:
			// nothing of this member was sent, so its own job need not
			// look for a record before creating one (a push job the dead
			// process held does).
			j.LastError = chunkNotStartedMsg
		}
		j.OutcomeUnknown = job.OutcomeUnknown || started
		return j, err
	}
	var one []queue.Job
	if f != nil {
		j, err := jobOf(f.p, job.Attempts)
		if err != nil {
			return err
		}
		one = []queue.Job{j}
	}
	others := make([]queue.Job, 0, len(rest))
	for _, p := range rest {
		j, err := jobOf(p, job.Attempts-1)
		if err != nil {
			return err
		}
		others = append(others, j)
	}
	c.log.Debug("chunk members go on in jobs of their own", "platform", s.name, "chunk", job.Key, "members", len(one)+len(others))
	return c.state.Defer(ctx, func(tx *state.Tx) error {
		if f != nil {
			if err := tx.HandOver(job.Key, f.err, one...); err != nil {
				return err
			}
		}
		return tx.HandOver(job.Key, nil, others...)
	})
}

// held is what the queue holds, counting each customer a chunk still
// carries.
func (c *Connector) held(ctx context.Context) (int, error) {
	n, err := c.store.Held(ctx)
	if err != nil {
		return 0, err
	}
	err = c.state.View(ctx, func(tx *state.Tx) error {
		n += tx.ChunkMembers()
		return nil
	})
	return n, err
}
