package mapping

import (
	"strings"
	"testing"
)

func TestCompileRulesErrorsNameTheRule(t *testing.T) {
	_, err := CompileRules([]FieldRule{
		{ERP: "nazwa", Field: "name"},
		{ERP: "x", Field: "nmae"},
		{ERP: "y", Field: "city", Transform: []string{"trim", "shout"}},
		{ERP: "", Field: "phone"},
		{ERP: "z", Field: "name"},
		{ERP: "w", Field: "currency", Transform: []string{"map"}},
		{ERP: "d", Field: "farm.certificate_expiry", Transform: []string{"date"}},
		{ERP: "a", Field: "additional."},
	})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`rules[1]: unknown field "nmae"`, `rules[2]: unknown transform "shout"`, `rules[3]: erp column is empty`,
		`rules[4]: field "name" is already set by rules[0]`, `rules[5]: transform map needs`, `rules[6]: transform date needs`,
		`rules[7]: field "additional." has no additional field name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestRulesTransforms(t *testing.T) {
	rules := MustCompileRules([]FieldRule{
		{ERP: "typ", Field: "type", Transform: []string{"trim", "upper", "map"}, Map: []ValuePair{{From: "F", To: "company"}, {From: "O", To: "individual"}}},
		{ERP: "nazwa", Field: "name", Transform: []string{"trim"}},
		{ERP: "waluta", Field: "currency", Transform: []string{"trim", "upper", "default"}, Default: "PLN"},
		{ERP: "mail", Field: "email", Transform: []string{"trim", "lower"}},
		{ERP: "tel", Field: "phone", Transform: []string{"phone"}, PhoneCountryCode: "48"},
		{ERP: "tel_uk", Field: "admin.phone", Transform: []string{"phone"}, PhoneCountryCode: "44"},
		{ERP: "cert", Field: "farm.certificate_expiry", Transform: []string{"date"}, DateFormat: "02.01.2006"},
		{ERP: "limit", Field: "trade_credit_limit"},
		{ERP: "vat", Field: "tax_payer"},
		{ERP: "maile", Field: "invoice_emails"},
		{ERP: "regon", Field: "additional.regon"},
		{ERP: "lat", Field: "farm.latitude"},
	})
	c, errs := rules.Apply([]string{" f ", "  Agro  ", "", " Biuro@Agro.PL ", "22 123-45-67", "01439 770000", "31.01.2024", "10000,50", "tak", "a@b.pl; c@d.pl", "999999999", "north"})
	if len(errs) != 1 || errs[0].Field != "farm.latitude" || !strings.Contains(errs[0].Message, `column "lat"`) {
		t.Fatalf("errs %+v", errs)
	}
	if c.Type != Company || c.Name != "Agro" || c.Currency != "PLN" || c.Email != "biuro@agro.pl" ||
		c.Phone != "+48221234567" || c.Admin.Phone != "+441439770000" || c.Farm.CertificateExpiry != "2024-01-31" ||
		c.TradeCreditLimit == nil || *c.TradeCreditLimit != 10000.5 || !c.TaxPayer ||
		c.InvoiceEmail != "a@b.pl" || len(c.AdditionalInvoiceEmails) != 1 || c.AdditionalFields[0].Value != "999999999" {
		t.Fatalf("applied %+v", c)
	}
	// Back to ERP values: the map and the date run backwards.
	vals := rules.Values(c)
	if vals[0] != "F" || vals[6] != "31.01.2024" || vals[9] != "a@b.pl;c@d.pl" {
		t.Fatalf("values %q", vals)
	}
	if _, errs := rules.Apply([]string{"", "", "", "", "", "", "2024-13-45"}); len(errs) != 1 || errs[0].Field != "farm.certificate_expiry" {
		t.Fatalf("bad date: %+v", errs)
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct{ in, cc, want string }{
		{"111 111 111", "48", "+48111111111"},
		{"0048 111-111-111", "", "+48111111111"},
		{"+44 (0)1439 770000", "", "+4401439770000"},
		{"07700 900123", "44", "+447700900123"},
		{"call me", "48", "call me"},
		{"12", "", "12"},
		{"", "48", ""},
	} {
		if got := NormalizePhone(tc.in, tc.cc); got != tc.want {
			t.Errorf("NormalizePhone(%q,%q)=%q want %q", tc.in, tc.cc, got, tc.want)
		}
	}
}

// TestUnknownNamesSuggestTheNearest: a mistyped field or transform names
// the nearest known one; a name far from every known one suggests nothing.
func TestUnknownNamesSuggestTheNearest(t *testing.T) {
	cases := []struct {
		rule FieldRule
		want string
	}{
		{FieldRule{ERP: "x", Field: "nmae"}, `unknown field "nmae" (did you mean "name"?)`},
		{FieldRule{ERP: "x", Field: "billing.citi"}, `unknown field "billing.citi" (did you mean "billing.city"?)`},
		{FieldRule{ERP: "x", Field: "admin.emial"}, `unknown field "admin.emial" (did you mean "admin.email"?)`},
		{FieldRule{ERP: "x", Field: "name", Transform: []string{"uper"}}, `unknown transform "uper" (did you mean "upper"?)`},
		{FieldRule{ERP: "x", Field: "name", Transform: []string{"Trimm"}}, `unknown transform "Trimm" (did you mean "trim"?)`},
	}
	for _, tc := range cases {
		_, err := CompileRules([]FieldRule{tc.rule})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.rule, err, tc.want)
		}
	}
	for _, r := range []FieldRule{
		{ERP: "x", Field: "colour_of_the_barn"},
		{ERP: "x", Field: "name", Transform: []string{"shout"}},
	} {
		_, err := CompileRules([]FieldRule{r})
		if err == nil || strings.Contains(err.Error(), "did you mean") {
			t.Errorf("%+v: want no suggestion, got %v", r, err)
		}
	}
}
