// Package erptest is the conformance suite every erp.Adapter passes:
// TestAdapter(t, factory) checks change streaming (flag filtering, paging
// without skips or repeats, resuming from a cursor, invalid rows returned
// with field errors), lookups, inbound upserts, write-backs, unlinking,
// deletion marks, error classes and cancellation.
//
// Adapters under test use the demo ERP layout of erp/erpgen. An ERP whose
// key column is not text (an integer, a uuid) stores each record under a
// key of its own (Harness.Key); the suite compares keys through it.
package erptest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// Harness is one fresh adapter under test and a way to change the ERP behind it.
type Harness struct {
	// Adapter is the adapter under test, configured with the erpgen layout
	// (erpgen.Rules, flag, deleted and write-back columns).
	Adapter erp.Adapter
	// Put writes records into the ERP as the ERP itself would, with change
	// time at (adapters whose cursor is not a timestamp may ignore it). A
	// later Changes call must see them.
	Put func(t *testing.T, at time.Time, recs ...erpgen.Record)
	// Key, when set, is the ERP key Put stores rec under (for an ERP whose
	// key column is an integer or a uuid); by default rec.Key. It must
	// keep the order of the records' keys within a prefix, and must not
	// map two records to one key.
	Key func(rec erpgen.Record) string
}

// key is the ERP key of rec.
func (h Harness) key(rec erpgen.Record) string {
	if h.Key != nil {
		return h.Key(rec)
	}
	return rec.Key
}

// expected is Expected(rec) under the harness's key.
func (h Harness) expected(rec erpgen.Record) mapping.Customer {
	c := Expected(rec)
	c.ERPKey = h.key(rec)
	return c
}

// Factory returns a fresh, empty harness; it registers its own cleanup.
type Factory func(t *testing.T) Harness

// SafeKinds returns the invalid kinds every storage accepts (PostgreSQL
// refuses invalid UTF-8 outright, so that kind is tested per adapter).
func SafeKinds() []erpgen.Invalid {
	return []erpgen.Invalid{erpgen.MissingTIN, erpgen.BadEmail, erpgen.BadCurrency, erpgen.BadTINCode,
		erpgen.BadISO2, erpgen.LongName, erpgen.BadPhone}
}

// PlatformCheck is what the engine finds for the item on each platform it
// is flagged for: the rules' field errors that platform receives, else
// the platform's validation the way its Prepare does it (ONe: ValidateONe; the Customer API: the
// format rules of the fields it receives, since the generated Polish rows
// are no Customer API organisations), and returns the first refusal.
func PlatformCheck(it erp.Item) error {
	c := it.Customer
	var ve *mapping.ValidationError
	if errors.As(it.Err, &ve) {
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			if mine := ve.For(p, c); mine != nil && c.Flags.Get(p) {
				return mine
			}
		}
	} else if it.Err != nil {
		return it.Err
	}
	if c.Flags.ONe {
		if err := mapping.ValidateONe(c); err != nil {
			return err
		}
	}
	if c.Flags.CustomerAPI {
		if errors.As(mapping.Validate(c), &ve) {
			if mine := ve.For(mapping.PlatformCustomerAPI, c); mine != nil {
				return mine
			}
		}
	}
	return nil
}

// coreProblem reports whether err is more than the rules' field errors: a
// failed core check (key, type) or another error.
func coreProblem(err error) bool {
	var ve *mapping.ValidationError
	if err == nil {
		return false
	}
	return !errors.As(err, &ve) || ve.Has("key") || ve.Has("type")
}

func fieldError(err error, field string) bool {
	var ve *mapping.ValidationError
	return errors.As(err, &ve) && ve.Has(field)
}

// Expected returns the customer an adapter must produce for rec (UpdatedAt
// and platform ids aside).
func Expected(rec erpgen.Record) mapping.Customer {
	c, _ := mapping.MustCompileRules(erpgen.Rules()).Apply(rec.Values)
	c.ERPKey = rec.Key
	c.Flags = mapping.Flags{ONe: rec.SyncONe, CustomerAPI: rec.SyncCustomerAPI}
	c.Deleted = rec.Deleted
	return c
}

