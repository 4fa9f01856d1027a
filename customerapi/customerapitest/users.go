package customerapitest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *caller) {
	p, good := readPaging(w, r, func(k string) bool { return k == "email" || k == "givenName" || k == "familyName" })
	if !good {
		return
	}
	q := r.URL.Query()
	orgIDs := splitIDs(q.Get("organisationIds"))
	if v := q.Get("organisationId"); v != "" {
		orgIDs = append(orgIDs, v)
	}
	status, text := q.Get("status"), strings.ToLower(q.Get("query"))
	users := s.st.userList
	if len(orgIDs) > 0 {
		users = s.st.usersOf(orgIDs)
	}
	var all []*user
	for _, u := range users {
		if !s.userVisible(c, u) || (status != "" && u.u.Status != status) {
			continue
		}
		if len(orgIDs) > 0 && !slices.Contains(orgIDs, u.orgID) {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(u.u.Email+" "+u.u.GivenName+" "+u.u.FamilyName), text) {
			continue
		}
		all = append(all, u)
	}
	if p.count {
		ok(w, customerapi.CountResult{Count: len(all)})
		return
	}
	if p.sortBy != "" {
		key := func(u *user) string {
			switch p.sortBy {
			case "email":
				return strings.ToLower(u.u.Email)
			case "givenName":
				return strings.ToLower(u.u.GivenName)
			}
			return strings.ToLower(u.u.FamilyName)
		}
		slices.SortStableFunc(all, func(a, b *user) int {
			if p.sortDesc {
				a, b = b, a
			}
			return strings.Compare(key(a), key(b))
		})
	}
	out := []customerapi.User{}
	for i := p.offset; i < len(all) && len(out) < p.limit; i++ {
		out = append(out, s.st.userView(all[i]))
	}
	ok(w, out)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.CreateUserRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("givenName", req.GivenName)
	f.required("familyName", req.FamilyName)
	if !emailRE.MatchString(req.Email) {
		f.add("email", "must be an email address")
	}
	checkCountry(&f, "countryISO", req.CountryISO, false)
	var phone *customerapi.Phone
	if req.Phone == nil {
		f.add("phone", "is required")
	} else if *req.Phone != "" {
		p, err := customerapi.ParsePhone(*req.Phone, req.CountryISO)
		if err != nil {
			f.add("phone", err.Error())
		} else {
			phone = &p
		}
	}
	orgID := req.OrganisationID
	if orgID == "" {
		orgID = c.orgID
	}
	for i, id := range req.BusinessUnits {
		if b := s.st.bus[id]; b == nil || b.orgID != orgID {
			f.add("businessUnits["+itoa(i)+"]", "is not a business unit of the organisation")
		}
	}
	for i, role := range req.Roles {
		if !slices.Contains([]string{"owner", "member", "readonly"}, role) {
			f.add("roles["+itoa(i)+"]", "must be one of owner, member, readonly")
		}
	}
	if f.write(w) {
		return
	}
	o := s.orgFor(w, c, orgID)
	if o == nil {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners only")
		return
	}
	if s.st.userByEmail(req.Email) != nil {
		writeErr(w, http.StatusConflict, "a user with this email already exists")
		return
	}
	roles := req.Roles
	if len(roles) == 0 {
		roles = []string{"member"}
	}
	u := s.st.newUser(o.id, req.Email, req.GivenName, req.FamilyName, slices.Clone(roles))
	s.st.setPhone(u, phone)
	u.u.PushToken = req.PushToken
	if req.CountryISO != "" {
		u.u.CountryISO = req.CountryISO
	}
	u.u.Profiles[0].BusinessUnits = append([]string{}, req.BusinessUnits...)
	u.password, u.temporary = "Tmp"+s.st.digits(6)+"x", true
	s.st.send(u.u.Email, "temporary-password", u.password, "Welcome: your temporary password")
	ok(w, s.st.userView(u))
}

