package mapping

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/oneapi"
)

// ValidationError lists every field-level problem of one record. It wraps
// apierr.ErrPermanent, so apierr.Classify reports it as Permanent.
type ValidationError struct {
	// Key is the record's ERP key, when known.
	Key string
	// Fields are the problems, in field order.
	Fields []apierr.FieldError
}

// Error lists every field problem on one line, after the record's key.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("mapping: invalid customer")
	if e.Key != "" {
		fmt.Fprintf(&b, " %q", e.Key)
	}
	if len(e.Fields) > 0 {
		b.WriteString(": ")
		b.WriteString(e.Problems())
	}
	return b.String()
}

// Problems lists the field problems alone ("tin: is required; email: …"),
// for a message that names the record already.
func (e *ValidationError) Problems() string {
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Unwrap marks the error as permanent.
func (e *ValidationError) Unwrap() error { return apierr.ErrPermanent }

// Has reports whether field has a problem.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Field length limits (in characters).
const (
	maxKey     = 100
	maxName    = 255
	maxShort   = 64
	maxLine    = 255
	maxEmail   = 254
	maxFreeID  = 100
	minPhoneDg = 6
	maxPhoneDg = 15
)

var (
	reTIN        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 .\-/]{0,31}$`)
	reCPH        = regexp.MustCompile(`^\d{2}/\d{3}/\d{4}$`)
	reHolding    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/ .\-]{0,31}$`)
	reDate       = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	rePhoneChars = regexp.MustCompile(`^\+?[0-9 ()./\-]+$`)
)

type validator struct {
	errs []apierr.FieldError
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, apierr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// text checks UTF-8 validity, control characters and length; it reports
// whether the value passed.
func (v *validator) text(field, s string, max int) bool {
	if s == "" {
		return true
	}
	if !utf8.ValidString(s) {
		v.add(field, "is not valid UTF-8")
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			v.add(field, "contains a control character")
			return false
		}
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.add(field, "is %d characters long, at most %d allowed", n, max)
		return false
	}
	return true
}

func (v *validator) email(field, s string) {
	if s == "" || !v.text(field, s, maxEmail) {
		return
	}
	if !ValidEmail(s) {
		v.add(field, "is not a valid e-mail address")
	}
}

func (v *validator) phone(field, s string) {
	if s == "" || !v.text(field, s, maxShort) {
		return
	}
	if !ValidPhone(s) {
		v.add(field, "is not a valid phone number (%d to %d digits, optional leading +)", minPhoneDg, maxPhoneDg)
	}
}

// ValidEmail reports whether s is a bare e-mail address (no display name).
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

