package connector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// What only ONe has: a change feed, storefront registrations that become
// ERP customers, a finance-data write of its own, additional fields the
// shopper enters, and no lookup by external id.

var storefrontRegistration = oneapi.ClientWrite{CustomerType: oneapi.CustomerCompany, Name: "Sklep Rejestracja Sp. z o.o.",
	Tin: "5213017228", TinCode: "PL", Phone: "+48 22 111 22 33",
	Address: &oneapi.Address{City: "Warszawa", Country: "Polska", ExternalID: "web", Name: "Sklep Rejestracja Sp. z o.o.",
		Phone: "+48 22 111 22 33", Street: "Prosta 20", ZipCode: "00-850"},
	AdditionalFields: map[string]oneapi.AdditionalField{
		"favourite":  {Name: "favourite", Label: "Ulubiony produkt", Value: "pszenica ozima"},
		"newsletter": {Name: "newsletter", Label: "Newsletter", Value: true},
	}}

// TestONeStorefrontRegistration: a storefront registration becomes an ERP
// customer and gets its ERP key as external id, keeping the additional
// fields the shopper entered (the ERP does not hold them); a back-office
// edit of platform-owned data lands in the ERP; a storefront delete unlinks
// the ERP customer.
func TestONeStorefrontRegistration(t *testing.T) {
	w := newWorld(t, worldOpts{configure: func(c *connectorConfig) {
		c.Ownership = []ownership{{Group: "master", Owner: "platform"}}
	}})
	reg := storefrontRegistration
	created, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, reg)
	if err != nil {
		t.Fatal(err)
	}
	w.sync()
	w.sync() // the new ERP key travels back to ONe as the external id
	cl, _ := w.one.Client(tenant, created.ClientID)
	if cl.ExternalID == "" {
		t.Fatal("ONe client did not get the new ERP key as external id")
	}
	if len(cl.AdditionalFields) != 2 || cl.AdditionalFields["favourite"].Value != "pszenica ozima" {
		t.Fatalf("the shopper's additional fields were not kept: %+v", cl.AdditionalFields)
	}
	it := w.get(cl.ExternalID)
	if it.Customer.Name != reg.Name || it.Customer.PlatformIDs.ONe != created.ClientID || !it.Customer.Flags.ONe {
		t.Fatalf("ERP customer %+v", it.Customer)
	}

	// A back-office edit of master data (owned by the platform here) lands in the ERP.
	edited := reg
	edited.Name = "Sklep Po Zmianie Sp. z o.o."
	edited.ExternalID = cl.ExternalID
	if err := w.one.StorefrontUpdate(tenant, oneapi.ContextBackoffice, created.ClientID, edited); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if got := w.get(cl.ExternalID).Customer.Name; got != edited.Name {
		t.Fatalf("ERP name %q", got)
	}
	// The ERP keeps phones in its own normalised form; that form may go back
	// to ONe once. After that the two sides agree and a cycle writes nothing.
	w.sync()
	converged(t, w, oneHarness)
	if cl2, _ := w.one.Client(tenant, created.ClientID); cl2.Name != edited.Name || len(cl2.AdditionalFields) != 2 {
		t.Fatalf("ONe client %q, additional fields %+v", cl2.Name, cl2.AdditionalFields)
	}

	// Deleted in the storefront: the ERP record is unlinked.
	if err := w.one.StorefrontDelete(tenant, oneapi.ContextBackoffice, created.ClientID); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if id := w.get(cl.ExternalID).Customer.PlatformIDs.ONe; id != "" {
		t.Fatalf("ERP still links ONe id %q", id)
	}
}

// TestONeFullUpdateKeepsWhatTheERPDoesNotHold: the shopper enters
// additional fields on a client the connector created; an ERP change sends
// the full client body, and the fields are still there.
func TestONeFullUpdateKeepsWhatTheERPDoesNotHold(t *testing.T) {
	w := newWorld(t, worldOpts{records: 4})
	w.sync()
	r := oneHarness.firstValid(t, w)
	id := w.backofficeEdit(r.Key, func(wr *oneapi.ClientWrite) {
		wr.AdditionalFields = map[string]oneapi.AdditionalField{"favourite": {Name: "favourite", Value: "jęczmień"}}
	})
	r.Set("name", "Changed In The ERP Sp. z o.o.")
	w.clock = time.Now()
	w.put(r) // the ERP change is scanned before the feed shows the shopper's edit
	w.sync()
	cl, _ := w.one.Client(tenant, id)
	if cl.Name != "Changed In The ERP Sp. z o.o." {
		t.Fatalf("the ERP change did not reach ONe: %q", cl.Name)
	}
	if cl.AdditionalFields["favourite"].Value != "jęczmień" {
		t.Fatalf("a full update erased what the ERP does not hold: %+v", cl.AdditionalFields)
	}
	converged(t, w, oneHarness)
}

