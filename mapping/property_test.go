package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/erpconnector/erpconnector/oneapi"
)

// simulateONeServer turns a write body into the read model the way the
// platform does: invoice.email → invoiceEmail, address → billingAddress
// (with the platform's id and type BILLING, without externalId), admin →
// firstUser, accountManagerId → accountManager, segments and the optional
// scalars into their nullable read forms.
func simulateONeServer(w oneapi.ClientWrite, id, addressID, userID string) oneapi.Client {
	ptr := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	cl := oneapi.Client{
		ID:                         id,
		ExternalID:                 w.ExternalID,
		CustomerType:               w.CustomerType,
		Name:                       w.Name,
		Tin:                        w.Tin,
		WarehouseID:                w.WarehouseID,
		AdditionalWarehousesIDs:    append([]string{}, w.AdditionalWarehousesIDs...),
		PaymentID:                  ptr(w.PaymentID),
		TermPaymentID:              w.TermPaymentID,
		Phone:                      w.Phone,
		BankAccountNumber:          ptr(w.BankAccountNumber),
		AdditionalFields:           w.AdditionalFields,
		BusinessRegistrationNumber: ptr(w.BusinessRegistrationNumber),
		AccountType:                append([]oneapi.AccountType{}, w.AccountType...),
		AdditionalInvoiceEmails:    []string{},
	}
	if w.Address != nil {
		cl.BillingAddress = oneapi.BillingAddress{ID: addressID, Name: w.Address.Name, Street: w.Address.Street,
			ZipCode: w.Address.ZipCode, City: w.Address.City, Country: w.Address.Country, Phone: w.Address.Phone,
			Type: oneapi.AddressTypeBilling}
	}
	if w.AccountManagerID != "" {
		cl.AccountManager = &oneapi.AccountManager{ID: w.AccountManagerID, Name: "Account Manager"}
	}
	if w.Segments != nil {
		cl.Segments = &oneapi.Segments{MainSegmentID: w.Segments.MainSegmentID,
			AdditionalSegmentsIDs: append([]string{}, w.Segments.AdditionalSegmentsIDs...)}
		cl.Segment, cl.SegmentID = w.Segments.MainSegmentID, w.Segments.MainSegmentID
	}
	if w.IsTaxPayer != nil {
		cl.IsTaxPayer = *w.IsTaxPayer
	}
	if w.InvoiceAgreement != nil {
		cl.InvoiceAgreement = *w.InvoiceAgreement
	}
	if w.Invoice != nil {
		cl.InvoiceEmail = w.Invoice.Email
		cl.AdditionalInvoiceEmails = append(cl.AdditionalInvoiceEmails, w.Invoice.AdditionalEmails...)
	}
	if w.Admin != nil {
		cl.FirstUser = &oneapi.User{ID: userID, ClientID: id, Email: w.Admin.Email, Name: w.Admin.Name,
			Phone: w.Admin.Phone, IsActive: true}
	}
	if w.Currency != "" {
		cl.Currency = &w.Currency
	}
	if w.TinCode != "" {
		cl.TinCode = &w.TinCode
	}
	if w.ClientStatus != "" {
		cl.ClientStatus = &w.ClientStatus
	}
	if w.ClientTaxType != "" {
		cl.ClientTaxType = &w.ClientTaxType
	}
	return cl
}

// oneProjection keeps the fields of c that survive a trip through ONe.
func oneProjection(c Customer, clientID string) Customer {
	p := c.Clone()
	p.InternalNickname = ""
	p.VATID, p.CompanyNumber = "", ""
	p.Billing.Line2, p.Billing.Line3, p.Billing.Region, p.Billing.CountryISO2, p.Billing.ExternalID = "", "", "", "", ""
	p.Email = ""
	p.TradeCreditLimit, p.BlockadeID, p.PayerID = nil, "", ""
	p.Farm = Farm{}
	p.Flags = Flags{}
	p.PlatformIDs = PlatformIDs{ONe: clientID}
	p.Deleted = false
	p.UpdatedAt = time.Time{}
	if p.Type == Individual {
		p.TIN, p.TaxPayer, p.TermPaymentID = "", false, ""
	}
	p.Normalize()
	return p
}

var (
	genWord = rapid.StringMatching(`[A-Za-zżółćęśąźńŻÓŁ]{1,12}`)
	genID   = rapid.StringMatching(`[a-z0-9][a-z0-9_-]{0,15}`)
)

func genText(t *rapid.T, label string) string {
	return rapid.StringMatching(`[A-Za-zżółćęśąźńŻÓŁ0-9][A-Za-zżółćęśąźńŻÓŁ0-9 .]{0,30}[A-Za-z0-9]`).Draw(t, label)
}

func genOpt(t *rapid.T, label string, g *rapid.Generator[string]) string {
	if rapid.Bool().Draw(t, label+"?") {
		return g.Draw(t, label)
	}
	return ""
}

