package config

import (
	"strings"
	"testing"
)

// TestRuleKeysExprAndPhoneRegion: the loader accepts expression rules and
// the phone transform's default region, and reports a rule whose
// expression does not compile at the rule's path, with the expression's
// problem.
func TestRuleKeysExprAndPhoneRegion(t *testing.T) {
	good := strings.Replace(minimal, `rules: [{erp: nm, field: name}]`, `rules:
      - {expr: 'first_name + " " + last_name', field: name}
      - {expr: 'kind == "F" ? "individual" : "company"', field: type}
      - {erp: tel, field: phone, transform: [phone], phone_region: PL}
      - {erp: tel2, field: admin.phone, transform: [phone], phone_country_code: "44"}`, 1)
	f, err := Load(writeFile(t, good), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	rules := f.ERP.SQL.Config.Rules
	if len(rules) != 4 || rules[0].Expr != `first_name + " " + last_name` || rules[2].PhoneRegion != "PL" {
		t.Fatalf("rules %+v", rules)
	}

	bad := strings.Replace(minimal, `rules: [{erp: nm, field: name}]`, `rules:
      - {erp: nm, field: name}
      - {expr: 'first_name +', field: internal_nickname}
      - {erp: tel, field: phone, transform: [phone], phone_region: XX}`, 1)
	f, err = Load(writeFile(t, bad), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, f.Validate())
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	text := f.Validate().Error()
	if !strings.Contains(strings.Join(got, " "), "erp.sql.rules[1]") || !strings.Contains(strings.Join(got, " "), "erp.sql.rules[2]") ||
		!strings.Contains(text, `expr "first_name +"`) || !strings.Contains(text, `phone_region "XX"`) {
		t.Fatalf("problems %q:\n%s", got, text)
	}
}
