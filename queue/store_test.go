package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

func TestOpenLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second open: got %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("open waited %s", time.Since(start))
	}
}

func TestEnqueueLeaseAckFIFO(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var jobs []Job
	for i := range 5 {
		jobs = append(jobs, Job{Type: "one.upsert", Key: fmt.Sprintf("one:upsert:C-%d", i), Payload: []byte(fmt.Sprint(i))})
	}
	if err := s.Enqueue(ctx, jobs...); err != nil {
		t.Fatal(err)
	}
	got := mustLease(t, s, 3)
	if want := []string{"0", "1", "2"}; !slices.Equal(payloads(got), want) {
		t.Fatalf("leased %v, want %v", payloads(got), want)
	}
	if got[0].Attempts != 1 || got[0].State != StateLeased {
		t.Fatalf("leased job: attempts %d state %s", got[0].Attempts, got[0].State)
	}
	st := mustStats(t, s)
	if st.Leased != 3 || st.Ready != 2 {
		t.Fatalf("stats %+v", st.Counts)
	}
	if err := s.Ack(ctx, got...); err != nil {
		t.Fatal(err)
	}
	// A second ack of the same lease is reported, not applied twice.
	if err := s.Ack(ctx, got[0]); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("double ack: %v", err)
	}
	rest := mustLease(t, s, 10)
	if want := []string{"3", "4"}; !slices.Equal(payloads(rest), want) {
		t.Fatalf("leased %v, want %v", payloads(rest), want)
	}
}

func TestEnqueueRejectsInvalidButKeepsBatch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	err := s.Enqueue(ctx,
		Job{Type: "one.upsert", Key: "a"},
		Job{Type: "", Key: "b"},
		Job{Type: "one.upsert", Key: ""},
		Job{Type: "one.upsert", Key: "c", Lane: 7},
		Job{Type: "one.upsert", Key: "d"},
	)
	var je *JobError
	if !errors.As(err, &je) {
		t.Fatalf("want JobError, got %v", err)
	}
	for _, want := range []string{"job 1: type", "job 2: key", "job 3: lane"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if st := mustStats(t, s); st.Ready != 2 {
		t.Fatalf("valid jobs not kept: %+v", st.Counts)
	}
}

func TestCoalescePendingAndInflight(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v1")}, Job{Type: "t", Key: "k", Payload: []byte("v2")}))
	if st := mustStats(t, s); st.Total() != 1 {
		t.Fatalf("pending not coalesced: %+v", st.Counts)
	}
	l := mustLease(t, s, 10)
	if len(l) != 1 || string(l[0].Payload) != "v2" {
		t.Fatalf("leased %v", payloads(l))
	}
	// In flight: a newer job waits; never two in flight per key.
	must(s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v3")}))
	must(s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v4")}))
	if got := mustLease(t, s, 10); len(got) != 0 {
		t.Fatalf("second job of an in-flight key leased: %v", payloads(got))
	}
	st := mustStats(t, s)
	if st.Waiting != 1 || st.Leased != 1 {
		t.Fatalf("stats %+v", st.Counts)
	}
	must(s.Ack(ctx, l[0]))
	l2 := mustLease(t, s, 10)
	if len(l2) != 1 || string(l2[0].Payload) != "v4" || l2[0].Attempts != 1 {
		t.Fatalf("after ack leased %v", l2)
	}
}

func TestRetryCoalescedAttemptsReset(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, Backoff: Backoff{Initial: time.Second, Max: time.Minute, Jitter: -1}})
	_ = s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v1")})
	l := mustLease(t, s, 1)
	if err := s.Retry(ctx, l[0], 0, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	if got := mustLease(t, s, 1); len(got) != 0 {
		t.Fatal("retried job leased before its backoff")
	}
	st := mustStats(t, s)
	if st.Scheduled != 1 {
		t.Fatalf("stats %+v", st.Counts)
	}
	// A newer payload replaces the pending retry: attempts reset, ready now.
	_ = s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v2")})
	l = mustLease(t, s, 1)
	if len(l) != 1 || string(l[0].Payload) != "v2" || l[0].Attempts != 1 {
		t.Fatalf("leased %+v", l)
	}
}

func TestBackoffExponentialCapped(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2}
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		lo, hi := b.Delay(attempt, 0), b.Delay(attempt, 0.999999)
		if want := time.Duration(float64(base) * 0.8); lo != want {
			t.Errorf("attempt %d low %s want %s", attempt, lo, want)
		}
		if hi > b.Max || hi < base && base < b.Max {
			t.Errorf("attempt %d high %s", attempt, hi)
		}
	}
}

