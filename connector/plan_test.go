package connector_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/queue"
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

// TestPlanPredictsThePlatformsAnswer: with every kind of defect a real ERP
// has in its rows (those this platform refuses and those it never
// receives), the plan's creates are exactly the records the platform then
// accepts, and its rejects exactly those it would refuse: a plan of
// "create N" does not become HTTP 400s. The reference servers answer as
// the vendor contracts state.
func TestPlanPredictsThePlatformsAnswer(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 80, invalidEvery: 2, kinds: erpgen.AllInvalid()})
		p, err := w.conn.Plan(context.Background(), 0, h.platform)
		if err != nil {
			t.Fatal(err)
		}
		planned := map[string]string{}
		for _, it := range p.Platforms[0].Items {
			planned[it.ERPKey] = it.Action
		}
		creates, rejects := 0, 0
		for _, r := range w.recs {
			if h.wants(r) && !r.Deleted && r.InvalidFor(h.platform) && planned[r.Key] != connector.PlanReject {
				t.Errorf("%s (%s, refused by %s) planned %q, want reject", r.Key, r.Invalid, h.platform, planned[r.Key])
			}
		}
		w.sync()
		w.sync()
		for key, action := range planned {
			bound := h.id(w, key) != ""
			switch action {
			case connector.PlanCreate:
				creates++
				if !bound {
					t.Errorf("%s was planned as a create but the platform did not take it", key)
				}
			case connector.PlanReject:
				rejects++
				if bound {
					t.Errorf("%s was planned as a reject but reached the platform", key)
				}
			}
		}
		for op, c := range h.faults(w).Counts() {
			for status, n := range c.ByStatus {
				if status >= 400 && status < 500 && status != 404 {
					t.Errorf("%s answered %d %d times: the plan did not predict it", op, status, n)
				}
			}
		}
		if creates == 0 || rejects == 0 {
			t.Fatalf("creates %d, rejects %d: the test covers nothing", creates, rejects)
		}
	})
}

// TestDeadLetterNamesTheRecordOnce: an invalid record's dead letter says
// which record and which fields, naming the record once.
func TestDeadLetterNamesTheRecordOnce(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 12, invalidEvery: 3, kinds: []erpgen.Invalid{h.invalid}})
		w.sync()
		dead, _, err := w.conn.Store().DeadLetters(context.Background(), queue.DeadFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range dead {
			key := strings.TrimPrefix(d.Key, h.prefix+":push:")
			if key == d.Key {
				continue
			}
			n++
			if c := strings.Count(d.LastError, key); c != 1 {
				t.Errorf("dead letter of %s names it %d times: %s", key, c, d.LastError)
			}
			if !strings.Contains(d.LastError, h.invalid.Field()+": ") {
				t.Errorf("dead letter of %s does not name the field %s: %s", key, h.invalid.Field(), d.LastError)
			}
		}
		if n == 0 {
			t.Fatal("no push dead letters")
		}
	})
}
