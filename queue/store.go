// Package queue is the connector's durable work queue and its guarded
// delivery path.
//
// The Store keeps jobs in one bbolt file: two lanes (live before backfill,
// with a guard so backfill is never starved), coalescing by key (a newer
// pending job replaces the older payload; never two jobs with one key in
// flight), leases with a visibility timeout, exponential backoff with jitter,
// dead letters with their attempt history, chunked resumable migrations and a
// small cursor store. Other packages keep their own buckets in the same file
// through Update and View.
//
// A Pool delivers one upstream's jobs: it leases in batches, waits on the
// upstream's rate limiter, runs the handler through the upstream's circuit
// breaker, pauses the whole upstream on a 429/503 Retry-After, and settles
// outcomes by error class in batched transactions.
//
// Guarantees: a job is handled at least once unless a newer job with the
// same key replaced it while pending; for one key, versions are handled in
// enqueue order (a repeat after a crash is the same version again); a cursor
// moved with EnqueueTx or a migration moved with Advance covers exactly the
// jobs committed with it. Leases held by a process that died are returned to
// ready when the file is opened again (bbolt's lock makes the opener the
// only user). Stop every Pool before closing the Store.
package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	bolt "go.etcd.io/bbolt"
)

// Bucket names the store owns. Other packages must use names outside the
// "queue." prefix.
var (
	bktJobs       = []byte("queue.jobs")
	bktReady      = []byte("queue.ready")
	bktLeased     = []byte("queue.leased")
	bktKeys       = []byte("queue.keys")
	bktDead       = []byte("queue.dead")
	bktMeta       = []byte("queue.meta")
	bktMigrations = []byte("queue.migrations")
	bktCursors    = []byte("queue.cursors")
)

// LeaseAbandoned is the last error of a job whose lease Open found: the
// process (or the pool on this store) that held it had ended.
const LeaseAbandoned = "lease abandoned by a previous process"

// ErrLeaseLost is returned when a job is settled with a lease that expired
// or was already settled.
var ErrLeaseLost = errors.New("queue: lease lost")

// ErrNotFound is returned when a dead letter, migration or cursor is absent.
var ErrNotFound = errors.New("queue: not found")

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("queue: store closed")

// Backoff sets the delay before a retry: Initial·Multiplier^(attempt-1),
// capped at Max, then spread by ±Jitter (a fraction) and capped again.
type Backoff struct {
	// Initial is the delay after the first failed attempt (default 1s).
	Initial time.Duration
	// Max caps every delay (default 10m).
	Max time.Duration
	// Multiplier grows the delay per attempt (default 2).
	Multiplier float64
	// Jitter is the random spread as a fraction of the delay, up to 1
	// (default 0.2; negative means none).
	Jitter float64
}

// Options configure a Store. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another
	// process (default 5s). Open never waits forever.
	LockTimeout time.Duration
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// MaxAttempts moves a job to the dead letters when that many attempts
	// have failed (default 10).
	MaxAttempts int
	// Backoff shapes retry delays.
	Backoff Backoff
	// LeaseTimeout is how long a lease lasts before the job returns to
	// ready (default 1m).
	LeaseTimeout time.Duration
	// BackfillEvery is the backfill guard: after this many consecutive live
	// jobs leased while backfill jobs were ready, one backfill job is leased
	// (default 4, i.e. backfill gets at least a fifth of a busy queue).
	BackfillEvery int
	// HistoryLimit is how many failed attempts a job remembers (default 10).
	HistoryLimit int
	// NoSync skips fsync on commit. Faster, but a power loss may lose the
	// last commits; off by default.
	NoSync bool
	// InitEmpty lets Open initialise an existing 0-byte file. Without it
	// Open refuses one (*EmptyError); a missing file is always created.
	InitEmpty bool
	// HealAfter is how long a dead letter the platform refused waits
	// before Heal tries it again by itself; each further try waits twice
	// as long, up to a day (default 5m).
	HealAfter time.Duration
}

func (o *Options) defaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Backoff.Initial <= 0 {
		o.Backoff.Initial = time.Second
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = 10 * time.Minute
	}
	if o.Backoff.Multiplier < 1 {
		o.Backoff.Multiplier = 2
	}
	switch {
	case o.Backoff.Jitter == 0:
		o.Backoff.Jitter = 0.2
	case o.Backoff.Jitter < 0:
		o.Backoff.Jitter = 0
	case o.Backoff.Jitter > 1:
		o.Backoff.Jitter = 1
	}
	if o.LeaseTimeout <= 0 {
		o.LeaseTimeout = time.Minute
	}
	if o.BackfillEvery <= 0 {
		o.BackfillEvery = 4
	}
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = 10
	}
}

