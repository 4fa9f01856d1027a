package connector

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/queue"
)

// RunStatus is what an operator sees about one run (pipeline).
type RunStatus struct {
	LastRun     time.Time `json:"last_run,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Runs        int       `json:"runs"`
	Failures    int       `json:"failures"`
	NextRun     time.Time `json:"next_run,omitzero"`
}

// Status is a snapshot for operators.
type Status struct {
	Runs     map[string]RunStatus      `json:"runs"`
	Outcomes map[string]map[string]int `json:"outcomes"` // direction → outcome → records
	Cursors  map[string]string         `json:"cursors"`
	FeedNext int64                     `json:"feed_next_id"`
	Queue    queue.Stats               `json:"queue"`
	Breakers map[string]string         `json:"breakers"`
	// Upstreams are the platform upstreams' states (breaker, pauses,
	// refused credentials).
	Upstreams map[string]UpstreamStatus `json:"upstreams"`
	Paused    bool                      `json:"paused"`
	// Bindings counts the customers bound to each platform.
	Bindings map[string]int `json:"bindings"`
	// WriteBacksPending counts platform ids not yet written to the ERP.
	WriteBacksPending int `json:"write_backs_pending"`
	// RunHistory is the kept run history, newest first (see runhistory.go).
	RunHistory []RunRecord `json:"run_history"`
}

type statusTracker struct {
	mu       sync.Mutex
	runs     map[string]RunStatus
	outcomes map[string]map[string]int
	feedNext int64
}

func newStatusTracker() *statusTracker {
	return &statusTracker{runs: map[string]RunStatus{}, outcomes: map[string]map[string]int{}}
}

func (s *statusTracker) finish(name string, start, end time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[name]
	r.LastRun = start
	r.Runs++
	if err != nil {
		r.Failures++
		r.LastError = err.Error()
	} else {
		r.LastSuccess = end
		r.LastError = ""
	}
	s.runs[name] = r
}

func (s *statusTracker) count(direction, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.outcomes[direction]
	if m == nil {
		m = map[string]int{}
		s.outcomes[direction] = m
	}
	m[outcome]++
}

func (s *statusTracker) setFeed(next int64) {
	s.mu.Lock()
	s.feedNext = next
	s.mu.Unlock()
}

// Status returns a snapshot of the connector's state. It never contains secrets.
func (c *Connector) Status(ctx context.Context) (Status, error) {
	st := Status{Runs: map[string]RunStatus{}, Outcomes: map[string]map[string]int{}, Cursors: map[string]string{},
		Breakers: map[string]string{}, Bindings: map[string]int{}, Upstreams: map[string]UpstreamStatus{}}
	c.st.mu.Lock()
	for k, v := range c.st.runs {
		st.Runs[k] = v
	}
	for d, m := range c.st.outcomes {
		cp := map[string]int{}
		for k, v := range m {
			cp[k] = v
		}
		st.Outcomes[d] = cp
	}
	st.FeedNext = c.st.feedNext
	c.st.mu.Unlock()
	for name, next := range c.NextRuns() {
		r := st.Runs[name]
		r.NextRun = next
		st.Runs[name] = r
	}
	for _, name := range CursorNames {
		v, ok, err := c.store.GetCursor(ctx, name)
		if err != nil {
			return st, err
		}
		if ok {
			st.Cursors[name] = string(v)
		}
	}
	q, err := c.store.Stats(ctx)
	if err != nil {
		return st, err
	}
	st.Queue = q
	if st.WriteBacksPending, err = c.state.CountWriteBacks(ctx); err != nil {
		return st, err
	}
	for _, s := range c.sites {
		u := UpstreamStatus{Breaker: s.pool.BreakerState().String()}
		if pu := s.pool.PausedUntil(); pu.After(c.now()) {
			u.PausedUntil = pu
		}
		if f := s.pool.Refused(); f != nil {
			u.CredentialsRefused, u.Reason, u.Since = true, f.Reason, f.Since
		}
		st.Breakers[s.upstream] = u.Breaker
		st.Upstreams[s.upstream] = u
	}
	if err := c.state.View(ctx, func(tx *state.Tx) error {
		for _, s := range c.sites {
			st.Bindings[string(s.name)] = tx.CountBindings(s.name)
		}
		return nil
	}); err != nil {
		return st, err
	}
	st.Paused = c.Paused()
	st.RunHistory = c.book.snapshot()
	return st, nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readinessRuns are the runs whose first success makes an upstream ready.
func (c *Connector) readinessRuns() map[string]string {
	out := map[string]string{"erp": RunUpdates}
	for _, s := range c.sites {
		out[s.upstream] = s.changesRun
	}
	return out
}

// Readiness says whether the connector is ready and, for each upstream
// that is not, why.
type Readiness struct {
	Ready bool `json:"ready"`
	// Upstreams says which upstreams (erp, one, customer) are ready.
	Upstreams map[string]bool `json:"upstreams"`
	// Reasons says why an upstream is not ready.
	Reasons map[string]string `json:"reasons,omitempty"`
}

// Readiness reports whether the connector is ready now: its state is open,
// the first poll of each upstream (the ERP scan, the ONe feed, the
// Customer API listing) has succeeded, no platform refuses the credentials
// and no platform's breaker is open.
func (c *Connector) Readiness() Readiness {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	r := Readiness{Ready: !stopped, Upstreams: map[string]bool{}, Reasons: map[string]string{}}
	c.st.mu.Lock()
	for upstream, run := range c.readinessRuns() {
		if c.st.runs[run].LastSuccess.IsZero() {
			r.Reasons[upstream] = "its first " + run + " run has not succeeded yet"
		}
	}
	c.st.mu.Unlock()
	for _, s := range c.sites {
		switch {
		case s.pool.Refused() != nil:
			f := s.pool.Refused()
			r.Reasons[s.upstream] = "the platform refuses the credentials since " + f.Since.UTC().Format(time.RFC3339) + ": " + f.Reason
		case s.pool.BreakerState() == gobreaker.StateOpen:
			r.Reasons[s.upstream] = "its circuit breaker is open (the platform keeps failing)"
		}
	}
	for upstream := range c.readinessRuns() {
		_, bad := r.Reasons[upstream]
		r.Upstreams[upstream] = !bad
		r.Ready = r.Ready && !bad
	}
	if stopped {
		r.Reasons["connector"] = "stopped"
	}
	return r
}

// Ready reports Readiness in short: whether the connector is ready, and
// which upstreams are.
func (c *Connector) Ready() (bool, map[string]bool) {
	r := c.Readiness()
	return r.Ready, r.Upstreams
}

// UpstreamStatus is what an operator sees about one platform upstream.
type UpstreamStatus struct {
	// Breaker is the circuit breaker's state.
	Breaker string `json:"breaker"`
	// PausedUntil is when a Retry-After pause ends, if one is in force.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// CredentialsRefused is set while the platform refuses the connector's
	// credentials: the upstream is paused and its jobs wait.
	CredentialsRefused bool `json:"credentials_refused,omitempty"`
	// Reason is the platform's answer to the credentials.
	Reason string `json:"reason,omitempty"`
	// Since is when the platform first refused them.
	Since time.Time `json:"since,omitzero"`
}

// CursorNames lists the cursors an operator may read or set.
var CursorNames = []string{cursorERPNew, cursorERPUpdates, cursorONeFeed}

// Cursor returns a named cursor ("" when unset).
func (c *Connector) Cursor(ctx context.Context, name string) (string, error) {
	if !slices.Contains(CursorNames, name) {
		return "", fmt.Errorf("connector: unknown cursor %q (known: %s)", name, strings.Join(CursorNames, ", "))
	}
	v, _, err := c.store.GetCursor(ctx, name)
	return string(v), err
}

// SetCursor sets a named cursor by hand (for example to skip or replay part
// of the ONe feed). The change is logged with the old and new value.
func (c *Connector) SetCursor(ctx context.Context, name, value string) error {
	old, err := c.Cursor(ctx, name)
	if err != nil {
		return err
	}
	if name == cursorONeFeed {
		if n, err := strconv.ParseInt(value, 10, 64); err != nil || n < 0 {
			return fmt.Errorf("connector: cursor %s: want a non-negative integer, got %q", name, value)
		}
	} else if value, err = c.erpCursor(ctx, name, value); err != nil {
		return err
	}
	if err := c.store.SetCursor(ctx, name, []byte(value)); err != nil {
		return err
	}
	c.log.Warn("cursor set by hand", "cursor", name, "old", old, "new", value)
	return nil
}
