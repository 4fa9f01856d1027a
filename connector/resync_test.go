package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
)

// skipFeed moves the ONe feed cursor to the end, as if the events were lost.
func skipFeed(t *testing.T, w *world) {
	t.Helper()
	next := strconv.FormatInt(w.one.FeedLength(tenant)+1, 10)
	if err := w.conn.Store().SetCursor(context.Background(), "one.feed", []byte(next)); err != nil {
		t.Fatal(err)
	}
}

// TestResyncRepairsDrift: with every live change source left out, a resync
// repairs drift on the platform in an ERP-owned field and in a
// platform-owned one, creates an ERP customer the change scans never saw,
// applies a delete the platform made, and then, converged, costs nothing
// but the listings: no record fetched, nothing written.
func TestResyncRepairsDrift(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 14, configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupContact, Owner: connector.OwnerPlatform},
				{Group: connector.GroupMaster, Owner: connector.OwnerERP}}
			// A platform delete sticks (with "unlink" a flagged ERP record is
			// created again).
			h.policy(c, "", "mark-deleted")
		}})
		w.sync()
		w.sync()
		valid := h.valid(w)
		if len(valid) < 4 {
			t.Fatalf("only %d valid customers", len(valid))
		}
		// 1. Drift on the platform in an ERP-owned field (the name).
		k1 := valid[0].Key
		id1 := h.id(w, k1)
		h.rename(w, id1, "Drifted Name")
		// 2. A delete on the platform.
		k3 := valid[2].Key
		h.remove(w, h.id(w, k3))
		// 3. An ERP customer the change scans never saw.
		extra := erpgen.New(erpgen.Options{Seed: 99, KeyPrefix: "X"}).Records(20)
		var missing erpgen.Record
		for _, r := range extra {
			if h.wants(r) && r.Invalid == "" && !r.Deleted {
				missing = r
				break
			}
		}
		uniqueOnPlatform([]erpgen.Record{missing})
		missing.Set("admin_email", "x-missing@owners.example.co.uk")
		w.putUnseen(missing)
		if h.platform == oneHarness.platform {
			skipFeed(t, w)
		}

		rep := w.resync(h.platform)
		if rep.PlatformRecords == 0 || rep.ERPRecords == 0 || rep.Missing != 1 {
			t.Fatalf("resync report %+v", rep)
		}
		if got, _ := h.record(w, id1); got.Name != w.get(k1).Customer.Name {
			t.Fatalf("ERP-owned name not repaired on the platform: %q\n%s", got.Name, w.logLines())
		}
		if it := w.get(k3); !it.Customer.Deleted {
			t.Fatalf("the missed delete was not applied: %+v", it.Customer)
		}
		if id := h.id(w, missing.Key); id == "" {
			t.Fatalf("the customer the scans never saw was not created\n%s", w.logLines())
		}
		// Converged: one settling resync, then a resync fetches no record,
		// queues nothing and writes nothing.
		w.resync(h.platform)
		h.faults(w).ResetCounts()
		erpWrites := w.erp.writes.Load()
		quiet := w.resync(h.platform)
		if quiet.Queued != 0 || h.fetches(w) != 0 {
			t.Fatalf("a resync of converged data queued %d jobs and fetched %d records\n%s", quiet.Queued, h.fetches(w), w.logLines())
		}
		if n := h.writes(w); n != 0 {
			t.Fatalf("a resync of converged data wrote %d times to the platform: %+v", n, h.faults(w).Counts())
		}
		if n := w.erp.writes.Load() - erpWrites; n != 0 {
			t.Fatalf("a resync of converged data wrote %d times to the ERP", n)
		}
	})
}

