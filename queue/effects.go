package queue

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// settlement is what a handler asked to happen with its job's settlement:
// writes committed in the same transaction, and calls made once that
// transaction is over.
type settlement struct {
	store   *Store
	effects []func(tx *bolt.Tx) error
	after   []func()
	// stopping is closed when the delivering pool stops leasing.
	stopping <-chan struct{}
}

type settlementKey struct{}

// withSettlement gives a handler's context the settlement of its job.
func withSettlement(ctx context.Context, s *settlement) context.Context {
	return context.WithValue(ctx, settlementKey{}, s)
}

func settlementOf(ctx context.Context) *settlement {
	s, _ := ctx.Value(settlementKey{}).(*settlement)
	return s
}

// Defer writes fn's changes to the store's file together with the
// settlement of the job a pool handler is delivering: fn runs inside the
// transaction that acks, retries, fails or releases the job, whatever the
// outcome, so a handler's bookkeeping costs no commit of its own and is
// never visible without the job's outcome. Effects of one job run in the
// order they were deferred; one that fails turns an ack into a retry
// (fn may run again on a later transaction and must derive everything
// from tx). Called outside a handler of a pool on this store, it commits fn
// at once (batched with concurrent writers).
func (s *Store) Defer(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if st := settlementOf(ctx); st != nil && st.store == s {
		st.effects = append(st.effects, fn)
		return nil
	}
	return s.Batch(ctx, fn)
}

// AfterSettle arranges for fn to run once the settlement of the job a pool
// handler is delivering has been committed (or abandoned because the store
// failed while stopping). It reports false, and does not keep fn, when ctx
// is not a pool handler's: the caller then runs fn itself when done.
func AfterSettle(ctx context.Context, fn func()) bool {
	st := settlementOf(ctx)
	if st == nil {
		return false
	}
	st.after = append(st.after, fn)
	return true
}

// Stopping reports whether the pool delivering the job of ctx (a pool
// handler's context) is stopping: a handler working through several
// records can give the rest back (return an error wrapping
// context.Canceled: the job returns to ready without counting an attempt)
// rather than hold the stop up. It is false outside a pool handler.
func Stopping(ctx context.Context) bool {
	st := settlementOf(ctx)
	if st == nil || st.stopping == nil {
		return false
	}
	select {
	case <-st.stopping:
		return true
	default:
		return false
	}
}

// applyEffects runs an outcome's deferred writes in tx. A failed write
// turns an ack into a retry carrying the error.
func (t *txn) applyEffects(o *Outcome) {
	if o.s == nil {
		return
	}
	for _, fn := range o.s.effects {
		if err := fn(t.tx); err != nil {
			err = fmt.Errorf("queue: deferred write of job %d: %w", o.Job.ID, err)
			t.s.log.Error("deferred write failed; the job will be retried", "job_id", o.Job.ID, "err", err)
			if o.Kind == Ack {
				o.Kind, o.Err = Retry, err
			}
			return
		}
	}
}

// settled runs the after-settle calls of outcomes and forgets them.
func settled(outs []Outcome) {
	for i := range outs {
		if s := outs[i].s; s != nil {
			outs[i].s = nil
			for _, fn := range s.after {
				fn()
			}
		}
	}
}

// HandOverTx queues, in tx, jobs that carry on records another job (one
// carrying several records) attempted, each starting where its record's
// attempt left off: Attempts, LastError, History and OutcomeUnknown are
// kept as given. err, when not nil, is how the record's attempt just ended
// and is settled as the job's own attempt would be: a permanent error
// takes the job straight to the dead letters; any other schedules it after
// the error's Retry-After or the backoff, or takes it to the dead letters
// once the attempts are used up. A key the queue already holds a job for
// keeps that job (it was queued later) and the handed-over one is dropped.
// Invalid jobs fail the call.
func (s *Store) HandOverTx(tx *bolt.Tx, err error, jobs ...Job) error {
	t := s.txn(tx)
	for i := range jobs {
		if verr := validate(i, &jobs[i]); verr != nil {
			return fmt.Errorf("queue: hand over: %w", verr)
		}
		if herr := t.handOver(err, jobs[i]); herr != nil {
			return fmt.Errorf("queue: hand over: %w", herr)
		}
	}
	tx.OnCommit(s.notify)
	return nil
}

func (t *txn) handOver(err error, in Job) error {
	if ks := t.keyState(in.Key); ks.pending != 0 || ks.inflight != 0 {
		return nil
	}
	id, serr := t.jobs.NextSequence()
	if serr != nil {
		return serr
	}
	j := Job{
		ID: id, Type: in.Type, Key: in.Key, Payload: bytes.Clone(in.Payload), Lane: in.Lane,
		State: StateReady, Attempts: in.Attempts, LastError: in.LastError, History: slices.Clone(in.History),
		OutcomeUnknown: in.OutcomeUnknown, NextAttempt: t.now, Created: t.now, Updated: t.now,
	}
	if err != nil {
		msg := errText(err)
		j.History = t.appendHistory(j.History, msg)
		j.LastError = msg
		j.OutcomeUnknown = j.OutcomeUnknown || apierr.Classify(err) == apierr.OutcomeUnknown
		switch {
		case apierr.Classify(err) == apierr.Permanent:
			return t.buryHealing(&j, msg, heals(err))
		case j.Attempts >= t.s.opts.MaxAttempts:
			return t.buryHealing(&j, fmt.Sprintf("max attempts (%d) reached: %s", t.s.opts.MaxAttempts, msg), heals(err))
		}
		after := apierr.RetryAfterOf(err)
		if after <= 0 {
			after = t.s.backoff(j.Attempts)
		}
		j.NextAttempt = t.now.Add(after)
	}
	if aerr := t.addReady(&j); aerr != nil {
		return aerr
	}
	if perr := t.put(&j); perr != nil {
		return perr
	}
	return t.putKeyState(j.Key, keyState{pending: id})
}
