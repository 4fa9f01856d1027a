package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Digest is the content hash of what a platform receives for a customer,
// one part per write the platform takes separately (ONe: the client body
// and the finance data; the Customer API: the organisation and the farm
// business unit), so that a change is sent with only the writes it needs.
// Its text form is "p:" and one 32-digit hex part per write, joined by ".".
// Any other text (the whole-payload hashes of earlier versions, "") is a
// digest of unknown parts: every part counts as changed against it.
type Digest string

// DigestPrefix starts a digest's text form.
const DigestPrefix = "p:"

// DigestPartSize is the size in bytes of one part (a truncated SHA-256).
const DigestPartSize = 16

// NewDigest hashes each part's JSON form.
func NewDigest(parts ...any) (Digest, error) {
	var b strings.Builder
	b.WriteString(DigestPrefix)
	for i, p := range parts {
		raw, err := json.Marshal(p)
		if err != nil {
			return "", fmt.Errorf("mapping: digest: %w", err)
		}
		sum := sha256.Sum256(raw)
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(hex.EncodeToString(sum[:DigestPartSize]))
	}
	return Digest(b.String()), nil
}

// Parts returns the hex parts, or nil when d is not in the parts form.
func (d Digest) Parts() []string {
	rest, ok := strings.CutPrefix(string(d), DigestPrefix)
	if !ok || rest == "" {
		return nil
	}
	parts := strings.Split(rest, ".")
	for _, p := range parts {
		if len(p) != 2*DigestPartSize {
			return nil
		}
		if _, err := hex.DecodeString(p); err != nil {
			return nil
		}
	}
	return parts
}

// Changed reports, for each part of d, whether it differs from old (every
// part does when old has another shape).
func (d Digest) Changed(old Digest) []bool {
	now, was := d.Parts(), old.Parts()
	out := make([]bool, len(now))
	for i := range now {
		out[i] = len(was) != len(now) || was[i] != now[i]
	}
	return out
}

// With returns d with part i taken from other (used to record the parts a
// partly failed write did send). Digests of another shape give "".
func (d Digest) With(other Digest, i int) Digest {
	a, b := d.Parts(), other.Parts()
	if a == nil && b != nil {
		// Nothing known before: only what was sent is known now, and the
		// other parts stay unknown (they never match).
		a = make([]string, len(b))
		for j := range a {
			a[j] = strings.Repeat("0", 2*DigestPartSize)
		}
	}
	if len(a) != len(b) || i < 0 || i >= len(a) {
		return ""
	}
	out := append([]string(nil), a...)
	out[i] = b[i]
	return Digest(DigestPrefix + strings.Join(out, "."))
}

// DigestONe is the digest of what ONe receives for c: the client body
// (create and full update) and the finance data.
func DigestONe(c Customer) (Digest, error) {
	return NewDigest(ToONeWrite(c), ToONeFinance(c))
}

// DigestCustomerAPI is the digest of what the Customer API receives for c:
// the organisation and, for a farm, the farm business unit (without the
// organisation id it is created in, so the digest is the same before and
// after the organisation exists).
func DigestCustomerAPI(c Customer) (Digest, error) {
	p := ToCustomerAPIPayload(c)
	if p.Farm != nil {
		p.Farm.OrganisationID = ""
	}
	return NewDigest(p.Organisation, p.Farm)
}
