package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
)

// calls records handler calls in a synctest bubble.
type calls struct {
	mu    sync.Mutex
	times []time.Time
	jobs  []Job
}

func (c *calls) add(j Job) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
	c.jobs = append(c.jobs, j)
	return len(c.times)
}

func (c *calls) snapshot() ([]time.Time, []Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...), append([]Job(nil), c.jobs...)
}

// waitEmpty sleeps (fake time inside a bubble) until the queue holds no jobs.
func waitEmpty(t *testing.T, s *Store, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if st := mustStats(t, s); st.Total() == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("queue not empty after %s: %+v", limit, mustStats(t, s).Counts)
}

func enqueueN(t *testing.T, s *Store, n int, typ string) {
	t.Helper()
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{Type: typ, Key: fmt.Sprintf("k%d", i), Payload: []byte(fmt.Sprint(i))}
	}
	if err := s.Enqueue(context.Background(), jobs...); err != nil {
		t.Fatal(err)
	}
}

func startPool(t *testing.T, s *Store, opts PoolOptions) *Pool {
	t.Helper()
	if opts.Upstream == "" {
		opts.Upstream = "one"
	}
	if len(opts.Types) == 0 {
		opts.Types = []string{"one.upsert"}
	}
	p, err := NewPool(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func stopPool(t *testing.T, p *Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestPoolLimiterRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 21, "one.upsert")
		var c calls
		start := time.Now()
		p := startPool(t, s, PoolOptions{Workers: 4, Rate: 10, Burst: 1, Handler: func(_ context.Context, j Job) error {
			c.add(j)
			return nil
		}})
		waitEmpty(t, s, time.Minute)
		stopPool(t, p)
		times, _ := c.snapshot()
		if len(times) != 21 {
			t.Fatalf("handled %d", len(times))
		}
		// 10 requests/s with burst 1: the 21st call starts 2s after the first.
		if got := times[20].Sub(times[0]); got != 2*time.Second {
			t.Fatalf("21 calls spread over %s, want 2s", got)
		}
		for i := 1; i < len(times); i++ {
			if d := times[i].Sub(times[i-1]); d < 100*time.Millisecond-time.Millisecond {
				t.Fatalf("calls %d and %d only %s apart", i-1, i, d)
			}
		}
		if times[0].Sub(start) > 50*time.Millisecond {
			t.Fatalf("first call after %s", times[0].Sub(start))
		}
	})
}

func TestPoolBackoffSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true, MaxAttempts: 10,
			Backoff: Backoff{Initial: time.Second, Max: 6 * time.Second, Multiplier: 2, Jitter: -1}})
		enqueueN(t, s, 1, "one.upsert")
		var c calls
		p := startPool(t, s, PoolOptions{Workers: 2, Breaker: BreakerSettings{ConsecutiveFailures: 100},
			Handler: func(_ context.Context, j Job) error {
				if c.add(j) <= 5 {
					return &apierr.Error{Operation: "updateClient", Status: 502}
				}
				return nil
			}})
		waitEmpty(t, s, 5*time.Minute)
		stopPool(t, p)
		times, jobs := c.snapshot()
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 6 * time.Second, 6 * time.Second}
		if len(times) != 6 {
			t.Fatalf("calls %d", len(times))
		}
		for i, w := range want {
			if got := times[i+1].Sub(times[i]); got != w {
				t.Errorf("gap %d = %s, want %s", i, got, w)
			}
			if jobs[i+1].Attempts != i+2 || jobs[i+1].LastError == "" {
				t.Errorf("call %d saw attempts %d last error %q", i+1, jobs[i+1].Attempts, jobs[i+1].LastError)
			}
		}
	})
}

func TestPoolRetryAfterPausesWholeUpstream(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := openTest(t, Options{NoSync: true})
				enqueueN(t, s, 5, "one.upsert")
				var c calls
				p := startPool(t, s, PoolOptions{Workers: 1, Handler: func(_ context.Context, j Job) error {
					if c.add(j) == 1 {
						return &apierr.Error{Operation: "createClient", Status: status, RetryAfter: 30 * time.Second}
					}
					return nil
				}})
				waitEmpty(t, s, 5*time.Minute)
				stopPool(t, p)
				times, jobs := c.snapshot()
				if len(times) != 6 {
					t.Fatalf("calls %d", len(times))
				}
				for i := 1; i < len(times); i++ {
					if got := times[i].Sub(times[0]); got < 30*time.Second {
						t.Errorf("call %d (job %s) only %s after the %d", i, jobs[i].Key, got, status)
					}
				}
				if got := p.PausedUntil().Sub(times[0]); got != 30*time.Second {
					t.Errorf("paused for %s", got)
				}
			})
		})
	}
}

func TestPoolBreakerOpenHalfOpenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true, Backoff: Backoff{Initial: 100 * time.Millisecond, Jitter: -1}})
		enqueueN(t, s, 10, "one.upsert")
		reg := prometheus.NewRegistry()
		var c calls
		t0 := time.Now()
		p := startPool(t, s, PoolOptions{Workers: 1, Metrics: reg,
			Breaker: BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second, HalfOpenMaxRequests: 1},
			Handler: func(_ context.Context, j Job) error {
				c.add(j)
				if time.Since(t0) < 10*time.Second {
					return errors.New("connection refused")
				}
				return nil
			}})
		time.Sleep(5 * time.Second)
		if got := p.BreakerState(); got != gobreaker.StateOpen {
			t.Fatalf("breaker %s after 3 failures", got)
		}
		if v := testutil.ToFloat64(p.m.state); v != 2 {
			t.Fatalf("state gauge %v", v)
		}
		waitEmpty(t, s, time.Minute)
		stopPool(t, p)
		times, jobs := c.snapshot()
		if len(times) != 13 {
			t.Fatalf("calls %d, want 3 failures + 10 successes", len(times))
		}
		for i := range 3 {
			if times[i] != t0 {
				t.Fatalf("failure %d at %s", i, times[i].Sub(t0))
			}
		}
		// Open: nothing is attempted until the open timeout; then one probe.
		if got := times[3].Sub(t0); got < 10*time.Second || got > 10*time.Second+time.Millisecond {
			t.Fatalf("probe at %s, want 10s", got)
		}
		// Jobs rejected while open were not charged an attempt.
		attempts := 0
		for _, j := range jobs[3:] {
			attempts += j.Attempts
		}
		if attempts != 13 {
			t.Fatalf("attempts over successful calls = %d, want 13 (3 retried jobs at attempt 2)", attempts)
		}
		for to, want := range map[string]float64{"open": 1, "half-open": 1, "closed": 1} {
			if got := testutil.ToFloat64(p.m.transitions.WithLabelValues(to)); got != want {
				t.Errorf("transitions to %s = %v", to, got)
			}
		}
		if got := p.BreakerState(); got != gobreaker.StateClosed {
			t.Fatalf("breaker %s at the end", got)
		}
		if got := testutil.ToFloat64(p.m.jobs.WithLabelValues("ack")); got != 10 {
			t.Fatalf("acks %v", got)
		}
	})
}

func TestPoolPermanentIsBreakerSuccessAndDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 6, "one.upsert")
		p := startPool(t, s, PoolOptions{Workers: 2, Breaker: BreakerSettings{ConsecutiveFailures: 2},
			Handler: func(_ context.Context, j Job) error {
				return apierr.FromResponse("createClient", 400, nil,
					[]byte(`{"status":400,"message":"invalid","errors":[{"field":"name","message":"required"}]}`), time.Now())
			}})
		waitEmpty(t, s, time.Minute)
		stopPool(t, p)
		if got := p.BreakerState(); got != gobreaker.StateClosed {
			t.Fatalf("breaker %s after 4xx answers", got)
		}
		st := mustStats(t, s)
		if st.Dead != 6 {
			t.Fatalf("dead %d", st.Dead)
		}
		d, _, err := s.DeadLetters(context.Background(), DeadFilter{})
		if err != nil || d[0].LastError != "createClient: status 400: invalid (name: required)" || d[0].Attempts != 1 {
			t.Fatalf("dead letter %+v %v", d[0], err)
		}
	})
}

func TestPoolOutcomeUnknownMarksJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true, Backoff: Backoff{Initial: time.Second, Jitter: -1}})
		enqueueN(t, s, 1, "one.upsert")
		var c calls
		p := startPool(t, s, PoolOptions{Handler: func(_ context.Context, j Job) error {
			if c.add(j) == 1 {
				return apierr.UnknownOutcome(errors.New("createClient: connection reset after send"))
			}
			return nil
		}})
		waitEmpty(t, s, time.Minute)
		stopPool(t, p)
		_, jobs := c.snapshot()
		if len(jobs) != 2 || jobs[0].OutcomeUnknown || !jobs[1].OutcomeUnknown || jobs[1].Attempts != 2 {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

func TestPoolGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 2, "one.upsert")
		started := make(chan struct{}, 2)
		p := startPool(t, s, PoolOptions{Workers: 2, Handler: func(ctx context.Context, j Job) error {
			started <- struct{}{}
			if j.Key == "k0" {
				// Finishes within the stop deadline.
				time.Sleep(time.Second)
				return nil
			}
			<-ctx.Done() // hangs until cancelled
			return ctx.Err()
		}})
		<-started
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := p.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stop: %v", err)
		}
		if err := p.Stop(ctx); err != nil { // idempotent
			t.Fatalf("second stop: %v", err)
		}
		st := mustStats(t, s)
		if st.Ready != 1 || st.Leased != 0 {
			t.Fatalf("after stop %+v", st.Counts)
		}
		l := mustLease(t, s, 5)
		if len(l) != 1 || l[0].Key != "k1" || l[0].Attempts != 1 {
			t.Fatalf("released job %+v", l)
		}
	})
}

func TestPoolOnlyLeasesItsTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 3, "one.upsert")
		enqueueN(t, s, 0, "x")
		_ = s.Enqueue(context.Background(), Job{Type: "customer.upsert", Key: "c1"})
		var c calls
		p := startPool(t, s, PoolOptions{Handler: func(_ context.Context, j Job) error { c.add(j); return nil }})
		time.Sleep(time.Second)
		stopPool(t, p)
		_, jobs := c.snapshot()
		if len(jobs) != 3 {
			t.Fatalf("handled %d", len(jobs))
		}
		if st := mustStats(t, s); st.ByType["customer.upsert"].Ready != 1 {
			t.Fatalf("other upstream's job touched: %+v", st.ByType)
		}
	})
}

func TestNewPoolValidates(t *testing.T) {
	_, err := NewPool(nil, PoolOptions{Rate: -1})
	for _, want := range []string{"store", "upstream", "types", "handler", "rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	s := openTest(t, Options{})
	reg := prometheus.NewRegistry()
	opts := PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, Handler: func(context.Context, Job) error { return nil }, Metrics: reg}
	if _, err := NewPool(s, opts); err != nil {
		t.Fatal(err)
	}
	opts.Upstream = "customer"
	if _, err := NewPool(s, opts); err != nil {
		t.Fatalf("second upstream on one registry: %v", err)
	}
	if _, err := NewPool(s, opts); err == nil {
		t.Fatal("duplicate upstream registered twice")
	}
	p, _ := NewPool(s, PoolOptions{Upstream: "erp", Types: []string{"erp.upsert"}, Handler: opts.Handler})
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("stop before start: %v", err)
	}
}

// TestPoolStopReleasesHeldJobs: jobs the pool holds but has not started go
// back to ready at a stop; only the running ones finish.
func TestPoolStopReleasesHeldJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 500, "one.upsert")
		var handled atomic.Int64
		slow := make(chan struct{}, 500)
		p := startPool(t, s, PoolOptions{Workers: 2, Handler: func(ctx context.Context, j Job) error {
			// Quick at first, so the pool learns to hold many jobs, then slow.
			if handled.Load() >= 50 {
				slow <- struct{}{}
				time.Sleep(100 * time.Millisecond)
			}
			handled.Add(1)
			return nil
		}})
		<-slow
		<-slow
		synctest.Wait()
		held := mustStats(t, s).Leased
		if held < 10 {
			t.Fatalf("the pool holds only %d jobs; the test proves nothing", held)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatalf("stop: %v", err)
		}
		st := mustStats(t, s)
		if n := handled.Load(); n > 54 {
			t.Fatalf("%d jobs handled; after the stop only the 2 running ones should finish", n)
		}
		if st.Leased != 0 || st.Ready != 500-int(handled.Load()) {
			t.Fatalf("after stop: %+v (handled %d)", st.Counts, handled.Load())
		}
	})
}

// TestPoolBreakerIgnoresOtherSystems: failures a handler meets in another
// system (the ERP) retry the job but never open this upstream's breaker or
// pause it, while the same number of this upstream's failures does open it.
func TestPoolBreakerIgnoresOtherSystems(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantOpen bool
	}{
		{"erp", apierr.At("erp", &apierr.Error{Operation: "db", Status: 503, RetryAfter: time.Minute}), false},
		{"own", apierr.At("one", &apierr.Error{Operation: "createClient", Status: 503}), true},
		{"unmarked", errors.New("connection refused"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := openTest(t, Options{NoSync: true, Backoff: Backoff{Initial: 100 * time.Millisecond, Jitter: -1}})
				enqueueN(t, s, 6, "one.upsert")
				var fails atomic.Int32
				p := startPool(t, s, PoolOptions{Workers: 1,
					Breaker: BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour, HalfOpenMaxRequests: 1},
					Handler: func(context.Context, Job) error {
						if fails.Add(1) <= 6 {
							return tc.err
						}
						return nil
					}})
				time.Sleep(time.Second)
				opened := p.BreakerState() == gobreaker.StateOpen
				if opened != tc.wantOpen {
					t.Fatalf("breaker open = %v after 6 failures of %q, want %v", opened, tc.name, tc.wantOpen)
				}
				if !tc.wantOpen {
					if pu := p.PausedUntil(); !pu.IsZero() {
						t.Fatalf("paused until %s by another system's Retry-After", pu)
					}
					waitEmpty(t, s, time.Minute)
				}
				stopPool(t, p)
			})
		})
	}
}

