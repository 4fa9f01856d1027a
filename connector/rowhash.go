package connector

import (
	"encoding/binary"
	"io"
	"os"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/erpconnector/erpconnector/connector/state"
)

// A full resync reads every ERP row, and mapping a row (its phone numbers,
// the rules) costs more than reading it. A binding's RowHash remembers
// which row maps to which platform digest: rowHash(row digest, digest it
// maps to). A row whose digest and the binding's current PushedHash give
// the RowHash back maps to what the platform holds, so the resync neither
// maps nor plans it. The fact "row R maps to D" holds for as long as the
// program and the adapter's configuration do (the adapter puts its
// configuration in R, the program's fingerprint is in the hash), whatever
// happened to the binding since: a push or pull that changes PushedHash
// makes the check fail, and the row is mapped as before.

// programFingerprint is a hash of the running executable, once: a new
// build may map the same row differently. 0 when it cannot be read (no
// row is then taken as known).
var programFingerprint = sync.OnceValue(func() uint64 {
	path, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	h := xxhash.New()
	if _, err := io.Copy(h, f); err != nil {
		return 0
	}
	return nonZero(h.Sum64())
})

// rowHash is the Binding.RowHash of an ERP row of digest row (erp.Item.Digest)
// that maps to want on s's platform; 0 (none) when either is missing or the
// program has no fingerprint.
func (s *site) rowHash(row uint64, want string) uint64 {
	fp := programFingerprint()
	if row == 0 || want == "" || fp == 0 {
		return 0
	}
	b := make([]byte, 0, 24+len(s.name)+len(want))
	b = binary.LittleEndian.AppendUint64(b, fp)
	b = binary.LittleEndian.AppendUint64(b, row)
	b = append(append(b, s.name...), 0)
	b = append(b, want...)
	return nonZero(xxhash.Sum64(b))
}

// knowsRow reports whether the ERP row of key with digest row maps to what
// the platform holds, by the binding's RowHash.
func (s *site) knowsRow(tx *state.Tx, key string, row uint64) bool {
	b, bound, err := tx.Binding(s.name, key)
	return err == nil && bound && s.rowKnown(b, row)
}

// rowKnown reports whether the ERP row of digest row maps to what the
// platform holds, by the (bound) binding b's RowHash.
func (s *site) rowKnown(b state.Binding, row uint64) bool {
	return b.RowHash != 0 && b.RowHash == s.rowHash(row, b.PushedHash)
}

// nonZero keeps 0 for "none".
func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}
