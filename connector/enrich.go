package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// refreshEnrichment queues an enrichment job for every bound customer the
// site's platform enriches.
func (c *Connector) refreshEnrichment(ctx context.Context, s *site) (int, error) {
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
