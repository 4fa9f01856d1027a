package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/erpconnector/erpconnector/customerapi"
)

// capiSimCertificate is the certificate the simulated platform attaches to
// a farm business with its holding number (the vendor's sample).
var capiSimCertificate = customerapi.Certificate{
	CertificateStatus:     customerapi.CertificateValid,
	CertificateIdentifier: "2RRVTHNXTS.C753I0PM8NCK8",
	CertificateEnterprises: []customerapi.CertificateEnterprise{
		{EnterpriseIdentifier: "0349EQH8NH.16LGK2U5Q7K4H", Enterprise: "Combinable Crops"}},
	CertificateExpiryDate: "2024-01-31T00:00:00.000+00:00",
	CertifiedSites: []customerapi.CertifiedSite{{
		SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: "11/111/1111"},
		IsPrimary:       true, SiteCountry: "United Kingdom", SitePostcode: "PO18 9JP",
		SiteAddress: "Pitlands Farm", SiteName: "Up Marden Farms",
	}},
}

// simulateCustomerAPIServer turns the create bodies into what the platform
// answers: the organisation (names trimmed, company number copied up, the
// owner's phone string read into {callingCode, number}) and the farm
// business unit with its business (phoneNumber read into phone, name copied
// to businessName, the certificate of its holding number attached as
// assurance for an RT or unnamed scheme).
func simulateCustomerAPIServer(req customerapi.CreateOrganisationRequest, bu *customerapi.CreateBusinessUnitRequest, orgID string) (customerapi.Organisation, *customerapi.BusinessUnit, error) {
	parse := func(s, country string) (*customerapi.Phone, error) {
		if s == "" {
			return nil, nil
		}
		p, err := customerapi.ParsePhone(s, country)
		if err != nil {
			return nil, err
		}
		return &p, nil
	}
	o := customerapi.Organisation{
		ID: orgID, Name: strings.TrimSpace(req.Name), CountryISO: req.CountryISO, Location: req.Location,
		Company: req.Company, Status: "pending", Billing: req.Billing, Modules: req.Modules,
		CreatedAtUTC: "2026-01-02T03:04:05Z",
	}
	if req.Company != nil {
		o.CompanyNumber = req.Company.Number
	}
	if oc := req.OwnerContact; oc != nil {
		p, err := parse(oc.Phone, req.CountryISO)
		if err != nil {
			return o, nil, fmt.Errorf("owner phone: %w", err)
		}
		o.OwnerContact = &customerapi.OwnerContact{ID: "user-1", Email: oc.Email, GivenName: oc.GivenName,
			FamilyName: oc.FamilyName, Phone: p, AuthPlatformID: "auth-1"}
	}
	if bu == nil {
		return o, nil, nil
	}
	if bu.OrganisationID != orgID {
		return o, nil, fmt.Errorf("business unit for organisation %q, want %q", bu.OrganisationID, orgID)
	}
	out := &customerapi.BusinessUnit{Ordinal: 1, ID: "bu-1", Name: strings.TrimSpace(bu.Name), Type: bu.Type, Tags: []string{}}
	o.BusinessUnits = []customerapi.BusinessUnitRef{{ID: out.ID, Name: out.Name, Type: string(out.Type), Business: "biz-1", Tags: []string{}}}
	if in := bu.Business; in != nil {
		p, err := parse(in.PhoneNumber, "")
		if err != nil {
			return o, nil, fmt.Errorf("business phone: %w", err)
		}
		b := &customerapi.Business{ID: "biz-1", BusinessUnitID: out.ID, OrganisationID: orgID, Location: in.Location,
			Name: in.Name, BusinessName: in.Name, Phone: p, Email: in.Email, Tags: []string{},
			HoldingNumber: in.HoldingNumber, Sqc: in.Sqc, AssuranceScheme: in.AssuranceScheme}
		if b.Name == "" {
			b.Name, b.BusinessName = out.Name, out.Name
		}
		if in.HoldingNumber == "11/111/1111" && in.AssuranceScheme != customerapi.SchemeSQC {
			cert := capiSimCertificate
			b.Assurance = &cert
		}
		out.Business = b
	}
	return o, out, nil
}

