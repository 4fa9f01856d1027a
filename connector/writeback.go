package connector

import (
	"context"
	"sync"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
)

// writeBacks group-commits the platform ids the delivery workers write back
// to the ERP: a worker that finds no batch running writes at once; the
// ones arriving meanwhile join the next batch, written in one transaction
// when the adapter can (erp.PlatformIDWriter). Nobody waits for a timer.
type writeBacks struct {
	mu      sync.Mutex
	busy    bool
	pending []*writeBack
}

type writeBack struct {
	id   erp.PlatformID
	err  error
	lead bool
	done chan struct{}
}

// setPlatformID writes one id back, batched with concurrent callers.
func (c *Connector) setPlatformID(ctx context.Context, key string, p mapping.Platform, id string) error {
	w, ok := c.erp.(erp.PlatformIDWriter)
	if !ok {
		return c.erp.SetPlatformID(ctx, key, p, id)
	}
	wb := &c.writeBacks
	r := &writeBack{id: erp.PlatformID{Key: key, Platform: p, ID: id}, done: make(chan struct{})}
	wb.mu.Lock()
	wb.pending = append(wb.pending, r)
	if wb.busy {
		wb.mu.Unlock()
		// The running batch's writer hands over to this one, or writes this
		// one with the next batch; either happens within one transaction.
		<-r.done
		if !r.lead {
			return r.err
		}
		wb.mu.Lock()
	}
	wb.busy = true
	batch := wb.pending
	wb.pending = nil
	wb.mu.Unlock()

	ids := make([]erp.PlatformID, len(batch))
	for i, b := range batch {
		ids[i] = b.id
	}
	errs, err := w.SetPlatformIDs(ctx, ids)
	for i, b := range batch {
		switch {
		case err != nil:
			b.err = err
		default:
			b.err = errs[i]
		}
		if b != r {
			close(b.done)
		}
	}
	wb.mu.Lock()
	if len(wb.pending) > 0 {
		next := wb.pending[0]
		next.lead = true
		close(next.done)
	} else {
		wb.busy = false
	}
	wb.mu.Unlock()
	return r.err
}
