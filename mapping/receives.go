package mapping

import "strings"

// coreFields are the fields every record needs whatever platform it goes
// to (ValidateCore), and the system fields the ERP adapters report on.
var coreFields = map[string]bool{"key": true, "type": true, "deleted": true}

// oneFields are the canonical fields ONe receives (ToONeWrite and the
// partial bodies). ONe does not receive vat_id, company_number,
// billing.region, billing.country_iso2, email or the farm fields.
var oneFields = map[string]bool{
	"name": true, "internal_nickname": true, "tin": true, "tin_code": true, "business_registration_number": true,
	"billing.name": true, "billing.street": true, "billing.line2": true, "billing.line3": true,
	"billing.postcode": true, "billing.city": true, "billing.country_name": true, "billing.phone": true,
	"billing.external_id": true, "phone": true, "invoice_email": true, "additional_invoice_emails": true,
	invoiceEmailsField: true, "invoice_agreement": true, "currency": true, "tax_payer": true, "tax_type": true,
	"client_status": true, "account_types": true, "account_manager_id": true, "warehouse_id": true,
	"additional_warehouse_ids": true, "segment_id": true, "additional_segment_ids": true, "payment_id": true,
	"term_payment_id": true, "payer_id": true, "trade_credit_limit": true, "blockade_id": true,
	"bank_account": true, "admin.name": true, "admin.email": true, "admin.phone": true, "additional": true,
}

// oneOrganisationOnly are the ONe fields sent for companies only.
var oneOrganisationOnly = map[string]bool{"tin": true, "internal_nickname": true, "tax_payer": true, "trade_credit_limit": true}

// customerAPIFields are the canonical fields the Customer API receives
// (the organisation body and the farm business unit). It does not receive
// the type, the tax numbers but vat_id, billing.phone, the invoice, ONe
// and finance fields, the additional fields or the certificate (which
// comes from the platform).
var customerAPIFields = map[string]bool{
	"name": true, "company_number": true, "vat_id": true,
	"billing.name": true, "billing.street": true, "billing.line2": true, "billing.line3": true,
	"billing.postcode": true, "billing.city": true, "billing.region": true, "billing.country_name": true,
	"billing.country_iso2": true, "admin.name": true, "admin.email": true, "admin.phone": true,
	"farm.holding_number": true, "farm.assurance_scheme": true, "farm.sqc_number": true, "farm.sqc_assured": true,
	"farm.what3words": true, "farm.latitude": true, "farm.longitude": true, "farm.coordinates": true,
}

// customerAPIFarmOnly are the Customer API fields sent for a farm only
// (the farm business's phone and e-mail).
var customerAPIFarmOnly = map[string]bool{"phone": true, "email": true}

// baseField reduces a field error's name to its canonical field:
// "account_types[1]" → "account_types", "additional.colour.label" and
// "additional_fields[0]" → "additional".
func baseField(field string) string {
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	if strings.HasPrefix(field, additionalPrefix) || field == "additional_fields" {
		return "additional"
	}
	return field
}

// Receives reports whether platform p receives field (a canonical field
// or a field error's name) of c: only then may a problem with the field
// keep c from p. The core fields (key, type) and the adapters' system
// fields (deleted, flags.*) concern every platform.
func Receives(p Platform, c Customer, field string) bool {
	f := baseField(field)
	if coreFields[f] || strings.HasPrefix(f, "flags.") {
		return true
	}
	switch p {
	case PlatformONe:
		if oneOrganisationOnly[f] {
			return c.Type != Individual
		}
		return oneFields[f]
	case PlatformCustomerAPI:
		if customerAPIFarmOnly[f] {
			return HasFarm(c)
		}
		return customerAPIFields[f]
	}
	return false
}

// ReceivedFields returns the canonical fields (of FieldNames, plus
// "additional" for the additional fields) platform p can receive.
func ReceivedFields(p Platform) []string {
	var out []string
	for _, f := range append(FieldNames(), "additional") {
		switch p {
		case PlatformONe:
			if oneFields[f] {
				out = append(out, f)
			}
		case PlatformCustomerAPI:
			if customerAPIFields[f] || customerAPIFarmOnly[f] {
				out = append(out, f)
			}
		}
	}
	return out
}

// For returns the problems of e that concern platform p (see Receives),
// or nil when none does. e is left alone.
func (e *ValidationError) For(p Platform, c Customer) *ValidationError {
	if e == nil {
		return nil
	}
	out := &ValidationError{Key: e.Key}
	for _, f := range e.Fields {
		if Receives(p, c, f.Field) {
			out.Fields = append(out.Fields, f)
		}
	}
	if len(out.Fields) == 0 {
		return nil
	}
	return out
}

func (v *validator) only(p Platform, c Customer) {
	kept := v.errs[:0]
	for _, f := range v.errs {
		if Receives(p, c, f.Field) {
			kept = append(kept, f)
		}
	}
	v.errs = kept
}
