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
	cfg   Config
	log   *slog.Logger
	erp   erp.Adapter
	store *queue.Store
	state *state.Store
	terms mapping.Terms
	now   func() time.Time
	m     *metrics
	locks keyLocks
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
		wbWake: make(chan struct{}, 1), wbDone: make(chan struct{})}
	c.m = newMetrics(opts.Registerer)
	c.terms = mapping.Terms{Own: cfg.ownership(), Held: mapping.HoldsAll()}
	if h, ok := opts.ERP.(erp.Holder); ok {
		c.terms.Held = mapping.HeldFields(h.HeldFields())
	}

	if dir := filepath.Dir(cfg.StatePath); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("connector: state directory: %w", err)
		}
	}
	store, err := queue.Open(cfg.StatePath, queue.Options{
		Logger: log, Clock: now, MaxAttempts: cfg.Queue.MaxAttempts, LeaseTimeout: cfg.Queue.LeaseTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("connector: open state: %w", err)
	}
	c.store = store
	if c.state, err = state.Open(context.Background(), store, now); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("connector: %w", err)
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
	c.started = true
	c.log.Info("connector started", "state", c.cfg.StatePath, "one", c.cfg.ONe != nil, "customer_api", c.cfg.CustomerAPI != nil)
	return nil
}

// Stop stops the schedules and pollers, lets in-flight deliveries finish
// until ctx ends (the rest return to the queue), and closes the state file.
// It is safe to call more than once and before Start.
func (c *Connector) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopped = true
		started := c.started
		c.mu.Unlock()
		var errs []error
		if started {
			c.sched.stop(ctx)
		}
		// Pollers and one-off runs (SyncOnce, Resync) started through run().
		done := make(chan struct{})
		go func() { c.runs.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			if c.cancel != nil {
				c.cancel()
			}
			<-done
		}
		if started {
			for _, s := range c.sites {
				if err := s.pool.Stop(ctx); err != nil {
					errs = append(errs, fmt.Errorf("connector: stop %s pool: %w", s.upstream, err))
				}
			}
			c.cancel()
			<-c.wbDone
			// Nothing delivers any more: write back what is pending now,
			// while ctx lasts; the rest waits in the state file.
			for {
				n, err := c.flushWriteBacks(ctx)
				if err != nil {
					c.log.Warn("platform ids left pending for the next start", "err", err)
					break
				}
				if n < writeBackBatch {
					break
				}
			}
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
		c.log.Info("connector stopped")
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
	err := fn(ctx)
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
