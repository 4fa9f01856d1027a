package customerapitest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
)

var iso3RE = regexp.MustCompile(`^[A-Z]{3}$`)

func (s *Server) getRedTractorCertificates(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	var f fieldErrs
	country := q.Get("country")
	if !iso3RE.MatchString(country) {
		f.add("country", "must be an ISO 3166-1 alpha-3 code such as GBR")
	}
	if q.Get("postcode") == "" && q.Get("holdingNumber") == "" {
		f.add("postcode", "give a postcode or a holdingNumber")
	}
	if f.write(w) {
		return
	}
	ok(w, s.st.findCerts(country, q.Get("postcode"), q.Get("holdingNumber")))
}

func (s *Server) getBusiness(w http.ResponseWriter, r *http.Request, c *caller) {
	b := s.st.biz[r.PathValue("id")]
	if b == nil {
		writeErr(w, http.StatusNotFound, "business not found")
		return
	}
	if c != nil {
		if o := s.st.orgs[b.OrganisationID]; o != nil && !s.visible(c, o) {
			forbidden(w, "business belongs to another customer")
			return
		}
	}
	ok(w, s.st.businessView(b))
}

func (s *Server) getBusinessesByBusinessUnitIDs(w http.ResponseWriter, r *http.Request, c *caller) {
	ids, good := requireIDs(w, r)
	if !good {
		return
	}
	out := []customerapi.Business{}
	for _, id := range ids {
		b := s.st.bus[id]
		if b == nil || s.st.biz[b.bizID] == nil {
			continue
		}
		if c != nil {
			if o := s.st.orgs[b.orgID]; o != nil && !s.visible(c, o) {
				continue
			}
		}
		out = append(out, s.st.businessView(s.st.biz[b.bizID]))
	}
	ok(w, out)
}

func checkBusinessInput(f *fieldErrs, in *customerapi.BusinessInput) *customerapi.Phone {
	if in == nil {
		return nil
	}
	if in.AssuranceScheme != "" && !in.AssuranceScheme.Valid() {
		f.add("business.assuranceScheme", "must be one of RT, SQC")
	}
	if in.Email != "" && !emailRE.MatchString(in.Email) {
		f.add("business.email", "must be an email address")
	}
	if in.HoldingNumber != "" && !holdingRE.MatchString(in.HoldingNumber) {
		f.add("business.holdingNumber", "must look like 12/345/6789")
	}
	if in.PhoneNumber != "" {
		p, err := customerapi.ParsePhone(in.PhoneNumber, "")
		if err != nil {
			f.add("business.phoneNumber", err.Error())
			return nil
		}
		return &p
	}
	return nil
}

var holdingRE = regexp.MustCompile(`^\d{2}/\d{3}/\d{4}$`)

func (st *state) applyBusiness(b *bu, in *customerapi.BusinessInput, phone *customerapi.Phone) {
	bz := st.biz[b.bizID]
	if bz == nil {
		bz = &customerapi.Business{ID: st.id(""), BusinessUnitID: b.id, OrganisationID: b.orgID, Tags: []string{}}
		st.biz[bz.ID] = bz
		b.bizID = bz.ID
	}
	if in.Location != nil {
		bz.Location = in.Location
	}
	if in.Name != "" {
		bz.Name, bz.BusinessName = in.Name, in.Name
	}
	if phone != nil {
		bz.Phone = phone
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&bz.Email, in.Email)
	set(&bz.LocationTag, in.LocationTag)
	set(&bz.ManagementTag, in.ManagementTag)
	set(&bz.HoldingNumber, in.HoldingNumber)
	if in.Sqc != nil {
		bz.Sqc = in.Sqc
	}
	if in.AssuranceScheme != "" {
		bz.AssuranceScheme = in.AssuranceScheme
	}
	if bz.Name == "" {
		bz.Name, bz.BusinessName = b.name, b.name
	}
}

func (s *Server) createBusinessUnit(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.CreateBusinessUnitRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("organisationId", req.OrganisationID)
	f.required("name", req.Name)
	if !req.Type.Valid() {
		f.add("type", "must be one of farm, stores, region")
	}
	phone := checkBusinessInput(&f, req.Business)
	if f.write(w) {
		return
	}
	o := s.orgFor(w, c, req.OrganisationID)
	if o == nil {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not create business units")
		return
	}
	for _, b := range s.st.busOf(o.id) {
		if strings.EqualFold(b.name, strings.TrimSpace(req.Name)) {
			writeErr(w, http.StatusConflict, "a business unit with this name already exists")
			return
		}
	}
	b := s.st.newBU(o.id, strings.TrimSpace(req.Name), req.Type)
	if req.Business != nil {
		s.st.applyBusiness(b, req.Business, phone)
	}
	ok(w, s.st.buView(b))
}

func (st *state) newBU(orgID, name string, typ customerapi.BusinessUnitType) *bu {
	b := &bu{id: st.id(""), orgID: orgID, name: name, typ: typ, tags: []string{}, ordinal: len(st.busOf(orgID)) + 1}
	if o := st.orgs[orgID]; o != nil && o.o.Location != nil && o.o.Location.Address != nil {
		b.region = o.o.Location.Address.RegionISO
	}
	st.bus[b.id] = b
	st.addBU(b)
	return b
}

func (s *Server) updateBusinessUnit(w http.ResponseWriter, r *http.Request, c *caller) {
	b := s.st.bus[r.PathValue("id")]
	if b == nil {
		writeErr(w, http.StatusNotFound, "business unit not found")
		return
	}
	if s.orgFor(w, c, b.orgID) == nil {
		return
	}
	var req customerapi.UpdateBusinessUnitRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.Name != nil {
		f.required("name", *req.Name)
	}
	phone := checkBusinessInput(&f, req.Business)
	if f.write(w) {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not change business units")
		return
	}
	if req.Name != nil {
		b.name = strings.TrimSpace(*req.Name)
	}
	if req.Business != nil {
		s.st.applyBusiness(b, req.Business, phone)
	}
	ok(w, s.st.buView(b))
}

func (s *Server) getBusinessUnitsSummary(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	ok(w, customerapi.BusinessUnitsSummary{OrganisationID: o.id, OrganisationName: o.o.Name,
		TagGroups: nonNil(o.tagGroups), BusinessUnits: s.st.buRefs(o.id, nil)})
}

func (s *Server) getOrganisationBusinessUnits(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	// A user restricted to some business units sees only those in its own
	// organisation; owners and administrators see all.
	var only []string
	if o.id == c.orgID && !c.owner() {
		only = c.u.u.Profiles[0].BusinessUnits
	}
	out := customerapi.OrganisationBusinessUnits{ID: o.id, OrganisationID: o.id, OrganisationName: o.o.Name,
		TagGroups: nonNil(o.tagGroups), BusinessUnits: []customerapi.BusinessUnit{}}
	if o.o.Location != nil && o.o.Location.Address != nil {
		out.OrganisationRegionISO = o.o.Location.Address.RegionISO
	}
	for _, b := range s.st.busOf(o.id) {
		if len(only) > 0 && !slices.Contains(only, b.id) {
			continue
		}
		out.BusinessUnits = append(out.BusinessUnits, s.st.buView(b))
	}
	ok(w, out)
}
