package mapping

import "testing"

func TestCountryName(t *testing.T) {
	for _, tc := range []struct {
		a    Address
		want string
	}{
		{Address{CountryISO2: "PL"}, "Poland"},
		{Address{CountryISO2: "GB"}, "United Kingdom"},
		{Address{CountryISO2: "PL", CountryName: "Polska"}, "Polska"}, // the ERP's own name wins
		{Address{CountryISO2: "XX"}, ""},
		{Address{}, ""},
	} {
		if got := CountryName(tc.a); got != tc.want {
			t.Errorf("CountryName(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
	// ONe takes the name from the code when the ERP has no name.
	c := Customer{ERPKey: "K1", Billing: Address{CountryISO2: "DE"}}
	if got := ToONeWrite(c).Address.Country; got != "Germany" {
		t.Errorf("ONe address country %q", got)
	}
}
