package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Write-backs (the ids platforms assign, written into the ERP) leave the
// delivery path: a handler records the id in the pending bucket of the
// state file, committed with its job's settlement, and the write-back
// loop writes pending ids to the ERP in large batches (one transaction
// when the adapter is an erp.PlatformIDWriter), then forgets them. A crash
// loses nothing: what is pending stays in the file until written.
var bktWriteBacks = []byte("writeback.pending")

const (
	// writeBackBatch is the most ids one ERP transaction writes.
	writeBackBatch = 1000
	// writeBackPoll is how often the loop looks without being woken.
	writeBackPoll = 5 * time.Second
)

func writeBackKey(p mapping.Platform, erpKey string) []byte {
	return []byte(string(p) + "\x00" + erpKey)
}

func parseWriteBackKey(k []byte) (mapping.Platform, string, bool) {
	p, key, ok := bytes.Cut(k, []byte{0})
	return mapping.Platform(p), string(key), ok
}

// queueWriteBack arranges for id to be written back to the ERP customer
// key. Inside a delivery it commits with the job's settlement.
func (c *Connector) queueWriteBack(ctx context.Context, key string, p mapping.Platform, id string) error {
	err := c.store.Defer(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktWriteBacks)
		if err != nil {
			return err
		}
		return b.Put(writeBackKey(p, key), []byte(id))
	})
	if err != nil {
		return fmt.Errorf("connector: queue write-back: %w", err)
	}
	if !queue.AfterSettle(ctx, c.wakeWriteBacks) {
		c.wakeWriteBacks()
	}
	return nil
}

// dropWriteBack forgets a pending write-back (the binding is going away).
func dropWriteBack(tx *bolt.Tx, p mapping.Platform, key string) error {
	if b := tx.Bucket(bktWriteBacks); b != nil {
		return b.Delete(writeBackKey(p, key))
	}
	return nil
}

func (c *Connector) wakeWriteBacks() {
	select {
	case c.wbWake <- struct{}{}:
	default:
	}
}

// noWriteBacksPending reports, without counting, that every id is written
// (Idle asks often).
func (c *Connector) noWriteBacksPending(ctx context.Context) (bool, error) {
	none := true
	err := c.store.View(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktWriteBacks); b != nil {
			k, _ := b.Cursor().First()
			none = k == nil
		}
		return nil
	})
	return none, err
}

// pendingWriteBacks counts the ids not yet written to the ERP.
func (c *Connector) pendingWriteBacks(ctx context.Context) (int, error) {
	n := 0
	err := c.store.View(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktWriteBacks); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// runWriteBacks is the write-back loop: it writes what is pending when
// woken, every writeBackPoll, and backs off while the ERP fails.
func (c *Connector) runWriteBacks(ctx context.Context) {
	defer close(c.wbDone)
	backoff := time.Duration(0)
	for {
		n, err := c.flushWriteBacks(ctx)
		wait := writeBackPoll
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
			wait = backoff
			c.log.Warn("writing platform ids back to the ERP failed; will retry", "err", err, "retry_in", wait)
		case n == writeBackBatch:
			backoff = 0
			continue // more is waiting
		default:
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.wbWake:
			if err != nil {
				// Woken while backing off: keep backing off.
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// flushWriteBacks writes one batch of pending ids to the ERP and forgets
// those written (or refused for good); it returns how many it settled.
func (c *Connector) flushWriteBacks(ctx context.Context) (int, error) {
	type entry struct {
		k  []byte
		id erp.PlatformID
	}
	var batch []entry
	read := func() error {
		batch = batch[:0]
		return c.store.View(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bktWriteBacks)
			if b == nil {
				return nil
			}
			cur := b.Cursor()
			for k, v := cur.First(); k != nil && len(batch) < writeBackBatch; k, v = cur.Next() {
				p, key, ok := parseWriteBackKey(k)
				if !ok {
					continue
				}
				batch = append(batch, entry{k: bytes.Clone(k), id: erp.PlatformID{Key: key, Platform: p, ID: string(v)}})
			}
			return nil
		})
	}
	if err := read(); err != nil || len(batch) == 0 {
		return 0, err
	}
	// Hold the records' locks so no handler unbinds one of them between
	// reading its pending id and writing it; then read again under them.
	keys := make([]string, 0, len(batch))
	for _, e := range batch {
		keys = append(keys, e.id.Key)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		defer c.locks.lock(k)()
	}
	if err := read(); err != nil || len(batch) == 0 {
		return 0, err
	}
	ids := make([]erp.PlatformID, len(batch))
	for i, e := range batch {
		ids[i] = e.id
	}
	errs, err := c.writeIDs(ctx, ids)
	if err != nil {
		return 0, err
	}
	done := 0
	err = c.store.Update(ctx, func(tx *bolt.Tx) error {
		done = 0
		b := tx.Bucket(bktWriteBacks)
		for i, e := range batch {
			if ierr := errs[i]; ierr != nil && !errors.Is(ierr, erp.ErrNotFound) && apierr.Classify(ierr) != apierr.Permanent {
				continue // this one failed for now: keep it
			}
			if cur := b.Get(e.k); cur == nil || string(cur) != e.id.ID {
				continue // changed meanwhile: the newer id is still pending
			}
			if err := b.Delete(e.k); err != nil {
				return err
			}
			done++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("connector: settle write-backs: %w", err)
	}
	var failed []error
	for i, ierr := range errs {
		switch {
		case ierr == nil, errors.Is(ierr, erp.ErrNotFound):
		case apierr.Classify(ierr) == apierr.Permanent:
			c.log.Error("the ERP refused a platform id; it is not written back", "erp_key", ids[i].Key,
				"platform", ids[i].Platform, "err", ierr)
		default:
			failed = append(failed, ierr)
		}
	}
	c.log.Debug("platform ids written back to the ERP", "written", done, "kept", len(batch)-done)
	if len(failed) > 0 {
		return done, fmt.Errorf("connector: write back %d platform ids: %w", len(failed), errors.Join(failed...))
	}
	return len(batch), nil
}

// writeIDs writes ids to the ERP in one batch when the adapter can.
func (c *Connector) writeIDs(ctx context.Context, ids []erp.PlatformID) ([]error, error) {
	if w, ok := c.erp.(erp.PlatformIDWriter); ok {
		errs, err := w.SetPlatformIDs(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("connector: write back platform ids: %w", err)
		}
		return errs, nil
	}
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = c.erp.SetPlatformID(ctx, id.Key, id.Platform, id.ID)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return errs, nil
}
