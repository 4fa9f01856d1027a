package customerapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Phone is a phone number as the platform returns it: {callingCode, number}.
// It also decodes from a single string ("+44 7700 900123"), the form the
// platform accepts on input, so models tolerate either shape.
type Phone struct {
	// CallingCode is the country calling code with its plus sign, e.g. "+44".
	CallingCode string `json:"callingCode"`
	// Number is the national significant number, digits only.
	Number string `json:"number"`
}

// String renders the number in E.164 form ("+447700900123").
func (p Phone) String() string { return p.CallingCode + p.Number }

// UnmarshalJSON accepts null, a string, or {callingCode, number}.
func (p *Phone) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("phone: %w", err)
		}
		ph, err := ParsePhone(s, "")
		if err != nil {
			return err
		}
		*p = ph
		return nil
	}
	var raw struct {
		CallingCode json.RawMessage `json:"callingCode"`
		Number      json.RawMessage `json:"number"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("phone: want a string or {callingCode, number}: %w", err)
	}
	cc, err := stringOrNumber(raw.CallingCode)
	if err != nil {
		return fmt.Errorf("phone: callingCode: %w", err)
	}
	num, err := stringOrNumber(raw.Number)
	if err != nil {
		return fmt.Errorf("phone: number: %w", err)
	}
	cc = strings.TrimSpace(cc)
	if cc != "" && !strings.HasPrefix(cc, "+") {
		cc = "+" + cc
	}
	*p = Phone{CallingCode: cc, Number: strings.TrimSpace(num)}
	return nil
}

func stringOrNumber(b json.RawMessage) (string, error) {
	if len(b) == 0 || string(b) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("must be a string")
}

// callingCodes holds the one- and two-digit country calling codes; every
// other code is three digits (ITU-T E.164 codes are prefix-free).
var callingCodes = map[string]bool{
	"1": true, "7": true,
	"20": true, "27": true, "30": true, "31": true, "32": true, "33": true, "34": true, "36": true, "39": true,
	"40": true, "41": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true,
	"51": true, "52": true, "53": true, "54": true, "55": true, "56": true, "57": true, "58": true,
	"60": true, "61": true, "62": true, "63": true, "64": true, "65": true, "66": true,
	"81": true, "82": true, "84": true, "86": true,
	"90": true, "91": true, "92": true, "93": true, "94": true, "95": true, "98": true,
}

// countryCallingCode maps the ISO2 countries the platform accepts to calling codes.
var countryCallingCode = map[string]string{"GB": "+44", "US": "+1", "ZA": "+27", "FR": "+33"}

// ErrPhone reports a phone number that cannot be parsed.
var ErrPhone = errors.New("invalid phone number")

// ParsePhone splits a phone string into calling code and national number.
// International forms ("+44 7700 900123", "0044…") carry their own code; a
// national form ("07700 900123") takes the calling code of countryISO (an
// ISO2 code, "GB" when empty) and loses its trunk 0; "(0)" after an international code is
// dropped. Spaces, dashes, dots and brackets are ignored.
func ParsePhone(s, countryISO string) (Phone, error) {
	orig := s
	// "+44 (0)20 …" marks the trunk 0 that international dialling drops.
	s = strings.Replace(s, "(0)", "", 1)
	var digits strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return Phone{}, fmt.Errorf("%w: %q: unexpected character %q", ErrPhone, orig, r)
		}
	}
	d := digits.String()
	if !plus && strings.HasPrefix(d, "00") {
		plus, d = true, d[2:]
	}
	if plus {
		var cc string
		switch {
		case len(d) >= 1 && callingCodes[d[:1]]:
			cc = d[:1]
		case len(d) >= 2 && callingCodes[d[:2]]:
			cc = d[:2]
		case len(d) >= 3:
			cc = d[:3]
		default:
			return Phone{}, fmt.Errorf("%w: %q: too short", ErrPhone, orig)
		}
		national := d[len(cc):]
		if len(national) < 4 || len(national) > 14 {
			return Phone{}, fmt.Errorf("%w: %q: national number must have 4 to 14 digits", ErrPhone, orig)
		}
		return Phone{CallingCode: "+" + cc, Number: national}, nil
	}
	if countryISO == "" {
		countryISO = "GB"
	}
	cc, ok := countryCallingCode[strings.ToUpper(countryISO)]
	if !ok {
		return Phone{}, fmt.Errorf("%w: %q: no calling code for country %q; use +<code>", ErrPhone, orig, countryISO)
	}
	national := strings.TrimPrefix(d, "0")
	if len(national) < 4 || len(national) > 14 {
		return Phone{}, fmt.Errorf("%w: %q: national number must have 4 to 14 digits", ErrPhone, orig)
	}
	return Phone{CallingCode: cc, Number: national}, nil
}
