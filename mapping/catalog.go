package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// FieldInfo describes one canonical field a rule may target: its type, the
// platform fields it becomes and the platforms that refuse a customer
// without it. Everything but the name and type is found by probing the
// mapping and the validators (see Catalog), so it follows them when they
// change.
type FieldInfo struct {
	// Field is the canonical name, as in FieldRule.Field ("additional.<name>"
	// stands for every tenant additional field).
	Field string `json:"field"`
	// Type is text, bool, number, list or date.
	Type string `json:"type"`
	// ONe lists the JSON paths the field becomes in what the connector sends
	// to ONe (the client body of create and full update, and the basic-,
	// advanced-, finance- and additional-data bodies); "[]" marks an array.
	ONe []string `json:"one"`
	// CustomerAPI lists the JSON paths the field becomes in what the
	// connector sends to the Customer API: "organisation." the organisation
	// body, "farm." the farm business unit body.
	CustomerAPI []string `json:"customer_api"`
	// RequiredBy lists the platforms whose validation refuses an otherwise
	// complete customer without the field.
	RequiredBy []Platform `json:"required_by"`
	// RequiredUnless lists, per platform, the fields that stand in for this
	// one: the platform refuses a customer without this field and without
	// one of them (ONe: phone, unless billing.phone is given), not without
	// either alone.
	RequiredUnless map[Platform][]string `json:"required_unless,omitempty"`
}

// AdditionalFieldPattern is the catalog name of the tenant additional fields.
const AdditionalFieldPattern = additionalPrefix + "<name>"

// Probe is how Catalog asks a platform whether it accepts a customer.
type Probe struct {
	// Platform is the platform asked.
	Platform Platform
	// Sample is a complete customer the platform accepts.
	Sample Customer
	// Check validates a customer the way a sync does (a platform's Prepare);
	// a *ValidationError names the refused fields.
	Check func(Customer) error
}

// DefaultProbes asks mapping's own validators (ValidateONe,
// ValidateCustomerAPI) with SampleONe and SampleCustomerAPI. The platform
// packages' Prepare is the better Check where it is at hand.
func DefaultProbes() []Probe {
	return []Probe{
		{Platform: PlatformONe, Sample: SampleONe(), Check: ValidateONe},
		{Platform: PlatformCustomerAPI, Sample: SampleCustomerAPI(), Check: ValidateCustomerAPI},
	}
}

// SampleONe returns a complete Polish company ONe accepts.
func SampleONe() Customer {
	limit := 5000.0
	return Customer{
		ERPKey: "PL-1", Type: Company, Name: "Agro-Pol Sp. z o.o.", InternalNickname: "Agro-Pol",
		TIN: "5213000001", TINCode: "PL", BusinessRegistrationNumber: "012345678", VATID: "PL5213000001",
		CompanyNumber: "0000123456",
		Billing: Address{Name: "Agro-Pol", Street: "ul. Polna 1", Postcode: "00-001",
			City: "Warszawa", Region: "mazowieckie", CountryName: "Polska", CountryISO2: "PL", Phone: "+48 22 123 45 60",
			ExternalID: "PL-1-billing"},
		Phone: "+48 22 123 45 67", Email: "biuro@agropol.pl", InvoiceEmail: "faktury@agropol.pl",
		AdditionalInvoiceEmails: []string{"ksiegowosc@agropol.pl"}, InvoiceAgreement: true, Currency: "PLN",
		TaxPayer: true, TaxType: "COUNTRY", ClientStatus: "CLIENT", AccountTypes: []string{"CLIENT"},
		AccountManagerID: "am-1", WarehouseID: "wh-1", AdditionalWarehouseIDs: []string{"wh-2"}, SegmentID: "seg-1",
		AdditionalSegmentIDs: []string{"seg-2"}, PaymentID: "pay-1", TermPaymentID: "term-1", PayerID: "payer-1",
		TradeCreditLimit: &limit, BlockadeID: "blk-1", BankAccount: "PL61109010140000071219812874",
		Admin: Contact{Name: "Jan Kowalski", Email: "jan@agropol.pl", Phone: "+48 600 100 200"},
		Flags: Flags{ONe: true},
	}
}

