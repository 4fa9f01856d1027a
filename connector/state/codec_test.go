package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

func TestBindingCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 3, 4, 5, 6, time.UTC)
	for _, b := range []Binding{
		{ERPKey: "C1"},
		{ERPKey: "C2", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d", Version: 7, Updated: at,
			PushedHash: "sha256:7d696c7d1ce518024a891d82ce26d46de15e419d91446d2f30d2c37be1854034",
			SeenHash:   "sha256:0000000000000000000000000000000000000000000000000000000000000001",
			Extra:      map[string]string{"addressId": "021a0e64-6010-42df-86a2-1ceff41a6965", "businessUnitId": "bu-1"}},
		// Digests keep their parts, 16 bytes each.
		{ERPKey: "C6", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d",
			PushedHash: "p:0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"},
		// Hashes not in the digest form are kept as they are.
		{ERPKey: "C3", ID: "x", PushedHash: "sha256:ABC", SeenHash: "md5:1", Version: 1 << 40},
		// Ids that only look like UUIDs keep their exact text.
		{ERPKey: "C4", ID: "9B2F1C1E-0000-4000-8000-000000000001", Extra: map[string]string{"a": "org:9b2f1c1e-0000-4000-8000-00000000000", "b": ":9b2f1c1e-0000-4000-8000-000000000001"}},
		{ERPKey: "C5", ID: "9b2f1c1e-0000-4000-8000-000000000001", Extra: map[string]string{"businessUnitId": "x:y:9b2f1c1e-0000-4000-8000-000000000001"}},
		// The times of the last push and read.
		{ERPKey: "C7", ID: "x", PushedHash: "sha256:ABC", SeenHash: "md5:1", Updated: at, PushedAt: at.Add(-time.Hour), SeenAt: at.Add(-time.Minute)},
		// The row hash (version 3).
		{ERPKey: "C8", ID: "x", PushedHash: "p:0123456789abcdef0123456789abcdef", Updated: at, PushedAt: at, RowHash: 0xfedcba9876543210},
		{ERPKey: "C9", RowHash: 1},
	} {
		v := encodeBinding(b)
		got, err := decodeBinding(b.ERPKey, v)
		if err != nil {
			t.Fatalf("%s: %v", b.ERPKey, err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", b.ERPKey, got, b)
		}
	}
}

func TestBindingCodecIsCompactAndReadsJSON(t *testing.T) {
	b := Binding{ERPKey: "C0000001", ID: "ind:e793a57b-e186-4b39-89dd-3b9181b7a288", Version: 2,
		PushedHash: "sha256:7d696c7d1ce518024a891d82ce26d46de15e419d91446d2f30d2c37be1854034",
		Extra:      map[string]string{"addressId": "021a0e64-6010-42df-86a2-1ceff41a6965"},
		Updated:    time.Date(2026, 11, 23, 3, 32, 35, 432998282, time.UTC)}
	js, _ := json.Marshal(b)
	bin := encodeBinding(b)
	if len(bin)*5 > len(js)*2 {
		t.Errorf("binary binding is %d bytes, JSON %d: want under 40%%", len(bin), len(js))
	}
	if k := idKey(b.ID); len(k) != 1+1+3+16 {
		t.Errorf("reverse index key of %q is %d bytes", b.ID, len(k))
	}
	// A state file written with JSON bindings is still read.
	got, err := decodeBinding(b.ERPKey, js)
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("JSON binding: %+v, %v", got, err)
	}
}

func TestBindingCodecRejectsDamage(t *testing.T) {
	v := encodeBinding(Binding{ERPKey: "C", ID: "id", Extra: map[string]string{"a": "b"}})
	for i := range len(v) - 1 {
		if _, err := decodeBinding("C", v[:i]); !errors.Is(err, errBindingCodec) {
			t.Errorf("truncated at %d: err = %v", i, err)
		}
	}
	if _, err := decodeBinding("C", append(v, 0)); !errors.Is(err, errBindingCodec) {
		t.Errorf("trailing byte: err = %v", err)
	}
	if _, err := decodeBinding("C", []byte{9}); !errors.Is(err, errBindingCodec) {
		t.Errorf("unknown version: err = %v", err)
	}
}

