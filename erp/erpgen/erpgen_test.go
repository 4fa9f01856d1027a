package erpgen

import (
	"errors"
	"reflect"
	"regexp"
	"testing"

	"github.com/erpconnector/erpconnector/mapping"
)

func TestDeterministic(t *testing.T) {
	a := New(Options{Seed: 7, InvalidEvery: 5}).Records(200)
	b := New(Options{Seed: 7, InvalidEvery: 5}).Records(200)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different records")
	}
	c := New(Options{Seed: 8, InvalidEvery: 5}).Records(200)
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same records")
	}
}

// TestInvalidRowsHaveTheirFieldErrorAndValidRowsNone maps every generated
// row through the demo rules and validation: each invalid row has exactly
// its known field error, every valid row (Polish and UK, companies,
// individuals and farms) passes.
func TestInvalidRowsHaveTheirFieldErrorAndValidRowsNone(t *testing.T) {
	rules := mapping.MustCompileRules(Rules())
	recs := New(Options{Seed: 1, InvalidEvery: 4}).Records(2000)
	cph := regexp.MustCompile(`^\d{2}/\d{3}/\d{4}$`)
	seen := map[string]int{}
	for _, r := range recs {
		c, ferrs := rules.Apply(r.Values)
		if len(ferrs) > 0 {
			t.Fatalf("%s: rule errors %v", r.Key, ferrs)
		}
		c.ERPKey = r.Key
		err := mapping.Validate(c)
		if r.Invalid == "" {
			if err != nil {
				t.Fatalf("%s: valid row rejected: %v", r.Key, err)
			}
			switch {
			case c.Billing.CountryISO2 == "GB" && c.Farm.HoldingNumber != "":
				seen["uk farm"]++
				if !cph.MatchString(c.Farm.HoldingNumber) || c.Farm.Latitude == nil || c.Farm.CertificateExpiry == "" {
					t.Fatalf("%s: farm data %+v", r.Key, c.Farm)
				}
			case c.Type == mapping.Company:
				seen["pl company"]++
			default:
				seen["pl individual"]++
			}
			continue
		}
		seen[string(r.Invalid)]++
		var ve *mapping.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != r.Invalid.Field() {
			t.Fatalf("%s (%s): want one error on %s, got %v", r.Key, r.Invalid, r.Invalid.Field(), err)
		}
		if !r.Flagged() {
			t.Fatalf("%s: invalid rows must be flagged so they reach validation", r.Key)
		}
	}
	for _, k := range append([]string{"uk farm", "pl company", "pl individual"}, kinds()...) {
		if seen[k] == 0 {
			t.Errorf("no %s generated: %v", k, seen)
		}
	}
}

func kinds() []string {
	out := make([]string, len(AllInvalid()))
	for i, k := range AllInvalid() {
		out[i] = string(k)
	}
	return out
}

func TestRulesCompileAndCoverColumns(t *testing.T) {
	r := mapping.MustCompileRules(Rules())
	if !reflect.DeepEqual(r.Columns(), Columns()) {
		t.Fatalf("rules and columns disagree:\n%v\n%v", r.Columns(), Columns())
	}
}
