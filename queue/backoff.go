package queue

import (
	"math"
	"math/rand/v2"
	"time"
)

// Delay returns the backoff delay before attempt+1 given that attempt
// attempts have failed: Initial·Multiplier^(attempt-1) capped at Max, spread
// by ±Jitter and capped at Max again. r in [0,1) picks the jitter.
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt-1))
	if d > float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(b.Max)
	}
	d *= 1 - b.Jitter + 2*b.Jitter*r
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

func (s *Store) backoff(attempt int) time.Duration {
	return s.opts.Backoff.Delay(attempt, rand.Float64())
}