func (s *Server) getCurrentUser(w http.ResponseWriter, r *http.Request, c *caller) {
	if c == nil {
		writeErr(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	ok(w, s.st.userView(c.u))
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, c *caller) {
	u := s.userFor(w, c, r.PathValue("id"))
	if u == nil {
		return
	}
	var req customerapi.PatchUserRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.GivenName != nil {
		f.required("givenName", *req.GivenName)
	}
	if req.FamilyName != nil {
		f.required("familyName", *req.FamilyName)
	}
	if req.Email != nil && !emailRE.MatchString(*req.Email) {
		f.add("email", "must be an email address")
	}
	if req.CountryISO != nil {
		checkCountry(&f, "countryISO", *req.CountryISO, true)
	}
	parse := func(field string, v *string) *customerapi.Phone {
		if v == nil || *v == "" {
			return nil
		}
		p, err := customerapi.ParsePhone(*v, u.u.CountryISO)
		if err != nil {
			f.add(field, err.Error())
			return nil
		}
		return &p
	}
	phone, landline := parse("phone", req.Phone), parse("phoneLandline", req.PhoneLandline)
	if req.OrganisationID != nil && *req.OrganisationID != u.orgID {
		f.add("organisationId", "a user cannot move to another organisation")
	}
	for i, id := range req.BusinessUnits {
		if b := s.st.bus[id]; b == nil || b.orgID != u.orgID {
			f.add("businessUnits["+itoa(i)+"]", "is not a business unit of the organisation")
		}
	}
	if f.write(w) {
		return
	}
	self := u.id == c.u.id
	if !self && !(c.owner() && (u.orgID == c.orgID || c.admin() || s.visible(c, s.st.orgs[u.orgID]))) {
		forbidden(w, "only the user or a team owner may change it")
		return
	}
	if (req.Roles != nil || req.BusinessUnits != nil) && !c.owner() {
		forbidden(w, "only a team owner may change roles or business units")
		return
	}
	if req.Email != nil && !strings.EqualFold(*req.Email, u.u.Email) {
		if s.st.userByEmail(*req.Email) != nil {
			writeErr(w, http.StatusConflict, "a user with this email already exists")
			return
		}
		// The new address takes effect once verified with the code sent to it.
		u.newEmail, u.attrCode = *req.Email, s.st.digits(6)
		s.st.send(*req.Email, "verify-attribute", u.attrCode, "Verify your new email address")
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.u.GivenName, req.GivenName)
	set(&u.u.FamilyName, req.FamilyName)
	set(&u.u.CountryISO, req.CountryISO)
	set(&u.u.PushToken, req.PushToken)
	if phone != nil || (req.Phone != nil && *req.Phone == "") {
		s.st.setPhone(u, phone)
	}
	if landline != nil || (req.PhoneLandline != nil && *req.PhoneLandline == "") {
		u.u.PhoneLandline = landline
	}
	if req.Roles != nil {
		u.u.Roles = slices.Clone(req.Roles)
		u.u.Profiles[0].Roles = slices.Clone(req.Roles)
	}
	if req.BusinessUnits != nil {
		u.u.Profiles[0].BusinessUnits = slices.Clone(req.BusinessUnits)
	}
	if req.Avatar != nil {
		u.u.Avatar = &customerapi.FileRecord{ID: req.Avatar.ID, URL: req.Avatar.URL, UserName: u.u.Email}
	}
	st := u.u.Settings
	for _, m := range []struct {
		dst *bool
		v   *bool
	}{{&st.Terms, req.TermsAgreed}, {&st.Marketing, req.MarketingEmails}, {&st.WhatsApp, req.WhatsAppNotifications},
		{&st.SMS, req.SMSNotifications}, {&st.HarvestNotificationDismissed, req.HarvestNotificationDismissed},
		{&st.HarvestDialogDismissed, req.HarvestDialogDismissed}, {&st.ListingsWelcomeRead, req.ListingsWelcomeRead}} {
		if m.v != nil {
			*m.dst = *m.v
		}
	}
	ok(w, s.st.userView(u))
}

func (s *Server) verifyAttribute(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if len(req.Code) != 6 || strings.Trim(req.Code, "0123456789") != "" {
		f.add("code", "must be 6 digits")
	} else if c.u.attrCode == "" || c.u.attrCode != req.Code {
		f.add("code", "is invalid or expired")
	}
	if f.write(w) {
		return
	}
	s.st.setEmail(c.u, c.u.newEmail)
	c.u.newEmail, c.u.attrCode = "", ""
	msg(w, "attribute verified")
}

// usersOf returns the users of the organisations, in userList order.
func (st *state) usersOf(orgIDs []string) []*user {
	var out []*user
	seen := map[string]bool{}
	for _, id := range orgIDs {
		if !seen[id] {
			seen[id] = true
			out = append(out, st.orgUsers[id]...)
		}
	}
	if len(seen) > 1 {
		slices.SortFunc(out, func(a, b *user) int { return a.ord - b.ord })
	}
	return out
}

// summaries returns the summaries of the users, among those given (in
// userList order), that the caller sees and keep keeps.
func (s *Server) summaries(c *caller, users []*user, keep func(*user) bool) customerapi.UserSummaryList {
	out := customerapi.UserSummaryList{Users: []customerapi.UserSummary{}}
	for _, u := range users {
		if s.userVisible(c, u) && keep(u) {
			out.Users = append(out.Users, s.st.userSummary(u))
		}
	}
	return out
}

func (s *Server) usersByIDs(w http.ResponseWriter, r *http.Request, c *caller) {
	ids, good := requireIDs(w, r)
	if !good {
		return
	}
	out := customerapi.UserSummaryList{Users: []customerapi.UserSummary{}}
	for _, id := range ids {
		if u := s.st.users[id]; u != nil && s.userVisible(c, u) {
			out.Users = append(out.Users, s.st.userSummary(u))
		}
	}
	ok(w, out)
}

func (s *Server) usersByRoles(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	include, exclude, orgID := splitIDs(q.Get("include")), splitIDs(q.Get("exclude")), q.Get("organisationId")
	users := s.st.userList
	if orgID != "" {
		users = s.st.orgUsers[orgID]
	}
	ok(w, s.summaries(c, users, func(u *user) bool {
		if orgID != "" && u.orgID != orgID {
			return false
		}
		if len(include) > 0 && !slices.ContainsFunc(u.u.Roles, func(r string) bool { return slices.Contains(include, r) }) {
			return false
		}
		return !slices.ContainsFunc(u.u.Roles, func(r string) bool { return slices.Contains(exclude, r) })
	}))
}

func (s *Server) usersByCommodityRegions(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	commodity, err := strconv.ParseFloat(q.Get("commodityId"), 64)
	if err != nil {
		refhttpFieldErrs(w, http.StatusBadRequest, "validation failed", fieldErrs{{Field: "commodityId", Message: "is required and must be a number"}})
		return
	}
	regions := splitIDs(q.Get("regionISOs"))
	ok(w, s.summaries(c, s.st.userList, func(u *user) bool {
		return slices.ContainsFunc(u.u.Preferences, func(p customerapi.Preference) bool {
			if p.Commodity != commodity || (p.Enabled != nil && !*p.Enabled) {
				return false
			}
			return len(regions) == 0 || slices.ContainsFunc(p.Regions, func(r string) bool { return slices.Contains(regions, r) })
		})
	}))
}

func (s *Server) usersByPreferences(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	var wanted []float64
	for _, v := range splitIDs(q.Get("preferences")) {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			refhttpFieldErrs(w, http.StatusBadRequest, "validation failed", fieldErrs{{Field: "preferences", Message: "must be comma-separated commodity numbers"}})
			return
		}
		wanted = append(wanted, n)
	}
	excluded := q.Get("organisationId")
	ok(w, s.summaries(c, s.st.userList, func(u *user) bool {
		if excluded != "" && u.orgID == excluded {
			return false
		}
		return slices.ContainsFunc(u.u.Preferences, func(p customerapi.Preference) bool {
			return len(wanted) == 0 || slices.Contains(wanted, p.Commodity)
		})
	}))
}

func (s *Server) setBuyerPreferences(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Preferences []struct {
			Commodity *float64  `json:"commodity"`
			Grades    []float64 `json:"grades"`
			Regions   []string  `json:"regions"`
			Enabled   *bool     `json:"enabled"`
		} `json:"preferences"`
		NotificationsEnabled *bool `json:"notificationsEnabled"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	prefs := []customerapi.Preference{}
	for i, p := range req.Preferences {
		at := "preferences[" + itoa(i) + "]"
		if p.Commodity == nil {
			f.add(at+".commodity", "is required")
		}
		if p.Grades == nil {
			f.add(at+".grades", "is required")
		}
		if p.Regions == nil {
			f.add(at+".regions", "is required")
		}
		enabled := true
		if p.Enabled != nil {
			enabled = *p.Enabled
		}
		if p.Commodity != nil {
			prefs = append(prefs, customerapi.Preference{Commodity: *p.Commodity, Grades: p.Grades, Regions: p.Regions, Enabled: &enabled})
		}
	}
	if f.write(w) {
		return
	}
	c.u.u.Preferences = prefs
	if req.NotificationsEnabled != nil {
		c.u.u.NotificationsEnabled = *req.NotificationsEnabled
	}
	ok(w, s.st.userView(c.u))
}

func (s *Server) lookupByPhone(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Phone *string `json:"phone"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.Phone == nil || *req.Phone == "" {
		f.add("phone", "is required")
		f.write(w)
		return
	}
	p, err := customerapi.ParsePhone(*req.Phone, "")
	if err != nil {
		f.add("phone", err.Error())
		f.write(w)
		return
	}
	if u := s.st.userByPhone(p); u != nil {
		if !s.userVisible(c, u) {
			forbidden(w, "user belongs to another customer")
			return
		}
		ok(w, s.st.userView(u))
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not create users")
		return
	}
	// Not found: the platform creates a placeholder user in the caller's organisation.
	email := "phone+" + strings.TrimPrefix(p.String(), "+") + "@users.invalid"
	u := s.st.newUser(c.orgID, email, "", "", []string{"member"})
	s.st.setPhone(u, &p)
	u.u.Status = "pending"
	ok(w, s.st.userView(u))
}

func (s *Server) userBasic(w http.ResponseWriter, r *http.Request, c *caller) {
	if u := s.userFor(w, c, r.PathValue("id")); u != nil {
		ok(w, s.st.userSummary(u))
	}
}
