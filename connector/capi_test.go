package connector_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/queue"
)

const (
	capiUser = "connector@agri-erp.example.co.uk"
	capiPass = "Conn3ctorSecretPw"
)

// capiWorld is the test world for the Customer API pipelines: the SQLite
// ERP of world, a customerapitest server on a real socket, a connector
// configured for the Customer API only (its traffic checked against the
// contract) and a client logged in as the same user, acting on the platform.
type capiWorld struct {
	*world
	srv *customerapitest.Server
	ts  *httptest.Server
	cl  *customerapi.Client
}

type capiOpts struct {
	records      int
	seed         uint64
	invalidEvery int
	kinds        []erpgen.Invalid
	// edit changes the generated records before they go into the ERP.
	edit      func(recs []erpgen.Record)
	ownership []connector.Ownership
	noStart   bool
}

func newCAPIWorld(t *testing.T, o capiOpts) *capiWorld {
	t.Helper()
	w := newWorld(t, worldOpts{noStart: true})
	srv := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{capiUser: capiPass}, Seed: 7})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	v, err := contract.New(customerapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	w.v = v
	if o.records > 0 {
		seed := o.seed
		if seed == 0 {
			seed = 21
		}
		recs := erpgen.New(erpgen.Options{Seed: seed, InvalidEvery: o.invalidEvery, Kinds: o.kinds}).Records(o.records)
		uniqueOnPlatform(recs)
		if o.edit != nil {
			o.edit(recs)
		}
		w.recs = recs
		w.put(recs...)
	}
	w.cfg.ONe = nil
	w.cfg.CustomerAPI = &connector.CustomerAPIConfig{BaseURL: ts.URL, Username: capiUser, Password: capiPass, PageSize: 7,
		Upstream: connector.Upstream{Workers: 4}}
	w.cfg.Ownership = o.ownership
	cl, err := customerapi.New(customerapi.Options{BaseURL: ts.URL, Credentials: customerapi.Credentials{Username: capiUser, Password: capiPass}})
	if err != nil {
		t.Fatal(err)
	}
	cw := &capiWorld{world: w, srv: srv, ts: ts, cl: cl}
	if !o.noStart {
		w.start()
	}
	return cw
}

// uniqueOnPlatform gives every generated customer its own owner e-mail and
// name (the platform refuses a second organisation with the same name and
// company number, or a second user with the same e-mail).
func uniqueOnPlatform(recs []erpgen.Record) {
	seen := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		r.Set("admin_email", strings.ToLower(r.Key)+"@owners.example.co.uk")
		id := strings.ToLower(r.Value("name") + "|" + r.Value("company_number"))
		if seen[id] {
			r.Set("name", r.Value("name")+" "+r.Key)
			if r.Value("customer_type") == "C" {
				r.Set("admin_name", r.Value("name"))
			}
		}
		seen[strings.ToLower(r.Value("name")+"|"+r.Value("company_number"))] = true
	}
}

// capiWrites counts the write operations the platform received.
func (w *capiWorld) capiWrites() int64 {
	c := w.srv.Faults().Counts()
	return c["createOrganisation"].Total + c["updateOrganisation"].Total + c["createBusinessUnit"].Total + c["updateBusinessUnit"].Total
}

