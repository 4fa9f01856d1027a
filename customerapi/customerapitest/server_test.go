package customerapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/refhttp"
)

// raw sends a request that bypasses the contract validator (for requests
// that break the contract on purpose).
func (e *env) raw(method, path, token, contentType string, body []byte) (int, refhttp.ErrorBody) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb refhttp.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func TestSecuredOperationsNeedAToken(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	secured := 0
	for path, item := range e.v.Doc().Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue
			}
			secured++
			p := pathParam.ReplaceAllString(path, "trading")
			for _, tok := range []string{"", "at_not-a-token"} {
				status, eb := e.raw(method, p, tok, "application/json", []byte(`{}`))
				if status != http.StatusUnauthorized || eb.Status != 401 || eb.Message == "" {
					t.Errorf("%s %s (%s) token %q: status %d, body %+v; want 401", method, p, op.OperationID, tok, status, eb)
				}
			}
		}
	}
	if secured < 50 {
		t.Fatalf("only %d secured operations found", secured)
	}
}

func TestTokenExpiryAndRefresh(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, customerapitest.Options{TokenTTL: 30 * time.Second, Clock: clk})
	tok := e.login(ownerEmail, ownerPass)
	if tok.ExpiresIn != 30 {
		t.Fatalf("expiresIn = %v", tok.ExpiresIn)
	}
	e.must(200, "GET", "/v1/profile", tok.Access, nil, nil)
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	status, eb := e.do("GET", "/v1/profile", tok.Access, nil)
	if status != 401 || !strings.Contains(string(eb), "expired") {
		t.Fatalf("expired token: %d %s", status, eb)
	}
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/refresh", "", map[string]string{"refresh": tok.Refresh}, &lr)
	e.must(200, "GET", "/v1/profile", lr.Tokens.Access, nil, nil)
	e.must(401, "POST", "/v1/auth/refresh", "", map[string]string{"refresh": "rt_bogus"}, nil)

	// The control surface changes the lifetime of new tokens.
	if status, _ := e.raw("PUT", "/_reference/token-ttl", "", "application/json", []byte(`{"ttl":"2s"}`)); status != 200 {
		t.Fatalf("token-ttl: %d", status)
	}
	if got := e.login(ownerEmail, ownerPass).ExpiresIn; got != 2 {
		t.Fatalf("expiresIn after SetTokenTTL = %v", got)
	}
}

func TestOrganisationIsolation(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	a := e.login(ownerEmail, ownerPass).Access
	b := e.login(otherEmail, otherPass).Access
	orgA, orgB := e.srv.OrganisationID(ownerEmail), e.srv.OrganisationID(otherEmail)
	userB := e.srv.UserID(otherEmail)

	var bu customerapi.BusinessUnit
	e.must(200, "POST", "/v1/business-units", b, map[string]any{"organisationId": orgB, "name": "B farm", "type": "farm", "business": map[string]any{"name": "B"}}, &bu)

	e.must(403, "GET", "/v1/organisations/"+orgB, a, nil, nil)
	e.must(403, "PATCH", "/v1/organisations/"+orgB, a, map[string]string{"name": "mine now"}, nil)
	e.must(403, "GET", "/v1/organisations/"+orgB+"/business-units/summary", a, nil, nil)
	e.must(403, "GET", "/v1/organisations/"+orgB+"/business-units", a, nil, nil)
	e.must(403, "POST", "/v1/business-units", a, map[string]any{"organisationId": orgB, "name": "sneaky", "type": "farm"}, nil)
	e.must(403, "PATCH", "/v1/business-units/"+bu.ID, a, map[string]any{"name": "x"}, nil)
	e.must(403, "GET", "/v1/users/"+userB+"/basic", a, nil, nil)
	e.must(403, "PATCH", "/v1/users/"+userB, a, map[string]any{"givenName": "x"}, nil)
	e.must(403, "POST", "/v1/organisations/"+orgB+"/activate", a, nil, nil)
	e.must(404, "GET", "/v1/organisations/does-not-exist", a, nil, nil)
	e.must(404, "DELETE", "/v1/business-connections/"+orgB, a, nil, nil)

	var list []customerapi.Organisation
	e.must(200, "GET", "/v1/organisations", a, nil, &list)
	if len(list) != 1 || list[0].ID != orgA {
		t.Fatalf("A lists %+v", list)
	}
	var recs []customerapi.OrganisationRecord
	e.must(200, "GET", "/v1/organisations/by-ids?ids="+orgA+","+orgB, a, nil, &recs)
	if len(recs) != 1 || recs[0].ID != orgA {
		t.Fatalf("A by-ids %+v", recs)
	}
	var users []customerapi.User
	e.must(200, "GET", "/v1/users", a, nil, &users)
	if slices.ContainsFunc(users, func(u customerapi.User) bool { return u.ID == userB }) {
		t.Fatal("A lists B's user")
	}
	var bizs []customerapi.Business
	e.must(200, "GET", "/v1/businesses?ids="+bu.ID, a, nil, &bizs)
	if len(bizs) != 0 {
		t.Fatal("A sees B's business through the batch look-up")
	}
	e.must(403, "GET", "/v1/businesses/"+bu.Business.ID, a, nil, nil)

	// An administrator sees both.
	adm := e.login(adminEmail, adminPass).Access
	e.must(200, "GET", "/v1/organisations/"+orgB, adm, nil, nil)

	// Once connected, B is in A's network and visible to A.
	e.must(200, "POST", "/v1/business-connections", a, map[string]any{"id": orgB, "contacts": []any{}}, nil)
	e.must(200, "GET", "/v1/organisations/"+orgB, a, nil, nil)
}