// capiProjection keeps the fields of c that survive a trip through the
// Customer API, in the form they come back in.
func capiProjection(c Customer, orgID string) Customer {
	iso := c.Billing.CountryISO2
	p := Customer{
		Name: strings.TrimSpace(c.Name), CompanyNumber: c.CompanyNumber, VATID: c.VATID,
		Billing:     c.Billing,
		Admin:       Contact{Name: c.Admin.Name, Email: c.Admin.Email, Phone: CustomerAPIPhone(c.Admin.Phone, iso)},
		PlatformIDs: PlatformIDs{CustomerAPI: orgID},
	}
	p.Billing.Phone, p.Billing.ExternalID = "", ""
	if HasFarm(c) {
		p.Phone, p.Email = CustomerAPIPhone(c.Phone, iso), c.Email
		f := c.Clone().Farm
		f.CertificateStatus, f.CertificateIdentifier, f.CertificateExpiry = "", "", ""
		p.Farm = f
	}
	p.Normalize()
	return p
}

// genCAPICustomer draws a customer valid for the Customer API, starting from
// genCustomer: a platform country (with a UK postcode for GB), an owner with
// given and family names, sometimes a holding number (sometimes the one
// the simulated platform holds a certificate for).
func genCAPICustomer(t *rapid.T) Customer {
	c := genCustomer(t)
	c.Billing.CountryISO2 = pick(t, "capi.iso2", CustomerAPICountries())
	if c.Billing.CountryISO2 == "GB" {
		c.Billing.Postcode = rapid.StringMatching(`[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}`).Draw(t, "capi.postcode")
	}
	c.Admin = Contact{
		Name:  genWord.Draw(t, "capi.given") + " " + genText(t, "capi.family"),
		Email: genEmail(t, "capi.admin.email"),
	}
	if rapid.Bool().Draw(t, "capi.admin.phone?") {
		c.Admin.Phone = genPhone(t, "capi.admin.phone")
	}
	switch rapid.IntRange(0, 2).Draw(t, "capi.holding") {
	case 1:
		c.Farm.HoldingNumber = rapid.StringMatching(`[0-9]{2}/[0-9]{3}/[0-9]{4}`).Draw(t, "capi.holdingNumber")
	case 2:
		c.Farm.HoldingNumber = "11/111/1111"
	}
	return c
}

func TestPropertyGeneratedCAPICustomersAreValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := ValidateCustomerAPI(genCAPICustomer(t)); err != nil {
			t.Fatalf("generator made an invalid customer: %v", err)
		}
	})
}

