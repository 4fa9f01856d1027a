package connector_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// TestPlanReportsWithoutWriting: the plan names creates, rejects, updates
// with the changed fields, pulls, conflicts, removals and (on ONe)
// imports, per platform, and writes nothing anywhere.
func TestPlanReportsWithoutWriting(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 14, invalidEvery: 5, kinds: []erpgen.Invalid{h.invalid},
			configure: func(c *connector.Config) { h.policy(c, h.removePolicy, "") },
			edit: func(recs []erpgen.Record) {
				for i := range recs {
					if recs[i].Invalid != "" {
						h.flag(&recs[i], true)
					}
				}
			}})
		ctx := context.Background()
		plan := func() connector.PlanReport {
			t.Helper()
			p, err := w.conn.Plan(ctx, 0, h.platform)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Platforms) != 1 || p.Platforms[0].Platform != string(h.platform) {
				t.Fatalf("plan %+v", p)
			}
			return p.Platforms[0]
		}
		rep := plan()
		valid := len(h.valid(w))
		if rep.Counts[connector.PlanCreate] != valid || rep.Counts[connector.PlanReject] == 0 {
			t.Fatalf("initial plan %+v", rep.Counts)
		}
		if n := h.writes(w); n != 0 || w.erp.writes.Load() != 0 || h.count(w) != 0 {
			t.Fatal("planning wrote something")
		}
		w.sync()
		w.sync()

		v := h.valid(w)
		// An ERP change, a platform change, both, and an unflag.
		r1, r2, r3, r4 := v[0], v[1], v[2], v[3]
		r1.Set("name", "ERP Side Change Ltd")
		r2.Set("name", "Both Sides Change Ltd")
		h.flag(&r4, false)
		w.clock = time.Now()
		w.put(r1, r2, r4)
		h.rename(w, h.id(w, r2.Key), "Renamed On The Platform Ltd")
		h.rename(w, h.id(w, r3.Key), "Renamed On The Platform Too Ltd")
		if h.platform == oneHarness.platform {
			sf := oneapi.ClientWrite{CustomerType: oneapi.CustomerIndividual, Name: "Jan Nowy",
				Address: &oneapi.Address{City: "Łódź", Country: "Polska", ExternalID: "x", Name: "Jan Nowy", Phone: "600100100",
					Street: "Piotrkowska 1", ZipCode: "90-001"}}
			if _, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, sf); err != nil {
				t.Fatal(err)
			}
		}
		h.faults(w).ResetCounts()
		erpWrites := w.erp.writes.Load()
		rep = plan()
		find := func(key string) connector.PlanItem {
			for _, it := range rep.Items {
				if it.ERPKey == key {
					return it
				}
			}
			return connector.PlanItem{Action: connector.PlanUnchanged}
		}
		if it := find(r1.Key); it.Action != connector.PlanUpdate || !slices.Contains(it.Fields, "name") {
			t.Errorf("ERP-changed record planned %+v", it)
		}
		if it := find(r2.Key); it.Action != connector.PlanConflict {
			t.Errorf("record changed on both sides planned %+v", it)
		}
		if it := find(r3.Key); it.Action != connector.PlanPull || !slices.Contains(it.Fields, "name") {
			t.Errorf("platform-changed record planned %+v", it)
		}
		wantRemove := map[string]string{"delete": connector.PlanDelete, "deactivate": connector.PlanDeactivate}[h.removePolicy]
		if it := find(r4.Key); it.Action != wantRemove {
			t.Errorf("unflagged record planned %+v, want %s", it, wantRemove)
		}
		if h.platform == oneHarness.platform && rep.Counts[connector.PlanImport] != 1 {
			t.Errorf("storefront registration not planned as import: %+v", rep.Counts)
		}
		if n := h.writes(w); n != 0 || w.erp.writes.Load() != erpWrites {
			t.Fatalf("planning wrote %d times to the platform", n)
		}
	})
}

// TestPlanBothPlatforms: with both platforms configured, the plan reports
// each.
func TestPlanBothPlatforms(t *testing.T) {
	w := newWorld(t, worldOpts{records: 10, platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI}})
	p, err := w.conn.Plan(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Platforms) != 2 || p.Platforms[0].Platform != "one" || p.Platforms[1].Platform != "customerapi" {
		t.Fatalf("plan %+v", p)
	}
	for _, rep := range p.Platforms {
		if rep.Counts[connector.PlanCreate] == 0 {
			t.Fatalf("%s: %+v", rep.Platform, rep.Counts)
		}
	}
}
