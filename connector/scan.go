package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Cursor names in the state file.
const (
	cursorERPNew     = "erp.new"     // ERP change cursor of the new-customer scan
	cursorERPUpdates = "erp.updates" // ERP change cursor of the update scan
	cursorONeFeed    = "one.feed"    // ONe feed nextId
)

// scanKind selects which ERP changes a scan turns into push jobs.
type scanKind int

const (
	scanNew     scanKind = iota // customers not yet bound to the platform
	scanUpdates                 // customers bound to the platform (updates, unflags)
	scanAll                     // both (the resync)
)

// planPush decides the push (if any) one ERP item needs on one platform,
// reading its binding inside tx. Invalid records become jobs that dead-
// letter them with their reasons; unchanged ones (the digest last pushed)
// need nothing: their row hash is kept, so that the next scan or resync
// that reads the row need not map it.
func planPush(tx *state.Tx, s *site, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, pushPayload, state.Binding, error) {
	if it.Key == "" {
		return nil, pushPayload{}, state.Binding{}, nil
	}
	b, bound, err := tx.Binding(s.name, it.Key)
	if err != nil {
		return nil, pushPayload{}, b, err
	}
	if kind == scanNew && bound || kind == scanUpdates && !bound {
		return nil, pushPayload{}, b, nil
	}
	p, err := classify(s, it)
	if err != nil {
		return nil, p, b, err
	}
	switch p.Op {
	case opInvalid:
		if !s.p.Wants(p.Customer) && !bound {
			return nil, p, b, nil
		}
	case opUnflag:
		if !bound {
			return nil, p, b, nil
		}
	case opUpsert:
		if bound && s.pushed(b, p.Hash, p.Customer) {
			// Nothing changed for this platform.
			if h := s.rowHash(it.Digest, p.Hash); h != b.RowHash {
				if err := tx.SetRowHash(s.name, it.Key, h); err != nil {
					return nil, p, b, err
				}
			}
			return nil, p, b, nil
		}
	}
	j, err := s.pushJob(p, lane)
	return &j, p, b, err
}

// scanERP reads ERP changes since the scan's cursor and queues the
// platforms' jobs, one page per transaction: the cursor moves in the
// transaction that queues the page's jobs. A "new" scan queues customers
// not yet bound to a platform, an "updates" scan those that are.
func (c *Connector) scanERP(ctx context.Context, kind scanKind) (int, error) {
	cursorName := cursorERPNew
	if kind == scanUpdates {
		cursorName = cursorERPUpdates
	}
	queued := 0
	for {
		if err := c.awaitRoom(ctx); err != nil {
			return queued, err
		}
		cur, _, err := c.store.GetCursor(ctx, cursorName)
		if err != nil {
			return queued, err
		}
		page, err := c.readERPChanges(ctx, string(cur), kind)
		if err != nil {
			return queued, fmt.Errorf("connector: read ERP changes: %w", err)
		}
		if page.More && len(page.Items) > 0 && page.Cursor == string(cur) {
			// The same page again and again: an error, never a loop.
			return queued, apierr.Permanently(fmt.Errorf("connector: the ERP's change cursor does not advance past %q "+
				"(%d rows share it and more are said to follow): check the cursor column", cur, len(page.Items)))
		}
		n := 0
		var rejected map[string]int
		var queuedJobs []queue.Job
		var payloads []pushPayload
		var chunks []queue.Job
		var chunked [][]pushPayload
		err = c.state.Update(ctx, func(tx *state.Tx) error {
			var jobs []queue.Job
			payloads, chunks, chunked = payloads[:0], nil, nil
			creates := map[*site][]pushPayload{}
			var err error
			if rejected, err = reject(tx, page.Items); err != nil {
				return err
			}
			for _, it := range page.Items {
				if it.Known {
					// Not mapped: what the read found is checked again here.
					js, ps, err := c.planKnown(ctx, tx, it, kind)
					if err != nil {
						return err
					}
					jobs, payloads = append(jobs, js...), append(payloads, ps...)
					continue
				}
				for _, s := range c.sites {
					j, p, _, err := planPush(tx, s, it, kind, queue.LaneLive)
					if err != nil {
						return err
					}
					if j == nil {
						continue
					}
					p.Run = runOf(ctx) // what stampRun writes
					if kind == scanNew {
						if ok, err := chunkable(tx, s, p); err != nil {
							return err
						} else if ok {
							creates[s] = append(creates[s], p)
							continue
						}
					}
					jobs, payloads = append(jobs, *j), append(payloads, p)
				}
			}
			for _, s := range c.sites {
				js, carried, err := chunkJobs(ctx, tx, s, creates[s], queue.LaneLive)
				if err != nil {
					return err
				}
				for i, j := range js {
					if j.Type == s.chunkType() {
						chunks, chunked = append(chunks, j), append(chunked, carried[i])
					} else {
						jobs, payloads = append(jobs, j), append(payloads, carried[i][0])
					}
				}
			}
			stampRun(ctx, jobs)
			queuedJobs = append(jobs, chunks...)
			if err := tx.Enqueue(queuedJobs...); err != nil {
				return err
			}
			n = len(jobs)
			for _, ps := range chunked {
				n += len(ps)
			}
			return tx.SetCursor(cursorName, page.Cursor)
		})
		if err != nil {
			return queued, fmt.Errorf("connector: queue ERP changes: %w", err)
		}
		c.handoff.keep(queuedJobs[:len(payloads)], payloads)
		for i, j := range chunks {
			c.handoff.keepChunk(j, chunked[i])
		}
		queued += n
		c.m.queued.WithLabelValues("erp").Add(float64(n))
		c.m.countRejected(rejected)
		c.noteUnreadable(ctx, rejected)
		c.noteRead(ctx, nil, len(page.Items)-countKeyless(page.Items))
		c.noteQueued(ctx, queuedJobs)
		if !page.More || len(page.Items) == 0 {
			return queued, nil
		}
	}
}

