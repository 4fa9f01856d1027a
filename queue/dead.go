package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/internal/apierr"
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
	// Rejected dead letters stayed: records that could not be read have
	// nothing to deliver (fix them at the source, then purge them).
	Rejected int
}

// Replay moves matching dead letters back to the queue in one transaction.
// A replayed job keeps its id position semantics of a new job (it goes to
// the back of its lane), its history and its key; if a job with the same key
// is pending, that newer job wins and the dead letter is dropped.
func (s *Store) Replay(ctx context.Context, f DeadFilter) (ReplayResult, error) {
	return s.replay(ctx, f, false)
}

// replay moves dead letters back to the queue; heal keeps their count of
// automatic tries (an operator's replay starts it again).
func (s *Store) replay(ctx context.Context, f DeadFilter, heal bool) (ReplayResult, error) {
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
			if j.Rejected {
				res.Rejected++
				continue
			}
			if err := t.dropDead(keys[i], j.Key); err != nil {
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
			if heal {
				nj.Heals = j.Heals + 1
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
		var jobKeys []string
		if err := forEachDead(tx, f, f.Limit, func(k []byte, j Job) (bool, error) {
			keys = append(keys, append([]byte(nil), k...))
			jobKeys = append(jobKeys, j.Key)
			return true, nil
		}); err != nil {
			return err
		}
		t := s.txn(tx)
		for i, k := range keys {
			if err := t.dropDead(k, jobKeys[i]); err != nil {
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

// The dead letters keep at most one entry per job key: a record that fails
// again replaces its entry (the attempt history carried over), and a job
// that succeeds resolves the entry of its key. bktDeadKeys maps a key to
// its dead letter's id.
var bktDeadKeys = []byte("queue.dead.keys")

// maxDeadHistory bounds the attempt history a dead letter carries.
const maxDeadHistory = 20

// deadKeys returns the key index of the dead letters, building it (and
// merging the duplicates of state files written before it) the first time.
func (t *txn) deadKeys() (*bolt.Bucket, error) {
	if b := t.tx.Bucket(bktDeadKeys); b != nil || !t.tx.Writable() {
		return b, nil
	}
	b, err := t.tx.CreateBucket(bktDeadKeys)
	if err != nil {
		return nil, err
	}
	var dups [][]byte
	c := t.dead.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		j, err := decodeJob(v)
		if err != nil {
			return nil, fmt.Errorf("dead letter %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if old := b.Get([]byte(j.Key)); old != nil {
			dups = append(dups, bytes.Clone(old)) // ids grow: the later entry wins
		}
		if err := b.Put([]byte(j.Key), bytes.Clone(k)); err != nil {
			return nil, err
		}
	}
	for _, k := range dups {
		if err := t.dead.Delete(k); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// putDead stores j as the dead letter of its key, replacing an earlier one
// (whose attempt history goes first in j's).
func (t *txn) putDead(j *Job) error {
	idx, err := t.deadKeys()
	if err != nil {
		return err
	}
	if oldID := idx.Get([]byte(j.Key)); oldID != nil && !bytes.Equal(oldID, u64key(j.ID)) {
		if v := t.dead.Get(oldID); v != nil {
			if old, err := decodeJob(v); err == nil {
				j.History = append(old.History, j.History...)
				if j.Created.IsZero() || old.Created.Before(j.Created) {
					j.Created = old.Created
				}
			}
			if err := t.dead.Delete(oldID); err != nil {
				return err
			}
		}
	}
	if len(j.History) > maxDeadHistory {
		j.History = j.History[len(j.History)-maxDeadHistory:]
	}
	t.buf = encodeJob(t.buf[:0], j)
	if err := t.dead.Put(u64key(j.ID), bytes.Clone(t.buf)); err != nil {
		return err
	}
	return idx.Put([]byte(j.Key), u64key(j.ID))
}

// resolveDead removes the dead letter of key, if there is one (its record
// went through); it reports whether it did.
func (t *txn) resolveDead(key string) (bool, error) {
	idx, err := t.deadKeys()
	if err != nil {
		return false, err
	}
	id := idx.Get([]byte(key))
	if id == nil {
		return false, nil
	}
	if err := t.dead.Delete(id); err != nil {
		return false, err
	}
	return true, idx.Delete([]byte(key))
}

// dropDead removes one dead letter and its index entry.
func (t *txn) dropDead(k []byte, key string) error {
	if err := t.dead.Delete(k); err != nil {
		return err
	}
	idx, err := t.deadKeys()
	if err != nil {
		return err
	}
	if cur := idx.Get([]byte(key)); cur != nil && bytes.Equal(cur, k) {
		return idx.Delete([]byte(key))
	}
	return nil
}

// BuryTx records jobs straight in the dead letters in tx, each with its
// LastError as the reason: records that could not even be read, with
// nothing to deliver (Job.Rejected). A dead letter of the same key is
// replaced; one with the same reason and payload is left as it is, so a
// record read again is not recorded twice. It returns how many it recorded.
func (s *Store) BuryTx(tx *bolt.Tx, jobs ...Job) (int, error) {
	t := s.txn(tx)
	idx, err := t.deadKeys()
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range jobs {
		j := jobs[i]
		if err := validate(i, &j); err != nil {
			return n, err
		}
		if id := idx.Get([]byte(j.Key)); id != nil {
			if v := t.dead.Get(id); v != nil {
				if old, err := decodeJob(v); err == nil && old.Rejected &&
					old.LastError == j.LastError && bytes.Equal(old.Payload, j.Payload) {
					continue
				}
			}
		}
		id, err := t.jobs.NextSequence()
		if err != nil {
			return n, err
		}
		j.ID, j.State, j.Created, j.Updated, j.Rejected = id, StateDead, t.now, t.now, true
		j.History = append(j.History, Attempt{At: t.now, Error: j.LastError})
		if err := t.putDead(&j); err != nil {
			return n, err
		}
		n++
		t.s.log.Warn("record rejected into the dead letters", "job_id", j.ID, "type", j.Type, "key", j.Key, "err", j.LastError)
	}
	return n, nil
}

// maxHealWait caps the wait between automatic tries of a refused record.
const maxHealWait = 24 * time.Hour

// heals reports whether a job that failed with err is tried again by
// itself later: when a platform answered (a refusal, or failures that
// outlasted the attempts), something fixed on the platform side may let it
// through. A record the connector's own checks rejected, or the ERP's
// failure, waits for an ERP change or an operator instead.
func heals(err error) bool {
	if err == nil || apierr.SystemOf(err) != "" {
		return false
	}
	st := apierr.StatusOf(err)
	return st >= 400 && st != http.StatusUnauthorized && st != http.StatusForbidden || st >= 500 || st == http.StatusTooManyRequests
}

// buryHealing buries j; a healing one gets the time of its next try.
func (t *txn) buryHealing(j *Job, reason string, heal bool) error {
	j.HealAt = time.Time{}
	if heal {
		wait := t.s.opts.HealAfter
		if wait <= 0 {
			wait = 5 * time.Minute
		}
		for range min(j.Heals, 20) {
			wait = min(2*wait, maxHealWait)
		}
		j.HealAt = t.now.Add(wait)
	}
	return t.bury(j, reason)
}

// Heal puts back in the queue every dead letter the platform refused whose
// time to try again has come; the job reads its record again. It returns
// how many it put back.
func (s *Store) Heal(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("queue: heal: %w", err)
	}
	var ids []uint64
	now := s.opts.Clock()
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachDead(tx, DeadFilter{}, 0, func(_ []byte, j Job) (bool, error) {
			if !j.HealAt.IsZero() && !j.HealAt.After(now) {
				ids = append(ids, j.ID)
			}
			return true, nil
		})
	})
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	res, err := s.replay(ctx, DeadFilter{IDs: ids}, true)
	if err != nil {
		return 0, fmt.Errorf("queue: heal: %w", err)
	}
	s.log.Info("refused records tried again", "records", res.Replayed+res.Superseded)
	return res.Replayed + res.Superseded, nil
}
