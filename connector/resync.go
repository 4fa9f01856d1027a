package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/queue"
)

// The ONe resync is one queue migration that walks three phases, each
// resumable from its recorded position:
//
//	platform:<page>   every ONe client, page by page → a pull job each (repairs
//	                  platform-side drift, takes in clients the ERP lacks)
//	erp:<key>         every flagged ERP customer, by key → a push job where the
//	                  platform lacks it or differs from it
//	deletes:<key>     every binding whose client the platform walk did not see
//	                  → a pull job (its 404 applies the delete the feed missed)
//
// Resync jobs go to the backfill lane and carry the binding version they
// were read against (the watermark): a record the live path changes after
// the resync read it is not overwritten with the resync's stale copy.
const resyncONe = "resync.one"

var seenBucket = []byte("resync.one.seen")

// ResyncReport counts what a resync queued.
type ResyncReport struct {
	PlatformRecords int  `json:"platform_records"`
	ERPRecords      int  `json:"erp_records"`
	Queued          int  `json:"queued"`
	MissingOnONe    int  `json:"missing_on_one"`
	Resumed         bool `json:"resumed"`
}

// ResyncProgress returns the resync migration's progress (for a progress bar).
func (c *Connector) ResyncProgress(ctx context.Context) (queue.Migration, error) {
	return c.store.Migration(ctx, resyncONe)
}

// Resync runs (or resumes) a full ONe resync. It returns once every repair
// is queued; the pools deliver them.
func (c *Connector) Resync(ctx context.Context) (ResyncReport, error) {
	var rep ResyncReport
	if c.cfg.ONe == nil {
		return rep, nil
	}
	err := c.run(ctx, RunResync, func(ctx context.Context) error {
		var err error
		rep, err = c.resyncONe(ctx)
		return err
	})
	c.log.Debug("resync finished", "report", rep)
	return rep, err
}

func (c *Connector) resyncONe(ctx context.Context) (ResyncReport, error) {
	var rep ResyncReport
	m, err := c.store.Resume(ctx, resyncONe)
	switch {
	case err == nil:
		rep.Resumed = true
	case errors.Is(err, queue.ErrNotFound):
		if err := c.store.Update(ctx, func(tx *bolt.Tx) error {
			if tx.Bucket(seenBucket) != nil {
				if err := tx.DeleteBucket(seenBucket); err != nil {
					return err
				}
			}
			_, err := tx.CreateBucket(seenBucket)
			return err
		}); err != nil {
			return rep, fmt.Errorf("connector: resync: %w", err)
		}
		total := 0
		if cnt, ok := c.erp.(erp.Counter); ok {
			if n, err := cnt.CountFlagged(ctx); err == nil {
				total = n
			}
		}
		if m, err = c.store.BeginMigration(ctx, resyncONe, queue.Plan{TotalRecords: total}); err != nil {
			return rep, err
		}
		m.Position = "platform:1"
	default:
		return rep, err
	}
	if m.Position == "" {
		m.Position = "platform:1"
	}
	phase, pos, _ := strings.Cut(m.Position, ":")
	if phase == "platform" {
		if err := c.resyncPlatform(ctx, pos, &rep); err != nil {
			return rep, err
		}
		phase, pos = "erp", ""
	}
	if phase == "erp" {
		if err := c.resyncERP(ctx, pos, &rep); err != nil {
			return rep, err
		}
		phase, pos = "deletes", ""
	}
	if phase == "deletes" {
		if err := c.resyncDeletes(ctx, pos, &rep); err != nil {
			return rep, err
		}
	}
	if _, err := c.store.FinishMigration(ctx, resyncONe); err != nil {
		return rep, err
	}
	c.log.Info("resync queued", "platform_records", rep.PlatformRecords, "erp_records", rep.ERPRecords, "queued", rep.Queued, "resumed", rep.Resumed)
	return rep, nil
}

