package oneapitest

import (
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/oneapi"
)

// maxText is the longest text value the server stores in one field.
const maxText = 255

var clientIDPattern = regexp.MustCompile(`^(org|ind):[0-9a-f-]{36}$`)

// ValidClientID reports whether id has the platform's client id form.
func ValidClientID(id string) bool { return clientIDPattern.MatchString(id) }

// OpError is a refused operation: its status, message and field problems.
type OpError struct {
	Status  int
	Message string
	Fields  []apierr.FieldError
}

func (e *OpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oneapitest: %d %s", e.Status, e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

func (e *OpError) write(w http.ResponseWriter) {
	if e.Fields != nil {
		writeFieldErrs(w, e.Status, e.Message, e.Fields)
		return
	}
	writeErr(w, e.Status, e.Message)
}

func notFound(what string) *OpError {
	return &OpError{Status: http.StatusNotFound, Message: what + " not found"}
}

func invalid(fields []apierr.FieldError) *OpError {
	if len(fields) == 0 {
		return nil
	}
	return &OpError{Status: http.StatusBadRequest, Message: "validation failed", Fields: fields}
}

// problems collects field errors.
type problems []apierr.FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, apierr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) text(field, v string, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		p.add(field, "must not be blank")
	case !utf8.ValidString(v):
		p.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > maxText:
		p.add(field, "must be at most %d characters", maxText)
	}
}

func (p *problems) email(field, v string, required bool) {
	if v == "" {
		if required {
			p.add(field, "must not be blank")
		}
		return
	}
	if !validEmail(v) {
		p.add(field, "must be a valid e-mail address")
	}
}

func validEmail(v string) bool {
	if len(v) > maxText {
		return false
	}
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && a.Name == ""
}

func (p *problems) address(prefix string, a *oneapi.Address) {
	if a == nil {
		p.add(prefix, "is required")
		return
	}
	p.text(prefix+".city", a.City, true)
	p.text(prefix+".country", a.Country, true)
	p.text(prefix+".externalId", a.ExternalID, true)
	p.text(prefix+".name", a.Name, true)
	p.text(prefix+".phone", a.Phone, true)
	p.text(prefix+".street", a.Street, true)
	p.text(prefix+".zipCode", a.ZipCode, true)
}

func (p *problems) additionalFields(prefix string, m map[string]oneapi.AdditionalField) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := m[k]
		field := prefix + "." + k
		if strings.TrimSpace(k) == "" {
			p.add(prefix, "keys must not be blank")
			continue
		}
		p.text(field+".name", f.Name, true)
		p.text(field+".label", f.Label, false)
		switch v := f.Value.(type) {
		case string:
			p.text(field+".value", v, false)
		case float64, bool:
		case nil:
			p.add(field+".value", "is required (a string, number or boolean)")
		default:
			p.add(field+".value", "must be a string, number or boolean")
		}
	}
}

func (p *problems) enums(d *oneapi.ClientWrite) {
	for i, a := range d.AccountType {
		if !a.Valid() {
			p.add(fmt.Sprintf("accountType[%d]", i), "must be one of CLIENT, SUPPLIER")
		}
	}
	if d.ClientStatus != "" && !d.ClientStatus.Valid() {
		p.add("clientStatus", "must be one of LEAD, PROSPECT, CLIENT")
	}
	if d.ClientTaxType != "" && !d.ClientTaxType.Valid() {
		p.add("clientTaxType", "must be one of COUNTRY, EXPORT, EXPORT_EU")
	}
	if d.Currency != "" && !d.Currency.Valid() {
		p.add("currency", "must be an ISO 4217 currency code")
	}
	if d.TinCode != "" && !d.TinCode.Valid() {
		p.add("tinCode", "must be an EU tin code (e.g. PL, DE, EL)")
	}
}

// validateWrite checks a create or full-update body. existing is nil on create.
func (t *tenant) validateWrite(d *oneapi.ClientWrite, existing *client, requireExternalID bool) *OpError {
	var p problems
	switch {
	case d.CustomerType == "" && existing == nil:
		p.add("customerType", "is required")
	case d.CustomerType != "" && !d.CustomerType.Valid():
		p.add("customerType", "must be one of INDIVIDUAL, COMPANY")
	case existing != nil && d.CustomerType != "" && d.CustomerType != existing.Data.CustomerType:
		p.add("customerType", "cannot change (client is %s)", existing.Data.CustomerType)
	}
	typ := d.CustomerType
	if existing != nil {
		typ = existing.Data.CustomerType
	}
	p.text("externalId", d.ExternalID, requireExternalID)
	p.address("address", d.Address)
	if typ == oneapi.CustomerCompany {
		p.text("tin", d.Tin, true)
	} else {
		p.text("tin", d.Tin, false)
	}
	for field, v := range map[string]string{
		"bankAccountNumber": d.BankAccountNumber, "businessRegistrationNumber": d.BusinessRegistrationNumber,
		"internalNickname": d.InternalNickname, "name": d.Name, "paymentId": d.PaymentID, "phone": d.Phone,
		"termPaymentId": d.TermPaymentID, "warehouseId": d.WarehouseID, "segment": d.Segment, "segmentId": d.SegmentID,
	} {
		p.text(field, v, false)
	}
	p.enums(d)
	if d.AccountManagerID != "" {
		if _, ok := t.Managers[d.AccountManagerID]; !ok {
			p.add("accountManagerId", "unknown account manager %q", d.AccountManagerID)
		}
	}
	if d.Admin != nil {
		p.email("admin.email", d.Admin.Email, true)
		p.text("admin.name", d.Admin.Name, false)
		p.text("admin.phone", d.Admin.Phone, false)
	}
	if d.Invoice != nil {
		p.email("invoice.email", d.Invoice.Email, false)
		for i, e := range d.Invoice.AdditionalEmails {
			p.email(fmt.Sprintf("invoice.additionalEmails[%d]", i), e, true)
		}
	}
	for i, wh := range d.AdditionalWarehousesIDs {
		p.text(fmt.Sprintf("additionalWarehousesIds[%d]", i), wh, true)
	}
	if d.Segments != nil {
		p.text("segments.mainSegmentId", d.Segments.MainSegmentID, false)
		for i, sg := range d.Segments.AdditionalSegmentsIDs {
			p.text(fmt.Sprintf("segments.additionalSegmentsIds[%d]", i), sg, true)
		}
	}
	p.additionalFields("additionalFields", d.AdditionalFields)
	if err := invalid(p); err != nil {
		return err
	}
	if d.ExternalID != "" {
		if other, ok := t.External[d.ExternalID]; ok && (existing == nil || other != existing.ID) {
			return &OpError{Status: http.StatusConflict,
				Message: fmt.Sprintf("client with externalId %s already exists", d.ExternalID),
				Fields:  []apierr.FieldError{{Field: "externalId", Message: "already used by another client"}}}
		}
	}
	return nil
}

