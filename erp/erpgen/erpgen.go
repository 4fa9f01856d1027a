// Package erpgen generates realistic ERP customer rows for the demo, the
// tests and the benchmarks: Polish and UK companies and individuals, UK farms
// with County Parish Holding numbers and Red Tractor certificates, and, on
// request, deliberately invalid rows whose expected field error is known.
//
// The rows use the demo ERP layout (Columns, Rules). Output is a pure
// function of the seed.
package erpgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/mapping"
)

// Columns returns the data columns of the demo ERP customer table, in order.
func Columns() []string { return slices.Clone(columns) }

var columns = []string{
	"customer_type", "name", "nickname", "tin", "tin_code", "regon", "vat_id", "company_number",
	"address_name", "street", "address_line2", "postcode", "city", "region", "country", "country_iso2",
	"phone", "email", "invoice_emails", "e_invoice", "currency", "tax_payer", "tax_type", "client_status",
	"account_types", "account_manager", "warehouse", "segment", "payment_id", "term_payment_id",
	"credit_limit", "blockade_id", "bank_account", "admin_name", "admin_email", "admin_phone",
	"holding_number", "assurance_scheme", "sqc_number", "sqc_assured", "what3words", "latitude",
	"longitude", "cert_status", "cert_id", "cert_expiry",
}

// System columns of the demo table (not covered by the field rules).
const (
	KeyColumn         = "erp_key"
	SyncONeColumn     = "sync_one"
	SyncCustomerAPI   = "sync_customer_api"
	UpdatedAtColumn   = "updated_at"
	DeletedColumn     = "deleted"
	ONeIDColumn       = "one_client_id"
	CustomerAPIColumn = "customer_api_id"
)

// CertDateLayout is how the demo ERP writes certificate expiry dates.
const CertDateLayout = "02.01.2006"

// Rules returns the field rules of the demo ERP layout.
func Rules() []mapping.FieldRule {
	trim := []string{"trim"}
	return []mapping.FieldRule{
		{ERP: "customer_type", Field: "type", Transform: []string{"trim", "upper", "map"},
			Map: []mapping.ValuePair{{From: "C", To: "company"}, {From: "I", To: "individual"}}},
		{ERP: "name", Field: "name", Transform: trim},
		{ERP: "nickname", Field: "internal_nickname", Transform: trim},
		{ERP: "tin", Field: "tin", Transform: trim},
		{ERP: "tin_code", Field: "tin_code", Transform: []string{"trim", "upper"}},
		{ERP: "regon", Field: "business_registration_number"},
		{ERP: "vat_id", Field: "vat_id"},
		{ERP: "company_number", Field: "company_number"},
		{ERP: "address_name", Field: "billing.name"},
		{ERP: "street", Field: "billing.street"},
		{ERP: "address_line2", Field: "billing.line2"},
		{ERP: "postcode", Field: "billing.postcode"},
		{ERP: "city", Field: "billing.city"},
		{ERP: "region", Field: "billing.region"},
		{ERP: "country", Field: "billing.country_name"},
		{ERP: "country_iso2", Field: "billing.country_iso2", Transform: []string{"trim", "upper"}},
		// A national number is read in the row's country; GB when it has none.
		{ERP: "phone", Field: "phone", Transform: []string{"phone"}, PhoneRegion: "GB"},
		{ERP: "email", Field: "email", Transform: []string{"trim", "lower"}},
		{ERP: "invoice_emails", Field: "invoice_emails"},
		{ERP: "e_invoice", Field: "invoice_agreement"},
		{ERP: "currency", Field: "currency", Transform: []string{"trim", "upper"}},
		{ERP: "tax_payer", Field: "tax_payer"},
		{ERP: "tax_type", Field: "tax_type"},
		{ERP: "client_status", Field: "client_status"},
		{ERP: "account_types", Field: "account_types"},
		{ERP: "account_manager", Field: "account_manager_id"},
		{ERP: "warehouse", Field: "warehouse_id"},
		{ERP: "segment", Field: "segment_id"},
		{ERP: "payment_id", Field: "payment_id"},
		{ERP: "term_payment_id", Field: "term_payment_id"},
		{ERP: "credit_limit", Field: "trade_credit_limit"},
		{ERP: "blockade_id", Field: "blockade_id"},
		{ERP: "bank_account", Field: "bank_account"},
		{ERP: "admin_name", Field: "admin.name"},
		{ERP: "admin_email", Field: "admin.email", Transform: []string{"trim", "lower"}},
		{ERP: "admin_phone", Field: "admin.phone", Transform: []string{"phone"}},
		{ERP: "holding_number", Field: "farm.holding_number"},
		{ERP: "assurance_scheme", Field: "farm.assurance_scheme"},
		{ERP: "sqc_number", Field: "farm.sqc_number"},
		{ERP: "sqc_assured", Field: "farm.sqc_assured"},
		{ERP: "what3words", Field: "farm.what3words"},
		{ERP: "latitude", Field: "farm.latitude"},
		{ERP: "longitude", Field: "farm.longitude"},
		{ERP: "cert_status", Field: "farm.certificate_status"},
		{ERP: "cert_id", Field: "farm.certificate_identifier"},
		{ERP: "cert_expiry", Field: "farm.certificate_expiry", Transform: []string{"date"}, DateFormat: CertDateLayout},
	}
}

