// Package mapping holds the canonical Customer that every part of the
// connector speaks, its translation to and from the ONe client models, its
// field-level validation, a stable content hash per platform and the
// declarative field rules that turn ERP columns into a Customer and back.
//
// The package does no I/O: every function is pure and safe for concurrent use.
//
// The Customer API translation (organisation, farm business unit, business,
// certificate) is added in customerapi.go; the canonical type already carries
// every farm field it needs.
package mapping

import (
	"slices"
	"time"
)

// Type is the kind of customer: a company or an individual.
type Type string

// Customer types.
const (
	Company    Type = "company"
	Individual Type = "individual"
)

// Valid reports whether t is a known customer type.
func (t Type) Valid() bool { return t == Company || t == Individual }

// Customer is the canonical customer record. It is plain data: comparable
// field by field, copied by value (slices aside) and free of I/O.
type Customer struct {
	// ERPKey is the customer's key in the ERP; it is the externalId on ONe.
	ERPKey string `json:"erpKey"`
	// Type is company or individual.
	Type Type `json:"type"`
	// Name is the full customer name.
	Name string `json:"name,omitempty"`
	// InternalNickname is an internal short name (ONe, write-only).
	InternalNickname string `json:"internalNickname,omitempty"`

	// TIN is the taxpayer identification number (NIP in Poland). Required for companies.
	TIN string `json:"tin,omitempty"`
	// TINCode is the EU tin prefix (Greece is EL).
	TINCode string `json:"tinCode,omitempty"`
	// BusinessRegistrationNumber is the business registration number (REGON in Poland).
	BusinessRegistrationNumber string `json:"businessRegistrationNumber,omitempty"`
	// VATID is the VAT or sales tax id (e.g. "GB123456789").
	VATID string `json:"vatId,omitempty"`
	// CompanyNumber is the company register number (Companies House, KRS).
	CompanyNumber string `json:"companyNumber,omitempty"`

	// Billing is the billing address.
	Billing Address `json:"billing"`

	// Phone is the customer's main phone number.
	Phone string `json:"phone,omitempty"`
	// Email is the customer's main e-mail address.
	Email string `json:"email,omitempty"`
	// InvoiceEmail is the e-invoice address.
	InvoiceEmail string `json:"invoiceEmail,omitempty"`
	// AdditionalInvoiceEmails are further e-invoice addresses.
	AdditionalInvoiceEmails []string `json:"additionalInvoiceEmails,omitempty"`
	// InvoiceAgreement records consent to electronic invoices.
	InvoiceAgreement bool `json:"invoiceAgreement,omitempty"`

	// Currency is an ISO 4217 code.
	Currency string `json:"currency,omitempty"`
	// TaxPayer reports whether the customer is a VAT payer.
	TaxPayer bool `json:"taxPayer,omitempty"`
	// TaxType is COUNTRY, EXPORT or EXPORT_EU.
	TaxType string `json:"taxType,omitempty"`
	// ClientStatus is LEAD, PROSPECT or CLIENT.
	ClientStatus string `json:"clientStatus,omitempty"`
	// AccountTypes lists CLIENT and/or SUPPLIER.
	AccountTypes []string `json:"accountTypes,omitempty"`

	// AccountManagerID is the platform id of the account manager.
	AccountManagerID string `json:"accountManagerId,omitempty"`
	// WarehouseID is the main warehouse id.
	WarehouseID string `json:"warehouseId,omitempty"`
	// AdditionalWarehouseIDs are further warehouse ids.
	AdditionalWarehouseIDs []string `json:"additionalWarehouseIds,omitempty"`
	// SegmentID is the main segment id.
	SegmentID string `json:"segmentId,omitempty"`
	// AdditionalSegmentIDs are further segment ids.
	AdditionalSegmentIDs []string `json:"additionalSegmentIds,omitempty"`
	// PaymentID is the payment method id.
	PaymentID string `json:"paymentId,omitempty"`
	// TermPaymentID is the payment term id.
	TermPaymentID string `json:"termPaymentId,omitempty"`
	// PayerID is the platform id of the paying client (ONe payerId).
	PayerID string `json:"payerId,omitempty"`
	// TradeCreditLimit is the granted trade credit; nil means not managed.
	TradeCreditLimit *float64 `json:"tradeCreditLimit,omitempty"`
	// BlockadeID is the id of the account blockade in force, if any.
	BlockadeID string `json:"blockadeId,omitempty"`
	// BankAccount is the customer's individual bank account number.
	BankAccount string `json:"bankAccount,omitempty"`

	// Admin is the first (administrator) user of the customer's account.
	Admin Contact `json:"admin"`
	// AdditionalFields are tenant-configured extra fields, sorted by name.
	AdditionalFields []AdditionalField `json:"additionalFields,omitempty"`

	// Farm holds the agricultural data used by the Customer API.
	Farm Farm `json:"farm"`

	// Flags says which platforms the ERP wants this customer sent to.
	Flags Flags `json:"flags"`
	// PlatformIDs are the ids the platforms assigned.
	PlatformIDs PlatformIDs `json:"platformIds"`
	// UpdatedAt is when the ERP last changed the record (zero if unknown).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// Deleted marks a customer removed in the ERP.
	Deleted bool `json:"deleted,omitempty"`
}

