package customerapitest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

func TestSetOrganisationStatus(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	org, _ := e.newFarm(tok, "Status Farm", "status@farm.test")

	// Go.
	if err := e.srv.SetOrganisationStatus(org.ID, "inactive"); err != nil {
		t.Fatal(err)
	}
	var got customerapi.Organisation
	e.must(200, "GET", "/v1/organisations/"+org.ID, tok, nil, &got)
	if got.Status != "inactive" {
		t.Fatalf("status = %q, want inactive", got.Status)
	}
	if err := e.srv.SetOrganisationStatus(org.ID, "shell"); !errors.Is(err, customerapitest.ErrInvalid) {
		t.Fatalf("bad status: %v, want ErrInvalid", err)
	}
	if err := e.srv.SetOrganisationStatus("no-such-org", "active"); !errors.Is(err, customerapitest.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}

	// HTTP.
	status, body := e.control("PUT", "/_reference/organisations/"+org.ID+"/status", `{"status":"suspended"}`)
	if status != 200 {
		t.Fatalf("PUT status: %d %s", status, body)
	}
	if err := json.Unmarshal(body, &got); err != nil || got.ID != org.ID || got.Status != "suspended" {
		t.Fatalf("PUT status answer %s (%v)", body, err)
	}
	var list []customerapi.Organisation
	e.must(200, "GET", "/v1/organisations?status=suspended", tok, nil, &list)
	if len(list) != 1 || list[0].ID != org.ID {
		t.Fatalf("suspended organisations = %+v", list)
	}
	var recs []customerapi.OrganisationRecord
	e.must(200, "GET", "/v1/organisations/by-ids?ids="+org.ID, tok, nil, &recs)
	if len(recs) != 1 || recs[0].Status != "suspended" {
		t.Fatalf("by-ids = %+v", recs)
	}
	for _, c := range []struct {
		id, body string
		want     int
	}{
		{org.ID, `{"status":"closed"}`, 400},
		{org.ID, `{}`, 400},
		{org.ID, `{"status":`, 400},
		{org.ID, ``, 400},
		{"no-such-org", `{"status":"active"}`, 404},
	} {
		if status, body := e.control("PUT", "/_reference/organisations/"+c.id+"/status", c.body); status != c.want {
			t.Errorf("PUT %s %s: %d %s, want %d", c.id, c.body, status, body, c.want)
		}
	}
	e.must(200, "GET", "/v1/organisations/"+org.ID, tok, nil, &got)
	if got.Status != "suspended" {
		t.Fatalf("rejected requests changed the status to %q", got.Status)
	}
}

// deleted checks that every look-up of a deleted organisation answers as if
// it never existed.
func (e *env) deleted(tok string, org customerapi.Organisation, bu customerapi.BusinessUnit, ownerID string) {
	e.t.Helper()
	e.must(404, "GET", "/v1/organisations/"+org.ID, tok, nil, nil)
	e.must(404, "PATCH", "/v1/organisations/"+org.ID, tok, map[string]string{"name": "back"}, nil)
	e.must(404, "GET", "/v1/organisations/"+org.ID+"/business-units", tok, nil, nil)
	e.must(404, "PATCH", "/v1/business-units/"+bu.ID, tok, map[string]string{"name": "back"}, nil)
	e.must(404, "GET", "/v1/businesses/"+bu.Business.ID, tok, nil, nil)
	e.must(404, "GET", "/v1/users/"+ownerID+"/basic", tok, nil, nil)
	var list []customerapi.Organisation
	e.must(200, "GET", "/v1/organisations?limit=1000", tok, nil, &list)
	for _, o := range list {
		if o.ID == org.ID {
			e.t.Fatal("deleted organisation still listed")
		}
		for _, c := range o.BusinessConnections {
			if c.OrganisationID == org.ID {
				e.t.Fatalf("organisation %s still connected to the deleted one", o.ID)
			}
		}
	}
	var recs []customerapi.OrganisationRecord
	e.must(200, "GET", "/v1/organisations/by-ids?ids="+org.ID, tok, nil, &recs)
	if len(recs) != 0 {
		e.t.Fatalf("by-ids found the deleted organisation: %+v", recs)
	}
	var bizs []customerapi.Business
	e.must(200, "GET", "/v1/businesses?ids="+bu.ID, tok, nil, &bizs)
	if len(bizs) != 0 {
		e.t.Fatalf("businesses of deleted business units: %+v", bizs)
	}
	var users customerapi.UserSummaryList
	e.must(200, "GET", "/v1/users/by-ids?ids="+ownerID, tok, nil, &users)
	if len(users.Users) != 0 {
		e.t.Fatalf("by-ids found the deleted owner: %+v", users)
	}
	var all []customerapi.User
	e.must(200, "GET", "/v1/users?organisationId="+org.ID, tok, nil, &all)
	if len(all) != 0 {
		e.t.Fatalf("users of the deleted organisation: %+v", all)
	}
}

