package mapping

import (
	"regexp"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
)

// customerAPICountryList names the countries the Customer API accepts as an
// organisation's countryISO (the contract's CountryISO2 enum).
const customerAPICountryList = "GB, US, ZA, FR"

// CustomerAPICountries returns the ISO 3166-1 alpha-2 codes the Customer API
// accepts as an organisation's country.
func CustomerAPICountries() []string { return []string{"GB", "US", "ZA", "FR"} }

// customerAPICallingCode is the calling code (without +) of each Customer API
// country; the platform reads national numbers with it.
func customerAPICallingCode(iso2 string) string {
	switch iso2 {
	case "GB":
		return "44"
	case "US":
		return "1"
	case "ZA":
		return "27"
	case "FR":
		return "33"
	}
	return ""
}

// reCAPIHolding is the holding number format the Customer API accepts (a
// County Parish Holding number).
var reCAPIHolding = regexp.MustCompile(`^\d{2}/\d{3}/\d{4}$`)

// reCAPIEmail is the e-mail shape the Customer API accepts on top of ValidEmail.
var reCAPIEmail = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// reUKPostcode is the shape of a UK postcode (outward and inward code).
var reUKPostcode = regexp.MustCompile(`^(?:[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}|GIR ?0AA)$`)

// CustomerAPIPhone returns the phone number s as the connector sends it to
// the Customer API: in +<digits> form (NormalizePhone), with a national
// number read in the calling code of countryISO2 and a "(0)" trunk marker
// after an international code dropped, as the platform itself does. A value
// it cannot read is returned unchanged for validation to report. The
// platform answers with {callingCode, number}; FromCustomerAPI joins them
// back into this same form, so the round trip is the identity on it.
func CustomerAPIPhone(s, countryISO2 string) string {
	if s == "" {
		return ""
	}
	out := NormalizePhone(strings.Replace(s, "(0)", "", 1), customerAPICallingCode(countryISO2))
	if !normalizedPhone(out) {
		return s
	}
	return out
}

// normalizedPhone reports whether s is in NormalizePhone's +<digits> form.
func normalizedPhone(s string) bool {
	if len(s) < 2 || s[0] != '+' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return ValidPhone(s)
}

// fromCustomerAPIPhone joins the platform's {callingCode, number} into the
// canonical +<digits> form.
func fromCustomerAPIPhone(p *customerapi.Phone) string {
	if p == nil {
		return ""
	}
	return NormalizePhone(p.String(), "")
}

// HasFarm reports whether c is a farm for the Customer API: whether any of
// the farm fields the platform keeps on a farm business is set (holding
// number, assurance scheme, SQC number or assurance, what3words, latitude
// or longitude). The certificate fields alone do not make a farm: they come
// from the platform and are never sent.
func HasFarm(c Customer) bool {
	f := c.Farm
	return f.HoldingNumber != "" || f.AssuranceScheme != "" || f.SQCNumber != "" || f.SQCAssured ||
		f.What3Words != "" || f.Latitude != nil || f.Longitude != nil
}

// splitName splits a full name into given and family names at its first
// space: "Jan van der Berg" gives "Jan" and "van der Berg". joinName undoes it.
func splitName(full string) (given, family string) {
	given, family, _ = strings.Cut(full, " ")
	return given, family
}

func joinName(given, family string) string {
	switch {
	case family == "":
		return given
	case given == "":
		return family
	}
	return given + " " + family
}

func customerAPIAddress(c Customer) *customerapi.Address {
	b := c.Billing
	a := customerapi.Address{
		Name: b.Name, Line1: b.Street, Line2: b.Line2, Line3: b.Line3, City: b.City,
		Region: b.Region, Postcode: b.Postcode, CountryName: b.CountryName, CountryISO: b.CountryISO2,
	}
	if a == (customerapi.Address{}) {
		return nil
	}
	return &a
}

func customerAPISqc(f Farm) *customerapi.Sqc {
	if f.SQCNumber == "" && !f.SQCAssured {
		return nil
	}
	return &customerapi.Sqc{Number: f.SQCNumber, IsAssured: f.SQCAssured}
}

func customerAPIOwner(c Customer) *customerapi.ContactInput {
	given, family := splitName(c.Admin.Name)
	return &customerapi.ContactInput{
		Phone:      CustomerAPIPhone(c.Admin.Phone, c.Billing.CountryISO2),
		Email:      c.Admin.Email,
		GivenName:  given,
		FamilyName: family,
	}
}

