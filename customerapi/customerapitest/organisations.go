package customerapitest

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/refhttp"
)

var countries2 = []string{"GB", "US", "ZA", "FR"}

func itoa(i int) string { return strconv.Itoa(i) }

func refhttpFieldErrs(w http.ResponseWriter, status int, message string, f fieldErrs) {
	refhttp.WriteFieldErrors(w, status, message, []apierr.FieldError(f))
}

func checkCountry(f *fieldErrs, field, v string, required bool) {
	if v == "" {
		if required {
			f.add(field, "is required")
		}
		return
	}
	if !slices.Contains(countries2, v) {
		f.add(field, "must be one of GB, US, ZA, FR")
	}
}

func checkContact(f *fieldErrs, prefix string, c *customerapi.ContactInput, country string) *customerapi.Phone {
	if !emailRE.MatchString(c.Email) {
		f.add(prefix+".email", "must be an email address")
	}
	f.required(prefix+".givenName", c.GivenName)
	f.required(prefix+".familyName", c.FamilyName)
	if c.Phone != "" {
		p, err := customerapi.ParsePhone(c.Phone, country)
		if err != nil {
			f.add(prefix+".phone", err.Error())
			return nil
		}
		return &p
	}
	return nil
}

func (s *Server) duplicateOrg(name, number, except string) bool {
	// The index holds every organisation under its folded name and number;
	// the candidates are confirmed with the comparison itself.
	for _, o := range s.st.orgsByKey[dupKey(name, number)] {
		if o.id == except {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(o.o.Name), strings.TrimSpace(name)) && strings.EqualFold(o.companyNumber(), number) {
			return true
		}
	}
	return false
}

func (s *Server) createOrganisation(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.CreateOrganisationRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.Location == nil {
		f.add("location", "is required")
	}
	f.required("name", req.Name)
	checkCountry(&f, "countryISO", req.CountryISO, true)
	var phone *customerapi.Phone
	if req.OwnerContact == nil {
		f.add("ownerContact", "is required")
	} else {
		phone = checkContact(&f, "ownerContact", req.OwnerContact, req.CountryISO)
	}
	for i := range req.Contacts {
		checkContact(&f, "contacts["+itoa(i)+"]", &req.Contacts[i], req.CountryISO)
	}
	if req.Billing == nil {
		f.add("billing", "is required")
	}
	if req.Modules == nil {
		f.add("modules", "is required")
	}
	for i, m := range req.Modules {
		f.required("modules["+itoa(i)+"].id", m.ID)
	}
	if req.Company != nil && req.Company.AssuranceScheme != "" && !req.Company.AssuranceScheme.Valid() {
		f.add("company.assuranceScheme", "must be one of RT, SQC")
	}
	if f.write(w) {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not create organisations")
		return
	}
	number := ""
	if req.Company != nil {
		number = req.Company.Number
	}
	if s.duplicateOrg(req.Name, number, "") {
		writeErr(w, http.StatusConflict, "an organisation with this name and company number already exists")
		return
	}
	if s.st.userByEmail(req.OwnerContact.Email) != nil {
		refhttpFieldErrs(w, http.StatusConflict, "a user with this email already exists",
			fieldErrs{{Field: "ownerContact.email", Message: "already belongs to a user"}})
		return
	}
	o := s.st.newOrg(strings.TrimSpace(req.Name), req.CountryISO, number)
	o.managedBy = c.orgID
	o.o.Location, o.o.Company, o.o.Billing, o.o.Modules = req.Location, req.Company, req.Billing, req.Modules
	o.o.Status = "pending"
	s.st.indexOrg(o)
	owner := s.st.newUser(o.id, req.OwnerContact.Email, req.OwnerContact.GivenName, req.OwnerContact.FamilyName, []string{"owner"})
	s.st.setPhone(owner, phone)
	owner.u.CountryISO = req.CountryISO
	owner.password, owner.temporary = "Tmp"+s.st.digits(6)+"x", true
	s.st.send(owner.u.Email, "temporary-password", owner.password, "Welcome: your temporary password")
	o.ownerID = owner.id
	for _, ci := range req.Contacts {
		if s.st.userByEmail(ci.Email) != nil {
			continue
		}
		u := s.st.newUser(o.id, ci.Email, ci.GivenName, ci.FamilyName, []string{"member"})
		if ci.Phone != "" {
			if p, err := customerapi.ParsePhone(ci.Phone, req.CountryISO); err == nil {
				s.st.setPhone(u, &p)
			}
		}
		u.password, u.temporary = "Tmp"+s.st.digits(6)+"x", true
		s.st.send(u.u.Email, "temporary-password", u.password, "Welcome: your temporary password")
	}
	ok(w, s.st.orgView(o))
}

