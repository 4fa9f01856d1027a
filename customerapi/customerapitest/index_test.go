package customerapitest_test

import (
	"net/url"
	"path/filepath"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// The tests below change the values the server's indexes are kept by and
// check that look-ups see the new values and not the old ones. (Every test
// that uses an env also checks, at its end, that each indexed look-up
// answers as a scan over all records would: see envFor.)

func orgRequest(name, number, email string) customerapi.CreateOrganisationRequest {
	r := customerapi.CreateOrganisationRequest{
		Location:     &customerapi.Location{Address: &customerapi.Address{Line1: name, Postcode: "YO17 9AB", CountryISO: "GB"}},
		Name:         name,
		CountryISO:   "GB",
		OwnerContact: &customerapi.ContactInput{Email: email, GivenName: "Jo", FamilyName: "Farmer"},
		Billing:      &customerapi.Billing{Amount: 10, Currency: "GBP", Period: "month"},
		Modules:      []customerapi.Module{{ID: "trading", Name: "Trading"}},
	}
	if number != "" {
		r.Company = &customerapi.Company{Number: number}
	}
	return r
}

func ptr[T any](v T) *T { return &v }

func TestDuplicateOrganisationFollowsRenames(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	var a customerapi.Organisation
	e.must(200, "POST", "/v1/organisations", tok, orgRequest("Alpha Farm", "AF001", "alpha@farm.test"), &a)
	// Name and number compare trimmed and without case.
	e.must(409, "POST", "/v1/organisations", tok, orgRequest("  ALPHA farm ", "af001", "alpha2@farm.test"), nil)
	e.must(200, "POST", "/v1/organisations", tok, orgRequest("Alpha Farm", "AF009", "alpha3@farm.test"), nil)

	// Renamed and renumbered: the old name and number are free, the new ones taken.
	e.must(200, "PATCH", "/v1/organisations/"+a.ID, tok, customerapi.UpdateOrganisationRequest{Name: ptr("Beta Farm"), CompanyNumber: ptr("BF002")}, nil)
	e.must(409, "POST", "/v1/organisations", tok, orgRequest("beta FARM", "bf002", "beta@farm.test"), nil)
	var a2 customerapi.Organisation
	e.must(200, "POST", "/v1/organisations", tok, orgRequest("Alpha Farm", "AF001", "alpha4@farm.test"), &a2)

	// Renumbered through its company: the number compared is the company's.
	e.must(200, "PATCH", "/v1/organisations/"+a.ID, tok, customerapi.UpdateOrganisationRequest{Company: &customerapi.Company{Number: "BF003"}}, nil)
	e.must(200, "POST", "/v1/organisations", tok, orgRequest("Beta Farm", "BF002", "beta2@farm.test"), nil)
	e.must(409, "POST", "/v1/organisations", tok, orgRequest("Beta Farm", "bf003", "beta3@farm.test"), nil)

	// An organisation may keep (or re-case) its own name and number, but not
	// take another's; a refused change changes nothing.
	e.must(200, "PATCH", "/v1/organisations/"+a.ID, tok, customerapi.UpdateOrganisationRequest{Name: ptr("BETA FARM")}, nil)
	e.must(409, "PATCH", "/v1/organisations/"+a.ID, tok, customerapi.UpdateOrganisationRequest{Name: ptr("Alpha Farm"), CompanyNumber: ptr("AF001")}, nil)
	e.must(409, "POST", "/v1/organisations", tok, orgRequest("Beta Farm", "BF003", "beta4@farm.test"), nil)

	// A deleted organisation's name and number are free again.
	if err := e.srv.DeleteOrganisation(a2.ID); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", "/v1/organisations", tok, orgRequest("Alpha Farm", "AF001", "alpha5@farm.test"), nil)

	// The CSV import checks against, and adds to, the same index.
	var res customerapi.ImportResult
	e.upload(200, "/v1/organisations/import", tok, nil,
		"name,countryISO,ownerEmail,ownerGivenName,ownerFamilyName,companyNumber\n"+
			"Gamma Farm,GB,gamma@farm.test,G,F,GF1\n"+
			"gamma farm,GB,gamma2@farm.test,G,F,gf1\n"+
			"Beta Farm,GB,beta5@farm.test,G,F,BF003\n", &res)
	if res.Success != 1 || res.Errors != 2 {
		t.Fatalf("import = %+v", res)
	}
	e.must(409, "POST", "/v1/organisations", tok, orgRequest("GAMMA FARM", "GF1", "gamma3@farm.test"), nil)
}

func TestEmailIndexFollowsChanges(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	newUser := func(want int, email string) customerapi.User {
		t.Helper()
		var u customerapi.User
		var out any
		if want == 200 {
			out = &u
		}
		e.must(want, "POST", "/v1/users", tok, customerapi.CreateUserRequest{GivenName: "C", FamilyName: "U", Email: email, Phone: ptr("")}, out)
		return u
	}
	carol := newUser(200, "carol@farm.test")
	newUser(409, "CAROL@Farm.Test")

	// Carol changes her address: once verified, the old one is free and the new one hers.
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: "carol@farm.test",
		Password: e.srv.LastCode("carol@farm.test", "temporary-password"), NewPassword: "Carol1Pass"}, &lr)
	ctok := lr.Tokens.Access
	e.must(200, "PATCH", "/v1/users/"+carol.ID, ctok, customerapi.PatchUserRequest{Email: ptr("carol.new@farm.test")}, nil)
	// A pending change claims nothing (as the platform does): another user
	// may take the address meanwhile, and then two users have it. Look-ups
	// by address find the one created first, as a scan in creation order did.
	twin := newUser(200, "carol.new@farm.test")
	e.must(200, "POST", "/v1/users/me/verify-attribute", ctok, map[string]string{"code": e.srv.LastCode("carol.new@farm.test", "verify-attribute")}, nil)
	if id := e.srv.UserID("Carol.New@farm.test"); id != carol.ID || twin.ID == carol.ID {
		t.Fatalf("UserID(new address) = %q, want %q (not %q)", id, carol.ID, twin.ID)
	}
	e.login("carol.new@farm.test", "Carol1Pass")
	newUser(409, "CAROL.NEW@farm.test")
	other := newUser(200, "carol@farm.test")
	if other.ID == carol.ID || e.srv.UserID("carol@farm.test") != other.ID {
		t.Fatalf("the old address still finds carol")
	}

	// An organisation's owner gets a new address through the organisation.
	org, _ := e.newFarm(tok, "Dave Farm", "dave@farm.test")
	daveID := org.OwnerContact.ID
	e.must(200, "PATCH", "/v1/organisations/"+org.ID, tok, customerapi.UpdateOrganisationRequest{
		OwnerContact: &customerapi.ContactInput{Email: "dave2@farm.test", GivenName: "Dave", FamilyName: "Farmer"}}, nil)
	if id := e.srv.UserID("DAVE2@farm.test"); id != daveID {
		t.Fatalf("UserID(dave2) = %q, want %q", id, daveID)
	}
	newUser(409, "dave2@farm.test")
	newUser(200, "dave@farm.test")

	// Deleting an organisation deletes its users: their addresses are free.
	org, _ = e.newFarm(tok, "Erin Farm", "erin@farm.test")
	if err := e.srv.DeleteOrganisation(org.ID); err != nil {
		t.Fatal(err)
	}
	if id := e.srv.UserID("erin@farm.test"); id != "" {
		t.Fatalf("deleted user still found: %s", id)
	}
	org, _ = e.newFarm(tok, "Erin Farm", "erin@farm.test")
	if id := e.srv.UserID("erin@farm.test"); id != org.OwnerContact.ID {
		t.Fatalf("UserID(erin) = %q, want the new owner %q", id, org.OwnerContact.ID)
	}

	// A reset forgets every user but the configured ones.
	e.srv.Reset()
	if e.srv.UserID("carol@farm.test") != "" || e.srv.UserID(ownerEmail) == "" {
		t.Fatal("reset kept the users it should have dropped, or dropped the configured ones")
	}
	tok = e.login(ownerEmail, ownerPass).Access
	newUser(200, "carol@farm.test")
}