// customerAPICompany returns the organisation's company: company number,
// sales tax id and, for a farm, holding number, assurance scheme and SQC.
func customerAPICompany(c Customer) customerapi.Company {
	co := customerapi.Company{Number: c.CompanyNumber, SalesTaxID: c.VATID}
	if HasFarm(c) {
		co.HoldingNumber = c.Farm.HoldingNumber
		co.AssuranceScheme = customerapi.AssuranceScheme(c.Farm.AssuranceScheme)
		co.Sqc = customerAPISqc(c.Farm)
	}
	return co
}

// ToCustomerAPIOrganisation returns the body of the Customer API's
// CreateOrganisation for c: name, countryISO (Billing.CountryISO2), the
// billing address as the location's address, the Admin contact as the
// owner (given and family names split at the first space of Admin.Name,
// phone as one +<digits> string), and the company (company number, VAT id
// as salesTaxId and, for a farm, holding number, assurance scheme and SQC).
//
// Billing and modules (the platform's own subscription, required by the
// contract) are sent empty: they are not customer master data. It does not
// validate; call ValidateCustomerAPI first.
func ToCustomerAPIOrganisation(c Customer) customerapi.CreateOrganisationRequest {
	req := customerapi.CreateOrganisationRequest{
		Location:     &customerapi.Location{Address: customerAPIAddress(c)},
		Name:         strings.TrimSpace(c.Name),
		CountryISO:   c.Billing.CountryISO2,
		OwnerContact: customerAPIOwner(c),
		Billing:      &customerapi.Billing{},
		Modules:      []customerapi.Module{},
	}
	if co := customerAPICompany(c); co.Number != "" || co.SalesTaxID != "" || co.HoldingNumber != "" ||
		co.AssuranceScheme != "" || co.Sqc != nil {
		req.Company = &co
	}
	return req
}

// ToCustomerAPIOrganisationPatch returns the body of the Customer API's
// UpdateOrganisation for c: the same fields as the create body, all of them
// present so that a value removed in the ERP is removed on the platform too
// (the company is always sent, and companyNumber explicitly). Billing and
// modules are left alone.
func ToCustomerAPIOrganisationPatch(c Customer) customerapi.UpdateOrganisationRequest {
	name := strings.TrimSpace(c.Name)
	country := c.Billing.CountryISO2
	number := c.CompanyNumber
	co := customerAPICompany(c)
	return customerapi.UpdateOrganisationRequest{
		Location:      &customerapi.Location{Address: customerAPIAddress(c)},
		Company:       &co,
		Name:          &name,
		CountryISO:    &country,
		OwnerContact:  customerAPIOwner(c),
		CompanyNumber: &number,
	}
}

// customerAPIBusiness returns the farm business: its location (billing
// address, what3words, coordinates), name, phone, e-mail, holding number,
// assurance scheme and SQC.
func customerAPIBusiness(c Customer) *customerapi.BusinessInput {
	f := c.Farm
	loc := &customerapi.Location{What3Words: f.What3Words, Address: customerAPIAddress(c)}
	if f.Latitude != nil && f.Longitude != nil {
		loc.Coordinates = &customerapi.Coordinates{Lat: *f.Latitude, Lon: *f.Longitude}
	}
	return &customerapi.BusinessInput{
		Location:        loc,
		Name:            strings.TrimSpace(c.Name),
		PhoneNumber:     CustomerAPIPhone(c.Phone, c.Billing.CountryISO2),
		Email:           c.Email,
		HoldingNumber:   f.HoldingNumber,
		Sqc:             customerAPISqc(f),
		AssuranceScheme: customerapi.AssuranceScheme(f.AssuranceScheme),
	}
}

// ToCustomerAPIFarm returns the body of the Customer API's
// CreateBusinessUnit for c's farm: a business unit of type farm named after
// the customer, in the organisation c.PlatformIDs.CustomerAPI, with its
// business (location with the billing address, what3words and coordinates;
// holding number; assurance scheme; SQC; the customer's phone as one
// +<digits> string and e-mail). It reports false, with a zero body, when c
// has no farm (see HasFarm).
func ToCustomerAPIFarm(c Customer) (customerapi.CreateBusinessUnitRequest, bool) {
	if !HasFarm(c) {
		return customerapi.CreateBusinessUnitRequest{}, false
	}
	return customerapi.CreateBusinessUnitRequest{
		OrganisationID: c.PlatformIDs.CustomerAPI,
		Name:           strings.TrimSpace(c.Name),
		Type:           customerapi.BusinessUnitFarm,
		Business:       customerAPIBusiness(c),
	}, true
}

