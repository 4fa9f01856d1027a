package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/queue"
)

// Enrichment: a platform that adds data to the ERP customers it holds (the
// Customer API's Red Tractor certificates) gets a job per enrichable bound
// customer on a schedule, on the backfill lane (enrichment yields to live
// changes). The job writes to the ERP only what changed.

// enrichBatch is how many jobs one transaction of an enrichment run queues.
const enrichBatch = 500

// Keys in the state file's cursor bucket (like cursorPaused, not among
// CursorNames): when the last whole refresh of the enrichment began, and
// when the last run of it (whole or not) began; RFC 3339.
const (
	cursorEnriched = "connector.certificates.refreshed"
	cursorChecked  = "connector.certificates.checked"
)

// refreshAll is the certificates run on its schedule: every enrichable bound
// customer of every site is looked up again.
func (c *Connector) refreshAll(ctx context.Context) error {
	start := c.now()
	for _, s := range c.sites {
		if _, err := c.refreshEnrichment(ctx, s, time.Time{}); err != nil {
			return err
		}
	}
	return c.markEnriched(ctx, start, cursorEnriched, cursorChecked)
}

// markEnriched keeps at as the time of each of the named cursors.
func (c *Connector) markEnriched(ctx context.Context, at time.Time, names ...string) error {
	v := []byte(at.UTC().Format(time.RFC3339Nano))
	for _, n := range names {
		if err := c.store.SetCursor(ctx, n, v); err != nil {
			return fmt.Errorf("connector: keep the certificates' refresh time: %w", err)
		}
	}
	return nil
}

// refreshDue is the certificates run of a pass (the daemon's first pass,
// `sync --once`, a reload): every customer is looked up again only when a
// scheduled refresh has come due since the last whole one (never refreshed,
// or a refresh missed while the connector was down); otherwise only the
// customers whose binding changed since the last run began (new farms, a
// moved holding), so that a restart or a reload does not spend a look-up on
// every farm against the platform's rate.
func (c *Connector) refreshDue(ctx context.Context) error {
	last, next, due, err := c.enrichmentDue(ctx)
	if err != nil {
		return err
	}
	if due {
		return c.refreshAll(ctx)
	}
	start := c.now()
	since := last
	checked, ok, err := c.enrichedAt(ctx, cursorChecked)
	if err != nil {
		return err
	}
	if ok && checked.After(since) {
		since = checked
	}
	queued := 0
	for _, s := range c.sites {
		n, err := c.refreshEnrichment(ctx, s, since)
		queued += n
		if err != nil {
			return err
		}
	}
	c.log.Info("certificates: the whole refresh is not due; looked up the customers changed since the last run",
		"last_refresh", last, "next_refresh", next, "changed_since", since, "queued", queued)
	return c.markEnriched(ctx, start, cursorChecked)
}

// enrichmentDue reads when the last whole refresh began and says whether
// the certificates schedule has fired since (next is when it does). With no
// schedule, every pass refreshes the whole.
func (c *Connector) enrichmentDue(ctx context.Context) (last, next time.Time, due bool, err error) {
	last, ok, err := c.enrichedAt(ctx, cursorEnriched)
	spec := c.cfg.Schedules.Certificates
	if err != nil || !ok || spec == "" {
		return time.Time{}, next, err == nil, err
	}
	sched, err := ParseSchedule(spec)
	if err != nil {
		return last, next, false, fmt.Errorf("connector: schedule %s: %w", RunCertificates, err)
	}
	next = sched.Next(last.In(c.sched.loc))
	return last, next, !next.After(c.now()), nil
}

// enrichedAt reads one of the certificates' refresh times; ok is false
// when there is none, or when it is unreadable (logged: the caller then
// refreshes as if it had never run).
func (c *Connector) enrichedAt(ctx context.Context, name string) (time.Time, bool, error) {
	v, ok, err := c.store.GetCursor(ctx, name)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("connector: read the certificates' refresh time: %w", err)
	}
	if !ok || len(v) == 0 {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		c.log.Warn("certificates: a refresh time in the state file is unreadable; taken as never refreshed", "cursor", name, "err", err)
		return time.Time{}, false, nil
	}
	return t, true, nil
}

