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
	loc     *time.Location          // the schedules' time zone
	mu      sync.Mutex
	paused  bool
	since   time.Time // when the pause began (zero when unknown or not paused)
	ctx     context.Context
	// halt ends when Stop begins: every scan, poll and one-off run started
	// through the scheduler, SyncOnce or the admin API is bound to it, so
	// Stop cancels them first (they resume from their cursors next time)
	// and only then lets the deliveries finish.
	halt    context.Context
	haltNow context.CancelCauseFunc
	release context.CancelFunc // releases ctx (bound to halt by start)
}

// errStopping is the cause of the contexts Stop cancels.
var errStopping = errors.New("connector: stopping")

// ErrPaused is returned by SyncOnce while the schedules are paused.
var ErrPaused = errors.New("connector: schedules are paused (`erpconnector resume` or POST /api/v1/resume restarts them)")

// cursorPaused is the key in the state file's cursor bucket that keeps the
// pause across reloads and restarts: the RFC 3339 time the pause began, or
// absent (or empty) when the schedules run. It is not one of CursorNames:
// operators change it with pause and resume, not with cursor set.
const cursorPaused = "connector.paused"

func newScheduler(c *Connector) (*scheduler, error) {
	loc, err := time.LoadLocation(c.cfg.Schedules.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("connector: schedules: %w", err)
	}
	l := cronLogger{c.log.With("component", "schedule")}
	s := &scheduler{c: c, entries: map[string]cron.EntryID{}, loc: loc}
	s.halt, s.haltNow = context.WithCancelCause(context.Background())
	if err := s.load(); err != nil {
		return nil, err
	}
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
	// pass, when set, replaces fn in SyncOnce's pass.
	pass func(ctx context.Context) error
}

// runSpecs lists the periodic runs the configuration turns on: the ERP
// scans, each platform's change source, the enrichment and the resync.
func (c *Connector) runSpecs() []runSpec {
	sc := c.cfg.Schedules
	out := []runSpec{
		{name: RunNewCustomers, spec: sc.NewCustomers, fn: func(ctx context.Context) error { _, err := c.scanERP(ctx, scanNew); return err }},
		{name: RunUpdates, spec: sc.Updates, fn: func(ctx context.Context) error {
			// Records the platforms refused whose time has come are tried
			// again first (the ERP's own changes follow).
			if _, err := c.store.Heal(ctx); err != nil {
				return err
			}
			_, err := c.scanERP(ctx, scanUpdates)
			return err
		}},
	}
	enrich := false
	for _, s := range c.sites {
		out = append(out, runSpec{name: s.changesRun, spec: s.changesSpec, fn: func(ctx context.Context) error {
			_, err := c.readChanges(ctx, s)
			return err
		}})
		_, ok := s.p.(platform.Enricher)
		enrich = enrich || ok
	}
	if enrich {
		out = append(out, runSpec{name: RunCertificates, spec: sc.Certificates, fn: c.refreshAll, pass: c.refreshDue})
	}
	out = append(out, runSpec{name: RunResync, spec: sc.Resync, fn: func(ctx context.Context) error {
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
	ctx, release := s.bind(ctx)
	s.mu.Lock()
	s.ctx, s.release = ctx, release
	paused, since := s.paused, s.since
	s.mu.Unlock()
	if paused {
		s.c.log.Warn("schedules paused (kept in the state file): no scan, poll or scheduled resync runs until `erpconnector resume`",
			"since", since)
	}
	s.cron.Start()
}

// bind returns ctx, also cancelled when Stop begins (halt), and the
// function that releases it.
func (s *scheduler) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.halt, func() { cancel(errStopping) })
	return ctx, func() { stop(); cancel(nil) }
}

// stop stops the schedules and waits (until ctx ends) for running jobs.
func (s *scheduler) stop(ctx context.Context) {
	done := s.cron.Stop().Done()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.release != nil {
		s.release()
	}
	s.mu.Unlock()
}

// load reads the persisted pause from the state file.
func (s *scheduler) load() error {
	v, ok, err := s.c.store.GetCursor(context.Background(), cursorPaused)
	if err != nil {
		return fmt.Errorf("connector: read the pause: %w", err)
	}
	if ok && len(v) > 0 {
		s.paused = true
		s.since, _ = time.Parse(time.RFC3339Nano, string(v))
	}
	return nil
}

// SetPaused pauses (true) or resumes (false) the schedules and keeps the
// choice in the state file, so that a reload or a restart keeps it. While
// paused no scheduled run starts (runs going on finish), SyncOnce returns
// ErrPaused (the daemon's first pass too), and queued jobs are still
// delivered; an explicit Resync still runs.
func (c *Connector) SetPaused(ctx context.Context, paused bool) error {
	s := c.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if paused == s.paused {
		return nil
	}
	var v []byte
	since := time.Time{}
	if paused {
		since = c.now().UTC()
		v = []byte(since.Format(time.RFC3339Nano))
	}
	if err := c.store.SetCursor(ctx, cursorPaused, v); err != nil {
		return fmt.Errorf("connector: keep the pause in the state file: %w", err)
	}
	s.paused, s.since = paused, since
	if paused {
		c.log.Warn("schedules paused (kept across restarts until resumed)")
	} else {
		c.log.Info("schedules resumed")
	}
	return nil
}

// Pause is SetPaused(true) without a context; a failure to keep the pause
// in the state file is logged (the pause holds until the process ends).
func (c *Connector) Pause() {
	if err := c.SetPaused(context.Background(), true); err != nil {
		c.log.Error("pause", "err", err)
		c.sched.mu.Lock()
		c.sched.paused = true
		c.sched.mu.Unlock()
	}
}

// Resume is SetPaused(false) without a context; a failure is logged.
func (c *Connector) Resume() {
	if err := c.SetPaused(context.Background(), false); err != nil {
		c.log.Error("resume", "err", err)
		c.sched.mu.Lock()
		c.sched.paused = false
		c.sched.mu.Unlock()
	}
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
// use. While the schedules are paused it runs nothing and returns
// ErrPaused; Stop cancels it (each run resumes from its cursor next time).
func (c *Connector) SyncOnce(ctx context.Context) error {
	if c.Paused() {
		return ErrPaused
	}
	ctx, release := c.sched.bind(ctx)
	defer release()
	var errs []error
	for _, e := range c.runSpecs() {
		if e.name == RunResync {
			continue
		}
		fn := e.fn
		if e.pass != nil {
			fn = e.pass
		}
		if err := c.run(ctx, e.name, fn); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}