func TestLeaseExpiryAndMaxAttempts(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, LeaseTimeout: time.Minute, MaxAttempts: 2})
	_ = s.Enqueue(ctx, Job{Type: "t", Key: "k", Payload: []byte("v1")})
	l := mustLease(t, s, 1)
	clk.Advance(2 * time.Minute)
	l2 := mustLease(t, s, 1)
	if len(l2) != 1 || l2[0].Attempts != 2 || l2[0].LastError != "lease expired" {
		t.Fatalf("expired lease not returned: %+v", l2)
	}
	if err := s.Ack(ctx, l[0]); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale ack: %v", err)
	}
	clk.Advance(2 * time.Minute)
	if n, err := s.ExpireLeases(ctx); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	st := mustStats(t, s)
	if st.Total() != 0 || st.Dead != 1 {
		t.Fatalf("stats %+v dead %d", st.Counts, st.Dead)
	}
}

func TestOpenRecoversLeasesOfPreviousProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Enqueue(ctx, Job{Type: "t", Key: "a"}, Job{Type: "t", Key: "b"})
	if got := mustLease(t, s, 2); len(got) != 2 {
		t.Fatal("lease")
	}
	_ = s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := mustLease(t, s, 5)
	if len(got) != 2 || got[0].Attempts != 2 {
		t.Fatalf("recovered %+v", got)
	}
}

func TestBackfillGuard(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{BackfillEvery: 3})
	var jobs []Job
	for i := range 4 {
		jobs = append(jobs, Job{Type: "t", Key: fmt.Sprint("b", i), Lane: LaneBackfill, Payload: []byte(fmt.Sprint("b", i))})
	}
	for i := range 12 {
		jobs = append(jobs, Job{Type: "t", Key: fmt.Sprint("l", i), Payload: []byte(fmt.Sprint("l", i))})
	}
	_ = s.Enqueue(ctx, jobs...)
	var order []string
	for {
		l := mustLease(t, s, 1)
		if len(l) == 0 {
			break
		}
		order = append(order, string(l[0].Payload))
	}
	want := []string{"l0", "l1", "l2", "b0", "l3", "l4", "l5", "b1", "l6", "l7", "l8", "b2", "l9", "l10", "l11", "b3"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v\nwant  %v", order, want)
	}
}

func TestLeaseByType(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	_ = s.Enqueue(ctx, Job{Type: "one.upsert", Key: "a"}, Job{Type: "customer.upsert", Key: "b"}, Job{Type: "one.delete", Key: "c"})
	got := mustLease(t, s, 10, "one.upsert", "one.delete")
	if len(got) != 2 || got[0].Key != "a" || got[1].Key != "c" {
		t.Fatalf("leased %+v", got)
	}
	if got := mustLease(t, s, 10, "erp.upsert"); len(got) != 0 {
		t.Fatal("unknown type leased something")
	}
}