// readERPChanges reads a page of ERP changes from cur. With an adapter that
// can leave rows unmapped (erp.KnownChanger) the rows the scan has nothing
// to do for are not mapped (mapping, phone numbers above all, is most of a
// page's cost): for the new-customer scan a row bound on every platform,
// for the update scan a row that on every platform is unbound or maps to
// what the platform holds (Binding.RowHash).
func (c *Connector) readERPChanges(ctx context.Context, cur string, kind scanKind) (erp.Page, error) {
	kc, ok := c.erp.(erp.KnownChanger)
	if !ok {
		return c.erp.Changes(ctx, cur, c.cfg.ERP.PageSize)
	}
	var page erp.Page
	err := c.state.View(ctx, func(tx *state.Tx) error {
		var err error
		page, err = kc.ChangesKnown(ctx, cur, c.cfg.ERP.PageSize, func(key string, row uint64) bool {
			for _, s := range c.sites {
				if !s.scanKnows(tx, kind, key, row) {
					return false
				}
			}
			return true
		})
		return err
	})
	return page, err
}

// scanKnows reports whether a scan of kind has nothing to do on s's
// platform for the ERP row of key with digest row.
func (s *site) scanKnows(tx *state.Tx, kind scanKind, key string, row uint64) bool {
	b, bound, err := tx.Binding(s.name, key)
	switch {
	case err != nil:
		return false
	case kind == scanNew:
		return bound
	case kind == scanUpdates:
		return !bound || s.rowKnown(b, row)
	}
	return false
}

// planKnown plans, in tx, an item the scan's read left unmapped: nothing
// where that still holds; where a binding changed since (made, dropped or
// pushed), a job that reads the row again at delivery.
func (c *Connector) planKnown(ctx context.Context, tx *state.Tx, it erp.Item, kind scanKind) ([]queue.Job, []pushPayload, error) {
	var jobs []queue.Job
	var ps []pushPayload
	for _, s := range c.sites {
		if s.scanKnows(tx, kind, it.Key, it.Digest) {
			continue
		}
		p := pushPayload{Op: opReread, Customer: mapping.Customer{ERPKey: it.Key}, Run: runOf(ctx)}
		j, err := s.pushJob(p, queue.LaneLive)
		if err != nil {
			return nil, nil, err
		}
		jobs, ps = append(jobs, j), append(ps, p)
	}
	return jobs, ps, nil
}

// maxHeld bounds the jobs a scan, a feed poll or a listing walk lets the
// queue hold: a migration or a catch-up of any size goes through in chunks,
// so the state file and the memory it maps stay small. The reader waits for
// the deliveries to bring the queue down to resumeHeld before queueing more.
const (
	maxHeld    = 2000
	resumeHeld = maxHeld / 2
)

// awaitRoom blocks while the queue holds maxHeld jobs or more, until it
// is down to resumeHeld (or ctx ends).
func (c *Connector) awaitRoom(ctx context.Context) error {
	n, err := c.held(ctx)
	if err != nil || n < maxHeld {
		return err
	}
	c.log.Debug("queue full; the reader waits for deliveries", "held", n)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n > resumeHeld {
		select {
		case <-ctx.Done():
			return fmt.Errorf("connector: wait for queue room: %w", ctx.Err())
		case <-t.C:
		}
		if n, err = c.held(ctx); err != nil {
			return err
		}
	}
	return nil
}
