package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nyaruka/phonenumbers"
)

// PhoneRegion returns the region (an ISO 3166-1 alpha-2 code libphonenumber
// knows) whose numbers have the calling code cc ("48" → "PL", "44" → "GB",
// "1" → "US": the main region of a shared code), or false.
func PhoneRegion(cc string) (string, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(cc), "+"))
	if err != nil || n <= 0 {
		return "", false
	}
	r := phonenumbers.GetRegionCodeForCountryCode(n)
	if r == "" || r == "ZZ" || r == "001" {
		return "", false
	}
	return r, true
}

// knownPhoneRegion reports whether region is an ISO 3166-1 alpha-2 code
// libphonenumber has numbering data for.
func knownPhoneRegion(region string) bool {
	return region != "" && phonenumbers.GetCountryCodeForRegion(region) != 0
}

// ParsePhone reads s as a phone number with libphonenumber and returns it
// in E.164 form ("+441437770000"). A number without its calling code (a
// national number) is read as a number of region (ISO 3166-1 alpha-2); a
// leading 00 is read as +. It returns an error, never a guess, when s is
// not a phone number or is not a valid number (for region, when national).
// An empty s gives "".
func ParsePhone(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	key := region + "\x00" + s
	if p, ok := parsedPhones.Get(key); ok {
		return p.e164, p.err
	}
	e164, err := parsePhone(s, region)
	parsedPhones.Add(key, parsedPhone{e164, err})
	return e164, err
}

// parsedPhones remembers the numbers read last: a record is often read
// several times within moments (an enrichment reads it, reads it again just
// before writing, and the write reads the row once more; a platform record
// taken in is written, then read back), and libphonenumber takes tens of
// microseconds a number. ParsePhone is a pure function of its arguments, so
// a remembered answer is the answer.
var parsedPhones = mustLRU[string, parsedPhone](4096)

type parsedPhone struct {
	e164 string
	err  error
}

func mustLRU[K comparable, V any](size int) *lru.Cache[K, V] {
	c, err := lru.New[K, V](size)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}

func parsePhone(s, region string) (string, error) {
	in := s
	if strings.HasPrefix(in, "00") {
		in = "+" + in[2:]
	}
	region = strings.ToUpper(region)
	if !knownPhoneRegion(region) {
		region = "ZZ"
	}
	n, err := phonenumbers.Parse(in, region)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "ZZ":
		return "", fmt.Errorf("%q has no calling code and the row has no country to read it with (billing.country_iso2, or the rule's phone_region)", s)
	case err != nil:
		return "", fmt.Errorf("%q is not a phone number: %w", s, err)
	}
	if !phonenumbers.IsValidNumber(n) {
		where := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
		if !strings.HasPrefix(in, "+") {
			where = region
		}
		return "", fmt.Errorf("%q is not a valid phone number for %s", s, where)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// phoneDefaultRegion is the phone transform's default region of r: its
// phone_region, or the region of its phone_country_code, or "".
func phoneDefaultRegion(r FieldRule) (string, error) {
	region := strings.ToUpper(strings.TrimSpace(r.PhoneRegion))
	if region != "" && !knownPhoneRegion(region) {
		return "", fmt.Errorf("phone_region %q is not a region with phone numbers (an ISO 3166-1 alpha-2 code like PL or GB)", r.PhoneRegion)
	}
	if cc := strings.TrimSpace(r.PhoneCountryCode); cc != "" {
		byCode, ok := PhoneRegion(cc)
		switch {
		case strings.Trim(cc, "0123456789") != "":
			return "", fmt.Errorf("phone_country_code %q must be digits", r.PhoneCountryCode)
		case !ok:
			return "", fmt.Errorf("phone_country_code %q is not a calling code", r.PhoneCountryCode)
		case region != "" && phonenumbers.GetCountryCodeForRegion(region) != phonenumbers.GetCountryCodeForRegion(byCode):
			return "", fmt.Errorf("phone_region %q and phone_country_code %q disagree: give one", r.PhoneRegion, r.PhoneCountryCode)
		case region == "":
			region = byCode
		}
	}
	return region, nil
}

// NormalizePhone rewrites a phone number to +<digits> where it can: it drops
// spaces, dots, dashes, slashes and parentheses, turns a 00 prefix into +,
// and puts countryCode in front of a national number (dropping one trunk
// 0). A value it cannot read is returned unchanged for validation to report.
func NormalizePhone(v, countryCode string) string {
	s := strings.TrimSpace(v)
	if s == "" {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')':
		default:
			return v
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+"):
	case strings.HasPrefix(d, "00"):
		d = "+" + d[2:]
	case countryCode != "":
		d = "+" + countryCode + strings.TrimPrefix(d, "0")
	}
	if !ValidPhone(d) {
		return v
	}
	return d
}
