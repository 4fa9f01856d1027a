package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Plan is what a migration knows up front; zero totals mean unknown.
type Plan struct {
	// TotalChunks is the expected number of chunks.
	TotalChunks int `json:"total_chunks,omitempty"`
	// TotalRecords is the expected number of source records.
	TotalRecords int `json:"total_records,omitempty"`
}

// Migration is the durable progress of a named, chunked migration.
type Migration struct {
	// Name identifies the migration.
	Name string `json:"name"`
	// Plan is the recorded plan.
	Plan Plan `json:"plan"`
	// Position is the source position read up to (opaque to the queue,
	// e.g. the last ERP key or page offset). Resume from here.
	Position string `json:"position"`
	// ChunksDone and RecordsDone count chunks and records durably queued.
	ChunksDone  int       `json:"chunks_done"`
	RecordsDone int       `json:"records_done"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Done reports whether the migration was finished.
func (m Migration) Done() bool { return !m.CompletedAt.IsZero() }

// Progress is a fraction 0..1 for a progress bar: by records when the plan
// knows them, else by chunks; -1 when neither total is known.
func (m Migration) Progress() float64 {
	switch {
	case m.Done():
		return 1
	case m.Plan.TotalRecords > 0:
		return min(1, float64(m.RecordsDone)/float64(m.Plan.TotalRecords))
	case m.Plan.TotalChunks > 0:
		return min(1, float64(m.ChunksDone)/float64(m.Plan.TotalChunks))
	}
	return -1
}

// Chunk is one step of a migration.
type Chunk struct {
	// Position is the source position after this chunk.
	Position string
	// Records is how many source records the chunk covers (default len(Jobs)).
	Records int
	// Jobs are enqueued in the same transaction that records the position.
	Jobs []Job
}

func getMigration(tx *bolt.Tx, name string) (Migration, bool, error) {
	v := tx.Bucket(bktMigrations).Get([]byte(name))
	if v == nil {
		return Migration{}, false, nil
	}
	var m Migration
	if err := json.Unmarshal(v, &m); err != nil {
		return Migration{}, false, fmt.Errorf("migration %q: %w", name, err)
	}
	return m, true, nil
}

func putMigration(tx *bolt.Tx, m *Migration) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bktMigrations).Put([]byte(m.Name), v)
}

// BeginMigration records a new migration with its plan. When one with the
// name exists and is not done, it is returned unchanged (a restart resumes
// it); when it is done, it starts over.
func (s *Store) BeginMigration(ctx context.Context, name string, plan Plan) (Migration, error) {
	if err := ctx.Err(); err != nil {
		return Migration{}, fmt.Errorf("queue: begin migration: %w", err)
	}
	if name == "" {
		return Migration{}, fmt.Errorf("queue: begin migration: name: must not be empty")
	}
	var m Migration
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, ok, err := getMigration(tx, name)
		if err != nil {
			return err
		}
		if ok && !old.Done() {
			m = old
			return nil
		}
		now := s.opts.Clock()
		m = Migration{Name: name, Plan: plan, StartedAt: now, UpdatedAt: now}
		return putMigration(tx, &m)
	})
	if err != nil {
		return Migration{}, fmt.Errorf("queue: begin migration %q: %w", name, err)
	}
	return m, nil
}

// Resume returns an unfinished migration so its caller can continue from
// Position; ErrNotFound when there is none or it is done.
func (s *Store) Resume(ctx context.Context, name string) (Migration, error) {
	m, err := s.Migration(ctx, name)
	if err != nil {
		return Migration{}, err
	}
	if m.Done() {
		return Migration{}, fmt.Errorf("queue: resume migration %q: already done: %w", name, ErrNotFound)
	}
	return m, nil
}

// MigrationTx returns a migration's progress as tx sees it (ErrNotFound
// when there is none), so that a caller can derive the next position from
// the recorded one in the transaction that advances it.
func MigrationTx(tx *bolt.Tx, name string) (Migration, error) {
	m, ok, err := getMigration(tx, name)
	if err == nil && !ok {
		err = ErrNotFound
	}
	if err != nil {
		return Migration{}, fmt.Errorf("queue: migration %q: %w", name, err)
	}
	return m, nil
}

// Migration returns a migration's progress.
func (s *Store) Migration(ctx context.Context, name string) (Migration, error) {
	if err := ctx.Err(); err != nil {
		return Migration{}, fmt.Errorf("queue: migration: %w", err)
	}
	var m Migration
	err := s.db.View(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		m, ok, err = getMigration(tx, name)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Migration{}, fmt.Errorf("queue: migration %q: %w", name, err)
	}
	return m, nil
}

// Advance enqueues a chunk's jobs and records the new source position and
// counts in one transaction: after a crash the migration resumes exactly
// after the last chunk that was durably queued. Invalid jobs are rejected
// (reported as *JobError) without stopping the chunk.
func (s *Store) Advance(ctx context.Context, name string, c Chunk) (Migration, error) {
	if err := ctx.Err(); err != nil {
		return Migration{}, fmt.Errorf("queue: advance migration: %w", err)
	}
	var m Migration
	var rejected error
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		m, rejected, err = s.AdvanceTx(tx, name, c)
		return err
	})
	if err != nil {
		return Migration{}, err
	}
	return m, rejected
}

// AdvanceTx is Advance inside tx, a caller's read-write transaction: the
// chunk's jobs and position commit with whatever else tx writes (what a
// page of a walk recorded, say). rejected reports jobs the queue refused
// (as Advance's error does) without failing the transaction; err fails it.
func (s *Store) AdvanceTx(tx *bolt.Tx, name string, c Chunk) (m Migration, rejected, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("queue: advance migration %q: %w", name, err)
		}
	}()
	m, ok, err := getMigration(tx, name)
	if err != nil {
		return Migration{}, nil, err
	}
	if !ok {
		return Migration{}, nil, ErrNotFound
	}
	if m.Done() {
		return Migration{}, nil, fmt.Errorf("already done")
	}
	t := s.txn(tx)
	if rejected, err = t.enqueue(c.Jobs); err != nil {
		return Migration{}, nil, err
	}
	recs := c.Records
	if recs == 0 {
		recs = len(c.Jobs)
	}
	m.Position = c.Position
	m.ChunksDone++
	m.RecordsDone += recs
	m.UpdatedAt = t.now
	if err := putMigration(tx, &m); err != nil {
		return Migration{}, nil, err
	}
	tx.OnCommit(s.notify)
	return m, rejected, nil
}

// FinishMigration marks a migration done.
func (s *Store) FinishMigration(ctx context.Context, name string) (Migration, error) {
	if err := ctx.Err(); err != nil {
		return Migration{}, fmt.Errorf("queue: finish migration: %w", err)
	}
	var m Migration
	err := s.db.Update(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		if m, ok, err = getMigration(tx, name); err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		now := s.opts.Clock()
		m.CompletedAt, m.UpdatedAt = now, now
		return putMigration(tx, &m)
	})
	if err != nil {
		return Migration{}, fmt.Errorf("queue: finish migration %q: %w", name, err)
	}
	return m, nil
}

// Migrations lists every recorded migration.
func (s *Store) Migrations(ctx context.Context) ([]Migration, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("queue: migrations: %w", err)
	}
	var out []Migration
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMigrations).ForEach(func(k, v []byte) error {
			var m Migration
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("migration %q: %w", k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("queue: migrations: %w", err)
	}
	return out, nil
}