// TestONeUpdateSendsOnlyWhatChanged: a change to the finance data alone is
// one finance write; a change to the client body alone is one client
// write, the finance data untouched.
func TestONeUpdateSendsOnlyWhatChanged(t *testing.T) {
	w := newWorld(t, worldOpts{records: 20})
	w.sync()
	var r = oneHarness.firstValid(t, w)
	for _, v := range oneHarness.valid(w) {
		if v.Value("customer_type") == "C" {
			r = v // trade credit applies to companies
			break
		}
	}
	count := func() map[string]int64 {
		c := w.one.Faults().Counts()
		return map[string]int64{"client": c["updateClient"].Total, "finance": c["updateClientFinanceData"].Total}
	}
	w.one.Faults().ResetCounts()
	r.Set("credit_limit", "123456")
	w.clock = time.Now()
	w.put(r)
	w.sync()
	if got := count(); got["finance"] != 1 || got["client"] != 0 {
		t.Fatalf("a finance change made %+v writes, want one finance write", got)
	}
	if v, _ := w.one.TradeCredit(tenant, w.get(r.Key).Customer.PlatformIDs.ONe); v != 123456 {
		t.Fatalf("trade credit on ONe %v", v)
	}
	w.one.Faults().ResetCounts()
	r.Set("phone", "+48 600 100 200")
	w.clock = time.Now()
	w.put(r)
	w.sync()
	if got := count(); got["client"] != 1 || got["finance"] != 0 {
		t.Fatalf("a client-body change made %+v writes, want one client write", got)
	}
}

// TestONePartialUpdateModeIsGone: the partial mode lost what its endpoints
// cannot carry (a rename); a configuration asking for it is refused with
// the reason, and a rename reaches ONe through the full update.
func TestONePartialUpdateModeIsGone(t *testing.T) {
	w := newWorld(t, worldOpts{records: 3, noStart: true})
	cfg := w.cfg
	one := *cfg.ONe
	one.UpdateMode = "partial"
	cfg.ONe = &one
	_, err := connector.New(connector.Options{Config: cfg, ERP: w.erp})
	if err == nil || !strings.Contains(err.Error(), "one.update_mode") || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("partial update mode: %v", err)
	}
	w.start()
	w.sync()
	r := oneHarness.firstValid(t, w)
	r.Set("name", "Nowa Nazwa Sp. z o.o.")
	w.clock = time.Now()
	w.put(r)
	w.sync()
	if cl, _ := w.one.Client(tenant, w.get(r.Key).Customer.PlatformIDs.ONe); cl.Name != "Nowa Nazwa Sp. z o.o." {
		t.Fatalf("rename on ONe: %q", cl.Name)
	}
}

// lostCreates starts a world of records whose every create commits on ONe
// and loses its answer (plus the extra rules), and returns it with the
// number of customers flagged for ONe.
func lostCreates(t *testing.T, records int, extra ...fault.Rule) (*world, int) {
	t.Helper()
	// Every create fails alike: let the breaker probe again quickly.
	w := newWorld(t, worldOpts{records: records, noStart: true, configure: func(c *connector.Config) {
		c.ONe.Upstream.BreakerOpen = 50 * time.Millisecond
	}})
	n := len(oneHarness.valid(w))
	for _, r := range append([]fault.Rule{{Operation: "createClient", DropAfterCommit: true, Count: n}}, extra...) {
		if _, err := w.one.Faults().Add(r); err != nil {
			t.Fatal(err)
		}
	}
	w.start()
	return w, n
}

// TestLookupsShareOneListing: when every create's answer is lost (the
// clients exist, the connector does not know their ids), the lookups by
// external id are answered from one listing of ONe's clients, not one
// listing per record, and every client is adopted exactly once.
func TestLookupsShareOneListing(t *testing.T) {
	w, n := lostCreates(t, 40)
	w.sync()
	exactlyOnce(t, w, oneHarness)
	counts := w.one.Faults().Counts()
	if got := counts["createClient"].ByStatus[0]; got != int64(n) {
		t.Fatalf("%d dropped creates, want %d", got, n)
	}
	// One page of 50 holds every client: a listing per lookup would be n requests.
	if got := counts["listClients"].Total; got > 3 {
		t.Fatalf("%d listing requests for %d lookups, want them to share a listing", got, n)
	}
}

