package connector_test

import (
	"context"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/oneapi"
)

// TestPlanReportsWithoutWriting: the plan names creates, updates, rejects,
// imports and conflicts, and writes nothing anywhere.
func TestPlanReportsWithoutWriting(t *testing.T) {
	w := newWorld(t, worldOpts{records: 10, invalidEvery: 5})
	ctx := context.Background()
	rep, err := w.conn.PlanONe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	valid := len(flaggedValid(w))
	if rep.Counts[connector.PlanCreate] != valid || rep.Counts[connector.PlanReject] == 0 {
		t.Fatalf("initial plan %+v", rep.Counts)
	}
	if n := w.writes(); n != 0 || w.erp.writes.Load() != 0 || w.one.ClientCount(tenant) != 0 {
		t.Fatal("planning wrote something")
	}
	w.sync()

	keys := []string{}
	for k := range flaggedValid(w) {
		keys = append(keys, k)
	}
	// An ERP change, a platform change, both, and a storefront registration.
	var r1, r2 erpgen.Record
	for _, r := range w.recs {
		switch r.Key {
		case keys[0]:
			r1 = r
		case keys[1]:
			r2 = r
		}
	}
	r1.Set("name", "ERP Side Change Ltd")
	r2.Set("name", "Both Sides Change Ltd")
	w.put(r1, r2)
	for _, k := range []string{keys[1], keys[2]} {
		w.backofficeEdit(k, func(wr *oneapi.ClientWrite) { wr.Phone = "+48 600 700 800" })
	}
	sf := oneapi.ClientWrite{CustomerType: oneapi.CustomerIndividual, Name: "Jan Nowy",
		Address: &oneapi.Address{City: "Łódź", Country: "Polska", ExternalID: "x", Name: "Jan Nowy", Phone: "600100100", Street: "Piotrkowska 1", ZipCode: "90-001"}}
	if _, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, sf); err != nil {
		t.Fatal(err)
	}
	w.one.Faults().ResetCounts()
	rep, err = w.conn.PlanONe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, it := range rep.Items {
		actions[it.ERPKey+"|"+it.PlatformID] = it.Action
	}
	find := func(key string) string {
		for _, it := range rep.Items {
			if it.ERPKey == key {
				return it.Action
			}
		}
		return connector.PlanUnchanged
	}
	if a := find(keys[0]); a != connector.PlanUpdate {
		t.Errorf("ERP-changed record planned %q", a)
	}
	if a := find(keys[1]); a != connector.PlanConflict {
		t.Errorf("record changed on both sides planned %q", a)
	}
	if a := find(keys[2]); a != connector.PlanPull {
		t.Errorf("platform-changed record planned %q", a)
	}
	if rep.Counts[connector.PlanImport] != 1 {
		t.Errorf("storefront registration not planned as import: %+v", rep.Counts)
	}
	if n := w.writes(); n != 0 {
		t.Fatalf("planning wrote %d times to ONe", n)
	}
	_ = actions
}
