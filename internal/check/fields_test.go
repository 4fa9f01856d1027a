package check

import (
	"slices"
	"testing"

	"github.com/erpconnector/erpconnector/mapping"
)

// TestFieldsAskThePlatforms: the catalog the fields command prints is
// probed through the platforms' Prepare, and every canonical field has an
// entry.
func TestFieldsAskThePlatforms(t *testing.T) {
	cat, err := Fields()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat) != len(mapping.FieldNames())+1 {
		t.Fatalf("%d entries for %d fields and additional.<name>", len(cat), len(mapping.FieldNames()))
	}
	req := map[string][]mapping.Platform{}
	for _, fi := range cat {
		req[fi.Field] = fi.RequiredBy
	}
	for field, want := range map[string][]mapping.Platform{
		"name":                 {mapping.PlatformONe, mapping.PlatformCustomerAPI},
		"billing.country_name": {}, // ONe takes the name from billing.country_iso2
		"billing.country_iso2": {mapping.PlatformCustomerAPI},
		"admin.name":           {mapping.PlatformCustomerAPI},
		"email":                {},
	} {
		if !slices.Equal(req[field], want) {
			t.Errorf("%s: required by %v, want %v", field, req[field], want)
		}
	}
	for _, fi := range cat {
		if fi.Field == "billing.country_name" && !slices.Equal(fi.RequiredUnless[mapping.PlatformONe], []string{"billing.country_iso2"}) {
			t.Errorf("billing.country_name: required unless %v, want ONe's unless billing.country_iso2", fi.RequiredUnless)
		}
	}
}
