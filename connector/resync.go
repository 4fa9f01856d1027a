package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The resync of one platform is one queue migration ("resync.<platform>")
// of two walks that run side by side, then a check of what they did not
// see, each resumable from its recorded position (resyncPos):
//
//	platform walk  every platform record, page by page → a pull job for
//	               each one changed since it was last taken in (drift on
//	               the platform), and for unbound ones the ERP may know or
//	               take in
//	ERP walk       every flagged ERP customer, by key → a push job where
//	               the platform lacks it or differs from it
//	deletes        once both walks are done: every binding whose record the
//	               platform walk did not see → a pull job (its answer
//	               applies the delete the change source missed); every
//	               binding whose ERP customer the ERP walk did not list
//	               (unflagged, or its row deleted) → a job that reads it
//	               again
//
// What each walk saw is kept in a set in the state file (it survives a
// restart), so neither check depends on the order in which the ERP lists
// its keys.
//
// Resync jobs go to the backfill lane and carry the binding version they
// were read against (the watermark): a record the live path changes after
// the resync read it is not overwritten with the resync's stale copy.

// ResyncReport counts what a resync queued.
type ResyncReport struct {
	// Platform names the platform ("" for the sum over several).
	Platform        string `json:"platform,omitempty"`
	PlatformRecords int    `json:"platform_records"`
	ERPRecords      int    `json:"erp_records"`
	Queued          int    `json:"queued"`
	// Missing counts ERP customers missing on the platform.
	Missing int  `json:"missing_on_platform"`
	Resumed bool `json:"resumed"`
	// Platforms are the reports of each platform of a resync of several.
	Platforms []ResyncReport `json:"platforms,omitempty"`
}

func (r *ResyncReport) add(o ResyncReport) {
	r.PlatformRecords += o.PlatformRecords
	r.ERPRecords += o.ERPRecords
	r.Queued += o.Queued
	r.Missing += o.Missing
	r.Resumed = r.Resumed || o.Resumed
	r.Platforms = append(r.Platforms, o)
}

// ResyncTargets names the platforms a resync can target: "one",
// "customer_api", or "all".
var ResyncTargets = []string{"one", "customer_api", "all"}

// Targets turns a resync target into the configured platforms it names;
// a target that names none is an ErrTarget.
func (c *Connector) Targets(target string) ([]mapping.Platform, error) {
	var want []mapping.Platform
	switch target {
	case "", "all":
		for _, s := range c.sites {
			want = append(want, s.name)
		}
		return want, nil
	case "one":
		want = []mapping.Platform{mapping.PlatformONe}
	case "customer_api", string(mapping.PlatformCustomerAPI):
		want = []mapping.Platform{mapping.PlatformCustomerAPI}
	default:
		return nil, &targetError{fmt.Sprintf("connector: unknown resync target %q (want one of %s)", target, strings.Join(ResyncTargets, ", "))}
	}
	if c.site(want[0]) == nil {
		return nil, &targetError{fmt.Sprintf("connector: resync target %q: the platform is not configured", target)}
	}
	return want, nil
}

// ResyncProgress returns the progress of the resync running now, or of the
// last one (for a progress bar).
func (c *Connector) ResyncProgress(ctx context.Context) (queue.Migration, error) {
	var last queue.Migration
	found := false
	for _, s := range c.sites {
		m, err := c.store.Migration(ctx, s.resyncName())
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return m, err
		}
		if !m.Done() {
			return m, nil
		}
		if !found || m.CompletedAt.After(last.CompletedAt) {
			last, found = m, true
		}
	}
	if !found {
		return last, queue.ErrNotFound
	}
	return last, nil
}

