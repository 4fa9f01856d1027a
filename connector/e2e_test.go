package connector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/queue"
)

// TestERPToONe covers create with write-back, update, invalid rows in the
// dead letters with their reasons, and zero writes once converged.
func TestERPToONe(t *testing.T) {
	w := newWorld(t, worldOpts{records: 40, invalidEvery: 9})
	w.sync()

	valid, invalid := 0, 0
	for _, r := range w.recs {
		if !r.SyncONe || r.Deleted {
			continue
		}
		if r.Invalid != "" {
			invalid++
			continue
		}
		valid++
		it := w.get(r.Key)
		id := it.Customer.PlatformIDs.ONe
		if id == "" {
			t.Fatalf("%s: ONe id not written back", r.Key)
		}
		cl, ok := w.one.Client(tenant, id)
		if !ok || cl.ExternalID != r.Key || cl.Name != it.Customer.Name {
			t.Fatalf("%s: client on ONe %+v", r.Key, cl)
		}
	}
	if got := w.one.ClientCount(tenant); got != valid {
		t.Fatalf("%d clients on ONe, want %d", got, valid)
	}
	dead, _, err := w.conn.Store().DeadLetters(context.Background(), queue.DeadFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != invalid || invalid == 0 {
		t.Fatalf("%d dead letters, want %d", len(dead), invalid)
	}
	byKey := map[string]erpgen.Record{}
	for _, r := range w.recs {
		byKey[r.Key] = r
	}
	for _, d := range dead {
		key := strings.TrimPrefix(d.Key, "one:push:")
		want := byKey[key].Invalid.Field()
		if !strings.Contains(d.LastError, want) {
			t.Errorf("dead letter %s: reason %q does not name %s", key, d.LastError, want)
		}
	}

	// An update in the ERP reaches ONe, and only that one.
	w.one.Faults().ResetCounts()
	var upd erpgen.Record
	for _, r := range w.recs {
		if r.SyncONe && !r.Deleted && r.Invalid == "" {
			upd = r
			break
		}
	}
	upd.Set("name", "Renamed Customer Sp. z o.o.")
	w.put(upd)
	w.sync()
	if n := w.one.Faults().Count("updateClient"); n != 1 {
		t.Fatalf("%d updates, want 1", n)
	}
	cl, _ := w.one.Client(tenant, w.get(upd.Key).Customer.PlatformIDs.ONe)
	if cl.Name != "Renamed Customer Sp. z o.o." {
		t.Fatalf("name on ONe %q", cl.Name)
	}

	// Converged: another full cycle writes nothing anywhere.
	w.one.Faults().ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	w.sync()
	if n := w.writes(); n != 0 {
		t.Fatalf("%d platform writes after convergence: %+v", n, w.one.Faults().Counts())
	}
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes after convergence", n)
	}
	w.noContractProblems()
}

// TestInvalidRowReplayedAfterFix: a fixed ERP row leaves the dead letters' path.
func TestInvalidRowFixed(t *testing.T) {
	w := newWorld(t, worldOpts{})
	bad := erpgen.New(erpgen.Options{Seed: 5, InvalidEvery: 1, Kinds: []erpgen.Invalid{erpgen.MissingTIN}}).Records(1)[0]
	bad.SyncONe = true
	w.put(bad)
	w.sync()
	dead, _, _ := w.conn.Store().DeadLetters(context.Background(), queue.DeadFilter{})
	if len(dead) != 1 || !strings.Contains(dead[0].LastError, "tin") {
		t.Fatalf("dead letters %+v", dead)
	}
	if w.one.ClientCount(tenant) != 0 {
		t.Fatal("an invalid customer reached ONe")
	}
	bad.Set("tin", "5260250995")
	w.put(bad)
	w.sync()
	if w.one.ClientCount(tenant) != 1 || w.get(bad.Key).Customer.PlatformIDs.ONe == "" {
		t.Fatal("the fixed customer was not delivered")
	}
}

