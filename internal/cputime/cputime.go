// Package cputime reads the CPU time the process has used, for benchmarks
// that report it next to wall time: on a shared machine the wall time per
// operation swings with other processes' load, the CPU time much less.
package cputime

import "time"

// Process returns the user and system CPU time the process has used so far,
// or 0 where the platform does not say.
func Process() time.Duration { return process() }

// PerOp returns the CPU time used since start divided by n operations, or 0
// when there is none to report.
func PerOp(start time.Duration, n int) float64 {
	now := Process()
	if start == 0 || now == 0 || n <= 0 {
		return 0
	}
	return float64(now-start) / float64(n)
}
