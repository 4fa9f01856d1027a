package mapping

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzRules = MustCompileRules([]FieldRule{
	{ERP: "typ", Field: "type", Transform: []string{"trim", "upper", "map"}, Map: []ValuePair{{From: "F", To: "company"}, {From: "O", To: "individual"}}},
	{ERP: "nazwa", Field: "name", Transform: []string{"trim"}},
	{ERP: "tel", Field: "phone", Transform: []string{"phone"}, PhoneCountryCode: "48"},
	{ERP: "cert", Field: "farm.certificate_expiry", Transform: []string{"date"}, DateFormat: "02.01.2006"},
	{ERP: "limit", Field: "trade_credit_limit"},
	{ERP: "flag", Field: "tax_payer"},
	{ERP: "maile", Field: "invoice_emails"},
	{ERP: "lat", Field: "farm.latitude"},
	{ERP: "extra", Field: "additional.extra", Transform: []string{"default"}, Default: "-"},
})

// FuzzRulesAndValidate feeds arbitrary column values through the field
// rules and validation: nothing panics, every problem is a field error on a
// known field, and a customer that validates produces an ONe body and hash.
func FuzzRulesAndValidate(f *testing.F) {
	f.Add("F", "Agro", "022 123 45 67", "31.01.2024", "100", "tak", "a@b.pl;c@d.pl", "52.1", "x", "5213000001", "PL")
	f.Add("O", "", "+48", "2024-01-31", "1e400", "maybe", ";;", "NaN", "", "", "GR")
	f.Add("\xff", "ż\x00", "(((", "", "-1", "1", "@", "-91", "\u202e", "##", "pl")
	f.Fuzz(func(t *testing.T, typ, name, tel, cert, limit, flag, mails, lat, extra, tin, tinCode string) {
		c, errs := fuzzRules.Apply([]string{typ, name, tel, cert, limit, flag, mails, lat, extra})
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("empty field error %+v", e)
			}
		}
		c.ERPKey, c.TIN, c.TINCode = "K-1", tin, tinCode
		err := Validate(c)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("validation error of the wrong shape: %v", err)
			}
			for _, fe := range ve.Fields {
				if fe.Field == "" || !utf8.ValidString(fe.Field) {
					t.Fatalf("bad field name %q", fe.Field)
				}
			}
			return
		}
		if len(errs) > 0 {
			return
		}
		if _, err := HashONe(c); err != nil {
			t.Fatalf("valid customer did not hash: %v", err)
		}
		w := ToONeWrite(c)
		if w.ExternalID != "K-1" || w.Address == nil {
			t.Fatalf("write body %+v", w)
		}
	})
}

// FuzzCompileRules: arbitrary rule definitions either compile or fail with
// an error; compiled rules apply without panicking.
func FuzzCompileRules(f *testing.F) {
	f.Add("col", "name", "trim", "", "", "", "v")
	f.Add("col", "farm.certificate_expiry", "date", "", "2006", "", "2024")
	f.Add("c", "additional.x", "map", "a", "", "b", "a")
	f.Fuzz(func(t *testing.T, erp, field, tr, def, layout, to, value string) {
		r, err := CompileRules([]FieldRule{{ERP: erp, Field: field, Transform: []string{tr}, Default: def, DateFormat: layout,
			Map: []ValuePair{{From: value, To: to}}}})
		if err != nil {
			return
		}
		c, _ := r.Apply([]string{value})
		_ = r.Values(c)
	})
}

// FuzzExpressionRules compiles arbitrary expressions as rules and runs
// the ones that compile over arbitrary column values: nothing panics, a
// compile problem names its rule, and a runtime problem is a field error
// on the rule's field.
func FuzzExpressionRules(f *testing.F) {
	f.Add(`first_name + " " + last_name`, "Jan", "Kowalski")
	f.Add(`kind == "F" ? "individual" : "company"`, "F", "")
	f.Add(`nip matches "^[A-Z]{2}" ? nip[0:2] : ""`, "PL5260250995", "")
	f.Add(`split(a, ",")[3]`, "x,y", "")
	f.Add(`a matches b ? a : b`, "(", "[")
	f.Add(`repeat(a, 1000000000)`, "x", "")
	f.Add(`let x = a; x + $env.a`, "1", "2")
	f.Fuzz(func(t *testing.T, src, a, b string) {
		rules, err := CompileRules([]FieldRule{{Expr: src, Field: "name"}})
		if err != nil {
			if !strings.Contains(err.Error(), "rules[0]: ") {
				t.Fatalf("compile problem without its rule: %v", err)
			}
			return
		}
		vals := make([]string, len(rules.Columns()))
		for i := range vals {
			vals[i] = a
			if i%2 == 1 {
				vals[i] = b
			}
		}
		_, errs := rules.Apply(vals)
		for _, e := range errs {
			if e.Field != "name" || e.Message == "" {
				t.Fatalf("field error %+v", e)
			}
		}
	})
}
