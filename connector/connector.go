// Package connector is the sync engine: it joins the ERP adapter, the
// platform clients, the durable queue and the mapping into the pipelines
// that keep an ERP's flagged customers and the platforms' customers in step.
//
// Lifecycle: New wires everything (opening the state file), Start runs the
// delivery pools and the schedules, Stop is idempotent and bounded (stop the
// schedules, stop the pollers, drain the workers, close the state last), and
// Run is New + Start + wait for ctx + Stop. The package touches no globals,
// signals, os.Args or os.Exit, so tests embed it whole.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// Options wire a Connector.
type Options struct {
	// Config is the typed configuration (Defaults is applied by New).
	Config Config
	// ERP is the ERP adapter (required).
	ERP erp.Adapter
	// Logger receives the connector's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the connector's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
	// Transport replaces the HTTP transport of the platform clients (tests
	// wrap it to validate traffic against the contracts).
	Transport http.RoundTripper
	// Version is reported in the user agent.
	Version string
}

// Connector is one running sync engine for one tenant.
type Connector struct {
	cfg Config
	log *slog.Logger
	erp erp.Adapter
	// upserts group-commits the pull's ERP writes (nil: the adapter
	// writes one customer at a time).
	upserts *upsertGroup
	store   *queue.Store
	state   *state.Store
	terms   mapping.Terms
	now     func() time.Time
	// opened is when the state file was opened (the leases a previous
	// process held were returned to ready then).
	opened time.Time
	m      *metrics
	locks  keyLocks
	// handoff hands the scans' push payloads to their deliveries undecoded.
	handoff handoff
	// sites are the configured platforms, in a fixed order (ONe, then the
	// Customer API).
	sites []*site
	// wbWake wakes the write-back loop; wbDone closes when it ends.
	wbWake chan struct{}
	wbDone chan struct{}

	sched *scheduler

	mu       sync.Mutex
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	runCtx   context.Context
	runs     sync.WaitGroup
	stopErr  error
	stopOnce sync.Once

	st *statusTracker
	// book is the run history; rhDone closes when its flush loop ends.
	book   *runBook
	rhDone chan struct{}
}

// New validates the configuration, opens the state file and builds the
// platforms and their pools. Nothing runs until Start.
func New(opts Options) (*Connector, error) {
	cfg := opts.Config.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("connector: config: %w", err)
	}
	if opts.ERP == nil {
		return nil, errors.New("connector: an ERP adapter is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	c := &Connector{cfg: cfg, log: log.With("component", "connector"), erp: opts.ERP, now: now, st: newStatusTracker(),
		wbWake: make(chan struct{}, 1), wbDone: make(chan struct{}), book: newRunBook(now), rhDone: make(chan struct{})}
	c.m = newMetrics(opts.Registerer)
	c.terms = mapping.Terms{Own: cfg.ownership(), Held: mapping.HoldsAll()}
	if h, ok := opts.ERP.(erp.Holder); ok {
		c.terms.Held = mapping.HeldFields(h.HeldFields())
	}
	if w, ok := opts.ERP.(erp.BatchUpserter); ok && w.SerialWrites() {
		c.upserts = &upsertGroup{w: w, log: c.log}
	}

	if dir := filepath.Dir(cfg.StatePath); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("connector: state directory: %w", err)
		}
	}
	store, err := queue.Open(cfg.StatePath, queue.Options{
		Logger: log, Clock: now, MaxAttempts: cfg.Queue.MaxAttempts, LeaseTimeout: cfg.Queue.LeaseTimeout, HealAfter: cfg.Queue.HealAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("connector: open state: %w", err)
	}
	c.store, c.opened = store, time.Now()
	if c.state, err = state.Open(context.Background(), store, now); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("connector: %w", err)
	}
	if err := c.loadRunHistory(context.Background()); err != nil {
		_ = store.Close()
		return nil, err
	}
	c.registerGauges(opts.Registerer)
	if err := c.buildSites(opts, c.terms); err != nil {
		_ = store.Close()
		return nil, err
	}
	c.sched, err = newScheduler(c)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return c, nil
}

// Start launches the delivery pools and the schedules. It returns at once.
func (c *Connector) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("connector: start after stop")
	}
	if c.started {
		return nil
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.runCtx = runCtx
	for _, s := range c.sites {
		if err := s.pool.Start(runCtx); err != nil {
			cancel()
			return fmt.Errorf("connector: start pool: %w", err)
		}
	}
	c.sched.start(runCtx)
	go c.runWriteBacks(runCtx)
	go c.keepRunHistory(runCtx, c.rhDone)
	c.started = true
	c.log.Info("connector started", "state", c.cfg.StatePath, "one", c.cfg.ONe != nil, "customer_api", c.cfg.CustomerAPI != nil)
	return nil
}