func genEmail(t *rapid.T, label string) string {
	return rapid.StringMatching(`[a-z][a-z0-9]{0,5}(\.[a-z0-9]{1,5})?@[a-z]{2,10}\.(pl|com|co\.uk)`).Draw(t, label)
}

func genPhone(t *rapid.T, label string) string {
	return rapid.StringMatching(`\+?[1-9][0-9]{2}( ?[0-9]{3}){2}`).Draw(t, label)
}

func genList(t *rapid.T, label string, g func(*rapid.T, string) string) []string {
	n := rapid.IntRange(0, 3).Draw(t, label+"#")
	var out []string
	for i := range n {
		out = append(out, g(t, fmt.Sprintf("%s[%d]", label, i)))
	}
	return out
}

func genFloat(t *rapid.T, label string, lo, hi float64) *float64 {
	if !rapid.Bool().Draw(t, label+"?") {
		return nil
	}
	v := float64(rapid.IntRange(int(lo*100), int(hi*100)).Draw(t, label)) / 100
	return &v
}

func pick[T any](t *rapid.T, label string, xs []T) T {
	return rapid.SampledFrom(xs).Draw(t, label)
}

// genCustomer draws a valid canonical customer with every field set at random.
func genCustomer(t *rapid.T) Customer {
	c := Customer{
		ERPKey:                     rapid.StringMatching(`[A-Z]{2}-[0-9]{1,8}`).Draw(t, "key"),
		Type:                       pick(t, "type", []Type{Company, Individual}),
		Name:                       genText(t, "name"),
		InternalNickname:           genOpt(t, "nick", genWord),
		TINCode:                    string(pick(t, "tinCode", append([]oneapi.TinCode{""}, oneapi.TinCodes...))),
		BusinessRegistrationNumber: genOpt(t, "regon", rapid.StringMatching(`[0-9]{9}`)),
		VATID:                      genOpt(t, "vat", rapid.StringMatching(`GB[0-9]{9}`)),
		CompanyNumber:              genOpt(t, "companyNumber", rapid.StringMatching(`[0-9]{8}`)),
		Billing: Address{
			Name:        genOpt(t, "billing.name", genWord),
			Street:      genText(t, "billing.street"),
			Postcode:    rapid.StringMatching(`[0-9]{2}-[0-9]{3}`).Draw(t, "postcode"),
			City:        genWord.Draw(t, "city"),
			Region:      genOpt(t, "region", genWord),
			CountryName: genWord.Draw(t, "country"),
			CountryISO2: pick(t, "iso2", []string{"", "PL", "DE", "FR", "IE"}),
		},
		Email:                   genOpt(t, "emailOpt", rapid.Just("info@example.com")),
		InvoiceEmail:            genOpt(t, "invoiceEmailOpt", rapid.Just("fv@example.pl")),
		AdditionalInvoiceEmails: genList(t, "moreInvoiceEmails", genEmail),
		InvoiceAgreement:        rapid.Bool().Draw(t, "agreement"),
		Currency:                string(pick(t, "currency", append([]oneapi.Currency{""}, oneapi.Currencies...))),
		TaxPayer:                rapid.Bool().Draw(t, "taxPayer"),
		TaxType:                 pick(t, "taxType", []string{"", "COUNTRY", "EXPORT", "EXPORT_EU"}),
		ClientStatus:            pick(t, "status", []string{"", "LEAD", "PROSPECT", "CLIENT"}),
		AccountTypes:            genList(t, "accountTypes", func(t *rapid.T, l string) string { return pick(t, l, []string{"CLIENT", "SUPPLIER"}) }),
		AccountManagerID:        genOpt(t, "am", genID),
		WarehouseID:             genOpt(t, "wh", genID),
		AdditionalWarehouseIDs:  genList(t, "whs", func(t *rapid.T, l string) string { return genID.Draw(t, l) }),
		SegmentID:               genOpt(t, "seg", genID),
		AdditionalSegmentIDs:    genList(t, "segs", func(t *rapid.T, l string) string { return genID.Draw(t, l) }),
		PaymentID:               genOpt(t, "pay", genID),
		TermPaymentID:           genOpt(t, "term", genID),
		PayerID:                 genOpt(t, "payer", genID),
		TradeCreditLimit:        genFloat(t, "credit", 0, 1e6),
		BlockadeID:              genOpt(t, "blockade", genID),
		BankAccount:             genOpt(t, "bank", rapid.StringMatching(`[0-9]{26}`)),
		Farm: Farm{
			AssuranceScheme:       pick(t, "scheme", []string{"", "RT", "SQC"}),
			SQCNumber:             genOpt(t, "sqc", rapid.StringMatching(`SQC[0-9]{5}`)),
			SQCAssured:            rapid.Bool().Draw(t, "sqcAssured"),
			What3Words:            genOpt(t, "w3w", rapid.Just("filled.count.soap")),
			CertificateStatus:     pick(t, "certStatus", []string{"", "Valid", "Grace", "Expired"}),
			CertificateIdentifier: genOpt(t, "certId", genID),
			CertificateExpiry:     genOpt(t, "certExpiry", rapid.StringMatching(`20[2-3][0-9]-0[1-9]-[12][0-8]`)),
		},
		Flags: Flags{ONe: rapid.Bool().Draw(t, "flagOne"), CustomerAPI: rapid.Bool().Draw(t, "flagCapi")},
	}
	if c.Type == Company || rapid.Bool().Draw(t, "tin?") {
		c.TIN = rapid.StringMatching(`[0-9]{10}`).Draw(t, "tin")
	}
	if rapid.Bool().Draw(t, "phone?") {
		c.Phone = genPhone(t, "phone")
	}
	if rapid.Bool().Draw(t, "billing.phone?") {
		c.Billing.Phone = genPhone(t, "billing.phone")
	}
	if rapid.Bool().Draw(t, "admin?") {
		c.Admin = Contact{Name: genText(t, "admin.name"), Email: genEmail(t, "admin.email"), Phone: genOpt(t, "admin.phone", rapid.Just("+48111222333"))}
	}
	if c.Farm.Latitude = genFloat(t, "lat", -90, 90); c.Farm.Latitude != nil {
		c.Farm.Longitude = genFloat(t, "lonSet", -180, 180)
		if c.Farm.Longitude == nil {
			v := 0.5
			c.Farm.Longitude = &v
		}
	}
	seen := map[string]bool{}
	for i := range rapid.IntRange(0, 3).Draw(t, "additional#") {
		name := genID.Draw(t, fmt.Sprintf("additional[%d].name", i))
		if seen[name] {
			continue
		}
		seen[name] = true
		var v any
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			v = genText(t, "value")
		case 1:
			v = float64(rapid.IntRange(-1000, 1000).Draw(t, "num"))
		default:
			v = rapid.Bool().Draw(t, "bool")
		}
		c.AdditionalFields = append(c.AdditionalFields, AdditionalField{Name: name, Label: genOpt(t, "label", genWord), Value: v})
	}
	// Canonical defaults: an address name or phone equal to the customer's
	// is stored as empty (ONe gets the customer's on the way out).
	if c.Billing.Name == c.Name {
		c.Billing.Name = ""
	}
	if c.Billing.Phone == c.Phone {
		c.Billing.Phone = ""
	}
	c.Normalize()
	return c
}