// allocSize is how much the file grows at a time once it is large.
const allocSize = 4 << 20

// Store is the durable queue. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	opts Options
	log  *slog.Logger

	// liveStreak counts live jobs leased in a row while backfill was
	// ready. Only touched inside write transactions, which bbolt serialises.
	liveStreak int

	wakeMu sync.Mutex
	wake   chan struct{}
}

// wakeCh returns a channel closed when new work may be ready.
func (s *Store) wakeCh() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

// notify wakes pools waiting for work.
func (s *Store) notify() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

// Open opens (or creates) the store file at path. Leases left by a previous
// process are returned to ready at once: bbolt's exclusive file lock means
// no one else can still be working on them.
//
// A missing file is created. The file is checked before bbolt maps it (see
// check.go): a damaged file is a *DamagedError, a 0-byte file an
// *EmptyError (unless opts.InitEmpty), a file another process holds past
// opts.LockTimeout a *LockedError; each names the file and what to do.
func Open(path string, opts Options) (*Store, error) {
	opts.defaults()
	db, err := openBolt(path, openMode{timeout: opts.LockTimeout, noSync: opts.NoSync, initEmpty: opts.InitEmpty}, nil)
	if err != nil {
		return nil, openError(path, err)
	}
	// Grow the file in smaller steps than bbolt's 16 MiB default: the file
	// never shrinks, so slack added at a peak stays for good.
	db.AllocSize = allocSize
	// Batch (below) coalesces concurrent small writes into one commit; keep
	// the wait for company short so a lone writer is not held up for long.
	db.MaxBatchDelay = 2 * time.Millisecond
	s := &Store{db: db, opts: opts, log: opts.Logger.With("component", "queue"), wake: make(chan struct{})}
	var recovered int
	err = guard(path, func() error {
		return db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bktJobs, bktReady, bktLeased, bktKeys, bktDead, bktMeta, bktMigrations, bktCursors} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			t := s.txn(tx)
			n, err := t.expire(time.Time{}, true)
			recovered = n
			return err
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, openError(path, err)
	}
	if recovered > 0 {
		s.log.Info("returned leases of a previous process to ready", "jobs", recovered)
	}
	return s, nil
}

// Close closes the file. It waits for running transactions.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("queue: close: %w", err)
	}
	return nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.db.Path() }

// Update runs fn in a read-write transaction of the store's file, so other
// packages can keep their own buckets (names outside the "queue." prefix)
// atomically with EnqueueTx and SetCursorTx.
func (s *Store) Update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// Batch runs fn in a read-write transaction that may be shared with other
// concurrent Batch calls, so that many small writes from concurrent workers
// cost one commit. fn may run more than once (when a transaction it shares
// fails) and must therefore derive everything from the transaction.
func (s *Store) Batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(fn)
}

// View runs fn in a read-only transaction of the store's file.
func (s *Store) View(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// JobError reports one job of a batch that was rejected.
type JobError struct {
	// Index is the job's position in the batch.
	Index int
	// Field names the offending field.
	Field string
	// Message says what is wrong.
	Message string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("queue: job %d: %s: %s", e.Index, e.Field, e.Message)
}

// MaxKeyLen bounds a job key (bbolt keys are at most 32 KiB).
const MaxKeyLen = 1024

func validate(i int, j *Job) error {
	var errs []error
	if j.Type == "" {
		errs = append(errs, &JobError{i, "type", "must not be empty"})
	}
	if j.Key == "" {
		errs = append(errs, &JobError{i, "key", "must not be empty"})
	} else if len(j.Key) > MaxKeyLen {
		errs = append(errs, &JobError{i, "key", fmt.Sprintf("longer than %d bytes", MaxKeyLen)})
	}
	if len(j.Type) > MaxKeyLen {
		errs = append(errs, &JobError{i, "type", fmt.Sprintf("longer than %d bytes", MaxKeyLen)})
	}
	if j.Lane > LaneBackfill {
		errs = append(errs, &JobError{i, "lane", "must be live or backfill"})
	}
	return errors.Join(errs...)
}

// Enqueue adds jobs in one transaction. A job whose key has a pending job
// replaces that job's payload (its attempt count resets); a job whose key is
// in flight waits behind it. Invalid jobs are rejected with a *JobError each
// (joined) while the valid ones are committed.
func (s *Store) Enqueue(ctx context.Context, jobs ...Job) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	var rejected error
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		rejected, err = s.txn(tx).enqueue(jobs)
		return err
	})
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	s.notify()
	return rejected
}

