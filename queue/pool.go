package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// Handler delivers one job. Its error decides the job's fate through
// apierr.Classify: nil acks; Permanent fails (dead letter, reason =
// err.Error()); Retryable retries after the error's Retry-After or the
// backoff; OutcomeUnknown retries too and sets Job.OutcomeUnknown, so the
// next attempt must resolve the earlier one (look up before re-creating);
// Canceled returns the job to ready without counting the attempt.
type Handler func(ctx context.Context, job Job) error

// BreakerSettings configure an upstream's circuit breaker.
type BreakerSettings struct {
	// ConsecutiveFailures opens the breaker (default 5).
	ConsecutiveFailures uint32
	// OpenTimeout is how long it stays open before a probe (default 30s).
	OpenTimeout time.Duration
	// HalfOpenMaxRequests is how many probes run while half-open (default 1).
	HalfOpenMaxRequests uint32
}

// PoolOptions configure a Pool.
type PoolOptions struct {
	// Upstream names the upstream ("one", "customer", "erp"); used in logs
	// and metric labels.
	Upstream string
	// Types are the job types this pool leases (required).
	Types []string
	// Handler delivers one job (required).
	Handler Handler
	// Workers is the number of concurrent handlers (default 4).
	Workers int
	// Rate is the upstream's requests per second; 0 means unlimited.
	Rate float64
	// LimitRequests moves the rate limit from job starts to requests: every
	// request through Gate takes a token (a job making three requests takes
	// three), and the pool no longer takes one per job.
	LimitRequests bool
	// Burst is the limiter's burst (default 1 when Rate is set).
	Burst int
	// Breaker configures the circuit breaker.
	Breaker BreakerSettings
	// BatchSize is the most jobs held by the pool at once, leased in one
	// transaction (default 1024).
	BatchSize int
	// FlushInterval is the longest an outcome waits before its batch is
	// committed (default 5ms).
	FlushInterval time.Duration
	// PollInterval is how often an idle pool looks for work it was not
	// told about, such as expired leases (default 1s).
	PollInterval time.Duration
	// CredentialsProbe is how long an upstream whose credentials were
	// refused stays paused before one request tries them again (default
	// 1m). A reload with new credentials starts a new pool at once.
	CredentialsProbe time.Duration
	// Logger receives the pool's logs; nil discards them.
	Logger *slog.Logger
	// Metrics registers the pool's collectors when not nil.
	Metrics prometheus.Registerer
}

// Pool is the guarded delivery of one upstream.
type Pool struct {
	store   *Store
	opts    PoolOptions
	log     *slog.Logger
	limiter *rate.Limiter
	cb      *gobreaker.CircuitBreaker[any]
	m       poolMetrics

	work    chan Job
	results chan Outcome

	pausedUntil atomic.Int64 // unix nanoseconds; the whole upstream waits
	// refusal is set while the platform refuses the credentials; the
	// upstream is held until refusal.probe, then one request tries again.
	refusal  atomic.Pointer[Refusal]
	avgNanos atomic.Int64 // moving average of handler run time
	openedAt atomic.Int64 // unix nanoseconds of the last transition to open
	breaker  atomic.Int32 // last breaker state seen by OnStateChange

	startOnce, stopOnce sync.Once
	started             atomic.Bool
	stopLeasing         chan struct{}
	hctx                context.Context
	hcancel             context.CancelFunc
	wg                  sync.WaitGroup
	done                chan struct{}
}

type poolMetrics struct {
	jobs        *prometheus.CounterVec
	state       prometheus.Gauge
	refused     prometheus.Gauge
	transitions *prometheus.CounterVec
	pauses      prometheus.Counter
	duration    prometheus.Histogram
	limiterWait prometheus.Histogram
}

