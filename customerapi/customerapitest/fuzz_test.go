package customerapitest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// FuzzRequestBodies feeds random bodies to every JSON write operation: the
// server must answer 2xx or 4xx, never 5xx, and never panic.
func FuzzRequestBodies(f *testing.F) {
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{ownerEmail: ownerPass}, Admins: map[string]string{adminEmail: adminPass}})
	org := srv.OrganisationID(ownerEmail)
	login := func(email, pass string) string {
		rec := httptest.NewRecorder()
		b, _ := json.Marshal(map[string]string{"username": email, "password": pass})
		srv.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/auth/login", bytes.NewReader(b)))
		var lr customerapi.LoginResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &lr); err != nil || lr.Tokens == nil {
			f.Fatalf("login: %s", rec.Body.Bytes())
		}
		return lr.Tokens.Access
	}
	tokens := []string{login(ownerEmail, ownerPass), login(adminEmail, adminPass), ""}
	targets := []struct{ method, path string }{
		{"POST", "/v1/organisations"}, {"PATCH", "/v1/organisations/" + org}, {"PUT", "/v1/organisations/" + org + "/advance-pay"},
		{"POST", "/v1/business-units"}, {"POST", "/v1/business-connections"}, {"POST", "/v1/business-connections/check"},
		{"POST", "/v1/business-connections/in-network"}, {"POST", "/v1/users"}, {"PATCH", "/v1/users/" + srv.UserID(ownerEmail)},
		{"PUT", "/v1/users/me/buyer-preferences"}, {"POST", "/v1/users/lookup-by-phone"}, {"POST", "/v1/auth/login"},
		{"POST", "/v1/auth/refresh"}, {"POST", "/v1/auth/api-tokens"}, {"POST", "/v1/auth/api-tokens/authenticate"},
		{"POST", "/v1/auth/change-password"}, {"POST", "/v1/auth/reset-password"}, {"POST", "/v1/auth/magic-link"},
		{"POST", "/v1/admin/cognito-users"}, {"PUT", "/v1/system/settings"}, {"POST", "/v1/users/full-account-requests"},
		{"POST", "/v1/organisations/" + org + "/modules"}, {"PUT", "/v1/organisations/me/owner"}, {"POST", "/v1/business-units/import"},
	}
	seeds := []string{
		`{}`, `null`, `[]`, `{"name":"x","countryISO":"GB","location":{},"ownerContact":{"email":"a@b.test","givenName":"a","familyName":"b","phone":"+447700900123"},"billing":{},"modules":[]}`,
		`{"organisationId":"` + org + `","name":"u","type":"farm","business":{"phoneNumber":"+1","holdingNumber":"12/345/6789","assuranceScheme":"RT"}}`,
		`{"contacts":[{"email":"c@d.test","givenName":"c","familyName":"d","phone":"0"}],"name":"n","relationship":"trading"}`,
		`{"phone":{"callingCode":"44"}}`, `{"preferences":[{"commodity":null}]}`, `{"userId":"x","hours":1e308,"roles":["owner"]}`,
		`{"logging":{"level":"debug"}}`, `{"name":`, "\x00\xff",
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint8(i%3), []byte(s))
	}
	var checks atomic.Int64
	f.Fuzz(func(t *testing.T, target, tok uint8, body []byte) {
		tg := targets[int(target)%len(targets)]
		req := httptest.NewRequest(tg.method, tg.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tk := tokens[int(tok)%len(tokens)]; tk != "" {
			req.Header.Set("Authorization", "Bearer "+tk)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %s %q: status %d: %s", tg.method, tg.path, body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error body is not JSON: %q", rec.Body.Bytes())
		}
		// The index check costs O(records): it follows every one of the
		// first executions (the seed corpus of a plain test run), and then,
		// while fuzzing, one in 50.
		if n := checks.Add(1); n <= 200 || n%50 == 0 {
			if err := srv.CheckIndexes(); err != nil {
				t.Fatalf("%s %s %q: indexes: %v", tg.method, tg.path, body, err)
			}
		}
	})
}

// FuzzQueryParsing feeds random query strings to the listing and look-up operations.
func FuzzQueryParsing(f *testing.F) {
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 2, Users: map[string]string{ownerEmail: ownerPass}})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/auth/login", bytes.NewReader([]byte(`{"username":"`+ownerEmail+`","password":"`+ownerPass+`"}`))))
	var lr customerapi.LoginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &lr); err != nil || lr.Tokens == nil {
		f.Fatal("login failed")
	}
	paths := []string{"/v1/organisations", "/v1/users", "/v1/red-tractor/certificates", "/v1/organisations/by-ids", "/v1/businesses",
		"/v1/users/by-commodity-regions", "/v1/users/by-preferences", "/v1/users/by-roles", "/v1/business-connections", "/v1/users/summaries"}
	for i, q := range []string{"limit=10&offset=5", "count=true&status=active", "country=GBR&postcode=YO17", "ids=a,b,,c", "commodityId=x",
		"limit=-1", "sortBy=name&sortDesc=yes", "offset=99999999999999999999", "query=%00"} {
		f.Add(uint8(i), q)
	}
	f.Fuzz(func(t *testing.T, p uint8, q string) {
		req := httptest.NewRequest("GET", paths[int(p)%len(paths)], nil)
		req.URL.RawQuery = q
		req.Header.Set("Authorization", "Bearer "+lr.Tokens.Access)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s?%s: %d %s", req.URL.Path, q, rec.Code, rec.Body.Bytes())
		}
	})
}