// EnqueueTx enqueues inside a transaction opened with Update, so a caller can
// move its own cursor in the same commit.
func (s *Store) EnqueueTx(tx *bolt.Tx, jobs ...Job) error {
	rejected, err := s.txn(tx).enqueue(jobs)
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	tx.OnCommit(s.notify)
	return rejected
}

// LeaseOptions select what Lease returns.
type LeaseOptions struct {
	// N is the most jobs to lease (default 1).
	N int
	// Types restricts the lease to these job types; empty means all.
	Types []string
}

// Lease returns up to n ready jobs of the given types (all types when none
// are given), live before backfill with the backfill guard, FIFO within a
// lane. Expired leases are returned to ready first.
func (s *Store) Lease(ctx context.Context, n int, types ...string) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("queue: lease: %w", err)
	}
	var out []Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.txn(tx)
		if _, err := t.expire(t.now, false); err != nil {
			return err
		}
		var err error
		out, err = t.lease(n, types)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: lease: %w", err)
	}
	return out, nil
}

// OutcomeKind says how a leased job ended.
type OutcomeKind uint8

const (
	// Ack removes the job: it was handled.
	Ack OutcomeKind = iota + 1
	// Retry schedules another attempt after a delay (backoff when zero).
	Retry
	// Fail moves the job to the dead letters.
	Fail
	// Release returns the job to ready without counting the attempt
	// (cancelled, breaker open, shutting down).
	Release
)

// Outcome settles one leased job.
type Outcome struct {
	// Job is the leased job (ID and LeaseToken are what count).
	Job Job
	// Kind is what to do with it.
	Kind OutcomeKind
	// After is the retry delay; zero means the store's backoff.
	After time.Duration
	// Err is the attempt's error for Retry and Fail.
	Err error

	// s holds what the handler deferred (see Store.Defer, AfterSettle).
	s *settlement
}

// Settle applies outcomes in one transaction. An outcome whose lease was lost
// is skipped and reported (joined, each wrapping ErrLeaseLost); the others are
// committed.
func (s *Store) Settle(ctx context.Context, outs ...Outcome) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("queue: settle: %w", err)
	}
	var lost error
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		lost, err = s.txn(tx).settle(outs)
		return err
	})
	settled(outs)
	if err != nil {
		return fmt.Errorf("queue: settle: %w", err)
	}
	s.notify()
	return lost
}

// Ack removes handled jobs in one transaction.
func (s *Store) Ack(ctx context.Context, jobs ...Job) error {
	outs := make([]Outcome, len(jobs))
	for i, j := range jobs {
		outs[i] = Outcome{Job: j, Kind: Ack}
	}
	return s.Settle(ctx, outs...)
}

// Retry schedules another attempt of a leased job after the given delay
// (the store's backoff when after is zero). A job that used up MaxAttempts
// goes to the dead letters.
func (s *Store) Retry(ctx context.Context, job Job, after time.Duration, err error) error {
	return s.Settle(ctx, Outcome{Job: job, Kind: Retry, After: after, Err: err})
}

// Fail moves a leased job to the dead letters with err as the reason.
func (s *Store) Fail(ctx context.Context, job Job, err error) error {
	return s.Settle(ctx, Outcome{Job: job, Kind: Fail, Err: err})
}

// Release returns leased jobs to ready without counting the attempt.
func (s *Store) Release(ctx context.Context, jobs ...Job) error {
	outs := make([]Outcome, len(jobs))
	for i, j := range jobs {
		outs[i] = Outcome{Job: j, Kind: Release}
	}
	return s.Settle(ctx, outs...)
}

