package queue

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// KeyJobsTx returns, in tx, what the queue holds for one job key: the jobs
// in flight or pending (at most one of each, in flight first) and its dead
// letter. It costs a few lookups: the key index of the jobs and the key
// index of the dead letters (a file written before that index existed is
// scanned instead).
func (s *Store) KeyJobsTx(tx *bolt.Tx, key string) (jobs []Job, dead *Job, err error) {
	t := s.txn(tx)
	ks := t.keyState(key)
	for _, id := range []uint64{ks.inflight, ks.pending} {
		if id == 0 {
			continue
		}
		j, ok, err := t.get(id)
		if err != nil {
			return nil, nil, fmt.Errorf("queue: jobs of %q: %w", key, err)
		}
		if ok {
			jobs = append(jobs, j)
		}
	}
	dead, err = t.deadOfKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: dead letter of %q: %w", key, err)
	}
	return jobs, dead, nil
}

// deadOfKey returns the dead letter of a key, or nil.
func (t *txn) deadOfKey(key string) (*Job, error) {
	if idx := t.tx.Bucket(bktDeadKeys); idx != nil {
		id := idx.Get([]byte(key))
		if id == nil {
			return nil, nil
		}
		v := t.dead.Get(id)
		if v == nil {
			return nil, nil
		}
		j, err := decodeJob(v)
		if err != nil {
			return nil, err
		}
		return &j, nil
	}
	var found *Job
	err := forEachDead(t.tx, DeadFilter{}, 0, func(k []byte, j Job) (bool, error) {
		if j.Key == key && (found == nil || bytes.Compare(u64key(found.ID), k) < 0) {
			found = &j
		}
		return true, nil
	})
	return found, err
}
