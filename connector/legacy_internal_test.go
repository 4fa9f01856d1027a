package connector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
)

// TestBindingsOfEarlierVersions: bindings written by an earlier version
// hold a whole-payload hash instead of a digest. After an upgrade a scan
// and a resync send nothing for the customers whose hash still matches,
// and send the one whose hash does not.
func TestBindingsOfEarlierVersions(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	recs := iw.start(t, 4, 12)
	sync := func() {
		t.Helper()
		iw.settle(t, c.SyncOnce)
	}
	sync()
	sync()

	// Rewrite every binding as an earlier version stored it: the whole
	// hash of what was last pushed; one of them stale.
	stale := map[mapping.Platform]string{}
	for _, s := range c.sites {
		err := c.state.Update(ctx, func(tx *state.Tx) error {
			var bs []state.Binding
			if err := tx.EachBinding(s.name, "", func(b state.Binding) (bool, error) {
				bs = append(bs, b)
				return true, nil
			}); err != nil {
				return err
			}
			for i, b := range bs {
				it, err := c.erp.Get(ctx, b.ERPKey)
				if err != nil {
					return err
				}
				if b.PushedHash, err = s.legacyHash(it.Customer); err != nil {
					return err
				}
				if i == 0 {
					b.PushedHash, stale[s.name] = mapping.HashPrefix+strings.Repeat("0", 64), b.ERPKey
				}
				if _, err := tx.PutBinding(s.name, b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	iw.one.Faults().ResetCounts()
	iw.capi.Faults().ResetCounts()
	// Every ERP customer touched (the same content): the scans compare them
	// all with their bindings; then a resync compares everything again.
	if err := sqlerp.InsertDemoRecords(ctx, iw.tab.DB(), iw.tab.Dialect(), sqlerp.DemoTable, recs, time.Now()); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	sync()
	one, capi := iw.one.Faults().Counts(), iw.capi.Faults().Counts()
	if n := one["updateClient"].Total; n != 1 {
		t.Errorf("ONe: %d client updates after the upgrade, want 1 (the stale binding %s)", n, stale[mapping.PlatformONe])
	}
	if n := capi["updateOrganisation"].Total; n != 1 {
		t.Errorf("Customer API: %d organisation updates after the upgrade, want 1 (the stale binding %s)", n, stale[mapping.PlatformCustomerAPI])
	}
	if n := one["createClient"].Total + capi["createOrganisation"].Total; n != 0 {
		t.Errorf("%d creates after the upgrade", n)
	}
}