// TestPropertyCustomerAPIRoundTrip: canonical → organisation and farm bodies
// → (wire) → platform → organisation and business unit → (wire) →
// canonical is the identity on every field the Customer API carries, the
// certificate the platform attached lands in the farm, and what comes back
// hashes like what went out.
func TestPropertyCustomerAPIRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCAPICustomer(t)
		const orgID = "0b9c2f4e-7f55-4d1b-9f0e-4f3c1e2d5a6b"
		c.PlatformIDs.CustomerAPI = orgID
		orgReq := throughWire(t, ToCustomerAPIOrganisation(c))
		var buReq *customerapi.CreateBusinessUnitRequest
		if bu, ok := ToCustomerAPIFarm(c); ok {
			bu = throughWire(t, bu)
			buReq = &bu
		}
		if (buReq != nil) != HasFarm(c) {
			t.Fatalf("farm body %v for HasFarm %v", buReq != nil, HasFarm(c))
		}
		org, bu, err := simulateCustomerAPIServer(orgReq, buReq, orgID)
		if err != nil {
			t.Fatalf("platform refused the bodies: %v", err)
		}
		org = throughWire(t, org)
		if bu != nil {
			b := throughWire(t, *bu)
			bu = &b
		}
		got := FromCustomerAPI(org, bu)
		want := capiProjection(c, orgID)
		if HasFarm(c) && c.Farm.HoldingNumber == "11/111/1111" && c.Farm.AssuranceScheme != "SQC" {
			want.Farm.CertificateStatus, want.Farm.CertificateIdentifier, want.Farm.CertificateExpiry = "Valid", "2RRVTHNXTS.C753I0PM8NCK8", "2024-01-31"
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip lost data:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
		h1, err := HashCustomerAPI(c)
		if err != nil {
			t.Fatal(err)
		}
		if h2, _ := HashCustomerAPI(got); h1 != h2 {
			t.Fatalf("hash of the echo differs:\n sent %s\n echo %s", mustJSON(ToCustomerAPIPayload(c)), mustJSON(ToCustomerAPIPayload(got)))
		}
		// Without the business unit, the organisation alone still gives
		// the company's farm fields.
		alone := FromCustomerAPI(org, nil)
		if alone.Farm.HoldingNumber != want.Farm.HoldingNumber || alone.Farm.AssuranceScheme != want.Farm.AssuranceScheme ||
			alone.Farm.SQCNumber != want.Farm.SQCNumber || alone.Farm.SQCAssured != want.Farm.SQCAssured || alone.Phone != "" {
			t.Fatalf("organisation alone: %s", mustJSON(alone))
		}
	})
}

// TestPropertyCustomerAPIHashStable: the hash does not depend on fields the
// Customer API never gets, and changes with one it does.
func TestPropertyCustomerAPIHashStable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCAPICustomer(t)
		h1, err := HashCustomerAPI(c)
		if err != nil {
			t.Fatal(err)
		}
		d := c.Clone()
		d.ERPKey, d.TIN, d.Currency, d.AdditionalFields, d.Flags = "X-1", "", "", nil, Flags{ONe: !c.Flags.ONe}
		d.PlatformIDs = PlatformIDs{ONe: "org:x", CustomerAPI: "other-org"}
		d.Farm.CertificateStatus, d.Farm.CertificateExpiry = "Expired", "2020-01-01"
		if h2, _ := HashCustomerAPI(d); h1 != h2 {
			t.Fatalf("hash depends on fields the Customer API never gets")
		}
		e := c.Clone()
		e.Admin.Email = "z" + e.Admin.Email
		if h3, _ := HashCustomerAPI(e); h3 == h1 {
			t.Fatalf("hash did not change with the owner's e-mail")
		}
	})
}

