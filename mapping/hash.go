package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/erpconnector/erpconnector/oneapi"
)

// HashPrefix starts every content hash, naming the algorithm.
const HashPrefix = "sha256:"

// ContentHash returns a stable hash of v's JSON form. encoding/json writes
// struct fields in declaration order and map keys sorted, so equal values
// always hash equal, whatever order maps were filled in.
//
// The JSON is encoded into a reused buffer (what json.Marshal writes, and
// Encoder.Encode before its closing newline) and the hash text is made in
// one allocation: a resync hashes every listed record.
func ContentHash(v any) (string, error) {
	buf := hashBuffers.Get().(*bytes.Buffer)
	defer hashBuffers.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return "", fmt.Errorf("mapping: hash: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	return HashText(sha256.Sum256(b)), nil
}

// HashText is the text of a content hash whose SHA-256 is sum: HashPrefix
// and the sum in lower-case hex, made in one allocation.
func HashText(sum [sha256.Size]byte) string {
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	var out strings.Builder
	out.Grow(len(HashPrefix) + len(h))
	out.WriteString(HashPrefix)
	out.Write(h[:])
	return out.String()
}

// hashBuffers are ContentHash's buffers.
var hashBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ONePayload is everything the connector sends to ONe for one customer: the
// full write body and the finance-data body.
type ONePayload struct {
	Client  oneapi.ClientWrite `json:"client"`
	Finance oneapi.FinanceData `json:"finance"`
}

// ToONePayload returns what would be sent to ONe for c.
func ToONePayload(c Customer) ONePayload {
	return ONePayload{Client: ToONeWrite(c), Finance: ToONeFinance(c)}
}

// HashONe returns the content hash of what would be sent to ONe for c. Two
// customers that differ only in fields ONe never receives (farm data, flags,
// platform ids, updated-at) hash equal.
func HashONe(c Customer) (string, error) {
	return ContentHash(ToONePayload(c))
}
