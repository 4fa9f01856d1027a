package fault

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Throttle makes a reference server behave like a real upstream for
// benchmarks: every request waits Latency before it is answered, and the
// server accepts at most Rate requests per second over all its operations
// together (a token bucket of Burst tokens), answering the others 429 with
// a Retry-After (whole seconds until a token is free, at least 1) without
// running the operation. The zero Throttle, the default, changes nothing.
//
// A refused request is counted like any other (Total, ByStatus[429]) and in
// OpCount.Throttled, not in Faulted; its Retry-After is tracked for early
// retries as a rule's is. Fault rules apply to the accepted requests, their
// latency added to Latency.
type Throttle struct {
	// Latency delays every answer, refusals included.
	Latency Duration `json:"latency,omitempty"`
	// Rate is the requests per second the server accepts (0: no limit).
	Rate float64 `json:"rate,omitempty"`
	// Burst is the bucket's size (0: Rate rounded up, at least 1).
	Burst int `json:"burst,omitempty"`
}

// Validate reports a throttle that cannot work.
func (t Throttle) Validate() error {
	var errs []error
	if t.Latency < 0 {
		errs = append(errs, errors.New("latency: must not be negative"))
	}
	if t.Rate < 0 || math.IsNaN(t.Rate) || math.IsInf(t.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate: must be a non-negative number of requests per second, got %v", t.Rate))
	}
	if t.Burst < 0 {
		errs = append(errs, errors.New("burst: must not be negative"))
	}
	if t.Burst > 0 && t.Rate == 0 {
		errs = append(errs, errors.New("burst: needs a rate"))
	}
	return errors.Join(errs...)
}

// withDefaults fills in the burst.
func (t Throttle) withDefaults() Throttle {
	if t.Rate > 0 && t.Burst == 0 {
		t.Burst = max(1, int(math.Ceil(t.Rate)))
	}
	return t
}

// SetThrottle installs t (the zero Throttle removes it). The bucket starts
// full.
func (in *Injector) SetThrottle(t Throttle) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("fault: invalid throttle: %w", err)
	}
	t = t.withDefaults()
	in.mu.Lock()
	defer in.mu.Unlock()
	in.throttle = t
	in.limiter = nil
	if t.Rate > 0 {
		in.limiter = rate.NewLimiter(rate.Limit(t.Rate), t.Burst)
		// Full at the injector's own time (a test's clock may be far from
		// the wall clock).
		in.limiter.SetLimitAt(in.now(), rate.Limit(t.Rate))
	}
	return nil
}

// Throttle returns the installed throttle (burst filled in).
func (in *Injector) Throttle() Throttle {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.throttle
}

// throttled decides, with in.mu held, whether the request arriving at now
// is over the rate; if so it returns the Retry-After in seconds.
func (in *Injector) throttled(now time.Time) (int, bool) {
	if in.limiter == nil {
		return 0, false
	}
	r := in.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return 0, false
	}
	r.CancelAt(now)
	return max(1, int(math.Ceil(d.Seconds()))), true
}
