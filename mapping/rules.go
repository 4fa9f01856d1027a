package mapping

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/problem"
)

// FieldRule maps one ERP column, or an expression over the row's columns,
// to one canonical field. Rules come from configuration as a list (viper
// lower-cases map keys, so nothing here is keyed by a field name).
type FieldRule struct {
	// ERP is the column (or CSV header, or JSON key) in the ERP. A rule has
	// ERP or Expr.
	ERP string `json:"erp,omitempty" mapstructure:"erp" yaml:"erp"`
	// Expr computes the field from the row instead of reading one column:
	// an expression (github.com/expr-lang/expr) whose identifiers are ERP
	// columns holding strings, giving a string, e.g.
	// `first_name + " " + last_name` or `kind == "F" ? "individual" : "company"`.
	// A computed field is one-way: a platform change is not written back
	// to its columns.
	Expr string `json:"expr,omitempty" mapstructure:"expr" yaml:"expr"`
	// Field is the canonical field, e.g. "name", "billing.city",
	// "farm.holding_number" or "additional.<name>"; see FieldNames.
	Field string `json:"field" mapstructure:"field" yaml:"field"`
	// Transform lists the transforms applied in order when reading from the
	// ERP: trim, upper, lower, default, map, phone, date.
	Transform []string `json:"transform,omitempty" mapstructure:"transform" yaml:"transform"`
	// Default replaces an empty value (transform "default").
	Default string `json:"default,omitempty" mapstructure:"default" yaml:"default"`
	// Map replaces values (transform "map"); values not listed pass unchanged.
	Map []ValuePair `json:"map,omitempty" mapstructure:"map" yaml:"map"`
	// DateFormat is the Go layout of the ERP's dates (transform "date"),
	// e.g. "02.01.2006"; the canonical form is YYYY-MM-DD.
	DateFormat string `json:"dateFormat,omitempty" mapstructure:"date_format" yaml:"date_format"`
	// PhoneRegion is the default region (ISO 3166-1 alpha-2, e.g. "PL") of
	// the "phone" transform: a national number is read as a number of the
	// row's own billing country (billing.country_iso2), or of this region
	// when the row has none.
	PhoneRegion string `json:"phoneRegion,omitempty" mapstructure:"phone_region" yaml:"phone_region"`
	// PhoneCountryCode is the default region of the "phone" transform given
	// as its calling code, e.g. "48" (PL) or "44" (GB); see PhoneRegion.
	PhoneCountryCode string `json:"phoneCountryCode,omitempty" mapstructure:"phone_country_code" yaml:"phone_country_code"`
}

// ValuePair is one entry of a value map: ERP value From becomes canonical To.
type ValuePair struct {
	// From is the ERP value.
	From string `json:"from" mapstructure:"from" yaml:"from"`
	// To is the canonical value.
	To string `json:"to" mapstructure:"to" yaml:"to"`
}

type fieldKind int

const (
	kindString fieldKind = iota
	kindBool
	kindFloat
	kindList
	kindDate
)

type fieldDef struct {
	name string
	kind fieldKind
	str  func(*Customer) *string
	bln  func(*Customer) *bool
	flt  func(*Customer) **float64
	list func(*Customer) *[]string
}

func sf(name string, f func(*Customer) *string) fieldDef {
	return fieldDef{name: name, kind: kindString, str: f}
}

