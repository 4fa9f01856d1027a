// Package state is the connector's own state beside the queue in the one
// bbolt file: bindings (ERP key ↔ platform id, what was last pushed and
// seen, the watermark version), platform ids waiting to be written back to
// the ERP, tombstones of records unbound on purpose, a short history of
// outcomes per ERP key and platform (for `erpconnector trace`), and the
// sets a walk over a platform uses to find what it did not see. It is the
// only user of bbolt transactions outside the queue.
//
// One transaction policy: inside a queue handler, Defer commits with the
// job's settlement (the binding a handler writes is never visible without
// the job's outcome, and costs no commit of its own); elsewhere it commits
// at once, batched with concurrent writers. Update and View are plain
// transactions for scans and walks.
package state

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Store is the connector's state in the queue's file.
type Store struct {
	q   *queue.Store
	now func() time.Time
}

// Tx is one transaction over the state (read-only inside View).
type Tx struct {
	tx *bolt.Tx
	s  *Store
}

// Open prepares the state's buckets in q's file.
func Open(ctx context.Context, q *queue.Store, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{q: q, now: now}
	err := q.Update(ctx, func(tx *bolt.Tx) error {
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			for _, b := range [][]byte{bindingBucket(p), reverseBucket(p), tombstoneBucket(p), tombstoneKeyBucket(p)} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
		}
		_, err := tx.CreateBucketIfNotExists(bktWriteBacks)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state: open: %w", err)
	}
	return s, nil
}

// Queue is the queue the state lives beside.
func (s *Store) Queue() *queue.Store { return s.q }

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.q.View(ctx, func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// Update runs fn in a read-write transaction and commits it.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.q.Update(ctx, func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// Batch runs fn in a read-write transaction committed at once (durably,
// before Batch returns), batched with concurrent writers; fn may run more
// than once.
func (s *Store) Batch(ctx context.Context, fn func(*Tx) error) error {
	return s.q.Batch(ctx, func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// Defer runs fn in the transaction that settles the job a queue handler
// is delivering (whatever its outcome); outside a handler it commits at
// once. fn may run again on a later transaction and must derive everything
// from the transaction.
func (s *Store) Defer(ctx context.Context, fn func(*Tx) error) error {
	return s.q.Defer(ctx, func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// Enqueue queues jobs in the transaction. A job queued for the key of a
// chunk member takes the member out of its chunk: the newer job delivers it.
func (t *Tx) Enqueue(jobs ...queue.Job) error {
	if err := t.unchunk(jobs); err != nil {
		return err
	}
	return t.s.q.EnqueueTx(t.tx, jobs...)
}

// unchunk takes the keys of jobs about to be queued out of their chunks.
func (t *Tx) unchunk(jobs []queue.Job) error {
	if t.tx.Bucket(bktChunkMembers) == nil {
		return nil
	}
	for _, j := range jobs {
		if err := t.DropChunkMember(j.Key, ""); err != nil {
			return err
		}
	}
	return nil
}

// Advance moves a migration on by a chunk in this transaction (see
// queue.Store.AdvanceTx): rejected reports jobs the queue refused, err
// fails the transaction.
func (t *Tx) Advance(name string, c queue.Chunk) (rejected, err error) {
	if err := t.unchunk(c.Jobs); err != nil {
		return nil, err
	}
	_, rejected, err = t.s.q.AdvanceTx(t.tx, name, c)
	return rejected, err
}

// Migration returns a migration's progress as the transaction sees it.
func (t *Tx) Migration(name string) (queue.Migration, error) { return queue.MigrationTx(t.tx, name) }

// Bury records jobs straight in the dead letters (records that could not
// be read; see queue.Store.BuryTx) and returns how many it recorded.
func (t *Tx) Bury(jobs ...queue.Job) (int, error) { return t.s.q.BuryTx(t.tx, jobs...) }

// Cursor returns a named cursor.
func (t *Tx) Cursor(name string) (string, bool) {
	v, ok := queue.GetCursorTx(t.tx, name)
	return string(v), ok
}

// SetCursor stores a named cursor in the transaction.
func (t *Tx) SetCursor(name, value string) error { return queue.SetCursorTx(t.tx, name, []byte(value)) }