// Address is a postal address.
type Address struct {
	// Name is the addressee (company or branch name).
	Name string `json:"name,omitempty"`
	// Street is the first address line (street and number).
	Street string `json:"street,omitempty"`
	// Line2 is the second address line.
	Line2 string `json:"line2,omitempty"`
	// Line3 is the third address line.
	Line3 string `json:"line3,omitempty"`
	// Postcode is the postal code.
	Postcode string `json:"postcode,omitempty"`
	// City is the town or city.
	City string `json:"city,omitempty"`
	// Region is the county, voivodeship or state.
	Region string `json:"region,omitempty"`
	// CountryName is the country as free text (ONe shows it as given, e.g. "Polska").
	CountryName string `json:"countryName,omitempty"`
	// CountryISO2 is the ISO 3166-1 alpha-2 code (the Customer API needs it).
	CountryISO2 string `json:"countryIso2,omitempty"`
	// Phone is the phone number at the address.
	Phone string `json:"phone,omitempty"`
	// ExternalID is the ERP key of the address (ONe address externalId);
	// empty means "<ERPKey>-billing".
	ExternalID string `json:"externalId,omitempty"`
}

// Contact is a person.
type Contact struct {
	// Name is the person's full name.
	Name string `json:"name,omitempty"`
	// Email is the person's e-mail address.
	Email string `json:"email,omitempty"`
	// Phone is the person's phone number.
	Phone string `json:"phone,omitempty"`
}

// IsZero reports whether no field of c is set.
func (c Contact) IsZero() bool { return c == Contact{} }

// AdditionalField is one tenant-configured extra field. Value is a string,
// a float64 or a bool.
type AdditionalField struct {
	// Name is the field's key.
	Name string `json:"name"`
	// Label is the field's display label.
	Label string `json:"label,omitempty"`
	// Value is a string, float64 or bool.
	Value any `json:"value"`
}

// Farm holds the agricultural data of a customer that is a farm.
type Farm struct {
	// HoldingNumber is the holding number (UK County Parish Holding "11/111/1111").
	HoldingNumber string `json:"holdingNumber,omitempty"`
	// AssuranceScheme is RT (Red Tractor) or SQC (Scottish Quality Crops).
	AssuranceScheme string `json:"assuranceScheme,omitempty"`
	// SQCNumber is the Scottish Quality Crops membership number.
	SQCNumber string `json:"sqcNumber,omitempty"`
	// SQCAssured reports whether the SQC membership is assured.
	SQCAssured bool `json:"sqcAssured,omitempty"`
	// What3Words is the what3words address of the farm ("filled.count.soap").
	What3Words string `json:"what3words,omitempty"`
	// Latitude of the farm; set together with Longitude.
	Latitude *float64 `json:"latitude,omitempty"`
	// Longitude of the farm; set together with Latitude.
	Longitude *float64 `json:"longitude,omitempty"`
	// CertificateStatus is the assurance certificate status (Valid, Grace, Expired).
	CertificateStatus string `json:"certificateStatus,omitempty"`
	// CertificateIdentifier is the assurance certificate id.
	CertificateIdentifier string `json:"certificateIdentifier,omitempty"`
	// CertificateExpiry is the certificate's expiry date, "YYYY-MM-DD".
	CertificateExpiry string `json:"certificateExpiry,omitempty"`
}