// fieldDefs is the registry of canonical fields a rule may target. It is
// immutable after package initialisation.
var fieldDefs = []fieldDef{
	{name: "type", kind: kindString, str: func(c *Customer) *string { return (*string)(&c.Type) }},
	sf("name", func(c *Customer) *string { return &c.Name }),
	sf("internal_nickname", func(c *Customer) *string { return &c.InternalNickname }),
	sf("tin", func(c *Customer) *string { return &c.TIN }),
	sf("tin_code", func(c *Customer) *string { return &c.TINCode }),
	sf("business_registration_number", func(c *Customer) *string { return &c.BusinessRegistrationNumber }),
	sf("vat_id", func(c *Customer) *string { return &c.VATID }),
	sf("company_number", func(c *Customer) *string { return &c.CompanyNumber }),
	sf("billing.name", func(c *Customer) *string { return &c.Billing.Name }),
	sf("billing.street", func(c *Customer) *string { return &c.Billing.Street }),
	sf("billing.line2", func(c *Customer) *string { return &c.Billing.Line2 }),
	sf("billing.line3", func(c *Customer) *string { return &c.Billing.Line3 }),
	sf("billing.postcode", func(c *Customer) *string { return &c.Billing.Postcode }),
	sf("billing.city", func(c *Customer) *string { return &c.Billing.City }),
	sf("billing.region", func(c *Customer) *string { return &c.Billing.Region }),
	sf("billing.country_name", func(c *Customer) *string { return &c.Billing.CountryName }),
	sf("billing.country_iso2", func(c *Customer) *string { return &c.Billing.CountryISO2 }),
	sf("billing.phone", func(c *Customer) *string { return &c.Billing.Phone }),
	sf("billing.external_id", func(c *Customer) *string { return &c.Billing.ExternalID }),
	sf("phone", func(c *Customer) *string { return &c.Phone }),
	sf("email", func(c *Customer) *string { return &c.Email }),
	sf("invoice_email", func(c *Customer) *string { return &c.InvoiceEmail }),
	{name: "additional_invoice_emails", kind: kindList, list: func(c *Customer) *[]string { return &c.AdditionalInvoiceEmails }},
	{name: "invoice_agreement", kind: kindBool, bln: func(c *Customer) *bool { return &c.InvoiceAgreement }},
	sf("currency", func(c *Customer) *string { return &c.Currency }),
	{name: "tax_payer", kind: kindBool, bln: func(c *Customer) *bool { return &c.TaxPayer }},
	sf("tax_type", func(c *Customer) *string { return &c.TaxType }),
	sf("client_status", func(c *Customer) *string { return &c.ClientStatus }),
	{name: "account_types", kind: kindList, list: func(c *Customer) *[]string { return &c.AccountTypes }},
	sf("account_manager_id", func(c *Customer) *string { return &c.AccountManagerID }),
	sf("warehouse_id", func(c *Customer) *string { return &c.WarehouseID }),
	{name: "additional_warehouse_ids", kind: kindList, list: func(c *Customer) *[]string { return &c.AdditionalWarehouseIDs }},
	sf("segment_id", func(c *Customer) *string { return &c.SegmentID }),
	{name: "additional_segment_ids", kind: kindList, list: func(c *Customer) *[]string { return &c.AdditionalSegmentIDs }},
	sf("payment_id", func(c *Customer) *string { return &c.PaymentID }),
	sf("term_payment_id", func(c *Customer) *string { return &c.TermPaymentID }),
	sf("payer_id", func(c *Customer) *string { return &c.PayerID }),
	{name: "trade_credit_limit", kind: kindFloat, flt: func(c *Customer) **float64 { return &c.TradeCreditLimit }},
	sf("blockade_id", func(c *Customer) *string { return &c.BlockadeID }),
	sf("bank_account", func(c *Customer) *string { return &c.BankAccount }),
	sf("admin.name", func(c *Customer) *string { return &c.Admin.Name }),
	sf("admin.email", func(c *Customer) *string { return &c.Admin.Email }),
	sf("admin.phone", func(c *Customer) *string { return &c.Admin.Phone }),
	sf("farm.holding_number", func(c *Customer) *string { return &c.Farm.HoldingNumber }),
	sf("farm.assurance_scheme", func(c *Customer) *string { return &c.Farm.AssuranceScheme }),
	sf("farm.sqc_number", func(c *Customer) *string { return &c.Farm.SQCNumber }),
	{name: "farm.sqc_assured", kind: kindBool, bln: func(c *Customer) *bool { return &c.Farm.SQCAssured }},
	sf("farm.what3words", func(c *Customer) *string { return &c.Farm.What3Words }),
	{name: "farm.latitude", kind: kindFloat, flt: func(c *Customer) **float64 { return &c.Farm.Latitude }},
	{name: "farm.longitude", kind: kindFloat, flt: func(c *Customer) **float64 { return &c.Farm.Longitude }},
	sf("farm.certificate_status", func(c *Customer) *string { return &c.Farm.CertificateStatus }),
	sf("farm.certificate_identifier", func(c *Customer) *string { return &c.Farm.CertificateIdentifier }),
	{name: "farm.certificate_expiry", kind: kindDate, str: func(c *Customer) *string { return &c.Farm.CertificateExpiry }},
}

// additionalPrefix starts a rule field that fills a tenant additional field.
const additionalPrefix = "additional."

// invoiceEmailsField is a virtual field: a list whose first address is the
// invoice e-mail and the rest the additional invoice e-mails.
const invoiceEmailsField = "invoice_emails"

// FieldNames lists every canonical field a rule may target (besides
// "additional.<name>").
func FieldNames() []string {
	out := make([]string, 0, len(fieldDefs)+1)
	for _, d := range fieldDefs {
		out = append(out, d.name)
	}
	return append(out, invoiceEmailsField)
}

