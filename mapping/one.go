package mapping

import (
	"slices"

	"github.com/erpconnector/erpconnector/oneapi"
)

// ONe carries a single street line; further address lines are appended to it
// with this separator.
const streetLineSep = ", "

func oneType(t Type) oneapi.CustomerType {
	if t == Individual {
		return oneapi.CustomerIndividual
	}
	return oneapi.CustomerCompany
}

func fromOneType(t oneapi.CustomerType) Type {
	if t == oneapi.CustomerIndividual {
		return Individual
	}
	return Company
}

func oneStreet(a Address) string {
	s := a.Street
	for _, l := range []string{a.Line2, a.Line3} {
		if l == "" {
			continue
		}
		if s != "" {
			s += streetLineSep
		}
		s += l
	}
	return s
}

func addressPhone(c Customer) string {
	if c.Billing.Phone != "" {
		return c.Billing.Phone
	}
	return c.Phone
}

func addressName(c Customer) string {
	if c.Billing.Name != "" {
		return c.Billing.Name
	}
	return c.Name
}

func accountTypes(in []string) []oneapi.AccountType {
	if len(in) == 0 {
		return nil
	}
	out := make([]oneapi.AccountType, len(in))
	for i, s := range in {
		out[i] = oneapi.AccountType(s)
	}
	return out
}

func oneAdditional(in []AdditionalField) map[string]oneapi.AdditionalField {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]oneapi.AdditionalField, len(in))
	for _, f := range in {
		out[f.Name] = oneapi.AdditionalField{Name: f.Name, Label: f.Label, Value: f.Value}
	}
	return out
}

func fromOneAdditional(in map[string]oneapi.AdditionalField) []AdditionalField {
	if len(in) == 0 {
		return nil
	}
	out := make([]AdditionalField, 0, len(in))
	for k, f := range in {
		name := f.Name
		if name == "" {
			name = k
		}
		out = append(out, AdditionalField{Name: name, Label: f.Label, Value: f.Value})
	}
	return out
}

func segmentsWrite(c Customer) *oneapi.SegmentsWrite {
	if c.SegmentID == "" && len(c.AdditionalSegmentIDs) == 0 {
		return nil
	}
	return &oneapi.SegmentsWrite{MainSegmentID: c.SegmentID, AdditionalSegmentsIDs: slices.Clone(c.AdditionalSegmentIDs)}
}

// ToONeWrite returns the body of ONe's createClient and updateClient (the
// full PUT sends everything the create sent). The organisation-only fields
// (tin, isTaxPayer, termPaymentId, internalNickname) are left out for
// individuals. It does not validate; call ValidateONe first.
func ToONeWrite(c Customer) oneapi.ClientWrite {
	agree := c.InvoiceAgreement
	taxPayer := c.TaxPayer
	w := oneapi.ClientWrite{
		AccountManagerID:           c.AccountManagerID,
		AccountType:                accountTypes(c.AccountTypes),
		AdditionalFields:           oneAdditional(c.AdditionalFields),
		BankAccountNumber:          c.BankAccount,
		BusinessRegistrationNumber: c.BusinessRegistrationNumber,
		ClientStatus:               oneapi.ClientStatus(c.ClientStatus),
		ClientTaxType:              oneapi.ClientTaxType(c.TaxType),
		Currency:                   oneapi.Currency(c.Currency),
		CustomerType:               oneType(c.Type),
		ExternalID:                 c.ERPKey,
		InternalNickname:           c.InternalNickname,
		InvoiceAgreement:           &agree,
		IsTaxPayer:                 &taxPayer,
		Name:                       c.Name,
		PaymentID:                  c.PaymentID,
		Phone:                      c.Phone,
		TermPaymentID:              c.TermPaymentID,
		Tin:                        c.TIN,
		TinCode:                    oneapi.TinCode(c.TINCode),
		WarehouseID:                c.WarehouseID,
		AdditionalWarehousesIDs:    slices.Clone(c.AdditionalWarehouseIDs),
		Segments:                   segmentsWrite(c),
		Address: &oneapi.Address{
			City:       c.Billing.City,
			Country:    CountryName(c.Billing),
			ExternalID: c.AddressExternalID(),
			Name:       addressName(c),
			Phone:      addressPhone(c),
			Street:     oneStreet(c.Billing),
			ZipCode:    c.Billing.Postcode,
		},
	}
	if c.Type == Individual {
		// tin, isTaxPayer, termPaymentId and internalNickname apply to organisations only.
		w.Tin, w.IsTaxPayer, w.TermPaymentID, w.InternalNickname = "", nil, "", ""
	}
	if c.InvoiceEmail != "" || len(c.AdditionalInvoiceEmails) > 0 {
		w.Invoice = &oneapi.Invoice{Email: c.InvoiceEmail, AdditionalEmails: slices.Clone(c.AdditionalInvoiceEmails)}
	}
	if !c.Admin.IsZero() {
		w.Admin = &oneapi.Admin{Email: c.Admin.Email, Name: c.Admin.Name, Phone: c.Admin.Phone}
	}
	return w
}

