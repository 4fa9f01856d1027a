package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/erpconnector/erpconnector/connector/platform"
)

// Run names (schedules, status and metrics).
const (
	RunNewCustomers = "new_customers"
	RunUpdates      = "updates"
	RunFeed         = "feed"
	RunCustomerPull = "customer_pull"
	RunCertificates = "certificates"
	RunResync       = "resync"
)

// scheduler runs the periodic runs on cron schedules, skipping a run that
// is still going and recovering from panics.
type scheduler struct {
	c       *Connector
	cron    *cron.Cron
	entries map[string]cron.EntryID // run name → its cron entry
	mu      sync.Mutex
	paused  bool
	ctx     context.Context
}

func newScheduler(c *Connector) (*scheduler, error) {
	loc, err := time.LoadLocation(c.cfg.Schedules.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("connector: schedules: %w", err)
	}
	l := cronLogger{c.log.With("component", "schedule")}
	s := &scheduler{c: c, entries: map[string]cron.EntryID{}}
	s.cron = cron.New(cron.WithParser(cronParser), cron.WithLocation(loc),
		cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)), cron.WithLogger(l))
	for _, e := range c.runSpecs() {
		if e.spec == "" {
			continue
		}
		sched, err := ParseSchedule(e.spec)
		if err != nil {
			return nil, fmt.Errorf("connector: schedule %s: %w", e.name, err)
		}
		name, fn := e.name, e.fn
		s.entries[name] = s.cron.Schedule(sched, cron.FuncJob(func() { s.fire(name, fn) }))
	}
	return s, nil
}

type runSpec struct {
	name string
	spec string
	fn   func(ctx context.Context) error
}

// runSpecs lists the periodic runs the configuration turns on: the ERP
// scans, each platform's change source, the enrichment and the resync.
func (c *Connector) runSpecs() []runSpec {
	sc := c.cfg.Schedules
	out := []runSpec{
		{RunNewCustomers, sc.NewCustomers, func(ctx context.Context) error { _, err := c.scanERP(ctx, scanNew); return err }},
		{RunUpdates, sc.Updates, func(ctx context.Context) error { _, err := c.scanERP(ctx, scanUpdates); return err }},
	}
	enrich := false
	for _, s := range c.sites {
		out = append(out, runSpec{s.changesRun, s.changesSpec, func(ctx context.Context) error {
			_, err := c.readChanges(ctx, s)
			return err
		}})
		_, ok := s.p.(platform.Enricher)
		enrich = enrich || ok
	}
	if enrich {
		out = append(out, runSpec{RunCertificates, sc.Certificates, func(ctx context.Context) error {
			for _, s := range c.sites {
				if _, err := c.refreshEnrichment(ctx, s); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	out = append(out, runSpec{RunResync, sc.Resync, func(ctx context.Context) error {
		_, err := c.resyncAll(ctx)
		return err
	}})
	return out
}

func (s *scheduler) fire(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	paused, ctx := s.paused, s.ctx
	s.mu.Unlock()
	if paused || ctx == nil || ctx.Err() != nil {
		return
	}
	_ = s.c.run(ctx, name, fn)
}

func (s *scheduler) start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.cron.Start()
}

// stop stops the schedules and waits (until ctx ends) for running jobs.
func (s *scheduler) stop(ctx context.Context) {
	done := s.cron.Stop().Done()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Pause stops scheduled runs from starting (running ones finish); Resume
// lets them start again.
func (c *Connector) Pause() {
	c.sched.mu.Lock()
	c.sched.paused = true
	c.sched.mu.Unlock()
	c.log.Info("schedules paused")
}

// Resume undoes Pause.
func (c *Connector) Resume() {
	c.sched.mu.Lock()
	c.sched.paused = false
	c.sched.mu.Unlock()
	c.log.Info("schedules resumed")
}

// Paused reports whether schedules are paused.
func (c *Connector) Paused() bool {
	c.sched.mu.Lock()
	defer c.sched.mu.Unlock()
	return c.sched.paused
}

// NextRuns returns the next time of each scheduled run (zero before Start).
func (c *Connector) NextRuns() map[string]time.Time {
	out := map[string]time.Time{}
	for name, id := range c.sched.entries {
		out[name] = c.sched.cron.Entry(id).Next
	}
	return out
}

type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg, append([]any{"err", err}, kv...)...)
}

// SyncOnce runs the ERP scans, each platform's change source and the
// enrichment once, now, in that order, and returns when their jobs are
// queued (the pools deliver them). It is what `sync --once` and the tests
// use.
func (c *Connector) SyncOnce(ctx context.Context) error {
	var errs []error
	for _, e := range c.runSpecs() {
		if e.name == RunResync {
			continue
		}
		if err := c.run(ctx, e.name, e.fn); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}
