package config

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// TestDemoConfigSyncsWithReferenceServers runs the demo configuration as
// the daemon would (reference servers from its reference section, the
// seeded SQLite ERP, connector.Config from Connector) and checks that
// customers reach both platforms: the ERP receives their platform ids.
func TestDemoConfigSyncsWithReferenceServers(t *testing.T) {
	ctx := context.Background()
	f, err := LoadValid(copyDemo(t, t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Reference
	one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{r.ONeTenant: r.ONeAPIKey}, Seed: r.Seed})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	oneSrv := httptest.NewServer(one)
	defer oneSrv.Close()
	capiSrv := httptest.NewServer(customerapitest.NewServer(customerapitest.Options{
		Users: map[string]string{r.CustomerUser: r.CustomerPassword}, Seed: r.Seed}))
	defer capiSrv.Close()
	f.SetReferenceURLs(oneSrv.URL, capiSrv.URL)
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}

	a, err := f.OpenERP(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.(erp.Closer).Close()
	if n, err := f.SeedDemo(ctx, a); err != nil || n != f.Demo.SeedCustomers {
		t.Fatalf("seed = %d, %v", n, err)
	}
	c, err := connector.New(connector.Options{Config: f.Connector(), ERP: a})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.Stop(sctx); err != nil {
			t.Error(err)
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for range 2 { // the second pass writes back what the first created
		if err := c.SyncOnce(wctx); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitIdle(wctx); err != nil {
			t.Fatal(err)
		}
	}
	db := a.(*sqlerp.Table).DB()
	var onIDs, capiIDs int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(one_client_id), COUNT(customer_api_id) FROM erp_customers`).Scan(&onIDs, &capiIDs); err != nil {
		t.Fatal(err)
	}
	if onIDs == 0 || capiIDs == 0 {
		t.Fatalf("customers with a ONe id: %d, with a Customer API id: %d; want both > 0", onIDs, capiIDs)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Queue.Dead == 0 {
		t.Fatal("demo.invalid_every planted defects, but no dead letters")
	}
	t.Logf("ONe ids %d, Customer API ids %d, dead letters %d", onIDs, capiIDs, st.Queue.Dead)
}
