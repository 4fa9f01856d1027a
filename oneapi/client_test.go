package oneapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/oneapi"
)

// TestClientRoundTrip drives every operation through the typed client.
func TestClientRoundTrip(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()

	w := company("ERP-1")
	w.Admin = &oneapi.Admin{Email: "boss@firma.pl", Name: "Szef", Phone: "+48 600 000 000"}
	w.Invoice = &oneapi.Invoice{Email: "fv@firma.pl", AdditionalEmails: []string{"ksiegowosc@firma.pl"}}
	yes := true
	w.InvoiceAgreement = &yes
	w.IsTaxPayer = &yes
	w.Currency = "PLN"
	w.ClientStatus = oneapi.StatusClient
	w.ClientTaxType = oneapi.TaxCountry
	w.AccountType = []oneapi.AccountType{oneapi.AccountClient}
	w.AdditionalFields = map[string]oneapi.AdditionalField{
		"regon": {Name: "regon", Label: "Regon", Value: "999999999"},
		"vip":   {Name: "vip", Label: "VIP", Value: true},
		"score": {Name: "score", Value: 4.5},
	}
	created, err := e.api.CreateClient(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if created.UserID == "" || created.AddressID == "" || created.ExternalClientID != "ERP-1" || created.ExternalAddressID != "A-ERP-1" {
		t.Fatalf("create answer %+v", created)
	}
	id := created.ClientID

	got, err := e.api.GetClient(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExternalID != "ERP-1" || got.InvoiceEmail != "fv@firma.pl" || got.AdditionalInvoiceEmails[0] != "ksiegowosc@firma.pl" ||
		got.BillingAddress.ID != created.AddressID || got.BillingAddress.Type != "BILLING" || got.BillingAddress.Street != "Międzyleska 4" ||
		got.FirstUser == nil || got.FirstUser.ID != created.UserID || !got.IsTaxPayer || !got.InvoiceAgreement ||
		got.AdditionalFields["vip"].Value != true || got.AdditionalFields["score"].Value != 4.5 {
		t.Fatalf("read model does not reflect the write: %+v", got)
	}

	// Full PUT replaces: a field left out is cleared.
	w2 := company("ERP-1")
	w2.CustomerType = ""
	w2.Name = "Firma Nowa"
	if err := e.api.UpdateClient(ctx, id, w2); err != nil {
		t.Fatal(err)
	}
	got, _ = e.api.GetClient(ctx, id)
	if got.Name != "Firma Nowa" || got.InvoiceEmail != "" || got.Currency != nil || got.CustomerType != oneapi.CustomerCompany {
		t.Fatalf("after full PUT: %+v", got)
	}
	if got.FirstUser == nil {
		t.Fatal("full PUT dropped the first user")
	}

	if err := e.api.UpdateAdditionalData(ctx, id, oneapi.AdditionalDataWrite{AdditionalFields: map[string]oneapi.AdditionalField{
		"regon": {Name: "regon", Label: "Regon", Value: "123"}}}); err != nil {
		t.Fatal(err)
	}
	ad, err := e.api.GetAdditionalData(ctx, id)
	if err != nil || ad.ID != id || ad.AdditionalFields["regon"].Value != "123" || len(ad.AdditionalFields) != 1 {
		t.Fatalf("additional data %+v, %v", ad, err)
	}
	if err := e.api.UpdateAdvancedData(ctx, id, oneapi.AdvancedData{AccountManagerID: "4e37e1e", WarehouseID: "central_01",
		AdditionalWarehousesIDs: []string{"W2"}, Segments: &oneapi.SegmentsWrite{MainSegmentID: "seg-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.api.UpdateBasicData(ctx, id, oneapi.BasicData{BillingAddress: &oneapi.BillingAddress{ID: created.AddressID, Type: "BILLING",
		Name: "Oddział", Street: "Prosta 1", ZipCode: "00-001", City: "Warszawa", Country: "Polska", Phone: "22 000 00 00"},
		Currency: "EUR", Tin: "1234567890"}); err != nil {
		t.Fatal(err)
	}
	if err := e.api.UpdateFinanceData(ctx, id, oneapi.FinanceData{TermPaymentID: "30", TradeCredit: &oneapi.TradeCredit{AssignedValue: 5000}}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.api.GetClient(ctx, id)
	if got.WarehouseID != "central_01" || got.Segments.MainSegmentID != "seg-1" || got.SegmentID != "seg-1" ||
		got.BillingAddress.City != "Warszawa" || *got.Currency != "EUR" || got.Tin != "1234567890" || got.TermPaymentID != "30" {
		t.Fatalf("after partial updates: %+v", got)
	}
	if v, _ := e.srv.TradeCredit(tenantA, id); v != 5000 {
		t.Fatalf("trade credit %v", v)
	}

	fu, err := e.api.GetFirstUser(ctx, id)
	if err != nil || fu.UserID != created.UserID || fu.Email != "boss@firma.pl" {
		t.Fatalf("first user %+v, %v", fu, err)
	}
	users, err := e.api.ListUsers(ctx, 1, 10)
	if err != nil || users.TotalItems != 1 || users.Items[0].ClientID != id || users.Items[0].Role.Name != "Administrator" {
		t.Fatalf("users %+v, %v", users, err)
	}

	ind := oneapi.ClientWrite{CustomerType: oneapi.CustomerIndividual, ExternalID: "ERP-2", Name: "Jan Kowalski",
		Address: &oneapi.Address{City: "Kraków", Country: "Polska", ExternalID: "A2", Name: "Dom", Phone: "600100200", Street: "Długa 1", ZipCode: "31-001"}}
	c2, err := e.api.CreateClient(ctx, ind)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c2.ClientID, "ind:") || c2.UserID != "" {
		t.Fatalf("individual create %+v", c2)
	}
	page, err := e.api.ListClients(ctx, 1, 1)
	if err != nil || page.TotalItems != 2 || page.TotalPages != 2 || page.NextPage == nil || *page.NextPage != 2 || len(page.Items) != 1 ||
		page.Items[0].ID != id || len(page.ListElement) != 1 {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	page, _ = e.api.ListClients(ctx, 2, 1)
	if page.NextPage != nil || page.Items[0].ID != c2.ClientID {
		t.Fatalf("page 2: %+v", page)
	}
	var all []string
	for c, err := range e.api.AllClients(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c.ID)
	}
	if len(all) != 2 || all[0] != id || all[1] != c2.ClientID {
		t.Fatalf("AllClients = %v", all)
	}

	if err := e.api.DeleteClient(ctx, c2.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.GetClient(ctx, c2.ClientID); !apierr.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	e.noProblems(t)
}

func TestClientErrors(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	created, err := e.api.CreateClient(ctx, company("DUP"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("400 lists every field problem", func(t *testing.T) {
		w := company("BAD")
		w.Tin = ""
		w.Address.City = ""
		w.Address.ZipCode = " "
		w.Currency = "ZZZ"
		w.TinCode = "GR"
		w.Invoice = &oneapi.Invoice{Email: "not-an-email"}
		_, err := e.api.CreateClient(ctx, w)
		var ae *oneapi.APIError
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("want 400, got %v", err)
		}
		fields := map[string]bool{}
		for _, f := range ae.Fields {
			fields[f.Field] = true
		}
		for _, want := range []string{"tin", "address.city", "address.zipCode", "currency", "tinCode", "invoice.email"} {
			if !fields[want] {
				t.Errorf("no field error for %s in %v", want, ae.Fields)
			}
		}
		if apierr.Classify(err) != apierr.Permanent {
			t.Errorf("400 classified %v", apierr.Classify(err))
		}
	})
	t.Run("400 wrong type names the field", func(t *testing.T) {
		st, _, body := e.raw(t, http.MethodPost, "/api/v1/account/integrations/auth-required/clients",
			`{"customerType":"COMPANY","externalId":"X","tin":"1","isTaxPayer":"yes","address":{}}`, nil)
		if st != 400 || !strings.Contains(string(body), `"field":"isTaxPayer"`) {
			t.Fatalf("got %d %s", st, body)
		}
		st, _, body = e.raw(t, http.MethodPost, "/api/v1/account/integrations/auth-required/clients", `{"customerType":`, nil)
		if st != 400 || !strings.Contains(string(body), "malformed JSON") {
			t.Fatalf("malformed: got %d %s", st, body)
		}
	})
	t.Run("401 unknown key, no key in the error", func(t *testing.T) {
		bad := newAPI(t, e.hs.URL, tenantA, "wrong-key-123", nil)
		_, err := bad.GetClient(ctx, created.ClientID)
		if apierr.StatusOf(err) != 401 || apierr.Classify(err) != apierr.Unauthorized {
			t.Fatalf("want 401, the credentials refused, got %v", err)
		}
		if strings.Contains(err.Error(), "wrong-key-123") {
			t.Fatalf("error leaks the key: %v", err)
		}
	})
	t.Run("403 key of another tenant", func(t *testing.T) {
		cross := newAPI(t, e.hs.URL, tenantA, keyB, nil)
		_, err := cross.GetClient(ctx, created.ClientID)
		if apierr.StatusOf(err) != 403 || apierr.Classify(err) != apierr.Unauthorized {
			t.Fatalf("want 403, the credentials refused, got %v", err)
		}
		if strings.Contains(err.Error(), keyB) {
			t.Fatalf("error leaks the key: %v", err)
		}
	})
	t.Run("404 on a collection is the configuration's, a missing client the record's", func(t *testing.T) {
		// A platform that answers an unknown tenant (or a wrong base URL)
		// with 404: every record would be refused; the upstream pauses instead.
		wrongBase := newAPI(t, e.hs.URL+"/no-such-prefix", tenantA, keyA, nil)
		_, err := wrongBase.CreateClient(ctx, oneapi.ClientWrite{ExternalID: "X-404"})
		if apierr.StatusOf(err) != 404 || apierr.Classify(err) != apierr.Unauthorized || !strings.Contains(err.Error(), "one.tenant") {
			t.Fatalf("create on an unknown path: %v (class %v)", err, apierr.Classify(err))
		}
		_, err = e.api.GetClient(ctx, "org:00000000-0000-0000-0000-000000000000")
		if !apierr.IsNotFound(err) || apierr.Classify(err) == apierr.Unauthorized {
			t.Fatalf("a missing client: %v (class %v)", err, apierr.Classify(err))
		}
	})
	t.Run("tenants are isolated", func(t *testing.T) {
		b := newAPI(t, e.hs.URL, tenantB, keyB, nil)
		if _, err := b.GetClient(ctx, created.ClientID); !apierr.IsNotFound(err) {
			t.Fatalf("other tenant sees the client: %v", err)
		}
		p, err := b.ListClients(ctx, 1, 10)
		if err != nil || p.TotalItems != 0 {
			t.Fatalf("other tenant list: %+v %v", p, err)
		}
		if _, err := b.CreateClient(ctx, company("DUP")); err != nil {
			t.Fatalf("same externalId in another tenant must be allowed: %v", err)
		}
	})
	t.Run("404 unknown id, 400 malformed id", func(t *testing.T) {
		_, err := e.api.GetClient(ctx, "org:00000000-0000-4000-8000-000000000000")
		if !apierr.IsNotFound(err) || apierr.Classify(err) != apierr.Permanent {
			t.Fatalf("want 404, got %v", err)
		}
		_, err = e.api.GetClient(ctx, "nonsense")
		if apierr.StatusOf(err) != 400 {
			t.Fatalf("want 400, got %v", err)
		}
	})
	t.Run("409 duplicate externalId", func(t *testing.T) {
		_, err := e.api.CreateClient(ctx, company("DUP"))
		if !apierr.IsConflict(err) {
			t.Fatalf("want 409, got %v", err)
		}
		other, err := e.api.CreateClient(ctx, company("OTHER"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.api.UpdateClient(ctx, other.ClientID, company("DUP")); !apierr.IsConflict(err) {
			t.Fatalf("PUT onto a used externalId: want 409, got %v", err)
		}
	})
	t.Run("413 body over 1 MiB", func(t *testing.T) {
		w := company("BIG")
		w.AdditionalFields = map[string]oneapi.AdditionalField{"blob": {Name: "blob", Value: strings.Repeat("x", 1<<20)}}
		_, err := e.api.CreateClient(ctx, w)
		if apierr.StatusOf(err) != 413 {
			t.Fatalf("want 413, got %v", err)
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		id, _ := e.srv.Faults().Add(fault.Rule{Operation: "getClient", Status: 429, RetryAfter: 7, Count: 1})
		defer e.srv.Faults().Remove(id)
		_, err := e.api.GetClient(ctx, created.ClientID)
		var ae *oneapi.APIError
		if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 7*time.Second {
			t.Fatalf("want 429 retry after 7s, got %#v", err)
		}
		if apierr.Classify(err) != apierr.Retryable || apierr.RetryAfterOf(err) != 7*time.Second {
			t.Fatalf("429 classified %v", apierr.Classify(err))
		}
		if _, err := e.api.GetClient(ctx, created.ClientID); err != nil {
			t.Fatalf("rule with count 1 fired twice: %v", err)
		}
	})
	t.Run("503 outage window", func(t *testing.T) {
		id, _ := e.srv.Faults().Add(fault.Rule{From: time.Now().Add(-time.Second), Until: time.Now().Add(30 * time.Second)})
		defer e.srv.Faults().Remove(id)
		_, err := e.api.ListClients(ctx, 1, 1)
		if apierr.StatusOf(err) != 503 || apierr.RetryAfterOf(err) <= 0 {
			t.Fatalf("want 503 with Retry-After, got %v", err)
		}
	})
	// Every error answer so far fits the contract (the faults below break
	// bodies on purpose).
	e.noProblems(t)
	e.v.Reset()

	t.Run("dropped connection on create is outcome-unknown", func(t *testing.T) {
		id, _ := e.srv.Faults().Add(fault.Rule{Operation: "createClient", DropAfterCommit: true, Count: 1})
		defer e.srv.Faults().Remove(id)
		_, err := e.api.CreateClient(ctx, company("DROPPED"))
		if apierr.Classify(err) != apierr.OutcomeUnknown {
			t.Fatalf("want outcome unknown, got %v (%v)", apierr.Classify(err), err)
		}
		// The create was committed before the connection dropped.
		found := false
		for c, err := range e.api.AllClients(ctx, 100) {
			if err != nil {
				t.Fatal(err)
			}
			found = found || c.ExternalID == "DROPPED"
		}
		if !found {
			t.Fatal("the committed client is not on the server")
		}
	})
	t.Run("dropped connection on get is retryable", func(t *testing.T) {
		// No count: net/http itself repeats an idempotent request once on a reused connection.
		id, _ := e.srv.Faults().Add(fault.Rule{Operation: "getClient", Drop: true})
		defer e.srv.Faults().Remove(id)
		_, err := e.api.GetClient(ctx, created.ClientID)
		if err == nil || apierr.Classify(err) != apierr.Retryable {
			t.Fatalf("want retryable, got %v", err)
		}
	})
	t.Run("malformed and truncated bodies", func(t *testing.T) {
		for _, r := range []fault.Rule{{Operation: "getClient", Malformed: true, Count: 1}, {Operation: "getClient", Truncate: true, Count: 1}} {
			id, _ := e.srv.Faults().Add(r)
			_, err := e.api.GetClient(ctx, created.ClientID)
			e.srv.Faults().Remove(id)
			if err == nil || apierr.Classify(err) != apierr.Retryable || !strings.Contains(err.Error(), "decode answer") {
				t.Fatalf("want retryable decode error, got %v", err)
			}
		}
		id, _ := e.srv.Faults().Add(fault.Rule{Operation: "createClient", Truncate: true, Count: 1})
		defer e.srv.Faults().Remove(id)
		if _, err := e.api.CreateClient(ctx, company("TRUNC")); apierr.Classify(err) != apierr.OutcomeUnknown {
			t.Fatalf("truncated create answer: want outcome unknown, got %v", err)
		}
	})
	t.Run("connection refused on create is retryable", func(t *testing.T) {
		dead := newAPI(t, "http://127.0.0.1:1", tenantA, keyA, nil)
		_, err := dead.CreateClient(ctx, company("X"))
		if err == nil || apierr.Classify(err) != apierr.Retryable {
			t.Fatalf("want retryable, got %v (%v)", apierr.Classify(err), err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.api.GetClient(cctx, created.ClientID)
		if apierr.Classify(err) != apierr.Canceled {
			t.Fatalf("want canceled, got %v", err)
		}
	})
}

// TestClientEscapesIDs checks the id travels as org%3A… on the wire and that
// the server accepts both forms.
func TestClientEscapesIDs(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	c, err := e.api.CreateClient(ctx, company("ESC"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var uris []string
	rec := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		uris = append(uris, r.URL.EscapedPath())
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	api := newAPI(t, e.hs.URL, tenantA, keyA, rec)
	if _, err := api.GetClient(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	if len(uris) != 1 || !strings.HasSuffix(uris[0], "/clients/org%3A"+c.ClientID[4:]) {
		t.Fatalf("wire path %v", uris)
	}
	st, _, body := e.raw(t, http.MethodGet, "/api/v1/account/integrations/auth-required/clients/"+c.ClientID, "", nil)
	if st != 200 {
		t.Fatalf("raw colon form: %d %s", st, body)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConfigValidationAndRedaction(t *testing.T) {
	_, err := oneapi.New(oneapi.Config{BaseURL: "ftp://x", APIKey: ""})
	if err == nil || !strings.Contains(err.Error(), "base URL") || !strings.Contains(err.Error(), "tenant") || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("want every problem listed, got %v", err)
	}
	cfg := oneapi.Config{BaseURL: "http://x", Tenant: "t", APIKey: "super-secret"}
	for _, s := range []string{cfg.String(), strings.ReplaceAll(strings.TrimSpace(fmtV(cfg)), "\n", "")} {
		if strings.Contains(s, "super-secret") {
			t.Fatalf("config print leaks the key: %s", s)
		}
	}
}