// ToCustomerAPIFarmPatch returns the body of the Customer API's
// UpdateBusinessUnit for c's farm business unit, or false when c has no farm.
func ToCustomerAPIFarmPatch(c Customer) (customerapi.UpdateBusinessUnitRequest, bool) {
	if !HasFarm(c) {
		return customerapi.UpdateBusinessUnitRequest{}, false
	}
	name := strings.TrimSpace(c.Name)
	return customerapi.UpdateBusinessUnitRequest{Name: &name, Business: customerAPIBusiness(c)}, true
}

// FarmBusinessUnit returns the farm business unit of units that carries a
// business (the one ToCustomerAPIFarm creates), or nil. With several, the
// one named name wins, then the first.
func FarmBusinessUnit(units []customerapi.BusinessUnit, name string) *customerapi.BusinessUnit {
	var first *customerapi.BusinessUnit
	for i := range units {
		u := &units[i]
		if u.Type != customerapi.BusinessUnitFarm || u.Business == nil {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(u.Name), strings.TrimSpace(name)) {
			return u
		}
		if first == nil {
			first = u
		}
	}
	return first
}

func fromCustomerAPIAddress(a *customerapi.Address) Address {
	if a == nil {
		return Address{}
	}
	return Address{
		Name: a.Name, Street: a.Line1, Line2: a.Line2, Line3: a.Line3, City: a.City, Region: a.Region,
		Postcode: a.Postcode, CountryName: a.CountryName, CountryISO2: a.CountryISO,
	}
}

func fromCustomerAPISqc(f *Farm, s *customerapi.Sqc) {
	if s != nil {
		f.SQCNumber, f.SQCAssured = s.Number, s.IsAssured
	}
}

// FromCustomerAPI turns an organisation and its farm business unit (nil when
// it has none, or when only the organisation was read) into a canonical
// Customer holding exactly what the Customer API carries: name, company
// number, VAT id, the billing address (from the organisation's location, or
// the farm's when the organisation has none; countryISO2 falls back to the
// organisation's countryISO), the owner as Admin, the organisation id in
// PlatformIDs.CustomerAPI and, from the farm business, the customer's phone
// and e-mail, the farm fields and the certificate the platform attached. Without
// a business the farm fields come from the organisation's company.
//
// The platform does not carry the ERP key, the customer type, the ONe
// fields or the ERP flags; those stay zero, for the caller to merge into the
// bound ERP customer. Phones come back in CustomerAPIPhone's form.
func FromCustomerAPI(org customerapi.Organisation, bu *customerapi.BusinessUnit) Customer {
	c := Customer{Name: org.Name, CompanyNumber: org.CompanyNumber, PlatformIDs: PlatformIDs{CustomerAPI: org.ID}}
	var biz *customerapi.Business
	if bu != nil {
		biz = bu.Business
	}
	switch {
	case org.Location != nil && org.Location.Address != nil:
		c.Billing = fromCustomerAPIAddress(org.Location.Address)
	case biz != nil && biz.Location != nil:
		c.Billing = fromCustomerAPIAddress(biz.Location.Address)
	}
	if c.Billing.CountryISO2 == "" {
		c.Billing.CountryISO2 = org.CountryISO
	}
	if co := org.Company; co != nil {
		if co.Number != "" {
			c.CompanyNumber = co.Number
		}
		c.VATID = co.SalesTaxID
		if biz == nil {
			c.Farm.HoldingNumber = co.HoldingNumber
			c.Farm.AssuranceScheme = string(co.AssuranceScheme)
			fromCustomerAPISqc(&c.Farm, co.Sqc)
		}
	}
	if o := org.OwnerContact; o != nil {
		c.Admin = Contact{Name: joinName(o.GivenName, o.FamilyName), Email: o.Email, Phone: fromCustomerAPIPhone(o.Phone)}
	}
	if biz != nil {
		c.Phone = fromCustomerAPIPhone(biz.Phone)
		c.Email = biz.Email
		c.Farm.HoldingNumber = biz.HoldingNumber
		c.Farm.AssuranceScheme = string(biz.AssuranceScheme)
		fromCustomerAPISqc(&c.Farm, biz.Sqc)
		if l := biz.Location; l != nil {
			c.Farm.What3Words = l.What3Words
			if l.Coordinates != nil {
				lat, lon := l.Coordinates.Lat, l.Coordinates.Lon
				c.Farm.Latitude, c.Farm.Longitude = &lat, &lon
			}
		}
		if biz.Assurance != nil {
			ApplyCertificate(&c, *biz.Assurance)
		}
	}
	c.Normalize()
	return c
}