func TestBusinessUnitVisibilityPerUser(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	owner := e.login(ownerEmail, ownerPass).Access
	org := e.srv.OrganisationID(ownerEmail)
	var b1, b2 customerapi.BusinessUnit
	e.must(200, "POST", "/v1/business-units", owner, map[string]any{"organisationId": org, "name": "North", "type": "farm"}, &b1)
	e.must(200, "POST", "/v1/business-units", owner, map[string]any{"organisationId": org, "name": "South", "type": "stores"}, &b2)
	if _, _, err := e.srv.AddUser(customerapitest.UserSpec{Email: "hand@example.com", Password: "Hand1234!", OrganisationID: org, BusinessUnits: []string{b1.ID}}); err != nil {
		t.Fatal(err)
	}
	hand := e.login("hand@example.com", "Hand1234!").Access
	var units customerapi.OrganisationBusinessUnits
	e.must(200, "GET", "/v1/organisations/"+org+"/business-units", hand, nil, &units)
	if len(units.BusinessUnits) != 1 || units.BusinessUnits[0].ID != b1.ID {
		t.Fatalf("restricted user sees %+v", units.BusinessUnits)
	}
	var sum customerapi.BusinessUnitsSummary
	e.must(200, "GET", "/v1/organisations/"+org+"/business-units/summary", hand, nil, &sum)
	if len(sum.BusinessUnits) != 2 {
		t.Fatalf("summary must not be filtered: %+v", sum.BusinessUnits)
	}
	e.must(200, "GET", "/v1/organisations/"+org+"/business-units", owner, nil, &units)
	if len(units.BusinessUnits) != 2 {
		t.Fatalf("owner sees %d units", len(units.BusinessUnits))
	}
	// A member cannot create users (team owners only).
	e.must(403, "POST", "/v1/users", hand, map[string]any{"givenName": "a", "familyName": "b", "email": "c@d.test", "phone": ""}, nil)
}

