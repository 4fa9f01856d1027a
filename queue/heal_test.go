package queue

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

func refusal(status int) error {
	return apierr.FromResponse("createClient", status, nil, []byte(`{"message":"account manager unknown"}`), time.Time{})
}

// failOnce enqueues key, leases it and settles it as Fail with err.
func failOnce(t *testing.T, s *Store, key string, err error) Job {
	t.Helper()
	ctx := context.Background()
	if e := s.Enqueue(ctx, Job{Type: "one.upsert", Key: key}); e != nil {
		t.Fatal(e)
	}
	l := mustLease(t, s, 1)
	if e := s.Settle(ctx, Outcome{Job: l[0], Kind: Fail, Err: err}); e != nil {
		t.Fatal(e)
	}
	return l[0]
}

func deadOf(t *testing.T, s *Store) []Job {
	t.Helper()
	jobs, _, err := s.DeadLetters(context.Background(), DeadFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// A record that fails again and again has one dead letter, carrying the
// history of every failure; when the record goes through, the dead letter
// is resolved by itself.
func TestDeadLetterOnePerKeyResolvedOnSuccess(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now})
	for i := range 3 {
		failOnce(t, s, "one:upsert:C-1", refusal(422))
		clk.Advance(time.Second)
		if d := deadOf(t, s); len(d) != 1 || len(d[0].History) != i+1 {
			t.Fatalf("after failure %d: %d dead letters, history %v", i+1, len(d), d)
		}
	}
	failOnce(t, s, "one:upsert:C-2", refusal(422))
	if st := mustStats(t, s); st.Dead != 2 {
		t.Fatalf("dead %d, want 2", st.Dead)
	}
	// C-1 changes in the ERP and goes through: its dead letter is resolved,
	// C-2's stays.
	_ = s.Enqueue(ctx, Job{Type: "one.upsert", Key: "one:upsert:C-1"})
	l := mustLease(t, s, 1)
	if err := s.Ack(ctx, l...); err != nil {
		t.Fatal(err)
	}
	d := deadOf(t, s)
	if len(d) != 1 || d[0].Key != "one:upsert:C-2" {
		t.Fatalf("dead letters after C-1 went through: %+v", d)
	}
	// A purge keeps the index right: C-2 failing again is one dead letter.
	if n, err := s.Purge(ctx, DeadFilter{}); err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
	failOnce(t, s, "one:upsert:C-2", refusal(422))
	if d := deadOf(t, s); len(d) != 1 || len(d[0].History) != 1 {
		t.Fatalf("after purge and failure: %+v", d)
	}
}

// The history a dead letter carries is bounded.
func TestDeadLetterHistoryBounded(t *testing.T) {
	s := openTest(t, Options{})
	for range maxDeadHistory + 5 {
		failOnce(t, s, "k", refusal(422))
	}
	if d := deadOf(t, s); len(d) != 1 || len(d[0].History) != maxDeadHistory {
		t.Fatalf("dead letters %d, history %d", len(d), len(d[0].History))
	}
}

// A record the platform refused is tried again by itself after HealAfter,
// then after twice as long; a record the connector's own checks rejected,
// or one refused for credentials, waits for an operator.
func TestHealRefusedRecords(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, HealAfter: time.Minute})
	failOnce(t, s, "refused", refusal(http.StatusUnprocessableEntity))
	failOnce(t, s, "ours", apierr.Permanently(errors.New("mapping: email: not an address")))
	failOnce(t, s, "erp", apierr.At("erp", refusal(http.StatusBadRequest)))
	if n, err := s.Heal(ctx); err != nil || n != 0 {
		t.Fatalf("heal before due: %d %v", n, err)
	}
	clk.Advance(time.Minute)
	if n, err := s.Heal(ctx); err != nil || n != 1 {
		t.Fatalf("heal when due: %d %v", n, err)
	}
	l := mustLease(t, s, 5)
	if len(l) != 1 || l[0].Key != "refused" || l[0].Heals != 1 {
		t.Fatalf("healed jobs %+v", l)
	}
	// Refused again: the next try waits twice as long.
	if err := s.Settle(ctx, Outcome{Job: l[0], Kind: Fail, Err: refusal(422)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if n, _ := s.Heal(ctx); n != 0 {
		t.Fatalf("healed %d after one minute, want the doubled wait", n)
	}
	clk.Advance(time.Minute)
	if n, _ := s.Heal(ctx); n != 1 {
		t.Fatalf("healed %d after two minutes, want 1", n)
	}
	l = mustLease(t, s, 5)
	// This time the platform accepts it: nothing is left for it.
	if err := s.Ack(ctx, l...); err != nil {
		t.Fatal(err)
	}
	for _, d := range deadOf(t, s) {
		if d.Key == "refused" {
			t.Fatalf("healed record still a dead letter: %+v", d)
		}
		if !d.HealAt.IsZero() {
			t.Fatalf("%s heals by itself: %+v", d.Key, d)
		}
	}
	if st := mustStats(t, s); st.Dead != 2 {
		t.Fatalf("dead %d, want the two that wait for an operator", st.Dead)
	}
}

// An operator's replay starts the count of automatic tries again.
func TestReplayResetsHeals(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, HealAfter: time.Minute})
	failOnce(t, s, "refused", refusal(422))
	clk.Advance(time.Minute)
	if n, _ := s.Heal(ctx); n != 1 {
		t.Fatalf("healed %d", n)
	}
	l := mustLease(t, s, 1)
	_ = s.Settle(ctx, Outcome{Job: l[0], Kind: Fail, Err: refusal(422)})
	if d := deadOf(t, s); len(d) != 1 || d[0].Heals != 1 {
		t.Fatalf("dead letter %+v", d)
	}
	if _, err := s.Replay(ctx, DeadFilter{}); err != nil {
		t.Fatal(err)
	}
	if l := mustLease(t, s, 1); len(l) != 1 || l[0].Heals != 0 {
		t.Fatalf("replayed %+v", l)
	}
}