// ExpireLeases returns jobs whose lease has expired to ready (or to the dead
// letters when out of attempts) and reports how many it moved. Lease does
// this on its own; this is for callers that only watch.
func (s *Store) ExpireLeases(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("queue: expire: %w", err)
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.txn(tx)
		var err error
		n, err = t.expire(t.now, false)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue: expire: %w", err)
	}
	if n > 0 {
		s.notify()
	}
	return n, nil
}

// cycle is the result of one pool transaction.
type cycle struct {
	leased []Job
	lost   error
	// nextDue is the earliest future NextAttempt among ready jobs of the
	// types (zero when none).
	nextDue time.Time
}

// settleAndLease is the pool's one transaction per cycle: settle outcomes,
// expire stale leases, lease up to n jobs.
func (s *Store) settleAndLease(outs []Outcome, n int, types []string) (cycle, error) {
	var c cycle
	promoted := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		c = cycle{}
		t := s.txn(tx)
		var err error
		if c.lost, err = t.settle(outs); err != nil {
			return err
		}
		promoted = t.promoted
		if n > 0 {
			if _, err = t.expire(t.now, false); err != nil {
				return err
			}
			if c.leased, err = t.lease(n, types); err != nil {
				return err
			}
			c.nextDue = t.nextDue(types)
		}
		return nil
	})
	if err != nil {
		return cycle{}, fmt.Errorf("queue: settle and lease: %w", err)
	}
	if promoted {
		s.notify()
	}
	return c, nil
}

// nextDue returns the earliest NextAttempt after now among ready jobs of
// the types (all when empty), zero when there is none.
func (t *txn) nextDue(types []string) time.Time {
	var best []byte
	scan := func(b *bolt.Bucket) {
		c := b.Cursor()
		for _, lane := range []Lane{LaneLive, LaneBackfill} {
			from := timeKey([]byte{byte(lane)}, t.now.Add(time.Nanosecond))
			k, _ := c.Seek(from)
			if k != nil && k[0] == byte(lane) && (best == nil || bytes.Compare(k[1:9], best) < 0) {
				best = bytes.Clone(k[1:9])
			}
		}
	}
	if len(types) == 0 {
		_ = t.ready.ForEachBucket(func(name []byte) error {
			scan(t.ready.Bucket(name))
			return nil
		})
	} else {
		for _, typ := range types {
			if b := t.ready.Bucket([]byte(typ)); b != nil {
				scan(b)
			}
		}
	}
	if best == nil {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(best)^(1<<63)))
}

// txn bundles a transaction's buckets and clock reading.
type txn struct {
	s      *Store
	tx     *bolt.Tx
	now    time.Time
	jobs   *bolt.Bucket
	ready  *bolt.Bucket
	leased *bolt.Bucket
	keys   *bolt.Bucket
	dead   *bolt.Bucket
	meta   *bolt.Bucket
	buf    []byte
	// promoted is set when a waiting job became ready.
	promoted bool
}

// appendFill is the page fill for buckets whose keys mostly grow (ids,
// times): bbolt's default of one half wastes the other half of every page.
const appendFill = 0.9

func (s *Store) txn(tx *bolt.Tx) *txn {
	t := &txn{
		s: s, tx: tx, now: s.opts.Clock(),
		jobs: tx.Bucket(bktJobs), ready: tx.Bucket(bktReady), leased: tx.Bucket(bktLeased),
		keys: tx.Bucket(bktKeys), dead: tx.Bucket(bktDead), meta: tx.Bucket(bktMeta),
	}
	if tx.Writable() {
		t.jobs.FillPercent, t.leased.FillPercent, t.dead.FillPercent = appendFill, appendFill, appendFill
	}
	return t
}

func u64key(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// timeKey orders times (including before 1970) as unsigned bytes.
func timeKey(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())^(1<<63))
}

func readyKey(j *Job) []byte {
	b := make([]byte, 0, 17)
	b = append(b, byte(j.Lane))
	b = timeKey(b, j.NextAttempt)
	return binary.BigEndian.AppendUint64(b, j.ID)
}

func leasedKey(j *Job) []byte {
	b := timeKey(make([]byte, 0, 16), j.LeaseDeadline)
	return binary.BigEndian.AppendUint64(b, j.ID)
}

type keyState struct{ pending, inflight uint64 }

func (t *txn) keyState(key string) keyState {
	v := t.keys.Get([]byte(key))
	if len(v) != 16 {
		return keyState{}
	}
	return keyState{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}
}

