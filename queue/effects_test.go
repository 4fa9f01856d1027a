package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	bolt "go.etcd.io/bbolt"
)

var bktEffects = []byte("effects-test")

// marks reads the values a test's handlers wrote through Defer.
func marks(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.View(context.Background(), func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEffects)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mark(key, value string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktEffects)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte(value))
	}
}

// TestDeferCommitsWithTheSettlement: writes a handler defers land with its
// job's outcome (ack, retry and fail alike), after-settle calls see them,
// and a deferred write that fails turns the ack into a retry.
func TestDeferCommitsWithTheSettlement(t *testing.T) {
	s := openTest(t, Options{MaxAttempts: 2, Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	ctx := context.Background()
	jobs := []Job{
		{Type: "one.upsert", Key: "ack"},
		{Type: "one.upsert", Key: "fail"},
		{Type: "one.upsert", Key: "retry"},
		{Type: "one.upsert", Key: "broken"},
	}
	if err := s.Enqueue(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	seenAfter := map[string]string{}
	p := startPool(t, s, PoolOptions{Workers: 2, Handler: func(ctx context.Context, j Job) error {
		mu.Lock()
		attempts[j.Key]++
		n := attempts[j.Key]
		mu.Unlock()
		value := fmt.Sprint(n)
		if err := s.Defer(ctx, mark(j.Key, value)); err != nil {
			return err
		}
		// Not visible before the settlement commits.
		if got := marks(t, s)[j.Key]; got == value {
			t.Errorf("%s: deferred write visible before the settlement", j.Key)
		}
		if !AfterSettle(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			seenAfter[j.Key+"/"+value] = marks(t, s)[j.Key]
		}) {
			t.Error("AfterSettle refused a handler's context")
		}
		switch j.Key {
		case "fail":
			return apierr.Permanently(errors.New("refused"))
		case "retry":
			if n == 1 {
				return apierr.Temporarily(errors.New("try later"))
			}
		case "broken":
			if n == 1 {
				return s.Defer(ctx, func(*bolt.Tx) error { return errors.New("disk says no") })
			}
		}
		return nil
	}})
	waitEmptyOrDead(t, s, 10*time.Second)
	stopPool(t, p)

	got := marks(t, s)
	want := map[string]string{"ack": "1", "fail": "1", "retry": "2", "broken": "2"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("mark %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []string{"ack/1", "fail/1", "retry/1", "retry/2", "broken/2"} {
		key, value, _ := cut(k)
		if seenAfter[k] != value {
			t.Errorf("after-settle call of %s saw %q, want its own write %q", key, seenAfter[k], value)
		}
	}
	if attempts["broken"] != 2 {
		t.Errorf("job with a failing deferred write delivered %d times, want 2 (the ack became a retry)", attempts["broken"])
	}
	dead, _, err := s.DeadLetters(ctx, DeadFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Key != "fail" {
		t.Fatalf("dead letters %+v, want the one failed job", dead)
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// waitEmptyOrDead waits until every job is settled for good.
func waitEmptyOrDead(t *testing.T, s *Store, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		st := mustStats(t, s)
		if st.Total() == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("jobs still pending after %s: %+v", limit, mustStats(t, s).Counts)
}

// TestDeferOutsideAHandler commits at once; AfterSettle declines.
func TestDeferOutsideAHandler(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if err := s.Defer(ctx, mark("k", "v")); err != nil {
		t.Fatal(err)
	}
	if got := marks(t, s)["k"]; got != "v" {
		t.Fatalf("mark = %q, want it committed at once", got)
	}
	if AfterSettle(ctx, func() { t.Error("kept a call outside a handler") }) {
		t.Fatal("AfterSettle accepted a context that is no handler's")
	}
	other := openTest(t, Options{})
	// A handler's context of another store's pool does not capture writes.
	hctx := withSettlement(ctx, &settlement{store: other})
	if err := s.Defer(hctx, mark("k2", "v2")); err != nil {
		t.Fatal(err)
	}
	if got := marks(t, s)["k2"]; got != "v2" {
		t.Fatalf("mark = %q, want it committed at once", got)
	}
}

// TestHandOver: a handed-over job starts where its record's attempt left
// off. Without an error it is ready with the attempts and history given;
// a retryable error schedules it after the backoff (or the Retry-After),
// with the error recorded and the outcome-unknown mark when the error says
// so; a permanent error, or one that uses up the attempts, takes it
// straight to the dead letters (a platform's refusal heals by itself
// later); a key the queue holds a job for keeps that job.
func TestHandOver(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := openTest(t, Options{Clock: clock.Now, MaxAttempts: 3, Backoff: Backoff{Initial: time.Minute, Max: time.Minute, Jitter: -1}})
	if err := s.Enqueue(ctx, Job{Type: "t", Key: "held", Payload: []byte("newer")}); err != nil {
		t.Fatal(err)
	}
	earlier := []Attempt{{At: clock.Now().Add(-time.Hour), Error: "lease abandoned by a previous process"}}
	hand := func(err error, jobs ...Job) {
		t.Helper()
		if herr := s.Update(ctx, func(tx *bolt.Tx) error { return s.HandOverTx(tx, err, jobs...) }); herr != nil {
			t.Fatal(herr)
		}
	}
	hand(nil, Job{Type: "t", Key: "plain", Payload: []byte("p")},
		Job{Type: "t", Key: "again", Payload: []byte("a"), Attempts: 1, LastError: earlier[0].Error, History: earlier, OutcomeUnknown: true},
		Job{Type: "t", Key: "held", Payload: []byte("older")})
	refused := &apierr.Error{Operation: "create", Status: 422, Message: "name taken"}
	hand(refused, Job{Type: "t", Key: "refused", Payload: []byte("r"), Attempts: 1})
	hand(apierr.UnknownOutcome(errors.New("connection dropped")), Job{Type: "t", Key: "unknown", Payload: []byte("u"), Attempts: 1})
	hand(&apierr.Error{Operation: "create", Status: 500}, Job{Type: "t", Key: "used up", Payload: []byte("x"), Attempts: 3})

	jobs := map[string]Job{}
	for _, j := range mustLease(t, s, 10, "t") {
		jobs[j.Key] = j
	}
	if len(jobs) != 3 || string(jobs["held"].Payload) != "newer" {
		t.Fatalf("leased now: %+v, want plain, again and the newer held job", jobs)
	}
	if j := jobs["plain"]; j.Attempts != 1 || j.LastError != "" || j.OutcomeUnknown {
		t.Fatalf("plain: %+v", j)
	}
	if j := jobs["again"]; j.Attempts != 2 || j.LastError != earlier[0].Error || len(j.History) != 1 || !j.OutcomeUnknown {
		t.Fatalf("again: %+v", j)
	}
	for _, j := range jobs {
		if err := s.Ack(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	later := mustLease(t, s, 10, "t")
	if len(later) != 1 || later[0].Key != "unknown" || !later[0].OutcomeUnknown || later[0].Attempts != 2 ||
		later[0].LastError != "connection dropped" || len(later[0].History) != 1 {
		t.Fatalf("after the backoff: %+v", later)
	}
	dead, _, err := s.DeadLetters(ctx, DeadFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Job{}
	for _, d := range dead {
		byKey[d.Key] = d
	}
	if d := byKey["refused"]; len(dead) != 2 || d.LastError != refused.Error() || d.HealAt.IsZero() {
		t.Fatalf("dead letters: %+v", dead)
	}
	if d := byKey["used up"]; !strings.HasPrefix(d.LastError, "max attempts (3) reached: create: status 500") {
		t.Fatalf("used up: %+v", d)
	}
}
