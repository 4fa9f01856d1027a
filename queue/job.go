package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Lane separates interactive work from bulk work. The zero value is LaneLive.
type Lane uint8

const (
	// LaneLive carries changes made by people right now; it is leased first.
	LaneLive Lane = 0
	// LaneBackfill carries migrations and full resyncs; a guard keeps it from
	// being starved by a busy live lane.
	LaneBackfill Lane = 1
)

func (l Lane) String() string {
	switch l {
	case LaneLive:
		return "live"
	case LaneBackfill:
		return "backfill"
	}
	return "lane(" + strconv.Itoa(int(l)) + ")"
}

// ParseLane turns "live" or "backfill" into a Lane.
func ParseLane(s string) (Lane, error) {
	switch s {
	case "live", "":
		return LaneLive, nil
	case "backfill":
		return LaneBackfill, nil
	}
	return 0, fmt.Errorf("queue: unknown lane %q", s)
}

// State is where a job is in its life.
type State uint8

const (
	// StateReady jobs may be leased once their NextAttempt has come.
	StateReady State = 1
	// StateWaiting jobs wait behind an in-flight job with the same key.
	StateWaiting State = 2
	// StateLeased jobs are held by a worker until acked, retried, failed,
	// released or until the lease expires.
	StateLeased State = 3
	// StateDead jobs are in the dead letters.
	StateDead State = 4
)

func (s State) String() string {
	switch s {
	case StateReady:
		return "ready"
	case StateWaiting:
		return "waiting"
	case StateLeased:
		return "leased"
	case StateDead:
		return "dead"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Attempt is one failed attempt kept in a job's history.
type Attempt struct {
	// At is when the attempt ended.
	At time.Time
	// Error is the error text of the attempt.
	Error string
}

// Job is one unit of work. Callers set Type, Key, Payload and Lane; the store
// fills in the rest.
type Job struct {
	// ID is assigned by the store and increases in enqueue order.
	ID uint64
	// Type names the work, e.g. "one.upsert"; pools lease by type.
	Type string
	// Key identifies the record the job acts on, e.g. "one:upsert:C-1001".
	// A newer job with the same key replaces a pending one, and two jobs with
	// one key are never in flight together.
	Key string
	// Payload is opaque to the queue.
	Payload []byte
	// Lane is live or backfill.
	Lane Lane

	// State is the job's current state.
	State State
	// Attempts counts attempts started since the payload was last replaced.
	// A handler that sees Attempts > 1 knows an earlier attempt did not end
	// in success.
	Attempts int
	// NextAttempt is the earliest time the job may be leased.
	NextAttempt time.Time
	// LastError is the error of the last failed attempt (the dead-letter
	// reason for dead jobs).
	LastError string
	// OutcomeUnknown is set once an attempt ended with an outcome-unknown
	// error: the request may have been applied, so the handler must look
	// before it repeats a non-idempotent write (e.g. find by external id
	// before creating again).
	OutcomeUnknown bool
	// History lists the most recent failed attempts, oldest first.
	History []Attempt
	// HealAt, on a dead letter the platform refused (rather than one the
	// connector's own checks rejected), is when it is tried again by
	// itself (Store.Heal); Heals counts those tries. Zero: it waits for an
	// operator or a change.
	HealAt time.Time
	Heals  int
	// Rejected marks a dead letter recorded by BuryTx: a record that could
	// not even be read, with nothing to deliver. Replay leaves it; it goes
	// when the operator purges it once the source is fixed.
	Rejected bool
	// Created and Updated are when the job was first enqueued and last changed.
	Created, Updated time.Time
	// LeaseToken identifies the current lease; acks with a stale token fail
	// with ErrLeaseLost.
	LeaseToken uint64
	// LeaseDeadline is when the current lease expires.
	LeaseDeadline time.Time
}

const encVersion = 1

const (
	flagOutcomeUnknown = 1 << iota
	flagHeal           // HealAt and Heals follow the history
	flagRejected
)

func putTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.BigEndian.AppendUint64(b, 0)
	}
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

func putString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeJob appends the stored form of j to b.
func encodeJob(b []byte, j *Job) []byte {
	b = append(b, encVersion)
	b = binary.BigEndian.AppendUint64(b, j.ID)
	b = append(b, byte(j.State), byte(j.Lane))
	var flags byte
	if j.OutcomeUnknown {
		flags |= flagOutcomeUnknown
	}
	heal := !j.HealAt.IsZero() || j.Heals > 0
	if heal {
		flags |= flagHeal
	}
	if j.Rejected {
		flags |= flagRejected
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(j.Attempts))
	b = putTime(b, j.NextAttempt)
	b = putTime(b, j.Created)
	b = putTime(b, j.Updated)
	b = binary.BigEndian.AppendUint64(b, j.LeaseToken)
	b = putTime(b, j.LeaseDeadline)
	b = putString(b, j.Type)
	b = putString(b, j.Key)
	b = putString(b, string(j.Payload))
	b = putString(b, j.LastError)
	b = binary.AppendUvarint(b, uint64(len(j.History)))
	for _, a := range j.History {
		b = putTime(b, a.At)
		b = putString(b, a.Error)
	}
	if heal {
		b = putTime(b, j.HealAt)
		b = binary.AppendUvarint(b, uint64(j.Heals))
	}
	return b
}

var errCorrupt = errors.New("queue: corrupt job record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errCorrupt
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() time.Time {
	v := d.u64()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v))
}

func (d *decoder) bytes() []byte {
	n := d.uvarint(1 << 31)
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}

// decodeJob parses a stored job. It copies everything it keeps, so the
// result stays valid after the transaction ends.
func decodeJob(b []byte) (Job, error) {
	d := decoder{b: b}
	var j Job
	if d.byte1() != encVersion {
		return Job{}, errCorrupt
	}
	j.ID = d.u64()
	j.State = State(d.byte1())
	j.Lane = Lane(d.byte1())
	flags := d.byte1()
	j.OutcomeUnknown = flags&flagOutcomeUnknown != 0
	j.Attempts = int(d.uvarint(1 << 31))
	j.NextAttempt = d.time()
	j.Created = d.time()
	j.Updated = d.time()
	j.LeaseToken = d.u64()
	j.LeaseDeadline = d.time()
	j.Type = string(d.bytes())
	j.Key = string(d.bytes())
	if p := d.bytes(); len(p) > 0 {
		j.Payload = p
	}
	j.LastError = string(d.bytes())
	// Each attempt takes at least 9 bytes.
	n := d.uvarint(uint64(len(d.b)))
	if d.err == nil && n > uint64(len(d.b))/9 {
		d.err = errCorrupt
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		a := Attempt{At: d.time(), Error: string(d.bytes())}
		j.History = append(j.History, a)
	}
	j.Rejected = flags&flagRejected != 0
	if flags&flagHeal != 0 {
		j.HealAt = d.time()
		j.Heals = int(d.uvarint(1 << 31))
	}
	if d.err != nil {
		return Job{}, d.err
	}
	if len(d.b) != 0 || j.State < StateReady || j.State > StateDead || j.Lane > LaneBackfill {
		return Job{}, errCorrupt
	}
	return j, nil
}
