package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
)

// The ERP writes of the pull (a platform change taken in, a platform
// record imported as a new ERP customer) are group-committed when the
// adapter can write many in one transaction and takes one writer at a
// time anyway (erp.BatchUpserter, SerialWrites: SQLite): the
// writes of deliveries running at the same time go to the ERP together,
// each read back in the same transaction. Each delivery still waits for
// its own write and gets its own answer, so a refused customer fails its
// own job only. The first writer to arrive while no batch runs writes at
// once (a lone write waits for nothing); writers arriving meanwhile queue,
// and the first of them leads the next batch once the running one ends.

// maxUpsertBatch is the most ERP writes one batch carries.
const maxUpsertBatch = 64

// upsertGroup group-commits ERP upserts.
type upsertGroup struct {
	w     erp.BatchUpserter
	log   *slog.Logger
	mu    sync.Mutex
	queue []*upsertCall
	busy  bool // a batch runs or its leader is chosen
}

// upsertCall is one writer's upsert.
type upsertCall struct {
	c mapping.Customer
	// lead is closed when the call is to run the next batch; leading is
	// set (under the group's lock) at the same time.
	lead    chan struct{}
	leading bool
	// done is closed once out and failed are set.
	done   chan struct{}
	out    erp.Upserted
	failed error // the whole batch failed
}

// writeERP upserts a customer that came from a platform and reads it
// back: the key and what the ERP holds now. Through a group when the
// adapter writes batches; a batch that fails as a whole is written again
// one customer at a time, so one customer never fails another's write.
func (c *Connector) writeERP(ctx context.Context, cust mapping.Customer) (string, erp.Item, error) {
	if c.upserts != nil {
		u, err := c.upserts.upsert(ctx, cust)
		switch {
		case err == nil:
			return u.Key, u.Item, u.Err
		case ctx.Err() != nil:
			return "", erp.Item{}, fmt.Errorf("connector: write to the ERP: %w", err)
		}
	}
	key, err := c.erp.Upsert(ctx, cust)
	if err != nil {
		return "", erp.Item{}, err
	}
	it, err := c.erp.Get(ctx, key)
	if err != nil {
		return key, erp.Item{}, fmt.Errorf("connector: read back ERP customer %q: %w", key, err)
	}
	return key, it, nil
}

// upsert writes cust in the next batch and waits for its outcome. err is
// the failure of the batch as a whole or of ctx; the customer's own
// failure is in the answer's Err.
func (g *upsertGroup) upsert(ctx context.Context, cust mapping.Customer) (erp.Upserted, error) {
	call := &upsertCall{c: cust, lead: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, call)
	if !g.busy {
		g.busy, call.leading = true, true
		close(call.lead)
	}
	g.mu.Unlock()
	select {
	case <-call.done:
		return call.out, call.failed
	case <-call.lead:
		g.run(ctx)
		<-call.done // the leader's own call is in the batch it ran
		return call.out, call.failed
	case <-ctx.Done():
		g.withdraw(call)
		return erp.Upserted{}, ctx.Err()
	}
}

// run writes the queued calls (the leader's first) as one batch, answers
// them, and hands the lead to the first call queued meanwhile.
func (g *upsertGroup) run(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.queue), maxUpsertBatch)
	batch := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	g.mu.Unlock()
	cs := make([]mapping.Customer, len(batch))
	for i, call := range batch {
		cs[i] = call.c
	}
	// Whatever happens to the write (a panic in the adapter included: the
	// pool recovers the leader's), every call of the batch is answered and
	// the lead goes on, so no writer waits for a batch that ended.
	out, err := []erp.Upserted(nil), errBatchPanicked
	defer func() {
		if err != nil && ctx.Err() == nil {
			g.log.Warn("a batch of ERP writes failed as a whole; its customers are written one at a time", "customers", len(batch), "err", err)
		}
		for i, call := range batch {
			if err != nil {
				call.failed = err
			} else {
				call.out = out[i]
			}
			close(call.done)
		}
		g.mu.Lock()
		g.next()
		g.mu.Unlock()
	}()
	out, err = g.w.UpsertBatch(ctx, cs)
	if err == nil && len(out) != len(cs) {
		err = fmt.Errorf("connector: the ERP answered %d of a batch of %d writes", len(out), len(cs))
	}
}

// errBatchPanicked is the failure of a batch whose write panicked.
var errBatchPanicked = errors.New("connector: the ERP adapter panicked writing a batch")

// next hands the lead to the first queued call, or ends the group's
// turn. The caller holds g.mu.
func (g *upsertGroup) next() {
	if len(g.queue) == 0 {
		g.busy = false
		return
	}
	first := g.queue[0]
	first.leading = true
	close(first.lead)
}

// withdraw takes a call whose writer gave up out of the queue (a batch
// that took it already goes on without anyone waiting); a call given the
// lead passes it on.
func (g *upsertGroup) withdraw(call *upsertCall) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.queue, call); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		if call.leading {
			g.next()
		}
	}
}
