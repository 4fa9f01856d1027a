package oneapi

import "slices"

// CustomerType is COMPANY (ids "org:…") or INDIVIDUAL (ids "ind:…").
type CustomerType string

// Customer types.
const (
	CustomerCompany    CustomerType = "COMPANY"
	CustomerIndividual CustomerType = "INDIVIDUAL"
)

// Valid reports whether t is a known customer type.
func (t CustomerType) Valid() bool { return t == CustomerCompany || t == CustomerIndividual }

// IDPrefix returns the client id prefix of the type ("org:" or "ind:").
func (t CustomerType) IDPrefix() string {
	if t == CustomerIndividual {
		return "ind:"
	}
	return "org:"
}

// AccountType is CLIENT or SUPPLIER.
type AccountType string

// Account types.
const (
	AccountClient   AccountType = "CLIENT"
	AccountSupplier AccountType = "SUPPLIER"
)

// Valid reports whether a is a known account type.
func (a AccountType) Valid() bool { return a == AccountClient || a == AccountSupplier }

// ClientStatus is the client's sales-funnel status.
type ClientStatus string

// Client statuses.
const (
	StatusLead     ClientStatus = "LEAD"
	StatusProspect ClientStatus = "PROSPECT"
	StatusClient   ClientStatus = "CLIENT"
)

// Valid reports whether s is a known status.
func (s ClientStatus) Valid() bool {
	return s == StatusLead || s == StatusProspect || s == StatusClient
}

// ClientTaxType is the VAT treatment.
type ClientTaxType string

// Tax types.
const (
	TaxCountry  ClientTaxType = "COUNTRY"
	TaxExport   ClientTaxType = "EXPORT"
	TaxExportEU ClientTaxType = "EXPORT_EU"
)

// Valid reports whether t is a known tax type.
func (t ClientTaxType) Valid() bool { return t == TaxCountry || t == TaxExport || t == TaxExportEU }

// TinCode is the EU prefix of a tax id (Greece is EL).
type TinCode string

// TinCodes lists the EU tin codes the platform accepts, in its order.
var TinCodes = []TinCode{"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "FI", "FR", "EL", "ES",
	"HR", "HU", "IE", "IT", "LT", "MT", "NL", "LU", "LV", "PL", "PT", "RO", "SK", "SI", "SE"}

// Valid reports whether c is a known tin code.
func (c TinCode) Valid() bool { return slices.Contains(TinCodes, c) }

// Currency is an ISO 4217 code from the platform's list.
type Currency string

// Currencies lists the currency codes the platform accepts (its own list,
// which keeps some withdrawn codes).
var Currencies = []Currency{"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
	"BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP",
	"BYR", "BZD", "CAD", "CDF", "CHF", "CLF", "CLP", "CNY", "COP", "CRC", "CUC", "CUP", "CVE", "CZK",
	"DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
	"GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR",
	"ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK",
	"LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRO", "MUR",
	"MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
	"PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
	"SDG", "SEK", "SGD", "SHP", "SLL", "SOS", "SRD", "SSP", "STD", "SYP", "SZL", "THB", "TJS", "TMT",
	"TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "USS", "UYU", "UZS", "VEF",
	"VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XDR", "XFU", "XOF",
	"XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW"}

// Valid reports whether c is in the platform's currency list.
func (c Currency) Valid() bool { return slices.Contains(Currencies, c) }

// BlockadeType is the kind of account blockade.
type BlockadeType string

// Blockade types.
const (
	BlockadeTradeCredit BlockadeType = "TRADE_CREDIT"
	BlockadeSale        BlockadeType = "SALE"
	BlockadeClient      BlockadeType = "CLIENT"
)

// SyncEventType is the kind of change in the feed.
type SyncEventType string

// Feed event types.
const (
	EventCreate SyncEventType = "CREATE"
	EventUpdate SyncEventType = "UPDATE"
	EventDelete SyncEventType = "DELETE"
)

// Context is where a change came from.
type Context string

// Change contexts. APP and INTEGRATION are legacy aliases the platform still accepts.
const (
	ContextApplication  Context = "APPLICATION"
	ContextBackoffice   Context = "BACKOFFICE"
	ContextInternal     Context = "INTERNAL"
	ContextIntegrations Context = "INTEGRATIONS"
	ContextApp          Context = "APP"
	ContextIntegration  Context = "INTEGRATION"
)

// AllContexts are the current context names, the feed's default.
var AllContexts = []Context{ContextApplication, ContextBackoffice, ContextInternal, ContextIntegrations}

// Canonical maps a legacy alias to its current name; ok is false for an unknown value.
func (c Context) Canonical() (Context, bool) {
	switch c {
	case ContextApplication, ContextApp:
		return ContextApplication, true
	case ContextIntegrations, ContextIntegration:
		return ContextIntegrations, true
	case ContextBackoffice, ContextInternal:
		return c, true
	}
	return "", false
}