// certificateDate returns the calendar date of the platform's ISO 8601
// expiry timestamp ("2024-01-31T00:00:00.000+00:00" → "2024-01-31"), as
// written in the certificate's own offset, or "" when it has none.
func certificateDate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 10 && reDate.MatchString(s[:10]) {
		if _, err := time.Parse(time.DateOnly, s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return s[:10]
		}
	}
	return ""
}

func normPostcode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// certificateSite returns the certified site of cert that is c's farm: the
// site whose holding number identifier is c's holding number or, when c has
// no holding number, the site with c's billing postcode.
func certificateSite(c Customer, cert customerapi.Certificate) (customerapi.CertifiedSite, bool) {
	holding := strings.TrimSpace(c.Farm.HoldingNumber)
	postcode := normPostcode(c.Billing.Postcode)
	for _, s := range cert.CertifiedSites {
		switch {
		case holding != "":
			id := s.SiteIdentifiers
			if id != nil && (id.IdentifierType == "" || strings.EqualFold(id.IdentifierType, "holdingno")) &&
				strings.TrimSpace(id.Identifier) == holding {
				return s, true
			}
		case postcode != "":
			if normPostcode(s.SitePostcode) == postcode {
				return s, true
			}
		}
	}
	return customerapi.CertifiedSite{}, false
}

// ApplyCertificate stores cert's status, identifier and expiry date
// ("YYYY-MM-DD") in c.Farm when one of its certified sites is c's farm: the
// site identified by c's holding number, or, for a customer without one,
// the site at c's billing postcode. It reports whether it applied; c is left
// alone when no site matches.
func ApplyCertificate(c *Customer, cert customerapi.Certificate) bool {
	if _, ok := certificateSite(*c, cert); !ok {
		return false
	}
	c.Farm.CertificateStatus = string(cert.CertificateStatus)
	c.Farm.CertificateIdentifier = cert.CertificateIdentifier
	c.Farm.CertificateExpiry = certificateDate(cert.CertificateExpiryDate)
	return true
}