// NewPool builds a pool over store. It does not start work; call Start.
func NewPool(store *Store, opts PoolOptions) (*Pool, error) {
	var errs []error
	if store == nil {
		errs = append(errs, errors.New("store: must not be nil"))
	}
	if opts.Upstream == "" {
		errs = append(errs, errors.New("upstream: must not be empty"))
	}
	if len(opts.Types) == 0 {
		errs = append(errs, errors.New("types: must list at least one job type"))
	}
	if opts.Handler == nil {
		errs = append(errs, errors.New("handler: must not be nil"))
	}
	if opts.Rate < 0 {
		errs = append(errs, errors.New("rate: must not be negative"))
	}
	if opts.Burst < 0 {
		errs = append(errs, errors.New("burst: must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("queue: new pool: %w", errors.Join(errs...))
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1024
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Breaker.ConsecutiveFailures == 0 {
		opts.Breaker.ConsecutiveFailures = 5
	}
	if opts.Breaker.OpenTimeout <= 0 {
		opts.Breaker.OpenTimeout = 30 * time.Second
	}
	if opts.Breaker.HalfOpenMaxRequests == 0 {
		opts.Breaker.HalfOpenMaxRequests = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CredentialsProbe <= 0 {
		opts.CredentialsProbe = time.Minute
	}
	p := &Pool{
		store:       store,
		opts:        opts,
		log:         opts.Logger.With("component", "queue", "upstream", opts.Upstream),
		work:        make(chan Job, opts.BatchSize),
		results:     make(chan Outcome, opts.BatchSize),
		stopLeasing: make(chan struct{}),
		done:        make(chan struct{}),
	}
	p.limiter = rate.NewLimiter(rate.Inf, 0)
	if opts.Rate > 0 {
		burst := opts.Burst
		if burst == 0 {
			burst = 1
		}
		p.limiter = rate.NewLimiter(rate.Limit(opts.Rate), burst)
	}
	if err := p.initMetrics(); err != nil {
		return nil, fmt.Errorf("queue: new pool %s: %w", opts.Upstream, err)
	}
	failures := opts.Breaker.ConsecutiveFailures
	p.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        opts.Upstream,
		MaxRequests: opts.Breaker.HalfOpenMaxRequests,
		Timeout:     opts.Breaker.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		// A 4xx validation answer means the upstream is healthy.
		IsSuccessful: func(err error) bool {
			return err == nil || apierr.Classify(err) == apierr.Permanent
		},
		// Cancellations, failures of another system a handler uses (the
		// ERP), and refused credentials (the upstream is paused for those)
		// say nothing about this upstream's health.
		IsExcluded: func(err error) bool {
			if sys := apierr.SystemOf(err); sys != "" && sys != opts.Upstream {
				return true
			}
			c := apierr.Classify(err)
			return errors.Is(err, context.Canceled) || c == apierr.Canceled || c == apierr.Unauthorized
		},
		// Runs with the breaker's lock held: never call State/Counts here.
		OnStateChange: p.onStateChange,
	})
	return p, nil
}

func (p *Pool) initMetrics() error {
	labels := prometheus.Labels{"upstream": p.opts.Upstream}
	p.m = poolMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "jobs_total", ConstLabels: labels,
			Help: "Jobs settled by the delivery pool, by outcome (ack, retry, fail, release).",
		}, []string{"outcome"}),
		state: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "breaker_state", ConstLabels: labels,
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}),
		refused: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "credentials_refused", ConstLabels: labels,
			Help: "1 while the platform refuses the connector's credentials (the upstream is paused), else 0.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "breaker_transitions_total", ConstLabels: labels,
			Help: "Circuit breaker state changes, by new state.",
		}, []string{"to"}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "upstream_pauses_total", ConstLabels: labels,
			Help: "Times the whole upstream was paused by a 429/503 Retry-After.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "handler_seconds", ConstLabels: labels,
			Help:    "Handler run time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "erpconnector", Subsystem: "queue", Name: "limiter_wait_seconds", ConstLabels: labels,
			Help:    "Time a delivery waited for the upstream's rate limiter.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
	}
	if p.opts.Metrics == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{p.m.jobs, p.m.state, p.m.refused, p.m.transitions, p.m.pauses, p.m.duration, p.m.limiterWait} {
		if err := p.opts.Metrics.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

func (p *Pool) onStateChange(_ string, from, to gobreaker.State) {
	p.breaker.Store(int32(to))
	if to == gobreaker.StateOpen {
		p.openedAt.Store(time.Now().UnixNano())
	}
	p.m.state.Set(float64(to))
	p.m.transitions.WithLabelValues(to.String()).Inc()
	p.log.Warn("circuit breaker changed state", "from", from.String(), "to", to.String())
}

// BreakerState is the breaker's state as last recorded by a transition.
func (p *Pool) BreakerState() gobreaker.State { return gobreaker.State(p.breaker.Load()) }

// PausedUntil is when a Retry-After pause of the upstream ends (zero when
// none was ever set).
func (p *Pool) PausedUntil() time.Time {
	if v := p.pausedUntil.Load(); v != 0 {
		return time.Unix(0, v)
	}
	return time.Time{}
}

// pause holds the whole upstream until t (it never shortens a pause).
func (p *Pool) pause(t time.Time) {
	for {
		cur := p.pausedUntil.Load()
		if cur >= t.UnixNano() {
			return
		}
		if p.pausedUntil.CompareAndSwap(cur, t.UnixNano()) {
			p.m.pauses.Inc()
			p.log.Warn("upstream paused by retry-after", "until", t)
			return
		}
	}
}

// Start launches the workers. Cancelling ctx cancels running handlers (their
// jobs return to ready); use Stop for a graceful end.
func (p *Pool) Start(ctx context.Context) error {
	started := false
	p.startOnce.Do(func() {
		started = true
		p.hctx, p.hcancel = context.WithCancel(ctx)
		p.started.Store(true)
		p.wg.Add(p.opts.Workers)
		for range p.opts.Workers {
			go p.worker()
		}
		go p.coordinate()
	})
	if !started {
		return fmt.Errorf("queue: pool %s: already started", p.opts.Upstream)
	}
	return nil
}

// Stop stops leasing, lets in-flight jobs finish until ctx ends, then
// cancels the rest (they return to ready without counting an attempt) and
// waits for every goroutine. It is idempotent; Stop before Start is a no-op.
// It returns ctx's error when handlers had to be cancelled.
func (p *Pool) Stop(ctx context.Context) error {
	if !p.started.Load() {
		p.stopOnce.Do(func() { close(p.stopLeasing) })
		return nil
	}
	p.stopOnce.Do(func() { close(p.stopLeasing) })
	var err error
	select {
	case <-p.done:
		p.wg.Wait()
		return nil
	default:
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		err = fmt.Errorf("queue: pool %s: stop: %w", p.opts.Upstream, ctx.Err())
		p.hcancel()
		<-p.done
	}
	p.wg.Wait()
	p.hcancel()
	return err
}

// coordinate owns the store side: one transaction settles finished jobs and
// leases new ones; jobs go to workers through a buffered channel whose
// capacity bounds the jobs held, so sending never blocks.
func (p *Pool) coordinate() {
	defer close(p.done)
	defer close(p.work) // workers exit after draining
	var (
		pending  []Outcome
		inflight int // leased and not yet settled
		stopping bool
		retryAt  time.Time // after a failed transaction
		// batchFull commits without waiting once this many outcomes are in.
		batchFull = max(1, p.opts.BatchSize/2)
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	stopLeasing := p.stopLeasing
	cancelled := p.hctx.Done()
	for {
		if p.hctx.Err() != nil {
			stopping = true
		}
		n, until := 0, time.Time{}
		if !stopping {
			n, until = p.leaseBudget(inflight - len(pending))
		}
		if now := time.Now(); now.Before(retryAt) {
			n, until = 0, retryAt
		}
		// Taken before the transaction so no announcement is missed.
		wakeNow := p.store.wakeCh()
		var c cycle
		if len(pending) > 0 || n > 0 {
			var err error
			c, err = p.store.settleAndLease(pending, n, p.opts.Types)
			switch {
			case err != nil && stopping:
				// The store is unreachable: the leases expire (or the next
				// Open recovers them) and the jobs return to ready.
				p.log.Error("settle failed while stopping; leases will expire", "err", err, "outcomes", len(pending))
				settled(pending)
				inflight -= len(pending)
				pending = pending[:0]
			case err != nil:
				p.log.Error("settle and lease failed", "err", err, "outcomes", len(pending))
				retryAt = time.Now().Add(100 * time.Millisecond)
				until = retryAt
			default:
				if c.lost != nil {
					p.log.Warn("outcomes for lost leases skipped", "err", c.lost)
				}
				settled(pending)
				inflight -= len(pending)
				pending = pending[:0]
				for _, j := range c.leased {
					p.work <- j
				}
				inflight += len(c.leased)
			}
		}
		if stopping && inflight == 0 && len(pending) == 0 {
			return
		}
		// With jobs held, results drive the loop. Idle, sleep until new work
		// is announced, a retry comes due, a pause or open breaker ends, or
		// the poll interval passes.
		var timerC <-chan time.Time
		var wakeC <-chan struct{}
		if inflight-len(pending) == 0 && !stopping {
			now := time.Now()
			wake := until
			if wake.IsZero() {
				wake = now.Add(p.opts.PollInterval)
				if !c.nextDue.IsZero() && c.nextDue.Before(wake) {
					wake = c.nextDue
				}
				wakeC = wakeNow
			}
			timer.Reset(max(wake.Sub(now), 0))
			timerC = timer.C
		}
		select {
		case o := <-p.results:
			pending = append(pending, o)
			p.gather(&pending, batchFull, inflight, stopping)
		case <-timerC:
		case <-wakeC:
		case <-stopLeasing:
			stopping = true
			stopLeasing = nil
		case <-cancelled:
			stopping = true
			cancelled = nil
		}
		if timerC != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// gather collects more outcomes: whatever is already there, then up to
// FlushInterval more while the batch is small and jobs are still out.
func (p *Pool) gather(pending *[]Outcome, full, inflight int, stopping bool) {
	for len(*pending) < full {
		select {
		case o := <-p.results:
			*pending = append(*pending, o)
			continue
		default:
		}
		break
	}
	if stopping || len(*pending) >= full || len(*pending) >= inflight {
		return
	}
	t := time.NewTimer(p.opts.FlushInterval)
	defer t.Stop()
	for len(*pending) < full && len(*pending) < inflight {
		select {
		case o := <-p.results:
			*pending = append(*pending, o)
		case <-t.C:
			return
		}
	}
}

// leaseBudget says how many jobs to lease now given the jobs held; when
// leasing is blocked (pause, open breaker) it returns when to look again.
func (p *Pool) leaseBudget(held int) (int, time.Time) {
	now := time.Now()
	if pu := p.pausedUntil.Load(); pu > now.UnixNano() {
		return 0, time.Unix(0, pu)
	}
	n := p.holdCap() - held
	if r := p.refusal.Load(); r != nil {
		if now.Before(r.Probe) {
			return 0, r.Probe
		}
		n = min(n, 1-held) // one job tries the credentials again
		if n <= 0 {
			return 0, now.Add(100 * time.Millisecond)
		}
	}
	switch p.cb.State() { // outside callbacks: safe, and moves open → half-open
	case gobreaker.StateOpen:
		until := time.Unix(0, p.openedAt.Load()).Add(p.opts.Breaker.OpenTimeout)
		if !until.After(now) {
			// The breaker turns half-open strictly after its expiry.
			until = now.Add(time.Microsecond)
		}
		return 0, until
	case gobreaker.StateHalfOpen:
		n = min(n, int(p.opts.Breaker.HalfOpenMaxRequests)-held)
		if n <= 0 && held == 0 {
			return 0, now.Add(10 * time.Millisecond)
		}
	}
	if n < 0 {
		n = 0
	}
	return n, time.Time{}
}

// holdCap bounds the jobs held so that the last of them starts well before
// its lease expires: by the limiter's rate and by the measured handler time.
func (p *Pool) holdCap() int {
	c := p.opts.BatchSize
	half := p.store.opts.LeaseTimeout / 2
	if avg := p.avgNanos.Load(); avg == 0 {
		c = min(c, 2*p.opts.Workers) // nothing measured yet
	} else {
		c = min(c, max(p.opts.Workers, int(int64(p.opts.Workers)*int64(half)/avg)))
	}
	if p.opts.Rate > 0 {
		c = min(c, max(1, p.limiter.Burst()+int(p.opts.Rate*half.Seconds())))
	}
	return c
}

// observe folds a handler run time into the moving average.
func (p *Pool) observe(d time.Duration) {
	d = max(d, time.Nanosecond)
	old := p.avgNanos.Load()
	if old == 0 {
		p.avgNanos.Store(int64(d))
		return
	}
	p.avgNanos.Store(old + (int64(d)-old)/8)
}

func (p *Pool) worker() {
	defer p.wg.Done()
	for j := range p.work {
		p.results <- p.deliver(j)
	}
}

func (p *Pool) deliver(j Job) Outcome {
	ctx := p.hctx
	// A stop lets the handlers already running finish; jobs held but not
	// started go back to ready at once, so a stop is quick however many
	// jobs the pool held.
	select {
	case <-p.stopLeasing:
		return p.outcome(j, Release, 0, nil)
	default:
	}
	// Stopping, paused by a Retry-After, or the lease ran out while the job
	// waited: give it back without counting an attempt.
	if ctx.Err() != nil || p.pausedUntil.Load() > time.Now().UnixNano() || !p.store.opts.Clock().Before(j.LeaseDeadline) {
		return p.outcome(j, Release, 0, nil)
	}
	if !p.opts.LimitRequests {
		if err := p.takeToken(ctx); err != nil {
			return p.outcome(j, Release, 0, nil)
		}
	}
	if p.pausedUntil.Load() > time.Now().UnixNano() || !p.store.opts.Clock().Before(j.LeaseDeadline) {
		return p.outcome(j, Release, 0, nil)
	}
	start := time.Now()
	st := &settlement{store: p.store, stopping: p.stopLeasing}
	_, err := p.cb.Execute(func() (any, error) { return nil, p.call(withSettlement(ctx, st), j) })
	d := time.Since(start)
	p.observe(d)
	p.m.duration.Observe(d.Seconds())
	o := p.settleAs(j, err)
	o.s = st
	return o
}

// settleAs turns a handler's error into the job's outcome.
func (p *Pool) settleAs(j Job, err error) Outcome {
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return p.outcome(j, Release, 0, nil)
	}
	switch apierr.Classify(err) {
	case apierr.Success:
		return p.outcome(j, Ack, 0, nil)
	case apierr.Canceled:
		return p.outcome(j, Release, 0, nil)
	case apierr.Unauthorized:
		// The upstream's failure, not the record's: keep the job, pause.
		p.Refuse(err)
		return p.outcome(j, Release, 0, nil)
	case apierr.Permanent:
		// Logged once, by the store, when the job reaches the dead letters.
		return p.outcome(j, Fail, 0, err)
	default: // Retryable, OutcomeUnknown
		ra := apierr.RetryAfterOf(err)
		// With LimitRequests the gate paused the upstream when the answer
		// arrived; pausing again here would count (and stretch) it twice.
		if st := apierr.StatusOf(err); ra > 0 && !p.opts.LimitRequests &&
			(st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable) &&
			(apierr.SystemOf(err) == "" || apierr.SystemOf(err) == p.opts.Upstream) {
			p.pause(time.Now().Add(ra))
		}
		p.log.Info("job will be retried", "job_id", j.ID, "type", j.Type, "attempt", j.Attempts, "err", err)
		return p.outcome(j, Retry, ra, err)
	}
}

// takeToken waits for the rate limiter.
func (p *Pool) takeToken(ctx context.Context) error {
	waitStart := time.Now()
	if err := p.limiter.Wait(ctx); err != nil {
		return err
	}
	p.m.limiterWait.Observe(time.Since(waitStart).Seconds())
	return nil
}

// Gate wraps the transport of the upstream's client so that every request,
// not only a job's first, waits out a Retry-After pause (and, with
// LimitRequests, takes a token from the rate limiter), and so that a 429 or
// 503 carrying Retry-After pauses the whole upstream the moment it arrives,
// before the handler that received it has even returned.
func (p *Pool) Gate(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &gate{p: p, next: next}
}

type gate struct {
	p    *Pool
	next http.RoundTripper
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := g.p.awaitRequest(r.Context()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("queue: %s: wait to send: %w", g.p.opts.Upstream, err)
	}
	resp, err := g.next.RoundTrip(r)
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		g.p.accepted()
	}
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		now := time.Now()
		if ra := apierr.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ra > 0 {
			g.p.pause(now.Add(ra))
		}
	}
	return resp, err
}

// CloseIdleConnections passes on to the wrapped transport.
func (g *gate) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// awaitRequest waits until the upstream is not paused, then (with
// LimitRequests) for a token. While the platform refuses the credentials a
// request fails at once (until the next probe).
func (p *Pool) awaitRequest(ctx context.Context) error {
	if r := p.refusal.Load(); r != nil && time.Now().Before(r.Probe) {
		return apierr.CredentialsRefused(&pausedError{upstream: p.opts.Upstream, r: *r})
	}
	for {
		wait := time.Until(time.Unix(0, p.pausedUntil.Load()))
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if p.opts.LimitRequests {
		return p.takeToken(ctx)
	}
	return nil
}

// call runs the handler, turning a panic into a retryable error.
func (p *Pool) call(ctx context.Context, j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("queue: handler panic: %v", r)
		}
	}()
	return p.opts.Handler(ctx, j)
}

func (p *Pool) outcome(j Job, k OutcomeKind, after time.Duration, err error) Outcome {
	name := [...]string{Ack: "ack", Retry: "retry", Fail: "fail", Release: "release"}[k]
	p.m.jobs.WithLabelValues(name).Inc()
	return Outcome{Job: j, Kind: k, After: after, Err: err}
}
