package connector_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/mapping"
)

// stuckERP returns the same page for ever: its cursor never advances.
type stuckERP struct {
	*countingERP
	calls atomic.Int64
}

// ChangesKnown is hidden: the scans read through Changes.
func (*stuckERP) ChangesKnown() {}

func (s *stuckERP) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	s.calls.Add(1)
	p, err := s.countingERP.Changes(ctx, "", limit)
	p.Cursor, p.More = cursor, true
	return p, err
}

// An ERP whose change cursor does not move is an error naming the cursor,
// never a scan that reads the same page for ever.
func TestScanCursorThatDoesNotAdvance(t *testing.T) {
	w := newWorld(t, worldOpts{records: 8, noStart: true, platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI}})
	stuck := &stuckERP{countingERP: w.erp}
	w.erpOverride = stuck
	w.start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := w.conn.SyncOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not advance") || ctx.Err() != nil {
		t.Fatalf("sync over a stuck cursor: %v (ctx %v)", err, ctx.Err())
	}
	if n := stuck.calls.Load(); n > 4 { // each of the two scans reads its first page twice at most
		t.Fatalf("the stuck page was read %d times", n)
	}
}
