package cputime

import (
	"runtime"
	"testing"
	"time"
)

func TestProcessAdvancesWithWork(t *testing.T) {
	start := Process()
	if start == 0 {
		t.Skip("no CPU time on " + runtime.GOOS)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if got := Process() - start; got <= 0 {
		t.Fatalf("CPU time did not advance after busy work (%d loops): %v", x, got)
	}
	if PerOp(start, 0) != 0 || PerOp(0, 5) != 0 {
		t.Fatal("PerOp reports without a start or operations")
	}
	if PerOp(start, 1) <= 0 {
		t.Fatal("PerOp reports nothing after work")
	}
}
