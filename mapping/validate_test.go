package mapping

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

func validCompany() Customer {
	return Customer{
		ERPKey: "PL-1", Type: Company, Name: "Agro-Pol Sp. z o.o.", TIN: "5213000001", TINCode: "PL",
		Billing:  Address{Street: "ul. Polna 1", Postcode: "00-001", City: "Warszawa", CountryName: "Polska", CountryISO2: "PL"},
		Phone:    "+48 22 123 45 67",
		Email:    "biuro@agropol.pl",
		Currency: "PLN",
	}
}

func TestValidateEachRule(t *testing.T) {
	lat, badLat := 10.0, 95.0
	cases := []struct {
		name  string
		edit  func(*Customer)
		field string
	}{
		{"missing key", func(c *Customer) { c.ERPKey = "" }, "key"},
		{"bad type", func(c *Customer) { c.Type = "person" }, "type"},
		{"missing name", func(c *Customer) { c.Name = "" }, "name"},
		{"company without tin", func(c *Customer) { c.TIN = "" }, "tin"},
		{"tin with symbols", func(c *Customer) { c.TIN = "52#13" }, "tin"},
		{"bad tin code", func(c *Customer) { c.TINCode = "GR" }, "tin_code"},
		{"bad currency", func(c *Customer) { c.Currency = "ZLT" }, "currency"},
		{"lower-case currency", func(c *Customer) { c.Currency = "pln" }, "currency"},
		{"bad email", func(c *Customer) { c.Email = "biuro@@agropol" }, "email"},
		{"display-name email", func(c *Customer) { c.Email = "Biuro <biuro@agropol.pl>" }, "email"},
		{"bad invoice email", func(c *Customer) { c.AdditionalInvoiceEmails = []string{"ok@a.pl", "nope"} }, "additional_invoice_emails[1]"},
		{"bad admin email", func(c *Customer) { c.Admin.Email = "x" }, "admin.email"},
		{"bad iso2", func(c *Customer) { c.Billing.CountryISO2 = "UK" }, "billing.country_iso2"},
		{"iso3 in iso2", func(c *Customer) { c.Billing.CountryISO2 = "POL" }, "billing.country_iso2"},
		{"long name", func(c *Customer) { c.Name = strings.Repeat("ą", 256) }, "name"},
		{"invalid utf-8", func(c *Customer) { c.Billing.City = "Krak\xf3w" }, "billing.city"},
		{"control char", func(c *Customer) { c.Billing.Street = "ul.\x00Polna" }, "billing.street"},
		{"bad phone letters", func(c *Customer) { c.Phone = "call me" }, "phone"},
		{"bad phone short", func(c *Customer) { c.Phone = "123" }, "phone"},
		{"bad phone plus inside", func(c *Customer) { c.Phone = "48+123456789" }, "phone"},
		{"bad tax type", func(c *Customer) { c.TaxType = "VAT" }, "tax_type"},
		{"bad status", func(c *Customer) { c.ClientStatus = "VIP" }, "client_status"},
		{"bad account type", func(c *Customer) { c.AccountTypes = []string{"CLIENT", "BUYER"} }, "account_types[1]"},
		{"negative credit", func(c *Customer) { v := -1.0; c.TradeCreditLimit = &v }, "trade_credit_limit"},
		{"gb holding not cph", func(c *Customer) { c.Billing.CountryISO2 = "GB"; c.Farm.HoldingNumber = "1111111" }, "farm.holding_number"},
		{"bad scheme", func(c *Customer) { c.Farm.AssuranceScheme = "LEAF" }, "farm.assurance_scheme"},
		{"bad w3w", func(c *Customer) { c.Farm.What3Words = "filled.count" }, "farm.what3words"},
		{"lat without lon", func(c *Customer) { c.Farm.Latitude = &lat }, "farm.coordinates"},
		{"lat out of range", func(c *Customer) { c.Farm.Latitude, c.Farm.Longitude = &badLat, &lat }, "farm.latitude"},
		{"bad cert status", func(c *Customer) { c.Farm.CertificateStatus = "Pending" }, "farm.certificate_status"},
		{"bad cert expiry", func(c *Customer) { c.Farm.CertificateExpiry = "31.01.2024" }, "farm.certificate_expiry"},
		{"bad additional value", func(c *Customer) { c.AdditionalFields = []AdditionalField{{Name: "x", Value: []int{1}}} }, "additional.x"},
	}
	if err := Validate(validCompany()); err != nil {
		t.Fatalf("base customer must be valid: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validCompany()
			tc.edit(&c)
			err := Validate(c)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field {
				t.Fatalf("want exactly one error on %s, got %+v", tc.field, ve.Fields)
			}
			if apierr.Classify(err) != apierr.Permanent {
				t.Fatalf("class %v", apierr.Classify(err))
			}
		})
	}
}