// IsZero reports whether no farm field is set.
func (f Farm) IsZero() bool {
	return f.HoldingNumber == "" && f.AssuranceScheme == "" && f.SQCNumber == "" && !f.SQCAssured &&
		f.What3Words == "" && f.Latitude == nil && f.Longitude == nil && f.CertificateStatus == "" &&
		f.CertificateIdentifier == "" && f.CertificateExpiry == ""
}

// Flags are the ERP's per-platform sync check boxes.
type Flags struct {
	// ONe asks for the customer to be kept in sync with ONe.
	ONe bool `json:"one,omitempty"`
	// CustomerAPI asks for the customer to be kept in sync with the Customer API.
	CustomerAPI bool `json:"customerApi,omitempty"`
}

// Any reports whether any platform flag is set.
func (f Flags) Any() bool { return f.ONe || f.CustomerAPI }

// Get returns the flag of p.
func (f Flags) Get(p Platform) bool {
	switch p {
	case PlatformONe:
		return f.ONe
	case PlatformCustomerAPI:
		return f.CustomerAPI
	}
	return false
}

// Set sets the flag of p.
func (f *Flags) Set(p Platform, v bool) {
	switch p {
	case PlatformONe:
		f.ONe = v
	case PlatformCustomerAPI:
		f.CustomerAPI = v
	}
}

// Platform names a platform the connector syncs with.
type Platform string

// Platforms.
const (
	PlatformONe         Platform = "one"
	PlatformCustomerAPI Platform = "customerapi"
)

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool { return p == PlatformONe || p == PlatformCustomerAPI }

// PlatformIDs are the ids the platforms assigned to a customer.
type PlatformIDs struct {
	// ONe is the ONe client id ("org:…" or "ind:…").
	ONe string `json:"one,omitempty"`
	// CustomerAPI is the Customer API organisation id.
	CustomerAPI string `json:"customerApi,omitempty"`
}

// Get returns the id for p.
func (p PlatformIDs) Get(pl Platform) string {
	switch pl {
	case PlatformONe:
		return p.ONe
	case PlatformCustomerAPI:
		return p.CustomerAPI
	}
	return ""
}

// Set stores id for p; it reports false for an unknown platform.
func (p *PlatformIDs) Set(pl Platform, id string) bool {
	switch pl {
	case PlatformONe:
		p.ONe = id
	case PlatformCustomerAPI:
		p.CustomerAPI = id
	default:
		return false
	}
	return true
}

// Clone returns a deep copy of c.
func (c Customer) Clone() Customer {
	out := c
	out.AdditionalInvoiceEmails = slices.Clone(c.AdditionalInvoiceEmails)
	out.AccountTypes = slices.Clone(c.AccountTypes)
	out.AdditionalWarehouseIDs = slices.Clone(c.AdditionalWarehouseIDs)
	out.AdditionalSegmentIDs = slices.Clone(c.AdditionalSegmentIDs)
	out.AdditionalFields = slices.Clone(c.AdditionalFields)
	if c.TradeCreditLimit != nil {
		v := *c.TradeCreditLimit
		out.TradeCreditLimit = &v
	}
	if c.Farm.Latitude != nil {
		v := *c.Farm.Latitude
		out.Farm.Latitude = &v
	}
	if c.Farm.Longitude != nil {
		v := *c.Farm.Longitude
		out.Farm.Longitude = &v
	}
	return out
}

// Normalize puts c in canonical form in place: empty slices become nil and
// additional fields are sorted by name. Translations return normalized values.
func (c *Customer) Normalize() {
	c.AdditionalInvoiceEmails = nilIfEmpty(c.AdditionalInvoiceEmails)
	c.AccountTypes = nilIfEmpty(c.AccountTypes)
	c.AdditionalWarehouseIDs = nilIfEmpty(c.AdditionalWarehouseIDs)
	c.AdditionalSegmentIDs = nilIfEmpty(c.AdditionalSegmentIDs)
	if len(c.AdditionalFields) == 0 {
		c.AdditionalFields = nil
	} else {
		slices.SortStableFunc(c.AdditionalFields, func(a, b AdditionalField) int {
			switch {
			case a.Name < b.Name:
				return -1
			case a.Name > b.Name:
				return 1
			}
			return 0
		})
	}
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// AddressExternalID returns the billing address key sent to ONe.
func (c Customer) AddressExternalID() string {
	if c.Billing.ExternalID != "" {
		return c.Billing.ExternalID
	}
	return c.ERPKey + "-billing"
}
