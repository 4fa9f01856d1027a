package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
	"github.com/erpconnector/erpconnector/mapping"
)

// batchingERP is the SQLite demo ERP, recording the size of each batch of
// writes; hold, while set, keeps a batch from starting until it is closed,
// and failNext fails that many batches as a whole.
type batchingERP struct {
	*sqlerp.Table
	mu       sync.Mutex
	sizes    []int
	hold     chan struct{}
	failNext int
	parallel bool // writers run side by side, as on PostgreSQL
	// panicNext makes the next batch panic.
	panicNext bool
	logged    syncbuf.Buffer
}

func (b *batchingERP) UpsertBatch(ctx context.Context, cs []mapping.Customer) ([]erp.Upserted, error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(cs))
	hold := b.hold
	b.hold = nil
	fail := b.failNext > 0
	if fail {
		b.failNext--
	}
	boom := b.panicNext
	b.panicNext = false
	b.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if boom {
		panic("adapter bug")
	}
	if fail {
		return nil, errors.New("the batch's transaction failed")
	}
	return b.Table.UpsertBatch(ctx, cs)
}

func (b *batchingERP) SerialWrites() bool { return !b.parallel }

func (b *batchingERP) batches() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

// newBatchingConnector is a connector (only its ERP writes are used) over
// a batchingERP.
func newBatchingConnector(t *testing.T) (*Connector, *batchingERP) {
	t.Helper()
	b := &batchingERP{Table: openDemoERP(t, filepath.Join(t.TempDir(), "erp.db"), false)}
	log := slog.New(slog.NewTextHandler(&b.logged, nil))
	return &Connector{erp: b, upserts: &upsertGroup{w: b, log: log}, log: log}, b
}

// fromPlatform is a customer that came from ONe record id.
func fromPlatform(id string) mapping.Customer {
	return mapping.Customer{Type: mapping.Company, Name: "Firma " + id, TIN: "1234567890", Flags: mapping.Flags{ONe: true},
		PlatformIDs: mapping.PlatformIDs{ONe: id}}
}

// queued waits until n writers wait in the group's queue.
func queued(t *testing.T, g *upsertGroup, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		got := len(g.queue)
		g.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers queued, want %d", got, n)
		}
	}
}

// started waits until n batches have started.
func started(t *testing.T, b *batchingERP, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(b.batches()) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches started, want %d", len(b.batches()), n)
		}
	}
}

type written struct {
	key string
	it  erp.Item
	err error
}

