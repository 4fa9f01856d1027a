package customerapitest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

func openServer(t *testing.T, opts customerapitest.Options) *customerapitest.Server {
	t.Helper()
	s, err := customerapitest.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStatePersistsAcrossRestart: with a StatePath, organisations, business
// units, businesses, users with their passwords, sessions, ApiTokens and sent
// codes survive Close and Open, and records made after the restart get ids
// that do not collide with the saved ones (same Seed).
func TestStatePersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reference-customer.json")
	opts := defaultOptions(customerapitest.Options{StatePath: path})

	s1 := openServer(t, opts)
	e1 := envFor(t, s1)
	owner := e1.login(ownerEmail, ownerPass)
	org, bu := e1.newFarm(owner.Access, "Persisted Farm", "farmer@persist.test")
	// The new organisation's owner answers the temporary-password challenge.
	tmp := s1.LastCode("farmer@persist.test", "temporary-password")
	var lr customerapi.LoginResponse
	e1.must(200, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: "farmer@persist.test", Password: tmp, NewPassword: "Farmer1Pass"}, &lr)
	if lr.Tokens == nil {
		t.Fatal("challenge answered without tokens")
	}
	var apiTok customerapi.Message
	e1.must(200, "POST", "/v1/auth/api-tokens", owner.Access, customerapi.GenerateAPITokenRequest{UserID: s1.UserID(ownerEmail), Hours: 24, Roles: []string{"owner"}}, &apiTok)
	seedOrg := s1.OrganisationID(ownerEmail)
	saved := []string{org.ID, bu.ID, bu.Business.ID, seedOrg, s1.UserID(ownerEmail), s1.UserID(otherEmail), s1.UserID(adminEmail),
		s1.UserID("farmer@persist.test"), s1.OrganisationID(otherEmail), s1.OrganisationID(adminEmail)}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	e1.ts.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600 (it holds passwords)", fi.Mode().Perm())
	}
	if matches, _ := filepath.Glob(path + ".tmp-*"); len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
	var doc map[string]any
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &doc) != nil || doc["version"] != float64(1) {
		t.Fatalf("state file is not a version-1 JSON document: %v", err)
	}

	s2 := openServer(t, opts)
	e2 := envFor(t, s2)
	if s2.OrganisationID(ownerEmail) != seedOrg {
		t.Fatalf("seeded organisation id changed: %s, want %s", s2.OrganisationID(ownerEmail), seedOrg)
	}
	fresh := e2.login(ownerEmail, ownerPass).Access
	var got customerapi.Organisation
	e2.must(200, "GET", "/v1/organisations/"+org.ID, fresh, nil, &got)
	if got.Name != "Persisted Farm" || got.Status != "pending" || got.OwnerContact == nil || got.OwnerContact.Email != "farmer@persist.test" {
		t.Fatalf("organisation after restart = %+v", got)
	}
	if len(got.BusinessUnits) != 1 || got.BusinessUnits[0].ID != bu.ID {
		t.Fatalf("business units after restart = %+v", got.BusinessUnits)
	}
	var units customerapi.OrganisationBusinessUnits
	e2.must(200, "GET", "/v1/organisations/"+org.ID+"/business-units", fresh, nil, &units)
	if len(units.BusinessUnits) != 1 || units.BusinessUnits[0].Business == nil || units.BusinessUnits[0].Business.HoldingNumber != "12/345/6789" {
		t.Fatalf("business units after restart = %+v", units)
	}
	var biz customerapi.Business
	e2.must(200, "GET", "/v1/businesses/"+bu.Business.ID, fresh, nil, &biz)
	if biz.BusinessUnitID != bu.ID || biz.OrganisationID != org.ID || biz.AssuranceScheme != customerapi.SchemeRT {
		t.Fatalf("business after restart = %+v", biz)
	}
	var recs []customerapi.OrganisationRecord
	e2.must(200, "GET", "/v1/organisations/by-ids?ids="+org.ID, fresh, nil, &recs)
	if len(recs) != 1 || recs[0].ID != org.ID {
		t.Fatalf("by-ids after restart = %+v", recs)
	}

	// Credentials and tokens survive.
	e2.login("farmer@persist.test", "Farmer1Pass")
	e2.must(200, "GET", "/v1/profile", owner.Access, nil, nil)
	e2.must(200, "POST", "/v1/auth/refresh", "", map[string]string{"refresh": owner.Refresh}, nil)
	e2.must(200, "POST", "/v1/auth/api-tokens/authenticate", "", map[string]string{"token": apiTok.Message}, nil)
	if s2.LastCode("farmer@persist.test", "temporary-password") != tmp {
		t.Fatal("sent codes not restored")
	}
	if c1 := s2.Certificates(); len(c1) != 60 {
		t.Fatalf("certificates after restart: %d", len(c1))
	}

	// New records continue the sequences: no id is reused.
	org2, bu2 := e2.newFarm(fresh, "Second Farm", "second@persist.test")
	for _, id := range []string{org2.ID, bu2.ID, bu2.Business.ID, s2.UserID("second@persist.test")} {
		if slices.Contains(saved, id) {
			t.Fatalf("id %s after restart collides with a saved id", id)
		}
	}
	var list []customerapi.Organisation
	e2.must(200, "GET", "/v1/organisations?sortBy=createdAtUTC", fresh, nil, &list)
	var order []string
	for _, o := range list {
		order = append(order, o.ID)
	}
	if i, j := slices.Index(order, org.ID), slices.Index(order, org2.ID); i < 0 || j < i {
		t.Fatalf("creation order after restart: %v (saved %s, new %s)", order, org.ID, org2.ID)
	}

	// A deletion is saved too.
	if err := s2.DeleteOrganisation(org.ID); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openServer(t, opts)
	e3 := envFor(t, s3)
	e3.must(404, "GET", "/v1/organisations/"+org.ID, e3.login(ownerEmail, ownerPass).Access, nil, nil)
	if s3.UserID("farmer@persist.test") != "" {
		t.Fatal("owner of the deleted organisation came back")
	}
}