func (t *txn) putKeyState(key string, ks keyState) error {
	if ks.pending == 0 && ks.inflight == 0 {
		return t.keys.Delete([]byte(key))
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), ks.pending)
	v = binary.BigEndian.AppendUint64(v, ks.inflight)
	return t.keys.Put([]byte(key), v)
}

func (t *txn) get(id uint64) (Job, bool, error) {
	v := t.jobs.Get(u64key(id))
	if v == nil {
		return Job{}, false, nil
	}
	j, err := decodeJob(v)
	if err != nil {
		return Job{}, false, fmt.Errorf("job %d: %w", id, err)
	}
	return j, true, nil
}

func (t *txn) put(j *Job) error {
	t.buf = encodeJob(t.buf[:0], j)
	// bbolt keeps the slice until commit, so it needs its own copy.
	return t.jobs.Put(u64key(j.ID), bytes.Clone(t.buf))
}

func (t *txn) readyBucket(typ string) (*bolt.Bucket, error) {
	b := t.ready.Bucket([]byte(typ))
	if b == nil {
		var err error
		if b, err = t.ready.CreateBucket([]byte(typ)); err != nil {
			return nil, err
		}
	}
	b.FillPercent = appendFill
	return b, nil
}

func (t *txn) addReady(j *Job) error {
	b, err := t.readyBucket(j.Type)
	if err != nil {
		return err
	}
	return b.Put(readyKey(j), nil)
}

func (t *txn) removeReady(j *Job) error {
	if b := t.ready.Bucket([]byte(j.Type)); b != nil {
		return b.Delete(readyKey(j))
	}
	return nil
}

func (t *txn) enqueue(jobs []Job) (rejected error, err error) {
	var rej []error
	for i := range jobs {
		in := jobs[i]
		if verr := validate(i, &in); verr != nil {
			rej = append(rej, verr)
			continue
		}
		ks := t.keyState(in.Key)
		if ks.pending != 0 {
			p, ok, err := t.get(ks.pending)
			if err != nil {
				return nil, err
			}
			if ok {
				if p.State == StateReady {
					if err := t.removeReady(&p); err != nil {
						return nil, err
					}
				}
				p.Type, p.Payload, p.Lane = in.Type, bytes.Clone(in.Payload), in.Lane
				p.Attempts, p.LastError, p.Updated = 0, "", t.now
				if p.State == StateReady {
					if p.NextAttempt.After(t.now) {
						p.NextAttempt = t.now
					}
					if err := t.addReady(&p); err != nil {
						return nil, err
					}
				}
				if err := t.put(&p); err != nil {
					return nil, err
				}
				continue
			}
			ks.pending = 0 // dangling; repair
		}
		id, err := t.jobs.NextSequence()
		if err != nil {
			return nil, err
		}
		j := Job{
			ID: id, Type: in.Type, Key: in.Key, Payload: bytes.Clone(in.Payload), Lane: in.Lane,
			State: StateReady, NextAttempt: t.now, Created: t.now, Updated: t.now,
		}
		if ks.inflight != 0 {
			j.State = StateWaiting
		} else if err := t.addReady(&j); err != nil {
			return nil, err
		}
		if err := t.put(&j); err != nil {
			return nil, err
		}
		ks.pending = id
		if err := t.putKeyState(j.Key, ks); err != nil {
			return nil, err
		}
	}
	return errors.Join(rej...), nil
}

type candidate struct {
	key []byte // ready-index key: lane, time, id
	typ string
}

