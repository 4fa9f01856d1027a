package connector

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/queue"
)

// TestReadAheadKeepsOrderAndBound: the pages come in order with their
// cursors, the reader is never more than two pages ahead of the walk, an
// error ends the walk with that error, and stopping early ends the reader.
func TestReadAheadKeepsOrderAndBound(t *testing.T) {
	ctx := context.Background()
	var reads atomic.Int64
	read := func(failAt int) func(ctx context.Context, cursor string) (int, string, bool, error) {
		return func(ctx context.Context, cursor string) (int, string, bool, error) {
			reads.Add(1)
			n, _ := strconv.Atoi(cursor)
			if n == failAt {
				return 0, "", true, errors.New("listing refused")
			}
			return n, strconv.Itoa(n + 1), n < 9, nil
		}
	}

	r := readAhead(ctx, "0", 1, read(-1))
	next, stop := r.next, r.stop
	for want := 0; want <= 9; want++ {
		if want == 3 {
			time.Sleep(50 * time.Millisecond) // a slow page: the reader may run ahead, not far
			if got := reads.Load(); got > int64(want)+2 {
				t.Fatalf("%d pages read while the walk is at page %d", got, want)
			}
		}
		got, err := next()
		if err != nil || got != want {
			t.Fatalf("page %d: got %d, %v", want, got, err)
		}
	}
	if _, err := next(); err == nil {
		t.Fatal("a page after the last")
	}
	stop()

	r = readAhead(ctx, "0", 1, read(2))
	next, stop = r.next, r.stop
	for want := 0; want < 2; want++ {
		if got, err := next(); err != nil || got != want {
			t.Fatalf("page %d: got %d, %v", want, got, err)
		}
	}
	if _, err := next(); err == nil || err.Error() != "listing refused" {
		t.Fatalf("the failed read: %v", err)
	}
	stop()

	reads.Store(0)
	r = readAhead(ctx, "0", 1, read(-1))
	next, stop = r.next, r.stop
	if _, err := next(); err != nil {
		t.Fatal(err)
	}
	stop() // the walk ends early (its commit failed): the reader stops
	n := reads.Load()
	time.Sleep(20 * time.Millisecond)
	if reads.Load() != n || n > 3 {
		t.Fatalf("the reader went on after stop: %d reads, then %d", n, reads.Load())
	}
}

