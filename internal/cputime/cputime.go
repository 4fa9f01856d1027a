// Package cputime reads the CPU time the process has used, for benchmarks
// that report it next to wall time: on a shared machine the wall time per
// operation swings with other processes' load, the CPU time much less.
package cputime

import (
	"testing"
	"time"
)

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

// Measure runs op once per iteration of b and reports, next to the wall
// time, the process's CPU time per operation (client and any in-process
// server together) as cpu-ns/op, with the allocations.
func Measure(b *testing.B, op func(i int) error) {
	b.Helper()
	b.ReportAllocs()
	start := Process()
	for i := 0; b.Loop(); i++ {
		if err := op(i); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := PerOp(start, b.N); cpu > 0 {
		b.ReportMetric(cpu, "cpu-ns/op")
	}
}