// Stop's budget: however long ctx allows, in-flight deliveries get until
// stopDeliveries after Stop begins and the write-back of platform ids until
// stopWriteBacks, so that a daemon under a backlog is out within 2 s of
// SIGTERM. What is cut short is not lost: a cancelled delivery returns to the
// queue without counting an attempt, a pending write-back stays in the state
// file, and both are done on the next start.
const (
	stopDeliveries = 1400 * time.Millisecond
	stopWriteBacks = 1700 * time.Millisecond
)

// Stop ends the connector, in this order, and closes the state file last:
//
//  1. The readers: the schedules stop and every scan, feed poll, listing
//     walk and one-off run (SyncOnce, an admin-started sync or resync) is
//     cancelled at once, whatever it waits for (an ERP read, queue room, a
//     slow platform). Each resumes from its cursor next time: a cursor
//     moves only in the transaction that queues its jobs.
//  2. The deliveries: the pools stop leasing; in-flight deliveries may
//     finish until stopDeliveries after Stop began (or ctx's end, if
//     sooner); the rest are cancelled and return to the queue.
//  3. The write-backs pending now are written to the ERP until
//     stopWriteBacks; the rest wait in the state file.
//
// A delivery cut short by the budget is not an error; one cut short because
// ctx ended is. Stop is safe to call more than once and before Start.
func (c *Connector) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		begin := time.Now()
		c.mu.Lock()
		c.stopped = true
		started := c.started
		c.mu.Unlock()
		var errs []error
		// 1. Readers: cancel them, then wait for them to return.
		c.sched.haltNow(errStopping)
		if started {
			c.sched.stop(ctx)
		}
		done := make(chan struct{})
		go func() { c.runs.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			// A run not bound to the stop (a Resync called with a context
			// of its own) ends with everything else.
			if c.cancel != nil {
				c.cancel()
			}
			<-done
		}
		if started {
			// 2. Deliveries, every pool at once, within the budget.
			dctx, cancel := context.WithDeadline(ctx, begin.Add(stopDeliveries))
			defer cancel()
			perr := make([]error, len(c.sites))
			var wg sync.WaitGroup
			for i, s := range c.sites {
				wg.Go(func() { perr[i] = s.pool.Stop(dctx) })
			}
			wg.Wait()
			for i, err := range perr {
				switch {
				case err == nil:
				case ctx.Err() == nil:
					c.log.Warn("deliveries still in flight at the stop budget were cancelled; they return to the queue",
						"upstream", c.sites[i].upstream, "budget", stopDeliveries)
				default:
					errs = append(errs, fmt.Errorf("connector: stop %s pool: %w", c.sites[i].upstream, err))
				}
			}
			c.cancel()
			<-c.wbDone
			<-c.rhDone
			// 3. Nothing delivers any more: write back what is pending now,
			// within the budget; the rest waits in the state file.
			wctx, wcancel := context.WithDeadline(ctx, begin.Add(stopWriteBacks))
			defer wcancel()
			for {
				n, err := c.flushWriteBacks(wctx)
				if err != nil {
					c.log.Warn("platform ids left pending for the next start", "err", err)
					break
				}
				if n < writeBackBatch {
					break
				}
			}
		}
		// Nothing counts any more: the run history's last changes.
		if err := c.flushRunHistory(context.WithoutCancel(ctx)); err != nil {
			c.log.Warn("run history not written at the stop", "err", err)
		}
		for _, s := range c.sites {
			if s.closeIdle != nil {
				s.closeIdle()
			}
		}
		if err := c.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("connector: close state: %w", err))
		}
		c.stopErr = errors.Join(errs...)
		c.log.Info("connector stopped", "took", time.Since(begin))
	})
	return c.stopErr
}

// run tracks a one-off run so Stop waits for it.
func (c *Connector) run(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return errors.New("connector: stopped")
	}
	c.runs.Add(1)
	c.mu.Unlock()
	defer c.runs.Done()
	start := c.now()
	id := c.book.begin(name)
	err := fn(withRun(ctx, id))
	c.book.end(id, err)
	c.st.finish(name, start, c.now(), err)
	c.m.runFinished(name, err)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Error("run failed", "run", name, "err", err)
	}
	return err
}

// Run is New + Start, waits for ctx to end, then Stop (bounded by stopTimeout).
func Run(ctx context.Context, opts Options, stopTimeout time.Duration) error {
	c, err := New(opts)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		_ = c.Stop(context.Background())
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return c.Stop(sctx)
}

// Store exposes the state store (the admin API reads queue stats and dead letters).
func (c *Connector) Store() *queue.Store { return c.store }

// Idle reports whether the queue holds no job that is ready, scheduled,
// leased or waiting (dead letters aside) and no platform id waits to be
// written back to the ERP.
func (c *Connector) Idle(ctx context.Context) (bool, error) {
	empty, err := c.store.Empty(ctx)
	if err != nil || !empty {
		return false, err
	}
	return c.state.NoWriteBacks(ctx)
}

// WaitIdle waits until the queue is empty or ctx ends.
func (c *Connector) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		idle, err := c.Idle(ctx)
		if err != nil {
			return err
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