// ToONeBasic returns the basic-data partial body. addressID is the
// platform's id of the billing address (from the create response or the
// read model).
func ToONeBasic(c Customer, addressID string) oneapi.BasicData {
	taxPayer := c.TaxPayer
	b := oneapi.BasicData{
		AccountType: accountTypes(c.AccountTypes),
		BillingAddress: &oneapi.BillingAddress{
			ID:      addressID,
			Name:    addressName(c),
			Street:  oneStreet(c.Billing),
			ZipCode: c.Billing.Postcode,
			City:    c.Billing.City,
			Country: CountryName(c.Billing),
			Phone:   addressPhone(c),
			Type:    oneapi.AddressTypeBilling,
		},
		BusinessRegistrationNumber: c.BusinessRegistrationNumber,
		ClientStatus:               oneapi.ClientStatus(c.ClientStatus),
		ClientTaxType:              oneapi.ClientTaxType(c.TaxType),
		Currency:                   oneapi.Currency(c.Currency),
		InternalNickname:           c.InternalNickname,
		IsTaxPayer:                 &taxPayer,
		PayerID:                    c.PayerID,
		Phone:                      c.Phone,
		Tin:                        c.TIN,
		TinCode:                    oneapi.TinCode(c.TINCode),
	}
	if c.Type == Individual {
		b.Tin, b.IsTaxPayer, b.InternalNickname = "", nil, ""
	}
	return b
}

// ToONeAdvanced returns the advanced-data partial body.
func ToONeAdvanced(c Customer) oneapi.AdvancedData {
	return oneapi.AdvancedData{
		AccountManagerID:        c.AccountManagerID,
		Segments:                segmentsWrite(c),
		WarehouseID:             c.WarehouseID,
		AdditionalWarehousesIDs: slices.Clone(c.AdditionalWarehouseIDs),
	}
}

// ToONeFinance returns the finance-data partial body. Trade credit applies to
// companies only and is left out for individuals.
func ToONeFinance(c Customer) oneapi.FinanceData {
	f := oneapi.FinanceData{AccountBlockadeID: c.BlockadeID, TermPaymentID: c.TermPaymentID}
	if c.TradeCreditLimit != nil && c.Type != Individual {
		f.TradeCredit = &oneapi.TradeCredit{AssignedValue: *c.TradeCreditLimit}
	}
	return f
}

// ToONeAdditional returns the additional-data partial body.
func ToONeAdditional(c Customer) oneapi.AdditionalDataWrite {
	m := oneAdditional(c.AdditionalFields)
	if m == nil {
		m = map[string]oneapi.AdditionalField{}
	}
	return oneapi.AdditionalDataWrite{AdditionalFields: m}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// FromONe turns ONe's read model into a canonical Customer. ONe does not
// return internalNickname, trade credit, the address's externalId, the
// farm data or the ERP flags; those stay zero. The billing address's street
// arrives as one line and lands in Billing.Street. The ONe client id is
// stored in PlatformIDs.ONe.
func FromONe(cl oneapi.Client) Customer {
	c := Customer{
		ERPKey:                     cl.ExternalID,
		Type:                       fromOneType(cl.CustomerType),
		Name:                       cl.Name,
		TIN:                        cl.Tin,
		TINCode:                    string(deref(cl.TinCode)),
		BusinessRegistrationNumber: deref(cl.BusinessRegistrationNumber),
		Billing: Address{
			Name:        cl.BillingAddress.Name,
			Street:      cl.BillingAddress.Street,
			Postcode:    cl.BillingAddress.ZipCode,
			City:        cl.BillingAddress.City,
			CountryName: cl.BillingAddress.Country,
			Phone:       cl.BillingAddress.Phone,
		},
		Phone:                   cl.Phone,
		InvoiceEmail:            cl.InvoiceEmail,
		AdditionalInvoiceEmails: slices.Clone(cl.AdditionalInvoiceEmails),
		InvoiceAgreement:        cl.InvoiceAgreement,
		Currency:                string(deref(cl.Currency)),
		TaxPayer:                cl.IsTaxPayer,
		TaxType:                 string(deref(cl.ClientTaxType)),
		ClientStatus:            string(deref(cl.ClientStatus)),
		WarehouseID:             cl.WarehouseID,
		AdditionalWarehouseIDs:  slices.Clone(cl.AdditionalWarehousesIDs),
		PaymentID:               deref(cl.PaymentID),
		TermPaymentID:           cl.TermPaymentID,
		PayerID:                 cl.PayerID,
		BankAccount:             deref(cl.BankAccountNumber),
		AdditionalFields:        fromOneAdditional(cl.AdditionalFields),
		PlatformIDs:             PlatformIDs{ONe: cl.ID},
	}
	for _, a := range cl.AccountType {
		c.AccountTypes = append(c.AccountTypes, string(a))
	}
	if cl.AccountManager != nil {
		c.AccountManagerID = cl.AccountManager.ID
	}
	switch {
	case cl.Segments != nil:
		c.SegmentID = cl.Segments.MainSegmentID
		c.AdditionalSegmentIDs = slices.Clone(cl.Segments.AdditionalSegmentsIDs)
	case cl.SegmentID != "":
		c.SegmentID = cl.SegmentID
	}
	if cl.AccountBlockade != nil {
		c.BlockadeID = cl.AccountBlockade.ID
	}
	if cl.FirstUser != nil {
		c.Admin = Contact{Name: cl.FirstUser.Name, Email: cl.FirstUser.Email, Phone: cl.FirstUser.Phone}
	}
	if c.Billing.Name == c.Name {
		// The address name defaults to the customer name on the way out;
		// keep the canonical form minimal on the way back.
		c.Billing.Name = ""
	}
	if c.Billing.Phone == c.Phone {
		c.Billing.Phone = ""
	}
	c.Normalize()
	return c
}