// ValidPhone reports whether s looks like a phone number: digits with
// spaces, dots, dashes, slashes or parentheses, an optional leading +, and
// 6 to 15 digits.
func ValidPhone(s string) bool {
	if !rePhoneChars.MatchString(s) {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n >= minPhoneDg && n <= maxPhoneDg
}

// ValidISO2 reports whether s is an upper-case ISO 3166-1 alpha-2 country code.
func ValidISO2(s string) bool {
	if len(s) != 2 || strings.ToUpper(s) != s {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.String() == s && r.ISO3() != "ZZZ"
}

// ISO3 returns the ISO 3166-1 alpha-3 code of an alpha-2 code.
func ISO3(iso2 string) (string, bool) {
	if !ValidISO2(iso2) {
		return "", false
	}
	r, _ := language.ParseRegion(iso2)
	return r.ISO3(), true
}

// ValidISO3 reports whether s is an upper-case ISO 3166-1 alpha-3 country code.
func ValidISO3(s string) bool {
	if len(s) != 3 || strings.ToUpper(s) != s {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.ISO3() == s
}

// ValidateChange is Validate for a write over a record the ERP holds
// already (before; nil for a new record, which is Validate): a field's
// problem counts only when the write changes that field's value. A value
// the ERP holds and the write leaves as it is was not brought by the
// write (a tin code ONe refuses does not keep a farm's Customer API change
// out of the ERP that holds it). A field the check cannot read a value of
// counts as changed.
func ValidateChange(before *Customer, after Customer) error {
	err := Validate(after)
	ve, ok := errors.AsType[*ValidationError](err)
	if before == nil || !ok {
		return err
	}
	var kept []apierr.FieldError
	for _, f := range ve.Fields {
		was, known := FieldValue(*before, f.Field)
		now, _ := FieldValue(after, f.Field)
		if !known || was != now {
			kept = append(kept, f)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	out := *ve
	out.Fields = kept
	return &out
}

// ValidateCore is the check every record needs whatever platform it goes
// to, the one the ERP adapters apply: a key (present, sane, no surrounding
// spaces) and a known type. It returns a *ValidationError or nil; deleted
// customers are not validated. What each platform needs on top is checked
// by that platform's Prepare (ValidateONe, ValidateCustomerAPI), on the
// fields it receives only.
func ValidateCore(c Customer) error {
	if c.Deleted {
		return nil
	}
	var v validator
	v.core(c)
	return v.result(c)
}

// Validate checks every field of c whatever platform receives it (the core
// check, then every field's format): the union of ValidateONe's and
// ValidateCustomerAPI's format rules without their platform-only
// requirements. It returns every problem at once as a *ValidationError, or
// nil. Deleted customers are not validated.
func Validate(c Customer) error {
	if c.Deleted {
		return nil
	}
	var v validator
	v.core(c)
	v.formats(c)
	return v.result(c)
}

// validateFor is the core check and the format rules of the fields
// platform p receives.
func validateFor(p Platform, c Customer) *validator {
	v := &validator{}
	v.core(c)
	v.formats(c)
	v.only(p, c)
	return v
}

func (v *validator) result(c Customer) error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Key: c.ERPKey, Fields: v.errs}
}

func (v *validator) core(c Customer) {
	switch {
	case c.ERPKey == "":
		v.add("key", "is required")
	case v.text("key", c.ERPKey, maxKey):
		if strings.TrimSpace(c.ERPKey) != c.ERPKey {
			v.add("key", "has leading or trailing spaces")
		}
	}
	if !c.Type.Valid() {
		v.add("type", "must be %q or %q, got %q", Company, Individual, c.Type)
	}
}

// formats checks the format of every field but the core ones.
func (v *validator) formats(c Customer) {
	if c.Name == "" {
		v.add("name", "is required")
	} else {
		v.text("name", c.Name, maxName)
	}
	v.text("internal_nickname", c.InternalNickname, maxName)

	switch {
	case c.TIN == "" && c.Type == Company:
		v.add("tin", "is required for companies")
	case c.TIN != "" && v.text("tin", c.TIN, 32) && !reTIN.MatchString(c.TIN):
		v.add("tin", "may hold only letters, digits, spaces, dots, dashes and slashes")
	}
	if c.TINCode != "" && !oneapi.TinCode(c.TINCode).Valid() {
		v.add("tin_code", "%q is not an EU tin code (use EL for Greece)", c.TINCode)
	}
	v.text("business_registration_number", c.BusinessRegistrationNumber, maxShort)
	v.text("vat_id", c.VATID, maxShort)
	v.text("company_number", c.CompanyNumber, maxShort)

	v.text("billing.name", c.Billing.Name, maxName)
	v.text("billing.street", c.Billing.Street, maxLine)
	v.text("billing.line2", c.Billing.Line2, maxLine)
	v.text("billing.line3", c.Billing.Line3, maxLine)
	v.text("billing.postcode", c.Billing.Postcode, 16)
	v.text("billing.city", c.Billing.City, maxShort*2)
	v.text("billing.region", c.Billing.Region, maxShort*2)
	v.text("billing.country_name", c.Billing.CountryName, maxShort*2)
	v.text("billing.external_id", c.Billing.ExternalID, maxKey)
	if c.Billing.CountryISO2 != "" && !ValidISO2(c.Billing.CountryISO2) {
		v.add("billing.country_iso2", "%q is not an ISO 3166-1 alpha-2 country code", c.Billing.CountryISO2)
	}
	v.phone("billing.phone", c.Billing.Phone)

	v.phone("phone", c.Phone)
	v.email("email", c.Email)
	v.email("invoice_email", c.InvoiceEmail)
	for i, e := range c.AdditionalInvoiceEmails {
		v.email(fmt.Sprintf("additional_invoice_emails[%d]", i), e)
	}

	if c.Currency != "" && !oneapi.Currency(c.Currency).Valid() {
		v.add("currency", "%q is not an ISO 4217 currency code", c.Currency)
	}
	if c.TaxType != "" && !oneapi.ClientTaxType(c.TaxType).Valid() {
		v.add("tax_type", "must be COUNTRY, EXPORT or EXPORT_EU, got %q", c.TaxType)
	}
	if c.ClientStatus != "" && !oneapi.ClientStatus(c.ClientStatus).Valid() {
		v.add("client_status", "must be LEAD, PROSPECT or CLIENT, got %q", c.ClientStatus)
	}
	for i, a := range c.AccountTypes {
		if !oneapi.AccountType(a).Valid() {
			v.add(fmt.Sprintf("account_types[%d]", i), "must be CLIENT or SUPPLIER, got %q", a)
		}
	}
	for _, f := range []struct{ name, val string }{
		{"account_manager_id", c.AccountManagerID}, {"warehouse_id", c.WarehouseID},
		{"segment_id", c.SegmentID}, {"payment_id", c.PaymentID}, {"term_payment_id", c.TermPaymentID},
		{"payer_id", c.PayerID}, {"blockade_id", c.BlockadeID}, {"bank_account", c.BankAccount},
	} {
		v.text(f.name, f.val, maxFreeID)
	}
	for i, s := range c.AdditionalWarehouseIDs {
		v.text(fmt.Sprintf("additional_warehouse_ids[%d]", i), s, maxFreeID)
	}
	for i, s := range c.AdditionalSegmentIDs {
		v.text(fmt.Sprintf("additional_segment_ids[%d]", i), s, maxFreeID)
	}
	if t := c.TradeCreditLimit; t != nil && (math.IsNaN(*t) || math.IsInf(*t, 0) || *t < 0) {
		v.add("trade_credit_limit", "must be a non-negative number")
	}

	v.text("admin.name", c.Admin.Name, maxName)
	v.email("admin.email", c.Admin.Email)
	v.phone("admin.phone", c.Admin.Phone)

	for i, f := range c.AdditionalFields {
		field := "additional." + f.Name
		if f.Name == "" || !v.text(field, f.Name, maxShort) {
			if f.Name == "" {
				v.add(fmt.Sprintf("additional_fields[%d]", i), "has no name")
			}
			continue
		}
		v.text(field+".label", f.Label, maxName)
		switch val := f.Value.(type) {
		case string:
			v.text(field, val, 1000)
		case float64:
			if math.IsNaN(val) || math.IsInf(val, 0) {
				v.add(field, "is not a finite number")
			}
		case bool, nil:
		default:
			v.add(field, "must be a string, number or boolean")
		}
	}

	validateFarm(v, c)
}

func validateFarm(v *validator, c Customer) {
	f := c.Farm
	if f.HoldingNumber != "" && v.text("farm.holding_number", f.HoldingNumber, 32) {
		switch {
		case c.Billing.CountryISO2 == "GB" && !reCPH.MatchString(f.HoldingNumber):
			v.add("farm.holding_number", "must be a County Parish Holding number like 11/111/1111 for GB farms")
		case !reHolding.MatchString(f.HoldingNumber):
			v.add("farm.holding_number", "may hold only letters, digits, slashes, spaces, dots and dashes")
		}
	}
	if f.AssuranceScheme != "" && f.AssuranceScheme != "RT" && f.AssuranceScheme != "SQC" {
		v.add("farm.assurance_scheme", "must be RT or SQC, got %q", f.AssuranceScheme)
	}
	v.text("farm.sqc_number", f.SQCNumber, maxShort)
	if f.What3Words != "" && v.text("farm.what3words", f.What3Words, 100) && !validW3W(f.What3Words) {
		v.add("farm.what3words", "must be three words separated by dots, like filled.count.soap")
	}
	if (f.Latitude == nil) != (f.Longitude == nil) {
		v.add("farm.coordinates", "latitude and longitude must be set together")
	}
	if f.Latitude != nil && (math.IsNaN(*f.Latitude) || *f.Latitude < -90 || *f.Latitude > 90) {
		v.add("farm.latitude", "must be between -90 and 90")
	}
	if f.Longitude != nil && (math.IsNaN(*f.Longitude) || *f.Longitude < -180 || *f.Longitude > 180) {
		v.add("farm.longitude", "must be between -180 and 180")
	}
	switch f.CertificateStatus {
	case "", "Valid", "Grace", "Expired":
	default:
		v.add("farm.certificate_status", "must be Valid, Grace or Expired, got %q", f.CertificateStatus)
	}
	v.text("farm.certificate_identifier", f.CertificateIdentifier, maxShort)
	if f.CertificateExpiry != "" {
		if _, err := time.Parse(time.DateOnly, f.CertificateExpiry); err != nil || !reDate.MatchString(f.CertificateExpiry) {
			v.add("farm.certificate_expiry", "must be a date YYYY-MM-DD, got %q", f.CertificateExpiry)
		}
	}
}

func validW3W(s string) bool {
	s = strings.TrimPrefix(s, "///")
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, r := range p {
			if !unicode.IsLetter(r) {
				return false
			}
		}
	}
	return true
}

// ValidateONe is the check ONe's Prepare applies: the core check, the
// format rules of the fields ONe receives (a problem with a field ONe never
// receives, such as email, billing.country_iso2 or the farm fields, does
// not keep a customer from ONe), and what ONe requires on top: the billing
// address must have all its fields (name and phone fall back to the
// customer's own), since ONe refuses a blank one. Deleted customers are
// not validated.
func ValidateONe(c Customer) error {
	if c.Deleted {
		return nil
	}
	v := validateFor(PlatformONe, c)
	for _, f := range []struct{ field, val string }{
		{"billing.street", oneStreet(c.Billing)}, {"billing.postcode", c.Billing.Postcode},
		{"billing.city", c.Billing.City}, {"billing.country_name", CountryName(c.Billing)},
		{"billing.name", addressName(c)},
	} {
		if strings.TrimSpace(f.val) == "" {
			v.add(f.field, "is required for ONe")
		}
	}
	if strings.TrimSpace(addressPhone(c)) == "" {
		v.add("phone", "is required for ONe (billing.phone or phone)")
	}
	return v.result(c)
}
