package connector_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	ccapi "github.com/erpconnector/erpconnector/connector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
)

// What only the Customer API has: farms (a farm business unit whose
// business holds the holding number, assurance scheme, location and
// certificate), Red Tractor certificates, organisation statuses, and
// duplicate refusals on the owner's e-mail.

// farmsOf returns the farm business units (with a business) of an organisation.
func farmsOf(w *world, orgID string) []customerapi.BusinessUnit {
	w.t.Helper()
	units, err := w.cl.BusinessUnits(context.Background(), orgID, func(u customerapi.BusinessUnit) bool {
		return u.Type == customerapi.BusinessUnitFarm && u.Business != nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return units.BusinessUnits
}

// firstFarm returns the first valid farm record.
func firstFarm(t *testing.T, w *world) erpgen.Record {
	t.Helper()
	for _, r := range capiHarness.valid(w) {
		if r.Value("holding_number") != "" {
			return r
		}
	}
	t.Fatal("no valid farm generated")
	return erpgen.Record{}
}

// editFarm changes a farm's business on the platform as a platform user
// would: holding number, SQC assurance.
func editFarm(t *testing.T, w *world, orgID string) {
	t.Helper()
	farms := farmsOf(w, orgID)
	if len(farms) != 1 {
		t.Fatalf("%d farms", len(farms))
	}
	u := farms[0]
	b := u.Business
	in := customerapi.BusinessInput{Location: b.Location, Name: b.Name, Email: b.Email, HoldingNumber: "99/888/7777",
		Sqc: &customerapi.Sqc{Number: "SQC55555", IsAssured: true}, AssuranceScheme: customerapi.SchemeSQC}
	if b.Phone != nil {
		in.PhoneNumber = b.Phone.String()
	}
	if _, err := w.cl.UpdateBusinessUnit(context.Background(), u.ID, customerapi.UpdateBusinessUnitRequest{Business: &in}); err != nil {
		t.Fatal(err)
	}
}

// TestCustomerAPIFarmChangeReachesTheERP: a change made on the platform to a
// farm's business only (holding number, assurance scheme), which the
// organisation listing does not show, reaches the ERP where the platform
// owns the farm group; where the ERP owns it, the ERP's values go back. A
// server that cannot read the businesses of a listing page in one request
// costs a read per farm, and the change still arrives.
func TestCustomerAPIFarmChangeReachesTheERP(t *testing.T) {
	for _, tc := range []struct {
		owner   string
		noBatch bool
	}{{connector.OwnerPlatform, false}, {connector.OwnerERP, false}, {connector.OwnerPlatform, true}} {
		name := "farm_" + tc.owner
		if tc.noBatch {
			name += "_no_batch_read"
		}
		t.Run(name, func(t *testing.T) {
			w := capiHarness.world(t, worldOpts{records: 12, configure: func(c *connector.Config) {
				c.Ownership = []connector.Ownership{{Group: connector.GroupFarm, Owner: tc.owner}}
			}})
			if tc.noBatch {
				if _, err := w.srv.Faults().Add(fault.Rule{Operation: "getBusinessesByBusinessUnitIds", Status: 404}); err != nil {
					t.Fatal(err)
				}
			}
			w.sync()
			w.sync()
			r := firstFarm(t, w)
			before := w.get(r.Key).Customer
			editFarm(t, w, before.PlatformIDs.CustomerAPI)
			w.sync()
			w.sync()
			got := w.get(r.Key).Customer.Farm
			farm, _ := capiHarness.record(w, before.PlatformIDs.CustomerAPI)
			if tc.owner == connector.OwnerPlatform {
				if got.HoldingNumber != "99/888/7777" || got.AssuranceScheme != "SQC" || got.SQCNumber != "SQC55555" {
					t.Fatalf("the farm change did not reach the ERP: %+v\n%s", got, w.logLines())
				}
			} else {
				if got.HoldingNumber != before.Farm.HoldingNumber || farm.Farm.HoldingNumber != before.Farm.HoldingNumber {
					t.Fatalf("ERP-owned holding number: ERP %q, platform %q, want %q", got.HoldingNumber, farm.Farm.HoldingNumber, before.Farm.HoldingNumber)
				}
			}
			if tc.noBatch {
				if !strings.Contains(w.logs.String(), "their organisations are read one by one") {
					t.Fatal("the missing batch read was not logged")
				}
				return
			}
			converged(t, w, capiHarness)
		})
	}
}

// TestCustomerAPIPlatformRemovalNoticed: an organisation deactivated on the
// platform and one deleted there are both noticed by the live listing and
// follow the delete policy in the ERP.
func TestCustomerAPIPlatformRemovalNoticed(t *testing.T) {
	for _, policy := range []string{"unlink", "mark-deleted"} {
		t.Run(policy, func(t *testing.T) {
			w := capiHarness.world(t, worldOpts{records: 12, configure: func(c *connector.Config) {
				c.CustomerAPI.OnDelete = policy
			}})
			w.sync()
			v := capiHarness.valid(w)
			if len(v) < 2 {
				t.Fatal("too few valid records")
			}
			deactivated, deleted := v[0], v[1]
			if err := w.srv.SetOrganisationStatus(capiHarness.id(w, deactivated.Key), "inactive"); err != nil {
				t.Fatal(err)
			}
			w.srv.DeleteOrganisation(capiHarness.id(w, deleted.Key))
			w.sync()
			for _, k := range []string{deactivated.Key, deleted.Key} {
				c := w.get(k).Customer
				if policy == "unlink" && c.PlatformIDs.CustomerAPI != "" {
					t.Fatalf("%s still links organisation %q\n%s", k, c.PlatformIDs.CustomerAPI, w.logLines())
				}
				if policy == "mark-deleted" && !c.Deleted {
					t.Fatalf("%s not marked deleted: %+v\n%s", k, c, w.logLines())
				}
			}
			st, _ := w.conn.Status(context.Background())
			if got := st.Bindings["customerapi"]; got != len(v)-2 {
				t.Fatalf("%d bindings, want %d", got, len(v)-2)
			}
		})
	}
}

// TestCustomerAPIUpdateKeepsWhatItDoesNotCarry: an update of an
// organisation keeps what the platform holds beside the connector's fields
// in the same objects (the company's bio and website).
func TestCustomerAPIUpdateKeepsWhatItDoesNotCarry(t *testing.T) {
	w := capiHarness.world(t, worldOpts{records: 8})
	w.sync()
	r := capiHarness.firstValid(t, w)
	id := capiHarness.id(w, r.Key)
	org, err := w.cl.GetOrganisation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	co := customerapi.Company{}
	if org.Company != nil {
		co = *org.Company
	}
	co.Bio, co.Website = "Family farm since 1902", "https://farm.example.co.uk"
	if _, err := w.cl.UpdateOrganisation(context.Background(), id, customerapi.UpdateOrganisationRequest{Company: &co}); err != nil {
		t.Fatal(err)
	}
	r.Set("vat_id", "GB999888777")
	w.clock = time.Now()
	w.put(r)
	w.sync()
	org, err = w.cl.GetOrganisation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if org.Company == nil || org.Company.SalesTaxID != "GB999888777" {
		t.Fatalf("the ERP change did not reach the platform: %+v", org.Company)
	}
	if org.Company.Bio != "Family farm since 1902" || org.Company.Website != "https://farm.example.co.uk" {
		t.Fatalf("an update erased what the connector does not carry: %+v", org.Company)
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
	w := capiHarness.world(t, worldOpts{records: 12, seed: 21, edit: func(recs []erpgen.Record) {
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

// TestCustomerAPIDuplicateRefused: of two customers whose owner e-mail is
// the same, the platform takes one and refuses the other; the refused one
// goes to the dead letters with the platform's field reason and is not
// bound to the other customer's organisation.
func TestCustomerAPIDuplicateRefused(t *testing.T) {
	var pair []string
	w := capiHarness.world(t, worldOpts{records: 10, seed: 21, edit: func(recs []erpgen.Record) {
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
	dead := deadLetters(t, w, capiHarness)
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

// TestCertificatesRefreshWhenDue: with the certificates on their schedule,
// a pass (the daemon's first pass, `sync --once`, a restart) looks up every
// farm only when a scheduled refresh has come due since the last whole one;
// otherwise only the farms whose binding changed since the last run.
func TestCertificatesRefreshWhenDue(t *testing.T) {
	w := capiHarness.world(t, worldOpts{records: 16, seed: 21, configure: func(c *connector.Config) {
		c.Schedules.Certificates = connector.DefaultCertificates
	}})
	lookups := func() int64 {
		t.Helper()
		w.srv.Faults().ResetCounts()
		w.sync()
		return w.srv.Faults().Count("getRedTractorCertificates")
	}
	farms := func() (n int64, keys []string) {
		for _, r := range w.recs {
			tr, err := w.conn.Trace(context.Background(), r.Key)
			if errors.Is(err, connector.ErrNoRecord) {
				continue // never bound (an invalid row)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tr.Platforms {
				if p.Platform == mapping.PlatformCustomerAPI && p.Bound && p.ExtraIDs[ccapi.ExtraFarm] == "1" {
					n++
					keys = append(keys, r.Key)
				}
			}
		}
		return n, keys
	}
	// The passes' deliveries run beside their certificates run: a farm
	// bound after a run began is looked up by the next pass (by both when
	// the run still came across its new binding), never by none.
	first := lookups() // never refreshed: the whole refresh is due
	second := lookups()
	n, keys := farms()
	if n == 0 || first+second < n || first+second > 2*n {
		t.Fatalf("first two passes looked up %d + %d certificates, want each of the %d farms once or twice", first, second, n)
	}
	settled := false
	for range 3 {
		if lookups() == 0 {
			settled = true
			break
		}
	}
	if !settled {
		t.Fatal("passes with nothing changed and no refresh due went on looking certificates up")
	}
	if !strings.Contains(w.logs.String(), "the whole refresh is not due") || !strings.Contains(w.logs.String(), `"next_refresh"`) {
		t.Fatalf("the skipped refresh is not logged with its next time:\n%s", w.logLines())
	}

	// A restart does not look every farm up again.
	w.stop()
	w.start()
	if got := lookups(); got != 0 {
		t.Fatalf("the pass after a restart looked up %d certificates", got)
	}

	// A farm changed in the ERP is looked up at the next passes, alone.
	updated := func(key string) time.Time {
		tr, err := w.conn.Trace(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tr.Platforms {
			if p.Platform == mapping.PlatformCustomerAPI {
				return p.BindingUpdated
			}
		}
		return time.Time{}
	}
	before := updated(keys[0])
	for i := range w.recs {
		if w.recs[i].Key == keys[0] {
			w.recs[i].Set("name", w.recs[i].Value("name")+" Farms")
			w.put(w.recs[i])
		}
	}
	// Passes until one that began after the farm's binding changed looks
	// nothing up: the farm was looked up once, or twice when a run came
	// across its new binding after it began.
	var total int64
	changedAt := time.Time{}
	for pass := 0; pass < 6; pass++ {
		got := lookups()
		total += got
		if !changedAt.IsZero() && got == 0 {
			break
		}
		if changedAt.IsZero() && updated(keys[0]).After(before) {
			changedAt = updated(keys[0])
		}
	}
	if changedAt.IsZero() || total < 1 || total > 2 {
		t.Fatalf("after one farm changed (its binding at %v), the passes looked up %d certificates, want 1 or 2", changedAt, total)
	}

	// A refresh missed (the last whole one two days ago): every farm again.
	old := []byte(time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339Nano))
	if err := w.conn.Store().SetCursor(context.Background(), "connector.certificates.refreshed", old); err != nil {
		t.Fatal(err)
	}
	if got := lookups(); got != n {
		t.Fatalf("the pass after a missed refresh looked up %d certificates, want %d", got, n)
	}
	if got := lookups(); got != 0 {
		t.Fatalf("the pass after the whole refresh looked up %d certificates", got)
	}
}
