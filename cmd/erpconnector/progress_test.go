package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/erpconnector/erpconnector/connector"
)

// lastScreenLine is what a terminal shows on the last line of out: the
// text after the last carriage return or newline.
func lastScreenLine(out string) string {
	if i := strings.LastIndexAny(out, "\r\n"); i >= 0 {
		return out[i+1:]
	}
	return out
}

// On a terminal the bar counts records, one line per platform, and each
// line ends once the platform's records are read.
func TestResyncBarCountsRecords(t *testing.T) {
	var b bytes.Buffer
	p := &resyncProgress{w: &b, tty: true, every: time.Hour}
	// The last resync's finished pass, seen before the new one begins: not shown.
	p.update(connector.ResyncStatus{Progress: 1, RecordsDone: 40, RecordsTotal: 40, Platform: "one"})
	if b.Len() != 0 {
		t.Fatalf("a finished pass was drawn: %q", b.String())
	}
	p.update(connector.ResyncStatus{Progress: 0.25, RecordsDone: 10, RecordsTotal: 40, Platform: "one", Queued: 3})
	if got := lastScreenLine(b.String()); !strings.Contains(got, "resync one: 10/40 records read, 3 jobs queued") || !strings.Contains(got, "25%") {
		t.Fatalf("the bar shows %q", got)
	}
	p.update(connector.ResyncStatus{Progress: 1, RecordsDone: 40, RecordsTotal: 40, Platform: "one", Queued: 12})
	out := b.String()
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "40/40 records read") || !strings.Contains(out, "100%") {
		t.Fatalf("the finished bar: %q", out)
	}
	// The next platform gets a bar of its own; more records than the plan
	// counted raise the total.
	p.update(connector.ResyncStatus{Progress: 0.5, RecordsDone: 5, RecordsTotal: 10, Platform: "customerapi"})
	p.update(connector.ResyncStatus{Progress: 0.9, RecordsDone: 12, RecordsTotal: 10, Platform: "customerapi"})
	if got := lastScreenLine(b.String()); !strings.Contains(got, "resync customerapi: 12/12 records read") {
		t.Fatalf("the second bar shows %q", got)
	}
	// Interrupted: the line is ended once, so what follows starts afresh.
	p.end()
	p.end()
	out = b.String()
	if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
		t.Fatalf("after an interruption: %q", out)
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Fatalf("%d lines ended, want 2 (one per platform): %q", n, out)
	}
}

// A total the plan does not know: the records are counted all the same.
func TestResyncBarWithoutTotal(t *testing.T) {
	var b bytes.Buffer
	p := &resyncProgress{w: &b, tty: true, every: time.Hour}
	p.update(connector.ResyncStatus{Progress: -1, RecordsDone: 7, Platform: "one"})
	if got := lastScreenLine(b.String()); !strings.Contains(got, "resync one: 7 records read") {
		t.Fatalf("the bar shows %q", got)
	}
	p.update(connector.ResyncStatus{Progress: 1, RecordsDone: 9, Platform: "one"})
	p.end()
	if out := b.String(); !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "9 records read") {
		t.Fatalf("the ended bar: %q", out)
	}
}

// Off a terminal: plain lines, now and then and when the records are
// read; no bar, no carriage return.
func TestResyncProgressOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &resyncProgress{w: &b, every: time.Hour}
	p.update(connector.ResyncStatus{Progress: 0.1, RecordsDone: 4, RecordsTotal: 40, Platform: "one", Queued: 2})
	p.update(connector.ResyncStatus{Progress: 0.2, RecordsDone: 8, RecordsTotal: 40, Platform: "one"}) // too soon
	p.update(connector.ResyncStatus{Progress: 1, RecordsDone: 40, RecordsTotal: 40, Platform: "one", Queued: 30})
	p.end()
	want := "resync one: 4/40 records read, 2 jobs queued\nresync one: 40/40 records read, 30 jobs queued (all read)\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	if regexp.MustCompile(`[\r\x1b]`).MatchString(b.String()) {
		t.Fatal("terminal control characters off a terminal")
	}
}

// A log line written while the bar is drawn clears the bar first (it never
// starts in the middle of the bar) and the bar is drawn again under it.
func TestResyncBarAndLogs(t *testing.T) {
	var b bytes.Buffer
	p := &resyncProgress{w: &b, tty: true, every: time.Hour}
	logs := p.logs()
	p.update(connector.ResyncStatus{Progress: 0.5, RecordsDone: 20, RecordsTotal: 40, Platform: "one"})
	if _, err := logs.Write([]byte("time=now level=WARN msg=\"job moved to dead letters\"\n")); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i := strings.Index(out, "time=now")
	if before := out[strings.LastIndexAny(out[:i], "\r\n")+1 : i]; strings.TrimSpace(before) != "" {
		t.Fatalf("the log line starts after %q on the screen:\n%q", before, out)
	}
	if got := lastScreenLine(out); !strings.Contains(got, "resync one: 20/40 records read") {
		t.Fatalf("the bar is not drawn again under the log line: %q", got)
	}
	p.end()
	// Once the bar's line is ended, logs pass as they are.
	b.Reset()
	_, _ = logs.Write([]byte("after\n"))
	if b.String() != "after\n" {
		t.Fatalf("after the bar: %q", b.String())
	}
}

// The bar is drawn only when stderr is a terminal and the output is text.
func TestResyncBarOnlyOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skip("no pseudo-terminal:", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, c := range []struct {
		stderr io.Writer
		output string
		bar    bool
	}{
		{tty, "text", true},
		{tty, "json", false},
		{w, "text", false},
		{&bytes.Buffer{}, "text", false},
	} {
		g := &globals{stderr: c.stderr, output: c.output}
		if got := g.newResyncProgress().tty; got != c.bar {
			t.Errorf("stderr %T, -o %s: bar %v, want %v", c.stderr, c.output, got, c.bar)
		}
	}
}