// Resync runs (or resumes) a full resync of the given platforms (every
// configured one when none is given). It returns once every repair is
// queued; the pools deliver them.
func (c *Connector) Resync(ctx context.Context, platforms ...mapping.Platform) (ResyncReport, error) {
	var rep ResyncReport
	if len(platforms) == 0 {
		for _, s := range c.sites {
			platforms = append(platforms, s.name)
		}
	}
	err := c.run(ctx, RunResync, func(ctx context.Context) error {
		for _, p := range platforms {
			s := c.site(p)
			if s == nil {
				return fmt.Errorf("connector: resync: %s is not configured", p)
			}
			r, err := c.resync(ctx, s)
			rep.add(r)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return rep, err
}

// resyncAll resyncs every configured platform (the scheduled run, already
// tracked by the scheduler).
func (c *Connector) resyncAll(ctx context.Context) (ResyncReport, error) {
	var rep ResyncReport
	for _, s := range c.sites {
		r, err := c.resync(ctx, s)
		rep.add(r)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// resync runs (or resumes) the resync of one platform.
func (c *Connector) resync(ctx context.Context, s *site) (ResyncReport, error) {
	rep := ResyncReport{Platform: string(s.name)}
	name := s.resyncName()
	m, err := c.store.Resume(ctx, name)
	switch {
	case err == nil:
		rep.Resumed = true
	case errors.Is(err, queue.ErrNotFound):
		if err := c.state.Update(ctx, func(tx *state.Tx) error {
			if err := tx.ResetSet(name); err != nil {
				return err
			}
			return tx.ResetSet(s.resyncERPSet())
		}); err != nil {
			return rep, fmt.Errorf("connector: resync: %w", err)
		}
		// Both walks count the records they read: the plan is the ERP's
		// flagged customers and the platform's bound records (what its
		// listing holds, the unbound aside). Unknown when the ERP cannot
		// count.
		total := 0
		if cnt, ok := c.erp.(erp.Counter); ok {
			if n, err := cnt.CountFlagged(ctx); err == nil {
				total = n
				if err := c.state.View(ctx, func(tx *state.Tx) error { total += tx.CountBindings(s.name); return nil }); err != nil {
					return rep, fmt.Errorf("connector: resync: %w", err)
				}
			}
		}
		if m, err = c.store.BeginMigration(ctx, name, queue.Plan{TotalRecords: total}); err != nil {
			return rep, err
		}
	default:
		return rep, err
	}
	pos, err := parseResyncPos(m.Position)
	if err != nil {
		return rep, err
	}
	// The two walks run side by side, each from its own position. One that
	// fails leaves the other to finish its walk: the next resync resumes
	// each where it stopped.
	var prep, erep ResyncReport
	var perr, eerr error
	var wg sync.WaitGroup
	// Each walk's end is logged with its time: the longer one is the
	// resync's.
	walk := func(name string, records *int, fn func() error) error {
		began := time.Now()
		err := fn()
		attrs := []any{"platform", s.name, "walk", name, "records", *records, "seconds", time.Since(began).Round(time.Millisecond).Seconds()}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		c.log.Info("resync walk ended", attrs...)
		return err
	}
	if !pos.PlatformDone {
		wg.Go(func() {
			perr = walk("platform", &prep.PlatformRecords, func() error { return c.resyncPlatform(ctx, s, pos.Platform, &prep) })
		})
	}
	if !pos.ERPDone {
		wg.Go(func() {
			eerr = walk("erp", &erep.ERPRecords, func() error { return c.resyncERP(ctx, s, pos.ERP, &erep) })
		})
	}
	wg.Wait()
	rep.PlatformRecords, rep.ERPRecords = prep.PlatformRecords, erep.ERPRecords
	rep.Queued, rep.Missing = prep.Queued+erep.Queued, erep.Missing
	if err := errors.Join(perr, eerr); err != nil {
		return rep, err
	}
	erpSet := s.resyncERPSet()
	if c.erpPager(nil) == nil {
		erpSet = "" // the ERP could not be listed
	}
	n, err := c.queueUnseen(ctx, s, name, erpSet, queue.LaneBackfill)
	rep.Queued += n
	if err != nil {
		return rep, err
	}
	if _, err := c.store.Advance(ctx, name, queue.Chunk{Position: resyncPos{PlatformDone: true, ERPDone: true}.String(), Records: n}); err != nil {
		return rep, err
	}
	if _, err := c.store.FinishMigration(ctx, name); err != nil {
		return rep, err
	}
	_ = c.state.Update(ctx, func(tx *state.Tx) error {
		if err := tx.DropSet(name); err != nil {
			return err
		}
		return tx.DropSet(s.resyncERPSet())
	})
	c.log.Info("resync queued", "platform", s.name, "platform_records", rep.PlatformRecords, "erp_records", rep.ERPRecords,
		"queued", rep.Queued, "resumed", rep.Resumed)
	return rep, nil
}

// resyncPos is where a resync stands: the platform walk and the ERP walk
// run side by side, each resuming from its own position, and the deletes
// phase follows once both are done. It is recorded as the migration's
// position, "walks:" and its JSON. The earlier form, one walk after the
// other ("platform:<cursor>", "erp:<key>", "deletes:"), is read too, so a
// resync an upgrade interrupted resumes where it stopped.
type resyncPos struct {
	Platform     string `json:"platform,omitempty"`
	PlatformDone bool   `json:"platform_done,omitempty"`
	ERP          string `json:"erp,omitempty"`
	ERPDone      bool   `json:"erp_done,omitempty"`
}

const walksPrefix = "walks:"

// parseResyncPos reads a recorded resync position.
func parseResyncPos(recorded string) (resyncPos, error) {
	if rest, ok := strings.CutPrefix(recorded, walksPrefix); ok {
		var p resyncPos
		if err := json.Unmarshal([]byte(rest), &p); err != nil {
			return resyncPos{}, fmt.Errorf("connector: resync position %q: %w", recorded, err)
		}
		return p, nil
	}
	phase, pos, _ := strings.Cut(recorded, ":")
	switch phase {
	case "", "platform":
		return resyncPos{Platform: pos}, nil
	case "erp":
		return resyncPos{PlatformDone: true, ERP: pos}, nil
	case "deletes":
		return resyncPos{PlatformDone: true, ERPDone: true}, nil
	}
	return resyncPos{}, fmt.Errorf("connector: resync position %q: unknown phase %q", recorded, phase)
}

func (p resyncPos) String() string {
	b, _ := json.Marshal(p)
	return walksPrefix + string(b)
}

// advanceWalk commits in tx a page of one walk: its jobs, its records and
// the walk's new position (move sets it), beside the other walk's position
// as tx reads it (the walks commit one transaction at a time).
func advanceWalk(tx *state.Tx, name string, move func(*resyncPos), c queue.Chunk) (rejected, err error) {
	m, err := tx.Migration(name)
	if err != nil {
		return nil, err
	}
	pos, err := parseResyncPos(m.Position)
	if err != nil {
		return nil, err
	}
	move(&pos)
	c.Position = pos.String()
	return tx.Advance(name, c)
}

// resyncBatch bounds the pages a walk reads ahead and commits in one
// transaction: those already read when the walk comes to commit (so a walk
// whose reads outpace its commits pays one commit for several pages).
const resyncBatch = 4

// resyncWidth bounds the listing pages a walk reads side by side when the
// platform's cursors are positions (platform.Seeker): one page is on its
// way while the one before it is decoded.
const resyncWidth = 2

// nextCursor returns how p's listing cursors advance, or nil when the next
// one is known only from the page before it.
func nextCursor(p platform.Platform) func(string) (string, bool) {
	if sk, ok := p.(platform.Seeker); ok {
		return sk.NextCursor
	}
	return nil
}

// takeReady returns first and the pages already read after it, up to
// resyncBatch in all and none after a final page; err is the error of a
// read among them (the pages before it are returned).
func takeReady[P any](r *pageReader[P], first P, final func(P) bool) ([]P, error) {
	out := []P{first}
	for len(out) < resyncBatch && !final(out[len(out)-1]) && r.ready() {
		p, err := r.next()
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// pageWalk is one resync walk over pages of type P, as commitWalk runs it.
type pageWalk[P any] struct {
	pages *pageReader[P]
	// final reports whether a page is the walk's last.
	final func(P) bool
	// plan plans one page inside tx: the jobs it queues and the records it read.
	plan func(tx *state.Tx, pg P) (jobs []queue.Job, records int, err error)
	// move returns how the walk's position moves once last is committed.
	move func(last P) func(*resyncPos)
	// readErr wraps the error of a page's read.
	readErr func(error) error
	// done counts a committed batch in the report.
	done func(records, queued int)
}

// commitWalk plans a walk's pages as they are read: the pages already read
// are planned in one transaction, with the walk's position, and what they
// read and queued is counted.
func commitWalk[P any](ctx context.Context, c *Connector, s *site, w pageWalk[P]) error {
	defer w.pages.stop()
	for {
		if err := c.awaitRoom(ctx); err != nil {
			return err
		}
		first, err := w.pages.next()
		if err != nil {
			return w.readErr(err)
		}
		batch, readErr := takeReady(w.pages, first, w.final)
		last := batch[len(batch)-1]
		var jobs []queue.Job
		var records int
		var rejected error
		if err := c.state.Update(ctx, func(tx *state.Tx) error {
			jobs, records = nil, 0
			for _, pg := range batch {
				js, n, err := w.plan(tx, pg)
				if err != nil {
					return err
				}
				jobs = append(jobs, js...)
				records += n
			}
			stampRun(ctx, jobs)
			var err error
			rejected, err = advanceWalk(tx, s.resyncName(), w.move(last), queue.Chunk{Records: records, Jobs: jobs})
			return err
		}); err != nil {
			return fmt.Errorf("connector: resync: %w", err)
		}
		if rejected != nil {
			return rejected
		}
		c.noteRead(ctx, s, records)
		c.noteQueued(ctx, jobs)
		w.done(records, len(jobs))
		if readErr != nil {
			return w.readErr(readErr)
		}
		if w.final(last) {
			return nil
		}
	}
}

// resyncPlatform walks the platform's listing from cursor.
func (c *Connector) resyncPlatform(ctx context.Context, s *site, cursor string, rep *ResyncReport) error {
	o := walkOpts{lane: queue.LaneBackfill, watermark: true, unbound: true, set: s.resyncName()}
	// The next pages are read while these are planned and committed.
	return commitWalk(ctx, c, s, pageWalk[listing]{
		pages: readAheadWide(ctx, cursor, resyncBatch, resyncWidth, nextCursor(s.p), func(ctx context.Context, cursor string) (listing, string, bool, error) {
			page, err := c.list(ctx, s, cursor)
			return page, page.Next, page.Next != "", err
		}),
		final: func(lp listing) bool { return lp.Next == "" },
		plan: func(tx *state.Tx, lp listing) ([]queue.Job, int, error) {
			l, err := planListed(tx, s, lp, o)
			return l.jobs, len(lp.Records), err
		},
		move: func(last listing) func(*resyncPos) {
			next := last.Next
			return func(p *resyncPos) { p.Platform, p.PlatformDone = next, next == "" }
		},
		readErr: func(err error) error { return fmt.Errorf("connector: resync: list %s: %w", s.name, err) },
		done:    func(records, queued int) { rep.PlatformRecords += records; rep.Queued += queued },
	})
}

// resyncERP walks the ERP's flagged customers in key order after after.
func (c *Connector) resyncERP(ctx context.Context, s *site, after string, rep *ResyncReport) error {
	read := c.erpPager(s)
	if read == nil {
		c.log.Warn("the ERP adapter cannot list its customers; the resync compares the platform side only", "platform", s.name)
		return c.state.Update(ctx, func(tx *state.Tx) error {
			_, err := advanceWalk(tx, s.resyncName(), func(p *resyncPos) { p.ERPDone = true }, queue.Chunk{})
			return err
		})
	}
	// The next pages are read while these are planned and committed.
	type erpPage struct {
		its    []erp.Item
		last   string
		listed int
		began  time.Time
		final  bool
	}
	return commitWalk(ctx, c, s, pageWalk[erpPage]{
		pages: readAhead(ctx, after, resyncBatch, func(ctx context.Context, after string) (erpPage, string, bool, error) {
			began := c.now()
			its, last, listed, err := read(ctx, after)
			final := listed < c.cfg.ERP.PageSize
			return erpPage{its: its, last: last, listed: listed, began: began, final: final}, last, !final, err
		}),
		final: func(pg erpPage) bool { return pg.final },
		plan: func(tx *state.Tx, pg erpPage) ([]queue.Job, int, error) {
			js, err := c.planResyncPage(ctx, tx, s, pg.its, pg.began, rep)
			return js, pg.listed, err
		},
		move: func(last erpPage) func(*resyncPos) {
			return func(p *resyncPos) { p.ERP, p.ERPDone = last.last, last.final }
		},
		readErr: func(err error) error { return fmt.Errorf("connector: resync: %w", err) },
		done:    func(records, queued int) { rep.ERPRecords += records; rep.Queued += queued },
	})
}

// lastKey is the last key of a page of items, after when it has none (a
// record without a key cannot move the walk).
func lastKey(its []erp.Item, after string) string {
	last := after
	for _, it := range its {
		if it.Key != "" {
			last = it.Key
		}
	}
	return last
}

// planResyncPage plans the pushes of one page of ERP customers read from
// began, stamped with the binding version they were read against, and
// records the keys listed in the ERP walk's set. A customer whose binding
// changed after the read began is left to the live path that changed it:
// what the page holds of it may be older.
func (c *Connector) planResyncPage(ctx context.Context, tx *state.Tx, s *site, its []erp.Item, began time.Time, rep *ResyncReport) ([]queue.Job, error) {
	rejected, err := reject(tx, its)
	if err != nil {
		return nil, err
	}
	c.m.countRejected(rejected)
	c.noteUnreadable(ctx, rejected)
	var jobs []queue.Job
	for _, it := range its {
		if it.Key == "" {
			continue
		}
		if err := tx.AddToSet(s.resyncERPSet(), it.Key); err != nil {
			return nil, err
		}
		if it.Known {
			continue // maps to what the platform holds (Binding.RowHash)
		}
		j, p, b, err := planPush(tx, s, it, scanAll, queue.LaneBackfill)
		if err != nil {
			return nil, err
		}
		if j == nil || b.Updated.After(began) {
			continue
		}
		if b.ID == "" {
			rep.Missing++
		}
		// Stamped with the binding version it was read against (the watermark).
		p.Version = b.Version + 1
		nj, err := s.pushJob(p, j.Lane)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, nj)
	}
	return jobs, nil
}

// erpPager returns a reader of the ERP's flagged customers in key order, a
// page at a time: one read per page when the adapter can, else key by key;
// nil when the adapter cannot list its customers. It returns the items, the
// last key listed and how many keys were listed. With a site, rows that map
// to what the site's platform holds (Binding.RowHash) are not mapped when
// the adapter can leave them (erp.KnownLister): such items are Known.
func (c *Connector) erpPager(s *site) func(ctx context.Context, after string) ([]erp.Item, string, int, error) {
	size := c.cfg.ERP.PageSize
	if kl, ok := c.erp.(erp.KnownLister); ok && s != nil && programFingerprint() != 0 {
		return func(ctx context.Context, after string) ([]erp.Item, string, int, error) {
			var its []erp.Item
			err := c.state.View(ctx, func(tx *state.Tx) error {
				var err error
				its, err = kl.ListKnownItems(ctx, after, size, func(key string, row uint64) bool {
					return s.knowsRow(tx, key, row)
				})
				return err
			})
			if err != nil {
				return nil, after, 0, fmt.Errorf("list ERP customers: %w", err)
			}
			return its, lastKey(its, after), len(its), nil
		}
	}
	if items, ok := c.erp.(erp.ItemLister); ok {
		return func(ctx context.Context, after string) ([]erp.Item, string, int, error) {
			its, err := items.ListItems(ctx, after, size)
			if err != nil {
				return nil, after, 0, fmt.Errorf("list ERP customers: %w", err)
			}
			return its, lastKey(its, after), len(its), nil
		}
	}
	lister, ok := c.erp.(erp.KeyLister)
	if !ok {
		return nil
	}
	return func(ctx context.Context, after string) ([]erp.Item, string, int, error) {
		keys, err := lister.ListKeys(ctx, after, size)
		if err != nil {
			return nil, after, 0, fmt.Errorf("list ERP keys: %w", err)
		}
		its := make([]erp.Item, 0, len(keys))
		for _, key := range keys {
			it, err := c.erp.Get(ctx, key)
			if errors.Is(err, erp.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, after, 0, fmt.Errorf("read ERP customer: %w", err)
			}
			if it.Key == "" {
				it.Key = key
			}
			its = append(its, it)
		}
		last := after
		if len(keys) > 0 {
			last = keys[len(keys)-1] // resume after the last key listed, found or not
		}
		return its, last, len(keys), nil
	}
}
