// Package fault injects failures into the reference servers and counts their
// requests. Both reference servers wrap every operation with the same Injector,
// so tests script outages, throttling, latency, dropped connections and broken
// bodies once and in one way.
package fault

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule describes one fault. A request matches when its operation equals
// Operation (or Operation is "" or "*"), it falls inside the outage window if
// one is set, and the probability draw succeeds. The first matching rule wins.
type Rule struct {
	// ID is assigned by the Injector when the rule is added.
	ID int `json:"id"`
	// Operation is the operation id the rule applies to; "" or "*" means every operation.
	Operation string `json:"operation,omitempty"`
	// Probability of applying the rule to a matching request; 0 means always.
	Probability float64 `json:"probability,omitempty"`
	// Count limits how many times the rule fires; 0 means no limit.
	Count int `json:"count,omitempty"`
	// Status answers the request with this status and an error body, without
	// running the operation.
	Status int `json:"status,omitempty"`
	// RetryAfter, in seconds, is sent with Status (typically 429 or 503).
	RetryAfter int `json:"retryAfter,omitempty"`
	// RetryAfterMax, in seconds, when above RetryAfter makes the Retry-After
	// sent uniform in [RetryAfter, RetryAfterMax] (drawn from the seeded source).
	RetryAfterMax int `json:"retryAfterMax,omitempty"`
	// Latency delays the request by at least this long.
	Latency Duration `json:"latency,omitempty"`
	// LatencyMax, when above Latency, makes the delay uniform in [Latency, LatencyMax].
	LatencyMax Duration `json:"latencyMax,omitempty"`
	// From and Until bound an outage window; outside it the rule does not match.
	// A window with no Status answers 503 with Retry-After set to the time left.
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Drop closes the connection without an answer and without running the operation.
	Drop bool `json:"drop,omitempty"`
	// DropAfterCommit runs the operation (its effects happen) and then closes
	// the connection without sending the answer.
	DropAfterCommit bool `json:"dropAfterCommit,omitempty"`
	// Malformed runs the operation and replaces its body with bytes that are not JSON.
	Malformed bool `json:"malformed,omitempty"`
	// Truncate runs the operation and sends only the first half of its body.
	Truncate bool `json:"truncate,omitempty"`
	// Duplicate and Reorder are list-level faults that a handler returning a
	// list of events applies itself (see FromContext): repeat events, or shuffle them.
	Duplicate bool `json:"duplicate,omitempty"`
	Reorder   bool `json:"reorder,omitempty"`

	fired int
	seed  int64
}

// Duration is a time.Duration that reads and writes JSON as "1.5s" or as a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON accepts "250ms" style strings or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fault: duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("fault: duration %s: want a string like \"250ms\" or milliseconds", b)
	}
	*d = Duration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// Validate reports a rule that cannot work.
func (r Rule) Validate() error {
	var errs []error
	if r.Probability < 0 || r.Probability > 1 {
		errs = append(errs, fmt.Errorf("probability: must be within [0, 1], got %v", r.Probability))
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		errs = append(errs, fmt.Errorf("status: must be an HTTP status, got %d", r.Status))
	}
	if r.Count < 0 {
		errs = append(errs, errors.New("count: must not be negative"))
	}
	if r.RetryAfter < 0 {
		errs = append(errs, errors.New("retryAfter: must not be negative"))
	}
	if r.RetryAfterMax < 0 {
		errs = append(errs, errors.New("retryAfterMax: must not be negative"))
	} else if r.RetryAfterMax > 0 && r.RetryAfterMax < r.RetryAfter {
		errs = append(errs, fmt.Errorf("retryAfterMax: must not be below retryAfter (%d), got %d", r.RetryAfter, r.RetryAfterMax))
	}
	if r.Latency < 0 || r.LatencyMax < 0 {
		errs = append(errs, errors.New("latency: must not be negative"))
	}
	if !r.From.IsZero() && !r.Until.IsZero() && !r.Until.After(r.From) {
		errs = append(errs, errors.New("until: must be after from"))
	}
	return errors.Join(errs...)
}

func (r *Rule) window() bool { return !r.From.IsZero() || !r.Until.IsZero() }

// OpCount is the request count of one operation.
type OpCount struct {
	Total    int64         `json:"total"`
	ByStatus map[int]int64 `json:"byStatus"`
	// Faulted counts requests a rule acted on.
	Faulted int64 `json:"faulted"`
	// EarlyRetries counts requests that came back before the Retry-After an
	// earlier answer to the same request (method, URI and body) asked for.
	EarlyRetries int64 `json:"earlyRetries"`
	// Throttled counts requests refused with 429 over the Throttle's rate.
	Throttled int64 `json:"throttled"`
}

// Injector applies rules and counts requests. It is safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	rules  []*Rule
	nextID int
	rng    *rand.Rand
	counts map[string]*OpCount
	now    func() time.Time
	// notBefore holds, by request identity, the earliest time a request
	// answered with a Retry-After may come back (see Wrap).
	notBefore map[string]time.Time
	sweepAt   int
	// throttle and limiter are the installed Throttle (see SetThrottle).
	throttle Throttle
	limiter  *rate.Limiter
}