func FuzzBindingCodec(f *testing.F) {
	f.Add(encodeBinding(Binding{ID: "org:1", PushedHash: "sha256:7d696c7d1ce518024a891d82ce26d46de15e419d91446d2f30d2c37be1854034", Extra: map[string]string{"k": "v"}}))
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := decodeBinding("K", v)
		if err != nil || (len(v) > 0 && v[0] == '{') {
			return
		}
		// Whatever decodes encodes back to the same binding.
		again, err := decodeBinding("K", encodeBinding(b))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("not stable:\n%+v\n%+v", b, again)
		}
	})
}

// TestBindingsReadStateWrittenByEarlierVersions: JSON bindings and plain
// reverse index keys are found, and rebinding removes the old plain key.
func TestBindingsReadStateWrittenByEarlierVersions(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(filepath.Join(t.TempDir(), "state.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s, err := Open(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	const oldID = "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d"
	err = q.Update(ctx, func(tx *bolt.Tx) error {
		js, _ := json.Marshal(Binding{ERPKey: "C1", ID: oldID, Version: 3})
		if err := tx.Bucket(bindingBucket(mapping.PlatformONe)).Put([]byte("C1"), js); err != nil {
			return err
		}
		return tx.Bucket(reverseBucket(mapping.PlatformONe)).Put([]byte(oldID), []byte("C1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		if key, ok := tx.KeyOf(mapping.PlatformONe, oldID); !ok || key != "C1" {
			t.Fatalf("KeyOf(old plain key) = %q, %v", key, ok)
		}
		b, ok, err := tx.Binding(mapping.PlatformONe, "C1")
		if err != nil || !ok || b.Version != 3 || b.ID != oldID {
			t.Fatalf("Binding(JSON binding) = %+v, %v, %v", b, ok, err)
		}
		b.ID = "org:00000000-0000-4000-8000-000000000001"
		if _, err := tx.PutBinding(mapping.PlatformONe, b); err != nil {
			return err
		}
		if _, ok := tx.KeyOf(mapping.PlatformONe, oldID); ok {
			t.Fatal("the old id is still in the reverse index after rebinding")
		}
		if key, ok := tx.KeyOf(mapping.PlatformONe, b.ID); !ok || key != "C1" {
			t.Fatalf("KeyOf(new) = %q, %v", key, ok)
		}
		got, _, err := tx.Binding(mapping.PlatformONe, "C1")
		if err != nil || got.Version != 4 || got.ID != b.ID {
			t.Fatalf("after rebinding: %+v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBindingCodecReadsVersion1: bindings written before the times of the
// last push and read existed are still read, with those times zero.
func TestBindingCodecReadsVersion1(t *testing.T) {
	b := Binding{ERPKey: "C1", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d", Version: 3,
		PushedHash: "sha256:7d696c7d1ce518024a891d82ce26d46de15e419d91446d2f30d2c37be1854034",
		Extra:      map[string]string{"addressId": "021a0e64-6010-42df-86a2-1ceff41a6965"},
		Updated:    time.Date(2026, 11, 23, 3, 32, 35, 0, time.UTC)}
	v2 := encodeBinding(b)
	if v2[0] != bindingCodecV2 || !bytes.HasSuffix(v2, []byte{0, 0}) {
		t.Fatalf("version 2 form % x", v2)
	}
	// Version 1 is version 2 without the two times at the end.
	v1 := append([]byte{bindingCodecV1}, v2[1:len(v2)-2]...)
	got, err := decodeBinding(b.ERPKey, v1)
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("version 1 binding: %+v, %v", got, err)
	}
	if _, err := decodeBinding(b.ERPKey, append(v1, 0)); !errors.Is(err, errBindingCodec) {
		t.Errorf("version 1 with a trailing byte: err = %v", err)
	}
}

// TestPutBindingStampsPushedAndSeen: the times of the last push and read
// move when their hash changes, and only then.
// openClocked opens a state store in a new file whose clock reads *now.
func openClocked(t *testing.T, now *time.Time) *Store {
	t.Helper()
	q, err := queue.Open(filepath.Join(t.TempDir(), "state.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	s, err := Open(context.Background(), q, func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBindingWithoutRowHashKeepsVersion2: a binding without a row hash is
// written as before (readable by earlier versions), one with a row hash
// is version 3, 8 bytes longer; a version 3 value cut short is refused.
func TestBindingWithoutRowHashKeepsVersion2(t *testing.T) {
	b := Binding{ERPKey: "C1", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d", PushedHash: "p:0123456789abcdef0123456789abcdef"}
	v2 := encodeBinding(b)
	b.RowHash = 42
	v3 := encodeBinding(b)
	if v2[0] != bindingCodecV2 || v3[0] != bindingCodecV3 || len(v3) != len(v2)+8 {
		t.Fatalf("forms %#x %#x, lengths %d %d", v2[0], v3[0], len(v2), len(v3))
	}
	if _, err := decodeBinding("C1", v3[:len(v3)-1]); !errors.Is(err, errBindingCodec) {
		t.Fatalf("a version 3 value cut short: %v", err)
	}
}

// TestSetRowHashKeepsVersionAndTimes: the row hash is stored without
// bumping the binding's version or its times (a live change is still told
// from the resync's bookkeeping), and only for a bound key.
func TestSetRowHashKeepsVersionAndTimes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := openClocked(t, &now)
	var put Binding
	if err := s.Update(ctx, func(tx *Tx) (err error) {
		put, err = tx.PutBinding(mapping.PlatformONe, Binding{ERPKey: "C1", ID: "x", PushedHash: "p:1"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.SetRowHash(mapping.PlatformONe, "C1", 7); err != nil {
			return err
		}
		return tx.SetRowHash(mapping.PlatformONe, "C2", 7)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(tx *Tx) error {
		got, _, err := tx.Binding(mapping.PlatformONe, "C1")
		want := put
		want.RowHash = 7
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("stored %+v, want %+v", got, want)
		}
		if _, bound, _ := tx.Binding(mapping.PlatformONe, "C2"); bound {
			t.Error("a row hash bound an unbound key")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPutBindingStampsPushedAndSeen(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := openClocked(t, &now)
	put := func(b Binding) Binding {
		t.Helper()
		var out Binding
		if err := s.Update(ctx, func(tx *Tx) error {
			var err error
			out, err = tx.PutBinding(mapping.PlatformONe, b)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t0 := now
	b := put(Binding{ERPKey: "C1", ID: "x", PushedHash: "p:1"})
	if !b.PushedAt.Equal(t0) || !b.SeenAt.IsZero() {
		t.Fatalf("first put: pushed %v seen %v", b.PushedAt, b.SeenAt)
	}
	now = now.Add(time.Minute)
	b.SeenHash = "s:1"
	b = put(b)
	if !b.PushedAt.Equal(t0) || !b.SeenAt.Equal(now) {
		t.Fatalf("seen changed: pushed %v seen %v", b.PushedAt, b.SeenAt)
	}
	now = now.Add(time.Minute)
	b.PushedHash = "p:2"
	b = put(b)
	if !b.PushedAt.Equal(now) || !b.SeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("pushed changed: pushed %v seen %v", b.PushedAt, b.SeenAt)
	}
	if err := s.View(ctx, func(tx *Tx) error {
		got, _, err := tx.Binding(mapping.PlatformONe, "C1")
		if err == nil && !reflect.DeepEqual(got, b) {
			t.Errorf("stored %+v, want %+v", got, b)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryIsBoundedAndFoldsRepeats: a key keeps its last HistoryLimit
// events; the same outcome again counts as a repeat.
func TestHistoryIsBoundedAndFoldsRepeats(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(filepath.Join(t.TempDir(), "state.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s, err := Open(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	add := func(e Event) {
		t.Helper()
		if err := s.Update(ctx, func(tx *Tx) error { return tx.AddEvent(mapping.PlatformCustomerAPI, "K", e) }); err != nil {
			t.Fatal(err)
		}
	}
	add(Event{Outcome: "refused", Reason: strings.Repeat("é", 300)})
	add(Event{Outcome: "refused", Reason: strings.Repeat("é", 300)})
	for i := range HistoryLimit + 2 {
		add(Event{Outcome: "updated", ID: fmt.Sprint("id", i)})
	}
	add(Event{Outcome: "unchanged", ID: "id"})
	add(Event{Outcome: "unchanged", ID: "id"})
	add(Event{Outcome: "unchanged", ID: "id"})
	var h []Event
	if err := s.View(ctx, func(tx *Tx) error {
		h, err = tx.History(mapping.PlatformCustomerAPI, "K")
		if other, _ := tx.History(mapping.PlatformONe, "K"); other != nil {
			t.Errorf("history on the other platform: %+v", other)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(h) != HistoryLimit {
		t.Fatalf("%d events, want %d: %+v", len(h), HistoryLimit, h)
	}
	if last := h[len(h)-1]; last.Outcome != "unchanged" || last.Times != 3 {
		t.Errorf("last event %+v, want unchanged 3 times", last)
	}
	if first := h[0]; first.ID != "id3" || first.Times != 0 || first.At.IsZero() {
		t.Errorf("oldest kept event %+v, want the update of id3", first)
	}
	var refusal Event
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.AddEvent(mapping.PlatformONe, "R", Event{Outcome: "refused", Reason: strings.Repeat("é", 300)}); err != nil {
			return err
		}
		r, err := tx.History(mapping.PlatformONe, "R")
		refusal = r[0]
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(refusal.Reason) > maxReason+len("…") || !utf8.ValidString(refusal.Reason) {
		t.Errorf("reason of %d bytes (valid UTF-8 %v), want at most %d", len(refusal.Reason), utf8.ValidString(refusal.Reason), maxReason)
	}
}

func TestHistoryCodec(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	events := []Event{
		{At: at, Outcome: "created", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d"},
		{At: at.Add(time.Second), Outcome: "refused", Reason: "tin: is required for companies", Times: 3},
		{At: at.Add(time.Minute), Outcome: "updated", ID: "plain-id"},
	}
	v := encodeHistory(events)
	got, err := decodeHistory(v)
	if err != nil || !reflect.DeepEqual(got, events) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if js, _ := json.Marshal(events); len(v)*2 > len(js) {
		t.Errorf("three events take %d bytes, %d as JSON: want under half", len(v), len(js))
	}
	for i := range len(v) - 1 {
		if _, err := decodeHistory(v[:i]); !errors.Is(err, errBindingCodec) {
			t.Errorf("truncated at %d: err = %v", i, err)
		}
	}
	if _, err := decodeHistory(append(v, 0)); !errors.Is(err, errBindingCodec) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

// BenchmarkDecodeBinding: a binding as a resync reads one for every listed
// record (a digest of two parts, a content hash, an id and one extra id).
func BenchmarkDecodeBinding(b *testing.B) {
	at := time.Date(2026, 11, 23, 3, 4, 5, 6, time.UTC)
	v := encodeBinding(Binding{ERPKey: "C0001234", ID: "org:e89098c0-860e-47a8-b7a9-23bb6b685d4d", Version: 3, Updated: at,
		PushedHash: "p:0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210",
		SeenHash:   "sha256:7d696c7d1ce518024a891d82ce26d46de15e419d91446d2f30d2c37be1854034",
		Extra:      map[string]string{"businessUnitId": "021a0e64-6010-42df-86a2-1ceff41a6965"}, PushedAt: at, SeenAt: at, RowHash: 42})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBinding("C0001234", v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIDKey: the reverse index key of a listed record's id, as a
// resync makes one for every listed record (a Customer API organisation id).
func BenchmarkIDKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if k := idKey("e89098c0-860e-47a8-b7a9-23bb6b685d4d"); len(k) != 17 {
			b.Fatalf("key of %d bytes", len(k))
		}
	}
}