// FuzzCustomerAPIMapping builds a customer from arbitrary values: mapping,
// validation and hashing never panic, every problem is a field error, the
// hash is stable, and a customer that validates for the Customer API comes
// back from the simulated platform hashing as it went out.
func FuzzCustomerAPIMapping(f *testing.F) {
	f.Add("Up Marden Farms Ltd", "Pitlands Farm", "PO18 9JP", "GB", "+44 (0)1243 535 123", "Tom Marden", "tom@upmarden.co.uk", "07700 900123",
		"11/111/1111", "RT", "filled.count.soap", 50.9275, -0.8841, true, false)
	f.Add("Ferme", "1 rue", "75001", "FR", "01 23 45 67 89", "Anne Martin", "a@b.fr", "", "", "SQC", "", 0.0, 0.0, false, true)
	f.Add(" ", "\x00", "pO18", "UK", "+999123", "Cher", "x@@y", "ask", "1111111", "LEAF", "a.b", 95.0, -200.0, true, true)
	f.Add("ż\xff", "", "", "", "(0)", " A B", "\"a b\"@x.com", "+", "//", "", "///a.b.c", -0.0, 1e-300, true, false)
	f.Fuzz(func(t *testing.T, name, street, postcode, iso, phone, adminName, adminEmail, adminPhone, holding, scheme, w3w string,
		lat, lon float64, coords, sqc bool) {
		c := Customer{
			ERPKey: "K-1", Type: Company, Name: name, TIN: "1234567890", CompanyNumber: "01234567",
			Billing: Address{Street: street, Postcode: postcode, CountryISO2: iso, City: "Town"},
			Phone:   phone, Email: "farm@example.com",
			Admin: Contact{Name: adminName, Email: adminEmail, Phone: adminPhone},
			Farm:  Farm{HoldingNumber: holding, AssuranceScheme: scheme, What3Words: w3w, SQCAssured: sqc},
		}
		if coords {
			c.Farm.Latitude, c.Farm.Longitude = &lat, &lon
		}
		err := ValidateCustomerAPI(c)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("validation error of the wrong shape: %v", err)
			}
			for _, fe := range ve.Fields {
				if fe.Field == "" || fe.Message == "" || !utf8.ValidString(fe.Field) {
					t.Fatalf("bad field error %+v", fe)
				}
			}
		}
		h1, e1 := HashCustomerAPI(c)
		h2, e2 := HashCustomerAPI(c.Clone())
		if h1 != h2 || (e1 == nil) != (e2 == nil) {
			t.Fatalf("hash not stable: %q %v / %q %v", h1, e1, h2, e2)
		}
		_ = ToCustomerAPIOrganisationPatch(c)
		_, _ = ToCustomerAPIFarmPatch(c)
		if err != nil {
			return
		}
		if e1 != nil {
			t.Fatalf("valid customer did not hash: %v", e1)
		}
		c.PlatformIDs.CustomerAPI = "org-1"
		var buReq *customerapi.CreateBusinessUnitRequest
		if bu, ok := ToCustomerAPIFarm(c); ok {
			buReq = &bu
		}
		org, bu, serr := simulateCustomerAPIServer(ToCustomerAPIOrganisation(c), buReq, "org-1")
		if serr != nil {
			t.Fatalf("valid customer refused by the platform: %v", serr)
		}
		back := FromCustomerAPI(org, bu)
		if h3, _ := HashCustomerAPI(back); h3 != h1 {
			t.Fatalf("echo hashes differently:\n sent %s\n echo %s", mustJSON(ToCustomerAPIPayload(c)), mustJSON(ToCustomerAPIPayload(back)))
		}
		// The echo itself is valid for the Customer API once given its ERP identity.
		back.ERPKey, back.Type, back.TIN = c.ERPKey, c.Type, c.TIN
		if verr := ValidateCustomerAPI(back); verr != nil {
			t.Fatalf("echo does not validate: %v\n%s", verr, mustJSON(back))
		}
	})
}

// BenchmarkCustomerAPIMapping measures the per-customer cost of building
// both bodies and hashing them, and of mapping the platform's answer back.
func BenchmarkCustomerAPIMapping(b *testing.B) {
	var c Customer
	raw := `{"erpKey":"UK-000777","type":"company","name":"Up Marden Farms Ltd","tin":"1234567890","vatId":"GB123456789",
	"companyNumber":"01234567","billing":{"street":"Pitlands Farm","line2":"Up Marden","city":"Chichester","postcode":"PO18 9JP",
	"countryName":"United Kingdom","countryIso2":"GB"},"phone":"+44 1243 535123","email":"office@upmarden.co.uk",
	"admin":{"name":"Tom Marden","email":"tom@upmarden.co.uk","phone":"07700 900123"},
	"farm":{"holdingNumber":"11/111/1111","assuranceScheme":"RT","what3words":"filled.count.soap","latitude":50.9,"longitude":-0.8}}`
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		b.Fatal(err)
	}
	c.PlatformIDs.CustomerAPI = "org-1"
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := ValidateCustomerAPI(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := HashCustomerAPI(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	bu, _ := ToCustomerAPIFarm(c)
	org, unit, err := simulateCustomerAPIServer(ToCustomerAPIOrganisation(c), &bu, "org-1")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("from", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = FromCustomerAPI(org, unit)
		}
	})
}