func TestValidation(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	org := e.srv.OrganisationID(ownerEmail)
	cases := []struct {
		name, method, path, body string
		status                   int
		fields                   []string
	}{
		{"org required", "POST", "/v1/organisations", `{}`, 400, []string{"location", "name", "countryISO", "ownerContact", "billing", "modules"}},
		{"org country enum", "POST", "/v1/organisations", `{"location":{},"name":"x","countryISO":"DE","ownerContact":{"email":"a@b.test","givenName":"a","familyName":"b","phone":"12"},"billing":{},"modules":[]}`, 400, []string{"countryISO", "ownerContact.phone"}},
		{"org wrong type", "POST", "/v1/organisations", `{"name":5}`, 400, []string{"name"}},
		{"malformed json", "POST", "/v1/organisations", `{"name":`, 400, nil},
		{"empty body", "POST", "/v1/organisations", ``, 400, nil},
		{"bu type enum", "POST", "/v1/business-units", `{"organisationId":"` + org + `","name":"x","type":"barn"}`, 400, []string{"type"}},
		{"bu scheme enum", "POST", "/v1/business-units", `{"organisationId":"` + org + `","name":"x","type":"farm","business":{"assuranceScheme":"LEAF","holdingNumber":"123"}}`, 400, []string{"business.assuranceScheme", "business.holdingNumber"}},
		{"advance pay patterns", "PUT", "/v1/organisations/" + org + "/advance-pay", `{"accountName":"a","sortCode":"123456","accountNumber":"12ab"}`, 400, []string{"sortCode", "accountNumber"}},
		{"advance pay short account", "PUT", "/v1/organisations/" + org + "/advance-pay", `{"accountName":"a","sortCode":"12-34-56","accountNumber":"1234567"}`, 400, []string{"accountNumber"}},
		{"certificate ISO3", "GET", "/v1/red-tractor/certificates?country=GB&postcode=YO17", ``, 400, []string{"country"}},
		{"certificate lower case", "GET", "/v1/red-tractor/certificates?country=gbr&postcode=YO17", ``, 400, []string{"country"}},
		{"certificate criteria", "GET", "/v1/red-tractor/certificates?country=GBR", ``, 400, []string{"postcode"}},
		{"connection relationship", "POST", "/v1/business-connections", `{"name":"x","relationship":"friend","contacts":[{"email":"bad"}]}`, 400, []string{"relationship", "contacts[0].email", "contacts[0].givenName"}},
		{"connection contacts required", "POST", "/v1/business-connections", `{"name":"x"}`, 400, []string{"contacts"}},
		{"relationship path", "POST", "/v1/business-connections/" + org + "/relationships/friend", ``, 400, []string{"relationship"}},
		{"request type", "POST", "/v1/users/full-account-requests", `{"requestType":"x","firstName":"a","lastName":"b","businessName":"c","emailAddress":"d@e.test"}`, 400, []string{"requestType"}},
		{"user phone", "POST", "/v1/users", `{"givenName":"a","familyName":"b","email":"a@b.test","phone":"call me"}`, 400, []string{"phone"}},
		{"list limit", "GET", "/v1/organisations?limit=abc", ``, 400, []string{"limit"}},
		{"list sort", "GET", "/v1/organisations?sortBy=password", ``, 400, []string{"sortBy"}},
		{"ids required", "GET", "/v1/organisations/by-ids", ``, 400, []string{"ids"}},
		{"password policy", "POST", "/v1/auth/admin/set-password", `{"username":"x","password":"short"}`, 400, []string{"password"}},
		{"system settings", "PUT", "/v1/system/settings", `{"logging":{"level":"loud"}}`, 400, []string{"logging.level"}},
		{"verify code", "POST", "/v1/users/me/verify-attribute", `{"code":"12"}`, 400, []string{"code"}},
		{"import not multipart", "POST", "/v1/organisations/import", `{}`, 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, eb := e.raw(tc.method, tc.path, tok, "application/json", []byte(tc.body))
			if status != tc.status || eb.Status != tc.status {
				t.Fatalf("status %d (body %d), want %d: %+v", status, eb.Status, tc.status, eb)
			}
			got := map[string]bool{}
			for _, f := range eb.Errors {
				got[f.Field] = true
				if f.Message == "" {
					t.Errorf("field %s has no message", f.Field)
				}
			}
			for _, f := range tc.fields {
				if !got[f] {
					t.Errorf("missing field error %q in %+v", f, eb.Errors)
				}
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		big := append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), refhttp.MaxBody+10)...)
		big = append(big, []byte(`"}`)...)
		status, _ := e.raw("POST", "/v1/organisations", tok, "application/json", big)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", status)
		}
	})
	t.Run("duplicate user", func(t *testing.T) {
		status, _ := e.raw("POST", "/v1/users", tok, "application/json", []byte(`{"givenName":"a","familyName":"b","email":"`+otherEmail+`","phone":""}`))
		if status != http.StatusConflict {
			t.Fatalf("status %d, want 409", status)
		}
	})
}

