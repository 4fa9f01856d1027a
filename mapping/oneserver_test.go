package mapping

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// TestONeRoundTripThroughReferenceServer sends customers to the reference
// ONe server over real HTTP (POST createClient, GET getClient) and checks
// that what comes back maps to the same canonical customer, on every field
// ONe carries. The server fills in two defaults of its own: the payer (the
// client itself) and the account manager (the tenant's default).
func TestONeRoundTripThroughReferenceServer(t *testing.T) {
	ref, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{"demo": "secret"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ref.Close() })
	srv := httptest.NewServer(ref)
	t.Cleanup(srv.Close)

	do := func(t *rapid.T, method, path string, in, out any) {
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+oneapitest.BasePath+path, body)
		req.Header.Set("one-tenant", "demo")
		req.Header.Set("ApiAuth", "secret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}

	n := 0
	rapid.Check(t, func(t *rapid.T) {
		c := genCustomer(t)
		if c.Phone == "" && c.Billing.Phone == "" {
			if err := ValidateONe(c); err == nil || !err.(*ValidationError).Has("phone") {
				t.Fatalf("ValidateONe must want a phone: %v", err)
			}
			c.Phone = "+48 111 111 111"
		}
		if err := ValidateONe(c); err != nil {
			t.Fatalf("ValidateONe: %v", err)
		}
		n++
		// The platform knows only its own account managers.
		if c.AccountManagerID != "" {
			c.AccountManagerID = oneapitest.DefaultAccountManagerID
		}
		c.ERPKey = c.ERPKey + "-" + string(rune('a'+n%26)) + string(rune('a'+n/26%26)) + string(rune('a'+n/676%26))
		var created oneapi.CreateClientResponse
		do(t, http.MethodPost, "/clients", ToONeWrite(c), &created)
		var read oneapi.Client
		do(t, http.MethodGet, "/clients/"+url.PathEscape(created.ClientID), nil, &read)
		got := FromONe(read)
		want := oneProjection(c, created.ClientID)
		want.PayerID = created.ClientID
		if want.AccountManagerID == "" {
			want.AccountManagerID = oneapitest.DefaultAccountManagerID
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip through the reference server:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
	})
}