// SampleCustomerAPI returns a complete UK farm the Customer API accepts.
func SampleCustomerAPI() Customer {
	lat, lon := 50.9275, -0.8841
	return Customer{
		ERPKey: "UK-000777", Type: Company, Name: "Up Marden Farms Ltd", TIN: "1234567890", VATID: "GB123456789",
		CompanyNumber: "01234567",
		Billing: Address{Name: "Up Marden Farms", Street: "Pitlands Farm", Line2: "Up Marden", Line3: "Compton",
			City: "Chichester", Region: "West Sussex", Postcode: "PO18 9JP", CountryName: "United Kingdom",
			CountryISO2: "GB", Phone: "+44 1243 535 100"},
		Phone: "+44 1243 535 123", Email: "office@upmarden.example.co.uk", Currency: "GBP",
		Admin: Contact{Name: "Tom Marden-Smith", Email: "tom@upmarden.example.co.uk", Phone: "+44 7700 900123"},
		Farm: Farm{HoldingNumber: "11/111/1111", AssuranceScheme: "SQC", SQCNumber: "SQC123", SQCAssured: true,
			What3Words: "filled.count.soap", Latitude: &lat, Longitude: &lon, CertificateStatus: "Valid",
			CertificateIdentifier: "RT123", CertificateExpiry: "2031-01-31"},
		Flags: Flags{CustomerAPI: true},
	}
}

// catalogFields lists the catalog's field names: FieldNames and the
// additional-field pattern.
func catalogFields() []string { return append(FieldNames(), AdditionalFieldPattern) }

// probeAdditional is the additional field's name while probing.
const probeAdditional = "zzprobefield"

// fieldType names the type of a canonical field.
func fieldType(name string) string {
	if name == invoiceEmailsField {
		return "list"
	}
	d, ok := lookupField(name)
	if !ok {
		return "text"
	}
	switch d.kind {
	case kindBool:
		return "bool"
	case kindFloat:
		return "number"
	case kindList:
		return "list"
	case kindDate:
		return "date"
	}
	return "text"
}

// setField sets a canonical field through a one-rule Rules, as an ERP
// column would ("" blanks it).
func setField(c *Customer, field, v string) error {
	r, err := CompileRules([]FieldRule{{ERP: "probe", Field: field}})
	if err != nil {
		return err
	}
	if errs := r.ApplyTo(c, []string{v}); len(errs) > 0 {
		return fmt.Errorf("mapping: catalog: set %s: %s", field, errs[0].Message)
	}
	return nil
}

// ruleField is the rule field a catalog name probes.
func ruleField(name string) string {
	if name == AdditionalFieldPattern {
		return additionalPrefix + probeAdditional
	}
	return name
}

// probeValues are the values a field is set to to see where they arrive:
// any text (two words, or two list items), a phone number the phone
// handling keeps, a customer type, a date and a number. A path counts when
// its value changed and holds a word of the probe value.
var probeValues = []string{"Zqprobe7 Zqprobe8", "Zqprobe7;Zqprobe8", "+442079460958", "individual", "2031-02-03", "4242.5"}

// bodies are the JSON bodies the connector sends to a platform for c,
// flattened to path → value.
func bodies(p Platform, c Customer) (map[string]string, error) {
	var parts []any
	switch p {
	case PlatformONe:
		parts = []any{ToONeWrite(c), ToONeBasic(c, ""), ToONeAdvanced(c), ToONeFinance(c), ToONeAdditional(c)}
	case PlatformCustomerAPI:
		parts = []any{ToCustomerAPIPayload(c)}
	default:
		return nil, fmt.Errorf("mapping: catalog: unknown platform %q", p)
	}
	out := map[string]string{}
	for _, part := range parts {
		b, err := json.Marshal(part)
		if err != nil {
			return nil, fmt.Errorf("mapping: catalog: %w", err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("mapping: catalog: %w", err)
		}
		flatten(out, "", v)
	}
	return out, nil
}

func flatten(out map[string]string, prefix string, v any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(out, join(k), e)
		}
	case []any:
		for _, e := range x {
			flatten(out, prefix+"[]", e)
		}
	default:
		s := fmt.Sprint(x)
		if x == nil {
			s = "null"
		}
		if old, ok := out[prefix]; ok {
			s = old + "|" + s
		}
		out[prefix] = s
	}
}

