package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// TestContentHashIsSHA256OfMarshal: a content hash is "sha256:" and the hex
// SHA-256 of encoding/json's Marshal of the value, byte for byte. The state
// file keeps these hashes: a hash that changed its form would make every
// record look changed after an upgrade.
func TestContentHashIsSHA256OfMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCustomer(t)
		for _, v := range []any{ToONePayload(c), c, map[string]any{"html": "<a href=\"x\">&</a>", "n": 1.5}, "\u2028 line"} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			got, err := ContentHash(v)
			if err != nil {
				t.Fatal(err)
			}
			if want := HashPrefix + hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("ContentHash(%s) = %s, want %s", b, got, want)
			}
		}
	})
	// A value encoding/json refuses is an error, not a hash.
	if _, err := ContentHash(map[string]any{"f": func() {}}); err == nil {
		t.Fatal("a function hashed")
	}
}

// BenchmarkHashONe: the content hash of what ONe receives for a customer,
// as a resync takes it of every listed client.
func BenchmarkHashONe(b *testing.B) {
	c := rapid.Custom(func(t *rapid.T) Customer { return genCustomer(t) }).Example(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashONe(c); err != nil {
			b.Fatal(err)
		}
	}
}