func lookupField(name string) (fieldDef, bool) {
	for _, d := range fieldDefs {
		if d.name == name {
			return d, true
		}
	}
	return fieldDef{}, false
}

type transform int

const (
	tTrim transform = iota
	tUpper
	tLower
	tDefault
	tMap
	tPhone
	tDate
)

var transformNames = map[string]transform{
	"trim": tTrim, "upper": tUpper, "lower": tLower, "default": tDefault,
	"map": tMap, "phone": tPhone, "date": tDate,
}

// transformList lists the transform names in their documented order.
func transformList() []string {
	return []string{"trim", "upper", "lower", "default", "map", "phone", "date"}
}

type compiledRule struct {
	FieldRule
	def        fieldDef
	additional string // name of the additional field, for "additional.<name>"
	virtual    bool   // invoice_emails
	transforms []transform
	phone      bool   // has the phone transform: applied once the row's country is known
	region     string // the phone transform's default region
	col        int    // index of the rule's column in Columns (-1 for an expression)
	program    *vm.Program
	srcNames   []string // the columns an expression reads
	srcCols    []int    // their indexes in Columns
}

// Rules is a compiled, immutable list of field rules, safe for concurrent use.
type Rules struct {
	rules   []compiledRule
	columns []string
	// readOnly marks the columns only expressions read: never written.
	readOnly []bool
}

