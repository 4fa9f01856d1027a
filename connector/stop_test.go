package connector_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/fault"
)

// stallingERP serves the first pages of ERP changes, then stalls the next
// read for a minute (or until its context ends), as an ERP scan does that
// waits on a slow ERP or for queue room.
type stallingERP struct {
	*countingERP
	pages    int32 // pages served before stalling
	calls    atomic.Int32
	stalled  chan struct{} // closed when a read stalls
	released chan error    // how the stalled read ended
}

// ChangesKnown is hidden: the scans read through Changes.
func (*stallingERP) ChangesKnown() {}

func (s *stallingERP) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	if s.calls.Add(1) <= s.pages {
		return s.countingERP.Changes(ctx, cursor, limit)
	}
	close(s.stalled)
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-ctx.Done():
		s.released <- ctx.Err()
		return erp.Page{}, ctx.Err()
	case <-t.C:
		s.released <- errors.New("stalled for a minute")
		return erp.Page{}, errors.New("stalled for a minute")
	}
}

// TestStopUnderBacklog: SIGTERM under a backlog. An ERP scan is stalled
// mid-walk (for a minute), a feed poll hangs on a slow ONe, and every create
// takes five seconds; Stop, with a generous context, cancels the scan and
// the poll at once, cuts the deliveries at its budget, and returns long
// before any of them would have ended. A restart delivers everything: each
// valid customer ends on ONe exactly once, written back.
func TestStopUnderBacklog(t *testing.T) {
	w := oneHarness.world(t, worldOpts{records: 150, noStart: true, configure: func(c *connector.Config) {
		c.ONe.Upstream = connector.Upstream{Workers: 4}
		c.Schedules = connector.Schedules{Feed: "* * * * * *"} // a poll every second; nothing else scheduled
	}})
	stall := &stallingERP{countingERP: w.erp, pages: 4, stalled: make(chan struct{}), released: make(chan error, 1)}
	w.erpOverride = stall
	// Each create answers after 5 s, and then with a 503 without creating
	// anything: the reference server notices a client that gave up on a
	// request only once it reads the body, and a create committed after the
	// connector gave up would be a duplicate the test did not cause.
	const createTakes = 5 * time.Second
	slowCreate, err := w.one.Faults().Add(fault.Rule{Operation: oneHarness.createOp, Latency: fault.Duration(createTakes),
		Status: http.StatusServiceUnavailable})
	if err != nil {
		t.Fatal(err)
	}
	slowFeed, err := w.one.Faults().Add(fault.Rule{Operation: "getClientSyncFeed", Latency: fault.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	synced := make(chan error, 1)
	go func() { synced <- w.conn.SyncOnce(context.Background()) }()
	select {
	case <-stall.stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("the scan did not reach its stalled page")
	}
	// The backlog is queued and deliveries are in flight; let the feed
	// schedule fire a poll that hangs too.
	time.Sleep(1500 * time.Millisecond)
	st, err := w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Queue.Leased == 0 || st.Queue.Ready == 0 {
		t.Fatalf("no backlog with deliveries in flight: %+v", st.Queue)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := time.Now()
	if err := w.conn.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	took := time.Since(begin)
	t.Logf("Stop took %s with %d jobs ready and %d in flight", took.Round(time.Millisecond), st.Queue.Ready, st.Queue.Leased)
	select {
	case err := <-stall.released:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the stalled scan ended by %v, not by the stop", err)
		}
	default:
		t.Fatal("Stop returned while the stalled scan was still running")
	}
	select {
	case err := <-synced:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("SyncOnce ended with %v, want a cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SyncOnce did not return after Stop")
	}
	// Behaviour, not speed: the stop did not wait for the slow creates, the
	// minute-long feed poll or the minute-long scan.
	if took >= createTakes {
		t.Fatalf("Stop took %s: it waited for the slow deliveries or the stalled readers", took)
	}

	// Restart on a well-behaved ONe and ERP: everything arrives, once.
	w.one.Faults().Remove(slowCreate)
	w.one.Faults().Remove(slowFeed)
	w.erpOverride = nil
	restart := time.Now()
	w.start()
	w.sync()
	t.Logf("the restart delivered the rest in %s", time.Since(restart).Round(time.Millisecond))
	exactlyOnce(t, w, oneHarness)
	if dead := deadLetters(t, w, oneHarness); len(dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}
}
