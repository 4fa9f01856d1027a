package connector

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Reading a platform's changes: a platform with a feed (ONe) is polled
// from its stored cursor, and each changed record becomes a pull job; a
// platform without one (the Customer API) is walked page by page, and each
// bound record whose seen hash differs from what the connector last took
// in becomes a pull job. A bound record the walk did not see is looked at
// (its pull applies the delete policy when it is gone).

// readChanges runs the site's change source once. Refused credentials
// pause the platform's upstream, as they do for its deliveries.
func (c *Connector) readChanges(ctx context.Context, s *site) (int, error) {
	var n int
	var err error
	if f, ok := s.p.(platform.Feed); ok {
		n, err = c.pollFeed(ctx, s, f)
	} else {
		n, err = c.walkListing(ctx, s)
	}
	if apierr.Classify(err) == apierr.Unauthorized {
		s.pool.Refuse(err)
	}
	return n, err
}

// passAttempts is how often a read of a change source or a walk (a feed
// batch, a listing page) is tried within one pass: a rate limit (its
// Retry-After waited out by the pool's gate) or a passing failure costs a
// moment, not the pass.
const passAttempts = 5

// withRetries runs read until it succeeds, fails for good, or has been
// tried passAttempts times, backing off between tries (the gate also waits
// out any Retry-After pause before the next request).
func (c *Connector) withRetries(ctx context.Context, what string, read func() error) error {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := read()
		switch apierr.Classify(err) {
		case apierr.Success:
			return nil
		case apierr.Retryable, apierr.OutcomeUnknown: // a read: safe to repeat
		default:
			return err
		}
		if attempt == passAttempts || ctx.Err() != nil {
			return err
		}
		c.log.Info("read failed; trying it again within the pass", "read", what, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// listing is one listing page as the engine read it.
type listing struct {
	platform.Page
	// began is when the read that answered began.
	began time.Time
	// asked holds, for each platform id the platform asked the engine about
	// while it built the page (a Customer API page reads the farms of the
	// bound organisations only), the version of its binding then, 0 when
	// it was not bound.
	asked map[string]uint64
}

// list reads one listing page, again after a passing failure.
func (c *Connector) list(ctx context.Context, s *site, cursor string) (listing, error) {
	var l listing
	err := c.withRetries(ctx, string(s.name)+" listing", func() error {
		var err error
		l = listing{began: c.now(), asked: map[string]uint64{}}
		var mu sync.Mutex
		known := func(id string) (platform.Ref, bool) {
			ref, version := c.known(ctx, s, id)
			mu.Lock()
			l.asked[id] = version
			mu.Unlock()
			return ref, version != 0
		}
		l.Page, err = s.p.List(ctx, cursor, known)
		return err
	})
	return l, err
}

// pollFeed drains a platform's feed from the stored cursor, queueing one
// pull job per record; the cursor is stored in the transaction that queues
// the batch's jobs. A failed read starts again from the stored cursor.
func (c *Connector) pollFeed(ctx context.Context, s *site, f platform.Feed) (int, error) {
	queued := 0
	err := c.withRetries(ctx, string(s.name)+" feed", func() error {
		n, err := c.drainFeed(ctx, s, f)
		queued += n
		return err
	})
	return queued, err
}

// drainFeed reads the feed from the stored cursor to its end.
func (c *Connector) drainFeed(ctx context.Context, s *site, f platform.Feed) (int, error) {
	cur, _, err := c.store.GetCursor(ctx, s.feedCursor())
	if err != nil {
		return 0, err
	}
	queued := 0
	for b, err := range f.Poll(ctx, string(cur)) {
		if err != nil {
			return queued, fmt.Errorf("connector: %w", err)
		}
		if err := c.awaitRoom(ctx); err != nil {
			return queued, err
		}
		jobs := make([]queue.Job, 0, len(b.IDs))
		for _, id := range b.IDs {
			jobs = append(jobs, s.pullJob(id, 0, queue.LaneLive))
		}
		stampRun(ctx, jobs)
		err := c.state.Update(ctx, func(tx *state.Tx) error {
			if err := tx.Enqueue(jobs...); err != nil {
				return err
			}
			return tx.SetCursor(s.feedCursor(), b.Cursor)
		})
		if err != nil {
			return queued, fmt.Errorf("connector: queue feed batch: %w", err)
		}
		c.noteRead(ctx, s, len(b.IDs))
		c.noteQueued(ctx, jobs)
		queued += len(jobs)
		c.m.queued.WithLabelValues(s.dirPull()).Add(float64(len(jobs)))
		if n, err := strconv.ParseInt(b.Cursor, 10, 64); err == nil {
			c.st.setFeed(n)
		}
	}
	return queued, nil
}

// listed is what planning one listing page found.
type listed struct {
	jobs  []queue.Job
	bound int // bound records on the page
}

// walkOpts say what a walk over a platform's listing queues.
type walkOpts struct {
	lane queue.Lane
	// watermark stamps pulls with the binding version they were read
	// against (the resync).
	watermark bool
	// unbound queues pulls of unbound records that the ERP may know or
	// take in.
	unbound bool
	// set, when not empty, records the ERP key of every bound record seen
	// in the named state set.
	set string
}

// known returns the Ref bound to a platform id and its binding's version
// (0 when it is not bound).
func (c *Connector) known(ctx context.Context, s *site, id string) (platform.Ref, uint64) {
	var ref platform.Ref
	var version uint64
	_ = c.state.View(ctx, func(tx *state.Tx) error {
		key, bound := tx.KeyOf(s.name, id)
		if !bound {
			return nil
		}
		b, found, err := tx.Binding(s.name, key)
		if found && err == nil {
			ref, version = platform.Ref{ID: b.ID, Extra: b.Extra}, b.Version
		}
		return nil
	})
	return ref, version
}

// planListed plans the pulls one listing page needs, in tx.
func planListed(tx *state.Tx, s *site, page listing, o walkOpts) (listed, error) {
	var out listed
	imp, importer := s.p.(platform.Importer)
	for _, rec := range page.Records {
		id := rec.Ref.ID
		key, bound := tx.KeyOf(s.name, id)
		if bound && o.set != "" {
			// By ERP key: a listing in creation order (a migration's
			// creates follow the ERP's key order) then fills the set's
			// pages in order, where ids would land at random.
			if err := tx.AddToSet(o.set, key); err != nil {
				return out, err
			}
		}
		if !bound {
			_, tomb := tx.Tombstoned(s.name, id)
			if o.unbound && !tomb && !rec.Inactive && (rec.Customer.ERPKey != "" || importer && imp.Importable(rec)) {
				out.jobs = append(out.jobs, s.pullJob(id, 0, o.lane))
			}
			continue
		}
		out.bound++
		b, ok, err := tx.Binding(s.name, key)
		if err != nil {
			return out, err
		}
		if !ok || b.SeenHash != "" && b.SeenHash == rec.Seen {
			continue // unchanged since the connector last took it in
		}
		if v, asked := page.asked[id]; asked && v != b.Version || b.SeenHash != "" && b.Updated.After(page.began) {
			// The connector wrote or read the record since the page's read
			// began: what the page shows may be older than what the binding
			// holds (a record listed between its organisation's create and
			// its farm unit's, or not read at all because it was not bound
			// when listed). The next walk compares it. The version the
			// platform was told of catches a binding stamped before the read
			// began whose transaction committed only after the platform asked
			// about it.
			continue
		}
		var version uint64
		if o.watermark {
			version = b.Version + 1
		}
		out.jobs = append(out.jobs, s.pullJob(id, version, o.lane))
	}
	return out, nil
}

// walkListing walks a platform's whole listing on the live lane and queues
// a pull for every bound record that changed; when fewer bound records
// were seen than are bound, it looks for the missing ones.
func (c *Connector) walkListing(ctx context.Context, s *site) (int, error) {
	count := func() (n int, err error) {
		err = c.state.View(ctx, func(tx *state.Tx) error { n = tx.CountBindings(s.name); return nil })
		return n, err
	}
	before, err := count()
	if err != nil {
		return 0, err
	}
	queued, bound, err := c.walk(ctx, s, walkOpts{lane: queue.LaneLive})
	if err != nil {
		return queued, err
	}
	after, err := count()
	if err != nil {
		return queued, err
	}
	// Bindings made or dropped while the walk ran (a migration under way)
	// may or may not have been listed: only fewer than the fewer of the
	// two counts means a bound record is missing.
	total := min(before, after)
	if bound >= total {
		return queued, nil
	}
	c.log.Info("bound records missing from the platform's listing; looking at them", "platform", s.name,
		"bound", total, "listed", bound)
	n, err := c.pullMissing(ctx, s)
	return queued + n, err
}

// walk reads every listing page and queues what planListed plans.
func (c *Connector) walk(ctx context.Context, s *site, o walkOpts) (queued, bound int, err error) {
	for cursor := ""; ; {
		if err := c.awaitRoom(ctx); err != nil {
			return queued, bound, err
		}
		page, err := c.list(ctx, s, cursor)
		if err != nil {
			return queued, bound, fmt.Errorf("connector: list %s: %w", s.name, err)
		}
		var l listed
		err = c.state.Update(ctx, func(tx *state.Tx) error {
			var err error
			if l, err = planListed(tx, s, page, o); err != nil {
				return err
			}
			stampRun(ctx, l.jobs)
			return tx.Enqueue(l.jobs...)
		})
		if err != nil {
			return queued, bound, fmt.Errorf("connector: queue %s changes: %w", s.name, err)
		}
		c.noteRead(ctx, s, len(page.Records))
		c.noteQueued(ctx, l.jobs)
		queued, bound = queued+len(l.jobs), bound+l.bound
		c.m.queued.WithLabelValues(s.dirPull()).Add(float64(len(l.jobs)))
		if page.Next == "" {
			return queued, bound, nil
		}
		cursor = page.Next
	}
}

// pullMissing walks the listing again, recording every bound record's key
// in a set, and queues a pull for each binding whose record the walk did
// not see.
func (c *Connector) pullMissing(ctx context.Context, s *site) (int, error) {
	set := "missing." + string(s.name)
	if err := c.state.Update(ctx, func(tx *state.Tx) error { return tx.ResetSet(set) }); err != nil {
		return 0, err
	}
	defer func() {
		_ = c.state.Update(context.WithoutCancel(ctx), func(tx *state.Tx) error { return tx.DropSet(set) })
	}()
	if _, _, err := c.walk(ctx, s, walkOpts{lane: queue.LaneLive, set: set}); err != nil {
		return 0, err
	}
	return c.queueUnseen(ctx, s, set, "", queue.LaneLive)
}

// queueUnseen queues, stamped with the binding version, a pull for every
// binding whose key is not in the platform set (its record was not
// listed), and (when erpSet is given) a job that reads the ERP customer
// again for every binding whose key is not in the ERP set.
func (c *Connector) queueUnseen(ctx context.Context, s *site, platformSet, erpSet string, lane queue.Lane) (int, error) {
	var jobs []queue.Job
	err := c.state.View(ctx, func(tx *state.Tx) error {
		return tx.EachBinding(s.name, "", func(b state.Binding) (bool, error) {
			if !tx.InSet(platformSet, b.ERPKey) {
				jobs = append(jobs, s.pullJob(b.ID, b.Version+1, lane))
			}
			if erpSet != "" && !tx.InSet(erpSet, b.ERPKey) {
				j, err := s.pushJob(pushPayload{Op: opReread, Customer: mapping.Customer{ERPKey: b.ERPKey}, Version: b.Version + 1}, lane)
				if err != nil {
					return false, err
				}
				jobs = append(jobs, j)
			}
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	stampRun(ctx, jobs)
	for start := 0; start < len(jobs); start += maxHeld / 2 {
		if err := c.awaitRoom(ctx); err != nil {
			return start, err
		}
		part := jobs[start:min(start+maxHeld/2, len(jobs))]
		if err := c.state.Update(ctx, func(tx *state.Tx) error { return tx.Enqueue(part...) }); err != nil {
			return start, err
		}
		c.noteQueued(ctx, part)
	}
	return len(jobs), nil
}