// Invalid is a kind of deliberately invalid row.
type Invalid string

// The invalid kinds, each with a known field error (see Invalid.Field).
const (
	MissingTIN  Invalid = "missing_tin"
	BadEmail    Invalid = "bad_email"
	BadCurrency Invalid = "bad_currency"
	BadTINCode  Invalid = "bad_tin_code"
	BadISO2     Invalid = "bad_iso2"
	LongName    Invalid = "long_name"
	BadUTF8     Invalid = "bad_utf8"
	BadPhone    Invalid = "bad_phone"
)

// AllInvalid lists every invalid kind.
func AllInvalid() []Invalid {
	return []Invalid{MissingTIN, BadEmail, BadCurrency, BadTINCode, BadISO2, LongName, BadUTF8, BadPhone}
}

// Field is the canonical field that validation must reject for this kind.
func (k Invalid) Field() string {
	switch k {
	case MissingTIN:
		return "tin"
	case BadEmail:
		return "admin.email"
	case BadCurrency:
		return "currency"
	case BadTINCode:
		return "tin_code"
	case BadISO2:
		return "billing.country_iso2"
	case LongName:
		return "name"
	case BadUTF8:
		return "billing.city"
	case BadPhone:
		return "phone"
	}
	return ""
}

// RefusedBy reports whether platform p's validation refuses a row of this
// kind: whether p receives the spoiled field (see mapping.Receives). A
// missing tin, a bad currency and a non-EU tin code are ONe's (the
// Customer API receives none of them), a bad ISO country code is the
// Customer API's (ONe receives the country name only); a bad phone keeps
// a customer from the Customer API when it is a farm (the platform
// receives the phone with the farm business).
func (k Invalid) RefusedBy(p mapping.Platform) bool {
	switch k {
	case MissingTIN, BadCurrency, BadTINCode:
		return p == mapping.PlatformONe
	case BadISO2:
		return p == mapping.PlatformCustomerAPI
	case BadEmail, LongName, BadUTF8, BadPhone:
		return p.Valid()
	}
	return false
}

// InvalidFor lists the kinds platform p refuses (see RefusedBy), in
// AllInvalid order.
func InvalidFor(p mapping.Platform) []Invalid {
	var out []Invalid
	for _, k := range AllInvalid() {
		if k.RefusedBy(p) {
			out = append(out, k)
		}
	}
	return out
}

// Record is one generated ERP row.
type Record struct {
	// Key is the ERP key.
	Key string
	// Values are the data column values, aligned with Columns().
	Values []string
	// SyncONe and SyncCustomerAPI are the flag columns.
	SyncONe, SyncCustomerAPI bool
	// Deleted is the deleted column.
	Deleted bool
	// Invalid is the kind of defect planted in the row, "" for a valid row.
	Invalid Invalid
}

// Flagged reports whether any sync flag is set.
func (r Record) Flagged() bool { return r.SyncONe || r.SyncCustomerAPI }