// A refused record's wait stops doubling at a day.
func TestHealWaitCapped(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, HealAfter: time.Hour})
	err := s.db.Update(func(tx *bolt.Tx) error {
		j := Job{ID: 1, Type: "one.upsert", Key: "k", Heals: 30}
		return s.txn(tx).buryHealing(&j, "refused", true)
	})
	if err != nil {
		t.Fatal(err)
	}
	d := deadOf(t, s)
	if len(d) != 1 || d[0].HealAt.Sub(clk.Now()) != maxHealWait {
		t.Fatalf("heal at %v, want now + %s", d[0].HealAt.Sub(clk.Now()), maxHealWait)
	}
}

// BuryTx records a record that could not be read as a dead letter, in the
// caller's transaction; the same record read again is not recorded twice,
// a new reason replaces it; a replay leaves it (nothing to deliver).
func TestBuryTx(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	bury := func(reason string) int {
		t.Helper()
		var n int
		err := s.Update(ctx, func(tx *bolt.Tx) (err error) {
			n, err = s.BuryTx(tx, Job{Type: "erp.reject", Key: "erp:reject:customers.csv:7", Payload: []byte(`{"raw":"x"}`), LastError: reason})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := bury("line 7: wrong number of fields"); n != 1 {
		t.Fatalf("recorded %d", n)
	}
	if n := bury("line 7: wrong number of fields"); n != 0 {
		t.Fatalf("recorded the same record again: %d", n)
	}
	if n := bury("line 7: bare quote"); n != 1 {
		t.Fatalf("recorded %d for a new reason", n)
	}
	d := deadOf(t, s)
	if len(d) != 1 || d[0].LastError != "line 7: bare quote" || len(d[0].History) != 2 || !d[0].HealAt.IsZero() || !d[0].Rejected {
		t.Fatalf("dead letters %+v", d)
	}
	res, err := s.Replay(ctx, DeadFilter{})
	if err != nil || res.Rejected != 1 || res.Replayed != 0 {
		t.Fatalf("replay %+v %v", res, err)
	}
	if st := mustStats(t, s); st.Dead != 1 || st.Total() != 0 {
		t.Fatalf("after replay: %+v", st)
	}
	err = s.Update(ctx, func(tx *bolt.Tx) error { _, err := s.BuryTx(tx, Job{Type: "", Key: "x"}); return err })
	if err == nil {
		t.Fatal("BuryTx accepted a job without a type")
	}
}

// State files written before the key index have several dead letters of a
// key; the first write merges them, keeping the latest.
func TestDeadKeyIndexBuiltFromOldFile(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := s.txn(tx)
		for id := uint64(1); id <= 3; id++ {
			j := Job{ID: id, Type: "one.upsert", Key: "k", State: StateDead, LastError: string(rune('a' + id))}
			if err := t.dead.Put(u64key(id), encodeJob(nil, &j)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := mustStats(t, s); st.Dead != 3 {
		t.Fatalf("dead %d", st.Dead)
	}
	_ = s.Enqueue(ctx, Job{Type: "one.upsert", Key: "other"})
	l := mustLease(t, s, 1)
	if err := s.Ack(ctx, l...); err != nil { // any write builds the index
		t.Fatal(err)
	}
	d := deadOf(t, s)
	if len(d) != 1 || d[0].ID != 3 {
		t.Fatalf("after merge: %+v", d)
	}
}