// Bounds of the early-retry memory.
const (
	// maxIdentityBody is how much of a request body goes into its identity.
	maxIdentityBody = 1 << 20
	// maxTracked caps the identities remembered at once; beyond it (after
	// forgetting the expired ones) new identities are not tracked.
	maxTracked = 1 << 16
	// minSweep is the size at which expired identities are first swept.
	minSweep = 1024
)

// New returns an Injector whose random draws come from seed.
func New(seed uint64) *Injector {
	return &Injector{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		counts:    map[string]*OpCount{},
		now:       time.Now,
		notBefore: map[string]time.Time{},
		sweepAt:   minSweep,
	}
}

// SetClock replaces the clock used for outage windows and Retry-After.
func (in *Injector) SetClock(now func() time.Time) {
	in.mu.Lock()
	in.now = now
	in.mu.Unlock()
}

// Add installs a rule and returns its id.
func (in *Injector) Add(r Rule) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, fmt.Errorf("fault: invalid rule: %w", err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nextID++
	r.ID = in.nextID
	r.fired = 0
	in.rules = append(in.rules, &r)
	return r.ID, nil
}

// Remove deletes one rule; it reports whether the rule existed.
func (in *Injector) Remove(id int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, r := range in.rules {
		if r.ID == id {
			in.rules = append(in.rules[:i], in.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Clear removes every rule.
func (in *Injector) Clear() {
	in.mu.Lock()
	in.rules = nil
	in.mu.Unlock()
}

// Rules returns a copy of the installed rules.
func (in *Injector) Rules() []Rule {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Rule, 0, len(in.rules))
	for _, r := range in.rules {
		out = append(out, *r)
	}
	return out
}

// Counts returns a copy of the request counters by operation.
func (in *Injector) Counts() map[string]OpCount {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]OpCount, len(in.counts))
	for op, c := range in.counts {
		cp := OpCount{Total: c.Total, Faulted: c.Faulted, EarlyRetries: c.EarlyRetries, Throttled: c.Throttled, ByStatus: make(map[int]int64, len(c.ByStatus))}
		for s, n := range c.ByStatus {
			cp.ByStatus[s] = n
		}
		out[op] = cp
	}
	return out
}

// Count returns the number of requests seen for one operation.
func (in *Injector) Count(op string) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c := in.counts[op]; c != nil {
		return c.Total
	}
	return 0
}

// Operations returns the names of the operations that saw requests, sorted.
func (in *Injector) Operations() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	ops := make([]string, 0, len(in.counts))
	for op := range in.counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// ResetCounts zeroes the counters.
func (in *Injector) ResetCounts() {
	in.mu.Lock()
	in.counts = map[string]*OpCount{}
	in.mu.Unlock()
}

// tracking reports whether some request identity waits for its Retry-After.
func (in *Injector) tracking() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.notBefore) > 0
}

// Tracked returns how many request identities wait for their Retry-After.
func (in *Injector) Tracked() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.notBefore)
}

// remember records that the request with identity id may not come back
// before t. It never shortens an earlier wait. Call with in.mu held.
func (in *Injector) remember(id string, t time.Time, now time.Time) {
	if old, ok := in.notBefore[id]; ok {
		if t.After(old) {
			in.notBefore[id] = t
		}
		return
	}
	if len(in.notBefore) >= in.sweepAt {
		for k, nb := range in.notBefore {
			if !now.Before(nb) {
				delete(in.notBefore, k) // expired: nothing can be early any more
			}
		}
		in.sweepAt = max(minSweep, 2*len(in.notBefore))
	}
	if len(in.notBefore) >= maxTracked {
		return
	}
	in.notBefore[id] = t
}

// pick chooses the rule for one request and counts it. id is the request's
// identity when early-retry tracking needs it ("" otherwise). A request
// over the Throttle's rate gets a 429 rule of its own; the Throttle's
// latency is added to every request's rule (a rule of latency only when
// no rule matches).
func (in *Injector) pick(op, id string) (Rule, bool, time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	rule, ok, now := in.pickRule(op, id)
	if lat := in.throttle.Latency; lat > 0 {
		rule.Latency += lat
		ok = true
	}
	return rule, ok, now
}

// pickRule is pick without the Throttle's latency; in.mu is held.
func (in *Injector) pickRule(op, id string) (Rule, bool, time.Time) {
	now := in.now()
	c := in.counts[op]
	if c == nil {
		c = &OpCount{ByStatus: map[int]int64{}}
		in.counts[op] = c
	}
	c.Total++
	if id != "" {
		if nb, ok := in.notBefore[id]; ok {
			if now.Before(nb) {
				c.EarlyRetries++ // kept until a request comes back in time
			} else {
				delete(in.notBefore, id)
			}
		}
	}
	if retryAfter, over := in.throttled(now); over {
		c.Throttled++
		return Rule{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}, true, now
	}
	for _, r := range in.rules {
		if r.Operation != "" && r.Operation != "*" && r.Operation != op {
			continue
		}
		if r.Count > 0 && r.fired >= r.Count {
			continue
		}
		if r.window() {
			if !r.From.IsZero() && now.Before(r.From) {
				continue
			}
			if !r.Until.IsZero() && !now.Before(r.Until) {
				continue
			}
		}
		if r.Probability > 0 && r.Probability < 1 && in.rng.Float64() >= r.Probability {
			continue
		}
		r.fired++
		c.Faulted++
		rule := *r
		if rule.RetryAfterMax > rule.RetryAfter {
			rule.RetryAfter += in.rng.IntN(rule.RetryAfterMax - rule.RetryAfter + 1)
		}
		if rule.LatencyMax > rule.Latency {
			span := int64(rule.LatencyMax - rule.Latency)
			rule.Latency += Duration(in.rng.Int64N(span + 1))
		}
		if rule.Reorder {
			// Give the handler its own seed so shuffles are reproducible.
			rule.seed = in.rng.Int64()
		}
		return rule, true, now
	}
	return Rule{}, false, now
}

