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
	Paused   bool                      `json:"paused"`
	// Bindings counts the customers bound to each platform.
	Bindings map[string]int `json:"bindings"`
	// WriteBacksPending counts platform ids not yet written to the ERP.
	WriteBacksPending int `json:"write_backs_pending"`
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
		Breakers: map[string]string{}, Bindings: map[string]int{}}
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
		st.Breakers[s.upstream] = s.pool.BreakerState().String()
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

// Ready reports whether the connector is ready: its state is open and the
// first poll of each upstream (the ERP scan, the ONe feed, the Customer API
// listing) has succeeded. The map says which upstreams are ready.
func (c *Connector) Ready() (bool, map[string]bool) {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	out := map[string]bool{}
	ready := !stopped
	for upstream, run := range c.readinessRuns() {
		ok := !c.st.runs[run].LastSuccess.IsZero()
		out[upstream] = ok
		ready = ready && ok
	}
	return ready, out
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
	}
	if err := c.store.SetCursor(ctx, name, []byte(value)); err != nil {
		return err
	}
	c.log.Warn("cursor set by hand", "cursor", name, "old", old, "new", value)
	return nil
}