func TestCSVImportKeepsGoingPastBadRows(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	var ir customerapi.ImportResult
	csv := "name,type,holdingNumber\n" +
		"Good One,farm,11/222/3333\n" +
		"\"Broken \"quote,farm,\n" +
		"No Type,,\n" +
		"Good Two,region,\n"
	e.upload(200, "/v1/business-units/import", tok, nil, csv, &ir)
	if ir.Success != 2 || ir.Validation != 1 || ir.Errors != 1 || len(ir.Results) != 4 {
		t.Fatalf("import = %+v", ir)
	}
	for i, want := range []string{"success", "error", "validation", "success"} {
		if ir.Results[i].Status != want {
			t.Errorf("row %d status %s, want %s (%+v)", i, ir.Results[i].Status, want, ir.Results[i])
		}
	}
	var sum customerapi.BusinessUnitsSummary
	e.must(200, "GET", "/v1/organisations/"+e.srv.OrganisationID(ownerEmail)+"/business-units/summary", tok, nil, &sum)
	if len(sum.BusinessUnits) != 2 {
		t.Fatalf("units after import = %d", len(sum.BusinessUnits))
	}
	// A file without the required columns is refused as a whole.
	status, eb := e.raw("POST", "/v1/business-units/import", tok, "multipart/form-data; boundary=x",
		[]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nfoo,bar\n1,2\n\r\n--x--\r\n"))
	if status != 400 || len(eb.Errors) != 2 {
		t.Fatalf("missing columns: %d %+v", status, eb)
	}
}

func TestControlSurface(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	hc := http.DefaultClient
	post := func(path, body string) *http.Response {
		resp, err := hc.Post(e.ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/_reference/faults", `{"operation":"getProfile","status":503,"retryAfter":3,"count":1}`); r.StatusCode != 200 {
		t.Fatalf("add fault: %d", r.StatusCode)
	}
	tok := e.login(ownerEmail, ownerPass).Access
	status, _ := e.raw("GET", "/v1/profile", tok, "", nil)
	if status != 503 {
		t.Fatalf("faulted profile: %d", status)
	}
	e.must(200, "GET", "/v1/profile", tok, nil, nil)
	resp, err := hc.Get(e.ts.URL + "/_reference/counters")
	if err != nil {
		t.Fatal(err)
	}
	var counters map[string]struct {
		Total   int64 `json:"total"`
		Faulted int64 `json:"faulted"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&counters)
	resp.Body.Close()
	if counters["getProfile"].Total != 2 || counters["getProfile"].Faulted != 1 || counters["login"].Total != 1 {
		t.Fatalf("counters = %+v", counters)
	}

	if r := post("/_reference/users", `{"email":"temp@example.com","password":"Temp0rary!","temporary":true}`); r.StatusCode != 200 {
		t.Fatalf("add user: %d", r.StatusCode)
	}
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/login", "", map[string]string{"username": "temp@example.com", "password": "Temp0rary!"}, &lr)
	if lr.Challenge == nil || lr.Tokens != nil {
		t.Fatalf("want a challenge: %+v", lr)
	}

	var org customerapi.Organisation
	e.must(200, "POST", "/v1/organisations", tok, map[string]any{"location": map[string]any{}, "name": "Reset Me", "countryISO": "GB",
		"ownerContact": map[string]any{"email": "reset@me.test", "givenName": "R", "familyName": "M"}, "billing": map[string]any{}, "modules": []any{}}, &org)
	resp, err = hc.Get(e.ts.URL + "/_reference/codes?email=reset@me.test")
	if err != nil {
		t.Fatal(err)
	}
	var codes []customerapitest.Code
	_ = json.NewDecoder(resp.Body).Decode(&codes)
	resp.Body.Close()
	if len(codes) != 1 || codes[0].Kind != "temporary-password" || codes[0].Code == "" {
		t.Fatalf("codes = %+v", codes)
	}
	// The owner of a created organisation logs in with the emailed temporary password.
	e.must(200, "POST", "/v1/auth/login", "", map[string]string{"username": "reset@me.test", "password": codes[0].Code, "newPassword": "Fresh1Pass"}, &lr)
	if lr.Tokens == nil {
		t.Fatal("answering the challenge gave no tokens")
	}

	if r := post("/_reference/reset", ``); r.StatusCode != 200 {
		t.Fatalf("reset: %d", r.StatusCode)
	}
	status, _ = e.raw("GET", "/v1/profile", tok, "", nil)
	if status != 401 {
		t.Fatalf("old token after reset: %d", status)
	}
	tok = e.login(ownerEmail, ownerPass).Access
	e.must(404, "GET", "/v1/organisations/"+org.ID, tok, nil, nil)
	if n := e.srv.Faults().Count("getProfile"); n != 1 {
		t.Fatalf("counters after reset: getProfile = %d", n)
	}
}

func TestDeterministicSeed(t *testing.T) {
	mk := func(seed uint64) (*customerapitest.Server, string) {
		s := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{"a@example.com": "Passw0rd!", "b@example.com": "Passw0rd!"}, Seed: seed,
			Clock: func() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) }})
		return s, s.OrganisationID("b@example.com")
	}
	s1, o1 := mk(5)
	s2, o2 := mk(5)
	s3, o3 := mk(6)
	if o1 != o2 || o1 == o3 {
		t.Fatalf("ids: %s %s %s", o1, o2, o3)
	}
	c1, c2, c3 := s1.Certificates(), s2.Certificates(), s3.Certificates()
	if len(c1) != 60 || c1[10].CertificateIdentifier != c2[10].CertificateIdentifier || c1[10].CertificateIdentifier == c3[10].CertificateIdentifier {
		t.Fatal("certificates are not deterministic per seed")
	}
	var valid, grace int
	for _, c := range c1 {
		exp, err := time.Parse("2006-01-02T15:04:05.000-07:00", c.CertificateExpiryDate)
		if err != nil {
			t.Fatal(err)
		}
		switch c.CertificateStatus {
		case customerapi.CertificateValid:
			valid++
			if !exp.After(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("valid certificate expired %s", exp)
			}
		case customerapi.CertificateGrace:
			grace++
		default:
			t.Errorf("status %q", c.CertificateStatus)
		}
	}
	if valid == 0 || grace == 0 {
		t.Fatalf("valid %d grace %d", valid, grace)
	}
}

func TestAddCertificatesAreSearchable(t *testing.T) {
	e := newEnv(t, customerapitest.Options{Certificates: 1})
	cert := customerapi.Certificate{CertificateStatus: customerapi.CertificateValid, CertificateIdentifier: "TEST.1",
		CertificateExpiryDate:  "2030-01-31T00:00:00.000+00:00",
		CertificateEnterprises: []customerapi.CertificateEnterprise{{EnterpriseIdentifier: "ENT1", Enterprise: "Combinable Crops"}},
		CertifiedSites: []customerapi.CertifiedSite{{SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: "12/345/6789"},
			IsPrimary: true, SiteCountry: "GBR", SitePostcode: "YO17 9AB", SiteName: "Test Farm", SiteAddress: "Test Farm, YO17 9AB"}}}
	e.srv.AddCertificates(cert)
	c := e.client(customerapi.Credentials{Username: ownerEmail, Password: ownerPass})
	got, err := c.RedTractorCertificates(context.Background(), customerapi.CertificateQuery{Country: "GBR", HoldingNumber: "12/345/6789"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CertificateIdentifier != "TEST.1" {
		t.Fatalf("search by holding number found %+v", got)
	}
}
