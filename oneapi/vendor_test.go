package oneapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// TestVendorExamples sends every example request of the vendor's Client page
// verbatim and checks the server accepts it, applies it, and answers within
// the contract.
func TestVendorExamples(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	base := oneapitest.BasePath + "/clients"

	status, _, body := e.raw(t, http.MethodPost, base, vendorBody(t, "create.json"), nil)
	if status != http.StatusOK {
		t.Fatalf("create example: status %d: %s", status, body)
	}
	var created oneapi.CreateClientResponse
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.ExternalClientID != "4423422" || created.ExternalAddressID != "2833" || created.UserID == "" {
		t.Fatalf("create answer = %+v", created)
	}
	id := created.ClientID
	if len(id) != 40 || id[:4] != "org:" {
		t.Fatalf("company client id = %q, want org:<uuid>", id)
	}
	esc := oneapi.EscapeID(id)

	// The documented GET calls, with the path encoded as in the examples.
	for _, p := range []string{"", "/additional-data", "/first-user"} {
		if st, _, b := e.raw(t, http.MethodGet, base+"/"+esc+p, "", nil); st != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, st, b)
		}
	}
	if st, _, b := e.raw(t, http.MethodGet, base+"?pageNumber=1&pageSize=1", "", nil); st != http.StatusOK {
		t.Fatalf("list: %d %s", st, b)
	}

	steps := []struct{ path, file string }{
		{"", "update.json"},
		{"/additional-data", "additional-data.json"},
		{"/advanced-data", "advanced-data.json"},
		{"/basic-data", "basic-data.json"},
		{"/finance-data", "finance-data.json"},
	}
	for _, s := range steps {
		// The page took the billing address id and payer id from other
		// examples; use the ones this server assigned.
		b := vendorBody(t, s.file,
			"5fa415d9-9412-4faa-b924-3f586471a2b4", created.AddressID,
			"org:e3b01ee6-89b8-47bf-aa39-1f4910ddbe02", id)
		st, _, rb := e.raw(t, http.MethodPut, base+"/"+esc+s.path, b, nil)
		if st != http.StatusOK {
			t.Fatalf("PUT %s example: status %d: %s", s.file, st, rb)
		}
	}

	got, err := e.api.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Every example left its mark on the read model.
	checks := []struct {
		name string
		ok   bool
	}{
		{"full PUT changed invoiceEmail", got.InvoiceEmail == "fv@b2b.one"},
		{"full PUT kept customerType", got.CustomerType == oneapi.CustomerCompany},
		{"additional-data replaced regon", got.AdditionalFields["regon"].Value == "1234566789"},
		{"advanced-data set warehouses", slices.Equal(got.AdditionalWarehousesIDs, []string{"VIL1"})},
		{"basic-data set billing address", got.BillingAddress.Name == "Oddział Gdański" && got.BillingAddress.City == "Wrocław "},
		{"basic-data set tin", got.Tin == "11111111"},
		{"basic-data set payer", got.PayerID == id},
		{"basic-data set currency", got.Currency != nil && *got.Currency == "PLN"},
		{"finance-data set term", got.TermPaymentID == "28"},
		{"finance-data set blockade", got.AccountBlockade != nil && got.AccountBlockade.ID == oneapitest.VendorBlockadeID},
		{"first user from admin", got.FirstUser != nil && got.FirstUser.Email == "admin@b2b.one"},
		{"segments from write", got.Segments != nil && got.Segments.MainSegmentID == "ab9e32db-48a1-47b3-9fda-975b9ed8a9d6" &&
			got.Segments.ExternalSegmentID != nil && *got.Segments.ExternalSegmentID == "Hurt"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: read model %+v", c.name, got)
		}
	}
	if v, ok := e.srv.TradeCredit(tenantA, id); !ok || v != 10000 {
		t.Errorf("trade credit = %v, %v; want 10000", v, ok)
	}
	if n := e.srv.InternalNickname(tenantA, id); n != "Szklarz" {
		t.Errorf("internal nickname = %q", n)
	}
	e.noProblems(t)
	seen := e.v.Seen()
	for _, op := range []string{"createClient", "getClient", "getClientAdditionalData", "getClientFirstUser", "listClients",
		"updateClient", "updateClientAdditionalData", "updateClientAdvancedData", "updateClientBasicData", "updateClientFinanceData"} {
		if seen[op] == 0 {
			t.Errorf("operation %s was not validated", op)
		}
	}
}

// TestContractRequestsAccepted checks the contract's own request examples
// (which differ from the vendor page only where the page is wrong) are accepted.
func TestContractRequestsAccepted(t *testing.T) {
	e := newEnv(t, true)
	doc := e.v.Doc()
	op := doc.Paths.Find(oneapitest.BasePath + "/clients").Post
	ex := op.RequestBody.Value.Content.Get("application/json").Example
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	st, _, body := e.raw(t, http.MethodPost, oneapitest.BasePath+"/clients", string(b), nil)
	if st != http.StatusOK {
		t.Fatalf("contract create example: %d %s", st, body)
	}
	e.noProblems(t)
}