// PickCertificate returns the certificate of certs (the answer of a
// certificate look-up) that covers c's farm (see ApplyCertificate): a Valid
// one before one in Grace, then the one expiring last, then the first.
func PickCertificate(c Customer, certs []customerapi.Certificate) (customerapi.Certificate, bool) {
	best := -1
	rank := func(s customerapi.CertificateStatus) int {
		switch s {
		case customerapi.CertificateValid:
			return 2
		case customerapi.CertificateGrace:
			return 1
		}
		return 0
	}
	for i, cert := range certs {
		if _, ok := certificateSite(c, cert); !ok {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := certs[best]
		switch rb, ri := rank(b.CertificateStatus), rank(cert.CertificateStatus); {
		case ri > rb:
			best = i
		case ri == rb && certificateDate(cert.CertificateExpiryDate) > certificateDate(b.CertificateExpiryDate):
			best = i
		}
	}
	if best < 0 {
		return customerapi.Certificate{}, false
	}
	return certs[best], true
}

// ValidateCustomerAPI is the check the Customer API's Prepare applies: the
// core check, the format rules of the fields the platform receives (a
// problem with a field it never receives, such as tin, tin_code, currency
// or the ONe fields, does not keep a customer from it; phone and email
// count for a farm only), and what it requires on top, with every problem
// in one *ValidationError named in canonical terms: a non-blank name;
// billing.country_iso2 among the platform's countries (GB, US, ZA, FR); a
// UK-shaped billing postcode for GB; an owner (admin.name with a given and
// a family name, admin.email); phones the platform can read (admin.phone,
// and phone for a farm); e-mails of the platform's shape; a holding number
// like 11/111/1111. Deleted customers are not validated.
func ValidateCustomerAPI(c Customer) error {
	if c.Deleted {
		return nil
	}
	base := validateFor(PlatformCustomerAPI, c)
	ve := &ValidationError{Key: c.ERPKey, Fields: base.errs}
	v := validator{}
	// has reports whether the format rules already found a problem with
	// field, so that a field is not reported twice.
	has := func(field string) bool { return ve.Has(field) }

	if c.Name != "" && strings.TrimSpace(c.Name) == "" {
		v.add("name", "is required for the Customer API (it is blank)")
	}
	iso := c.Billing.CountryISO2
	switch {
	case iso == "":
		v.add("billing.country_iso2", "is required for the Customer API (one of %s)", customerAPICountryList)
	case has("billing.country_iso2"):
	case customerAPICallingCode(iso) == "":
		v.add("billing.country_iso2", "must be one of %s for the Customer API, got %q", customerAPICountryList, iso)
	}
	if iso == "GB" && c.Billing.Postcode != "" && !has("billing.postcode") &&
		!reUKPostcode.MatchString(strings.ToUpper(strings.TrimSpace(c.Billing.Postcode))) {
		v.add("billing.postcode", "must be a UK postcode like PO18 9JP for GB, got %q", c.Billing.Postcode)
	}

	given, family := splitName(c.Admin.Name)
	switch {
	case c.Admin.Name == "":
		v.add("admin.name", "is required for the Customer API (the organisation owner)")
	case has("admin.name"):
	case strings.TrimSpace(given) == "" || strings.TrimSpace(family) == "":
		v.add("admin.name", "must hold a given name and a family name separated by a space for the Customer API, got %q", c.Admin.Name)
	}
	switch {
	case c.Admin.Email == "":
		v.add("admin.email", "is required for the Customer API (the organisation owner)")
	case has("admin.email"):
	case !reCAPIEmail.MatchString(c.Admin.Email):
		v.add("admin.email", "is not an e-mail address the Customer API accepts")
	}
	capiPhone(&v, has, "admin.phone", c.Admin.Phone, iso)

	if HasFarm(c) {
		capiPhone(&v, has, "phone", c.Phone, iso)
		if c.Email != "" && !has("email") && !reCAPIEmail.MatchString(c.Email) {
			v.add("email", "is not an e-mail address the Customer API accepts")
		}
	}
	if h := c.Farm.HoldingNumber; h != "" && !has("farm.holding_number") && !reCAPIHolding.MatchString(h) {
		v.add("farm.holding_number", "must be a holding number like 11/111/1111 for the Customer API, got %q", h)
	}

	ve.Fields = append(ve.Fields, v.errs...)
	if len(ve.Fields) == 0 {
		return nil
	}
	return ve
}

// capiPhone checks that the platform can read the phone the connector
// would send for s.
func capiPhone(v *validator, has func(string) bool, field, s, iso string) {
	if s == "" || has(field) {
		return
	}
	out := CustomerAPIPhone(s, iso)
	if customerAPICallingCode(iso) == "" && !strings.HasPrefix(out, "+") {
		// A national number needs the country's calling code; the country
		// error already says what to fix.
		return
	}
	if _, err := customerapi.ParsePhone(out, iso); err != nil || !strings.HasPrefix(out, "+") {
		v.add(field, "is not a phone number the Customer API can read (give +<calling code> and the national number)")
	}
}

// CustomerAPIPayload is everything the connector sends to the Customer API
// for one customer: the organisation body and, for a farm, the farm
// business-unit body.
type CustomerAPIPayload struct {
	Organisation customerapi.CreateOrganisationRequest  `json:"organisation"`
	Farm         *customerapi.CreateBusinessUnitRequest `json:"farm,omitempty"`
}

// ToCustomerAPIPayload returns what would be sent to the Customer API for c.
func ToCustomerAPIPayload(c Customer) CustomerAPIPayload {
	p := CustomerAPIPayload{Organisation: ToCustomerAPIOrganisation(c)}
	if bu, ok := ToCustomerAPIFarm(c); ok {
		p.Farm = &bu
	}
	return p
}

// HashCustomerAPI returns the content hash of what would be sent to the
// Customer API for c (organisation and farm bodies). The organisation id
// the farm is created in is left out, so the hash is the same before and
// after the organisation exists; fields the platform never receives (ERP
// key, type, ONe fields, flags, certificate) do not change it.
func HashCustomerAPI(c Customer) (string, error) {
	p := ToCustomerAPIPayload(c)
	if p.Farm != nil {
		p.Farm.OrganisationID = ""
	}
	return ContentHash(p)
}