// TestONeToERP covers storefront create, update and delete reaching the ERP.
func TestONeToERP(t *testing.T) {
	w := newWorld(t, worldOpts{configure: func(c *connectorConfig) {
		c.Ownership = []ownership{{Group: "master", Owner: "platform"}}
	}})
	ctx := context.Background()
	reg := oneapi.ClientWrite{CustomerType: oneapi.CustomerCompany, Name: "Sklep Rejestracja Sp. z o.o.", Tin: "5213017228", TinCode: "PL",
		Phone: "+48 22 111 22 33",
		Address: &oneapi.Address{City: "Warszawa", Country: "Polska", ExternalID: "web", Name: "Sklep Rejestracja Sp. z o.o.",
			Phone: "+48 22 111 22 33", Street: "Prosta 20", ZipCode: "00-850"}}
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
	it := w.get(cl.ExternalID)
	if it.Customer.Name != reg.Name || it.Customer.PlatformIDs.ONe != created.ClientID || !it.Customer.Flags.ONe {
		t.Fatalf("ERP customer %+v", it.Customer)
	}

	// A back-office edit of master data (owned by the platform here) lands in the ERP.
	reg.Name = "Sklep Po Zmianie Sp. z o.o."
	reg.Address.Name = reg.Name
	if err := w.one.StorefrontUpdate(tenant, oneapi.ContextBackoffice, created.ClientID, reg); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if got := w.get(cl.ExternalID).Customer.Name; got != reg.Name {
		t.Fatalf("ERP name %q", got)
	}
	// The ERP keeps phones in its own normalised form; that form may go back
	// to ONe once. After that the two sides agree and a cycle writes nothing.
	w.sync()
	w.one.Faults().ResetCounts()
	w.sync()
	if n := w.writes(); n != 0 {
		t.Fatalf("converged cycle wrote %d times to ONe", n)
	}
	if cl2, _ := w.one.Client(tenant, created.ClientID); cl2.Name != reg.Name {
		t.Fatalf("ONe name %q", cl2.Name)
	}

	// Deleted in the storefront: the ERP record is unlinked.
	if err := w.one.StorefrontDelete(tenant, oneapi.ContextBackoffice, created.ClientID); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if id := w.get(cl.ExternalID).Customer.PlatformIDs.ONe; id != "" {
		t.Fatalf("ERP still links ONe id %q", id)
	}
	_ = ctx
}

// TestFieldOwnership: by default the ERP owns master data, so a storefront
// change to it is put back, while platform-owned groups come in.
func TestFieldOwnership(t *testing.T) {
	w := newWorld(t, worldOpts{records: 3})
	w.sync()
	var key string
	for _, r := range w.recs {
		if r.SyncONe && r.Invalid == "" && !r.Deleted {
			key = r.Key
			break
		}
	}
	erpName := w.get(key).Customer.Name
	id := w.get(key).Customer.PlatformIDs.ONe
	cl, _ := w.one.Client(tenant, id)
	wr := mapping.ToONeWrite(mapping.FromONe(cl))
	wr.Name = "Changed In Backoffice"
	wr.Address.Name = "Changed In Backoffice"
	if err := w.one.StorefrontUpdate(tenant, oneapi.ContextBackoffice, id, wr); err != nil {
		t.Fatal(err)
	}
	w.sync()
	w.idle()
	if got := w.get(key).Customer.Name; got != erpName {
		t.Fatalf("ERP-owned name overwritten: %q", got)
	}
	cl, _ = w.one.Client(tenant, id)
	if cl.Name != erpName {
		t.Fatalf("ONe name %q, want the ERP's %q back", cl.Name, erpName)
	}
}