func TestDeleteOrganisationGo(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	admin := e.login(adminEmail, adminPass).Access
	org, bu := e.newFarm(tok, "Doomed Farm", "doomed@farm.test")
	keep, keepBU := e.newFarm(tok, "Kept Farm", "kept@farm.test")
	ownerID := e.srv.UserID("doomed@farm.test")
	// The owner of the doomed organisation logs in; a connection from the
	// caller's organisation names it as a contact.
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: "doomed@farm.test",
		Password: e.srv.LastCode("doomed@farm.test", "temporary-password"), NewPassword: "Doomed1Pass"}, &lr)
	e.must(200, "POST", "/v1/business-connections", tok, customerapi.BusinessConnectionRequest{ID: org.ID,
		Relationship: customerapi.RelationshipTrading, Contacts: []customerapi.ConnectionContactInput{{ID: ownerID}}}, nil)

	if err := e.srv.DeleteOrganisation(org.ID); err != nil {
		t.Fatal(err)
	}
	e.deleted(tok, org, bu, ownerID)
	e.deleted(admin, org, bu, ownerID)
	if e.srv.UserID("doomed@farm.test") != "" || e.srv.OrganisationID("doomed@farm.test") != "" {
		t.Fatal("owner of the deleted organisation still known")
	}
	// Its users can no longer log in, and their sessions are gone.
	e.must(401, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: "doomed@farm.test", Password: "Doomed1Pass"}, nil)
	e.must(401, "GET", "/v1/profile", lr.Tokens.Access, nil, nil)
	e.must(401, "POST", "/v1/auth/refresh", "", map[string]string{"refresh": lr.Tokens.Refresh}, nil)
	var conns customerapi.BusinessConnections
	e.must(200, "GET", "/v1/business-connections", tok, nil, &conns)
	if len(conns.ConnectedOrganisations) != 0 {
		t.Fatalf("connections after deletion: %+v", conns)
	}
	// Other organisations are untouched.
	var got customerapi.Organisation
	e.must(200, "GET", "/v1/organisations/"+keep.ID, tok, nil, &got)
	if len(got.BusinessUnits) != 1 || got.BusinessUnits[0].ID != keepBU.ID {
		t.Fatalf("kept organisation = %+v", got)
	}
	// The owner's address is free again, and the name too.
	again, _ := e.newFarm(tok, "Doomed Farm", "doomed@farm.test")
	if again.ID == org.ID {
		t.Fatal("a new organisation reused the deleted id")
	}
	if err := e.srv.DeleteOrganisation(org.ID); !errors.Is(err, customerapitest.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func TestDeleteOrganisationHTTP(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	org, bu := e.newFarm(tok, "Gone Farm", "gone@farm.test")
	ownerID := e.srv.UserID("gone@farm.test")

	status, body := e.control("DELETE", "/_reference/organisations/"+org.ID, "")
	if status != 200 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	var sum struct {
		OrganisationID string   `json:"organisationId"`
		BusinessUnits  []string `json:"businessUnits"`
		Businesses     []string `json:"businesses"`
		Users          []string `json:"users"`
	}
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.OrganisationID != org.ID || len(sum.BusinessUnits) != 1 || sum.BusinessUnits[0] != bu.ID ||
		len(sum.Businesses) != 1 || sum.Businesses[0] != bu.Business.ID || len(sum.Users) != 1 || sum.Users[0] != ownerID {
		t.Fatalf("deletion summary = %s", body)
	}
	e.deleted(tok, org, bu, ownerID)
	if status, body := e.control("DELETE", "/_reference/organisations/"+org.ID, ""); status != 404 || !strings.Contains(string(body), "not found") {
		t.Fatalf("DELETE again: %d %s", status, body)
	}

	// Deleting the caller's own organisation ends its sessions.
	other := e.login(otherEmail, otherPass).Access
	if status, body := e.control("DELETE", "/_reference/organisations/"+e.srv.OrganisationID(otherEmail), ""); status != 200 {
		t.Fatalf("DELETE own: %d %s", status, body)
	}
	e.must(401, "GET", "/v1/profile", other, nil, nil)
	// The seeded user's address can be used for a new organisation.
	e.newFarm(tok, "Other Again", otherEmail)
}

// TestEditFarmBusinessAsPlatformUser: a platform user (the organisation's
// manager, or an administrator) edits an organisation's farm business with
// PATCH /v1/business-units/{id}; no Go helper is needed for that.
func TestEditFarmBusinessAsPlatformUser(t *testing.T) {
	e := newEnv(t, customerapitest.Options{})
	tok := e.login(ownerEmail, ownerPass).Access
	admin := e.login(adminEmail, adminPass).Access
	org, bu := e.newFarm(tok, "Edited Farm", "edited@farm.test")
	var got customerapi.BusinessUnit
	e.must(200, "PATCH", "/v1/business-units/"+bu.ID, tok, customerapi.UpdateBusinessUnitRequest{
		Business: &customerapi.BusinessInput{HoldingNumber: "98/765/4321", AssuranceScheme: customerapi.SchemeSQC}}, &got)
	if got.Business == nil || got.Business.HoldingNumber != "98/765/4321" || got.Business.AssuranceScheme != customerapi.SchemeSQC {
		t.Fatalf("patched business = %+v", got.Business)
	}
	e.must(200, "PATCH", "/v1/business-units/"+bu.ID, admin, customerapi.UpdateBusinessUnitRequest{
		Business: &customerapi.BusinessInput{HoldingNumber: "11/222/3333"}}, &got)
	var units customerapi.OrganisationBusinessUnits
	e.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units", tok, nil, &units)
	if b := units.BusinessUnits[0].Business; b == nil || b.HoldingNumber != "11/222/3333" || b.AssuranceScheme != customerapi.SchemeSQC {
		t.Fatalf("business after edits = %+v", b)
	}
}
