package erpgen

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/internal/apierr"
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
// row through the demo rules and each platform's validation: each invalid
// row has exactly its known field error from the platforms that refuse its
// kind (and is flagged for one of them), none from the others' rules on
// top of the core check; every valid row (Polish and UK, companies,
// individuals and farms) passes.
func TestInvalidRowsHaveTheirFieldErrorAndValidRowsNone(t *testing.T) {
	rules := mapping.MustCompileRules(Rules())
	recs := New(Options{Seed: 1, InvalidEvery: 4}).Records(2000)
	cph := regexp.MustCompile(`^\d{2}/\d{3}/\d{4}$`)
	seen := map[string]int{}
	validate := map[mapping.Platform]func(mapping.Customer) error{
		mapping.PlatformONe: mapping.ValidateONe, mapping.PlatformCustomerAPI: mapping.Validate,
	}
	for _, r := range recs {
		c, ferrs := rules.Apply(r.Values)
		if len(ferrs) > 0 && (r.Invalid != BadPhone || len(ferrs) != 1 || ferrs[0].Field != "phone") {
			t.Fatalf("%s: rule errors %v", r.Key, ferrs)
		}
		c.ERPKey = r.Key
		if err := mapping.ValidateCore(c); err != nil {
			t.Fatalf("%s: the core check refused the row: %v", r.Key, err)
		}
		if r.Invalid == "" {
			if err := mapping.Validate(c); err != nil {
				t.Fatalf("%s: valid row rejected: %v", r.Key, err)
			}
			if err := mapping.ValidateONe(c); err != nil {
				t.Fatalf("%s: valid row rejected by ONe's validation: %v", r.Key, err)
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
		for p, v := range validate {
			err := refusal(p, c, ferrs, v)
			var ve *mapping.ValidationError
			switch {
			case p == mapping.PlatformCustomerAPI:
				// The demo rows are not all Customer API organisations
				// (Polish, no owner): its own test is below; here the
				// format rules of the fields it receives.
				if errors.As(err, &ve) {
					ve = ve.For(p, c)
				}
				if r.InvalidFor(p) && (ve == nil || len(ve.Fields) != 1 || ve.Fields[0].Field != r.Invalid.Field()) &&
					(r.Invalid != BadPhone || mapping.HasFarm(c)) {
					t.Fatalf("%s (%s): want one error on %s for %s, got %v", r.Key, r.Invalid, r.Invalid.Field(), p, ve)
				}
				if !r.InvalidFor(p) && ve != nil {
					t.Fatalf("%s (%s): %s does not receive %s, got %v", r.Key, r.Invalid, p, r.Invalid.Field(), ve)
				}
			case r.InvalidFor(p):
				if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != r.Invalid.Field() {
					t.Fatalf("%s (%s): want one error on %s for %s, got %v", r.Key, r.Invalid, r.Invalid.Field(), p, err)
				}
			case err != nil:
				t.Fatalf("%s (%s): %s does not receive %s, got %v", r.Key, r.Invalid, p, r.Invalid.Field(), err)
			}
		}
		if !(r.SyncONe && r.InvalidFor(mapping.PlatformONe)) && !(r.SyncCustomerAPI && r.InvalidFor(mapping.PlatformCustomerAPI)) {
			t.Fatalf("%s (%s): invalid rows must be flagged for a platform that refuses them (%+v)", r.Key, r.Invalid, r)
		}
	}
	for _, k := range append([]string{"uk farm", "pl company", "pl individual"}, kinds()...) {
		if seen[k] == 0 {
			t.Errorf("no %s generated: %v", k, seen)
		}
	}
}

// TestEveryKindIsRefusedByAPlatform: each kind is refused by at least one
// platform, and InvalidFor lists exactly the kinds each refuses.
func TestEveryKindIsRefusedByAPlatform(t *testing.T) {
	for _, k := range AllInvalid() {
		if !k.RefusedBy(mapping.PlatformONe) && !k.RefusedBy(mapping.PlatformCustomerAPI) {
			t.Errorf("%s is refused by no platform", k)
		}
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			if got := k.RefusedBy(p); got != mapping.Receives(p, mapping.Customer{Type: mapping.Company, Farm: mapping.Farm{HoldingNumber: "1"}}, k.Field()) {
				t.Errorf("%s: RefusedBy(%s) = %v, but mapping.Receives says otherwise", k, p, got)
			}
		}
	}
	if n := len(InvalidFor(mapping.PlatformONe)) + len(InvalidFor(mapping.PlatformCustomerAPI)); n < len(AllInvalid()) {
		t.Errorf("InvalidFor lists %d kinds over both platforms", n)
	}
}

// refusal is what the engine finds for c on platform p: the rules' field
// errors p receives (the adapter's item error), else p's validation.
func refusal(p mapping.Platform, c mapping.Customer, ferrs []apierr.FieldError, validate func(mapping.Customer) error) error {
	if ve := (&mapping.ValidationError{Key: c.ERPKey, Fields: ferrs}).For(p, c); ve != nil {
		return ve
	}
	return validate(c)
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

// TestUKFarmsOnlyUniqueOnPlatformSuitTheCustomerAPI checks the rows the
// Customer API soaks seed: every valid row is a farm the Customer API's
// validation accepts, every invalid row is rejected on its field, and no
// two rows share an owner e-mail or a name and company number (the
// platform refuses both as duplicates), far beyond where the default mix
// repeats them.
func TestUKFarmsOnlyUniqueOnPlatformSuitTheCustomerAPI(t *testing.T) {
	rules := mapping.MustCompileRules(Rules())
	const n = 20000
	capiKinds := InvalidFor(mapping.PlatformCustomerAPI)
	recs := New(Options{Seed: 3, InvalidEvery: 50, UKFarmsOnly: true, UniqueOnPlatform: true, Kinds: capiKinds}).Records(n)
	emails, identities := map[string]string{}, map[string]string{}
	companies, invalid := 0, map[Invalid]int{}
	for _, r := range recs {
		c, ferrs := rules.Apply(r.Values)
		if len(ferrs) > 0 && r.Invalid != BadPhone {
			t.Fatalf("%s: rule errors %v", r.Key, ferrs)
		}
		c.ERPKey = r.Key
		if prev, dup := emails[c.Admin.Email]; dup {
			t.Fatalf("%s and %s share the owner e-mail %q", prev, r.Key, c.Admin.Email)
		}
		emails[c.Admin.Email] = r.Key
		id := strings.ToLower(strings.TrimSpace(c.Name)) + "|" + strings.ToLower(strings.TrimSpace(c.CompanyNumber))
		if prev, dup := identities[id]; dup {
			t.Fatalf("%s and %s share the name and company number %q", prev, r.Key, id)
		}
		identities[id] = r.Key
		err := refusal(mapping.PlatformCustomerAPI, c, ferrs, mapping.ValidateCustomerAPI)
		if r.Invalid == "" {
			if err != nil {
				t.Fatalf("%s: valid row rejected by the Customer API's validation: %v", r.Key, err)
			}
			if c.Billing.CountryISO2 != "GB" || !mapping.HasFarm(c) {
				t.Fatalf("%s: not a UK farm: %+v", r.Key, c)
			}
			if c.Type == mapping.Company {
				companies++
			}
			continue
		}
		invalid[r.Invalid]++
		var ve *mapping.ValidationError
		if !errors.As(err, &ve) || !ve.Has(r.Invalid.Field()) {
			t.Fatalf("%s (%s): want an error on %s from the Customer API's validation, got %v", r.Key, r.Invalid, r.Invalid.Field(), err)
		}
	}
	if len(invalid) != len(capiKinds) || invalid[BadISO2] != n/50/len(capiKinds) {
		t.Fatalf("invalid rows by kind: %v", invalid)
	}
	if valid := n - n/50; companies < valid*2/3 || companies > valid*5/6 {
		t.Fatalf("%d companies among %d valid farms, want about three in four", companies, valid)
	}
}

// TestUniqueOnPlatformChangesOnlyTheDuplicates: the option draws nothing
// from the seeded source, so the rows are those of the default generator
// but for the owner's e-mail and the names of repeated pairs.
func TestUniqueOnPlatformChangesOnlyTheDuplicates(t *testing.T) {
	plain := New(Options{Seed: 9, InvalidEvery: 7}).Records(5000)
	uniq := New(Options{Seed: 9, InvalidEvery: 7, UniqueOnPlatform: true}).Records(5000)
	renamed := 0
	for i := range plain {
		a, b := plain[i], uniq[i]
		if a.Key != b.Key || a.Invalid != b.Invalid || a.SyncONe != b.SyncONe || a.SyncCustomerAPI != b.SyncCustomerAPI {
			t.Fatalf("%s: row differs beyond the unique columns:\n%+v\n%+v", a.Key, a, b)
		}
		for j, col := range Columns() {
			switch {
			case a.Values[j] == b.Values[j]:
			case col == "admin_email":
				if b.Values[j] != strings.ToLower(a.Key)+"@owners.example.co.uk" {
					t.Fatalf("%s: admin_email %q", a.Key, b.Values[j])
				}
			case col == "name" || col == "admin_name":
				if b.Values[j] != a.Values[j]+" "+a.Key {
					t.Fatalf("%s: %s %q, want %q with the key appended", a.Key, col, b.Values[j], a.Values[j])
				}
				if col == "name" {
					renamed++
				}
			default:
				t.Fatalf("%s: column %s changed from %q to %q", a.Key, col, a.Values[j], b.Values[j])
			}
		}
	}
	if renamed == 0 {
		t.Fatal("no duplicate name was renamed: the test shows nothing")
	}
}