// roundTripFunc is a transport made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPoolGate: a 429 with Retry-After pauses the upstream as it arrives, so
// the next request through the gate (from any handler) waits it out; with
// LimitRequests every request takes a token, not only a job's first.
func TestPoolGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		p, err := NewPool(s, PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, Rate: 10, Burst: 1, LimitRequests: true,
			Handler: func(context.Context, Job) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		var sent []time.Time
		answers := []int{http.StatusTooManyRequests, http.StatusOK, http.StatusOK, http.StatusOK}
		gate := p.Gate(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = append(sent, time.Now())
			st := answers[len(sent)-1]
			h := http.Header{}
			if st == http.StatusTooManyRequests {
				h.Set("Retry-After", "2")
			}
			return &http.Response{StatusCode: st, Header: h, Body: http.NoBody, Request: r}, nil
		}))
		t0 := time.Now()
		for range answers {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://one.test/clients", nil)
			resp, err := gate.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		// The 429 at t0 asks for 2 s: the next request waits for it; the
		// two after that are 100 ms apart (10 requests/s, burst 1).
		want := []time.Duration{0, 2 * time.Second, 2*time.Second + 100*time.Millisecond, 2*time.Second + 200*time.Millisecond}
		for i, at := range sent {
			if got := at.Sub(t0); got != want[i] {
				t.Errorf("request %d sent at %s, want %s", i, got, want[i])
			}
		}
		// A request whose context ends while it waits is not sent.
		p.pause(time.Now().Add(time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://one.test/clients", nil)
		if _, err := gate.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) || len(sent) != len(answers) {
			t.Fatalf("paused request: err %v, %d sent", err, len(sent))
		}
	})
}

// TestPoolGatePausesOnce: a 429 with Retry-After that reaches a handler
// through the gate pauses the upstream once (as it arrives), not a second
// time when the handler returns it.
func TestPoolGatePausesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true})
		var gate http.RoundTripper
		answered := false
		p, err := NewPool(s, PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, LimitRequests: true,
			Handler: func(ctx context.Context, _ Job) error {
				if answered {
					return nil
				}
				answered = true
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://one.test/clients", nil)
				resp, err := gate.RoundTrip(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				time.Sleep(10 * time.Millisecond) // the handler takes a moment to give up
				return apierr.FromResponse("create", resp.StatusCode, resp.Header, nil, time.Now())
			}})
		if err != nil {
			t.Fatal(err)
		}
		gate = p.Gate(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{}
			h.Set("Retry-After", "2")
			return &http.Response{StatusCode: http.StatusTooManyRequests, Header: h, Body: http.NoBody, Request: r}, nil
		}))
		if err := s.Enqueue(context.Background(), Job{Type: "one.upsert", Key: "k", Lane: LaneLive}); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitEmpty(t, s, time.Minute)
		stopPool(t, p)
		if n := testutil.ToFloat64(p.m.pauses); n != 1 {
			t.Fatalf("%v pauses for one 429, want 1", n)
		}
	})
}

// TestPoolHandlerSeesStopping: a handler learns that its pool stops
// leasing (Stopping turns true once Stop is called) and can give its job
// back: the job returns to ready without counting an attempt. Outside a
// handler Stopping is false.
func TestPoolHandlerSeesStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if Stopping(context.Background()) {
			t.Fatal("Stopping outside a handler")
		}
		s := openTest(t, Options{NoSync: true})
		enqueueN(t, s, 1, "one.upsert")
		started := make(chan bool, 1)
		p := startPool(t, s, PoolOptions{Workers: 1, Handler: func(ctx context.Context, j Job) error {
			started <- Stopping(ctx)
			for !Stopping(ctx) {
				time.Sleep(10 * time.Millisecond)
			}
			return fmt.Errorf("given back: %w", context.Canceled)
		}})
		if <-started {
			t.Fatal("Stopping before Stop")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Fatalf("stop: %v (the handler did not see the stop)", err)
		}
		l := mustLease(t, s, 5)
		if len(l) != 1 || l[0].Attempts != 1 || l[0].LastError != "" {
			t.Fatalf("given back job %+v", l)
		}
	})
}