func TestPhoneIndexFollowsChanges(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	var u customerapi.User
	e.must(200, "POST", "/v1/users", tok, customerapi.CreateUserRequest{GivenName: "P", FamilyName: "U", Email: "phone@farm.test", Phone: ptr("+447700900111")}, &u)
	lookup := func(phone string) customerapi.User {
		t.Helper()
		var found customerapi.User
		e.must(200, "POST", "/v1/users/lookup-by-phone", tok, map[string]string{"phone": phone}, &found)
		return found
	}
	if got := lookup("+44 7700 900111"); got.ID != u.ID {
		t.Fatalf("lookup = %s, want %s", got.ID, u.ID)
	}
	e.must(200, "PATCH", "/v1/users/"+u.ID, tok, customerapi.PatchUserRequest{Phone: ptr("+447700900222")}, nil)
	if got := lookup("+447700900222"); got.ID != u.ID {
		t.Fatalf("lookup(new phone) = %s, want %s", got.ID, u.ID)
	}
	placeholder := lookup("+447700900111") // nobody's now: a placeholder user is made
	if placeholder.ID == u.ID || placeholder.Status != "pending" {
		t.Fatalf("lookup(old phone) = %+v", placeholder)
	}
	if got := lookup("+447700900111"); got.ID != placeholder.ID {
		t.Fatalf("lookup(old phone) again = %s, want the placeholder %s", got.ID, placeholder.ID)
	}
	e.must(200, "PATCH", "/v1/users/"+u.ID, tok, customerapi.PatchUserRequest{Phone: ptr("")}, nil)
	if got := lookup("+447700900222"); got.ID == u.ID {
		t.Fatal("a user without a phone is still found by its old phone")
	}
}