// TestTakeReadyBatchesReadPages: a walk takes with the page it waited for
// the pages already read, up to resyncBatch, none past a final page, and
// the pages before a failed read with its error.
func TestTakeReadyBatchesReadPages(t *testing.T) {
	ctx := context.Background()
	read := func(last, failAt int) func(ctx context.Context, cursor string) (int, string, bool, error) {
		return func(ctx context.Context, cursor string) (int, string, bool, error) {
			n, _ := strconv.Atoi(cursor)
			if n == failAt {
				return 0, "", true, errors.New("listing refused")
			}
			return n, strconv.Itoa(n + 1), n < last, nil
		}
	}
	final := func(last int) func(int) bool { return func(n int) bool { return n == last } }
	// filled waits until the reader holds n results (pages or an error).
	filled := func(r *pageReader[int], n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(r.ch) < n; {
			if time.Now().After(deadline) {
				t.Fatalf("the reader holds %d results, want %d", len(r.ch), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	r := readAhead(ctx, "0", resyncBatch, read(9, -1))
	defer r.stop()
	var got []int
	for len(got) == 0 || got[len(got)-1] != 9 {
		first, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if first < 9-resyncBatch {
			filled(r, resyncBatch)
		}
		batch, err := takeReady(r, first, final(9))
		if err != nil {
			t.Fatal(err)
		}
		if first < 9-resyncBatch && len(batch) != resyncBatch {
			t.Fatalf("batch from page %d: %v, want %d pages", first, batch, resyncBatch)
		}
		got = append(got, batch...)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}

	r = readAhead(ctx, "0", resyncBatch, read(2, -1))
	defer r.stop()
	first, _ := r.next()
	filled(r, 2)
	if batch, err := takeReady(r, first, final(2)); err != nil || !slices.Equal(batch, []int{0, 1, 2}) {
		t.Fatalf("batch up to the final page: %v, %v", batch, err)
	}

	r = readAhead(ctx, "0", resyncBatch, read(9, 2))
	defer r.stop()
	first, _ = r.next()
	filled(r, 2) // page 1 and the failed read of page 2
	if batch, err := takeReady(r, first, final(9)); err == nil || !slices.Equal(batch, []int{0, 1}) {
		t.Fatalf("batch up to a failed read: %v, %v", batch, err)
	}
}

// TestResyncLeavesNewerBindingsToTheLivePath: an ERP page read before a
// customer's binding changed (the live path pushed a newer change while
// the page was read, or waited read ahead) queues nothing for it: what the
// page holds may be older than what the platform received. The same page
// read after the change queues the push.
func TestResyncLeavesNewerBindingsToTheLivePath(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	recs := erpgen.New(erpgen.Options{Seed: 3}).Records(4)
	if err := sqlerp.InsertDemoRecords(ctx, iw.tab.DB(), iw.tab.Dialect(), sqlerp.DemoTable, recs, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.SyncOnce(wctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	its, err := iw.tab.ListItems(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range its {
		its[i].Customer.Name += " (as an older read held it)"
	}
	for _, s := range c.sites {
		plan := func(began time.Time) int {
			var jobs []queue.Job
			var rep ResyncReport
			if err := c.state.Update(ctx, func(tx *state.Tx) error {
				var err error
				jobs, err = c.planResyncPage(ctx, tx, s, its, began, &rep)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return len(jobs)
		}
		if n := plan(before); n != 0 {
			t.Errorf("%s: %d pushes queued from a page read before the bindings changed", s.name, n)
		}
		bound := 0
		for _, it := range its {
			if _, ok, err := c.binding(ctx, s, it.Key); err != nil {
				t.Fatal(err)
			} else if ok {
				bound++
			}
		}
		if bound == 0 {
			t.Fatalf("%s: no customer bound", s.name)
		}
		if n := plan(time.Now()); n != bound {
			t.Errorf("%s: %d pushes queued from a page read after the bindings changed, want %d (the bound customers)", s.name, n, bound)
		}
	}
}

// TestListingLeavesRecordsWrittenSinceItsRead: a listing page read before
// the connector last wrote or read a record (its binding changed after the
// read began) queues no pull for it, whatever the page shows: the page may
// hold the record between its organisation's create and its farm unit's.
// The same page read after the binding changed queues the pull.
func TestListingLeavesRecordsWrittenSinceItsRead(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	for _, s := range c.sites {
		before := time.Now()
		b := state.Binding{ERPKey: "C-" + string(s.name), ID: "00000000-0000-4000-8000-0000000000" + map[bool]string{true: "01", false: "02"}[s.name == "one"],
			PushedHash: "sha256:" + strings.Repeat("a", 64), SeenHash: "sha256:" + strings.Repeat("b", 64)}
		if err := c.putBinding(ctx, s, b); err != nil {
			t.Fatal(err)
		}
		page := platform.Page{Records: []platform.Record{{Ref: platform.Ref{ID: b.ID}, Seen: "sha256:" + strings.Repeat("c", 64)}}}
		plan := func(began time.Time) int {
			var l listed
			if err := c.state.Update(ctx, func(tx *state.Tx) error {
				var err error
				l, err = planListed(tx, s, listing{Page: page, began: began}, walkOpts{lane: queue.LaneLive})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return len(l.jobs)
		}
		if n := plan(before); n != 0 {
			t.Errorf("%s: %d pulls from a page read before the binding changed", s.name, n)
		}
		if n := plan(time.Now()); n != 1 {
			t.Errorf("%s: %d pulls from a page read after the binding changed, want 1", s.name, n)
		}
	}
}

// TestReadAheadWide: with cursors that can be told ahead, pages are read
// side by side (up to width at once) and still come in order; a guess
// that turns out wrong is dropped and the page read from the cursor its
// predecessor named; a failed read past the last page is not an error;
// stopping early ends every read.
func TestReadAheadWide(t *testing.T) {
	ctx := context.Background()
	guess := func(c string) (string, bool) {
		n, err := strconv.Atoi(c)
		return strconv.Itoa(n + 1), err == nil
	}
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	var readCursors []string
	// Pages 0..9; page 4 names 6 as its next (5 is skipped); the read of
	// page 10, past the last, fails.
	read := func(ctx context.Context, cursor string) (int, string, bool, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		mu.Lock()
		readCursors = append(readCursors, cursor)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		p, _ := strconv.Atoi(cursor)
		next := p + 1
		if p == 4 {
			next = 6
		}
		if p >= 10 {
			return 0, "", false, errors.New("no such page")
		}
		return p, strconv.Itoa(next), p < 9, nil
	}
	r := readAheadWide(ctx, "0", 2, 2, guess, read)
	var got []int
	for {
		p, err := r.next()
		if err != nil {
			t.Fatalf("after pages %v: %v", got, err)
		}
		got = append(got, p)
		if p == 9 {
			break
		}
	}
	r.stop()
	if want := []int{0, 1, 2, 3, 4, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	if m := most.Load(); m != 2 {
		t.Fatalf("at most %d reads at once, want 2 (width)", m)
	}
	mu.Lock()
	if !slices.Contains(readCursors, "5") || !slices.Contains(readCursors, "10") {
		t.Fatalf("the wrong guess (5) and the read past the end (10) should have been tried: %v", readCursors)
	}
	mu.Unlock()

	// A failed read of a page the walk needs ends it with its error.
	fail := func(ctx context.Context, cursor string) (int, string, bool, error) {
		if cursor == "3" {
			return 0, "", true, errors.New("listing refused")
		}
		p, _ := strconv.Atoi(cursor)
		return p, strconv.Itoa(p + 1), true, nil
	}
	r = readAheadWide(ctx, "0", 2, 2, guess, fail)
	for want := 0; want < 3; want++ {
		if p, err := r.next(); err != nil || p != want {
			t.Fatalf("page %d: %d, %v", want, p, err)
		}
	}
	if _, err := r.next(); err == nil || err.Error() != "listing refused" {
		t.Fatalf("the failed read: %v", err)
	}
	r.stop()

	// Stopping early ends the reads in flight.
	var live atomic.Int64
	slow := func(ctx context.Context, cursor string) (int, string, bool, error) {
		live.Add(1)
		defer live.Add(-1)
		p, _ := strconv.Atoi(cursor)
		select {
		case <-ctx.Done():
			return 0, "", false, ctx.Err()
		case <-time.After(time.Duration(p) * time.Second):
		}
		return p, strconv.Itoa(p + 1), true, nil
	}
	r = readAheadWide(ctx, "0", 2, 2, guess, slow)
	if p, err := r.next(); err != nil || p != 0 {
		t.Fatalf("page 0: %d, %v", p, err)
	}
	r.stop()
	if n := live.Load(); n != 0 {
		t.Fatalf("%d reads still running after stop", n)
	}
}
