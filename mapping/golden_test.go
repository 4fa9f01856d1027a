package mapping

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/erpconnector/erpconnector/oneapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./mapping -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(generic, "", "  ")
	return string(out)
}

// TestGoldenToONeMatchesVendorCreateExample builds the create body from a
// canonical customer made of the vendor's create example and checks that it
// is the vendor's own request (minus the deprecated segment fields, which
// the connector never sends).
func TestGoldenToONeMatchesVendorCreateExample(t *testing.T) {
	var c Customer
	readJSON(t, "create_example.customer.json", &c)
	if err := Validate(c); err != nil {
		t.Fatalf("vendor example must be valid: %v", err)
	}
	w := ToONeWrite(c)
	golden(t, "create_example.one_write.golden.json", w)

	var vendor oneapi.ClientWrite
	readJSON(t, "vendor_create_request.json", &vendor)
	vendor.Segment, vendor.SegmentID = "", ""
	if got, want := canonicalJSON(t, w), canonicalJSON(t, vendor); got != want {
		t.Errorf("create body differs from the vendor example:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

func TestGoldenONePartialBodies(t *testing.T) {
	var c Customer
	readJSON(t, "create_example.customer.json", &c)
	// The address id comes from the vendor's create response.
	golden(t, "create_example.one_basic.golden.json", ToONeBasic(c, "5fa415d9-9412-4faa-b924-3f586471a2b4"))
	golden(t, "create_example.one_advanced.golden.json", ToONeAdvanced(c))
	golden(t, "create_example.one_finance.golden.json", ToONeFinance(c))
	golden(t, "create_example.one_additional.golden.json", ToONeAdditional(c))

	// The finance body is the vendor's finance-data example but for the
	// term payment id, which the create example sets to 14.
	fin := ToONeFinance(c)
	if fin.AccountBlockadeID != "6bd5e564-2ef9-4cdf-909d-938c6fa40012" || fin.TradeCredit == nil || fin.TradeCredit.AssignedValue != 10000 {
		t.Errorf("finance body %+v", fin)
	}
	adv := ToONeAdvanced(c)
	if adv.Segments == nil || adv.Segments.MainSegmentID != "ab9e32db-48a1-47b3-9fda-975b9ed8a9d6" || adv.AccountManagerID != "4e37e1e" {
		t.Errorf("advanced body %+v", adv)
	}
}

func TestGoldenUKFarmIndividual(t *testing.T) {
	var c Customer
	readJSON(t, "uk_farm_individual.customer.json", &c)
	if err := Validate(c); err != nil {
		t.Fatalf("example must be valid: %v", err)
	}
	w := ToONeWrite(c)
	golden(t, "uk_farm_individual.one_write.golden.json", w)
	if w.CustomerType != oneapi.CustomerIndividual || w.Address.Street != "Low Lane, Hilltop" || w.Address.ExternalID != "UK-000042-billing" {
		t.Errorf("write body %+v", w)
	}
	if f := ToONeFinance(c); f.TradeCredit != nil {
		t.Errorf("trade credit must not be sent for individuals: %+v", f.TradeCredit)
	}
}

func TestGoldenFromONeVendorGetClient(t *testing.T) {
	for _, name := range []string{"vendor_get_client", "vendor_list_item"} {
		t.Run(name, func(t *testing.T) {
			var cl oneapi.Client
			readJSON(t, name+".json", &cl)
			c := FromONe(cl)
			golden(t, name+".customer.golden.json", c)
			if c.PlatformIDs.ONe != cl.ID || c.ERPKey != cl.ExternalID {
				t.Errorf("ids: %+v", c.PlatformIDs)
			}
		})
	}
	var cl oneapi.Client
	readJSON(t, "vendor_get_client.json", &cl)
	c := FromONe(cl)
	if c.Admin.Email != "adminv@b2b.one" || c.InvoiceEmail != "mailfvvc@b2b.one" || c.Billing.Street != "Międzyleska 4" ||
		c.SegmentID != "ab9e32db-48a1-47b3-9fda-975b9ed8a9d6" || c.Currency != "PLN" || c.TINCode != "PL" {
		t.Errorf("read model mapped wrongly: %+v", c)
	}
	if len(c.AdditionalFields) != 1 || c.AdditionalFields[0].Value != "999999999" {
		t.Errorf("additional fields: %+v", c.AdditionalFields)
	}
}