// TestListingSurvivesABadPage: a malformed listing page is read again
// within the listing; no lookup (and no job) fails because of it.
func TestListingSurvivesABadPage(t *testing.T) {
	w, _ := lostCreates(t, 12, fault.Rule{Operation: "listClients", Malformed: true, Count: 2})
	w.sync()
	exactlyOnce(t, w, oneHarness)
	logs := w.logs.String()
	if !strings.Contains(logs, "listing page failed; reading it again") {
		t.Fatal("the malformed pages were not read again")
	}
	if strings.Contains(logs, "look up ONe client") {
		t.Fatal("a lookup failed over a malformed listing page")
	}
	_ = context.Background
}

// TestONeFeedDuplicatedAndReordered: the feed repeats and shuffles its
// events; every registration becomes one ERP customer, every client's last
// state is what the ERP holds (a repeated or late event never brings an
// older state back), and nothing is written twice.
func TestONeFeedDuplicatedAndReordered(t *testing.T) {
	w := newWorld(t, worldOpts{records: 10, configure: func(c *connectorConfig) {
		c.Ownership = []ownership{{Group: "master", Owner: "platform"}}
	}})
	w.sync()
	w.sync()
	if _, err := w.one.Faults().Add(fault.Rule{Operation: "getClientSyncFeed", Duplicate: true, Reorder: true}); err != nil {
		t.Fatal(err)
	}
	rows := w.rows()
	var regs []string
	for i := range 4 {
		reg := storefrontRegistration
		reg.Name = fmt.Sprintf("Sklep Numer %d Sp. z o.o.", i)
		reg.Tin = []string{"5213017228", "5260250995", "7010013227", "5252248481"}[i]
		reg.AdditionalFields = nil
		created, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, reg)
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, created.ClientID)
	}
	edited := oneHarness.valid(w)[:3]
	for _, r := range edited {
		for v := 1; v <= 3; v++ {
			oneHarness.rename(w, oneHarness.id(w, r.Key), fmt.Sprintf("Edited %s v%d", r.Key, v))
		}
	}
	erpWrites := w.erp.writes.Load()
	w.sync()
	w.sync()
	if got := w.rows(); got != rows+len(regs) {
		t.Fatalf("%d ERP rows, want %d: every registration once", got, rows+len(regs))
	}
	for _, id := range regs {
		cl, _ := w.one.Client(tenant, id)
		if cl.ExternalID == "" || w.get(cl.ExternalID).Customer.PlatformIDs.ONe != id {
			t.Fatalf("registration %s not bound to an ERP customer: %q", id, cl.ExternalID)
		}
	}
	for _, r := range edited {
		if got := w.get(r.Key).Customer.Name; got != "Edited "+r.Key+" v3" {
			t.Fatalf("%s: ERP name %q, want the last edit", r.Key, got)
		}
	}
	// Each registration: the new row and its write-back; each edited client: one write.
	if n := w.erp.writes.Load() - erpWrites; n > int64(2*len(regs)+len(edited)) {
		t.Fatalf("%d ERP writes for %d registrations and %d edited clients: something was applied twice\n%s",
			n, len(regs), len(edited), w.logLines())
	}
	converged(t, w, oneHarness)
}

// oneRequests counts the requests ONe answered, by operation.
func oneRequests(w *world) map[string]int64 {
	out := map[string]int64{}
	for op, c := range w.one.Faults().Counts() {
		if c.Total > 0 && op != "getClientSyncFeed" && op != "listClients" {
			out[op] = c.Total
		}
	}
	return out
}

