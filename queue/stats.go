package queue

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Counts are job counts by state. Ready counts jobs that may be leased now;
// Scheduled counts ready jobs whose next attempt is still ahead.
type Counts struct {
	Ready     int `json:"ready"`
	Scheduled int `json:"scheduled"`
	Waiting   int `json:"waiting"`
	Leased    int `json:"leased"`
}

// Total is the number of live (not dead) jobs.
func (c Counts) Total() int { return c.Ready + c.Scheduled + c.Waiting + c.Leased }

func (c *Counts) add(j *Job, now time.Time) {
	switch j.State {
	case StateReady:
		if j.NextAttempt.After(now) {
			c.Scheduled++
		} else {
			c.Ready++
		}
	case StateWaiting:
		c.Waiting++
	case StateLeased:
		c.Leased++
	}
}

// Stats describe the queue at one moment.
type Stats struct {
	// Counts are all jobs by state.
	Counts
	// ByLane and ByType break the counts down.
	ByLane map[string]Counts `json:"by_lane"`
	ByType map[string]Counts `json:"by_type"`
	// OldestReady is how long the oldest ready-now job has been eligible.
	OldestReady time.Duration `json:"oldest_ready"`
	// Dead is the number of dead letters; DeadByType breaks it down.
	Dead       int            `json:"dead"`
	DeadByType map[string]int `json:"dead_by_type"`
}

// Empty reports whether the queue holds no live job (ready, scheduled,
// waiting or leased; dead letters aside). Unlike Stats it costs the same
// however many jobs are held.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("queue: empty: %w", err)
	}
	empty := true
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktJobs); b != nil {
			k, _ := b.Cursor().First()
			empty = k == nil
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("queue: empty: %w", err)
	}
	return empty, nil
}

// Held returns how many jobs the queue holds (ready, scheduled, waiting
// behind their key and leased; not dead letters). It counts index entries
// without decoding a job, so a producer can check it before every batch to
// keep the queue, and the file, small.
func (s *Store) Held(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("queue: held: %w", err)
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktJobs); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue: held: %w", err)
	}
	return n, nil
}

// Stats scans the queue (cost grows with the number of jobs held, not with
// the number processed).
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, fmt.Errorf("queue: stats: %w", err)
	}
	st := Stats{ByLane: map[string]Counts{}, ByType: map[string]Counts{}, DeadByType: map[string]int{}}
	now := s.opts.Clock()
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bktJobs).ForEach(func(_, v []byte) error {
			j, err := decodeJob(v)
			if err != nil {
				return err
			}
			st.Counts.add(&j, now)
			l := st.ByLane[j.Lane.String()]
			l.add(&j, now)
			st.ByLane[j.Lane.String()] = l
			c := st.ByType[j.Type]
			c.add(&j, now)
			st.ByType[j.Type] = c
			if j.State == StateReady && !j.NextAttempt.After(now) {
				if age := now.Sub(j.NextAttempt); age > st.OldestReady {
					st.OldestReady = age
				}
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bktDead).ForEach(func(_, v []byte) error {
			j, err := decodeJob(v)
			if err != nil {
				return err
			}
			st.Dead++
			st.DeadByType[j.Type]++
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("queue: stats: %w", err)
	}
	return st, nil
}