// TestResyncTakesInPlatformOwnedDrift: drift in a group the platform owns
// reaches the ERP through the resync.
func TestResyncTakesInPlatformOwnedDrift(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 8, configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: connector.OwnerPlatform}}
		}})
		w.sync()
		w.sync()
		r := h.firstValid(t, w)
		h.rename(w, h.id(w, r.Key), "Renamed By The Platform Ltd")
		if h.platform == oneHarness.platform {
			skipFeed(t, w)
		}
		w.resync(h.platform)
		if got := w.get(r.Key).Customer.Name; got != "Renamed By The Platform Ltd" {
			t.Fatalf("platform-owned drift not taken in: %q\n%s", got, w.logLines())
		}
	})
}

// failingLister fails its first listing (the ERP walk's first page).
type failingLister struct {
	*countingERP
	failed bool
}

func (f *failingLister) ListKeys(ctx context.Context, after string, limit int) ([]string, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("ERP database restarting")
	}
	return f.countingERP.ListKeys(ctx, after, limit)
}

func (f *failingLister) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("ERP database restarting")
	}
	return f.countingERP.ListItems(ctx, after, limit)
}

// ListKnownItems is hidden: the resync reads through ListItems.
func (*failingLister) ListKnownItems() {}

// keysOnly hides the adapter's ListItems: the resync reads key by key.
type keysOnly struct{ *countingERP }

func (keysOnly) ListItems()      {}
func (keysOnly) ListKnownItems() {}

var _ erp.KeyLister = (*failingLister)(nil)

// TestResyncKeyByKey: an adapter that can only list keys is resynced too.
func TestResyncKeyByKey(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 15, noStart: true})
		w.erpOverride = keysOnly{w.erp}
		w.start()
		w.sync()
		k := h.firstValid(t, w).Key
		id := h.id(w, k)
		h.rename(w, id, "Drifted Name")
		if h.platform == oneHarness.platform {
			skipFeed(t, w)
		}
		rep := w.resync()
		if rep.ERPRecords == 0 {
			t.Fatalf("the ERP side was not read: %+v", rep)
		}
		if got, _ := h.record(w, id); got.Name != w.get(k).Customer.Name {
			t.Fatalf("drift not repaired: %q", got.Name)
		}
	})
}

// TestResyncResumes: a resync stopped halfway resumes where it stopped.
func TestResyncResumes(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 20, noStart: true})
		w.erpOverride = &failingLister{countingERP: w.erp}
		w.start()
		w.sync()
		ctx := context.Background()
		if _, err := w.conn.Resync(ctx); err == nil {
			t.Fatal("the first resync should have failed in the ERP phase")
		}
		m, err := w.conn.ResyncProgress(ctx)
		if err != nil || m.Done() || m.ChunksDone == 0 {
			t.Fatalf("progress after the failure: %+v %v", m, err)
		}
		rep, err := w.conn.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Resumed || rep.PlatformRecords != 0 || rep.ERPRecords == 0 {
			t.Fatalf("second resync did not resume at the ERP phase: %+v", rep)
		}
		w.idle()
		exactlyOnce(t, w, h)
	})
}