// candidates returns up to n ready-now entries of one lane across types,
// ordered by (next attempt, id).
func (t *txn) candidates(lane Lane, n int, types []string) []candidate {
	var out []candidate
	limit := timeKey([]byte{byte(lane)}, t.now)
	scan := func(typ string, b *bolt.Bucket) {
		c := b.Cursor()
		taken := 0
		for k, _ := c.Seek([]byte{byte(lane)}); k != nil && taken < n; k, _ = c.Next() {
			if k[0] != byte(lane) || bytes.Compare(k[:9], limit) > 0 {
				break
			}
			out = append(out, candidate{key: bytes.Clone(k), typ: typ})
			taken++
		}
	}
	if len(types) == 0 {
		_ = t.ready.ForEachBucket(func(name []byte) error {
			scan(string(name), t.ready.Bucket(name))
			return nil
		})
	} else {
		for _, typ := range types {
			if b := t.ready.Bucket([]byte(typ)); b != nil {
				scan(typ, b)
			}
		}
	}
	if len(types) != 1 {
		sort.Slice(out, func(i, k int) bool { return bytes.Compare(out[i].key[1:], out[k].key[1:]) < 0 })
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (t *txn) lease(n int, types []string) ([]Job, error) {
	if n <= 0 {
		return nil, nil
	}
	live := t.candidates(LaneLive, n, types)
	back := t.candidates(LaneBackfill, n, types)
	if len(live) == 0 && len(back) == 0 {
		return nil, nil
	}
	token, err := t.meta.NextSequence()
	if err != nil {
		return nil, err
	}
	out := make([]Job, 0, min(n, len(live)+len(back)))
	for len(out) < n && (len(live) > 0 || len(back) > 0) {
		var c candidate
		switch {
		case len(back) > 0 && (len(live) == 0 || t.s.liveStreak >= t.s.opts.BackfillEvery):
			c, back = back[0], back[1:]
			t.s.liveStreak = 0
		default:
			c, live = live[0], live[1:]
			if len(back) > 0 {
				t.s.liveStreak++
			}
		}
		id := binary.BigEndian.Uint64(c.key[9:])
		if err := t.ready.Bucket([]byte(c.typ)).Delete(c.key); err != nil {
			return nil, err
		}
		j, ok, err := t.get(id)
		if err != nil {
			return nil, err
		}
		if !ok || j.State != StateReady {
			continue // stale index entry, already removed
		}
		j.State = StateLeased
		j.Attempts++
		j.LeaseToken = token
		j.LeaseDeadline = t.now.Add(t.s.opts.LeaseTimeout)
		j.Updated = t.now
		if err := t.put(&j); err != nil {
			return nil, err
		}
		if err := t.leased.Put(leasedKey(&j), nil); err != nil {
			return nil, err
		}
		if err := t.putKeyState(j.Key, keyState{pending: 0, inflight: j.ID}); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// leasedJob loads the job behind an outcome and checks the lease.
func (t *txn) leasedJob(o *Outcome) (Job, error) {
	j, ok, err := t.get(o.Job.ID)
	if err != nil {
		return Job{}, err
	}
	if !ok || j.State != StateLeased || j.LeaseToken != o.Job.LeaseToken {
		return Job{}, fmt.Errorf("job %d: %w", o.Job.ID, ErrLeaseLost)
	}
	return j, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (t *txn) settle(outs []Outcome) (lost error, err error) {
	var lostErrs []error
	for i := range outs {
		o := &outs[i]
		t.applyEffects(o)
		j, lerr := t.leasedJob(o)
		if lerr != nil {
			if errors.Is(lerr, ErrLeaseLost) {
				lostErrs = append(lostErrs, lerr)
				continue
			}
			return nil, lerr
		}
		if err := t.leased.Delete(leasedKey(&j)); err != nil {
			return nil, err
		}
		switch o.Kind {
		case Ack:
			if err = t.finish(&j); err == nil {
				// The record went through: its dead letter, if any, is resolved.
				_, err = t.resolveDead(j.Key)
			}
		case Fail:
			j.History = t.appendHistory(j.History, errText(o.Err))
			err = t.buryHealing(&j, errText(o.Err), heals(o.Err))
		case Release:
			j.Attempts--
			err = t.requeue(&j, t.now, "", false)
		default: // Retry
			msg := errText(o.Err)
			if msg == "" {
				msg = "retry requested"
			}
			unknown := apierr.Classify(o.Err) == apierr.OutcomeUnknown
			if j.Attempts >= t.s.opts.MaxAttempts {
				j.OutcomeUnknown = j.OutcomeUnknown || unknown
				j.History = t.appendHistory(j.History, msg)
				err = t.buryHealing(&j, fmt.Sprintf("max attempts (%d) reached: %s", t.s.opts.MaxAttempts, msg), heals(o.Err))
				break
			}
			after := o.After
			if after <= 0 {
				after = t.s.backoff(j.Attempts)
			}
			err = t.requeue(&j, t.now.Add(after), msg, unknown)
		}
		if err != nil {
			return nil, err
		}
	}
	return errors.Join(lostErrs...), nil
}

func (t *txn) appendHistory(h []Attempt, msg string) []Attempt {
	h = append(h, Attempt{At: t.now, Error: msg})
	if over := len(h) - t.s.opts.HistoryLimit; over > 0 {
		h = append([]Attempt(nil), h[over:]...)
	}
	return h
}

// finish removes an acked job (its leased index entry is already gone) and
// lets a job waiting behind it go.
func (t *txn) finish(j *Job) error {
	if err := t.jobs.Delete(u64key(j.ID)); err != nil {
		return err
	}
	return t.releaseKey(j, t.now, nil)
}

// releaseKey clears the in-flight mark of j's key and promotes a waiting job
// to ready at next; carry (may be nil) passes history to the promoted job.
func (t *txn) releaseKey(j *Job, next time.Time, carry *Job) error {
	ks := t.keyState(j.Key)
	if ks.inflight == j.ID {
		ks.inflight = 0
	}
	if ks.pending != 0 {
		p, ok, err := t.get(ks.pending)
		if err != nil {
			return err
		}
		if !ok {
			ks.pending = 0
		} else if p.State == StateWaiting {
			t.promoted = true
			p.State = StateReady
			p.NextAttempt = next
			p.Updated = t.now
			if carry != nil {
				p.OutcomeUnknown = p.OutcomeUnknown || carry.OutcomeUnknown
				p.History = carry.History
				p.LastError = carry.LastError
			}
			if err := t.addReady(&p); err != nil {
				return err
			}
			if err := t.put(&p); err != nil {
				return err
			}
		}
	}
	return t.putKeyState(j.Key, ks)
}

// requeue returns a leased job to ready at next. When a newer job with the
// same key waits, the newer payload supersedes this one (coalescing).
func (t *txn) requeue(j *Job, next time.Time, msg string, unknown bool) error {
	if msg != "" {
		j.LastError = msg
		j.History = t.appendHistory(j.History, msg)
	}
	j.OutcomeUnknown = j.OutcomeUnknown || unknown
	ks := t.keyState(j.Key)
	if ks.pending != 0 && ks.pending != j.ID {
		if err := t.jobs.Delete(u64key(j.ID)); err != nil {
			return err
		}
		return t.releaseKey(j, next, j)
	}
	j.State = StateReady
	j.NextAttempt = next
	j.LeaseToken, j.LeaseDeadline = 0, time.Time{}
	j.Updated = t.now
	if err := t.addReady(j); err != nil {
		return err
	}
	if err := t.put(j); err != nil {
		return err
	}
	return t.putKeyState(j.Key, keyState{pending: j.ID})
}

// bury moves a leased job to the dead letters and frees its key.
func (t *txn) bury(j *Job, reason string) error {
	if err := t.jobs.Delete(u64key(j.ID)); err != nil {
		return err
	}
	j.State = StateDead
	j.LastError = reason
	j.LeaseToken, j.LeaseDeadline = 0, time.Time{}
	j.Updated = t.now
	if err := t.putDead(j); err != nil {
		return err
	}
	t.s.log.Warn("job moved to dead letters", "job_id", j.ID, "type", j.Type, "key", j.Key, "attempts", j.Attempts, "err", reason)
	return t.releaseKey(j, t.now, nil)
}

// expire returns leases whose deadline is at or before now (every lease when
// all is set) to ready, or to the dead letters when out of attempts.
func (t *txn) expire(now time.Time, all bool) (int, error) {
	var ids []uint64
	var keys [][]byte
	c := t.leased.Cursor()
	limit := timeKey(nil, now)
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if !all && bytes.Compare(k[:8], limit) > 0 {
			break
		}
		ids = append(ids, binary.BigEndian.Uint64(k[8:]))
		keys = append(keys, bytes.Clone(k))
	}
	for i, id := range ids {
		if err := t.leased.Delete(keys[i]); err != nil {
			return 0, err
		}
		j, ok, err := t.get(id)
		if err != nil {
			return 0, err
		}
		if !ok || j.State != StateLeased {
			continue
		}
		msg := "lease expired"
		if all {
			msg = LeaseAbandoned
		}
		if j.Attempts >= t.s.opts.MaxAttempts {
			j.History = t.appendHistory(j.History, msg)
			err = t.bury(&j, fmt.Sprintf("max attempts (%d) reached: %s", t.s.opts.MaxAttempts, msg))
		} else {
			err = t.requeue(&j, t.now, msg, false)
		}
		if err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
