package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
)

// The status text shows the newest runs of the history, newest first, one
// line each with compact counts per platform, a failed run's error under
// it, and how many are kept.
func TestPrintRunHistory(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recs := []connector.RunRecord{
		{ID: 5, Pipeline: "feed", Start: at.Add(4 * time.Minute)},
		{ID: 4, Pipeline: "updates", Start: at.Add(3 * time.Minute), End: at.Add(3*time.Minute + 1500*time.Millisecond),
			Error: "erp: connection refused\nretrying", Unreadable: 2},
		{ID: 3, Pipeline: "feed", Start: at.Add(time.Minute), End: at.Add(2 * time.Minute), Runs: 12},
		{ID: 2, Pipeline: "new_customers", Start: at, End: at.Add(250 * time.Millisecond), Platforms: map[string]connector.RunCounts{
			"one":         {Read: 40, Queued: 29, Created: 25, Rejected: 4},
			"customerapi": {Read: 40},
		}},
		{ID: 1, Pipeline: "certificates", Start: at.Add(-time.Hour), End: at.Add(-time.Hour)},
	}
	var b strings.Builder
	printRunHistory(&b, recs, 4, at.Add(4*time.Minute+3*time.Second))
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		`^run history, newest first \(4 of 5 kept\):$`,
		`^started\s+run\s+took\s+result\s+records$`,
		`^2026-03-01T10:04:00Z\s+feed\s+3s\s+running\s+-$`,
		`^2026-03-01T10:03:00Z\s+updates\s+1.5s\s+failed\s+2 unreadable$`,
		`^\s+error: erp: connection refused retrying$`,
		`^2026-03-01T10:01:00Z\s+feed\s+-\s+ok\s+12 idle runs$`,
		`^2026-03-01T10:00:00Z\s+new_customers\s+250ms\s+ok\s+customerapi: 40 read; one: 40 read, 29 queued, 25 created, 4 rejected$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i, lines[i], re)
		}
	}
	// The columns line up: every row's records start where the header's do.
	col := strings.Index(lines[1], "records")
	for _, l := range lines[2:] {
		if strings.Contains(l, "error:") {
			if strings.Index(l, "error:") != col {
				t.Errorf("the error is not under records: %q", l)
			}
			continue
		}
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("misaligned: %q", l)
		}
	}
	b.Reset()
	printRunHistory(&b, recs, 0, at)
	printRunHistory(&b, nil, 10, at)
	if b.Len() != 0 {
		t.Errorf("nothing to show, got %q", b.String())
	}
}