func TestValidateReportsAllAtOnce(t *testing.T) {
	c := validCompany()
	c.TIN, c.Currency, c.Email, c.Billing.CountryISO2, c.Phone = "", "XXY", "bad", "ZZ", "abc"
	err := Validate(c)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	for _, f := range []string{"tin", "currency", "email", "billing.country_iso2", "phone"} {
		if !ve.Has(f) {
			t.Errorf("missing error on %s in %v", f, err)
		}
	}
	if len(ve.Fields) != 5 {
		t.Errorf("want 5 errors, got %d: %v", len(ve.Fields), err)
	}
	if !strings.HasPrefix(err.Error(), `mapping: invalid customer "PL-1": `) {
		t.Errorf("message %q", err)
	}
}

func TestValidateIndividualNeedsNoTIN(t *testing.T) {
	c := validCompany()
	c.Type, c.TIN = Individual, ""
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
	c.Deleted, c.Name = true, ""
	if err := Validate(c); err != nil {
		t.Fatalf("deleted customers are not validated: %v", err)
	}
}

func TestISOCodes(t *testing.T) {
	for _, s := range []string{"PL", "GB", "DE", "IE", "US"} {
		if !ValidISO2(s) {
			t.Errorf("%s should be valid", s)
		}
	}
	for _, s := range []string{"UK", "EU", "ZZ", "pl", "P", "POL", "EL", ""} {
		if ValidISO2(s) {
			t.Errorf("%s should be invalid", s)
		}
	}
	if got, ok := ISO3("GB"); !ok || got != "GBR" {
		t.Errorf("ISO3(GB)=%q", got)
	}
	if !ValidISO3("POL") || ValidISO3("PL") || ValidISO3("ZZZ") {
		t.Error("ValidISO3")
	}
}

func TestValidateONeWantsACompleteAddress(t *testing.T) {
	c := validCompany()
	if err := ValidateONe(c); err != nil {
		t.Fatal(err)
	}
	c.Phone, c.Billing.City, c.Currency = "", "", "XXX1"
	err := ValidateONe(c)
	var ve *ValidationError
	if !errors.As(err, &ve) || !ve.Has("phone") || !ve.Has("billing.city") || !ve.Has("currency") || len(ve.Fields) != 3 {
		t.Fatalf("ValidateONe: %v", err)
	}
}

// TestValidationPerPlatform: a field keeps a customer from a platform only
// if that platform receives it.
func TestValidationPerPlatform(t *testing.T) {
	t.Run("malformed email reaches ONe", func(t *testing.T) {
		c := validCompany()
		c.Email = "biuro(at)agropol.pl" // ONe never receives the top-level email
		if err := ValidateONe(c); err != nil {
			t.Fatalf("ValidateONe: %v", err)
		}
		if err := ValidateCore(c); err != nil {
			t.Fatalf("ValidateCore: %v", err)
		}
		var ve *ValidationError
		if err := Validate(c); !errors.As(err, &ve) || !ve.Has("email") {
			t.Fatalf("Validate (every platform's rules) must still see the email: %v", err)
		}
	})
	t.Run("malformed email keeps a farm from the Customer API", func(t *testing.T) {
		c := validCAPI()
		c.Email = "office(at)hillfarm.co.uk"
		var ve *ValidationError
		if err := ValidateCustomerAPI(c); !errors.As(err, &ve) || !ve.Has("email") {
			t.Fatalf("ValidateCustomerAPI: %v", err)
		}
		c.Farm = Farm{} // not a farm: the business (phone, e-mail) is not sent
		if err := ValidateCustomerAPI(c); err != nil {
			t.Fatalf("ValidateCustomerAPI without a farm: %v", err)
		}
	})
	t.Run("UK farm with a GB tax number", func(t *testing.T) {
		c := validCAPI()
		c.TINCode = "GB" // not an EU tin code: ONe's rule
		c.Flags = Flags{CustomerAPI: true}
		if err := ValidateCustomerAPI(c); err != nil {
			t.Fatalf("ValidateCustomerAPI: %v", err)
		}
		var ve *ValidationError
		if err := ValidateONe(c); !errors.As(err, &ve) || !ve.Has("tin_code") {
			t.Fatalf("ValidateONe must still refuse the GB tin code: %v", err)
		}
	})
	t.Run("ISO2 country is the Customer API's", func(t *testing.T) {
		c := validCompany()
		c.Billing.CountryISO2 = "UK"
		if err := ValidateONe(c); err != nil {
			t.Fatalf("ValidateONe: %v", err)
		}
	})
	t.Run("core fields block every platform", func(t *testing.T) {
		for _, edit := range []func(*Customer){
			func(c *Customer) { c.ERPKey = " K " },
			func(c *Customer) { c.Type = "person" },
		} {
			c := validCAPI()
			edit(&c)
			for name, validate := range map[string]func(Customer) error{
				"core": ValidateCore, "one": ValidateONe, "customerapi": ValidateCustomerAPI,
			} {
				if err := validate(c); err == nil {
					t.Errorf("%s accepted %+v", name, c)
				}
			}
		}
	})
}