func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// platformPaths finds the paths of p's bodies that field becomes, starting
// from sample.
func platformPaths(p Platform, sample Customer, name string) ([]string, error) {
	base, err := bodies(p, sample)
	if err != nil {
		return nil, err
	}
	field := ruleField(name)
	found := map[string]bool{}
	try := func(v string, keep func(path, val string) bool) error {
		c := sample.Clone()
		if err := setField(&c, field, v); err != nil {
			return nil // a value the field does not take (a number field and a text probe)
		}
		got, err := bodies(p, c)
		if err != nil {
			return err
		}
		for path, val := range got {
			if old, ok := base[path]; (!ok || old != val) && keep(path, val) {
				found[path] = true
			}
		}
		return nil
	}
	if fieldType(name) == "bool" {
		cur := "true"
		if r, err := CompileRules([]FieldRule{{ERP: "probe", Field: field}}); err == nil && r.Values(sample)[0] == "true" {
			cur = "false"
		}
		isBool := func(_, val string) bool {
			for part := range strings.SplitSeq(val, "|") {
				if part != "true" && part != "false" {
					return false
				}
			}
			return true
		}
		if err := try(cur, isBool); err != nil {
			return nil, err
		}
	} else {
		for _, pv := range probeValues {
			words := strings.FieldsFunc(pv, func(r rune) bool { return r == ' ' || r == ';' })
			holds := func(_, val string) bool {
				return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(squash(val), squash(w)) })
			}
			if err := try(pv, holds); err != nil {
				return nil, err
			}
		}
	}
	out := make([]string, 0, len(found))
	for path := range found {
		out = append(out, strings.ReplaceAll(path, probeAdditional, "<name>"))
	}
	sort.Strings(out)
	return out, nil
}

// refused reports whether the probe's platform refuses its sample with the
// blank fields blanked, naming the field naming.
func refused(pr Probe, naming string, blank ...string) (bool, error) {
	if naming == AdditionalFieldPattern || slices.Contains(blank, AdditionalFieldPattern) {
		return false, nil
	}
	c := pr.Sample.Clone()
	for _, f := range blank {
		if err := setField(&c, f, ""); err != nil {
			return false, err
		}
	}
	var ve *ValidationError
	if err := pr.Check(c); !errors.As(err, &ve) {
		return false, nil
	}
	names := []string{naming}
	if naming == invoiceEmailsField {
		names = append(names, "invoice_email", "additional_invoice_emails")
	}
	for _, f := range ve.Fields {
		for _, n := range names {
			if f.Field == n || strings.HasPrefix(f.Field, n+"[") {
				return true, nil
			}
		}
	}
	return false, nil
}

// standIns returns the fields that stand in for name on the probe's
// platform (name itself not required): blanking name and one of them is
// refused naming name, blanking that one alone is not. Fields the platform
// requires (required) are left out.
func standIns(pr Probe, name string, required map[string]bool) ([]string, error) {
	var out []string
	for _, other := range FieldNames() {
		if other == name || other == invoiceEmailsField || name == invoiceEmailsField || required[other] {
			continue // a required field is always there: it stands in for nothing
		}
		both, err := refused(pr, name, name, other)
		if err != nil {
			return nil, err
		}
		if !both {
			continue
		}
		alone, err := refused(pr, name, other)
		if err != nil {
			return nil, err
		}
		if !alone {
			out = append(out, other)
		}
	}
	return out, nil
}

// Catalog describes every canonical field (FieldNames, then
// "additional.<name>"): its type, the platform fields it becomes on each
// probed platform (found by setting it on the probe's sample and comparing
// what the mapping sends) and the platforms that require it (found by
// blanking it on the sample and asking the probe's Check). It fails when a
// probe's sample is not accepted by its own Check.
func Catalog(probes []Probe) ([]FieldInfo, error) {
	for _, pr := range probes {
		if err := pr.Check(pr.Sample); err != nil {
			return nil, fmt.Errorf("mapping: catalog: the %s sample is refused: %w", pr.Platform, err)
		}
	}
	required := map[Platform]map[string]bool{}
	for _, pr := range probes {
		required[pr.Platform] = map[string]bool{}
		for _, name := range FieldNames() {
			req, err := refused(pr, name, name)
			if err != nil {
				return nil, err
			}
			required[pr.Platform][name] = req
		}
	}
	var out []FieldInfo
	for _, name := range catalogFields() {
		fi := FieldInfo{Field: name, Type: fieldType(name), ONe: []string{}, CustomerAPI: []string{}, RequiredBy: []Platform{}}
		for _, pr := range probes {
			paths, err := platformPaths(pr.Platform, pr.Sample, name)
			if err != nil {
				return nil, err
			}
			switch pr.Platform {
			case PlatformONe:
				fi.ONe = paths
			case PlatformCustomerAPI:
				fi.CustomerAPI = paths
			}
			if required[pr.Platform][name] {
				if !slices.Contains(fi.RequiredBy, pr.Platform) {
					fi.RequiredBy = append(fi.RequiredBy, pr.Platform)
				}
				continue
			}
			alts, err := standIns(pr, name, required[pr.Platform])
			if err != nil {
				return nil, err
			}
			if len(alts) > 0 {
				if fi.RequiredUnless == nil {
					fi.RequiredUnless = map[Platform][]string{}
				}
				fi.RequiredUnless[pr.Platform] = alts
			}
		}
		out = append(out, fi)
	}
	return out, nil
}