// TestResyncWalksResumeApart: the platform walk and the ERP walk run side
// by side and each resumes from its own position. A listing the platform
// refuses stops the platform walk while the ERP walk goes on to its end;
// the next resync lists the platform and leaves the ERP walk done.
func TestResyncWalksResumeApart(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 20})
		w.sync()
		w.idle()
		ctx := context.Background()
		// The listing refuses until the first resync is over: the walk reads
		// pages side by side, and a read it cancels may or may not reach the
		// platform, so a counted refusal could be left for the second resync.
		id, err := h.faults(w).Add(fault.Rule{Operation: h.listOp, Status: 400})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := w.conn.Resync(ctx)
		if err == nil {
			t.Fatal("the first resync should have failed in the platform walk")
		}
		if !h.faults(w).Remove(id) {
			t.Fatal("the listing refusal was gone before the first resync ended")
		}
		if rep.ERPRecords == 0 || rep.PlatformRecords != 0 {
			t.Fatalf("the ERP walk did not go on while the platform walk failed: %+v", rep)
		}
		// Each walk's end is logged, with its records and time, and the
		// failed one with its error.
		ended := map[string]map[string]any{}
		for _, l := range strings.Split(w.logs.String(), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(l), &e) == nil && e["msg"] == "resync walk ended" {
				ended[fmt.Sprint(e["walk"])] = e
			}
		}
		if e := ended["erp"]; e == nil || e["records"] != float64(rep.ERPRecords) || e["err"] != nil || e["seconds"] == nil {
			t.Fatalf("the ERP walk's end: %v\n%s", e, w.logLines())
		}
		if e := ended["platform"]; e == nil || e["err"] == nil {
			t.Fatalf("the platform walk's end: %v\n%s", e, w.logLines())
		}
		rep, err = w.conn.Resync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Resumed || rep.ERPRecords != 0 || rep.PlatformRecords == 0 {
			t.Fatalf("the second resync did not resume the platform walk alone: %+v", rep)
		}
		// The plan counts what both walks read (the ERP's flagged customers
		// and the platform's bound records): the records read are the
		// records planned, and the platform's unbound ones (the Customer
		// API's world holds one).
		m, err := w.conn.ResyncProgress(ctx)
		if extra := m.RecordsDone - m.Plan.TotalRecords; err != nil || !m.Done() || m.Plan.TotalRecords == 0 || extra < 0 || extra > 1 {
			t.Fatalf("progress of the finished resync: %+v, %v (last report %+v)", m, err, rep)
		}
		w.idle()
		exactlyOnce(t, w, h)
	})
}

// TestResyncAllPlatforms: a connector for both platforms resyncs each, on
// its own or together.
func TestResyncAllPlatforms(t *testing.T) {
	w := newWorld(t, worldOpts{records: 12, platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI}})
	w.sync()
	for _, target := range []string{"one", "customer_api", "all"} {
		ps, err := w.conn.Targets(target)
		if err != nil {
			t.Fatal(err)
		}
		rep := w.resync(ps...)
		if len(rep.Platforms) != len(ps) {
			t.Fatalf("%s: %d platform reports, want %d", target, len(rep.Platforms), len(ps))
		}
		for _, p := range rep.Platforms {
			if p.PlatformRecords == 0 || p.ERPRecords == 0 {
				t.Fatalf("%s: %+v", target, p)
			}
		}
	}
	if _, err := w.conn.Targets("elsewhere"); err == nil {
		t.Fatal("an unknown target was accepted")
	}
	exactlyOnce(t, w, oneHarness)
	exactlyOnce(t, w, capiHarness)
	_ = time.Now
}

// collated lists the ERP's customers in an order of its own (as a database
// collation may), unrelated to the byte order of the keys.
type collated struct{ *countingERP }

// ListKnownItems is hidden: the resync reads through ListItems.
func (collated) ListKnownItems() {}

func collation(key string) string {
	b := []byte(key)
	slices.Reverse(b)
	return string(b)
}

func (c collated) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	all, err := c.countingERP.ListItems(ctx, "", 1<<20)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b erp.Item) int { return strings.Compare(collation(a.Key), collation(b.Key)) })
	var out []erp.Item
	for _, it := range all {
		if (after == "" || collation(it.Key) > collation(after)) && len(out) < limit {
			out = append(out, it)
		}
	}
	return out, nil
}

// TestResyncKeyOrder: the resync finds the one customer deleted from an ERP
// that lists its keys in an order of its own, and reads no other customer
// again.
func TestResyncKeyOrder(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 30, noStart: true})
		w.erpOverride = collated{w.erp}
		w.start()
		w.sync()
		w.resync()
		w.resync()
		gone := h.firstValid(t, w).Key
		w.hardDelete(gone)
		rep := w.resync(h.platform)
		if rep.Queued != 1 {
			t.Fatalf("%d jobs queued for one deleted ERP row, want 1\n%s", rep.Queued, w.logLines())
		}
		st, _ := w.conn.Status(context.Background())
		if got := st.Bindings[string(h.platform)]; got != len(h.valid(w))-1 {
			t.Fatalf("%d bindings, want %d", got, len(h.valid(w))-1)
		}
	})
}