// render turns a stored client into the read model.
func (t *tenant) render(c *client) oneapi.Client {
	d := &c.Data
	out := oneapi.Client{
		ID:           c.ID,
		ExternalID:   d.ExternalID,
		CustomerType: d.CustomerType,
		Name:         d.Name,
		Tin:          d.Tin,
		BillingAddress: oneapi.BillingAddress{
			ID: c.AddressID, Type: oneapi.AddressTypeBilling,
		},
		WarehouseID:                d.WarehouseID,
		AdditionalWarehousesIDs:    nonNil(d.AdditionalWarehousesIDs),
		TermPaymentID:              d.TermPaymentID,
		IsTaxPayer:                 d.IsTaxPayer != nil && *d.IsTaxPayer,
		InvoiceAgreement:           d.InvoiceAgreement != nil && *d.InvoiceAgreement,
		AdditionalInvoiceEmails:    []string{},
		Phone:                      d.Phone,
		BankAccountNumber:          strPtr(d.BankAccountNumber),
		PaymentID:                  strPtr(d.PaymentID),
		BusinessRegistrationNumber: strPtr(d.BusinessRegistrationNumber),
		PayerID:                    c.PayerID,
		AccountType:                []oneapi.AccountType{},
	}
	if d.Address != nil {
		a := d.Address
		out.BillingAddress.Name, out.BillingAddress.Street, out.BillingAddress.ZipCode = a.Name, a.Street, a.ZipCode
		out.BillingAddress.City, out.BillingAddress.Country, out.BillingAddress.Phone = a.City, a.Country, a.Phone
	}
	if out.PayerID == "" {
		out.PayerID = c.ID
	}
	m, ok := t.Managers[d.AccountManagerID]
	if !ok {
		m = t.Managers[DefaultAccountManagerID]
	}
	out.AccountManager = &m
	main := d.SegmentID
	var additional []string
	if d.Segments != nil {
		if d.Segments.MainSegmentID != "" {
			main = d.Segments.MainSegmentID
		}
		additional = d.Segments.AdditionalSegmentsIDs
	}
	out.Segment, out.SegmentID = main, main
	out.Segments = &oneapi.Segments{MainSegmentID: main, AdditionalSegmentsIDs: nonNil(additional)}
	if ext, ok := t.Segments[main]; ok && main != "" {
		out.Segments.ExternalSegmentID = &ext
	}
	if d.Invoice != nil {
		out.InvoiceEmail = d.Invoice.Email
		out.AdditionalInvoiceEmails = nonNil(d.Invoice.AdditionalEmails)
	}
	if b, ok := t.Blockades[c.BlockadeID]; ok && c.BlockadeID != "" {
		out.AccountBlockade = &b
	}
	if u := t.Users[c.FirstUserID]; u != nil {
		cp := *u
		out.FirstUser = &cp
	}
	if len(d.AdditionalFields) > 0 {
		out.AdditionalFields = make(map[string]oneapi.AdditionalField, len(d.AdditionalFields))
		for k, v := range d.AdditionalFields {
			out.AdditionalFields[k] = v
		}
	}
	if d.Currency != "" {
		cur := d.Currency
		out.Currency = &cur
	}
	if d.TinCode != "" {
		tc := d.TinCode
		out.TinCode = &tc
	}
	if len(d.AccountType) > 0 {
		out.AccountType = slices.Clone(d.AccountType)
	}
	if d.ClientStatus != "" {
		cs := d.ClientStatus
		out.ClientStatus = &cs
	}
	if d.ClientTaxType != "" {
		tt := d.ClientTaxType
		out.ClientTaxType = &tt
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// organisationOnly clears the fields that apply to organisations only when
// the client is an individual (the platform ignores them there).
func organisationOnly(d *oneapi.ClientWrite, typ oneapi.CustomerType) {
	if typ == oneapi.CustomerIndividual {
		d.Tin, d.IsTaxPayer, d.TermPaymentID, d.InternalNickname = "", nil, "", ""
	}
}
