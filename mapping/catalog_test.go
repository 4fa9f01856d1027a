package mapping

import (
	"slices"
	"testing"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// TestCatalogCoversEveryField holds the catalog to FieldNames: every
// canonical field has an entry with a type, and additional.<name> too.
func TestCatalogCoversEveryField(t *testing.T) {
	cat, err := Catalog(DefaultProbes())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]FieldInfo{}
	for _, fi := range cat {
		byName[fi.Field] = fi
	}
	for _, name := range append(FieldNames(), AdditionalFieldPattern) {
		fi, ok := byName[name]
		if !ok {
			t.Errorf("no catalog entry for %q", name)
			continue
		}
		if !slices.Contains([]string{"text", "bool", "number", "list", "date"}, fi.Type) {
			t.Errorf("%s: type %q", name, fi.Type)
		}
	}
	if len(cat) != len(FieldNames())+1 {
		t.Errorf("catalog has %d entries, want %d", len(cat), len(FieldNames())+1)
	}
	for _, c := range []struct {
		field    string
		one      string
		capi     string
		required []Platform
	}{
		{"name", "name", "organisation.name", []Platform{PlatformONe, PlatformCustomerAPI}},
		{"billing.city", "billingAddress.city", "organisation.location.address.city", []Platform{PlatformONe}},
		{"admin.email", "admin.email", "organisation.ownerContact.email", []Platform{PlatformCustomerAPI}},
		{"farm.holding_number", "", "farm.business.holdingNumber", []Platform{}},
		{"trade_credit_limit", "tradeCredit.assignedValue", "", []Platform{}},
		{"additional.<name>", "additionalFields.<name>.value", "", []Platform{}},
	} {
		fi := byName[c.field]
		if c.one != "" && !slices.Contains(fi.ONe, c.one) {
			t.Errorf("%s: ONe paths %v, want %s among them", c.field, fi.ONe, c.one)
		}
		if c.capi != "" && !slices.Contains(fi.CustomerAPI, c.capi) {
			t.Errorf("%s: Customer API paths %v, want %s among them", c.field, fi.CustomerAPI, c.capi)
		}
		if !slices.Equal(fi.RequiredBy, c.required) {
			t.Errorf("%s: required by %v, want %v", c.field, fi.RequiredBy, c.required)
		}
	}
	// ONe takes the address phone for the customer's and the customer's
	// name for the addressee's: phone stands in for billing.phone; name is
	// required anyway, so it stands in for nothing.
	if got := byName["phone"].RequiredUnless; len(got) != 1 || !slices.Equal(got[PlatformONe], []string{"billing.phone"}) {
		t.Errorf("phone: required unless %v, want one: [billing.phone]", got)
	}
	if got := byName["billing.name"].RequiredUnless; got != nil {
		t.Errorf("billing.name: required unless %v, want none", got)
	}
}

// TestCatalogRequiredFollowsTheValidator has a probe's validator require
// e-mail: the catalog says so without being told.
func TestCatalogRequiredFollowsTheValidator(t *testing.T) {
	strict := func(c Customer) error {
		if c.Email == "" {
			return &ValidationError{Fields: []apierr.FieldError{{Field: "email", Message: "is required"}}}
		}
		return ValidateONe(c)
	}
	cat, err := Catalog([]Probe{{Platform: PlatformONe, Sample: SampleONe(), Check: strict}})
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range cat {
		if fi.Field == "email" && !slices.Equal(fi.RequiredBy, []Platform{PlatformONe}) {
			t.Errorf("email: required by %v, want [one]", fi.RequiredBy)
		}
	}
}

// TestCatalogRefusedSample fails loudly when a probe's sample is refused.
func TestCatalogRefusedSample(t *testing.T) {
	bad := SampleONe()
	bad.Name = ""
	if _, err := Catalog([]Probe{{Platform: PlatformONe, Sample: bad, Check: ValidateONe}}); err == nil {
		t.Fatal("Catalog accepted a sample its validator refuses")
	}
}

// TestReceivesAgreesWithTheCatalog: the hand-kept lists of what each
// platform receives (which fields may keep a customer from it) agree with
// what the catalog finds by setting each field and looking at the bodies
// the mapping sends.
func TestReceivesAgreesWithTheCatalog(t *testing.T) {
	cat, err := Catalog(DefaultProbes())
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range cat {
		f := fi.Field
		if f == AdditionalFieldPattern {
			f = "additional"
		}
		if coreFields[f] {
			continue
		}
		if got, want := len(fi.ONe) > 0, oneFields[f]; got != want {
			t.Errorf("%s: ONe paths %v, but the receives list says %v", f, fi.ONe, want)
		}
		if got, want := len(fi.CustomerAPI) > 0, customerAPIFields[f] || customerAPIFarmOnly[f]; got != want {
			t.Errorf("%s: Customer API paths %v, but the receives list says %v", f, fi.CustomerAPI, want)
		}
	}
}