var sortable = map[string]func(a, b *org) int{
	"name":         func(a, b *org) int { return strings.Compare(strings.ToLower(a.o.Name), strings.ToLower(b.o.Name)) },
	"createdAtUTC": func(a, b *org) int { return a.seq - b.seq },
	"status":       func(a, b *org) int { return strings.Compare(a.o.Status, b.o.Status) },
	"id":           func(a, b *org) int { return strings.Compare(a.id, b.id) },
	"countryISO":   func(a, b *org) int { return strings.Compare(a.o.CountryISO, b.o.CountryISO) },
}

// paging reads limit/offset/sortDesc/count; it answers 400 itself.
type paging struct {
	limit, offset   int
	sortBy          string
	sortDesc, count bool
}

func readPaging(w http.ResponseWriter, r *http.Request, sortKeys func(string) bool) (paging, bool) {
	q := r.URL.Query()
	p := paging{limit: 50}
	var f fieldErrs
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			f.add("limit", "must be an integer from 1 to 1000")
		}
		p.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			f.add("offset", "must be a non-negative integer")
		}
		p.offset = n
	}
	for _, k := range []string{"sortDesc", "count"} {
		if v := q.Get(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				f.add(k, "must be true or false")
			}
			if k == "sortDesc" {
				p.sortDesc = b
			} else {
				p.count = b
			}
		}
	}
	if v := q.Get("sortBy"); v != "" {
		if !sortKeys(v) {
			f.add("sortBy", "cannot sort by "+v)
		}
		p.sortBy = v
	}
	return p, !f.write(w)
}

func (s *Server) listOrganisations(w http.ResponseWriter, r *http.Request, c *caller) {
	p, good := readPaging(w, r, func(k string) bool { return sortable[k] != nil })
	if !good {
		return
	}
	q := r.URL.Query()
	status, text := q.Get("status"), strings.ToLower(q.Get("query"))
	modules := splitIDs(q.Get("modules"))
	match := func(o *org) bool {
		if !s.visible(c, o) || (status != "" && o.o.Status != status) {
			return false
		}
		if text != "" && !strings.Contains(strings.ToLower(o.o.Name), text) &&
			!strings.Contains(strings.ToLower(o.o.CompanyNumber), text) && o.id != text {
			return false
		}
		if len(modules) > 0 && !slices.ContainsFunc(o.o.Modules, func(m customerapi.Module) bool { return slices.Contains(modules, m.ID) }) {
			return false
		}
		return true
	}
	if p.count {
		n := 0
		for _, o := range s.st.orgOrder {
			if match(o) {
				n++
			}
		}
		ok(w, customerapi.CountResult{Count: n})
		return
	}
	out := make([]customerapi.Organisation, 0, min(p.limit, 64))
	if p.sortBy == "" || (p.sortBy == "createdAtUTC" && !p.sortDesc) {
		skipped := 0
		for _, o := range s.st.orgOrder {
			if len(out) >= p.limit {
				break
			}
			if !match(o) {
				continue
			}
			if skipped < p.offset {
				skipped++
				continue
			}
			out = append(out, s.st.orgView(o))
		}
		ok(w, out)
		return
	}
	var all []*org
	for _, o := range s.st.orgOrder {
		if match(o) {
			all = append(all, o)
		}
	}
	cmp := sortable[p.sortBy]
	sort.SliceStable(all, func(i, j int) bool {
		if p.sortDesc {
			return cmp(all[j], all[i]) < 0
		}
		return cmp(all[i], all[j]) < 0
	})
	for i := p.offset; i < len(all) && len(out) < p.limit; i++ {
		out = append(out, s.st.orgView(all[i]))
	}
	ok(w, out)
}

func (s *Server) getOrganisationsByIDs(w http.ResponseWriter, r *http.Request, c *caller) {
	ids, good := requireIDs(w, r)
	if !good {
		return
	}
	out := []customerapi.OrganisationRecord{}
	for _, id := range ids {
		// Unknown ids and ids outside the caller's reach are left out, as a batch look-up does.
		if o := s.st.orgs[id]; o != nil && s.visible(c, o) {
			out = append(out, s.st.orgRecord(o))
		}
	}
	ok(w, out)
}