func (c *Connector) resyncPlatform(ctx context.Context, pos string, rep *ResyncReport) error {
	page, err := strconv.Atoi(pos)
	if err != nil || page < 1 {
		page = 1
	}
	for {
		p, err := c.one.ListClients(ctx, page, c.cfg.ONe.PageSize)
		if err != nil {
			return fmt.Errorf("connector: resync: list ONe clients: %w", err)
		}
		var jobs []queue.Job
		err = c.store.Update(ctx, func(tx *bolt.Tx) error {
			seen := tx.Bucket(seenBucket)
			for _, cl := range p.Items {
				if err := seen.Put([]byte(cl.ID), nil); err != nil {
					return err
				}
				var version uint64
				if key, ok := c.bind.byID(tx, mapping.PlatformONe, cl.ID); ok {
					b, _, err := c.bind.get(tx, mapping.PlatformONe, key)
					if err != nil {
						return err
					}
					version = b.Version
					if b.SeenHash != "" && b.SeenHash == seenHashONe(cl) {
						continue // unchanged since the connector last took it in
					}
				}
				payload, _ := json.Marshal(pullPayload{ClientID: cl.ID, Version: version + 1})
				jobs = append(jobs, queue.Job{Type: jobONePull, Key: pullKey(cl.ID), Payload: payload, Lane: queue.LaneBackfill})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("connector: resync: %w", err)
		}
		next := page + 1
		if p.NextPage == nil || len(p.Items) == 0 {
			next = 0
		}
		position := "platform:" + strconv.Itoa(next)
		if next == 0 {
			position = "erp:"
		}
		if _, err := c.store.Advance(ctx, resyncONe, queue.Chunk{Position: position, Records: len(p.Items), Jobs: jobs}); err != nil {
			return err
		}
		rep.PlatformRecords += len(p.Items)
		rep.Queued += len(jobs)
		if next == 0 {
			return nil
		}
		page = next
	}
}

func (c *Connector) resyncERP(ctx context.Context, after string, rep *ResyncReport) error {
	lister, ok := c.erp.(erp.KeyLister)
	items, itemsOK := c.erp.(erp.ItemLister)
	if !ok && !itemsOK {
		c.log.Warn("the ERP adapter cannot list keys; the resync compares the platform side only")
		_, err := c.store.Advance(ctx, resyncONe, queue.Chunk{Position: "deletes:"})
		return err
	}
	// page reads the next flagged customers in key order: in one read when
	// the adapter can, else key by key.
	page := func() ([]erp.Item, int, error) {
		if itemsOK {
			its, err := items.ListItems(ctx, after, c.cfg.ERP.PageSize)
			if err != nil {
				return nil, 0, fmt.Errorf("connector: resync: list ERP customers: %w", err)
			}
			return its, len(its), nil
		}
		keys, err := lister.ListKeys(ctx, after, c.cfg.ERP.PageSize)
		if err != nil {
			return nil, 0, fmt.Errorf("connector: resync: list ERP keys: %w", err)
		}
		its := make([]erp.Item, 0, len(keys))
		for _, key := range keys {
			it, err := c.erp.Get(ctx, key)
			if errors.Is(err, erp.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, 0, fmt.Errorf("connector: resync: read ERP customer: %w", err)
			}
			if it.Key == "" {
				it.Key = key
			}
			its = append(its, it)
		}
		if len(keys) > 0 {
			// Resume after the last key listed, found or not.
			after = keys[len(keys)-1]
		}
		return its, len(keys), nil
	}
	for {
		its, listed, err := page()
		if err != nil {
			return err
		}
		if itemsOK && len(its) > 0 {
			after = its[len(its)-1].Key
		}
		var jobs []queue.Job
		err = c.store.View(ctx, func(tx *bolt.Tx) error {
			for _, it := range its {
				if err := c.planResyncPush(tx, it, rep, &jobs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		position := "erp:" + after
		if listed < c.cfg.ERP.PageSize {
			position = "deletes:"
		}
		if _, err := c.store.Advance(ctx, resyncONe, queue.Chunk{Position: position, Records: listed, Jobs: jobs}); err != nil {
			return err
		}
		rep.ERPRecords += listed
		rep.Queued += len(jobs)
		if listed < c.cfg.ERP.PageSize {
			return nil
		}
	}
}

// planResyncPush adds the push (if any) one ERP customer needs, stamped
// with the binding version it was read against.
func (c *Connector) planResyncPush(tx *bolt.Tx, it erp.Item, rep *ResyncReport, jobs *[]queue.Job) error {
	key := it.Key
	for _, kind := range []scanKind{scanNew, scanUpdates} {
		j, err := c.planONe(tx, it, kind, queue.LaneBackfill)
		if err != nil {
			return err
		}
		if j == nil {
			continue
		}
		if kind == scanNew {
			rep.MissingOnONe++
		}
		b, _, err := c.bind.get(tx, mapping.PlatformONe, key)
		if err != nil {
			return err
		}
		var p pushPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return err
		}
		p.Version = b.Version + 1
		j.Payload, _ = json.Marshal(p)
		*jobs = append(*jobs, *j)
		c.log.Debug("resync repairs an ERP customer", "erp_key", key, "op", p.Op, "bound", b.ID != "",
			"pushed_hash", b.PushedHash, "hash", p.Hash)
	}
	return nil
}

func (c *Connector) resyncDeletes(ctx context.Context, after string, rep *ResyncReport) error {
	var jobs []queue.Job
	err := c.store.View(ctx, func(tx *bolt.Tx) error {
		seen := tx.Bucket(seenBucket)
		return c.bind.each(tx, mapping.PlatformONe, func(b Binding) error {
			if b.ERPKey <= after || (seen != nil && seen.Get([]byte(b.ID)) != nil) {
				return nil
			}
			payload, _ := json.Marshal(pullPayload{ClientID: b.ID, Version: b.Version + 1})
			jobs = append(jobs, queue.Job{Type: jobONePull, Key: pullKey(b.ID), Payload: payload, Lane: queue.LaneBackfill})
			return nil
		})
	})
	if err != nil {
		return err
	}
	if _, err := c.store.Advance(ctx, resyncONe, queue.Chunk{Position: "deletes:~", Records: len(jobs), Jobs: jobs}); err != nil {
		return err
	}
	rep.Queued += len(jobs)
	return nil
}

// takeInONe is a client as the connector takes it in, and the content hash
// a pull records for it (its binding's SeenHash).
func takeInONe(cl oneapi.Client) (mapping.Customer, string, error) {
	incoming := mapping.FromONe(cl)
	incoming.Normalize()
	h, err := mapping.ContentHash(incoming)
	return incoming, h, err
}

// seenHashONe is takeInONe's hash ("" when it cannot be computed, which
// never matches).
func seenHashONe(cl oneapi.Client) string {
	_, h, err := takeInONe(cl)
	if err != nil {
		return ""
	}
	return h
}