// sameRequests reports whether two request counts are equal.
func sameRequests(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestONeUpdateRequests: what one ERP change costs on ONe. A finance-only
// change is the one finance write (it carries only the finance data, so
// nothing needs reading first). A name change is the full client write,
// after a read of the client where the full write carries over what the
// ERP does not hold or does not own (here the shopper's additional fields,
// which survive); where the ERP holds and owns every field, it is the full
// write alone. A write made without reading the client leaves its Seen
// unknown (what ONe keeps beside the write was not read): the next resync
// reads that client once; after a write made over a read, it reads none.
func TestONeUpdateRequests(t *testing.T) {
	for _, tc := range []struct {
		name      string
		holdsAll  bool
		rename    map[string]int64
		carryOver bool
		// renameReads is what the resync after the rename reads.
		renameReads int64
	}{
		{name: "carries_over", rename: map[string]int64{"getClient": 1, "updateClient": 1}, carryOver: true},
		{name: "erp_holds_and_owns_all", holdsAll: true, rename: map[string]int64{"updateClient": 1}, renameReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := worldOpts{records: 20, noStart: true}
			if tc.holdsAll {
				o.configure = func(c *connector.Config) {
					c.Ownership = []connector.Ownership{{Group: connector.GroupContact, Owner: connector.OwnerERP}}
				}
			}
			w := newWorld(t, o)
			if tc.holdsAll {
				w.erpOverride = holdsEverything{w.erp}
			}
			w.start()
			w.sync()
			r := oneHarness.firstValid(t, w)
			for _, v := range oneHarness.valid(w) {
				if v.Value("customer_type") == "C" {
					r = v // trade credit applies to companies
					break
				}
			}
			id := oneHarness.id(w, r.Key)
			if tc.carryOver {
				w.backofficeEdit(r.Key, func(wr *oneapi.ClientWrite) {
					wr.AdditionalFields = map[string]oneapi.AdditionalField{"favourite": {Name: "favourite", Value: "jęczmień"}}
				})
				skipFeed(t, w) // the ERP change is sent before the feed shows the shopper's edit
			}

			w.one.Faults().ResetCounts()
			r.Set("credit_limit", "424242")
			w.clock = time.Now()
			w.put(r)
			w.sync()
			if got, want := oneRequests(w), map[string]int64{"updateClientFinanceData": 1}; !sameRequests(got, want) {
				t.Fatalf("a finance-only change cost %v, want %v\n%s", got, want, w.logLines())
			}
			if v, _ := w.one.TradeCredit(tenant, id); v != 424242 {
				t.Fatalf("trade credit on ONe %v", v)
			}
			resyncReads(t, w, 1)

			w.one.Faults().ResetCounts()
			r.Set("name", "Renamed In The ERP Sp. z o.o.")
			w.clock = time.Now()
			w.put(r)
			w.sync()
			if got := oneRequests(w); !sameRequests(got, tc.rename) {
				t.Fatalf("a name change cost %v, want %v\n%s", got, tc.rename, w.logLines())
			}
			cl, _ := w.one.Client(tenant, id)
			if cl.Name != "Renamed In The ERP Sp. z o.o." {
				t.Fatalf("the rename did not reach ONe: %q", cl.Name)
			}
			if tc.carryOver && cl.AdditionalFields["favourite"].Value != "jęczmień" {
				t.Fatalf("the full write erased what the ERP does not hold: %+v", cl.AdditionalFields)
			}
			resyncReads(t, w, tc.renameReads)
			resyncReads(t, w, 0)
			converged(t, w, oneHarness)
		})
	}
}

// resyncReads runs a resync of ONe and checks how many clients it read,
// and that it wrote nothing.
func resyncReads(t *testing.T, w *world, want int64) {
	t.Helper()
	w.one.Faults().ResetCounts()
	w.resync(oneHarness.platform)
	if got := oneHarness.fetches(w); got != want {
		t.Fatalf("the resync read %d clients, want %d\n%s", got, want, w.logLines())
	}
	if n := w.writes(); n != 0 {
		t.Fatalf("the resync wrote %d times: %+v", n, w.one.Faults().Counts())
	}
}

// holdsEverything is the ERP without the list of fields it holds: the
// connector takes it as holding every field.
type holdsEverything struct{ a *countingERP }

func (h holdsEverything) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	return h.a.Changes(ctx, cursor, limit)
}
func (h holdsEverything) Get(ctx context.Context, key string) (erp.Item, error) {
	return h.a.Get(ctx, key)
}
func (h holdsEverything) Upsert(ctx context.Context, c mapping.Customer) (string, error) {
	return h.a.Upsert(ctx, c)
}
func (h holdsEverything) SetPlatformID(ctx context.Context, key string, p mapping.Platform, id string) error {
	return h.a.SetPlatformID(ctx, key, p, id)
}
func (h holdsEverything) Unlink(ctx context.Context, key string, p mapping.Platform) error {
	return h.a.Unlink(ctx, key, p)
}
func (h holdsEverything) MarkDeleted(ctx context.Context, key string) error {
	return h.a.MarkDeleted(ctx, key)
}
func (h holdsEverything) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	return h.a.ListItems(ctx, after, limit)
}