// organisations lists every organisation the connector's user can see.
func (w *capiWorld) organisations() []customerapi.Organisation {
	w.t.Helper()
	var out []customerapi.Organisation
	for o, err := range w.cl.AllOrganisations(context.Background(), customerapi.OrganisationQuery{Limit: 100}) {
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func (w *capiWorld) farmOf(orgID string) []customerapi.BusinessUnit {
	w.t.Helper()
	units, err := w.cl.BusinessUnits(context.Background(), orgID, func(u customerapi.BusinessUnit) bool {
		return u.Type == customerapi.BusinessUnitFarm && u.Business != nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return units.BusinessUnits
}

// capiValid returns the generated records that should reach the Customer API.
func (w *capiWorld) capiValid() []erpgen.Record {
	var out []erpgen.Record
	for _, r := range w.recs {
		if r.SyncCustomerAPI && !r.Deleted && r.Invalid == "" {
			out = append(out, r)
		}
	}
	return out
}

func (w *capiWorld) capiDead() []queue.Job {
	w.t.Helper()
	dead, _, err := w.conn.Store().DeadLetters(context.Background(), queue.DeadFilter{Limit: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []queue.Job
	for _, d := range dead {
		if strings.HasPrefix(d.Key, "capi:") {
			out = append(out, d)
		}
	}
	return out
}

// TestERPToCustomerAPI covers create (organisation + farm business unit)
// with write-back, invalid rows in the dead letters with their field
// reasons, an ERP update reaching the platform, zero writes once converged,
// and an unflag unbinding the customer.
func TestERPToCustomerAPI(t *testing.T) {
	w := newCAPIWorld(t, capiOpts{records: 40, invalidEvery: 6,
		kinds: []erpgen.Invalid{erpgen.BadEmail, erpgen.BadISO2, erpgen.MissingTIN, erpgen.BadPhone, erpgen.BadTINCode}})
	ctx := context.Background()
	w.sync()

	valid := w.capiValid()
	if len(valid) < 10 {
		t.Fatalf("only %d valid Customer API records generated", len(valid))
	}
	for _, r := range valid {
		it := w.get(r.Key)
		id := it.Customer.PlatformIDs.CustomerAPI
		if id == "" {
			t.Fatalf("%s: organisation id not written back", r.Key)
		}
		org, err := w.cl.GetOrganisation(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", r.Key, err)
		}
		if org.Name != it.Customer.Name || org.OwnerContact == nil || org.OwnerContact.Email != it.Customer.Admin.Email {
			t.Fatalf("%s: organisation %+v", r.Key, org)
		}
		if org.Company == nil || org.Company.SalesTaxID != it.Customer.VATID {
			t.Fatalf("%s: company %+v", r.Key, org.Company)
		}
		farms := w.farmOf(id)
		if len(farms) != 1 {
			t.Fatalf("%s: %d farm business units", r.Key, len(farms))
		}
		biz := farms[0].Business
		if biz.HoldingNumber != it.Customer.Farm.HoldingNumber || biz.Location == nil || biz.Location.What3Words != it.Customer.Farm.What3Words {
			t.Fatalf("%s: farm business %+v", r.Key, biz)
		}
	}
	// Every valid customer is there once, plus the connector's own organisation.
	if got := len(w.organisations()); got != len(valid)+1 {
		t.Fatalf("%d organisations on the platform, want %d", got, len(valid)+1)
	}

	invalid := map[string]erpgen.Invalid{}
	for _, r := range w.recs {
		if r.SyncCustomerAPI && !r.Deleted && r.Invalid != "" {
			invalid[r.Key] = r.Invalid
		}
	}
	dead := w.capiDead()
	if len(dead) != len(invalid) || len(invalid) == 0 {
		t.Fatalf("%d Customer API dead letters, want %d", len(dead), len(invalid))
	}
	for _, d := range dead {
		key := strings.TrimPrefix(d.Key, "capi:push:")
		kind, ok := invalid[key]
		if !ok {
			t.Errorf("unexpected dead letter %s: %s", d.Key, d.LastError)
			continue
		}
		if !strings.Contains(d.LastError, kind.Field()) {
			t.Errorf("dead letter %s: reason %q does not name %s", key, d.LastError, kind.Field())
		}
		if w.get(key).Customer.PlatformIDs.CustomerAPI != "" {
			t.Errorf("invalid customer %s got an organisation", key)
		}
	}

	// Converge (the first cycle's listing may take organisations in while
	// they are being created), then an ERP update reaches the platform, and
	// only that one.
	w.sync()
	w.sync()
	w.srv.Faults().ResetCounts()
	upd := valid[0]
	upd.Set("name", "Renamed Holdings Ltd")
	upd.Set("admin_name", "Renamed Holdings")
	upd.Set("what3words", "index.home.raft")
	if upd.Value("what3words") == w.get(upd.Key).Customer.Farm.What3Words {
		upd.Set("what3words", "daring.lion.race")
	}
	w.clock = time.Now() // the connector's own ERP writes moved the change cursor to now
	w.put(upd)
	w.sync()
	c := w.srv.Faults().Counts()
	if c["updateOrganisation"].Total != 1 || c["updateBusinessUnit"].Total != 1 || c["createOrganisation"].Total != 0 || c["createBusinessUnit"].Total != 0 {
		t.Fatalf("writes after one ERP update: %+v", c)
	}
	id := w.get(upd.Key).Customer.PlatformIDs.CustomerAPI
	org, err := w.cl.GetOrganisation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if org.Name != "Renamed Holdings Ltd" {
		t.Fatalf("name on the platform %q", org.Name)
	}
	if farms := w.farmOf(id); len(farms) != 1 || farms[0].Business.Location.What3Words != upd.Value("what3words") {
		t.Fatalf("farm after update %+v", farms)
	}

	// Converged: another full cycle writes nothing anywhere.
	w.srv.Faults().ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	w.sync()
	if n := w.capiWrites(); n != 0 {
		t.Fatalf("%d platform writes after convergence: %+v", n, w.srv.Faults().Counts())
	}
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes after convergence", n)
	}

	// Unflagged in the ERP: the organisation stays (there is no delete),
	// the link is forgotten on both sides, and nothing is created again.
	off := valid[1]
	offID := w.get(off.Key).Customer.PlatformIDs.CustomerAPI
	// (Still flagged for ONe: the ERP's change scan returns flagged or
	// deleted rows only.)
	off.SyncCustomerAPI, off.SyncONe = false, true
	w.clock = time.Now()
	w.put(off)
	w.sync()
	w.sync()
	if got := w.get(off.Key).Customer.PlatformIDs.CustomerAPI; got != "" {
		t.Fatalf("ERP still links organisation %q", got)
	}
	if _, err := w.cl.GetOrganisation(ctx, offID); err != nil {
		t.Fatalf("unflagged organisation: %v", err)
	}
	if got := len(w.organisations()); got != len(valid)+1 {
		t.Fatalf("%d organisations after unflag, want %d", got, len(valid)+1)
	}
	st, err := w.conn.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcomes["erp_to_capi"]["created"] != len(valid) || st.Outcomes["erp_to_capi"]["unbound"] != 1 {
		t.Fatalf("outcomes %+v", st.Outcomes)
	}

	if logs := w.logs.String(); strings.Contains(logs, capiPass) {
		t.Fatal("the Customer API password appears in the logs")
	}
	for _, s := range statusStrings(st) {
		if strings.Contains(s, capiPass) {
			t.Fatal("the Customer API password appears in the status")
		}
	}
	w.noContractProblems()
}

// TestCustomerAPIToERP: a change made on the platform reaches the ERP where
// the platform owns the field group (master here), and the ERP's value goes
// back where the ERP owns it (the contact here).
func TestCustomerAPIToERP(t *testing.T) {
	w := newCAPIWorld(t, capiOpts{records: 12, ownership: []connector.Ownership{
		{Group: connector.GroupMaster, Owner: connector.OwnerPlatform},
		{Group: connector.GroupContact, Owner: connector.OwnerERP},
	}})
	ctx := context.Background()
	w.sync()
	w.sync()
	valid := w.capiValid()
	if len(valid) < 3 {
		t.Fatalf("only %d valid records", len(valid))
	}
	key := valid[0].Key
	before := w.get(key).Customer
	id := before.PlatformIDs.CustomerAPI

	// Master data changed on the platform (the platform owns it here).
	name := "Platform Renamed Farms Ltd"
	city := "Thirsk"
	org, err := w.cl.GetOrganisation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	loc := *org.Location
	a := *loc.Address
	a.City = city
	loc.Address = &a
	if _, err := w.cl.UpdateOrganisation(ctx, id, customerapi.UpdateOrganisationRequest{Name: &name, Location: &loc}); err != nil {
		t.Fatal(err)
	}
	// The owner's name changed on the platform (the ERP owns the contact here).
	oc := org.OwnerContact
	if _, err := w.cl.UpdateOrganisation(ctx, id, customerapi.UpdateOrganisationRequest{OwnerContact: &customerapi.ContactInput{
		Email: oc.Email, GivenName: "Changed", FamilyName: "On Platform"}}); err != nil {
		t.Fatal(err)
	}
	w.sync()

	after := w.get(key).Customer
	if after.Name != name || after.Billing.City != city {
		t.Fatalf("ERP did not take the platform's master data: name %q, city %q", after.Name, after.Billing.City)
	}
	if after.Admin != before.Admin {
		t.Fatalf("ERP-owned contact overwritten: %+v, was %+v", after.Admin, before.Admin)
	}
	// Other ERP fields the platform does not carry are untouched.
	if after.InvoiceEmail != before.InvoiceEmail || after.Currency != before.Currency || after.Farm.HoldingNumber != before.Farm.HoldingNumber {
		t.Fatalf("ERP fields changed: %+v", after)
	}
	org, err = w.cl.GetOrganisation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	given, family, _ := strings.Cut(before.Admin.Name, " ")
	if org.OwnerContact.GivenName != given || org.OwnerContact.FamilyName != family {
		t.Fatalf("the ERP's contact was not pushed back: %+v", org.OwnerContact)
	}
	if org.Name != name {
		t.Fatalf("platform name %q", org.Name)
	}

	// Converged.
	w.sync()
	w.srv.Faults().ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	if n := w.capiWrites(); n != 0 {
		t.Fatalf("%d platform writes after convergence: %+v", n, w.srv.Faults().Counts())
	}
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes after convergence", n)
	}
	// The listing showed nothing new: no organisation was read again.
	if n := w.srv.Faults().Count("getOrganisation"); n != 0 {
		t.Fatalf("%d organisations read in a quiet cycle", n)
	}
	w.noContractProblems()
}

// TestCustomerAPIToERPDefaultOwnership: with the default ownership (the ERP
// owns master data), a platform rename is put back to the ERP's name.
func TestCustomerAPIToERPDefaultOwnership(t *testing.T) {
	w := newCAPIWorld(t, capiOpts{records: 6})
	ctx := context.Background()
	w.sync()
	valid := w.capiValid()
	if len(valid) == 0 {
		t.Fatal("no valid records")
	}
	key := valid[0].Key
	erpName := w.get(key).Customer.Name
	id := w.get(key).Customer.PlatformIDs.CustomerAPI
	name := "Renamed On The Platform"
	if _, err := w.cl.UpdateOrganisation(ctx, id, customerapi.UpdateOrganisationRequest{Name: &name}); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if got := w.get(key).Customer.Name; got != erpName {
		t.Fatalf("ERP-owned name overwritten: %q", got)
	}
	org, err := w.cl.GetOrganisation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if org.Name != erpName {
		t.Fatalf("platform name %q, want the ERP's %q back", org.Name, erpName)
	}
}

// TestCustomerAPICertificates: a farm whose holding number has a Red
// Tractor certificate gets its status, identifier and expiry in the ERP; a
// farm whose certificate is no longer reported is marked Expired; a second
// run writes nothing.
func TestCustomerAPICertificates(t *testing.T) {
	probe := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{capiUser: capiPass}, Seed: 7})
	var cert customerapi.Certificate
	for _, c := range probe.Certificates() {
		if c.CertificateStatus == customerapi.CertificateValid {
			cert = c
			break
		}
	}
	holding := cert.CertifiedSites[0].SiteIdentifiers.Identifier
	var certKey, staleKey string
	w := newCAPIWorld(t, capiOpts{records: 12, edit: func(recs []erpgen.Record) {
		for i := range recs {
			r := &recs[i]
			if !r.SyncCustomerAPI || r.Value("holding_number") == "" {
				continue
			}
			switch {
			case certKey == "":
				certKey = r.Key
				r.Set("holding_number", holding)
				// Not a Red Tractor farm on the platform, so only the
				// certificate look-up can bring the certificate in.
				r.Set("assurance_scheme", "SQC")
				r.Set("sqc_number", "SQC12345")
				r.Set("sqc_assured", "1")
				r.Set("cert_status", "")
				r.Set("cert_id", "")
				r.Set("cert_expiry", "")
			case staleKey == "":
				staleKey = r.Key
				r.Set("cert_status", "Valid")
			}
		}
	}})
	if certKey == "" || staleKey == "" {
		t.Fatal("no farms generated")
	}
	if got := w.srv.Certificates(); got[0].CertificateIdentifier != probe.Certificates()[0].CertificateIdentifier {
		t.Fatal("seeded certificates differ between servers of one seed")
	}
	w.sync() // organisations created and bound
	w.sync() // certificates of the bound farms looked up

	f := w.get(certKey).Customer.Farm
	if f.CertificateStatus != string(cert.CertificateStatus) || f.CertificateIdentifier != cert.CertificateIdentifier ||
		f.CertificateExpiry != cert.CertificateExpiryDate[:10] {
		t.Fatalf("certificate in the ERP %+v, want %s %s %s", f, cert.CertificateStatus, cert.CertificateIdentifier, cert.CertificateExpiryDate[:10])
	}
	stale := w.get(staleKey).Customer.Farm
	if stale.CertificateStatus != "Expired" || stale.CertificateIdentifier == "" {
		t.Fatalf("farm without a reported certificate: %+v", stale)
	}

	// A second run writes nothing (but does look the certificates up).
	w.srv.Faults().ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes on the second certificate run", n)
	}
	if n := w.srv.Faults().Count("getRedTractorCertificates"); n == 0 {
		t.Fatal("the second run looked no certificate up")
	}
	if n := w.capiWrites(); n != 0 {
		t.Fatalf("%d platform writes", n)
	}
	w.noContractProblems()
}

// TestCustomerAPISafeCreate: the server commits creates and drops the
// connection; the connector ends with exactly one organisation (and one
// farm) per ERP customer.
func TestCustomerAPISafeCreate(t *testing.T) {
	w := newCAPIWorld(t, capiOpts{records: 8, noStart: true})
	if _, err := w.srv.Faults().Add(fault.Rule{Operation: "createOrganisation", DropAfterCommit: true, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.srv.Faults().Add(fault.Rule{Operation: "createBusinessUnit", DropAfterCommit: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	w.start()
	w.sync()
	w.sync()

	valid := w.capiValid()
	byName := map[string]int{}
	for _, o := range w.organisations() {
		number := o.CompanyNumber
		if o.Company != nil && o.Company.Number != "" {
			number = o.Company.Number
		}
		byName[o.Name+"|"+number]++
	}
	for _, r := range valid {
		it := w.get(r.Key)
		if n := byName[it.Customer.Name+"|"+it.Customer.CompanyNumber]; n != 1 {
			t.Errorf("%s: %d organisations named %q", r.Key, n, it.Customer.Name)
		}
		id := it.Customer.PlatformIDs.CustomerAPI
		if id == "" {
			t.Fatalf("%s not written back", r.Key)
		}
		if farms := w.farmOf(id); len(farms) != 1 {
			t.Errorf("%s: %d farm business units", r.Key, len(farms))
		}
	}
	if got, want := len(w.organisations()), len(valid)+1; got != want {
		t.Fatalf("%d organisations, want %d", got, want)
	}
	c := w.srv.Faults().Counts()
	if c["createOrganisation"].ByStatus[0] != 2 || c["createBusinessUnit"].ByStatus[0] != 1 {
		t.Fatalf("dropped creates: %+v %+v", c["createOrganisation"], c["createBusinessUnit"])
	}
	logs := w.logs.String()
	// (The dropped farm may be adopted by the push's retry or found by a
	// pull first; either way there is one.)
	if !strings.Contains(logs, "adopting the organisation an earlier attempt created") {
		t.Fatal("no adoption logged")
	}
	if dead := w.capiDead(); len(dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}
}

// TestCustomerAPIDuplicateRefused: of two customers whose owner e-mail is
// the same, the platform takes one and refuses the other; the refused one
// goes to the dead letters with the platform's field reason and is not
// bound to the other customer's organisation.
func TestCustomerAPIDuplicateRefused(t *testing.T) {
	var pair []string
	w := newCAPIWorld(t, capiOpts{records: 10, edit: func(recs []erpgen.Record) {
		var first string
		for i := range recs {
			if !recs[i].SyncCustomerAPI || recs[i].Invalid != "" {
				continue
			}
			pair = append(pair, recs[i].Key)
			if first == "" {
				first = recs[i].Value("admin_email")
				continue
			}
			recs[i].Set("admin_email", first)
			return
		}
	}})
	w.sync()
	if len(pair) != 2 {
		t.Fatal("no duplicate planted")
	}
	dead := w.capiDead()
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "ownerContact.email") {
		t.Fatalf("dead letters %+v", dead)
	}
	refused := strings.TrimPrefix(dead[0].Key, "capi:push:")
	taken := pair[0]
	switch refused {
	case pair[0]:
		taken = pair[1]
	case pair[1]:
	default:
		t.Fatalf("dead letter for %s, want one of %v", refused, pair)
	}
	if id := w.get(refused).Customer.PlatformIDs.CustomerAPI; id != "" {
		t.Fatalf("refused customer linked to %s", id)
	}
	if id := w.get(taken).Customer.PlatformIDs.CustomerAPI; id == "" {
		t.Fatal("the first customer got no organisation")
	}
}

// TestCustomerAPIStateLost: after the state file is lost, the connector
// takes the organisations the ERP links back instead of creating them
// again, and writes nothing where the platform already agrees.
func TestCustomerAPIStateLost(t *testing.T) {
	w := newCAPIWorld(t, capiOpts{records: 10})
	w.sync()
	w.sync()
	before := len(w.organisations())
	w.stop()
	w.cfg.StatePath = filepath.Join(t.TempDir(), "fresh-state.db")
	w.start()
	w.srv.Faults().ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	w.sync()
	if n := w.capiWrites(); n != 0 {
		t.Fatalf("%d platform writes after the state was lost: %+v", n, w.srv.Faults().Counts())
	}
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes after the state was lost", n)
	}
	if got := len(w.organisations()); got != before {
		t.Fatalf("%d organisations, was %d", got, before)
	}
	st, err := w.conn.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Outcomes["erp_to_capi"]["adopted"]; got != len(w.capiValid()) {
		t.Fatalf("%d adopted, want %d", got, len(w.capiValid()))
	}
}

// capiBench is a connector for the Customer API over a SQLite ERP, for benchmarks.
type capiBench struct {
	conn *connector.Connector
	srv  *customerapitest.Server
	tab  *sqlerp.Table
	// flagged is how many records are flagged for the Customer API.
	flagged int
}

func newCAPIBench(b *testing.B, records int) *capiBench {
	b.Helper()
	ctx := context.Background()
	srv := customerapitest.NewServer(customerapitest.Options{Users: map[string]string{capiUser: capiPass}, Seed: 7})
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	dir := b.TempDir()
	tab, err := sqlerp.Open(ctx, sqlerp.DemoConfig("sqlite", filepath.Join(dir, "erp.db"), sqlerp.DemoTable), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tab.Close() })
	if err := sqlerp.CreateDemoSchema(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable); err != nil {
		b.Fatal(err)
	}
	recs := erpgen.New(erpgen.Options{Seed: 21}).Records(records)
	uniqueOnPlatform(recs)
	if err := sqlerp.InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), sqlerp.DemoTable, recs, time.Now().Add(-time.Hour)); err != nil {
		b.Fatal(err)
	}
	conn, err := connector.New(connector.Options{ERP: tab, Config: connector.Config{
		StatePath:   filepath.Join(dir, "state.db"),
		CustomerAPI: &connector.CustomerAPIConfig{BaseURL: ts.URL, Username: capiUser, Password: capiPass},
		ERP:         connector.ERPConfig{PageSize: 200},
	}})
	if err != nil {
		b.Fatal(err)
	}
	if err := conn.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Stop(context.Background()) })
	n := 0
	for _, r := range recs {
		if r.SyncCustomerAPI && !r.Deleted {
			n++
		}
	}
	return &capiBench{conn: conn, srv: srv, tab: tab, flagged: n}
}

