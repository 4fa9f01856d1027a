package connector_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
)

// TestSetERPCursor: an ERP cursor set by hand, directly or through the
// admin API, is checked and converted by the adapter: a plain timestamp
// becomes the adapter's cursor (the API answers with what was stored); a
// malformed one is refused and leaves the cursor as it was.
func TestSetERPCursor(t *testing.T) {
	w := newWorld(t, worldOpts{records: 3, noStart: true})
	c, err := connector.New(connector.Options{Config: w.cfg, ERP: w.tab, Logger: w.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	const token = "admin-token-0123456789"
	hs := httptest.NewServer(c.AdminHandler(connector.AdminOptions{Token: token}))
	defer hs.Close()

	if err := c.SetCursor(ctx, "erp.new", "2026-12-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Cursor(ctx, "erp.new"); v != "u|1796083199.999999" {
		t.Fatalf("erp.new is %q", v)
	}
	st, body := adminCall(t, hs.URL, "PUT", "/api/v1/cursors/erp.updates", token, `{"value":"2026-12-01T01:00:00+01:00"}`)
	if st != 200 || !strings.Contains(body, `"erp.updates": "u|1796083199.999999"`) {
		t.Fatalf("admin set: %d %s", st, body)
	}
	st, body = adminCall(t, hs.URL, "PUT", "/api/v1/cursors/erp.updates", token, `{"value":"t|2026-12-01|K"}`)
	if st != 400 || !strings.Contains(body, "want an RFC 3339 timestamp") {
		t.Fatalf("malformed cursor: %d %s", st, body)
	}
	if err := c.SetCursor(ctx, "erp.new", "last tuesday"); err == nil || !strings.Contains(err.Error(), "connector: cursor erp.new: ") {
		t.Fatalf("malformed cursor: %v", err)
	}
	if v, _ := c.Cursor(ctx, "erp.updates"); v != "u|1796083199.999999" {
		t.Fatalf("a refused cursor changed erp.updates to %q", v)
	}
}