func TestBusinessUnitIndexFollowsChanges(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	org, home := e.newFarm(tok, "Unit Farm", "units@farm.test")
	other, otherHome := e.newFarm(tok, "Other Farm", "units2@farm.test")
	create := func(want int, orgID, name string) customerapi.BusinessUnit {
		t.Helper()
		var b customerapi.BusinessUnit
		e.must(want, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{OrganisationID: orgID, Name: name, Type: customerapi.BusinessUnitStores}, &b)
		return b
	}
	list := func(orgID string) []customerapi.BusinessUnit {
		t.Helper()
		var l customerapi.OrganisationBusinessUnits
		e.must(200, "GET", "/v1/organisations/"+orgID+"/business-units", tok, nil, &l)
		return l.BusinessUnits
	}
	b2 := create(200, org.ID, "North Store")
	b3 := create(200, org.ID, "South Store")
	create(409, org.ID, "north STORE")
	create(200, other.ID, "North Store") // names are unique per organisation
	want := []string{home.ID, b2.ID, b3.ID}
	got := list(org.ID)
	if len(got) != len(want) {
		t.Fatalf("units = %+v", got)
	}
	for i, b := range got {
		if b.ID != want[i] || b.Ordinal != i+1 {
			t.Fatalf("unit %d = %s #%d, want %s #%d", i, b.ID, b.Ordinal, want[i], i+1)
		}
	}

	// Renamed: the old name is free, the new one taken.
	e.must(200, "PATCH", "/v1/business-units/"+b2.ID, tok, customerapi.UpdateBusinessUnitRequest{Name: ptr("East Store")}, nil)
	create(409, org.ID, "East Store")
	if b4 := create(200, org.ID, "North Store"); b4.Ordinal != 4 {
		t.Fatalf("fourth unit has ordinal %d", b4.Ordinal)
	}
	var sum customerapi.BusinessUnitsSummary
	e.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units/summary", tok, nil, &sum)
	if len(sum.BusinessUnits) != 4 || sum.BusinessUnits[1].Name != "East Store" || sum.BusinessUnits[3].Name != "North Store" {
		t.Fatalf("summary = %+v", sum.BusinessUnits)
	}

	// Deleted with the organisation: its units and their businesses go,
	// another organisation's stay.
	if err := e.srv.DeleteOrganisation(org.ID); err != nil {
		t.Fatal(err)
	}
	var biz []customerapi.Business
	e.must(200, "GET", "/v1/businesses?ids="+url.QueryEscape(home.ID+","+otherHome.ID), tok, nil, &biz)
	if len(biz) != 1 || biz[0].BusinessUnitID != otherHome.ID {
		t.Fatalf("businesses after the deletion = %+v", biz)
	}
	if l := list(other.ID); len(l) != 2 || l[0].ID != otherHome.ID {
		t.Fatalf("the other organisation's units = %+v", l)
	}
	again, _ := e.newFarm(tok, "Unit Farm", "units3@farm.test")
	if l := list(again.ID); len(l) != 1 || l[0].Ordinal != 1 {
		t.Fatalf("a new organisation's units = %+v", l)
	}
}

