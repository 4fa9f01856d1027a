package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/erpconnector/erpconnector/oneapi"
)

// HashPrefix starts every content hash, naming the algorithm.
const HashPrefix = "sha256:"

// ContentHash returns a stable hash of v's JSON form. encoding/json writes
// struct fields in declaration order and map keys sorted, so equal values
// always hash equal, whatever order maps were filled in.
func ContentHash(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("mapping: hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return HashPrefix + hex.EncodeToString(sum[:]), nil
}

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