func TestDeadLettersFailReplayPurge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var jobs []Job
	for i := range 5 {
		typ := "one.upsert"
		if i%2 == 1 {
			typ = "customer.upsert"
		}
		jobs = append(jobs, Job{Type: typ, Key: fmt.Sprint("k", i), Payload: []byte(fmt.Sprint(i))})
	}
	_ = s.Enqueue(ctx, jobs...)
	l := mustLease(t, s, 5)
	if err := s.Retry(ctx, l[0], time.Nanosecond, errors.New("timeout")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	again := mustLease(t, s, 1)
	var outs []Outcome
	outs = append(outs, Outcome{Job: again[0], Kind: Fail, Err: errors.New("createClient: status 400: name: required")})
	for _, j := range l[1:] {
		outs = append(outs, Outcome{Job: j, Kind: Fail, Err: fmt.Errorf("bad %s", j.Payload)})
	}
	if err := s.Settle(ctx, outs...); err != nil {
		t.Fatal(err)
	}
	st := mustStats(t, s)
	if st.Dead != 5 || st.DeadByType["customer.upsert"] != 2 || st.Total() != 0 {
		t.Fatalf("stats dead %d by type %v counts %+v", st.Dead, st.DeadByType, st.Counts)
	}
	d, err := s.DeadLetter(ctx, again[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.LastError != "createClient: status 400: name: required" || len(d.History) != 2 || d.History[0].Error != "timeout" ||
		d.History[1].Error != d.LastError || d.Attempts != 2 || d.State != StateDead {
		t.Fatalf("dead letter %+v", d)
	}
	// Paging with a type filter.
	page, next, err := s.DeadLetters(ctx, DeadFilter{Type: "one.upsert", Limit: 2})
	if err != nil || len(page) != 2 || next == 0 {
		t.Fatalf("page 1: %d next %d err %v", len(page), next, err)
	}
	page2, next2, err := s.DeadLetters(ctx, DeadFilter{Type: "one.upsert", Limit: 2, AfterID: next})
	if err != nil || len(page2) != 1 || next2 != 0 || page2[0].Type != "one.upsert" {
		t.Fatalf("page 2: %+v next %d err %v", page2, next2, err)
	}
	// Replay one: it runs again with a fresh attempt count.
	res, err := s.Replay(ctx, DeadFilter{IDs: []uint64{again[0].ID}})
	if err != nil || res.Replayed != 1 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	r := mustLease(t, s, 5)
	if len(r) != 1 || string(r[0].Payload) != "0" || r[0].Attempts != 1 {
		t.Fatalf("replayed %+v", r)
	}
	_ = s.Ack(ctx, r...)
	// Replay by type, then purge the rest.
	if res, _ := s.Replay(ctx, DeadFilter{Type: "customer.upsert"}); res.Replayed != 2 {
		t.Fatalf("replay by type %+v", res)
	}
	if n, err := s.Purge(ctx, DeadFilter{}); err != nil || n != 2 {
		t.Fatalf("purge %d %v", n, err)
	}
	st = mustStats(t, s)
	if st.Dead != 0 || st.Ready != 2 {
		t.Fatalf("after purge: dead %d %+v", st.Dead, st.Counts)
	}
	if _, err := s.DeadLetter(ctx, again[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged dead letter: %v", err)
	}
}

func TestMigrationResume(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.BeginMigration(ctx, "resync", Plan{TotalChunks: 4, TotalRecords: 40})
	if err != nil || m.Progress() != 0 {
		t.Fatalf("begin %+v %v", m, err)
	}
	for c := range 2 {
		var jobs []Job
		for i := range 10 {
			jobs = append(jobs, Job{Type: "t", Key: fmt.Sprint(c*10 + i), Lane: LaneBackfill})
		}
		if m, err = s.Advance(ctx, "resync", Chunk{Position: fmt.Sprint("C-", c*10+9), Jobs: jobs}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err = s.Resume(ctx, "resync")
	if err != nil || m.Position != "C-19" || m.ChunksDone != 2 || m.RecordsDone != 20 || m.Progress() != 0.5 {
		t.Fatalf("resume %+v %v", m, err)
	}
	if again, _ := s.BeginMigration(ctx, "resync", Plan{}); again.Position != "C-19" {
		t.Fatalf("begin again restarted: %+v", again)
	}
	if st := mustStats(t, s); st.ByLane["backfill"].Ready != 20 {
		t.Fatalf("stats %+v", st.ByLane)
	}
	if _, err := s.FinishMigration(ctx, "resync"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, "resync"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("resume finished: %v", err)
	}
	if _, err := s.Resume(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("resume missing: %v", err)
	}
	// A caller's transaction reads the migration as it stands in it.
	if err := s.Update(ctx, func(tx *bolt.Tx) error {
		if _, _, err := s.AdvanceTx(tx, "other", Chunk{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("advance a missing migration: %v", err)
		}
		if _, err := MigrationTx(tx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a missing migration in a transaction: %v", err)
		}
		m, err := MigrationTx(tx, "resync")
		if err != nil || m.Position != "C-19" || !m.Done() {
			t.Errorf("the migration in a transaction: %+v %v", m, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAdvanceTxCommitsWithTheCaller: a chunk advanced in a caller's
// transaction moves the migration and queues its jobs with what else the
// transaction writes, or, when the caller's transaction fails, neither.
func TestAdvanceTxCommitsWithTheCaller(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, err := s.BeginMigration(ctx, "resync", Plan{}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, fail := range []bool{true, false} {
		err := s.Update(ctx, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("caller"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("page"), []byte("1")); err != nil {
				return err
			}
			if _, rejected, err := s.AdvanceTx(tx, "resync", Chunk{Position: "p:2", Records: 3,
				Jobs: []Job{{Type: "t", Key: "a", Lane: LaneBackfill}}}); err != nil || rejected != nil {
				return errors.Join(err, rejected)
			}
			if fail {
				return boom
			}
			return nil
		})
		if fail != errors.Is(err, boom) || !fail && err != nil {
			t.Fatalf("fail %v: %v", fail, err)
		}
		m, err := s.Resume(ctx, "resync")
		if err != nil {
			t.Fatal(err)
		}
		ready := mustStats(t, s).ByLane["backfill"].Ready
		if fail && (m.Position != "" || m.RecordsDone != 0 || ready != 0) || !fail && (m.Position != "p:2" || m.RecordsDone != 3 || ready != 1) {
			t.Fatalf("fail %v: migration %+v, %d ready", fail, m, ready)
		}
	}
}

func TestCursorAndOwnBuckets(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, ok, err := s.GetCursor(ctx, "one.feed"); ok || err != nil {
		t.Fatalf("unset cursor: %v %v", ok, err)
	}
	// Enqueue and move the cursor in one commit; a failing fn moves neither.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *bolt.Tx) error {
		if err := s.EnqueueTx(tx, Job{Type: "t", Key: "x"}); err != nil {
			return err
		}
		if err := SetCursorTx(tx, "one.feed", []byte("42")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetCursor(ctx, "one.feed"); ok {
		t.Fatal("cursor moved by a rolled-back transaction")
	}
	if st := mustStats(t, s); st.Total() != 0 {
		t.Fatal("job kept by a rolled-back transaction")
	}
	if err := s.SetCursor(ctx, "one.feed", []byte("43")); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.GetCursor(ctx, "one.feed"); !ok || string(v) != "43" {
		t.Fatalf("cursor %q", v)
	}
	err = s.Update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("bindings"))
		if err != nil {
			return err
		}
		return b.Put([]byte("C-1"), []byte("org:1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx *bolt.Tx) error {
		if string(tx.Bucket([]byte("bindings")).Get([]byte("C-1"))) != "org:1" {
			t.Error("own bucket value lost")
		}
		return nil
	})
}

func FuzzDecodeJob(f *testing.F) {
	j := Job{ID: 7, Type: "one.upsert", Key: "one:upsert:C-1", Payload: []byte("{}"), State: StateReady,
		Attempts: 3, History: []Attempt{{At: time.Unix(5, 0), Error: "x"}}, LastError: "x", OutcomeUnknown: true}
	f.Add(encodeJob(nil, &j))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := decodeJob(b)
		if err != nil {
			return
		}
		again, err := decodeJob(encodeJob(nil, &j))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.ID != j.ID || again.Key != j.Key || string(again.Payload) != string(j.Payload) || len(again.History) != len(j.History) || again.Attempts != j.Attempts {
			t.Fatalf("round trip changed %+v -> %+v", j, again)
		}
	})
}

// TestFileSpaceReused checks that acked jobs give their pages back: after a
// warm-up, more rounds of enqueue and ack do not grow the file.
func TestFileSpaceReused(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{NoSync: true})
	size := func() int64 {
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var warm int64
	for round := range 12 {
		var jobs []Job
		for i := range 5000 {
			jobs = append(jobs, Job{Type: "one.upsert", Key: fmt.Sprintf("one:upsert:C-%d-%d", round, i), Payload: make([]byte, 200)})
		}
		if err := s.Enqueue(ctx, jobs...); err != nil {
			t.Fatal(err)
		}
		for {
			l := mustLease(t, s, 512)
			if len(l) == 0 {
				break
			}
			if err := s.Ack(ctx, l...); err != nil {
				t.Fatal(err)
			}
		}
		if round == 3 {
			warm = size()
		}
	}
	if got := size(); got > warm {
		t.Fatalf("file grew from %d to %d bytes after the warm-up", warm, got)
	}
	if st := mustStats(t, s); st.Total() != 0 {
		t.Fatalf("left %+v", st.Counts)
	}
}

func TestRetryUntilMaxAttemptsThenDeadLetter(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now, MaxAttempts: 3})
	_ = s.Enqueue(ctx, Job{Type: "customer.upsert", Key: "customer:upsert:C-9", Payload: []byte("p")})
	for i := 1; i <= 3; i++ {
		clk.Advance(time.Hour)
		l := mustLease(t, s, 1)
		if len(l) != 1 || l[0].Attempts != i {
			t.Fatalf("attempt %d: leased %+v", i, l)
		}
		if err := s.Retry(ctx, l[0], 0, fmt.Errorf("status 503 #%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	st := mustStats(t, s)
	if st.Total() != 0 || st.Dead != 1 {
		t.Fatalf("stats %+v dead %d", st.Counts, st.Dead)
	}
	d, _, _ := s.DeadLetters(ctx, DeadFilter{Type: "customer.upsert"})
	if len(d) != 1 || d[0].LastError != "max attempts (3) reached: status 503 #3" || len(d[0].History) != 3 || d[0].History[0].Error != "status 503 #1" {
		t.Fatalf("dead letter %+v", d)
	}
	// A replay is superseded when newer data for the key is already queued.
	_ = s.Enqueue(ctx, Job{Type: "customer.upsert", Key: "customer:upsert:C-9", Payload: []byte("newer")})
	res, err := s.Replay(ctx, DeadFilter{})
	if err != nil || res.Replayed != 0 || res.Superseded != 1 {
		t.Fatalf("replay %+v %v", res, err)
	}
	if l := mustLease(t, s, 5); len(l) != 1 || string(l[0].Payload) != "newer" {
		t.Fatalf("leased %+v", l)
	}
}

// TestBatchCoalescesConcurrentWrites: concurrent Batch calls all land, each
// exactly once in the data, however bbolt groups them.
func TestBatchCoalescesConcurrentWrites(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Batch(ctx, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("test.batch"))
				if err != nil {
					return err
				}
				return b.Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	if err := s.View(ctx, func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("test.batch")).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 64 {
		t.Fatalf("%d keys, want 64", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Batch(cctx, func(*bolt.Tx) error { return nil }); err == nil {
		t.Fatal("Batch ran with a cancelled context")
	}
}

// TestEmpty follows the live jobs: enqueued, leased, retried (scheduled) and
// dead-lettered.
func TestEmpty(t *testing.T) {
	clk := newFakeClock()
	s := openTest(t, Options{Clock: clk.Now})
	ctx := context.Background()
	empty := func() bool {
		e, err := s.Empty(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if !empty() {
		t.Fatal("a new store is not empty")
	}
	if err := s.Enqueue(ctx, Job{Type: "t", Key: "k1", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if empty() {
		t.Fatal("empty with a ready job")
	}
	j := mustLease(t, s, 1)[0]
	if empty() {
		t.Fatal("empty with a leased job")
	}
	if err := s.Retry(ctx, j, time.Hour, errors.New("later")); err != nil {
		t.Fatal(err)
	}
	if empty() {
		t.Fatal("empty with a scheduled retry")
	}
	clk.Advance(2 * time.Hour)
	j = mustLease(t, s, 1)[0]
	if err := s.Fail(ctx, j, errors.New("bad")); err != nil {
		t.Fatal(err)
	}
	if !empty() {
		t.Fatal("a dead letter counts as live work")
	}
}
