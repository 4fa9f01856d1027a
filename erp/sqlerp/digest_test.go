package sqlerp

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/pgtest"
	"github.com/erpconnector/erpconnector/mapping"
)

func TestItemDigestSQLite(t *testing.T) { testItemDigest(t, openSQLite(t)) }

func TestItemDigestPostgres(t *testing.T) { testItemDigest(t, openPostgres(t, pgtest.DSN(t))) }

// testItemDigest: every way of reading a row gives the same digest; it
// moves with a mapped column, a flag and the configuration, not with the
// cursor or a platform id written back; ListKnownItems leaves exactly the
// rows known reports known, with their platform ids, and maps the others.
func testItemDigest(t *testing.T, tab *Table) {
	ctx := context.Background()
	recs := erpgen.New(erpgen.Options{Seed: 4}).Records(6)
	for i := range recs {
		recs[i].SyncONe = true
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), tab.cfg.Table, recs, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	digests := func(tb *Table) map[string]uint64 {
		t.Helper()
		its, err := tb.ListItems(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, it := range its {
			if it.Digest == 0 || it.Known {
				t.Fatalf("%s: digest %d, known %v", it.Key, it.Digest, it.Known)
			}
			out[it.Key] = it.Digest
		}
		return out
	}
	before := digests(tab)
	if len(before) != len(recs) {
		t.Fatalf("%d rows listed", len(before))
	}
	seen := map[uint64]bool{}
	for _, d := range before {
		seen[d] = true
	}
	if len(seen) != len(recs) {
		t.Fatal("two rows with one digest")
	}
	page, err := tab.Changes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range page.Items {
		got, err := tab.Get(ctx, it.Key)
		if err != nil {
			t.Fatal(err)
		}
		if it.Digest != before[it.Key] || got.Digest != before[it.Key] {
			t.Fatalf("%s: digests %d (changes) %d (get) %d (list)", it.Key, it.Digest, got.Digest, before[it.Key])
		}
	}

	a, b, c := recs[0].Key, recs[1].Key, recs[2].Key
	if err := tab.SetPlatformID(ctx, a, mapping.PlatformONe, "org:11111111-2222-4333-8444-555555555555"); err != nil {
		t.Fatal(err)
	}
	exec := func(set string, args ...any) {
		t.Helper()
		q := "UPDATE " + tab.q.table + " SET " + set + " WHERE " + tab.q.key + " = " + tab.d.Placeholder(len(args))
		if _, err := tab.DB().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(tab.q.cursor+" = "+tab.d.Placeholder(1), time.Now().UTC().Truncate(time.Second), a)
	exec("name = "+tab.d.Placeholder(1), "Renamed Ltd", b)
	exec(erpgen.SyncCustomerAPI+" = NOT "+erpgen.SyncCustomerAPI, c)
	after := digests(tab)
	if after[a] != before[a] {
		t.Error("a write-back and a moved cursor changed the digest")
	}
	if after[b] == before[b] || after[c] == before[c] {
		t.Error("a renamed or reflagged row kept its digest")
	}

	cfg := tab.cfg
	cfg.Rules = append([]mapping.FieldRule(nil), cfg.Rules[1:]...)
	other, err := New(tab.DB(), tab.d, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, d := range digests(other) {
		if d == after[k] {
			t.Errorf("%s: another mapping, the same digest", k)
		}
	}

	// Known: the rows whose digest the caller holds, but b.
	whole, err := tab.ListItems(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	its, err := tab.ListKnownItems(ctx, "", 100, func(key string, d uint64) bool {
		asked = append(asked, key)
		return key != b && d == after[key]
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(its) != len(recs) || len(asked) != len(recs) {
		t.Fatalf("%d items, %d asked", len(its), len(asked))
	}
	for _, it := range its {
		switch {
		case it.Digest != after[it.Key]:
			t.Errorf("%s: digest %d, want %d", it.Key, it.Digest, after[it.Key])
		case it.Known != (it.Key != b):
			t.Errorf("%s: known %v", it.Key, it.Known)
		case it.Known && (it.Customer.Name != "" || it.Customer.ERPKey != it.Key || it.Err != nil):
			t.Errorf("%s: a known item was mapped: %+v", it.Key, it.Customer)
		case !it.Known && it.Customer.Name != "Renamed Ltd":
			t.Errorf("%s: the unknown row was not mapped: %+v", it.Key, it.Customer)
		case !it.Known:
			for _, w := range whole {
				if w.Key == it.Key && !reflect.DeepEqual(w, it) {
					t.Errorf("%s: the unknown row is not as ListItems reads it:\n%+v\n%+v", it.Key, it, w)
				}
			}
		}
		if it.Key == a && it.Customer.PlatformIDs.ONe != "org:11111111-2222-4333-8444-555555555555" {
			t.Errorf("%s: a known item without its platform id: %+v", it.Key, it.Customer.PlatformIDs)
		}
	}

	// The change scan's read: the same page and cursor as Changes, the
	// rows known reports known unmapped.
	full, err := tab.Changes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tab.ChangesKnown(ctx, "", 100, func(key string, d uint64) bool { return key != b && d == after[key] })
	if err != nil {
		t.Fatal(err)
	}
	if kp.Cursor != full.Cursor || kp.More != full.More || len(kp.Items) != len(full.Items) {
		t.Fatalf("ChangesKnown: cursor %q, more %v, %d items; Changes: %q, %v, %d", kp.Cursor, kp.More, len(kp.Items), full.Cursor, full.More, len(full.Items))
	}
	for i, it := range kp.Items {
		w := full.Items[i]
		switch {
		case it.Key != w.Key || it.Digest != w.Digest || it.Known != (it.Key != b):
			t.Errorf("ChangesKnown item %d: %s, digest %d, known %v; Changes: %s, %d", i, it.Key, it.Digest, it.Known, w.Key, w.Digest)
		case it.Known && (it.Customer.Name != "" || it.Customer.PlatformIDs != w.Customer.PlatformIDs || !it.Customer.UpdatedAt.Equal(w.Customer.UpdatedAt)):
			t.Errorf("%s: a known item was mapped, or lost its ids: %+v", it.Key, it.Customer)
		case !it.Known && !reflect.DeepEqual(it, w):
			t.Errorf("%s: the unknown row is not as Changes reads it", it.Key)
		}
	}

	// Rows that change while the page is read: the ones known does not
	// know are read again as they are then (renamed, unflagged); one
	// deleted in between keeps its place as a known item, so that the page
	// keeps its length (a shorter page would end the caller's walk).
	d, e := recs[3].Key, recs[4].Key
	var want []string
	for _, it := range its {
		want = append(want, it.Key)
	}
	exec("name = "+tab.d.Placeholder(1), "Renamed Again Ltd", b)
	now := digests(tab)
	exec("name = "+tab.d.Placeholder(1), "Renamed Ltd", b)
	changed := false
	its, err = tab.ListKnownItems(ctx, "", 100, func(key string, dg uint64) bool {
		if !changed {
			changed = true
			exec("name = "+tab.d.Placeholder(1), "Renamed Again Ltd", b)
			q := "DELETE FROM " + tab.q.table + " WHERE " + tab.q.key + " = " + tab.d.Placeholder(1)
			if _, err := tab.DB().ExecContext(ctx, q, d); err != nil {
				t.Fatal(err)
			}
			exec(erpgen.SyncONeColumn+" = NOT "+tab.d.True+", "+erpgen.SyncCustomerAPI+" = NOT "+tab.d.True, e)
		}
		return key != b && key != d && key != e && dg == after[key]
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range its {
		keys = append(keys, it.Key)
		switch it.Key {
		case b:
			if it.Known || it.Customer.Name != "Renamed Again Ltd" || it.Digest != now[b] {
				t.Errorf("%s: changed while listed: known %v, name %q, digest %d (want %d)", b, it.Known, it.Customer.Name, it.Digest, now[b])
			}
		case d:
			if !it.Known || it.Err != nil || it.Customer.Name != "" {
				t.Errorf("%s: deleted while listed: want a known item, got %+v", d, it)
			}
		case e:
			if it.Known || it.Err != nil || it.Customer.Flags.ONe || it.Customer.Flags.CustomerAPI || it.Customer.Name == "" {
				t.Errorf("%s: unflagged while listed: want it read as it is now, got known %v, flags %+v", e, it.Known, it.Customer.Flags)
			}
		}
	}
	if len(want) != len(recs) || !slices.Equal(keys, want) {
		t.Errorf("listed %v, want %v (every row of the first read, in key order)", keys, want)
	}
	var _ erp.KnownLister = tab
}

// TestUnknownRowsFewStatements: the rows ListKnownItems reads again are
// read through a statement per power of two of their count, not one per
// count (each prepared statement is cached for the table's life).
func TestUnknownRowsFewStatements(t *testing.T) {
	ctx := context.Background()
	tab := openSQLite(t)
	recs := erpgen.New(erpgen.Options{Seed: 5}).Records(9)
	for i := range recs {
		recs[i].SyncONe = true
	}
	if err := InsertDemoRecords(ctx, tab.DB(), tab.Dialect(), tab.cfg.Table, recs, time.Now()); err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		tab.stmts.mu.Lock()
		defer tab.stmts.mu.Unlock()
		return len(tab.stmts.m)
	}
	if _, err := tab.ListKnownItems(ctx, "", 100, func(string, uint64) bool { return true }); err != nil {
		t.Fatal(err)
	}
	before := cached()
	for n := 1; n <= len(recs); n++ {
		i := 0
		its, err := tab.ListKnownItems(ctx, "", 100, func(string, uint64) bool { i++; return i > n })
		if err != nil {
			t.Fatal(err)
		}
		mapped := 0
		for _, it := range its {
			if !it.Known {
				mapped++
				if it.Customer.Name == "" {
					t.Errorf("%s: read again, not mapped", it.Key)
				}
			}
		}
		if len(its) != len(recs) || mapped != n {
			t.Fatalf("%d unknown: %d items, %d mapped", n, len(its), mapped)
		}
	}
	// 1, 2, 4, 8 and 16 keys.
	if got := cached() - before; got != 5 {
		t.Errorf("%d statements prepared for 1 to %d unknown rows, want 5", got, len(recs))
	}
}
