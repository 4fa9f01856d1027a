package customerapitest_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// TestWalkAllOperations calls every operation of the contract against the
// server, validating each request and answer with kin-openapi, and checks
// that the walk covered exactly the contract's operations.
func TestWalkAllOperations(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	owner := e.login(ownerEmail, ownerPass).Access
	admin := e.login(adminEmail, adminPass).Access
	myOrg := e.srv.OrganisationID(ownerEmail)
	ownerID := e.srv.UserID(ownerEmail)

	// Auth and profile.
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/login", "", map[string]string{"username": ownerEmail, "password": ownerPass}, &lr)
	var rr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/refresh", "", map[string]string{"refresh": lr.Tokens.Refresh}, &rr)
	if rr.Tokens.Access == lr.Tokens.Access || rr.Tokens.Access == "" {
		t.Fatal("refresh must issue a new access token")
	}
	var prof customerapi.Profile
	e.must(200, "GET", "/v1/profile", owner, nil, &prof)
	if prof.User.Email != ownerEmail || prof.Organisation.ID != myOrg {
		t.Fatalf("profile = %+v", prof.User)
	}
	var me customerapi.User
	e.must(200, "GET", "/v1/users/me", owner, nil, &me)
	var rec customerapi.OrganisationRecord
	e.must(200, "GET", "/v1/organisations/me", owner, nil, &rec)
	if rec.ID != myOrg || rec.OwnerContact.ID != ownerID {
		t.Fatalf("me org = %+v", rec)
	}

	// Organisations.
	cert := e.srv.Certificates()[0]
	holding := cert.CertifiedSites[0].SiteIdentifiers.Identifier
	create := customerapi.CreateOrganisationRequest{
		Location: &customerapi.Location{Address: &customerapi.Address{Line1: "Manor Farm", Postcode: "YO17 9AB", CountryISO: "GB"}},
		Company:  &customerapi.Company{Number: "01234567", HoldingNumber: holding, AssuranceScheme: customerapi.SchemeRT},
		Name:     "Manor Farm Partners", CountryISO: "GB",
		OwnerContact: &customerapi.ContactInput{Email: "farmer@manor.test", GivenName: "Jo", FamilyName: "Bloggs", Phone: "07700 900123"},
		Billing:      &customerapi.Billing{Amount: 10, Currency: "GBP", Period: "month"},
		Modules:      []customerapi.Module{{ID: "trading", Name: "Trading"}},
	}
	var org customerapi.Organisation
	e.must(200, "POST", "/v1/organisations", owner, create, &org)
	if org.OwnerContact == nil || org.OwnerContact.Phone == nil || org.OwnerContact.Phone.CallingCode != "+44" || org.OwnerContact.Phone.Number != "7700900123" {
		t.Fatalf("owner phone = %+v", org.OwnerContact)
	}
	e.must(409, "POST", "/v1/organisations", owner, create, nil)
	var list []customerapi.Organisation
	e.must(200, "GET", "/v1/organisations?limit=10&offset=0&sortBy=name&sortDesc=false&query=manor", owner, nil, &list)
	if len(list) != 1 || list[0].ID != org.ID {
		t.Fatalf("list = %+v", list)
	}
	var cnt customerapi.CountResult
	e.must(200, "GET", "/v1/organisations?count=true", owner, nil, &cnt)
	if cnt.Count != 2 {
		t.Fatalf("count = %d, want 2 (own + created)", cnt.Count)
	}
	var recs []customerapi.OrganisationRecord
	e.must(200, "GET", "/v1/organisations/by-ids?ids="+org.ID+","+myOrg, owner, nil, &recs)
	if len(recs) != 2 || recs[0].CompanyHoldingNumber != holding {
		t.Fatalf("by ids = %+v", recs)
	}
	e.must(200, "GET", "/v1/organisations/"+org.ID, owner, nil, &org)
	e.must(200, "PATCH", "/v1/organisations/"+org.ID, owner, map[string]any{"name": "Manor Farm Partners LLP", "vetted": true}, &org)
	if org.Name != "Manor Farm Partners LLP" || !org.Vetted {
		t.Fatalf("patched = %+v", org)
	}
	e.must(200, "PUT", "/v1/organisations/"+org.ID+"/advance-pay", owner, map[string]any{"accountName": "Manor", "sortCode": "12-34-56", "accountNumber": "12345678"}, nil)
	e.must(200, "POST", "/v1/organisations/"+org.ID+"/activate", owner, nil, &org)
	if org.Status != "active" {
		t.Fatalf("status = %s", org.Status)
	}
	e.must(200, "POST", "/v1/organisations/"+org.ID+"/modules", owner, map[string]any{"id": "storage", "price": map[string]any{"amount": 5, "currency": "GBP"}}, &org)
	e.must(200, "POST", "/v1/organisations/"+org.ID+"/modules/remove", owner, map[string]string{"id": "storage"}, &org)
	if len(org.Modules) != 1 {
		t.Fatalf("modules = %+v", org.Modules)
	}
	e.must(200, "POST", "/v1/organisations/"+org.ID+"/modules/request", owner, map[string]string{"id": "logistics"}, nil)
	if got := e.srv.ReadCodes("slack"); len(got) != 1 || got[0].Code != "logistics" {
		t.Fatalf("slack = %+v", got)
	}
	e.must(200, "POST", "/v1/organisations/"+org.ID+"/cognito-sync", owner, nil, nil)

	// Business units and businesses.
	var bu customerapi.BusinessUnit
	e.must(200, "POST", "/v1/business-units", owner, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: "Home Farm", Type: customerapi.BusinessUnitFarm,
		Business: &customerapi.BusinessInput{Name: "Home Farm", PhoneNumber: "+44 1234 567890", HoldingNumber: holding, AssuranceScheme: customerapi.SchemeRT}}, &bu)
	if bu.Business == nil || bu.Business.Assurance == nil || bu.Business.Assurance.CertificateIdentifier != cert.CertificateIdentifier {
		t.Fatalf("business unit assurance = %+v", bu.Business)
	}
	var sum customerapi.BusinessUnitsSummary
	e.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units/summary", owner, nil, &sum)
	var obu customerapi.OrganisationBusinessUnits
	e.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units", owner, nil, &obu)
	if len(sum.BusinessUnits) != 1 || len(obu.BusinessUnits) != 1 {
		t.Fatalf("summary %d, units %d", len(sum.BusinessUnits), len(obu.BusinessUnits))
	}
	e.must(200, "PATCH", "/v1/business-units/"+bu.ID, owner, map[string]any{"name": "Home Farm East", "business": map[string]any{"email": "farm@manor.test"}}, &bu)
	var biz customerapi.Business
	e.must(200, "GET", "/v1/businesses/"+bu.Business.ID, owner, nil, &biz)
	if biz.Email != "farm@manor.test" || biz.BusinessUnitID != bu.ID {
		t.Fatalf("business = %+v", biz)
	}
	var bizs []customerapi.Business
	e.must(200, "GET", "/v1/businesses?ids="+bu.ID, owner, nil, &bizs)
	if len(bizs) != 1 {
		t.Fatalf("businesses = %d", len(bizs))
	}
	var certs []customerapi.Certificate
	e.must(200, "GET", "/v1/red-tractor/certificates?country=GBR&postcode="+url.QueryEscape(cert.CertifiedSites[0].SitePostcode), owner, nil, &certs)
	if !slices.ContainsFunc(certs, func(c customerapi.Certificate) bool { return c.CertificateIdentifier == cert.CertificateIdentifier }) {
		t.Fatalf("certificate lookup by postcode missed %s", cert.CertificateIdentifier)
	}
	var ir customerapi.ImportResult
	e.upload(200, "/v1/business-units/import", owner, map[string]string{"organisationId": org.ID},
		"name,type,holdingNumber,postcode\nNorth Field,farm,12/345/6789,YO17 1AA\nBad Row,barn,,\n", &ir)
	if ir.Success != 1 || ir.Validation != 1 || ir.Results[1].Rows != "3" {
		t.Fatalf("bu import = %+v", ir)
	}

	// Imports on organisations and preferences.
	e.upload(200, "/v1/organisations/import", owner, nil,
		"name,countryISO,ownerEmail,ownerGivenName,ownerFamilyName,companyNumber\nField Co,GB,field@co.test,Al,Field,999\nNo Country,XX,x@co.test,A,B,1\n", &ir)
	if ir.Success != 1 || ir.Validation != 1 {
		t.Fatalf("org import = %+v", ir)
	}
	e.upload(200, "/v1/organisations/preferences/import", owner, nil, "email,commodity,grades,regions\n"+ownerEmail+",7,1;2,GB-ENG\n", &ir)
	e.upload(200, "/v1/organisations/preferences/set", owner, nil, "email,commodity,grades,regions\n"+ownerEmail+",8,3,GB-SCT\n", &ir)
	if ir.Success != 1 {
		t.Fatalf("set prefs = %+v", ir)
	}
	e.upload(200, "/v1/organisations/finmid-status/import", admin, nil, "organisationId,status\n"+org.ID+",active\n", &ir)
	if e.srv.FinmidStatus(org.ID) != "active" {
		t.Fatal("finmid status not stored")
	}

	// Users.
	var u customerapi.User
	e.must(200, "POST", "/v1/users", owner, map[string]any{"givenName": "Sam", "familyName": "Hand", "email": "sam@example.com", "phone": "+447700900999", "roles": []string{"member"}}, &u)
	var users []customerapi.User
	e.must(200, "GET", "/v1/users?limit=10&organisationId="+myOrg, owner, nil, &users)
	if len(users) != 2 {
		t.Fatalf("users = %d", len(users))
	}
	e.must(200, "PATCH", "/v1/users/"+u.ID, owner, map[string]any{"familyName": "Handley", "termsAgreed": true}, &u)
	if u.FamilyName != "Handley" || !u.Settings.Terms {
		t.Fatalf("patched user = %+v", u)
	}
	var sl customerapi.UserSummaryList
	e.must(200, "GET", "/v1/users/by-ids?ids="+u.ID, owner, nil, &sl)
	e.must(200, "GET", "/v1/users/summaries?ids="+u.ID+","+ownerID, owner, nil, &sl)
	if len(sl.Users) != 2 {
		t.Fatalf("summaries = %d", len(sl.Users))
	}
	e.must(200, "GET", "/v1/users/by-roles?include=owner", owner, nil, &sl)
	e.must(200, "GET", "/v1/users/by-commodity-regions?commodityId=8&regionISOs=GB-SCT", owner, nil, &sl)
	if len(sl.Users) != 1 || sl.Users[0].ID != ownerID {
		t.Fatalf("by commodity = %+v", sl.Users)
	}
	e.must(200, "GET", "/v1/users/by-preferences?preferences=8", owner, nil, &sl)
	var basic customerapi.UserSummary
	e.must(200, "GET", "/v1/users/"+u.ID+"/basic", owner, nil, &basic)
	e.must(200, "PUT", "/v1/users/me/buyer-preferences", owner, map[string]any{"preferences": []map[string]any{{"commodity": 3, "grades": []int{1}, "regions": []string{"GB"}}}, "notificationsEnabled": false}, &me)
	e.must(200, "POST", "/v1/users/lookup-by-phone", owner, map[string]string{"phone": "+447700900999"}, &me)
	if me.ID != u.ID {
		t.Fatalf("lookup by phone = %s, want %s", me.ID, u.ID)
	}
	e.must(200, "PATCH", "/v1/users/"+ownerID, owner, map[string]any{"email": "owner2@example.com"}, nil)
	code := e.srv.LastCode("owner2@example.com", "verify-attribute")
	e.must(200, "POST", "/v1/users/me/verify-attribute", owner, map[string]string{"code": code}, nil)
	e.must(200, "GET", "/v1/users/me", owner, nil, &me)
	if me.Email != "owner2@example.com" {
		t.Fatalf("email after verify = %s", me.Email)
	}

	// Business connections.
	conn := customerapi.BusinessConnectionRequest{Name: "Grain Haulage Ltd", CountryISO: "GB", CompanyNumber: "555", Relationship: customerapi.RelationshipCarrier,
		Contacts: []customerapi.ConnectionContactInput{{GivenName: "Haul", FamilyName: "Er", Email: "haul@grain.test", Phone: "+441234000111"}}}
	var bc customerapi.BusinessConnections
	e.must(200, "POST", "/v1/business-connections", owner, conn, &bc)
	if len(bc.ConnectedOrganisations) != 1 || len(bc.ConnectedOrganisations[0].Contacts) != 1 {
		t.Fatalf("connections = %+v", bc)
	}
	shell := bc.ConnectedOrganisations[0].OrganisationID
	contact := bc.ConnectedOrganisations[0].Contacts[0].ID
	if got := e.srv.ReadCodes("haul@grain.test"); len(got) != 0 {
		t.Fatalf("connection contacts must not be invited, got %+v", got)
	}
	e.must(409, "POST", "/v1/business-connections", owner, conn, nil)
	e.must(200, "GET", "/v1/business-connections?limit=10&offset=0", owner, nil, &bc)
	var chk customerapi.BusinessConnectionCheckResult
	e.must(200, "POST", "/v1/business-connections/check", owner, conn, &chk)
	if !chk.BlockNewConnection || len(chk.Organisations) != 1 {
		t.Fatalf("check = %+v", chk)
	}
	var inn struct {
		IsInNetwork bool `json:"isInNetwork"`
	}
	e.must(200, "POST", "/v1/business-connections/in-network", owner, map[string]string{"organisationId": shell}, &inn)
	if !inn.IsInNetwork {
		t.Fatal("shell organisation must be in network")
	}
	e.must(200, "POST", "/v1/business-connections/"+shell+"/relationships/trading", owner, nil, nil)
	var cu customerapi.User
	e.must(200, "POST", "/v1/business-connections/"+shell+"/contacts/"+contact, owner, nil, &cu)
	if !slices.ContainsFunc(cu.Profiles, func(p customerapi.UserProfileEntry) bool { return p.OrganisationID == myOrg }) {
		t.Fatalf("connected contact lacks access: %+v", cu.Profiles)
	}
	e.must(200, "DELETE", "/v1/business-connections/"+shell+"/contacts/"+contact, owner, nil, &cu)
	if slices.ContainsFunc(cu.Profiles, func(p customerapi.UserProfileEntry) bool { return p.OrganisationID == myOrg }) {
		t.Fatalf("disconnected contact keeps access: %+v", cu.Profiles)
	}
	e.must(200, "DELETE", "/v1/business-connections/"+shell, owner, nil, nil)
	e.must(200, "POST", "/v1/business-connections/in-network", owner, map[string]string{"organisationId": shell}, &inn)
	if inn.IsInNetwork {
		t.Fatal("deleted connection still in network")
	}

	// ApiTokens.
	var m customerapi.Message
	e.must(200, "POST", "/v1/auth/api-tokens", owner, customerapi.GenerateAPITokenRequest{UserID: ownerID, Hours: 1, Roles: []string{"owner"}}, &m)
	var p customerapi.Profile
	e.must(200, "POST", "/v1/auth/api-tokens/authenticate", "", map[string]string{"token": m.Message}, &p)
	if p.Tokens == nil || p.Tokens.Access == "" {
		t.Fatal("api token authentication gave no tokens")
	}
	e.must(200, "POST", "/v1/users/api-tokens", owner, customerapi.GenerateAPITokenRequest{UserID: ownerID, Hours: 2, Roles: []string{"owner"}}, &m)
	e.must(200, "POST", "/v1/users/api-tokens/authenticate", "", map[string]string{"token": m.Message}, &p)

	// Password flows, with codes read from the control surface.
	e.must(200, "POST", "/v1/auth/admin/reset-password", admin, map[string]string{"username": "sam@example.com"}, nil)
	tmp := e.srv.LastCode("sam@example.com", "temporary-password")
	e.must(200, "POST", "/v1/auth/login", "", map[string]string{"username": "sam@example.com", "password": tmp}, &lr)
	if lr.Challenge == nil || lr.Challenge.ChallengeName != customerapi.ChallengeNewPasswordRequired {
		t.Fatalf("want challenge, got %+v", lr)
	}
	e.must(200, "POST", "/v1/auth/admin/set-password", admin, map[string]string{"username": "sam@example.com", "password": "S4mPassword"}, nil)
	sam := e.login("sam@example.com", "S4mPassword").Access
	e.must(200, "POST", "/v1/auth/change-password", sam, map[string]string{"oldPassword": "S4mPassword", "newPassword": "S4mPassword2", "confirmNewPassword": "S4mPassword2"}, nil)
	e.must(200, "POST", "/v1/auth/marketplace/change-password", "", map[string]string{"email": "sam@example.com", "oldPassword": "S4mPassword2", "newPassword": "S4mPassword3", "confirmNewPassword": "S4mPassword3"}, &lr)
	if lr.Tokens == nil {
		t.Fatal("marketplace change password gave no tokens")
	}
	e.must(200, "POST", "/v1/auth/forgotten-password", "", map[string]string{"username": "sam@example.com"}, nil)
	reset := e.srv.LastCode("sam@example.com", "reset-password")
	e.must(200, "POST", "/v1/auth/reset-password", "", map[string]string{"username": "sam@example.com", "password": "S4mPassword4", "passwordConfirm": "S4mPassword4", "confirmationCode": reset}, nil)
	e.login("sam@example.com", "S4mPassword4")

	e.must(200, "POST", "/v1/admin/cognito-users", admin, map[string]any{"email": "ops@example.com", "password": "0psPassword", "givenName": "Op", "familyName": "S", "readonly": false}, nil)
	e.must(403, "POST", "/v1/auth/login", "", map[string]string{"username": "ops@example.com", "password": "0psPassword"}, nil)
	var opsUser customerapi.User
	e.must(200, "GET", "/v1/users/"+e.srv.UserID("ops@example.com")+"/basic", admin, nil, &opsUser)
	e.must(200, "POST", "/v1/auth/confirm-signup", "", map[string]string{"username": opsUser.AuthPlatformID, "confirmationCode": e.srv.LastCode("ops@example.com", "signup")}, nil)
	e.login("ops@example.com", "0psPassword")
	var swap struct {
		Status        string `json:"status"`
		Authenticated bool   `json:"authenticated"`
	}
	e.must(200, "POST", "/v1/auth/swap-pool", "", map[string]string{"username": "nobody@example.com"}, &swap)
	if swap.Status != "not-found" {
		t.Fatalf("swap = %+v", swap)
	}
	e.must(200, "POST", "/v1/auth/magic-link", "", map[string]string{"id": u.ID, "redirect": "https://app.example.com/welcome"}, nil)
	link := e.srv.LastCode("sam@example.com", "magic-link")
	e.must(200, "POST", "/v1/auth/magic-link/verify", "", map[string]string{"id": link}, nil)
	e.must(400, "POST", "/v1/auth/magic-link/verify", "", map[string]string{"id": link}, nil)
	e.must(200, "POST", "/v1/users/full-account-requests", "", map[string]any{"requestType": "account", "firstName": "A", "lastName": "B",
		"businessName": "AB Farms", "companyNumber": nil, "emailAddress": "ab@farms.test", "phone": "+447700900555"}, nil)
	e.must(200, "PUT", "/v1/system/settings", admin, map[string]any{"logging": map[string]string{"level": "debug", "filter": "customers"}}, nil)
	if lvl, _ := e.srv.SystemSettings(); lvl != "debug" {
		t.Fatalf("log level = %q", lvl)
	}
	e.must(200, "PUT", "/v1/organisations/me/owner", owner, map[string]string{"newOwnerUserId": u.ID}, &org)
	if org.OwnerContact.ID != u.ID {
		t.Fatalf("owner = %s", org.OwnerContact.ID)
	}

	// Coverage: every operation of the contract, as counted from the document.
	want := e.v.Operations()
	seen := e.v.Seen()
	var missing []string
	for _, op := range want {
		if seen[op] == 0 {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("operations not walked: %s", strings.Join(missing, ", "))
	}
	for op := range seen {
		if !slices.Contains(want, op) {
			t.Errorf("walked an operation not in the contract: %s", op)
		}
	}
	if got := e.srv.Operations(); !slices.Equal(got, want) {
		t.Errorf("server operations differ from the contract:\nserver   %v\ncontract %v", got, want)
	}
	t.Logf("walked %d of %d contract operations", len(seen), len(want))
}

// TestContractValidatorBites makes sure the validation used by the walk
// rejects answers and requests that break the contract.
func TestContractValidatorBites(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	req, _ := http.NewRequest("GET", e.ts.URL+"/v1/organisations", nil)
	if err := e.v.ValidateResponse(req, 200, http.Header{"Content-Type": {"application/json"}}, []byte(`[{"id":5}]`)); err == nil {
		t.Error("a number id passed as an Organisation")
	}
	if err := e.v.ValidateResponse(req, 400, http.Header{"Content-Type": {"application/json"}}, []byte(`{"status":"bad","message":"x"}`)); err == nil {
		t.Error("a string status passed as an ErrorResponse")
	}
	bad, _ := http.NewRequest("POST", e.ts.URL+"/v1/business-units", strings.NewReader(`{"organisationId":"o","name":"n","type":"barn"}`))
	bad.Header.Set("Content-Type", "application/json")
	if err := e.v.ValidateRequest(bad); err == nil {
		t.Error("a business unit of type barn passed")
	}
}
