package mapping

import (
	"slices"
	"strings"
	"testing"
)

// TestExpressionRules pins expression rules: concatenation, split and
// regex over one column into two fields, a conditional, transforms after
// an expression, and the columns they read joining Columns.
func TestExpressionRules(t *testing.T) {
	rules, err := CompileRules([]FieldRule{
		{Expr: `kind == "F" ? "individual" : "company"`, Field: "type"},
		{Expr: `first_name + " " + last_name`, Field: "name", Transform: []string{"trim"}},
		{Expr: `nip matches "^[A-Z]{2}" ? nip[0:2] : ""`, Field: "tin_code"},
		{Expr: `nip matches "^[A-Z]{2}" ? nip[2:] : nip`, Field: "tin"},
		{Expr: `trim(split(town, ",")[0])`, Field: "billing.city", Transform: []string{"upper"}},
		{ERP: "kraj", Field: "billing.country_iso2"},
		{Expr: `let p = phone_area + " " + phone_local; p`, Field: "phone", Transform: []string{"phone"}, PhoneRegion: "PL"},
		{ERP: "nip", Field: "vat_id"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"kraj", "nip", "kind", "first_name", "last_name", "town", "phone_area", "phone_local"}
	if got := rules.Columns(); !slices.Equal(got, wantCols) {
		t.Fatalf("columns %q, want %q", got, wantCols)
	}
	if got, want := rules.Writable(), []bool{true, true, false, false, false, false, false, false}; !slices.Equal(got, want) {
		t.Fatalf("writable %v, want %v", got, want)
	}
	cases := []struct {
		name string
		row  map[string]string
		want Customer
	}{
		{"company with an EU tax number", map[string]string{"kind": "C", "first_name": "Agro", "last_name": "Pol", "nip": "PL5260250995",
			"town": "Warszawa, Mazowieckie", "kraj": "GB", "phone_area": "01437", "phone_local": "770000"},
			Customer{Type: Company, Name: "Agro Pol", TINCode: "PL", TIN: "5260250995", VATID: "PL5260250995",
				Billing: Address{City: "WARSZAWA", CountryISO2: "GB"}, Phone: "+441437770000"}},
		{"individual without a prefix", map[string]string{"kind": "F", "first_name": "Jan", "last_name": "", "nip": "5260250995",
			"town": "Kraków", "phone_area": "22", "phone_local": "123 45 67"},
			Customer{Type: Individual, Name: "Jan", TIN: "5260250995", VATID: "5260250995", Billing: Address{City: "KRAKÓW"}, Phone: "+48221234567"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := make([]string, len(wantCols))
			for i, col := range wantCols {
				vals[i] = tc.row[col]
			}
			c, errs := rules.Apply(vals)
			if len(errs) != 0 {
				t.Fatalf("errors %+v", errs)
			}
			if !equalJSON(t, c, tc.want) {
				t.Fatalf("got %+v\nwant %+v", c, tc.want)
			}
		})
	}
}

// TestExpressionsAreOneWay: writing a customer back (Values) leaves the
// columns only expressions read empty and not writable, and the computed
// fields change nothing: the plain rules' columns get their values.
func TestExpressionsAreOneWay(t *testing.T) {
	rules := MustCompileRules([]FieldRule{
		{Expr: `first_name + " " + last_name`, Field: "name"},
		{ERP: "miasto", Field: "billing.city"},
		{Expr: `miasto + "!"`, Field: "billing.region"},
	})
	c := Customer{Name: "Renamed On The Platform", Billing: Address{City: "Kielce", Region: "changed"}}
	vals := rules.Values(c)
	cols, writable := rules.Columns(), rules.Writable()
	if !slices.Equal(cols, []string{"miasto", "first_name", "last_name"}) || !slices.Equal(writable, []bool{true, false, false}) {
		t.Fatalf("columns %q writable %v", cols, writable)
	}
	if !slices.Equal(vals, []string{"Kielce", "", ""}) {
		t.Fatalf("values %q: the computed name and region must not reach any column", vals)
	}
}

// TestExpressionCompileErrors: a problem names the rule and the
// expression's problem; an expression cannot reach anything but the
// row's columns and expr's builtins.
func TestExpressionCompileErrors(t *testing.T) {
	_, err := CompileRules([]FieldRule{
		{Expr: `first_name +`, Field: "name"},
		{Expr: `"constant"`, Field: "currency"},
		{Expr: `len(first_name)`, Field: "tin"},
		{Expr: `first_name`, ERP: "x", Field: "email"},
		{Field: "phone"},
		{Expr: `env()`, Field: "billing.city"},
		{Expr: `first_name == "x"`, Field: "billing.region"},
	})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`rules[0]: expr "first_name +": unexpected token`,
		`rules[1]: expr "\"constant\"": reads no column`,
		`rules[2]: expr "len(first_name)": expected string, but got int`,
		`rules[3]: has both erp and expr`,
		`rules[4]: erp column is empty (give erp or expr)`,
		`rules[5]: expr "env()"`,
		`rules[6]: expr "first_name == \"x\"": expected string, but got bool`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestExpressionRuntimeErrorIsAFieldError: an expression that fails on a
// row gives a field error naming its field; the rest of the row is filled.
func TestExpressionRuntimeErrorIsAFieldError(t *testing.T) {
	rules := MustCompileRules([]FieldRule{
		{Expr: `split(full, " ")[1]`, Field: "name"},
		{ERP: "miasto", Field: "billing.city"},
	})
	c, errs := rules.Apply([]string{"Kielce", "Jan"})
	if len(errs) != 1 || errs[0].Field != "name" || !strings.Contains(errs[0].Message, `expression "split(full, \" \")[1]"`) {
		t.Fatalf("errors %+v", errs)
	}
	if c.Billing.City != "Kielce" || c.Name != "" {
		t.Fatalf("customer %+v", c)
	}
}

func equalJSON(t *testing.T, a, b Customer) bool {
	t.Helper()
	a.Normalize()
	b.Normalize()
	return mustJSON(a) == mustJSON(b)
}