func (s *Server) getCurrentOrganisation(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.st.orgs[c.orgID]
	if o == nil {
		writeErr(w, http.StatusNotFound, "organisation not found")
		return
	}
	ok(w, s.st.orgRecord(o))
}

func (s *Server) getOrganisation(w http.ResponseWriter, r *http.Request, c *caller) {
	if o := s.orgFor(w, c, r.PathValue("id")); o != nil {
		ok(w, s.st.orgView(o))
	}
}

func (s *Server) updateOrganisation(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	var req customerapi.UpdateOrganisationRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.Name != nil {
		f.required("name", *req.Name)
	}
	if req.CountryISO != nil {
		checkCountry(&f, "countryISO", *req.CountryISO, true)
	}
	country := o.o.CountryISO
	if req.CountryISO != nil {
		country = *req.CountryISO
	}
	var phone *customerapi.Phone
	if req.OwnerContact != nil {
		phone = checkContact(&f, "ownerContact", req.OwnerContact, country)
	}
	if req.Status != nil && !slices.Contains(orgStatuses, *req.Status) {
		f.add("status", "must be one of active, inactive, pending, suspended")
	}
	for i, m := range req.Modules {
		f.required("modules["+itoa(i)+"].id", m.ID)
	}
	if req.Company != nil && req.Company.AssuranceScheme != "" && !req.Company.AssuranceScheme.Valid() {
		f.add("company.assuranceScheme", "must be one of RT, SQC")
	}
	if f.write(w) {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not change organisations")
		return
	}
	name, number := o.o.Name, o.o.CompanyNumber
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if req.Company != nil && req.Company.Number != "" {
		number = req.Company.Number
	}
	if req.CompanyNumber != nil {
		number = *req.CompanyNumber
	}
	if (name != o.o.Name || number != o.o.CompanyNumber) && s.duplicateOrg(name, number, o.id) {
		writeErr(w, http.StatusConflict, "an organisation with this name and company number already exists")
		return
	}
	if owner := s.st.users[o.ownerID]; owner != nil && req.OwnerContact != nil {
		if !strings.EqualFold(owner.u.Email, req.OwnerContact.Email) {
			if other := s.st.userByEmail(req.OwnerContact.Email); other != nil {
				refhttpFieldErrs(w, http.StatusConflict, "a user with this email already exists",
					fieldErrs{{Field: "ownerContact.email", Message: "already belongs to a user"}})
				return
			}
		}
		owner.u.GivenName, owner.u.FamilyName = req.OwnerContact.GivenName, req.OwnerContact.FamilyName
		s.st.setEmail(owner, req.OwnerContact.Email)
		if phone != nil {
			s.st.setPhone(owner, phone)
		}
	}
	o.o.Name, o.o.CompanyNumber = name, number
	if req.Company != nil {
		o.o.Company = req.Company
	}
	if o.o.Company == nil && (req.Bio != nil || req.CompanyHoldingNumber != nil || req.Website != nil || req.CompanySalesTaxID != nil) {
		o.o.Company = &customerapi.Company{}
	}
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	if o.o.Company != nil {
		setStr(&o.o.Company.Bio, req.Bio)
		setStr(&o.o.Company.HoldingNumber, req.CompanyHoldingNumber)
		setStr(&o.o.Company.Website, req.Website)
		setStr(&o.o.Company.SalesTaxID, req.CompanySalesTaxID)
		if req.CompanyNumber != nil {
			o.o.Company.Number = *req.CompanyNumber
		}
		if req.Logo != nil {
			o.o.Company.Logo = req.Logo
		}
	}
	if req.Location != nil {
		o.o.Location = req.Location
	}
	setStr(&o.o.CountryISO, req.CountryISO)
	setStr(&o.o.Status, req.Status)
	setStr(&o.o.StatusMessage, req.StatusMessage)
	if req.Billing != nil {
		o.o.Billing = req.Billing
	}
	if req.Modules != nil {
		o.o.Modules = req.Modules
	}
	if req.SettlementContacts != nil {
		o.o.SettlementContacts = req.SettlementContacts
	}
	if req.Vetted != nil {
		o.o.Vetted = *req.Vetted
	}
	if req.IsMerchant != nil {
		o.o.IsMerchant = *req.IsMerchant
	}
	s.st.indexOrg(o)
	ok(w, s.st.orgView(o))
}

