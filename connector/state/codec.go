package state

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/mapping"
)

// Bindings are stored in a compact binary form: a migration of 100,000
// customers keeps 100,000 of them in the state file, and the file is mapped
// into memory. Layout (version 2):
//
//	0x02 · uvarint Version · varint Updated (unix ns) · id ID ·
//	hash PushedHash · hash SeenHash · uvarint len(Extra) · (string key · id value)… ·
//	varint PushedAt (unix ns) · varint SeenAt (unix ns)
//
// Version 3 (0x03) is version 2 followed by RowHash, 8 bytes little
// endian; it is written only for a binding with a RowHash, so a state file
// the row hashes are not used in stays readable by the versions before.
// Version 1 (0x01, written by earlier versions) is version 2 without the
// two times at the end; it is still read (the times are then zero).
// where a string is a uvarint length and its bytes; a hash is 0 (none),
// 1 and 32 bytes (a "sha256:" hex digest), 3, a uvarint part count and
// 16 bytes a part (a mapping.Digest), or 2 and a string; an id is
// 1 and 16 bytes (a UUID), 2, a string and 16 bytes (a "prefix:UUID"
// such as ONe's "org:…"), or 0 and a string. The ERP key is the bucket key
// and is not repeated. Values written as JSON by earlier versions (they
// start with '{') are still read.
const (
	bindingCodecV1 = 0x01
	bindingCodecV2 = 0x02
	bindingCodecV3 = 0x03
)

const sha256Prefix = mapping.HashPrefix

func encodeBinding(b Binding) []byte {
	buf := make([]byte, 0, 128)
	form := byte(bindingCodecV2)
	if b.RowHash != 0 {
		form = bindingCodecV3
	}
	buf = append(buf, form)
	buf = binary.AppendUvarint(buf, b.Version)
	buf = binary.AppendVarint(buf, unixNano(b.Updated))
	buf = appendID(buf, b.ID)
	buf = appendHash(buf, b.PushedHash)
	buf = appendHash(buf, b.SeenHash)
	keys := make([]string, 0, len(b.Extra))
	for k := range b.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	for _, k := range keys {
		buf = appendString(buf, k)
		buf = appendID(buf, b.Extra[k])
	}
	buf = binary.AppendVarint(buf, unixNano(b.PushedAt))
	buf = binary.AppendVarint(buf, unixNano(b.SeenAt))
	if form == bindingCodecV3 {
		buf = binary.LittleEndian.AppendUint64(buf, b.RowHash)
	}
	return buf
}

// unixNano is a time as unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano reads unixNano's form back.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendHash(buf []byte, h string) []byte {
	if h == "" {
		return append(buf, 0)
	}
	if d, ok := strings.CutPrefix(h, sha256Prefix); ok && len(d) == 64 && d == strings.ToLower(d) {
		if raw, err := hex.DecodeString(d); err == nil {
			return append(append(buf, 1), raw...)
		}
	}
	if parts := mapping.Digest(h).Parts(); parts != nil && h == strings.ToLower(h) {
		buf = binary.AppendUvarint(append(buf, 3), uint64(len(parts)))
		for _, p := range parts {
			raw, _ := hex.DecodeString(p)
			buf = append(buf, raw...)
		}
		return buf
	}
	return appendString(append(buf, 2), h)
}

// appendID appends an id, 16 bytes for the UUID it holds when it is one.
func appendID(buf []byte, id string) []byte {
	if u, ok := parseUUID(id); ok {
		return append(append(buf, 1), u[:]...)
	}
	if prefix, rest, ok := strings.Cut(id, ":"); ok && prefix != "" && len(prefix) < 16 {
		if u, ok := parseUUID(rest); ok {
			return append(appendString(append(buf, 2), prefix), u[:]...)
		}
	}
	return appendString(append(buf, 0), id)
}

// parseUUID reads a canonical lower-case UUID (8-4-4-4-12 hex digits).
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s != strings.ToLower(s) {
		return u, false
	}
	var h [32]byte // the hex digits without the dashes
	copy(h[0:8], s[0:8])
	copy(h[8:12], s[9:13])
	copy(h[12:16], s[14:18])
	copy(h[16:20], s[19:23])
	copy(h[20:32], s[24:36])
	if _, err := hex.Decode(u[:], h[:]); err != nil {
		return u, false
	}
	return u, true
}

// prefixedUUID is prefix followed by the text form of the 16 bytes u, made
// in one allocation (a resync decodes a binding for every listed record).
func prefixedUUID(prefix string, u []byte) string {
	var h [32]byte
	hex.Encode(h[:], u[:16])
	var b strings.Builder
	b.Grow(len(prefix) + 36)
	b.WriteString(prefix)
	b.Write(h[0:8])
	b.WriteByte('-')
	b.Write(h[8:12])
	b.WriteByte('-')
	b.Write(h[12:16])
	b.WriteByte('-')
	b.Write(h[16:20])
	b.WriteByte('-')
	b.Write(h[20:32])
	return b.String()
}