// TestDeadLetterReplayAfterFix: replaying the dead letter of a fixed ERP
// record reads the record again and delivers it.
func TestDeadLetterReplayAfterFix(t *testing.T) {
	w := newWorld(t, worldOpts{})
	bad := erpgen.New(erpgen.Options{Seed: 6, InvalidEvery: 1, Kinds: []erpgen.Invalid{erpgen.BadEmail}}).Records(1)[0]
	bad.SyncONe = true
	w.put(bad)
	w.sync()
	ctx := context.Background()
	dead, _, _ := w.conn.Store().DeadLetters(ctx, queue.DeadFilter{})
	if len(dead) != 1 {
		t.Fatalf("dead letters %+v", dead)
	}
	// Replayed while still invalid: back in the dead letters.
	if _, err := w.conn.Store().Replay(ctx, queue.DeadFilter{}); err != nil {
		t.Fatal(err)
	}
	w.idle()
	if dead, _, _ = w.conn.Store().DeadLetters(ctx, queue.DeadFilter{}); len(dead) != 1 || w.one.ClientCount(tenant) != 0 {
		t.Fatalf("replay of an unfixed record: dead %d, clients %d", len(dead), w.one.ClientCount(tenant))
	}
	// Fixed in the ERP, then replayed (no scan in between).
	for _, col := range []string{"email", "invoice_email", "admin_email"} {
		if v := bad.Value(col); v != "" && !strings.Contains(v, "@") || strings.Contains(v, " ") {
			bad.Set(col, "fixed@example.com")
		}
	}
	w.put(bad)
	if it := w.get(bad.Key); it.Err != nil {
		t.Fatalf("record still invalid after the fix: %v", it.Err)
	}
	if _, err := w.conn.Store().Replay(ctx, queue.DeadFilter{}); err != nil {
		t.Fatal(err)
	}
	w.idle()
	if w.one.ClientCount(tenant) != 1 || w.get(bad.Key).Customer.PlatformIDs.ONe == "" {
		t.Fatal("the replayed, fixed record was not delivered")
	}
	if dead, _, _ = w.conn.Store().DeadLetters(ctx, queue.DeadFilter{}); len(dead) != 0 {
		t.Fatalf("%d dead letters left", len(dead))
	}
}

// TestUnflagPolicy: a customer unflagged in the ERP is deleted on ONe (policy
// "delete") or only unbound (policy "unbind"); either way the ERP link goes.
func TestUnflagPolicy(t *testing.T) {
	for _, policy := range []string{"delete", "unbind"} {
		t.Run(policy, func(t *testing.T) {
			w := newWorld(t, worldOpts{records: 4, configure: func(c *connectorConfig) { c.ONe.OnUnflag = policy }})
			w.sync()
			var r erpgen.Record
			for _, rec := range w.recs {
				if rec.SyncONe && rec.Invalid == "" && !rec.Deleted {
					r = rec
					break
				}
			}
			id := w.get(r.Key).Customer.PlatformIDs.ONe
			before := w.one.ClientCount(tenant)
			r.SyncONe = false
			w.put(r)
			w.sync()
			_, still := w.one.Client(tenant, id)
			if policy == "delete" && (still || w.one.ClientCount(tenant) != before-1) {
				t.Fatal("unflagged customer not deleted on ONe")
			}
			if policy == "unbind" && !still {
				t.Fatal("unbind policy deleted the client")
			}
			if got := w.get(r.Key).Customer.PlatformIDs.ONe; got != "" {
				t.Fatalf("ERP still links %q", got)
			}
			// A later change of the unflagged record does nothing on ONe.
			w.one.Faults().ResetCounts()
			r.Set("name", "Still Unflagged Ltd")
			w.put(r)
			w.sync()
			if n := w.writes(); n != 0 {
				t.Fatalf("%d writes for an unflagged customer", n)
			}
		})
	}
}

// TestScheduleNextRuns: each run reports its own next time.
func TestScheduleNextRuns(t *testing.T) {
	w := newWorld(t, worldOpts{configure: func(c *connectorConfig) {
		// Listed in the opposite order of their next times.
		c.Schedules = connector.Schedules{NewCustomers: "0 0 0 1 3 *", Updates: "0 0 0 1 2 *", Feed: "0 0 0 1 1 *", TimeZone: "UTC"}
	}})
	next := w.conn.NextRuns()
	for run, month := range map[string]time.Month{"new_customers": time.March, "updates": time.February, "feed": time.January} {
		if got := next[run]; got.Month() != month || got.Day() != 1 {
			t.Errorf("%s next run %v, want the 1st of %v", run, got, month)
		}
	}
	if _, ok := next["resync"]; ok {
		t.Error("a run without a schedule has a next time")
	}
}