// TestValidationErrorFor keeps only the problems a platform receives.
func TestValidationErrorFor(t *testing.T) {
	c := validCAPI()
	ve := &ValidationError{Key: "K", Fields: []apierr.FieldError{
		{Field: "key", Message: "x"}, {Field: "email", Message: "x"}, {Field: "tin_code", Message: "x"},
		{Field: "account_types[2]", Message: "x"}, {Field: "additional.colour", Message: "x"},
		{Field: "farm.coordinates", Message: "x"}, {Field: "flags.one", Message: "x"},
	}}
	got := func(e *ValidationError) []string {
		var out []string
		if e != nil {
			for _, f := range e.Fields {
				out = append(out, f.Field)
			}
		}
		return out
	}
	if g, w := strings.Join(got(ve.For(PlatformONe, c)), ","), "key,tin_code,account_types[2],additional.colour,flags.one"; g != w {
		t.Errorf("ONe: %s, want %s", g, w)
	}
	if g, w := strings.Join(got(ve.For(PlatformCustomerAPI, c)), ","), "key,email,farm.coordinates,flags.one"; g != w {
		t.Errorf("Customer API: %s, want %s", g, w)
	}
	only := &ValidationError{Fields: []apierr.FieldError{{Field: "tin_code", Message: "x"}}}
	if e := only.For(PlatformCustomerAPI, c); e != nil {
		t.Errorf("nothing the Customer API receives: %v", e)
	}
	if len(ve.Fields) != 7 {
		t.Error("For changed its receiver")
	}
}

// TestReceivesWhatTheREADMESays pins the fields the README names as not
// received by each platform.
func TestReceivesWhatTheREADMESays(t *testing.T) {
	farm, company := validCAPI(), validCompany()
	for _, f := range []string{"email", "vat_id", "company_number", "billing.region", "billing.country_iso2",
		"farm.holding_number", "farm.what3words", "farm.latitude", "farm.certificate_status"} {
		if Receives(PlatformONe, farm, f) {
			t.Errorf("ONe receives %s", f)
		}
	}
	for _, f := range []string{"tin", "tin_code", "invoice_email", "additional_invoice_emails[0]", "currency",
		"tax_type", "account_manager_id", "trade_credit_limit", "bank_account", "additional.colour", "farm.certificate_status"} {
		if Receives(PlatformCustomerAPI, farm, f) {
			t.Errorf("the Customer API receives %s", f)
		}
	}
	for _, f := range []string{"phone", "email"} {
		if !Receives(PlatformCustomerAPI, farm, f) || Receives(PlatformCustomerAPI, company, f) {
			t.Errorf("the Customer API receives %s for a farm only", f)
		}
	}
	for _, f := range []string{"key", "type", "name", "phone", "tin", "tin_code", "admin.email"} {
		if !Receives(PlatformONe, company, f) {
			t.Errorf("ONe does not receive %s", f)
		}
	}
}

// TestValidateChange: over a record the ERP holds, a field's problem
// counts only when the write changes that field.
func TestValidateChange(t *testing.T) {
	held := validCompany()
	held.TINCode = "GR" // ONe's rule: EL for Greece
	held.Currency = "ZLT"
	if Validate(held) == nil {
		t.Fatal("the held record must be invalid for the test")
	}
	renamed := held
	renamed.Name = "Renamed Ltd"
	badEmail := renamed
	badEmail.Email = "not an address"
	newCurrency := renamed
	newCurrency.Currency = "XYZ"
	for _, c := range []struct {
		name   string
		before *Customer
		after  Customer
		want   []string // fields with problems
	}{
		{"a change beside values the ERP holds", &held, renamed, nil},
		{"a change that brings an invalid e-mail", &held, badEmail, []string{"email"}},
		{"a change to another invalid currency", &held, newCurrency, []string{"currency"}},
		{"a new record is checked whole", nil, renamed, []string{"tin_code", "currency"}},
	} {
		err := ValidateChange(c.before, c.after)
		var got []string
		if ve, ok := errors.AsType[*ValidationError](err); ok {
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: problems on %v, want %v (%v)", c.name, got, want, err)
		}
	}
}

func TestFieldValue(t *testing.T) {
	c := validCompany()
	c.AdditionalFields = []AdditionalField{{Name: "region", Value: "north"}}
	for field, want := range map[string]string{"name": c.Name, "tin_code": c.TINCode, "additional.region": "north", "billing.city": c.Billing.City} {
		if got, ok := FieldValue(c, field); !ok || got != want {
			t.Errorf("FieldValue(%s) = %q, %v; want %q", field, got, ok, want)
		}
	}
	if _, ok := FieldValue(c, "nmae"); ok {
		t.Error("an unknown field has a value")
	}
}
