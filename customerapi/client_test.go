package customerapi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/internal/fault"
)

const (
	ownerEmail = "owner@example.com"
	ownerPass  = "Passw0rd!"
	otherEmail = "other@example.org"
	otherPass  = "0therPass!"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t         *testing.T
	srv       *customerapitest.Server
	ts        *httptest.Server
	v         *contract.Validator
	srvClock  *clock
	cliClock  *clock
	logs      *bytes.Buffer
	validated bool
}

// newFixture starts a server; validated routes client traffic through the
// contract validator (answers outside the contract, such as injected 429s,
// need validated=false).
func newFixture(t *testing.T, validated bool, opts customerapitest.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, srvClock: newClock(), cliClock: newClock(), logs: &bytes.Buffer{}, validated: validated}
	if opts.Users == nil {
		opts.Users = map[string]string{ownerEmail: ownerPass, otherEmail: otherPass}
	}
	opts.Seed = 7
	opts.Clock = f.srvClock.Now
	f.srv = customerapitest.NewServer(opts)
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(f.ts.Close)
	v, err := contract.New(customerapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	t.Cleanup(func() {
		for _, p := range v.Problems() {
			t.Errorf("contract violation: %v", p)
		}
	})
	return f
}

var logMu sync.Mutex

type lockedWriter struct{ b *bytes.Buffer }

