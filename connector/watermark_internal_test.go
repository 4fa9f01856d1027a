package connector

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
	"github.com/erpconnector/erpconnector/queue"
)

// internalWorld is a connector for both platforms over the SQLite demo ERP,
// with both reference servers in-process, for tests of the engine's insides.
type internalWorld struct {
	c    *Connector
	tab  *sqlerp.Table
	one  *oneapitest.Server
	capi *customerapitest.Server
	conf Config
}

func newInternalWorld(t *testing.T, configure ...func(*Config)) *internalWorld {
	t.Helper()
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{"demo": "k"}})
	if err != nil {
		t.Fatal(err)
	}
	hsOne := httptest.NewServer(one)
	t.Cleanup(hsOne.Close)
	capi := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{"c@example.co.uk": "Passw0rd!x"}})
	hsCAPI := httptest.NewServer(capi)
	t.Cleanup(hsCAPI.Close)
	dir := t.TempDir()
	tab := openDemoERP(t, filepath.Join(dir, "erp.db"), true)
	conf := Config{StatePath: filepath.Join(dir, "state.db"),
		ONe:         &ONeConfig{BaseURL: hsOne.URL, Tenant: "demo", APIKey: "k"},
		CustomerAPI: &CustomerAPIConfig{BaseURL: hsCAPI.URL, Username: "c@example.co.uk", Password: "Passw0rd!x"}}
	for _, f := range configure {
		f(&conf)
	}
	c, err := New(Options{Config: conf, ERP: tab})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return &internalWorld{c: c, tab: tab, one: one, capi: capi, conf: conf}
}

// openDemoERP opens a SQLite demo ERP table at path, created empty;
// unflagged, the table's reads include unflagged customers.
func openDemoERP(t *testing.T, path string, unflagged bool) *sqlerp.Table {
	t.Helper()
	ctx := context.Background()
	cfg := sqlerp.DemoConfig("sqlite", path, sqlerp.DemoTable)
	cfg.IncludeUnflagged = unflagged
	tab, err := sqlerp.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tab.Close() })
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		t.Fatal(err)
	}
	return tab
}

// start puts n generated customers (each with its own owner e-mail) into
// the ERP and starts the connector; it returns the customers.
func (iw *internalWorld) start(t *testing.T, seed uint64, n int) []erpgen.Record {
	t.Helper()
	ctx := context.Background()
	recs := erpgen.New(erpgen.Options{Seed: seed}).Records(n)
	for i := range recs {
		recs[i].Set("admin_email", strings.ToLower(recs[i].Key)+"@owners.example.co.uk")
	}
	if err := sqlerp.InsertDemoRecords(ctx, iw.tab.DB(), iw.tab.Dialect(), sqlerp.DemoTable, recs, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := iw.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return recs
}

// settle runs run (a sync, a resync) and waits until the queue is idle.
func (iw *internalWorld) settle(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := iw.c.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWatermark: on every platform, a resync copy read against an older
// binding version is not pushed over what the live path sent since; a copy
// read against the current version is.
func TestWatermark(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c, tab, one, capi := iw.c, iw.tab, iw.one, iw.capi
	for _, tc := range []struct {
		platform mapping.Platform
		faults   *fault.Injector
		update   string
		// a record of the generator flagged for the platform
		pick func(erpgen.Record) bool
	}{
		{mapping.PlatformONe, one.Faults(), "updateClient", func(r erpgen.Record) bool { return r.SyncONe }},
		{mapping.PlatformCustomerAPI, capi.Faults(), "updateOrganisation", func(r erpgen.Record) bool { return r.SyncCustomerAPI }},
	} {
		t.Run(string(tc.platform), func(t *testing.T) {
			var rec erpgen.Record
			for _, r := range erpgen.New(erpgen.Options{Seed: 1}).Records(20) {
				if tc.pick(r) {
					rec = r
					break
				}
			}
			rec.Set("admin_email", "owner-"+string(tc.platform)+"@example.co.uk")
			if err := sqlerp.InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable, []erpgen.Record{rec}, time.Now()); err != nil {
				t.Fatal(err)
			}
			it, err := tab.Get(ctx, rec.Key)
			if err != nil || it.Err != nil {
				t.Fatal(err, it.Err)
			}
			cust := it.Customer
			s := c.site(tc.platform)
			wr, err := s.p.Create(ctx, cust, "")
			if err != nil {
				t.Fatal(err)
			}
			ref := wr.Ref
			// The live path has pushed twice since: binding version 2.
			b := state.Binding{ERPKey: rec.Key, ID: ref.ID, Extra: ref.Extra, PushedHash: "p:live"}
			for range 2 {
				if err := c.putBinding(ctx, s, b); err != nil {
					t.Fatal(err)
				}
			}
			stale := cust.Clone()
			stale.Name = "Stale Copy From The Resync"
			h, err := s.p.Digest(stale)
			if err != nil {
				t.Fatal(err)
			}
			tc.faults.ResetCounts()
			// Read against version 1 (payload version 2 = seen + 1): skipped.
			if err := c.push(ctx, s, queue.Job{}, pushPayload{Op: opUpsert, Customer: stale, Hash: string(h), Version: 2}); err != nil {
				t.Fatal(err)
			}
			if n := tc.faults.Count(tc.update); n != 0 {
				t.Fatalf("stale resync copy was pushed (%d updates)", n)
			}
			// Read against the current version 2 (payload version 3): pushed.
			if err := c.push(ctx, s, queue.Job{}, pushPayload{Op: opUpsert, Customer: stale, Hash: string(h), Version: 3}); err != nil {
				t.Fatal(err)
			}
			if n := tc.faults.Count(tc.update); n != 1 {
				t.Fatalf("current resync copy not pushed (%d updates)", n)
			}
			rec2, err := s.p.Fetch(ctx, ref)
			if err != nil || rec2.Customer.Name != stale.Name {
				t.Fatalf("name on the platform %q, %v", rec2.Customer.Name, err)
			}
		})
	}
}