// InvalidFor reports whether platform p refuses the row (it holds a
// defect p's validation refuses; see Invalid.RefusedBy).
func (r Record) InvalidFor(p mapping.Platform) bool { return r.Invalid != "" && r.Invalid.RefusedBy(p) }

// Value returns the value of a data column ("" for an unknown column).
func (r Record) Value(col string) string {
	if i := slices.Index(columns, col); i >= 0 {
		return r.Values[i]
	}
	return ""
}

// Set changes the value of a data column.
func (r *Record) Set(col, v string) {
	if i := slices.Index(columns, col); i >= 0 {
		r.Values[i] = v
	}
}

// Map returns the row as column → value, system columns included (flags
// as "1"/"0").
func (r Record) Map() map[string]string {
	m := make(map[string]string, len(columns)+4)
	for i, c := range columns {
		m[c] = r.Values[i]
	}
	m[KeyColumn] = r.Key
	m[SyncONeColumn] = boolStr(r.SyncONe)
	m[SyncCustomerAPI] = boolStr(r.SyncCustomerAPI)
	m[DeletedColumn] = boolStr(r.Deleted)
	return m
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Options tune a Generator.
type Options struct {
	// Seed makes the output reproducible.
	Seed uint64
	// InvalidEvery plants a defect in every n-th row (0: never), flagged
	// for every platform that refuses it (see Invalid.RefusedBy).
	InvalidEvery int
	// Kinds are the defects to cycle through (default AllInvalid()).
	Kinds []Invalid
	// KeyPrefix starts every key (default "C").
	KeyPrefix string
	// UnflaggedEvery leaves every n-th row without sync flags (0: never).
	UnflaggedEvery int
	// UKFarmsOnly makes every row a UK farm, a company or an individual
	// (three to one): the customers the Customer API takes (it accepts
	// organisations in GB, US, ZA and FR only, each with an owner). Flags
	// are set as for the UK farms of the default mix.
	UKFarmsOnly bool
	// UniqueOnPlatform makes every row unique where the Customer API
	// refuses duplicates: the owner's e-mail (admin_email) becomes
	// <lower-case key>@owners.example.co.uk, and a row whose name and
	// company number (case and surrounding spaces ignored, any planted
	// defect included) an earlier row of this generator holds gets
	// " <key>" appended to its name (and to the owner's name when that was
	// the row's name); a planted bad owner e-mail (its own per row) stays.
	// It draws nothing from the seeded source: the rows are otherwise
	// those generated without it. Without it the generated
	// rows repeat both within a few thousand rows.
	UniqueOnPlatform bool
}

// Generator produces records; it is not safe for concurrent use.
type Generator struct {
	opts Options
	rng  *rand.Rand
	n    int
	bad  int
	// names are the name and company number pairs handed out (with
	// Options.UniqueOnPlatform).
	names map[string]bool
}

// New returns a generator.
func New(opts Options) *Generator {
	if len(opts.Kinds) == 0 {
		opts.Kinds = AllInvalid()
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "C"
	}
	return &Generator{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

// Records returns the next n records.
func (g *Generator) Records(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// Next returns the next record.
func (g *Generator) Next() Record {
	g.n++
	r := Record{Key: fmt.Sprintf("%s%07d", g.opts.KeyPrefix, g.n), Values: make([]string, len(columns))}
	if g.opts.UKFarmsOnly {
		g.ukFarm(&r, g.rng.IntN(4) < 3)
	} else {
		switch g.rng.IntN(10) {
		case 0, 1, 2, 3:
			g.polishCompany(&r)
		case 4, 5:
			g.polishPerson(&r)
		case 6, 7, 8:
			g.ukFarm(&r, true)
		default:
			g.ukFarm(&r, false)
		}
	}
	if g.opts.UnflaggedEvery > 0 && g.n%g.opts.UnflaggedEvery == 0 {
		r.SyncONe, r.SyncCustomerAPI = false, false
	}
	if g.opts.InvalidEvery > 0 && g.n%g.opts.InvalidEvery == 0 {
		k := g.opts.Kinds[g.bad%len(g.opts.Kinds)]
		g.bad++
		g.spoil(&r, k)
	}
	if g.opts.UniqueOnPlatform {
		g.unique(&r)
	}
	return r
}

// unique gives r its own owner e-mail and, when an earlier row holds its
// name and company number, its own name (see Options.UniqueOnPlatform).
func (g *Generator) unique(r *Record) {
	if r.Invalid != BadEmail {
		r.Set("admin_email", strings.ToLower(r.Key)+"@owners.example.co.uk")
	}
	if g.names == nil {
		g.names = map[string]bool{}
	}
	identity := func() string {
		return strings.ToLower(strings.TrimSpace(r.Value("name"))) + "|" + strings.ToLower(strings.TrimSpace(r.Value("company_number")))
	}
	if g.names[identity()] {
		name := r.Value("name")
		r.Set("name", name+" "+r.Key)
		if r.Value("admin_name") == name {
			r.Set("admin_name", r.Value("name"))
		}
	}
	g.names[identity()] = true
}

func (g *Generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// nip returns a Polish tax number with a valid check digit.
func (g *Generator) nip() string {
	w := []int{6, 5, 7, 2, 3, 4, 5, 6, 7}
	for {
		d := g.digits(9)
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * w[i]
		}
		if c := sum % 11; c < 10 {
			return d + string(rune('0'+c))
		}
	}
}

var (
	plPrefix  = []string{"Agro", "Rol", "Mleko", "Zboż", "Pasz", "Nawo", "Ogrod", "Sad", "Mech", "Bud"}
	plSuffix  = []string{"pol", "mex", "rex", "tech", "hurt", "land", "max", "trans"}
	plForm    = []string{"Sp. z o.o.", "S.A.", "s.c.", "Sp. j.", "Sp. k."}
	plFirst   = []string{"Jan", "Anna", "Piotr", "Katarzyna", "Tomasz", "Małgorzata", "Paweł", "Agnieszka", "Michał", "Zofia"}
	plLast    = []string{"Kowalski", "Nowak", "Wiśniewski", "Wójcik", "Kamińska", "Lewandowski", "Zielińska", "Szymański", "Dąbrowska", "Woźniak"}
	plStreets = []string{"ul. Polna", "ul. Kwiatowa", "ul. Leśna", "ul. Słoneczna", "ul. Międzyleska", "ul. Nożownicza", "ul. Łąkowa", "al. Jana Pawła II"}
	plCities  = []struct{ city, post, region string }{
		{"Wrocław", "50-", "dolnośląskie"}, {"Kielce", "25-", "świętokrzyskie"}, {"Poznań", "60-", "wielkopolskie"},
		{"Lublin", "20-", "lubelskie"}, {"Gdańsk", "80-", "pomorskie"}, {"Kraków", "30-", "małopolskie"},
		{"Białystok", "15-", "podlaskie"}, {"Rzeszów", "35-", "podkarpackie"},
	}
	ukFirst = []string{"James", "Emily", "Oliver", "Charlotte", "Harry", "Sophie", "George", "Alice", "William", "Hannah"}
	ukLast  = []string{"Whitfield", "Ashcombe", "Thornton", "Pennington", "Holloway", "Brackley", "Fairbairn", "Kettering"}
	ukFarm  = []string{"Manor Farm", "Hill Farm", "Grange Farm", "Home Farm", "Lower Barn Farm", "Oakwood Farm", "Brook Farm"}
	ukForm  = []string{"Ltd", "LLP", "& Sons", "Partnership"}
	ukTowns = []struct{ town, post, county string }{
		{"Helmsley", "YO62", "North Yorkshire"}, {"Ludlow", "SY8", "Shropshire"}, {"Hexham", "NE46", "Northumberland"},
		{"Banbury", "OX16", "Oxfordshire"}, {"Melton Mowbray", "LE13", "Leicestershire"}, {"Perth", "PH2", "Perth and Kinross"},
		{"Sleaford", "NG34", "Lincolnshire"}, {"Tiverton", "EX16", "Devon"},
	}
	ukRoads = []string{"Low Lane", "Church Road", "Mill Lane", "Station Road", "Back Lane", "Moor Road"}
	w3w     = []string{"filled.count.soap", "index.home.raft", "daring.lion.race", "clip.apples.leap", "bravo.tulip.mint", "cloud.fence.grain"}
)

func (g *Generator) plAddress(r *Record, name string) {
	c := plCities[g.rng.IntN(len(plCities))]
	r.Set("address_name", name)
	r.Set("street", fmt.Sprintf("%s %d", g.pick(plStreets), 1+g.rng.IntN(120)))
	if g.rng.IntN(4) == 0 {
		r.Set("address_line2", fmt.Sprintf("lok. %d", 1+g.rng.IntN(30)))
	}
	r.Set("postcode", fmt.Sprintf("%s%03d", c.post, g.rng.IntN(1000)))
	r.Set("city", c.city)
	r.Set("region", c.region)
	r.Set("country", "Polska")
	r.Set("country_iso2", "PL")
	// A Warsaw landline, valid for libphonenumber (the three draws keep
	// the stream of every seed as it was).
	a, b, c7 := g.digits(3), g.digits(3), g.digits(3)
	r.Set("phone", fmt.Sprintf("+48 22 %s %s %s%s", a, b[:2], b[2:], c7[:1]))
	r.Set("currency", "PLN")
	r.Set("tax_type", "COUNTRY")
	r.SyncONe = g.rng.IntN(10) < 9
}

func (g *Generator) polishCompany(r *Record) {
	name := fmt.Sprintf("%s%s %s", g.pick(plPrefix), g.pick(plSuffix), g.pick(plForm))
	r.Set("customer_type", "C")
	r.Set("name", name)
	r.Set("nickname", strings.Fields(name)[0])
	r.Set("tin", g.nip())
	r.Set("tin_code", "PL")
	r.Set("regon", g.digits(9))
	r.Set("company_number", "KRS"+g.digits(7))
	g.plAddress(r, name)
	dom := strings.ToLower(strings.Fields(name)[0])
	dom = strings.NewReplacer("ż", "z", "ó", "o", "ł", "l", "ś", "s", "ą", "a", "ę", "e").Replace(dom)
	r.Set("email", "biuro@"+dom+".pl")
	r.Set("invoice_emails", "faktury@"+dom+".pl;ksiegowosc@"+dom+".pl")
	r.Set("e_invoice", "1")
	r.Set("tax_payer", "1")
	r.Set("client_status", "CLIENT")
	r.Set("account_types", "CLIENT")
	r.Set("account_manager", "4e37e1e")
	r.Set("warehouse", "central_01")
	r.Set("segment", g.pick([]string{"Hurtownie", "Detal", "Rolnicy"}))
	r.Set("payment_id", "3452423")
	r.Set("term_payment_id", g.pick([]string{"14", "28", "60"}))
	r.Set("credit_limit", fmt.Sprintf("%d", 1000*(1+g.rng.IntN(100))))
	r.Set("bank_account", "PL"+g.digits(26))
	r.Set("admin_name", g.pick(plFirst)+" "+g.pick(plLast))
	r.Set("admin_email", "admin@"+dom+".pl")
	r.Set("admin_phone", "+48 601 "+g.digits(9)[:6]) // a mobile number
}

func (g *Generator) polishPerson(r *Record) {
	name := g.pick(plFirst) + " " + g.pick(plLast)
	r.Set("customer_type", "I")
	r.Set("name", name)
	g.plAddress(r, "")
	user := strings.ToLower(strings.NewReplacer(" ", ".", "ś", "s", "ń", "n", "ł", "l", "ą", "a", "ó", "o", "ż", "z", "ę", "e").Replace(name))
	r.Set("email", user+"@poczta.pl")
	r.Set("client_status", g.pick([]string{"LEAD", "PROSPECT", "CLIENT"}))
	r.Set("account_types", "CLIENT")
}

func (g *Generator) ukFarm(r *Record, company bool) {
	first, last := g.pick(ukFirst), g.pick(ukLast)
	farm := g.pick(ukFarm)
	t := ukTowns[g.rng.IntN(len(ukTowns))]
	name := first + " " + last
	if company {
		name = last + " Farms " + g.pick(ukForm)
		r.Set("customer_type", "C")
		r.Set("tin", g.digits(10)) // Unique Taxpayer Reference
		r.Set("company_number", fmt.Sprintf("%08d", g.rng.IntN(20000000)))
		r.Set("tax_payer", "1")
	} else {
		r.Set("customer_type", "I")
	}
	r.Set("name", name)
	r.Set("vat_id", "GB"+g.digits(9))
	r.Set("address_name", farm)
	r.Set("street", g.pick(ukRoads))
	r.Set("address_line2", farm)
	r.Set("postcode", fmt.Sprintf("%s %d%c%c", t.post, g.rng.IntN(10), 'A'+rune(g.rng.IntN(26)), 'A'+rune(g.rng.IntN(26))))
	r.Set("city", t.town)
	r.Set("region", t.county)
	r.Set("country", "United Kingdom")
	r.Set("country_iso2", "GB")
	_ = g.digits(3) // the area code drawn before; Haverfordwest's keeps every number valid
	r.Set("phone", "01437 "+g.digits(6))
	dom := strings.ToLower(strings.ReplaceAll(last+strings.Fields(farm)[0], " ", ""))
	r.Set("email", strings.ToLower(first)+"@"+dom+".co.uk")
	r.Set("invoice_emails", "accounts@"+dom+".co.uk")
	r.Set("e_invoice", "1")
	r.Set("currency", "GBP")
	r.Set("tax_type", "EXPORT")
	r.Set("client_status", "CLIENT")
	r.Set("account_types", "CLIENT")
	r.Set("admin_name", name)
	r.Set("admin_email", strings.ToLower(first)+"@"+dom+".co.uk")
	r.Set("admin_phone", "+44 7400 "+g.digits(6)) // a mobile number (07700 numbers are reserved, not valid)
	r.Set("holding_number", fmt.Sprintf("%02d/%03d/%04d", 1+g.rng.IntN(99), g.rng.IntN(1000), g.rng.IntN(10000)))
	if strings.HasPrefix(t.post, "PH") {
		r.Set("assurance_scheme", "SQC")
		r.Set("sqc_number", "SQC"+g.digits(5))
		r.Set("sqc_assured", "1")
	} else {
		r.Set("assurance_scheme", "RT")
	}
	r.Set("what3words", g.pick(w3w))
	r.Set("latitude", fmt.Sprintf("%.4f", 50.5+g.rng.Float64()*5))
	r.Set("longitude", fmt.Sprintf("%.4f", -4+g.rng.Float64()*4))
	r.Set("cert_status", g.pick([]string{"Valid", "Valid", "Valid", "Grace"}))
	r.Set("cert_id", fmt.Sprintf("%s.%s", strings.ToUpper(g.alnum(10)), strings.ToUpper(g.alnum(8))))
	exp := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.rng.IntN(900))
	r.Set("cert_expiry", exp.Format(CertDateLayout))
	r.SyncONe = g.rng.IntN(3) == 0
	r.SyncCustomerAPI = g.rng.IntN(10) < 9
}

func (g *Generator) alnum(n int) string {
	const set = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.rng.IntN(len(set))]
	}
	return string(b)
}

func (g *Generator) spoil(r *Record, k Invalid) {
	r.Invalid = k
	switch k {
	case MissingTIN:
		r.Set("customer_type", "C")
		r.Set("tin", "")
	case BadEmail:
		// The owner's e-mail: both platforms receive it (ONe never
		// receives the top-level email).
		r.Set("admin_email", strings.ToLower(r.Key)+"(at)example.pl")
	case BadCurrency:
		r.Set("currency", "ZLT")
	case BadTINCode:
		r.Set("tin_code", "GR")
	case BadISO2:
		r.Set("country_iso2", "UK")
		r.Set("holding_number", "") // keep the GB holding check out of the way
	case LongName:
		r.Set("name", strings.Repeat("Gospodarstwo Rolne ", 20))
	case BadUTF8:
		r.Set("city", "Krak\xf3w")
	case BadPhone:
		r.Set("phone", "call the office")
	}
	// Flag the row for every platform that refuses it, so that each
	// dead-letters it (a bad phone keeps only a farm from the Customer API).
	if k.RefusedBy(mapping.PlatformONe) {
		r.SyncONe = true
	}
	if k.RefusedBy(mapping.PlatformCustomerAPI) && (k != BadPhone || r.Value("holding_number") != "") {
		r.SyncCustomerAPI = true
	}
}