// refreshEnrichment queues an enrichment job for every bound customer the
// site's platform enriches whose binding changed at or after since (every
// one when since is zero).
func (c *Connector) refreshEnrichment(ctx context.Context, s *site, since time.Time) (int, error) {
	e, ok := s.p.(platform.Enricher)
	if !ok {
		return 0, nil
	}
	queued := 0
	for after := ""; ; {
		var keys []string
		err := c.state.View(ctx, func(tx *state.Tx) error {
			return tx.EachBinding(s.name, after, func(b state.Binding) (bool, error) {
				after = b.ERPKey
				if b.Updated.Before(since) {
					return true, nil
				}
				if e.Enrichable(platform.Ref{ID: b.ID, Extra: b.Extra}) {
					keys = append(keys, b.ERPKey)
				}
				return len(keys) < enrichBatch, nil
			})
		})
		if err != nil {
			return queued, fmt.Errorf("connector: read %s bindings: %w", s.name, err)
		}
		if len(keys) == 0 {
			return queued, nil
		}
		if err := c.awaitRoom(ctx); err != nil {
			return queued, err
		}
		jobs := make([]queue.Job, 0, len(keys))
		for _, k := range keys {
			payload, _ := json.Marshal(enrichPayload{ERPKey: k})
			jobs = append(jobs, queue.Job{Type: s.enrichType(), Key: s.enrichKey(k), Payload: payload, Lane: queue.LaneBackfill})
		}
		stampRun(ctx, jobs)
		if err := c.state.Update(ctx, func(tx *state.Tx) error { return tx.Enqueue(jobs...) }); err != nil {
			return queued, fmt.Errorf("connector: queue enrichment: %w", err)
		}
		c.noteRead(ctx, s, len(keys))
		c.noteQueued(ctx, jobs)
		queued += len(jobs)
		c.m.queued.WithLabelValues(s.dirEnrich()).Add(float64(len(jobs)))
	}
}

// enrich delivers one enrichment job: the look-up, then, when it changes
// the ERP record, a write of the freshest record with the change applied.
func (c *Connector) enrich(ctx context.Context, s *site, key string) error {
	e, ok := s.p.(platform.Enricher)
	if !ok {
		return nil
	}
	defer c.locks.lockUntilSettled(ctx, key)()
	it, err := c.erp.Get(ctx, key)
	if errors.Is(err, erp.ErrNotFound) || err == nil && (errFor(s.p.Name(), it.Customer, it.Err) != nil || it.Customer.Deleted) {
		return nil // gone, invalid or deleted: the ERP scan handles it
	}
	if err != nil {
		return err
	}
	change, err := e.Enrich(ctx, it.Customer)
	if err != nil || change == nil {
		return err
	}
	if sameERPRecord(change(it.Customer), it.Customer) {
		c.count(ctx, s, s.dirEnrich(), "unchanged")
		return nil
	}
	// Read the record again just before writing, so the write carries the
	// ERP's latest values.
	if it, err = c.erp.Get(ctx, key); err != nil {
		if errors.Is(err, erp.ErrNotFound) {
			return nil
		}
		return err
	}
	cur := it.Customer
	cur.Normalize()
	next := change(cur)
	if cur.Deleted || sameERPRecord(next, cur) {
		c.count(ctx, s, s.dirEnrich(), "unchanged")
		return nil
	}
	c.log.Info("enrichment changed an ERP customer", "platform", s.name, "erp_key", key)
	if _, err := c.erp.Upsert(ctx, next); err != nil {
		return erpWriteErr("write the enrichment to the ERP", err)
	}
	c.count(ctx, s, s.dirEnrich(), "updated")
	return nil
}
