package customerapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/erpconnector/erpconnector/customerapi"
)

func FuzzPhoneDecode(f *testing.F) {
	for _, s := range []string{`"+44 7700 900123"`, `"07700900123"`, `"0044 20 7946 0018"`, `{"callingCode":"+44","number":"7700900123"}`,
		`{"callingCode":44,"number":7700900123}`, `null`, `""`, `"+1 (555) 010-9999"`, `{"callingCode":null}`, `[1]`, `"+"`, `"abc"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p customerapi.Phone
		if err := json.Unmarshal(b, &p); err != nil {
			return
		}
		// Whatever decoded must survive its own output shape unchanged.
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q customerapi.Phone
		if err := json.Unmarshal(out, &q); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		if q != p {
			t.Fatalf("round trip %+v → %s → %+v", p, out, q)
		}
		// A phone decoded from a string is E.164: "+", a code and digits only.
		var s string
		if json.Unmarshal(b, &s) == nil && s != "" {
			if !strings.HasPrefix(p.CallingCode, "+") || strings.IndexFunc(p.CallingCode[1:]+p.Number, func(r rune) bool { return !unicode.IsDigit(r) }) >= 0 {
				t.Fatalf("%q parsed to %+v", s, p)
			}
			again, err := customerapi.ParsePhone(p.String(), "")
			if err != nil || again != p {
				t.Fatalf("E.164 form %q does not parse back: %+v, %v", p.String(), again, err)
			}
		}
	})
}

func FuzzDecodeOrganisation(f *testing.F) {
	full, _ := json.Marshal(customerapi.Organisation{ID: "o1", Name: "Farm", Company: &customerapi.Company{ID: "c1", HoldingNumber: "12/345/6789"},
		OwnerContact: &customerapi.OwnerContact{Email: "a@b.test", Phone: &customerapi.Phone{CallingCode: "+44", Number: "7700900123"}}})
	flat, _ := json.Marshal(customerapi.OrganisationRecord{ID: "o2", Name: "Farm", CompanyID: "c2", CompanyHoldingNumber: "12/345/6789",
		AdvancePay: &customerapi.AdvancePay{SortCode: "12-34-56"}, OwnerContact: &customerapi.OwnerContact{Phone: &customerapi.Phone{CallingCode: "+44", Number: "1"}}})
	f.Add(full)
	f.Add(flat)
	f.Add([]byte(`{"id":"x","companyId":"c","ownerContact":{"phone":"+44 7700 900123"}}`))
	f.Add([]byte(`{"id":"x","company":{"id":"c"},"bio":"b"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"vetted":"yes"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := customerapi.DecodeOrganisation(b)
		if err != nil {
			return
		}
		var keys map[string]json.RawMessage
		if json.Unmarshal(b, &keys) != nil {
			t.Fatalf("decoded %q that is not a JSON object", b)
		}
		// The same key matching as encoding/json (case-insensitive, last wins).
		var probe struct {
			ID        string          `json:"id"`
			CompanyID string          `json:"companyId"`
			Company   json.RawMessage `json:"company"`
		}
		if json.Unmarshal(b, &probe) != nil {
			return
		}
		if o.ID != probe.ID {
			t.Fatalf("id %q decoded as %q", probe.ID, o.ID)
		}
		// The flattened company id lands in Company.ID.
		if _, flat := keys["companyId"]; flat && keys["company"] == nil && probe.Company == nil && probe.CompanyID != "" {
			if o.Company == nil || o.Company.ID != probe.CompanyID {
				t.Fatalf("companyId %q lost: %+v", probe.CompanyID, o.Company)
			}
		}
		if _, err := json.Marshal(o); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParsePhone(t *testing.T) {
	for _, tc := range []struct {
		in, country, code, number string
		bad                       bool
	}{
		{"+44 7700 900123", "", "+44", "7700900123", false},
		{"07700 900123", "", "+44", "7700900123", false},
		{"0044 (0)20 7946 0018", "", "+44", "2079460018", false},
		{"+1 555-010-9999", "", "+1", "5550109999", false},
		{"082 123 4567", "ZA", "+27", "821234567", false},
		{"+353 1 234 5678", "", "+353", "12345678", false},
		{"01 23 45 67 89", "FR", "+33", "123456789", false},
		{"0123", "DE", "", "", true},
		{"+44", "", "", "", true},
		{"call me", "", "", "", true},
	} {
		p, err := customerapi.ParsePhone(tc.in, tc.country)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: want error, got %+v", tc.in, p)
			}
			continue
		}
		if err != nil || p.CallingCode != tc.code || p.Number != tc.number {
			t.Errorf("%q: got %+v, %v; want %s %s", tc.in, p, err, tc.code, tc.number)
		}
	}
}

func TestBothOrganisationShapes(t *testing.T) {
	full := `{"id":"o1","name":"Farm","company":{"id":"c1","holdingNumber":"12/345/6789","number":"01"},"ownerContact":{"phone":{"callingCode":"+44","number":"7700900123"}}}`
	flat := `{"id":"o1","name":"Farm","companyId":"c1","companyHoldingNumber":"12/345/6789","ownerContact":{"phone":"+44 7700 900123"},"advancePay":{"sortCode":"12-34-56"}}`
	a, err := customerapi.DecodeOrganisation([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	b, err := customerapi.DecodeOrganisation([]byte(flat))
	if err != nil {
		t.Fatal(err)
	}
	if a.Company.ID != b.Company.ID || a.Company.HoldingNumber != b.Company.HoldingNumber || *a.OwnerContact.Phone != *b.OwnerContact.Phone {
		t.Fatalf("shapes differ:\n%+v\n%+v", a.Company, b.Company)
	}
	if _, err := customerapi.DecodeOrganisation([]byte(`{"id":5}`)); err == nil {
		t.Fatal("want a type error")
	}
}