// throughWire sends v through JSON as a client and server would.
func throughWire[T any](t *rapid.T, v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPropertyGeneratedCustomersAreValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := Validate(genCustomer(t)); err != nil {
			t.Fatalf("generator made an invalid customer: %v", err)
		}
	})
}

// TestPropertyONeRoundTrip: canonical → ONe write → (wire) → server → ONe
// read → (wire) → canonical is the identity on every field ONe carries.
func TestPropertyONeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCustomer(t)
		const id = "org:8872d4f8-cf33-456e-8084-41bacbc0fb2a"
		w := throughWire(t, ToONeWrite(c))
		read := throughWire(t, simulateONeServer(w, id, "ba42905f-73b9-426e-acc4-319031a58c19", "b0ac576f-1328-47fd-b3c5-9ac08fcd29c0"))
		got := FromONe(read)
		want := oneProjection(c, id)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip lost data:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
		// And what comes back hashes like what went out, so an echo is recognised.
		h1, _ := HashONe(want)
		h2, _ := HashONe(got)
		if h1 != h2 {
			t.Fatalf("hash of echo differs")
		}
	})
}

// TestPropertyRulesRoundTrip: Values then Apply through a rule for every
// canonical field is the identity on the data fields.
func TestPropertyRulesRoundTrip(t *testing.T) {
	var rs []FieldRule
	for _, f := range FieldNames() {
		if f == invoiceEmailsField {
			continue
		}
		rs = append(rs, FieldRule{ERP: "col_" + f, Field: f})
	}
	rules := MustCompileRules(rs)
	rapid.Check(t, func(t *rapid.T) {
		c := genCustomer(t)
		// Rules carry additional fields as text under their own names only.
		c.AdditionalFields = nil
		vals := rules.Values(c)
		got, errs := rules.Apply(vals)
		if len(errs) > 0 {
			t.Fatalf("apply: %v", errs)
		}
		want := c.Clone()
		want.ERPKey, want.Flags = "", Flags{}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rules round trip:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
	})
}

func TestPropertyHashStable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCustomer(t)
		h1, err := HashONe(c)
		if err != nil {
			t.Fatal(err)
		}
		d := c.Clone()
		slices.Reverse(d.AdditionalFields)
		d.Farm, d.Flags, d.PlatformIDs = Farm{HoldingNumber: "11/111/1111"}, Flags{ONe: !c.Flags.ONe}, PlatformIDs{ONe: "org:x"}
		h2, _ := HashONe(d)
		if h1 != h2 {
			t.Fatalf("hash depends on field order or on fields ONe never gets")
		}
		e := c.Clone()
		e.Name += "x"
		if h3, _ := HashONe(e); h3 == h1 {
			t.Fatalf("hash did not change with the name")
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
