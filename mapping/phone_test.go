package mapping

import (
	"strings"
	"testing"
)

// TestPhoneTransform pins the phone transform: libphonenumber reads a
// national number in the row's own billing country (falling back to the
// rule's default region, given as phone_region or phone_country_code),
// writes E.164, and gives a field error naming the field, never a guess,
// for a number that is not valid there.
func TestPhoneTransform(t *testing.T) {
	cases := []struct {
		name            string
		rule            FieldRule // ERP "tel", Field "phone", Transform phone
		phone, country  string    // the row's phone and billing.country_iso2
		want, wantError string
	}{
		{name: "UK landline in a PL rule reads in the row's country", rule: FieldRule{PhoneRegion: "PL"},
			phone: "01437 770000", country: "GB", want: "+441437770000"},
		{name: "UK landline in a PL rule by calling code", rule: FieldRule{PhoneCountryCode: "48"},
			phone: "01437 770000", country: "gb", want: "+441437770000"},
		{name: "already +44", rule: FieldRule{PhoneRegion: "PL"}, phone: "+44 1437 770000", country: "PL", want: "+441437770000"},
		{name: "+44 with the (0) trunk marker", rule: FieldRule{}, phone: "+44 (0)1437 770000", country: "GB", want: "+441437770000"},
		{name: "0048 prefix", rule: FieldRule{PhoneRegion: "GB"}, phone: "0048 22 123 45 67", country: "", want: "+48221234567"},
		{name: "0048 prefix in a US row", rule: FieldRule{}, phone: "0048 22 123-45-67", country: "US", want: "+48221234567"},
		{name: "national PL number, default region", rule: FieldRule{PhoneRegion: "pl"}, phone: "601 234 567", want: "+48601234567"},
		{name: "national PL number, calling code", rule: FieldRule{PhoneCountryCode: "48"}, phone: "(22) 123 45 67", want: "+48221234567"},
		{name: "country not known to libphonenumber falls back to the rule's", rule: FieldRule{PhoneRegion: "PL"},
			phone: "22 123 45 67", country: "XX", want: "+48221234567"},
		{name: "empty stays empty", rule: FieldRule{PhoneRegion: "PL"}, phone: "  ", country: "PL", want: ""},
		{name: "UK landline in a PL row is not valid there", rule: FieldRule{PhoneRegion: "GB"},
			phone: "01437 770000", country: "PL", wantError: `"01437 770000" is not a valid phone number for PL`},
		{name: "too short", rule: FieldRule{PhoneRegion: "PL"}, phone: "123", country: "PL", wantError: `"123" is not a valid phone number for PL`},
		{name: "invalid +44 number", rule: FieldRule{}, phone: "+44 1437 77", country: "GB", wantError: `"+44 1437 77" is not a valid phone number for GB`},
		{name: "not a number", rule: FieldRule{PhoneRegion: "PL"}, phone: "call the office", country: "PL", wantError: `"call the office" is not a phone number`},
		{name: "no country anywhere", rule: FieldRule{}, phone: "601 234 567", wantError: `has no calling code and the row has no country`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			r.ERP, r.Field, r.Transform = "tel", "phone", []string{"trim", "phone"}
			rules, err := CompileRules([]FieldRule{{ERP: "land", Field: "billing.country_iso2", Transform: []string{"upper"}}, r})
			if err != nil {
				t.Fatal(err)
			}
			c, errs := rules.Apply([]string{tc.country, tc.phone})
			if tc.wantError != "" {
				if len(errs) != 1 || errs[0].Field != "phone" || !strings.Contains(errs[0].Message, `column "tel"`) ||
					!strings.Contains(errs[0].Message, tc.wantError) {
					t.Fatalf("errors %+v, want one on phone with %q", errs, tc.wantError)
				}
				if c.Phone != "" {
					t.Fatalf("a refused number must not be guessed: %q", c.Phone)
				}
				return
			}
			if len(errs) != 0 || c.Phone != tc.want {
				t.Fatalf("phone %q, errors %+v, want %q", c.Phone, errs, tc.want)
			}
			// E.164 reads back as itself.
			if again, errs := rules.Apply(rules.Values(c)); len(errs) != 0 || again.Phone != c.Phone {
				t.Fatalf("round trip %q %+v", again.Phone, errs)
			}
		})
	}
}

// TestPhoneRuleConfiguration: the default region is checked once, when
// the rules compile.
func TestPhoneRuleConfiguration(t *testing.T) {
	for _, tc := range []struct {
		rule FieldRule
		want string
	}{
		{FieldRule{PhoneRegion: "XX"}, `phone_region "XX" is not a region`},
		{FieldRule{PhoneCountryCode: "4x"}, `phone_country_code "4x" must be digits`},
		{FieldRule{PhoneCountryCode: "999"}, `phone_country_code "999" is not a calling code`},
		{FieldRule{PhoneRegion: "GB", PhoneCountryCode: "48"}, `disagree`},
	} {
		r := tc.rule
		r.ERP, r.Field, r.Transform = "tel", "phone", []string{"phone"}
		if _, err := CompileRules([]FieldRule{r}); err == nil || !strings.Contains(err.Error(), "rules[0]: "+tc.want) &&
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.rule, err, tc.want)
		}
	}
	if _, err := CompileRules([]FieldRule{{ERP: "t", Field: "phone", Transform: []string{"phone"}, PhoneRegion: "GB", PhoneCountryCode: "44"}}); err != nil {
		t.Errorf("agreeing region and calling code: %v", err)
	}
	for cc, want := range map[string]string{"48": "PL", "44": "GB", "1": "US", "+33": "FR"} {
		if got, ok := PhoneRegion(cc); !ok || got != want {
			t.Errorf("PhoneRegion(%q) = %q, %v, want %q", cc, got, ok, want)
		}
	}
}

// TestParsePhoneRemembersItsAnswers: a number read again is answered from
// the remembered answers, the same answer (E.164 form or error) as
// libphonenumber gives, for valid, national, invalid and unreadable numbers.
func TestParsePhoneRemembersItsAnswers(t *testing.T) {
	cases := []struct{ in, region string }{
		{"+44 1437 770000", ""}, {"01437 770000", "GB"}, {"01437 770000", "gb"}, {"0048 22 123 45 67", ""},
		{"+48 22 123 45 67", "PL"}, {"01437 770000", ""}, {"+44 1437", "GB"}, {"not a number", "GB"}, {"07700 900123", "XX"},
	}
	for _, tc := range cases {
		want, wantErr := parsePhone(strings.TrimSpace(tc.in), tc.region)
		for i := range 2 {
			got, err := ParsePhone(tc.in, tc.region)
			if got != want || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("ParsePhone(%q, %q) read %d = %q, %v; libphonenumber: %q, %v", tc.in, tc.region, i+1, got, err, want, wantErr)
			}
		}
		if !parsedPhones.Contains(tc.region + "\x00" + strings.TrimSpace(tc.in)) {
			t.Errorf("%q (%q) not remembered", tc.in, tc.region)
		}
	}
}