func (in *Injector) record(op string, status int) {
	in.mu.Lock()
	if c := in.counts[op]; c != nil {
		c.ByStatus[status]++
	}
	in.mu.Unlock()
}

type ctxKey struct{}

// Applied is what a handler may learn about the rule acting on its request.
type Applied struct {
	Duplicate bool
	Reorder   bool
	// Seed drives a reproducible shuffle when Reorder is set.
	Seed int64
}

// FromContext returns the list-level faults acting on the request.
func FromContext(ctx context.Context) Applied {
	a, _ := ctx.Value(ctxKey{}).(Applied)
	return a
}

// ErrorWriter writes an error answer in the server's own error shape.
type ErrorWriter func(w http.ResponseWriter, status int, message string)

// Wrap returns a handler that counts requests for op and applies the rules.
//
// It also checks that clients honour Retry-After: when it answers with a
// Retry-After (a rule's RetryAfter or an outage window), it remembers the
// request's identity (method, URI and a SHA-256 of the first MiB of its
// body) with the earliest time it may come back; the same request arriving
// earlier is counted in OpCount.EarlyRetries. The body is read only while
// such identities are remembered or when the answer carries a Retry-After,
// and is given back to the handler intact.
func (in *Injector) Wrap(op string, writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if in.tracking() {
			id, r = identity(r)
		}
		rule, ok, now := in.pick(op, id)
		if !ok {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			in.record(op, sw.status)
			return
		}
		if rule.Latency > 0 {
			t := time.NewTimer(time.Duration(rule.Latency))
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if rule.Drop {
			in.record(op, 0)
			hijackClose(w)
			return
		}
		status := rule.Status
		retryAfter := rule.RetryAfter
		if status == 0 && rule.window() {
			status = http.StatusServiceUnavailable
			if retryAfter == 0 && !rule.Until.IsZero() {
				retryAfter = int(rule.Until.Sub(now).Seconds() + 0.999)
			}
		}
		if status != 0 {
			if retryAfter > 0 {
				if id == "" {
					id, r = identity(r)
				}
				in.mu.Lock()
				answered := in.now()
				in.remember(id, answered.Add(time.Duration(retryAfter)*time.Second), answered)
				in.mu.Unlock()
				w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			}
			writeErr(w, status, fmt.Sprintf("injected fault: %s", http.StatusText(status)))
			in.record(op, status)
			return
		}
		if rule.Duplicate || rule.Reorder {
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, Applied{
				Duplicate: rule.Duplicate, Reorder: rule.Reorder, Seed: rule.seed,
			}))
		}
		if !rule.DropAfterCommit && !rule.Malformed && !rule.Truncate {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			in.record(op, sw.status)
			return
		}
		buf := &bufferWriter{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(buf, r)
		if rule.DropAfterCommit {
			in.record(op, 0)
			hijackClose(w)
			return
		}
		body := buf.body
		switch {
		case rule.Malformed:
			body = []byte(`{"injected": malformed <<<`)
		case rule.Truncate:
			body = body[:len(body)/2]
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(buf.status)
		_, _ = w.Write(body)
		in.record(op, buf.status)
	})
}

// identity names a request for early-retry detection: method, request URI
// and the SHA-256 of the first MiB of the body. The returned request reads
// the whole body as the client sent it.
func identity(r *http.Request) (string, *http.Request) {
	h := sha256.New()
	if r.Body != nil && r.Body != http.NoBody {
		b, _ := io.ReadAll(io.LimitReader(r.Body, maxIdentityBody))
		h.Write(b)
		r2 := r.WithContext(r.Context()) // a shallow copy
		r2.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(b), r.Body), Closer: r.Body}
		r = r2
	}
	return r.Method + " " + r.URL.RequestURI() + " " + hex.EncodeToString(h.Sum(nil)), r
}

type readCloser struct {
	io.Reader
	io.Closer
}

// hijackClose ends the connection with no answer at all.
func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // reset, as a crashed peer would
			}
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a recorder: abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := s.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, errors.New("fault: hijack not supported")
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type bufferWriter struct {
	header http.Header
	status int
	wrote  bool
	body   []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status = code
		b.wrote = true
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	b.wrote = true
	b.body = append(b.body, p...)
	return len(p), nil
}