func (cb *capiBench) cycle(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cb.conn.SyncOnce(ctx); err != nil {
		b.Fatal(err)
	}
	if err := cb.conn.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCustomerAPIQuietCycle measures one full converged cycle (ERP
// scans, the organisation listing, the certificate look-ups of every bound
// farm) for 500 ERP records (the "customers" metric: how many are flagged
// for the Customer API).
func BenchmarkCustomerAPIQuietCycle(b *testing.B) {
	cb := newCAPIBench(b, 500)
	cb.cycle(b)
	cb.cycle(b)
	cb.cycle(b)
	cb.srv.Faults().ResetCounts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cb.cycle(b)
	}
	b.StopTimer()
	b.ReportMetric(float64(cb.flagged), "customers")
	c := cb.srv.Faults().Counts()
	if w := c["createOrganisation"].Total + c["updateOrganisation"].Total + c["createBusinessUnit"].Total + c["updateBusinessUnit"].Total; w != 0 {
		b.Fatalf("%d writes in quiet cycles", w)
	}
}

// BenchmarkCustomerAPIInitialPush measures taking 300 ERP records to the
// Customer API from an empty state (organisation, farm business unit,
// write-back, the first listing and pulls); "customers" is how many are
// flagged for the Customer API.
func BenchmarkCustomerAPIInitialPush(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cb := newCAPIBench(b, 300)
		b.ReportMetric(float64(cb.flagged), "customers")
		b.StartTimer()
		cb.cycle(b)
		b.StopTimer()
		_ = cb.conn.Stop(context.Background())
		b.StartTimer()
	}
}