// idKey is the reverse index key of a platform id: its compact form.
func idKey(id string) []byte {
	// Room for the longest form (a prefix, its length and the text): one
	// allocation.
	return appendID(make([]byte, 0, len(id)+binary.MaxVarintLen64+1), id)
}

var errBindingCodec = errors.New("malformed binding")

// decodeBinding reads a stored binding of erpKey.
func decodeBinding(erpKey string, v []byte) (Binding, error) {
	if len(v) > 0 && v[0] == '{' {
		var b Binding
		if err := json.Unmarshal(v, &b); err != nil {
			return Binding{}, err
		}
		return b, nil
	}
	d := bindingReader{buf: v}
	form := d.byte()
	if form != bindingCodecV1 && form != bindingCodecV2 && form != bindingCodecV3 {
		return Binding{}, fmt.Errorf("%w: unknown format", errBindingCodec)
	}
	b := Binding{ERPKey: erpKey}
	b.Version = d.uvarint()
	b.Updated = fromUnixNano(d.varint())
	b.ID = d.id()
	b.PushedHash = d.hash()
	b.SeenHash = d.hash()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(v)) {
			return Binding{}, fmt.Errorf("%w: extra count %d", errBindingCodec, n)
		}
		b.Extra = make(map[string]string, n)
		for range n {
			k := d.string()
			b.Extra[k] = d.id()
		}
	}
	if form >= bindingCodecV2 {
		b.PushedAt = fromUnixNano(d.varint())
		b.SeenAt = fromUnixNano(d.varint())
	}
	if form == bindingCodecV3 {
		b.RowHash = d.uint64()
	}
	if d.err != nil {
		return Binding{}, d.err
	}
	if len(d.buf) != 0 {
		return Binding{}, fmt.Errorf("%w: %d trailing bytes", errBindingCodec, len(d.buf))
	}
	return b, nil
}

// bindingReader decodes the binary form; the first problem sticks in err.
type bindingReader struct {
	buf []byte
	err error
}

func (r *bindingReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", errBindingCodec, what)
	}
	r.buf = nil
}

func (r *bindingReader) byte() byte {
	if len(r.buf) < 1 {
		r.fail("byte")
		return 0
	}
	c := r.buf[0]
	r.buf = r.buf[1:]
	return c
}

func (r *bindingReader) uint64() uint64 {
	if len(r.buf) < 8 {
		r.fail("row hash")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return v
}

func (r *bindingReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }
func (r *bindingReader) varint() int64   { return readNumber(r, binary.Varint) }

// readNumber reads one varint-encoded number with the given decoder.
func readNumber[T uint64 | int64](r *bindingReader, decode func([]byte) (T, int)) T {
	v, n := decode(r.buf)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *bindingReader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.buf)) {
		r.fail("string")
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

func (r *bindingReader) id() string {
	form := r.byte()
	var prefix string
	switch form {
	case 0:
		return r.string()
	case 2:
		prefix = r.string()
	case 1:
	default:
		if r.err == nil {
			r.err = fmt.Errorf("%w: unknown id form", errBindingCodec)
		}
		r.buf = nil
		return ""
	}
	if r.err != nil || len(r.buf) < 16 {
		r.fail("id")
		return ""
	}
	var s string
	if form == 2 {
		s = prefixedUUID(prefix+":", r.buf[:16])
	} else {
		s = prefixedUUID("", r.buf[:16])
	}
	r.buf = r.buf[16:]
	return s
}

func (r *bindingReader) hash() string {
	switch r.byte() {
	case 0:
		return ""
	case 1:
		if len(r.buf) < 32 {
			r.fail("hash")
			return ""
		}
		t := mapping.HashText([32]byte(r.buf[:32]))
		r.buf = r.buf[32:]
		return t
	case 2:
		return r.string()
	case 3:
		return r.digest()
	}
	if r.err == nil {
		r.err = fmt.Errorf("%w: unknown hash form", errBindingCodec)
	}
	r.buf = nil
	return ""
}

// digest reads the parts of a mapping.Digest.
func (r *bindingReader) digest() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n == 0 || n > uint64(len(r.buf))/mapping.DigestPartSize {
		r.fail("digest")
		return ""
	}
	var b strings.Builder
	b.Grow(len(mapping.DigestPrefix) + int(n)*(2*mapping.DigestPartSize+1))
	b.WriteString(mapping.DigestPrefix)
	var h [2 * mapping.DigestPartSize]byte
	for i := range n {
		if i > 0 {
			b.WriteByte('.')
		}
		hex.Encode(h[:], r.buf[:mapping.DigestPartSize])
		b.Write(h[:])
		r.buf = r.buf[mapping.DigestPartSize:]
	}
	return b.String()
}