// TestStateSavedInBackground: changes reach the state file without Close.
func TestStateSavedInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := openServer(t, defaultOptions(customerapitest.Options{StatePath: path}))
	if _, _, err := s.AddUser(customerapitest.UserSpec{Email: "background@example.com", Password: "Backgr0und!"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), "background@example.com") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state file not written in the background: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
}

// TestStateKeepsConfiguredPasswords: a configured user's password comes back
// from the options after a restart, as ONe's tenant keys do.
func TestStateKeepsConfiguredPasswords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	opts := defaultOptions(customerapitest.Options{StatePath: path})
	s1 := openServer(t, opts)
	e1 := envFor(t, s1)
	tok := e1.login(ownerEmail, ownerPass).Access
	e1.must(200, "POST", "/v1/auth/change-password", tok, map[string]string{"oldPassword": ownerPass, "newPassword": "Changed1Pass", "confirmNewPassword": "Changed1Pass"}, nil)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Users = map[string]string{ownerEmail: ownerPass, otherEmail: otherPass, "late@example.com": "Late1Pass"}
	s2 := openServer(t, opts)
	e2 := envFor(t, s2)
	e2.login(ownerEmail, ownerPass)
	// A user configured only now is added with its own organisation.
	e2.login("late@example.com", "Late1Pass")
	if o := s2.OrganisationID("late@example.com"); o == "" || o == s2.OrganisationID(ownerEmail) {
		t.Fatalf("late user organisation %q", o)
	}
}

// TestStateFileErrors: a state file that cannot be read is an error of Open
// (and a panic of NewServer); it is never overwritten.
func TestStateFileErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := defaultOptions(customerapitest.Options{StatePath: path})
	if _, err := customerapitest.Open(opts); err == nil {
		t.Fatal("Open accepted a corrupt state file")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewServer did not panic on a corrupt state file")
			}
		}()
		customerapitest.NewServer(opts)
	}()
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatal("corrupt state file was overwritten")
	}
	if err := os.WriteFile(path, []byte(`{"version":99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := customerapitest.Open(opts); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("unknown version: %v", err)
	}
	// Without a StatePath, Save fails and Close does nothing.
	s := customerapitest.NewServer(defaultOptions(customerapitest.Options{}))
	if err := s.Save(); err == nil {
		t.Fatal("Save without a state file succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRepublishedCertificatesAreNotDuplicated: a server that keeps its state
// and publishes the same certificates at every start (as the demo does) keeps
// one copy of each, the newest.
func TestRepublishedCertificatesAreNotDuplicated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	opts := defaultOptions(customerapitest.Options{StatePath: path, Certificates: 2})
	cert := func(expiry string) customerapi.Certificate {
		return customerapi.Certificate{CertificateStatus: customerapi.CertificateValid, CertificateIdentifier: "DEMO.1",
			CertificateExpiryDate: expiry, CertifiedSites: []customerapi.CertifiedSite{{
				SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: "12/345/6789"}, SiteCountry: "GBR"}}}
	}
	for i, expiry := range []string{"2030-01-31T00:00:00.000+00:00", "2031-01-31T00:00:00.000+00:00"} {
		s := openServer(t, opts)
		s.AddCertificates(cert(expiry))
		got := s.Certificates()
		if len(got) != 3 || got[2].CertificateExpiryDate != expiry {
			t.Fatalf("start %d: %d certificates, last %+v", i, len(got), got[len(got)-1])
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