func (w lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func (f *fixture) client(creds customerapi.Credentials) *customerapi.Client {
	f.t.Helper()
	var rt http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if f.validated {
		rt = f.v.Transport(rt, true)
	}
	c, err := customerapi.New(customerapi.Options{
		BaseURL: f.ts.URL, Credentials: creds, HTTPClient: &http.Client{Transport: rt},
		Timeout: 5 * time.Second, Clock: f.cliClock.Now, Version: "test",
		Logger: slog.New(slog.NewTextHandler(lockedWriter{f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// unchecked returns a client whose requests skip contract validation, for
// requests that break the contract on purpose.
func (f *fixture) unchecked(creds customerapi.Credentials) *customerapi.Client {
	f.t.Helper()
	saved := f.validated
	f.validated = false
	defer func() { f.validated = saved }()
	return f.client(creds)
}

func (f *fixture) owner() *customerapi.Client {
	return f.client(customerapi.Credentials{Username: ownerEmail, Password: ownerPass})
}

func (f *fixture) count(op string) int64 { return f.srv.Faults().Count(op) }

func status(err error) int { return apierr.StatusOf(err) }

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]customerapi.Options{
		"no url":      {Credentials: customerapi.Credentials{APIToken: "x"}},
		"relative":    {BaseURL: "/v1", Credentials: customerapi.Credentials{APIToken: "x"}},
		"no password": {BaseURL: "http://127.0.0.1:1", Credentials: customerapi.Credentials{Username: "a"}},
	} {
		if _, err := customerapi.New(o); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// TestConnectorOperations round-trips every operation the connector uses,
// with requests and answers validated against the contract.
func TestConnectorOperations(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	c := f.owner()
	ctx := context.Background()

	prof, err := c.Profile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	myOrg := prof.Organisation.ID
	cur, err := c.GetCurrentOrganisation(ctx)
	if err != nil || cur.ID != myOrg {
		t.Fatalf("current org = %+v, %v", cur, err)
	}

	cert := f.srv.Certificates()[3]
	site := cert.CertifiedSites[0]
	org, err := c.CreateOrganisation(ctx, customerapi.CreateOrganisationRequest{
		Location: &customerapi.Location{Address: &customerapi.Address{Line1: "Hill Farm", Postcode: site.SitePostcode, CountryISO: "GB"}},
		Company:  &customerapi.Company{Number: "SC123456"},
		Name:     "Hill Farm Ltd", CountryISO: "GB",
		OwnerContact: &customerapi.ContactInput{Email: "hill@farm.test", GivenName: "Hil", FamilyName: "Farmer", Phone: "+44 7700 900321"},
		Billing:      &customerapi.Billing{Amount: 0, Currency: "GBP", Period: "month"},
		Modules:      []customerapi.Module{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if org.OwnerContact.Phone.String() != "+447700900321" {
		t.Fatalf("owner phone = %+v", org.OwnerContact.Phone)
	}
	_, err = c.CreateOrganisation(ctx, customerapi.CreateOrganisationRequest{
		Location: &customerapi.Location{}, Company: &customerapi.Company{Number: "SC123456"}, Name: "hill farm ltd", CountryISO: "GB",
		OwnerContact: &customerapi.ContactInput{Email: "x@farm.test", GivenName: "X", FamilyName: "Y"},
		Billing:      &customerapi.Billing{}, Modules: []customerapi.Module{}})
	if status(err) != http.StatusConflict || !apierr.IsConflict(err) || apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("duplicate create: %v", err)
	}

	got, err := c.GetOrganisation(ctx, org.ID)
	if err != nil || got.Name != "Hill Farm Ltd" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	name := "Hill Farm Holdings"
	up, err := c.UpdateOrganisation(ctx, org.ID, customerapi.UpdateOrganisationRequest{Name: &name})
	if err != nil || up.Name != name || up.Company.Number != "SC123456" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	act, err := c.ActivateOrganisation(ctx, org.ID)
	if err != nil || act.Status != "active" {
		t.Fatalf("activate = %+v, %v", act, err)
	}
	recs, err := c.GetOrganisationsByIDs(ctx, []string{org.ID, "no-such-id"})
	if err != nil || len(recs) != 1 || recs[0].ID != org.ID || recs[0].Name != name || recs[0].OwnerContact.OrganisationID != org.ID {
		t.Fatalf("by ids = %+v, %v", recs, err)
	}
	page, err := c.ListOrganisations(ctx, customerapi.OrganisationQuery{Limit: 10, Query: "hill"})
	if err != nil || len(page) != 1 {
		t.Fatalf("list = %+v, %v", page, err)
	}
	n, err := c.CountOrganisations(ctx, customerapi.OrganisationQuery{})
	if err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}

	hn := site.SiteIdentifiers.Identifier
	bu, err := c.CreateBusinessUnit(ctx, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: "Hill Farm", Type: customerapi.BusinessUnitFarm,
		Business: &customerapi.BusinessInput{Name: "Hill Farm", HoldingNumber: hn, AssuranceScheme: customerapi.SchemeRT, PhoneNumber: "01234 567890",
			Location: &customerapi.Location{Address: &customerapi.Address{Postcode: site.SitePostcode}}}})
	if err != nil {
		t.Fatal(err)
	}
	if bu.Business.Assurance == nil || bu.Business.Assurance.CertificateStatus != cert.CertificateStatus || bu.Business.Assurance.CertificateExpiryDate != cert.CertificateExpiryDate {
		t.Fatalf("assurance = %+v", bu.Business.Assurance)
	}
	if bu.Business.Phone.CallingCode != "+44" || bu.Business.Phone.Number != "1234567890" {
		t.Fatalf("business phone = %+v", bu.Business.Phone)
	}
	newName := "Hill Farm North"
	bu2, err := c.UpdateBusinessUnit(ctx, bu.ID, customerapi.UpdateBusinessUnitRequest{Name: &newName, Business: &customerapi.BusinessInput{Email: "north@hill.test"}})
	if err != nil || bu2.Name != newName || bu2.Business.Email != "north@hill.test" || bu2.Business.HoldingNumber != hn {
		t.Fatalf("update bu = %+v, %v", bu2, err)
	}
	units, err := c.BusinessUnits(ctx, org.ID, func(b customerapi.BusinessUnit) bool { return b.Type == customerapi.BusinessUnitFarm })
	if err != nil || len(units.BusinessUnits) != 1 {
		t.Fatalf("units = %+v, %v", units, err)
	}
	sum, err := c.BusinessUnitsSummary(ctx, org.ID)
	if err != nil || len(sum.BusinessUnits) != 1 || sum.BusinessUnits[0].Business != bu.Business.ID {
		t.Fatalf("summary = %+v, %v", sum, err)
	}
	biz, err := c.GetBusiness(ctx, bu.Business.ID)
	if err != nil || biz.Assurance == nil {
		t.Fatalf("business = %+v, %v", biz, err)
	}
	bizs, err := c.BusinessesByBusinessUnitIDs(ctx, []string{bu.ID})
	if err != nil || len(bizs) != 1 || bizs[0].ID != biz.ID {
		t.Fatalf("businesses = %+v, %v", bizs, err)
	}
	byHolding, err := c.RedTractorCertificates(ctx, customerapi.CertificateQuery{HoldingNumber: hn})
	if err != nil || len(byHolding) == 0 || byHolding[0].CertificateIdentifier != cert.CertificateIdentifier {
		t.Fatalf("by holding = %+v, %v", byHolding, err)
	}
	byPostcode, err := c.RedTractorCertificates(ctx, customerapi.CertificateQuery{Postcode: strings.ToLower(site.SitePostcode)})
	if err != nil || len(byPostcode) == 0 {
		t.Fatalf("by postcode = %+v, %v", byPostcode, err)
	}
	raw := f.unchecked(customerapi.Credentials{Username: ownerEmail, Password: ownerPass})
	if _, err := raw.RedTractorCertificates(ctx, customerapi.CertificateQuery{Country: "GB", Postcode: "X"}); status(err) != 400 {
		t.Fatalf("ISO2 country: %v", err)
	}

	phone := "+27 82 123 4567"
	u, err := c.CreateUser(ctx, customerapi.CreateUserRequest{GivenName: "Thabo", FamilyName: "M", Email: "thabo@example.com", Phone: &phone, CountryISO: "ZA"})
	if err != nil || u.Phone.CallingCode != "+27" || u.Phone.Number != "821234567" {
		t.Fatalf("create user = %+v, %v", u, err)
	}
	family := "Mokoena"
	u2, err := c.PatchUser(ctx, u.ID, customerapi.PatchUserRequest{FamilyName: &family})
	if err != nil || u2.FamilyName != family {
		t.Fatalf("patch user = %+v, %v", u2, err)
	}
	users, err := c.ListUsers(ctx, customerapi.UserQuery{OrganisationID: myOrg})
	if err != nil || len(users) != 2 {
		t.Fatalf("users = %d, %v", len(users), err)
	}
	nu, err := c.CountUsers(ctx, customerapi.UserQuery{})
	if err != nil || nu < 2 {
		t.Fatalf("count users = %d, %v", nu, err)
	}
	sums, err := c.UsersByIDs(ctx, []string{u.ID})
	if err != nil || len(sums) != 1 || sums[0].Email != "thabo@example.com" {
		t.Fatalf("by ids = %+v, %v", sums, err)
	}
	if sums, err = c.UserSummaries(ctx, []string{u.ID}); err != nil || len(sums) != 1 {
		t.Fatalf("summaries = %+v, %v", sums, err)
	}

	bc, err := c.CreateBusinessConnection(ctx, customerapi.BusinessConnectionRequest{ID: org.ID, Relationship: customerapi.RelationshipTrading,
		Contacts: []customerapi.ConnectionContactInput{{GivenName: "Con", FamilyName: "Tact", Email: "con@hill.test"}}})
	if err != nil || len(bc.ConnectedOrganisations) != 1 {
		t.Fatalf("connection = %+v, %v", bc, err)
	}
	if _, err := c.CreateBusinessConnection(ctx, customerapi.BusinessConnectionRequest{ID: org.ID, Contacts: []customerapi.ConnectionContactInput{}}); status(err) != 409 {
		t.Fatalf("duplicate connection: %v", err)
	}
	list, err := c.BusinessConnections(ctx, customerapi.ConnectionQuery{Limit: 5})
	if err != nil || len(list.ConnectedOrganisations) != 1 {
		t.Fatalf("connections = %+v, %v", list, err)
	}
	chk, err := c.CheckBusinessConnection(ctx, customerapi.BusinessConnectionRequest{Name: "Hill Farm Holdings", Contacts: []customerapi.ConnectionContactInput{}})
	if err != nil || !chk.BlockNewConnection {
		t.Fatalf("check = %+v, %v", chk, err)
	}
	in, err := c.InNetwork(ctx, org.ID)
	if err != nil || !in {
		t.Fatalf("in network = %v, %v", in, err)
	}
	if err := c.AddBusinessConnectionRelationship(ctx, org.ID, customerapi.RelationshipStorage); err != nil {
		t.Fatal(err)
	}
	contactID := bc.ConnectedOrganisations[0].Contacts[0].ID
	cu, err := c.ConnectContact(ctx, org.ID, contactID)
	if err != nil || len(cu.Profiles) != 2 {
		t.Fatalf("connect = %+v, %v", cu, err)
	}
	if cu, err = c.DisconnectContact(ctx, org.ID, contactID); err != nil || len(cu.Profiles) != 1 {
		t.Fatalf("disconnect = %+v, %v", cu, err)
	}
	if err := c.DeleteBusinessConnection(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	if in, _ := c.InNetwork(ctx, org.ID); in {
		t.Fatal("still in network after delete")
	}

	ir, err := c.ImportBusinessUnits(ctx, org.ID, "units.csv", []byte("name,type\nStore A,stores\nStore A,stores\n,farm\n"))
	if err != nil || ir.Success != 1 || ir.Errors != 1 || ir.Validation != 1 {
		t.Fatalf("import units = %+v, %v", ir, err)
	}
	ir, err = c.ImportOrganisations(ctx, "orgs.csv", []byte("name,countryISO,ownerEmail,ownerGivenName,ownerFamilyName\n\"Quoted, Ltd\",FR,q@q.test,Q,Q\n"))
	if err != nil || ir.Success != 1 {
		t.Fatalf("import orgs = %+v, %v", ir, err)
	}
}

func TestErrorsCarryStatusAndFields(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	c := f.owner()
	raw := f.unchecked(customerapi.Credentials{Username: ownerEmail, Password: ownerPass})
	ctx := context.Background()

	_, err := raw.CreateBusinessUnit(ctx, customerapi.CreateBusinessUnitRequest{Name: "X", Type: "barn"})
	var ae *customerapi.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Operation != "createBusinessUnit" {
		t.Fatalf("err = %v", err)
	}
	fields := map[string]bool{}
	for _, fe := range ae.Fields {
		fields[fe.Field] = true
	}
	if !fields["organisationId"] || !fields["type"] {
		t.Fatalf("fields = %+v", ae.Fields)
	}
	if apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("class = %v", apierr.Classify(err))
	}

	otherOrg := f.srv.OrganisationID(otherEmail)
	if _, err := c.GetOrganisation(ctx, otherOrg); status(err) != http.StatusForbidden {
		t.Fatalf("other organisation: %v", err)
	}
	if _, err := c.GetOrganisation(ctx, "missing"); !apierr.IsNotFound(err) {
		t.Fatalf("missing organisation: %v", err)
	}
	name := "Hijack"
	if _, err := c.UpdateOrganisation(ctx, otherOrg, customerapi.UpdateOrganisationRequest{Name: &name}); status(err) != http.StatusForbidden {
		t.Fatalf("patch other organisation: %v", err)
	}

	bad := f.client(customerapi.Credentials{Username: ownerEmail, Password: "wrong-" + ownerPass})
	_, err = bad.Profile(ctx)
	if status(err) != http.StatusUnauthorized || apierr.Classify(err) != apierr.Unauthorized {
		t.Fatalf("bad password: %v (want 401, the credentials refused)", err)
	}
	if strings.Contains(err.Error(), ownerPass) {
		t.Fatal("error shows the password")
	}
}

func TestTooManyRequestsIsNotRetried(t *testing.T) {
	f := newFixture(t, false, customerapitest.Options{})
	c := f.owner()
	ctx := context.Background()
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Faults().Add(fault.Rule{Operation: "listOrganisations", Status: 429, RetryAfter: 7, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ListOrganisations(ctx, customerapi.OrganisationQuery{})
	if status(err) != 429 || apierr.Classify(err) != apierr.Retryable || apierr.RetryAfterOf(err) != 7*time.Second {
		t.Fatalf("err = %v (class %v, retry after %v)", err, apierr.Classify(err), apierr.RetryAfterOf(err))
	}
	if n := f.count("listOrganisations"); n != 1 {
		t.Fatalf("listOrganisations called %d times, want 1 (no retry)", n)
	}
	if _, err := f.srv.Faults().Add(fault.Rule{Operation: "createOrganisation", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateOrganisation(ctx, customerapi.CreateOrganisationRequest{})
	if status(err) != 503 || f.count("createOrganisation") != 1 {
		t.Fatalf("503: %v, calls %d", err, f.count("createOrganisation"))
	}
	// A create whose connection drops after the server committed is outcome-unknown.
	if _, err := f.srv.Faults().Add(fault.Rule{Operation: "createBusinessUnit", DropAfterCommit: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateBusinessUnit(ctx, customerapi.CreateBusinessUnitRequest{OrganisationID: f.srv.OrganisationID(ownerEmail), Name: "Dropped", Type: "farm"})
	if apierr.Classify(err) != apierr.OutcomeUnknown {
		t.Fatalf("dropped create: %v (class %v)", err, apierr.Classify(err))
	}
	units, err := c.BusinessUnits(ctx, f.srv.OrganisationID(ownerEmail), nil)
	if err != nil || len(units.BusinessUnits) != 1 {
		t.Fatalf("the dropped create must have committed: %+v, %v", units, err)
	}
}

func TestTokenRefreshAheadOfExpiry(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	c := f.owner()
	ctx := context.Background()
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	f.cliClock.Advance(50 * time.Second)
	f.srvClock.Advance(50 * time.Second)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.count("refreshTokens"); n != 0 {
		t.Fatalf("refreshed %d times before the refresh window", n)
	}
	// Inside the last 10% of the lifetime the client refreshes before using the token.
	f.cliClock.Advance(5 * time.Second)
	f.srvClock.Advance(5 * time.Second)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.count("refreshTokens"); n != 1 {
		t.Fatalf("refreshTokens = %d, want 1", n)
	}
	if n := f.count("getProfile"); n != 3 {
		t.Fatalf("getProfile = %d, want 3 (no 401 round trip)", n)
	}
}

// TestConcurrentExpiryOneRefresh: many requests that find the token expired
// share one refresh (no thundering herd).
func TestConcurrentExpiryOneRefresh(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	c := f.owner()
	ctx := context.Background()
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	f.cliClock.Advance(2 * time.Minute)
	f.srvClock.Advance(2 * time.Minute)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ListOrganisations(ctx, customerapi.OrganisationQuery{Limit: 5})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count("refreshTokens") + f.count("login"); got != 2 {
		t.Fatalf("login+refresh = %d, want 2 (one login, one refresh)", got)
	}
	if got := f.count("listOrganisations"); got != n {
		t.Fatalf("listOrganisations = %d, want %d (no 401 retries)", got, n)
	}
}

// TestUnauthorizedRefreshesOnce: the server refuses a token the client
// believes valid; concurrent requests get one refresh and each retries once.
func TestUnauthorizedRefreshesOnce(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	c := f.owner()
	ctx := context.Background()
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	f.srvClock.Advance(2 * time.Minute) // only the server sees the token expire
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetCurrentOrganisation(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.count("refreshTokens"); got != 1 {
		t.Fatalf("refreshTokens = %d, want 1", got)
	}
	counts := f.srv.Faults().Counts()["getCurrentOrganisation"]
	// Requests that asked for a token after the refresh never saw a 401;
	// every other one was refused once and then succeeded.
	if counts.ByStatus[200] != n || counts.ByStatus[401] < 1 || counts.ByStatus[401] > n || counts.Total != counts.ByStatus[200]+counts.ByStatus[401] {
		t.Fatalf("getCurrentOrganisation by status = %v, want %d×200 and 1..%d×401", counts.ByStatus, n, n)
	}
}

func TestUnauthorizedTwiceGivesUp(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	c := f.owner()
	ctx := context.Background()
	if _, err := f.srv.Faults().Add(fault.Rule{Operation: "getOrganisation", Status: 401}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetOrganisation(ctx, f.srv.OrganisationID(ownerEmail))
	if status(err) != 401 {
		t.Fatalf("err = %v", err)
	}
	if n := f.count("getOrganisation"); n != 2 {
		t.Fatalf("getOrganisation = %d attempts, want 2 (one retry)", n)
	}
	if n := f.count("login") + f.count("refreshTokens"); n != 2 {
		t.Fatalf("login+refresh = %d, want 2", n)
	}
}

func TestRefusedRefreshLogsInAgain(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	c := f.owner()
	ctx := context.Background()
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	f.srv.Reset() // every session and refresh token is gone
	f.cliClock.Advance(2 * time.Minute)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if f.count("refreshTokens") != 1 || f.count("login") != 1 {
		t.Fatalf("refresh %d, login %d; want 1 and 1", f.count("refreshTokens"), f.count("login"))
	}
}

func TestChallengeFlow(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	if _, _, err := f.srv.AddUser(customerapitest.UserSpec{Email: "new@example.com", Password: "Temp0rary!", Temporary: true,
		OrganisationID: f.srv.OrganisationID(ownerEmail)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	noAnswer := f.client(customerapi.Credentials{Username: "new@example.com", Password: "Temp0rary!"})
	_, err := noAnswer.Profile(ctx)
	if !errors.Is(err, customerapi.ErrChallenge) || apierr.Classify(err) != apierr.Unauthorized {
		t.Fatalf("unanswered challenge: %v", err)
	}
	c := f.client(customerapi.Credentials{Username: "new@example.com", Password: "Temp0rary!", NewPassword: "N3wPassword!"})
	p, err := c.Profile(ctx)
	if err != nil || p.User.Email != "new@example.com" {
		t.Fatalf("profile = %+v, %v", p, err)
	}
	// The new password is the password now: a client configured the same way
	// (old password plus answer) still logs in, and so does the new password alone.
	again := f.client(customerapi.Credentials{Username: "new@example.com", Password: "Temp0rary!", NewPassword: "N3wPassword!"})
	if _, err := again.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	plain := f.client(customerapi.Credentials{Username: "new@example.com", Password: "N3wPassword!"})
	if _, err := plain.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	old := f.client(customerapi.Credentials{Username: "new@example.com", Password: "Temp0rary!"})
	if _, err := old.Profile(ctx); status(err) != 401 {
		t.Fatalf("temporary password after the challenge: %v", err)
	}
}

// A write cancelled while it may be on its way (the connector stopping)
// is outcome-unknown, so it is looked up before it is repeated; a
// cancelled read is only cancelled.
func TestCancelledWriteIsOutcomeUnknown(t *testing.T) {
	f := newFixture(t, false, customerapitest.Options{})
	c := f.owner()
	if _, err := c.Profile(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"createBusinessUnit", "listOrganisations"} {
		if _, err := f.srv.Faults().Add(fault.Rule{Operation: op, Latency: fault.Duration(2 * time.Second), Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.CreateBusinessUnit(ctx, customerapi.CreateBusinessUnitRequest{OrganisationID: f.srv.OrganisationID(ownerEmail), Name: "Slow", Type: "farm"})
	if apierr.Classify(err) != apierr.OutcomeUnknown {
		t.Fatalf("cancelled create: %v (class %v)", err, apierr.Classify(err))
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = c.ListOrganisations(ctx, customerapi.OrganisationQuery{})
	if apierr.Classify(err) != apierr.Canceled {
		t.Fatalf("cancelled read: %v (class %v)", err, apierr.Classify(err))
	}
}
