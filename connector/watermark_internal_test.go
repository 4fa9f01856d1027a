package connector

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
	"github.com/erpconnector/erpconnector/queue"
)

// TestWatermark: a resync copy read against an older binding version is not
// pushed over what the live path sent since; a copy read against the
// current version is.
func TestWatermark(t *testing.T) {
	ctx := context.Background()
	srv, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{"demo": "k"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	tab, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", filepath.Join(dir, "erp.db"), sqlerp.DemoTable), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: Config{StatePath: filepath.Join(dir, "state.db"),
		ONe: &ONeConfig{BaseURL: hs.URL, Tenant: "demo", APIKey: "k"}}, ERP: tab})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)

	rec := erpgen.New(erpgen.Options{Seed: 1}).Records(1)[0]
	if err := sqlerp.InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable, []erpgen.Record{rec}, time.Now()); err != nil {
		t.Fatal(err)
	}
	it, err := tab.Get(ctx, rec.Key)
	if err != nil || it.Err != nil {
		t.Fatal(err, it.Err)
	}
	cust := it.Customer
	w := mapping.ToONeWrite(cust)
	created, err := c.one.CreateClient(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	// The live path has pushed twice since: binding version 2.
	b := Binding{ERPKey: rec.Key, ID: created.ClientID, PushedHash: "sha256:live"}
	for range 2 {
		if err := c.putBinding(ctx, mapping.PlatformONe, b); err != nil {
			t.Fatal(err)
		}
	}
	stale := cust.Clone()
	stale.Name = "Stale Copy From The Resync"
	h, _ := mapping.HashONe(stale)
	srv.Faults().ResetCounts()
	// Read against version 1 (payload version 2 = seen + 1): skipped.
	if err := c.push(ctx, queue.Job{}, pushPayload{Op: opUpsert, Customer: stale, Hash: h, Version: 2}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Faults().Count("updateClient"); n != 0 {
		t.Fatalf("stale resync copy was pushed (%d updates)", n)
	}
	// Read against the current version 2 (payload version 3): pushed.
	if err := c.push(ctx, queue.Job{}, pushPayload{Op: opUpsert, Customer: stale, Hash: h, Version: 3}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Faults().Count("updateClient"); n != 1 {
		t.Fatalf("current resync copy not pushed (%d updates)", n)
	}
	if cl, _ := srv.Client("demo", created.ClientID); cl.Name != stale.Name {
		t.Fatalf("name on ONe %q", cl.Name)
	}
	_ = oneapi.EscapeID
}