// writeAll writes ids concurrently through c.writeERP, under ctxs[id]
// where set.
func writeAll(c *Connector, ids []string, ctxs map[string]context.Context) map[string]written {
	var mu sync.Mutex
	out := map[string]written{}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			ctx := ctxs[id]
			if ctx == nil {
				ctx = context.Background()
			}
			cust := fromPlatform(id)
			if id == "invalid" {
				cust.Type = "partnership"
			}
			k, it, err := c.writeERP(ctx, cust)
			mu.Lock()
			out[id] = written{k, it, err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// TestERPWritesGroupCommit: the ERP writes of deliveries running together
// go in one batch once the running one ends, each writer gets its own key
// and read-back, and a customer the ERP refuses fails alone.
func TestERPWritesGroupCommit(t *testing.T) {
	c, b := newBatchingConnector(t)
	release := make(chan struct{})
	b.hold = release
	first := make(chan written)
	go func() {
		k, it, err := c.writeERP(context.Background(), fromPlatform("first"))
		first <- written{k, it, err}
	}()
	started(t, b, 1) // the first one leads at once; its batch is held
	ids := []string{"invalid"}
	for i := range 9 {
		ids = append(ids, fmt.Sprintf("c%d", i))
	}
	done := make(chan map[string]written)
	go func() { done <- writeAll(c, ids, nil) }()
	queued(t, c.upserts, len(ids))
	close(release)
	if w := <-first; w.err != nil || w.key != "ONE-first" || w.it.Customer.Name != "Firma first" {
		t.Errorf("first write: %q %q %v", w.key, w.it.Customer.Name, w.err)
	}
	got := <-done
	if sizes := b.batches(); len(sizes) != 2 || sizes[0] != 1 || sizes[1] != len(ids) {
		t.Errorf("batches %v, want [1 %d]: the writers that came while the first ran go together", sizes, len(ids))
	}
	var ve *mapping.ValidationError
	if w := got["invalid"]; !errors.As(w.err, &ve) {
		t.Errorf("invalid customer: %v, want its validation error", w.err)
	}
	for _, id := range ids[1:] {
		if w := got[id]; w.err != nil || w.key != "ONE-"+id || w.it.Customer.Name != "Firma "+id {
			t.Errorf("%s: %q %q %v, want its own key and read-back", id, w.key, w.it.Customer.Name, w.err)
		}
	}
}

// TestERPWritesBatchFailure: when a batch fails as a whole, each of its
// writers writes alone, every customer is written, and the failure is
// logged.
func TestERPWritesBatchFailure(t *testing.T) {
	c, b := newBatchingConnector(t)
	b.failNext = 100
	got := writeAll(c, []string{"a", "b", "c", "d"}, nil)
	if !strings.Contains(b.logged.String(), "level=WARN msg=\"a batch of ERP writes failed as a whole") {
		t.Errorf("the batch's failure was not logged: %q", b.logged.String())
	}
	for id, w := range got {
		if w.err != nil || w.key != "ONE-"+id {
			t.Errorf("%s: %q %v, want written one at a time", id, w.key, w.err)
			continue
		}
		if it, err := b.Get(context.Background(), w.key); err != nil || it.Customer.Name != "Firma "+id {
			t.Errorf("%s in the ERP: %+v %v", id, it.Customer, err)
		}
	}
}

// TestERPWritesWithdraw: a writer that gives up while queued leaves the
// queue and the others' batch goes on; one given the lead as it gives up
// passes the lead on.
func TestERPWritesWithdraw(t *testing.T) {
	c, b := newBatchingConnector(t)
	release := make(chan struct{})
	b.hold = release
	go func() { _, _, _ = c.writeERP(context.Background(), fromPlatform("first")) }()
	started(t, b, 1)
	quit, cancel := context.WithCancel(context.Background())
	done := make(chan map[string]written)
	go func() {
		done <- writeAll(c, []string{"quitter", "x", "y"}, map[string]context.Context{"quitter": quit})
	}()
	queued(t, c.upserts, 3)
	cancel()
	queued(t, c.upserts, 2)
	close(release)
	got := <-done
	if w := got["quitter"]; !errors.Is(w.err, context.Canceled) {
		t.Errorf("writer that gave up: %v, want its context's error", w.err)
	}
	if _, err := b.Get(context.Background(), "ONE-quitter"); !errors.Is(err, erp.ErrNotFound) {
		t.Errorf("withdrawn write: %v, want nothing written", err)
	}
	for _, id := range []string{"x", "y"} {
		if w := got[id]; w.err != nil || w.key != "ONE-"+id {
			t.Errorf("%s: %q %v", id, w.key, w.err)
		}
	}
	if sizes := b.batches(); len(sizes) != 2 || sizes[1] != 2 {
		t.Errorf("batches %v, want [1 2]", sizes)
	}

	// The lead handed to a writer as it gives up goes to the next one.
	g := &upsertGroup{w: b, busy: true}
	leader := &upsertCall{lead: make(chan struct{}), done: make(chan struct{}), leading: true}
	close(leader.lead)
	next := &upsertCall{lead: make(chan struct{}), done: make(chan struct{})}
	g.queue = []*upsertCall{leader, next}
	g.withdraw(leader)
	select {
	case <-next.lead:
	default:
		t.Fatal("the lead given up was not passed on")
	}
	if !next.leading || !g.busy || len(g.queue) != 1 {
		t.Errorf("after the leader gave up: next leading %v, busy %v, queue %d", next.leading, g.busy, len(g.queue))
	}
	g.withdraw(next)
	if g.busy || len(g.queue) != 0 {
		t.Errorf("the last writer gave up: busy %v, queue %d, want the group idle", g.busy, len(g.queue))
	}
}

// TestERPWritesGroupedOnlyWhereSerial: a connector groups the ERP writes
// only of an ERP that takes one writer at a time (SQLite); where writers
// run side by side (PostgreSQL) each writes on its own, as grouping them
// would make them wait for each other.
func TestERPWritesGroupedOnlyWhereSerial(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprintf("parallel=%v", parallel), func(t *testing.T) {
			dir := t.TempDir()
			b := &batchingERP{Table: openDemoERP(t, filepath.Join(dir, "erp.db"), false), parallel: parallel}
			c, err := New(Options{ERP: b, Config: Config{StatePath: filepath.Join(dir, "state.db"),
				ONe: &ONeConfig{BaseURL: "http://127.0.0.1:1", Tenant: "demo", APIKey: "k"}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Stop(context.Background()) })
			ids := []string{"a", "b", "c", "d", "e", "f"}
			for id, w := range writeAll(c, ids, nil) {
				if w.err != nil || w.key != "ONE-"+id {
					t.Errorf("%s: %q %v", id, w.key, w.err)
				}
			}
			if n := len(b.batches()); parallel != (n == 0) {
				t.Errorf("%d batches with writers side by side %v", n, parallel)
			}
		})
	}
}

// TestERPWritesBatchPanic: a batch whose write panics (an adapter bug)
// fails its leader's delivery only; the other writers of the batch write
// alone, and the group goes on leading batches after it.
func TestERPWritesBatchPanic(t *testing.T) {
	c, b := newBatchingConnector(t)
	release := make(chan struct{})
	b.hold, b.panicNext = release, true
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _, _ = c.writeERP(context.Background(), fromPlatform("leader"))
	}()
	started(t, b, 1)
	done := make(chan map[string]written)
	go func() { done <- writeAll(c, []string{"x", "y"}, nil) }()
	queued(t, c.upserts, 2)
	close(release)
	if r := <-panicked; r == nil {
		t.Error("the leader's panic was not passed on to its delivery")
	}
	var got map[string]written
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the other writers of the batch that panicked were never answered")
	}
	for id, w := range got {
		if w.err != nil || w.key != "ONE-"+id {
			t.Errorf("%s: %q %v", id, w.key, w.err)
		}
	}
	b.mu.Lock()
	b.panicNext = true // the next batch: a lone writer's, which panics
	b.mu.Unlock()
	func() {
		defer func() { _ = recover() }()
		_, _, _ = c.writeERP(context.Background(), fromPlatform("again"))
	}()
	got = writeAll(c, []string{"after"}, nil)
	if w := got["after"]; w.err != nil || w.key != "ONE-after" {
		t.Errorf("a write after the panics: %q %v, want the group still leading batches", w.key, w.err)
	}
	if n := len(b.batches()); n < 4 {
		t.Errorf("%d batches, want the group to have gone on batching after the panics", n)
	}
}
