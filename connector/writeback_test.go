package connector_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
)

// downERP is an ERP whose batched write-backs fail while down is set.
type downERP struct {
	*countingERP
	down    atomic.Bool
	batches atomic.Int64
}

func (d *downERP) SetPlatformIDs(ctx context.Context, ids []erp.PlatformID) ([]error, error) {
	d.batches.Add(1)
	if d.down.Load() {
		return nil, apierr.At(erp.System, apierr.Temporarily(errors.New("erp: database unavailable")))
	}
	return d.countingERP.Adapter.(erp.PlatformIDWriter).SetPlatformIDs(ctx, ids)
}

// TestWriteBacksSurviveAnERPOutageAndARestart: while the ERP refuses the
// write-backs, the customers are still created once on ONe, the connector
// is not idle (ids are pending), a stop keeps them in the state file, and
// the next start writes every id back in batches without touching ONe.
func TestWriteBacksSurviveAnERPOutageAndARestart(t *testing.T) {
	w := newWorld(t, worldOpts{records: 60, noStart: true})
	n := 0
	for _, r := range w.recs {
		if r.SyncONe {
			n++
		}
	}
	d := &downERP{countingERP: w.erp}
	d.down.Store(true)
	w.erpOverride = d
	w.start()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.conn.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Every client created, yet ids wait for the ERP.
	deadline := time.Now().Add(30 * time.Second)
	for w.one.ClientCount(tenant) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.one.ClientCount(tenant); got != n {
		s, _ := w.conn.Status(ctx)
		t.Fatalf("ONe holds %d clients, want %d; status %s\nlogs:\n%s", got, n, statusStrings(s)[0], tailString(w.logs.String(), 3000))
	}
	var st struct{ pending int }
	for time.Now().Before(deadline) {
		s, err := w.conn.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.pending = s.WriteBacksPending; st.pending == n && s.Queue.Total() == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.pending != n {
		t.Fatalf("pending write-backs %d, want %d", st.pending, n)
	}
	if idle, err := w.conn.Idle(ctx); err != nil || idle {
		t.Fatalf("Idle = %v, %v with write-backs pending", idle, err)
	}
	for _, r := range w.recs {
		if id := w.get(r.Key).Customer.PlatformIDs.ONe; r.SyncONe && id != "" {
			t.Fatalf("%s has ONe id %q while the ERP was down", r.Key, id)
		}
	}
	w.stop()

	writes := w.writes()
	d.down.Store(false)
	w.start()
	w.idle()
	for _, r := range w.recs {
		if id := w.get(r.Key).Customer.PlatformIDs.ONe; r.SyncONe && id == "" {
			t.Fatalf("%s has no ONe id after the restart", r.Key)
		}
	}
	if got := w.writes(); got != writes {
		t.Fatalf("the restart wrote %d times to ONe, want 0", got-writes)
	}
	if got := w.one.ClientCount(tenant); got != n {
		t.Fatalf("ONe holds %d clients after the restart, want %d", got, n)
	}
	// Batched: far fewer ERP transactions than ids.
	if b := d.batches.Load(); b > int64(n/4+10) {
		t.Errorf("%d write-back batches for %d ids", b, n)
	}
	// The breaker never opened over the ERP's failures.
	s, err := w.conn.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Breakers["one"] != "closed" || s.WriteBacksPending != 0 {
		t.Fatalf("breaker %q, pending %d", s.Breakers["one"], s.WriteBacksPending)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