func norm(c mapping.Customer) mapping.Customer {
	c = c.Clone()
	c.UpdatedAt = time.Time{}
	c.PlatformIDs = mapping.PlatformIDs{}
	c.Normalize()
	return c
}

// drain reads every page from cursor with the given page size.
func drain(t *testing.T, a erp.Adapter, cursor string, limit int) ([]erp.Item, string) {
	t.Helper()
	var all []erp.Item
	for range 10000 {
		p, err := a.Changes(context.Background(), cursor, limit)
		if err != nil {
			t.Fatalf("Changes(%q, %d): %v", cursor, limit, err)
		}
		if len(p.Items) > limit {
			t.Fatalf("Changes returned %d items, limit %d", len(p.Items), limit)
		}
		all = append(all, p.Items...)
		if len(p.Items) > 0 && p.Cursor == cursor {
			t.Fatalf("cursor did not move past a non-empty page")
		}
		cursor = p.Cursor
		if !p.More {
			return all, cursor
		}
	}
	t.Fatal("Changes never reported the end")
	return nil, ""
}

func keys(items []erp.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Key
	}
	return out
}

func gen(seed uint64, prefix string, n int) []erpgen.Record {
	return erpgen.New(erpgen.Options{Seed: seed, KeyPrefix: prefix, InvalidEvery: 6, UnflaggedEvery: 5, Kinds: SafeKinds()}).Records(n)
}

