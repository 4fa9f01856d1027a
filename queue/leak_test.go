package queue

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestPoolStopLeavesNoGoroutines runs a pool in real time over a real file,
// with a panicking handler call and a cancelled parent context, and checks
// that nothing is left running after Stop.
func TestPoolStopLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTest(t, Options{NoSync: true, Backoff: Backoff{Initial: time.Millisecond, Jitter: -1}})
	enqueueN(t, s, 200, "one.upsert")
	var n atomic.Int64
	p, err := NewPool(s, PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, Workers: 3,
		Handler: func(_ context.Context, j Job) error {
			if n.Add(1) == 7 {
				panic("handler bug")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err == nil {
		t.Fatal("second start accepted")
	}
	deadline := time.Now().Add(20 * time.Second)
	for mustStats(t, s).Total() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %+v", mustStats(t, s).Counts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The panicking call was retried, not lost: 200 jobs, 201 calls.
	if got := n.Load(); got != 201 {
		t.Fatalf("handler calls %d, want 201", got)
	}
	cancel() // the parent context ends: the pool winds down on its own
	stop, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	if err := p.Stop(stop); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestPoolStopReleasesUnstartedJobs(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := openTest(t, Options{NoSync: true})
	enqueueN(t, s, 50, "one.upsert")
	block := make(chan struct{})
	var calls atomic.Int64
	p, err := NewPool(s, PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, Workers: 2,
		Handler: func(ctx context.Context, j Job) error {
			calls.Add(1)
			select {
			case <-block:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for calls.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	stop, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Stop(stop); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop: %v", err)
	}
	st := mustStats(t, s)
	if st.Leased != 0 || st.Ready != 50 {
		t.Fatalf("after stop %+v", st.Counts)
	}
	for _, j := range mustLease(t, s, 50) {
		if j.Attempts != 1 {
			t.Fatalf("job %s charged %d attempts by a stop", j.Key, j.Attempts-1)
		}
	}
}
