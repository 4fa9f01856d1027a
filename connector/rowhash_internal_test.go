package connector

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
)

// TestRowHashTiesRowToPushedHash: a row is known only with the digest it
// had and while the platform holds what it maps to; the hash is the
// platform's and the program's.
func TestRowHashTiesRowToPushedHash(t *testing.T) {
	ctx := context.Background()
	c := newInternalWorld(t).c
	one, capi := c.site(mapping.PlatformONe), c.site(mapping.PlatformCustomerAPI)
	const row, other = 0x1234, 0x5678
	d, d2 := "p:0123456789abcdef0123456789abcdef", "p:fedcba9876543210fedcba9876543210"
	h := one.rowHash(row, d)
	switch {
	case h == 0:
		t.Fatal("no row hash")
	case one.rowHash(other, d) == h, one.rowHash(row, d2) == h, capi.rowHash(row, d) == h:
		t.Fatal("the row hash does not tell rows, digests or platforms apart")
	case one.rowHash(0, d) != 0, one.rowHash(row, "") != 0:
		t.Fatal("a row hash without a row digest or a platform digest")
	}
	was := programFingerprint
	programFingerprint = func() uint64 { return 99 }
	if one.rowHash(row, d) == h {
		t.Error("another program gives the same row hash")
	}
	programFingerprint = was

	known := func(pushed string, r uint64) bool {
		t.Helper()
		var ok bool
		if err := c.state.Update(ctx, func(tx *state.Tx) error {
			if _, err := tx.PutBinding(one.name, state.Binding{ERPKey: "K1", ID: "id-1", PushedHash: pushed, RowHash: h}); err != nil {
				return err
			}
			ok = one.knowsRow(tx, "K1", r) && !capi.knowsRow(tx, "K1", r) && !one.knowsRow(tx, "K2", r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !known(d, row) {
		t.Error("the row the platform holds is not known")
	}
	if known(d, other) {
		t.Error("a changed row is known")
	}
	if known(d2, row) {
		t.Error("a row is known while the platform holds something else")
	}
}

// TestResyncMapsWhatChanged: after a migration a resync maps no row; a row
// changed without moving its cursor (only a resync finds it) and a binding
// whose platform digest moved (the platform holds something else) are
// pushed again, on both platforms; the resync after maps none again.
func TestResyncMapsWhatChanged(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	iw.start(t, 8, 24)
	settle := func(run func(context.Context) error) {
		t.Helper()
		iw.settle(t, run)
	}
	var rep ResyncReport
	resync := func(ctx context.Context) (err error) { rep, err = c.Resync(ctx); return err }
	settle(c.SyncOnce)
	settle(c.SyncOnce)

	// Two bound customers of each platform: the first's ERP row renamed,
	// the second's platform digest moved.
	renamed := map[mapping.Platform]string{}
	taken := map[string]bool{}
	boundOn := map[string]int{} // ERP key → platforms it is bound on
	for _, s := range c.sites {
		var keys []string
		if err := c.state.Update(ctx, func(tx *state.Tx) error {
			if err := tx.EachBinding(s.name, "", func(b state.Binding) (bool, error) {
				boundOn[b.ERPKey]++
				if b.RowHash == 0 {
					t.Errorf("%s %s: no row hash after the create", s.name, b.ERPKey)
				}
				if !taken[b.ERPKey] {
					keys = append(keys, b.ERPKey)
				}
				return true, nil
			}); err != nil {
				return err
			}
			if len(keys) < 2 {
				t.Fatalf("%s: %d bindings to change", s.name, len(keys))
			}
			b, _, err := tx.Binding(s.name, keys[1])
			if err != nil {
				return err
			}
			b.PushedHash = "p:00000000000000000000000000000000"
			_, err = tx.PutBinding(s.name, b)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		taken[keys[0]], taken[keys[1]] = true, true
		renamed[s.name] = keys[0]
		if _, err := iw.tab.DB().ExecContext(ctx, "UPDATE "+sqlerp.DemoTable+" SET name = ? WHERE "+erpgen.KeyColumn+" = ?",
			"Renamed In The ERP "+string(s.name), keys[0]); err != nil {
			t.Fatal(err)
		}
	}
	iw.one.Faults().ResetCounts()
	iw.capi.Faults().ResetCounts()
	settle(resync)
	// A moved digest is one push; a renamed row one on each platform it is bound on.
	want := len(c.sites)
	for _, k := range renamed {
		want += boundOn[k]
	}
	if rep.Queued != want {
		t.Errorf("the resync queued %d pushes, want %d (a renamed row and a moved digest on each platform)", rep.Queued, want)
	}
	if n := iw.one.Faults().Count("updateClient"); n != 2 {
		t.Errorf("ONe: %d client updates, want 2", n)
	}
	if n := iw.capi.Faults().Count("updateOrganisation"); n < 1 {
		t.Errorf("Customer API: %d organisation updates, want the rename", n)
	}
	for _, s := range c.sites {
		var b state.Binding
		if err := c.state.View(ctx, func(tx *state.Tx) (err error) {
			b, _, err = tx.Binding(s.name, renamed[s.name])
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rec, err := s.p.Fetch(ctx, platform.Ref{ID: b.ID, Extra: b.Extra})
		if err != nil {
			t.Fatal(err)
		}
		if want := "Renamed In The ERP " + string(s.name); rec.Customer.Name != want {
			t.Errorf("%s holds %q, want %q", s.name, rec.Customer.Name, want)
		}
	}
	settle(resync)
	if rep.Queued != 0 {
		t.Errorf("the resync after queued %d", rep.Queued)
	}
}

// TestPlanKnownChecksAgain: a row the change scan's read left unmapped is
// checked again in the transaction that plans the page. Where that still
// holds nothing is queued; on a platform where its binding changed in
// between (made, dropped, pushed) a job reads the row again at delivery.
func TestPlanKnownChecksAgain(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	one, capi := c.site(mapping.PlatformONe), c.site(mapping.PlatformCustomerAPI)
	const key, row = "K-1", uint64(77)
	pushed := "sha256:" + strings.Repeat("a", 64)
	put := func(b state.Binding) {
		t.Helper()
		if err := c.state.Update(ctx, func(tx *state.Tx) error { _, err := tx.PutBinding(capi.name, b); return err }); err != nil {
			t.Fatal(err)
		}
	}
	put(state.Binding{ERPKey: key, ID: "00000000-0000-4000-8000-000000000001", PushedHash: pushed, RowHash: capi.rowHash(row, pushed)})
	plan := func(kind scanKind) []string {
		t.Helper()
		var out []string
		err := c.state.View(ctx, func(tx *state.Tx) error {
			js, ps, err := c.planKnown(ctx, tx, erp.Item{Key: key, Digest: row, Known: true}, kind)
			if len(js) != len(ps) {
				t.Fatalf("%d jobs, %d payloads", len(js), len(ps))
			}
			for i, j := range js {
				var p pushPayload
				if err := json.Unmarshal(j.Payload, &p); err != nil || p.Op != opReread || p.Customer.ERPKey != key || ps[i].Op != opReread {
					t.Fatalf("job %s: payload %s, %v", j.Key, j.Payload, err)
				}
				out = append(out, j.Type)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		kind scanKind
		want []string
	}{
		{"update scan, the row hash holds (ONe unbound)", scanUpdates, nil},
		{"new scan: bound on the Customer API only", scanNew, []string{one.pushType()}},
	} {
		if got := plan(tc.kind); !slices.Equal(got, tc.want) {
			t.Errorf("%s: jobs %v, want %v", tc.name, got, tc.want)
		}
	}
	// Pushed since: the row hash no longer holds.
	put(state.Binding{ERPKey: key, ID: "00000000-0000-4000-8000-000000000001", PushedHash: "sha256:" + strings.Repeat("b", 64)})
	if got := plan(scanUpdates); !slices.Equal(got, []string{capi.pushType()}) {
		t.Errorf("update scan after a push: jobs %v, want a re-read on the Customer API", got)
	}
}