// TestAdapter runs the conformance suite; newHarness is called once per subtest.
func TestAdapter(t *testing.T, newHarness Factory) {
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

	t.Run("EmptyERP", func(t *testing.T) {
		h := newHarness(t)
		p, err := h.Adapter.Changes(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 0 || p.More {
			t.Fatalf("empty ERP returned %d items, more=%v", len(p.Items), p.More)
		}
		if _, err := h.Adapter.Get(context.Background(), "missing"); !errors.Is(err, erp.ErrNotFound) || apierr.Classify(err) != apierr.Permanent {
			t.Fatalf("Get(missing) = %v, want a permanent ErrNotFound", err)
		}
	})

	t.Run("StreamsFlaggedRowsOnceInPagesWithFieldErrors", func(t *testing.T) {
		h := newHarness(t)
		recs := gen(1, "S", 41)
		// Every row shares one timestamp: paging must still neither skip nor repeat.
		h.Put(t, base, recs...)
		items, _ := drain(t, h.Adapter, "", 4)
		var want []string
		for _, r := range recs {
			if r.Flagged() {
				want = append(want, h.key(r))
			}
		}
		if got := keys(items); !reflect.DeepEqual(got, want) {
			t.Fatalf("streamed keys\n got %v\nwant %v", got, want)
		}
		byKey := map[string]erpgen.Record{}
		for _, r := range recs {
			byKey[h.key(r)] = r
		}
		invalid := 0
		for _, it := range items {
			r := byKey[it.Key]
			if coreProblem(it.Err) {
				// The adapter applies the core check only (key, type) and
				// reports the rules' field errors: a field blocks a
				// platform in that platform's Prepare.
				t.Errorf("%s (invalid %q): the core check must pass, got %v", it.Key, r.Invalid, it.Err)
				continue
			}
			if got, want := norm(it.Customer), norm(h.expected(r)); !reflect.DeepEqual(got, want) {
				t.Errorf("%s mapped wrongly:\n got %+v\nwant %+v", it.Key, got, want)
			}
			if r.Invalid != "" {
				invalid++
				if err := PlatformCheck(it); !fieldError(err, r.Invalid.Field()) {
					t.Errorf("%s (%s): want a field error on %s from a flagged platform's validation, got %v", it.Key, r.Invalid, r.Invalid.Field(), err)
				}
				if apierr.Classify(PlatformCheck(it)) != apierr.Permanent {
					t.Errorf("%s: field errors must be permanent", it.Key)
				}
			} else if it.Err != nil {
				t.Errorf("%s: valid row got error %v", it.Key, it.Err)
			}
		}
		if invalid == 0 {
			t.Fatal("the suite's data must include invalid rows")
		}
	})

	t.Run("ResumesFromCursor", func(t *testing.T) {
		h := newHarness(t)
		first := gen(2, "A", 12)
		h.Put(t, base, first...)
		items, cur := drain(t, h.Adapter, "", 5)
		if len(items) == 0 {
			t.Fatal("no items")
		}
		p, err := h.Adapter.Changes(context.Background(), cur, 5)
		if err != nil || len(p.Items) != 0 {
			t.Fatalf("after draining: %d items, %v", len(p.Items), err)
		}
		second := gen(3, "B", 6)
		var changed erpgen.Record
		for _, r := range first {
			if r.Flagged() && r.Invalid == "" {
				changed = r
				break
			}
		}
		changed.Values = append([]string(nil), changed.Values...)
		changed.Set("city", "Zamość")
		h.Put(t, base.Add(time.Minute), append(second, changed)...)
		more, _ := drain(t, h.Adapter, cur, 2)
		want := map[string]bool{h.key(changed): true}
		for _, r := range second {
			if r.Flagged() {
				want[h.key(r)] = true
			}
		}
		got := map[string]bool{}
		for _, it := range more {
			if got[it.Key] {
				t.Errorf("%s repeated", it.Key)
			}
			got[it.Key] = true
			if it.Key == h.key(changed) && it.Customer.Billing.City != "Zamość" {
				t.Errorf("changed row not re-read: %q", it.Customer.Billing.City)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after the cursor got %v, want %v", got, want)
		}
	})

	t.Run("Get", func(t *testing.T) {
		h := newHarness(t)
		recs := gen(4, "G", 12)
		h.Put(t, base, recs...)
		for _, r := range recs {
			key := h.key(r)
			it, err := h.Adapter.Get(context.Background(), key)
			if err != nil {
				t.Fatalf("Get(%s): %v", key, err)
			}
			if it.Key != key {
				t.Fatalf("Get(%s) key %q", key, it.Key)
			}
			if coreProblem(it.Err) {
				t.Errorf("Get(%s): invalid=%q: the core check must pass, got %v", key, r.Invalid, it.Err)
			}
			if (r.Invalid != "") != (PlatformCheck(it) != nil) {
				t.Errorf("Get(%s): invalid=%q, flagged platforms' validation says %v", key, r.Invalid, PlatformCheck(it))
			}
			if !reflect.DeepEqual(norm(it.Customer), norm(h.expected(r))) {
				t.Errorf("Get(%s) mapped wrongly:\n got %+v\nwant %+v", key, norm(it.Customer), norm(h.expected(r)))
			}
		}
	})

	t.Run("UpsertFromPlatform", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		in := Expected(gen(5, "U", 1)[0])
		in.ERPKey = ""
		in.Flags = mapping.Flags{ONe: true}
		in.PlatformIDs = mapping.PlatformIDs{ONe: "org:36f2ecdc-1681-4854-a81e-d6c7dd875f48"}
		key, err := h.Adapter.Upsert(ctx, in)
		if err != nil || key == "" {
			t.Fatalf("Upsert: %q, %v", key, err)
		}
		again, err := h.Adapter.Upsert(ctx, in)
		if err != nil || again != key {
			t.Fatalf("repeated Upsert made key %q (first %q), %v", again, key, err)
		}
		it, err := h.Adapter.Get(ctx, key)
		if err != nil || it.Err != nil {
			t.Fatalf("Get after Upsert: %v / %v", err, it.Err)
		}
		want := in.Clone()
		want.ERPKey = key
		if !reflect.DeepEqual(norm(it.Customer), norm(want)) {
			t.Fatalf("upserted customer reads back as\n got %+v\nwant %+v", norm(it.Customer), norm(want))
		}
		if it.Customer.PlatformIDs.ONe != in.PlatformIDs.ONe {
			t.Fatalf("platform id %q", it.Customer.PlatformIDs.ONe)
		}
		// An update by key; flags already set are not cleared by it.
		upd := want.Clone()
		upd.Name = "Zmieniona Nazwa Sp. z o.o."
		upd.Flags = mapping.Flags{CustomerAPI: true}
		if k, err := h.Adapter.Upsert(ctx, upd); err != nil || k != key {
			t.Fatalf("Upsert by key: %q, %v", k, err)
		}
		it, err = h.Adapter.Get(ctx, key)
		if err != nil || it.Customer.Name != upd.Name || !it.Customer.Flags.ONe || !it.Customer.Flags.CustomerAPI {
			t.Fatalf("after update: %+v, %v", it.Customer, err)
		}
	})

	t.Run("ManyRowsPerTimestampSmallPages", func(t *testing.T) {
		h := newHarness(t)
		// Six timestamps of seven rows each, written so that key order and
		// time order disagree, read two at a time: every flagged row once,
		// and the pass ends.
		g := erpgen.New(erpgen.Options{Seed: 13, KeyPrefix: "M", InvalidEvery: 6, UnflaggedEvery: 5, Kinds: SafeKinds()})
		want := map[string]bool{}
		for i := range 6 {
			recs := g.Records(7)
			h.Put(t, base.Add(time.Duration(5-i)*time.Second), recs...)
			for _, r := range recs {
				if r.Flagged() {
					want[h.key(r)] = true
				}
			}
		}
		items, cur := drain(t, h.Adapter, "", 2)
		got := map[string]bool{}
		for _, it := range items {
			if got[it.Key] {
				t.Errorf("%s returned twice", it.Key)
			}
			got[it.Key] = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("streamed %d keys %v, want %d %v", len(got), got, len(want), want)
		}
		if p, err := h.Adapter.Changes(context.Background(), cur, 2); err != nil || len(p.Items) != 0 || p.More {
			t.Fatalf("after the pass: %d items, more=%v, %v", len(p.Items), p.More, err)
		}
	})

	t.Run("UpsertedCustomerTakesWriteBacks", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		in := Expected(gen(14, "N", 1)[0])
		in.ERPKey = ""
		in.Flags = mapping.Flags{CustomerAPI: true}
		in.PlatformIDs = mapping.PlatformIDs{CustomerAPI: "9b2f1c1e-0000-4000-8000-0000000000ee"}
		key, err := h.Adapter.Upsert(ctx, in)
		if err != nil || key == "" {
			t.Fatalf("Upsert: %q, %v", key, err)
		}
		it, err := h.Adapter.Get(ctx, key)
		if err != nil || it.Key != key || it.Customer.PlatformIDs.CustomerAPI != in.PlatformIDs.CustomerAPI {
			t.Fatalf("Get(%s) after Upsert: %+v, %v", key, it, err)
		}
		if err := h.Adapter.SetPlatformID(ctx, key, mapping.PlatformONe, "org:00000000-0000-4000-8000-0000000000ef"); err != nil {
			t.Fatalf("SetPlatformID on the new customer: %v", err)
		}
		if it, err = h.Adapter.Get(ctx, key); err != nil || it.Customer.PlatformIDs.ONe != "org:00000000-0000-4000-8000-0000000000ef" {
			t.Fatalf("after write-back: %+v, %v", it.Customer.PlatformIDs, err)
		}
		if again, err := h.Adapter.Upsert(ctx, in); err != nil || again != key {
			t.Fatalf("repeated Upsert made key %q (first %q), %v", again, key, err)
		}
		if err := h.Adapter.Unlink(ctx, key, mapping.PlatformONe); err != nil {
			t.Fatalf("Unlink on the new customer: %v", err)
		}
	})

	t.Run("UpsertOverAValueTheERPHolds", func(t *testing.T) {
		// A row holding a value a rule refuses (the ERP's own data) takes a
		// change of another field; a change to an invalid value is refused.
		h := newHarness(t)
		ctx := context.Background()
		rec := gen(9, "H", 1)[0]
		rec.Invalid = ""
		rec.Set("currency", "ZLT")
		h.Put(t, base, rec)
		it, err := h.Adapter.Get(ctx, h.key(rec))
		if err != nil {
			t.Fatal(err)
		}
		c := it.Customer
		c.ERPKey = h.key(rec)
		c.Name = "Renamed On A Platform Ltd"
		if _, err := h.Adapter.Upsert(ctx, c); err != nil {
			t.Fatalf("a change of the name over the ERP's own currency was refused: %v", err)
		}
		if it, err := h.Adapter.Get(ctx, h.key(rec)); err != nil || it.Customer.Name != c.Name {
			t.Fatalf("after the upsert: %q, %v", it.Customer.Name, err)
		}
		c.Currency = "XYZ"
		_, err = h.Adapter.Upsert(ctx, c)
		var ve *mapping.ValidationError
		if !errors.As(err, &ve) || !ve.Has("currency") {
			t.Fatalf("a change to an invalid currency: want a validation error on currency, got %v", err)
		}
	})

	t.Run("UpsertRefusesInvalid", func(t *testing.T) {
		h := newHarness(t)
		in := Expected(gen(6, "V", 1)[0])
		in.ERPKey = "V-BAD"
		in.Currency = "ZLT"
		in.Email = "nope"
		_, err := h.Adapter.Upsert(context.Background(), in)
		var ve *mapping.ValidationError
		if !errors.As(err, &ve) || !ve.Has("currency") || !ve.Has("email") || apierr.Classify(err) != apierr.Permanent {
			t.Fatalf("want a permanent validation error on currency and email, got %v", err)
		}
		if _, err := h.Adapter.Get(context.Background(), "V-BAD"); !errors.Is(err, erp.ErrNotFound) {
			t.Fatalf("invalid customer was stored: %v", err)
		}
	})

	t.Run("WriteBackUnlinkDelete", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		recs := gen(7, "W", 3)
		h.Put(t, base, recs...)
		key := h.key(recs[0])
		if err := h.Adapter.SetPlatformID(ctx, key, mapping.PlatformONe, "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d"); err != nil {
			t.Fatal(err)
		}
		if err := h.Adapter.SetPlatformID(ctx, key, mapping.PlatformCustomerAPI, "9b2f1c1e-0000-4000-8000-000000000001"); err != nil {
			t.Fatal(err)
		}
		it, err := h.Adapter.Get(ctx, key)
		if err != nil || it.Customer.PlatformIDs.ONe != "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d" ||
			it.Customer.PlatformIDs.CustomerAPI != "9b2f1c1e-0000-4000-8000-000000000001" {
			t.Fatalf("after write-back: %+v, %v", it.Customer.PlatformIDs, err)
		}
		if err := h.Adapter.Unlink(ctx, key, mapping.PlatformONe); err != nil {
			t.Fatal(err)
		}
		if it, _ = h.Adapter.Get(ctx, key); it.Customer.PlatformIDs.ONe != "" || it.Customer.PlatformIDs.CustomerAPI == "" {
			t.Fatalf("after unlink: %+v", it.Customer.PlatformIDs)
		}
		if err := h.Adapter.MarkDeleted(ctx, key); err != nil {
			t.Fatal(err)
		}
		if it, _ = h.Adapter.Get(ctx, key); !it.Customer.Deleted || it.Err != nil {
			t.Fatalf("after MarkDeleted: deleted=%v err=%v", it.Customer.Deleted, it.Err)
		}
		for name, err := range map[string]error{
			"SetPlatformID": h.Adapter.SetPlatformID(ctx, "missing", mapping.PlatformONe, "org:x"),
			"Unlink":        h.Adapter.Unlink(ctx, "missing", mapping.PlatformONe),
			"MarkDeleted":   h.Adapter.MarkDeleted(ctx, "missing"),
		} {
			if !errors.Is(err, erp.ErrNotFound) || apierr.Classify(err) != apierr.Permanent {
				t.Errorf("%s(missing) = %v, want a permanent ErrNotFound", name, err)
			}
		}
	})

	t.Run("BatchedWriteBack", func(t *testing.T) {
		h := newHarness(t)
		w, ok := h.Adapter.(erp.PlatformIDWriter)
		if !ok {
			t.Logf("%s has no batched write-back; SetPlatformID serves alone", h)
			return
		}
		ctx := context.Background()
		recs := gen(10, "B", 3)
		h.Put(t, base, recs...)
		ids := []erp.PlatformID{
			{Key: h.key(recs[0]), Platform: mapping.PlatformONe, ID: "org:00000000-0000-4000-8000-00000000000a"},
			{Key: "missing", Platform: mapping.PlatformONe, ID: "org:00000000-0000-4000-8000-00000000000b"},
			{Key: h.key(recs[1]), Platform: mapping.PlatformCustomerAPI, ID: "9b2f1c1e-0000-4000-8000-00000000000c"},
			{Key: h.key(recs[2]), Platform: mapping.PlatformONe, ID: "org:00000000-0000-4000-8000-00000000000d"},
		}
		errs, err := w.SetPlatformIDs(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != len(ids) {
			t.Fatalf("%d results for %d write-backs", len(errs), len(ids))
		}
		for i, e := range errs {
			if want := ids[i].Key == "missing"; errors.Is(e, erp.ErrNotFound) != want || (!want && e != nil) {
				t.Errorf("write-back %d (%s): %v", i, ids[i].Key, e)
			}
		}
		for _, id := range ids {
			if id.Key == "missing" {
				continue
			}
			it, err := h.Adapter.Get(ctx, id.Key)
			if err != nil {
				t.Fatal(err)
			}
			got := it.Customer.PlatformIDs.ONe
			if id.Platform == mapping.PlatformCustomerAPI {
				got = it.Customer.PlatformIDs.CustomerAPI
			}
			if got != id.ID {
				t.Errorf("%s: %s id = %q, want %q", id.Key, id.Platform, got, id.ID)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := w.SetPlatformIDs(cctx, ids[:1]); err == nil {
			t.Error("SetPlatformIDs with a canceled context succeeded")
		}
	})

	t.Run("ListItemsMatchesListKeysAndGet", func(t *testing.T) {
		h := newHarness(t)
		il, ok := h.Adapter.(erp.ItemLister)
		kl, ok2 := h.Adapter.(erp.KeyLister)
		if !ok || !ok2 {
			t.Logf("%s lists no items (or no keys); the resync reads key by key", h)
			return
		}
		ctx := context.Background()
		h.Put(t, base, gen(12, "L", 7)...)
		var viaItems, viaKeys []string
		for after := ""; ; {
			page, err := il.ListItems(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page {
				got, err := h.Adapter.Get(ctx, it.Key)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(norm(it.Customer), norm(got.Customer)) || (it.Err == nil) != (got.Err == nil) {
					t.Errorf("%s: ListItems and Get differ:\n%+v\n%+v", it.Key, it, got)
				}
				viaItems = append(viaItems, it.Key)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].Key
		}
		for after := ""; ; {
			keys, err := kl.ListKeys(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			viaKeys = append(viaKeys, keys...)
			if len(keys) < 3 {
				break
			}
			after = keys[len(keys)-1]
		}
		if len(viaItems) == 0 || !reflect.DeepEqual(viaItems, viaKeys) {
			t.Fatalf("ListItems keys %v, ListKeys %v", viaItems, viaKeys)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		h := newHarness(t)
		h.Put(t, base, gen(8, "X", 3)...)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := h.Adapter.Changes(ctx, "", 10); !errors.Is(err, context.Canceled) {
			t.Fatalf("Changes with a canceled context: %v", err)
		}
		if _, err := h.Adapter.Upsert(ctx, Expected(gen(9, "Y", 1)[0])); err == nil {
			t.Fatalf("Upsert with a canceled context succeeded")
		}
	})
}

// String helps failure messages.
func (h Harness) String() string { return fmt.Sprintf("harness(%T)", h.Adapter) }