// CompileRules checks rs and compiles them. Every problem is reported, each
// naming its rule by index: an empty column, an unknown field or transform,
// a field targeted twice, a map without pairs, a date transform without a
// layout, an expression that does not compile (its problem named).
func CompileRules(rs []FieldRule) (*Rules, error) {
	var errs []error
	out := &Rules{}
	seen := map[string]int{}
	for i, r := range rs {
		bad := func(format string, args ...any) {
			errs = append(errs, problem.New(fmt.Sprintf("rules[%d]", i), format, args...))
		}
		cr := compiledRule{FieldRule: r, col: -1}
		switch {
		case strings.TrimSpace(r.Expr) != "" && strings.TrimSpace(r.ERP) != "":
			bad("has both erp and expr: give one")
		case strings.TrimSpace(r.Expr) != "":
			p, cols, err := compileExpr(r.Expr)
			if err != nil {
				bad("expr %q: %v", r.Expr, err)
			}
			cr.program, cr.srcNames = p, cols
		case strings.TrimSpace(r.ERP) == "":
			bad("erp column is empty (give erp or expr)")
		}
		field := strings.TrimSpace(r.Field)
		cr.Field = field
		switch {
		case field == invoiceEmailsField:
			cr.virtual = true
		case strings.HasPrefix(field, additionalPrefix):
			cr.additional = strings.TrimPrefix(field, additionalPrefix)
			if cr.additional == "" {
				bad("field %q has no additional field name", field)
			}
		default:
			d, ok := lookupField(field)
			if !ok {
				bad("unknown field %q%s", r.Field, didYouMean(field, FieldNames()))
			}
			cr.def = d
		}
		if j, dup := seen[field]; dup && field != "" {
			bad("field %q is already set by rules[%d]", field, j)
		} else {
			seen[field] = i
		}
		cr.compileTransforms(bad)
		if cr.program == nil {
			cr.col = len(out.columns)
			out.columns = append(out.columns, r.ERP)
			out.readOnly = append(out.readOnly, false)
		}
		out.rules = append(out.rules, cr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out.exprColumns()
	return out, nil
}

// exprColumns gives each expression the indexes of the columns it reads: a
// rule's column, or one of their own (read, never written).
func (r *Rules) exprColumns() {
	for i := range r.rules {
		cr := &r.rules[i]
		for _, name := range cr.srcNames {
			j := slices.Index(r.columns, name)
			if j < 0 {
				j = len(r.columns)
				r.columns = append(r.columns, name)
				r.readOnly = append(r.readOnly, true)
			}
			cr.srcCols = append(cr.srcCols, j)
		}
	}
}

// compileTransforms compiles the rule's transforms, reporting each problem
// with bad.
func (cr *compiledRule) compileTransforms(bad func(format string, args ...any)) {
	for _, name := range cr.Transform {
		t, ok := transformNames[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			bad("unknown transform %q%s (want %s)", name, didYouMean(name, transformList()), strings.Join(transformList(), ", "))
			continue
		}
		switch t {
		case tMap:
			if len(cr.Map) == 0 {
				bad("transform map needs at least one {from, to} pair")
			}
		case tDate:
			if cr.DateFormat == "" {
				bad("transform date needs date_format")
			}
		case tDefault:
			if cr.Default == "" {
				bad("transform default needs a default value")
			}
		case tPhone:
			cr.phone = true
			region, err := phoneDefaultRegion(cr.FieldRule)
			if err != nil {
				bad("%v", err)
			}
			cr.region = region
		}
		cr.transforms = append(cr.transforms, t)
	}
}

// MustCompileRules is CompileRules for rule lists known to be valid; it panics otherwise.
func MustCompileRules(rs []FieldRule) *Rules {
	r, err := CompileRules(rs)
	if err != nil {
		panic(err)
	}
	return r
}

// Columns returns the ERP columns the rules read: the column of each rule
// with one, in rule order (a column may appear more than once), then the
// columns only expressions read. Apply takes, and Values returns, one
// value per column, in this order.
func (r *Rules) Columns() []string { return slices.Clone(r.columns) }

// Writable reports, per column of Columns, whether Values gives it a value
// to write: false for a column only expressions read, which a write back
// to the ERP must leave untouched (a computed field cannot be reversed).
func (r *Rules) Writable() []bool {
	out := make([]bool, len(r.readOnly))
	for i, ro := range r.readOnly {
		out[i] = !ro
	}
	return out
}

// Fields returns the canonical field each rule targets, in rule order
// (what the ERP holds; see HeldFields).
func (r *Rules) Fields() []string {
	out := make([]string, len(r.rules))
	for i := range r.rules {
		out[i] = r.rules[i].Field
	}
	return out
}

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// Apply builds a Customer from values, which hold the ERP value of each
// column in Columns order (missing entries count as empty). Problems
// (a value that is not a number, a date that does not parse) are returned
// as field errors; the rest of the record is still filled in. The system
// fields (key, flags, platform ids, updated-at, deleted) are the adapter's.
func (r *Rules) Apply(values []string) (Customer, []apierr.FieldError) {
	var c Customer
	errs := r.ApplyTo(&c, values)
	return c, errs
}

// ApplyTo is Apply into an existing Customer. Rules with the phone
// transform run last, so that they read national numbers in the row's own
// billing country (billing.country_iso2), falling back to the rule's
// default region.
func (r *Rules) ApplyTo(c *Customer, values []string) []apierr.FieldError {
	var errs []apierr.FieldError
	for _, phones := range []bool{false, true} {
		region := ""
		if phones {
			region = strings.ToUpper(strings.TrimSpace(c.Billing.CountryISO2))
		}
		for i := range r.rules {
			cr := &r.rules[i]
			if cr.phone != phones {
				continue
			}
			v, err := cr.read(values)
			if err == nil {
				v, err = cr.forward(v, region)
			}
			if err == nil {
				err = cr.set(c, v)
			}
			switch {
			case err != nil && cr.program != nil:
				errs = append(errs, apierr.FieldError{Field: cr.Field, Message: err.Error()})
			case err != nil:
				errs = append(errs, apierr.FieldError{Field: cr.Field, Message: fmt.Sprintf("column %q: %v", cr.ERP, err)})
			}
		}
	}
	slices.SortStableFunc(errs, func(a, b apierr.FieldError) int { return r.index(a.Field) - r.index(b.Field) })
	c.Normalize()
	return errs
}

// read is the rule's ERP value: its column's, or its expression's.
func (cr *compiledRule) read(values []string) (string, error) {
	if cr.program != nil {
		return cr.eval(values)
	}
	if cr.col < len(values) {
		return values[cr.col], nil
	}
	return "", nil
}

// index is the index of the rule targeting field, or -1.
func (r *Rules) index(field string) int {
	for i := range r.rules {
		if r.rules[i].Field == field {
			return i
		}
	}
	return -1
}

// Values is the reverse of Apply: the ERP value of each column for c, in
// Columns order. Value maps are applied backwards (the first pair whose To
// matches) and dates are formatted in the ERP's layout. Computed fields
// (expression rules) are one-way: nothing is derived from them, and the
// columns only expressions read are "" and not Writable: a write must
// leave them untouched.
func (r *Rules) Values(c Customer) []string {
	out := make([]string, len(r.columns))
	for i := range r.rules {
		cr := &r.rules[i]
		if cr.col >= 0 {
			out[cr.col] = cr.reverse(cr.get(&c))
		}
	}
	return out
}

// forward applies the rule's transforms to the ERP value v; region is the
// row's billing country, the phone transform's region (the rule's default
// region when it has no phone numbers).
func (cr *compiledRule) forward(v, region string) (string, error) {
	for _, t := range cr.transforms {
		switch t {
		case tTrim:
			v = strings.TrimSpace(v)
		case tUpper:
			v = strings.ToUpper(v)
		case tLower:
			v = strings.ToLower(v)
		case tDefault:
			if strings.TrimSpace(v) == "" {
				v = cr.Default
			}
		case tMap:
			for _, p := range cr.Map {
				if p.From == v {
					v = p.To
					break
				}
			}
		case tPhone:
			if !knownPhoneRegion(region) {
				region = cr.region
			}
			p, err := ParsePhone(v, region)
			if err != nil {
				return "", err
			}
			v = p
		case tDate:
			if strings.TrimSpace(v) == "" {
				v = ""
				continue
			}
			d, err := time.Parse(cr.DateFormat, strings.TrimSpace(v))
			if err != nil {
				return "", fmt.Errorf("%q is not a date in layout %q", v, cr.DateFormat)
			}
			v = d.Format(time.DateOnly)
		}
	}
	return v, nil
}

func (cr *compiledRule) reverse(v string) string {
	for i := len(cr.transforms) - 1; i >= 0; i-- {
		switch cr.transforms[i] {
		case tMap:
			for _, p := range cr.Map {
				if p.To == v {
					v = p.From
					break
				}
			}
		case tDate:
			if d, err := time.Parse(time.DateOnly, v); err == nil {
				v = d.Format(cr.DateFormat)
			}
		}
	}
	return v
}

func (cr *compiledRule) set(c *Customer, v string) error {
	switch {
	case cr.virtual:
		list := splitList(v)
		c.InvoiceEmail, c.AdditionalInvoiceEmails = "", nil
		if len(list) > 0 {
			c.InvoiceEmail, c.AdditionalInvoiceEmails = list[0], list[1:]
		}
		return nil
	case cr.additional != "":
		if v == "" {
			return nil
		}
		c.AdditionalFields = append(c.AdditionalFields, AdditionalField{Name: cr.additional, Value: v})
		return nil
	}
	d := cr.def
	switch d.kind {
	case kindString, kindDate:
		*d.str(c) = v
	case kindBool:
		b, err := ParseBool(v)
		if err != nil {
			return err
		}
		*d.bln(c) = b
	case kindFloat:
		p := d.flt(c)
		if strings.TrimSpace(v) == "" {
			*p = nil
			return nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(v), ",", "."), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", v)
		}
		*p = &f
	case kindList:
		*d.list(c) = splitList(v)
	}
	return nil
}

func (cr *compiledRule) get(c *Customer) string {
	switch {
	case cr.virtual:
		if c.InvoiceEmail == "" && len(c.AdditionalInvoiceEmails) == 0 {
			return ""
		}
		return strings.Join(append([]string{c.InvoiceEmail}, c.AdditionalInvoiceEmails...), ";")
	case cr.additional != "":
		for _, f := range c.AdditionalFields {
			if f.Name == cr.additional {
				switch v := f.Value.(type) {
				case string:
					return v
				case float64:
					return strconv.FormatFloat(v, 'f', -1, 64)
				case bool:
					return strconv.FormatBool(v)
				}
				return ""
			}
		}
		return ""
	}
	d := cr.def
	switch d.kind {
	case kindString, kindDate:
		return *d.str(c)
	case kindBool:
		return strconv.FormatBool(*d.bln(c))
	case kindFloat:
		if p := *d.flt(c); p != nil {
			return strconv.FormatFloat(*p, 'f', -1, 64)
		}
		return ""
	case kindList:
		return strings.Join(*d.list(c), ";")
	}
	return ""
}

// FieldValue returns a canonical field's value as text, as a rule would
// write it to the ERP (invoice_emails and additional.NAME included); ok is
// false for a name that is not a field.
func FieldValue(c Customer, field string) (value string, ok bool) {
	cr := compiledRule{}
	switch {
	case field == invoiceEmailsField:
		cr.virtual = true
	case strings.HasPrefix(field, additionalPrefix) && field != additionalPrefix:
		cr.additional = strings.TrimPrefix(field, additionalPrefix)
	default:
		d, found := lookupField(field)
		if !found {
			return "", false
		}
		cr.def = d
	}
	return cr.get(&c), true
}

func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' })
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ParseBool reads the boolean spellings ERPs use: 1/0, true/false, t/f,
// yes/no, y/n, tak/nie; empty is false.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "f", "no", "n", "nie":
		return false, nil
	case "1", "true", "t", "yes", "y", "tak":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}
