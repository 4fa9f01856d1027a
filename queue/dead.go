package queue

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// DeadFilter selects dead letters.
type DeadFilter struct {
	// Type keeps only dead letters of this job type; empty means all.
	Type string
	// AfterID starts the page after this job id (0 from the start).
	AfterID uint64
	// Limit caps the page (0 means 100 for listing, unlimited for Replay and
	// Purge).
	Limit int
	// IDs selects these jobs only; empty means all that match Type.
	IDs []uint64
}

func (f *DeadFilter) match(j *Job) bool {
	if f.Type != "" && j.Type != f.Type {
		return false
	}
	if len(f.IDs) == 0 {
		return true
	}
	for _, id := range f.IDs {
		if id == j.ID {
			return true
		}
	}
	return false
}

// forEachDead calls fn for matching dead letters in id order until fn
// returns false or limit is reached.
func forEachDead(tx *bolt.Tx, f DeadFilter, limit int, fn func(k []byte, j Job) (bool, error)) error {
	c := tx.Bucket(bktDead).Cursor()
	n := 0
	for k, v := c.Seek(u64key(f.AfterID + 1)); k != nil; k, v = c.Next() {
		if limit > 0 && n >= limit {
			break
		}
		j, err := decodeJob(v)
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !f.match(&j) {
			continue
		}
		n++
		more, err := fn(k, j)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// DeadLetters lists dead letters in id order, one page at a time. next is the
// AfterID of the following page, 0 when there is none. Each keeps the job,
// its attempt history and the reason (LastError).
func (s *Store) DeadLetters(ctx context.Context, f DeadFilter) (jobs []Job, next uint64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("queue: dead letters: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		return forEachDead(tx, f, limit+1, func(_ []byte, j Job) (bool, error) {
			jobs = append(jobs, j)
			return true, nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("queue: dead letters: %w", err)
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
		next = jobs[limit-1].ID
	}
	return jobs, next, nil
}

// DeadLetter returns one dead letter by job id.
func (s *Store) DeadLetter(ctx context.Context, id uint64) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("queue: dead letter: %w", err)
	}
	var j Job
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bktDead).Get(u64key(id))
		if v == nil {
			return fmt.Errorf("job %d: %w", id, ErrNotFound)
		}
		var err error
		j, err = decodeJob(v)
		return err
	})
	if err != nil {
		return Job{}, fmt.Errorf("queue: dead letter: %w", err)
	}
	return j, nil
}

// ReplayResult counts what Replay did.
type ReplayResult struct {
	// Replayed dead letters went back to the queue with a fresh attempt count.
	Replayed int
	// Superseded dead letters were dropped because a newer job with the
	// same key was already pending (the newer payload wins).
	Superseded int
}

// Replay moves matching dead letters back to the queue in one transaction.
// A replayed job keeps its id position semantics of a new job (it goes to
// the back of its lane), its history and its key; if a job with the same key
// is pending, that newer job wins and the dead letter is dropped.
func (s *Store) Replay(ctx context.Context, f DeadFilter) (ReplayResult, error) {
	var res ReplayResult
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("queue: replay: %w", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.txn(tx)
		var keys [][]byte
		var jobs []Job
		if err := forEachDead(tx, f, f.Limit, func(k []byte, j Job) (bool, error) {
			keys = append(keys, append([]byte(nil), k...))
			jobs = append(jobs, j)
			return true, nil
		}); err != nil {
			return err
		}
		for i, j := range jobs {
			if err := t.dead.Delete(keys[i]); err != nil {
				return err
			}
			ks := t.keyState(j.Key)
			if ks.pending != 0 {
				res.Superseded++
				continue
			}
			id, err := t.jobs.NextSequence()
			if err != nil {
				return err
			}
			nj := Job{
				ID: id, Type: j.Type, Key: j.Key, Payload: j.Payload, Lane: j.Lane,
				State: StateReady, NextAttempt: t.now, Created: j.Created, Updated: t.now,
				LastError: j.LastError, History: j.History, OutcomeUnknown: j.OutcomeUnknown,
			}
			if ks.inflight != 0 {
				nj.State = StateWaiting
			} else if err := t.addReady(&nj); err != nil {
				return err
			}
			if err := t.put(&nj); err != nil {
				return err
			}
			ks.pending = id
			if err := t.putKeyState(j.Key, ks); err != nil {
				return err
			}
			res.Replayed++
		}
		return nil
	})
	if err != nil {
		return ReplayResult{}, fmt.Errorf("queue: replay: %w", err)
	}
	s.notify()
	return res, nil
}

// Purge deletes matching dead letters and reports how many.
func (s *Store) Purge(ctx context.Context, f DeadFilter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("queue: purge: %w", err)
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		if err := forEachDead(tx, f, f.Limit, func(k []byte, _ Job) (bool, error) {
			keys = append(keys, append([]byte(nil), k...))
			return true, nil
		}); err != nil {
			return err
		}
		b := tx.Bucket(bktDead)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue: purge: %w", err)
	}
	return n, nil
}