var (
	sortCodeRE      = regexp.MustCompile(`^\d{2}-\d{2}-\d{2}$`)
	accountNumberRE = regexp.MustCompile(`^\d{8,18}$`)
)

func (s *Server) updateAdvancePay(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	var req customerapi.AdvancePayRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("accountName", req.AccountName)
	if !sortCodeRE.MatchString(req.SortCode) {
		f.add("sortCode", `must match ^\d{2}-\d{2}-\d{2}$`)
	}
	if !accountNumberRE.MatchString(req.AccountNumber) {
		f.add("accountNumber", `must match ^\d{8,18}$`)
	}
	if f.write(w) {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners only")
		return
	}
	if req.Status != nil && !*req.Status {
		o.advance = nil
	} else {
		o.advance = &customerapi.AdvancePay{AccountName: req.AccountName, SortCode: req.SortCode, AccountNumber: req.AccountNumber}
	}
	msg(w, "advance pay details updated")
}

func (s *Server) activateOrganisation(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not activate organisations")
		return
	}
	o.o.Status = "active"
	if owner := s.st.users[o.ownerID]; owner != nil {
		s.st.send(owner.u.Email, "welcome", "", "Welcome to the platform")
	}
	ok(w, s.st.orgView(o))
}

func (s *Server) addModule(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	var req customerapi.Module
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("id", req.ID)
	if req.Price == nil {
		f.add("price", "is required")
	}
	if f.write(w) {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners or administrators only")
		return
	}
	if slices.ContainsFunc(o.o.Modules, func(m customerapi.Module) bool { return m.ID == req.ID }) {
		writeErr(w, http.StatusConflict, "module already added")
		return
	}
	o.o.Modules = append(o.o.Modules, req)
	ok(w, s.st.orgView(o))
}

func (s *Server) moduleID(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		ID string `json:"id"`
	}
	if !decode(w, r, &req) {
		return "", false
	}
	var f fieldErrs
	f.required("id", req.ID)
	return req.ID, !f.write(w)
}

func (s *Server) removeModule(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	id, good := s.moduleID(w, r)
	if !good {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners or administrators only")
		return
	}
	i := slices.IndexFunc(o.o.Modules, func(m customerapi.Module) bool { return m.ID == id })
	if i < 0 {
		writeErr(w, http.StatusNotFound, "module not found on organisation")
		return
	}
	o.o.Modules = slices.Delete(o.o.Modules, i, i+1)
	ok(w, s.st.orgView(o))
}

func (s *Server) requestModule(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	id, good := s.moduleID(w, r)
	if !good {
		return
	}
	s.st.send("slack", "module-request", id, o.o.Name+" asks for module "+id)
	msg(w, "request sent to customer success")
}

func (s *Server) changeOwner(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		NewOwnerUserID string `json:"newOwnerUserId"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("newOwnerUserId", req.NewOwnerUserID)
	if f.write(w) {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners only")
		return
	}
	o := s.st.orgs[c.orgID]
	u := s.st.users[req.NewOwnerUserID]
	if u == nil || u.orgID != o.id {
		f.add("newOwnerUserId", "must be a user of your organisation")
		f.write(w)
		return
	}
	o.ownerID = u.id
	if !slices.Contains(u.u.Roles, "owner") {
		u.u.Roles = append(u.u.Roles, "owner")
		u.u.Profiles[0].Roles = slices.Clone(u.u.Roles)
	}
	ok(w, s.st.orgView(o))
}

func (s *Server) profile(c *caller) customerapi.Profile {
	uv := s.st.userView(c.u)
	p := customerapi.Profile{User: &uv, Features: map[string]bool{"businessConnections": true, "redTractor": true}}
	if o := s.st.orgs[c.orgID]; o != nil {
		ov := s.st.orgView(o)
		p.Organisation = &ov
	}
	write := c.canWrite()
	perm := map[string]customerapi.Permission{"customers": {Read: true, Write: write}}
	p.Access = &customerapi.Access{Administrator: c.admin(), Menu: true,
		Account: perm, Trading: perm, Inventory: perm, Logistics: perm,
		System: map[string]customerapi.Permission{"settings": {Read: c.admin(), Write: c.admin()}}}
	return p
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, c *caller) {
	ok(w, s.profile(c))
}