func TestCertificateIndexFollowsPublication(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	certs := func(query string) []customerapi.Certificate {
		t.Helper()
		var out []customerapi.Certificate
		e.must(200, "GET", "/v1/red-tractor/certificates?country=GBR&"+query, tok, nil, &out)
		return out
	}
	site := func(holding, postcode string) []customerapi.CertifiedSite {
		return []customerapi.CertifiedSite{{SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: holding},
			IsPrimary: true, SiteCountry: "GBR", SitePostcode: postcode}}
	}
	if n := len(certs("holdingNumber=98/765/4321")); n != 0 {
		t.Fatalf("%d certificates before publication", n)
	}
	c1 := customerapi.Certificate{CertificateStatus: customerapi.CertificateValid, CertificateIdentifier: "IDX-1",
		CertificateEnterprises: []customerapi.CertificateEnterprise{}, CertificateExpiryDate: "2030-01-31T00:00:00.000+00:00",
		CertifiedSites: site("98/765/4321", "ZZ1 1ZZ")}
	e.srv.AddCertificates(c1)
	if got := certs("holdingNumber=98/765/4321"); len(got) != 1 || got[0].CertificateIdentifier != "IDX-1" {
		t.Fatalf("by holding = %+v", got)
	}
	if got := certs("postcode=zz11zz"); len(got) != 1 || got[0].CertificateIdentifier != "IDX-1" {
		t.Fatalf("by postcode = %+v", got)
	}
	var unit customerapi.BusinessUnit
	e.must(200, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{OrganisationID: e.srv.OrganisationID(ownerEmail), Name: "Assured",
		Type: customerapi.BusinessUnitFarm, Business: &customerapi.BusinessInput{HoldingNumber: "98/765/4321"}}, &unit)
	if unit.Business == nil || unit.Business.Assurance == nil || unit.Business.Assurance.CertificateIdentifier != "IDX-1" {
		t.Fatalf("business assurance = %+v", unit.Business)
	}

	// Republished with another site: found by the new one only.
	n := len(e.srv.Certificates())
	c1.CertifiedSites = site("98/765/4322", "ZZ2 2ZZ")
	e.srv.AddCertificates(c1)
	if len(e.srv.Certificates()) != n {
		t.Fatal("republication added a certificate")
	}
	if got := certs("holdingNumber=98/765/4321"); len(got) != 0 {
		t.Fatalf("found by its old holding: %+v", got)
	}
	if got := certs("postcode=ZZ1%201ZZ"); len(got) != 0 {
		t.Fatalf("found by its old postcode: %+v", got)
	}
	if got := certs("holdingNumber=98/765/4322&postcode=ZZ2%202ZZ"); len(got) != 1 {
		t.Fatalf("by its new site = %+v", got)
	}

	// Another certificate for the same holding: both, in publication order.
	c2 := c1
	c2.CertificateIdentifier = "IDX-2"
	e.srv.AddCertificates(c2)
	if got := certs("holdingNumber=98/765/4322"); len(got) != 2 || got[0].CertificateIdentifier != "IDX-1" || got[1].CertificateIdentifier != "IDX-2" {
		t.Fatalf("by holding = %+v", got)
	}
}

func TestIndexesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	opts := defaultOptions(customerapitest.Options{StatePath: path})
	cert := customerapi.Certificate{CertificateStatus: customerapi.CertificateValid, CertificateIdentifier: "RESTART-1",
		CertificateEnterprises: []customerapi.CertificateEnterprise{}, CertificateExpiryDate: "2030-01-31T00:00:00.000+00:00",
		CertifiedSites: []customerapi.CertifiedSite{{SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: "11/222/3333"},
			SiteCountry: "GBR", SitePostcode: "AB1 2CD"}}}

	s1 := openServer(t, opts)
	e1 := envFor(t, s1)
	tok := e1.login(ownerEmail, ownerPass).Access
	s1.AddCertificates(cert)
	org, home := e1.newFarm(tok, "Restart Farm", "restart@farm.test")
	var b2 customerapi.BusinessUnit
	e1.must(200, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: "Second", Type: customerapi.BusinessUnitStores}, &b2)
	var u customerapi.User
	e1.must(200, "POST", "/v1/users", tok, customerapi.CreateUserRequest{GivenName: "R", FamilyName: "U", Email: "Phone.User@farm.test", Phone: ptr("+447700900333")}, &u)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	e1.ts.Close()

	s2 := openServer(t, opts)
	e2 := envFor(t, s2)
	// Log in by user id (a login name the server accepts).
	var lr customerapi.LoginResponse
	e2.must(200, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: s2.UserID(ownerEmail), Password: ownerPass}, &lr)
	tok = lr.Tokens.Access
	e2.must(409, "POST", "/v1/organisations", tok, orgRequest(" restart FARM", "", "restart2@farm.test"), nil)
	e2.must(409, "POST", "/v1/users", tok, customerapi.CreateUserRequest{GivenName: "R", FamilyName: "U", Email: "phone.user@FARM.test", Phone: ptr("")}, nil)
	e2.must(409, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: "SECOND", Type: customerapi.BusinessUnitStores}, nil)
	var b3 customerapi.BusinessUnit
	e2.must(200, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: "Third", Type: customerapi.BusinessUnitStores}, &b3)
	var units customerapi.OrganisationBusinessUnits
	e2.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units", tok, nil, &units)
	if l := units.BusinessUnits; len(l) != 3 || l[0].ID != home.ID || l[1].ID != b2.ID || l[2].ID != b3.ID || b3.Ordinal != 3 {
		t.Fatalf("units after restart = %+v (new unit #%d)", l, b3.Ordinal)
	}
	var found customerapi.User
	e2.must(200, "POST", "/v1/users/lookup-by-phone", tok, map[string]string{"phone": "+447700900333"}, &found)
	if found.ID != u.ID {
		t.Fatalf("lookup by phone after restart = %s, want %s", found.ID, u.ID)
	}
	var certs []customerapi.Certificate
	e2.must(200, "GET", "/v1/red-tractor/certificates?country=GBR&holdingNumber=11/222/3333", tok, nil, &certs)
	if len(certs) != 1 || certs[0].CertificateIdentifier != "RESTART-1" {
		t.Fatalf("certificates after restart = %+v", certs)
	}
	// Republishing at start replaces the saved certificate.
	n := len(s2.Certificates())
	s2.AddCertificates(cert)
	if len(s2.Certificates()) != n {
		t.Fatal("republishing after a restart duplicated a certificate")
	}
}
