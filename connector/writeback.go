package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Write-backs (the ids platforms assign, written into the ERP) leave the
// delivery path: a handler records the id in the state's pending
// write-backs, committed with its job's settlement, and the write-back
// loop writes pending ids to the ERP in large batches (one transaction
// when the adapter is an erp.PlatformIDWriter), then forgets them.

const (
	// writeBackBatch is the most ids one ERP transaction writes.
	writeBackBatch = 1000
	// writeBackPoll is how often the loop looks without being woken.
	writeBackPoll = 5 * time.Second
)

// queueWriteBack arranges for id to be written back to the ERP customer
// key. Inside a delivery it commits with the job's settlement.
func (c *Connector) queueWriteBack(ctx context.Context, key string, p mapping.Platform, id string) error {
	if err := c.state.Defer(ctx, func(tx *state.Tx) error { return tx.PutWriteBack(p, key, id) }); err != nil {
		return fmt.Errorf("connector: queue write-back: %w", err)
	}
	if !queue.AfterSettle(ctx, c.wakeWriteBacks) {
		c.wakeWriteBacks()
	}
	return nil
}

func (c *Connector) wakeWriteBacks() {
	select {
	case c.wbWake <- struct{}{}:
	default:
	}
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
		if !c.sleepWriteBacks(ctx, wait, err != nil) {
			return
		}
	}
}

// sleepWriteBacks waits for wait or a wake-up (not while backing off); it
// reports false when ctx ended.
func (c *Connector) sleepWriteBacks(ctx context.Context, wait time.Duration, backingOff bool) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c.wbWake:
		if backingOff {
			select {
			case <-t.C:
			case <-ctx.Done():
				return false
			}
		}
	case <-t.C:
	}
	return true
}

// flushWriteBacks writes one batch of pending ids to the ERP and forgets
// those written (or refused for good); it returns how many it settled.
func (c *Connector) flushWriteBacks(ctx context.Context) (int, error) {
	batch, err := c.state.PendingWriteBacks(ctx, writeBackBatch)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	// Hold the records' locks so no handler unbinds one of them between
	// reading its pending id and writing it; then read again under them.
	keys := make([]string, 0, len(batch))
	for _, w := range batch {
		keys = append(keys, w.Key)
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		defer c.locks.lock(k)()
	}
	if batch, err = c.state.PendingWriteBacks(ctx, writeBackBatch); err != nil || len(batch) == 0 {
		return 0, err
	}
	ids := make([]erp.PlatformID, len(batch))
	for i, w := range batch {
		ids[i] = erp.PlatformID{Key: w.Key, Platform: w.Platform, ID: w.ID}
	}
	errs, err := c.writeIDs(ctx, ids)
	if err != nil {
		return 0, err
	}
	done := 0
	err = c.state.Update(ctx, func(tx *state.Tx) error {
		done = 0
		for i, w := range batch {
			if ierr := errs[i]; ierr != nil && !errors.Is(ierr, erp.ErrNotFound) && apierr.Classify(ierr) != apierr.Permanent {
				continue // this one failed for now: keep it
			}
			ok, err := tx.SettleWriteBack(w)
			if err != nil {
				return err
			}
			if ok {
				done++
			}
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
