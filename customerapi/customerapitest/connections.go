package customerapitest

import (
	"net/http"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
)

func checkConnectionRequest(f *fieldErrs, req *customerapi.BusinessConnectionRequest) {
	if req.ID == "" {
		f.required("name", req.Name)
	}
	checkCountry(f, "countryISO", req.CountryISO, false)
	if req.Relationship != "" && !req.Relationship.Valid() {
		f.add("relationship", "must be one of trading, storage, carrier, organiser")
	}
	if req.Contacts == nil {
		f.add("contacts", "is required")
	}
	for i, ct := range req.Contacts {
		p := "contacts[" + itoa(i) + "]"
		if ct.ID != "" {
			continue
		}
		if !emailRE.MatchString(ct.Email) {
			f.add(p+".email", "must be an email address")
		}
		f.required(p+".givenName", ct.GivenName)
		f.required(p+".familyName", ct.FamilyName)
		if ct.Phone != "" {
			if _, err := customerapi.ParsePhone(ct.Phone, req.CountryISO); err != nil {
				f.add(p+".phone", err.Error())
			}
		}
	}
}

func (s *Server) connectionsOf(o *org, offset, limit int) customerapi.BusinessConnections {
	return customerapi.BusinessConnections{ID: o.connID, ConnectedOrganisations: s.st.connectedOrgs(o, offset, limit)}
}

func (s *Server) createBusinessConnection(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.BusinessConnectionRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	checkConnectionRequest(&f, &req)
	if f.write(w) {
		return
	}
	if !c.canWrite() {
		forbidden(w, "token may not create connections")
		return
	}
	mine := s.st.orgs[c.orgID]
	var target *org
	if req.ID != "" {
		target = s.st.orgs[req.ID]
		if target == nil {
			writeErr(w, http.StatusNotFound, "organisation not found")
			return
		}
		if target.id == mine.id {
			f.add("id", "cannot connect an organisation to itself")
			f.write(w)
			return
		}
	} else {
		for _, cn := range mine.conns {
			t := s.st.orgs[cn.orgID]
			if t != nil && strings.EqualFold(t.o.Name, strings.TrimSpace(req.Name)) && strings.EqualFold(t.o.CompanyNumber, req.CompanyNumber) {
				target = t
			}
		}
	}
	if target != nil && mine.conn(target.id) != nil {
		writeErr(w, http.StatusConflict, "connection already exists")
		return
	}
	// Contacts that are new users must not collide with existing emails.
	for i, ct := range req.Contacts {
		if ct.ID != "" {
			if s.st.users[ct.ID] == nil {
				f.add("contacts["+itoa(i)+"].id", "no such user")
			}
			continue
		}
		if s.st.userByEmail(ct.Email) != nil {
			f.add("contacts["+itoa(i)+"].email", "already belongs to a user; pass its id")
		}
	}
	if len(f) > 0 {
		refhttpFieldErrs(w, http.StatusConflict, "contacts conflict with existing users", f)
		return
	}
	if target == nil {
		country := req.CountryISO
		if country == "" {
			country = "GB"
		}
		target = s.st.newOrg(strings.TrimSpace(req.Name), country, req.CompanyNumber)
		target.o.Status = "shell"
		target.managedBy = mine.id
	}
	cn := &connection{orgID: target.id, relationships: []string{}}
	if req.Relationship != "" {
		cn.relationships = append(cn.relationships, string(req.Relationship))
	}
	for _, ct := range req.Contacts {
		var u *user
		if ct.ID != "" {
			u = s.st.users[ct.ID]
		} else {
			// Contacts become users of the connected organisation with a
			// generated password and no invitation.
			u = s.st.newUser(target.id, ct.Email, ct.GivenName, ct.FamilyName, []string{"member"})
			u.u.External = true
			u.password = s.st.secret("Gp1")
			if ct.Phone != "" {
				if p, err := customerapi.ParsePhone(ct.Phone, target.o.CountryISO); err == nil {
					s.st.setPhone(u, &p)
				}
			}
			if target.ownerID == "" {
				target.ownerID = u.id
			}
		}
		cn.contacts = append(cn.contacts, u.id)
	}
	mine.addConn(cn)
	ok(w, s.connectionsOf(mine, 0, -1))
}

func (s *Server) getBusinessConnections(w http.ResponseWriter, r *http.Request, c *caller) {
	p, good := readPaging(w, r, func(k string) bool { return k == "name" || k == "organisationName" })
	if !good {
		return
	}
	mine := s.st.orgs[c.orgID]
	limit := -1
	if r.URL.Query().Get("limit") != "" {
		limit = p.limit
	}
	out := s.connectionsOf(mine, p.offset, limit)
	if p.sortBy != "" {
		slices.SortStableFunc(out.ConnectedOrganisations, func(a, b customerapi.ConnectedOrganisation) int {
			if p.sortDesc {
				a, b = b, a
			}
			return strings.Compare(strings.ToLower(a.OrganisationName), strings.ToLower(b.OrganisationName))
		})
	}
	if tags := r.URL.Query().Get("tags"); tags != "" {
		want := splitIDs(tags)
		out.ConnectedOrganisations = slices.DeleteFunc(out.ConnectedOrganisations, func(co customerapi.ConnectedOrganisation) bool {
			return !slices.ContainsFunc(co.Relationship, func(r string) bool { return slices.Contains(want, r) })
		})
	}
	ok(w, out)
}

func (s *Server) checkBusinessConnection(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.BusinessConnectionRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	checkConnectionRequest(&f, &req)
	if f.write(w) {
		return
	}
	emails, domains := map[string]bool{}, map[string]bool{}
	for _, ct := range req.Contacts {
		if ct.Email == "" {
			continue
		}
		emails[strings.ToLower(ct.Email)] = true
		if _, d, found := strings.Cut(strings.ToLower(ct.Email), "@"); found && !freeMail[d] {
			domains[d] = true
		}
	}
	res := customerapi.BusinessConnectionCheckResult{Status: "ok", Organisations: []customerapi.Organisation{}}
	mine := s.st.orgs[c.orgID]
	for _, o := range s.st.orgOrder {
		if o.id == c.orgID {
			continue
		}
		hit := req.ID == o.id || (req.Name != "" && strings.EqualFold(strings.TrimSpace(req.Name), o.o.Name))
		for _, u := range s.st.orgUsers[o.id] {
			if hit {
				break
			}
			e := strings.ToLower(u.u.Email)
			_, d, _ := strings.Cut(e, "@")
			hit = emails[e] || domains[d]
		}
		if hit {
			res.Organisations = append(res.Organisations, s.st.orgView(o))
			if mine.conn(o.id) != nil {
				res.BlockNewConnection = true
			}
		}
	}
	ok(w, res)
}

var freeMail = map[string]bool{"gmail.com": true, "hotmail.com": true, "outlook.com": true, "yahoo.com": true, "icloud.com": true, "example.com": true}

func (s *Server) inNetwork(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		OrganisationID string `json:"organisationId"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("organisationId", req.OrganisationID)
	if f.write(w) {
		return
	}
	ok(w, map[string]bool{"isInNetwork": s.st.connected(c.orgID, req.OrganisationID)})
}

// myConnection finds the caller's connection to the organisation in the path.
func (s *Server) myConnection(w http.ResponseWriter, r *http.Request, c *caller) (*org, *connection) {
	id := r.PathValue("id")
	if s.st.orgs[id] == nil {
		writeErr(w, http.StatusNotFound, "organisation not found")
		return nil, nil
	}
	mine := s.st.orgs[c.orgID]
	cn := mine.conn(id)
	if cn == nil {
		writeErr(w, http.StatusNotFound, "no connection to this organisation")
		return nil, nil
	}
	if !c.canWrite() {
		forbidden(w, "token may not change connections")
		return nil, nil
	}
	return mine, cn
}

func (s *Server) deleteBusinessConnection(w http.ResponseWriter, r *http.Request, c *caller) {
	mine, cn := s.myConnection(w, r, c)
	if cn == nil {
		return
	}
	mine.conns = slices.DeleteFunc(mine.conns, func(x *connection) bool { return x == cn })
	mine.indexConns()
	for _, uid := range cn.contacts {
		if u := s.st.users[uid]; u != nil {
			revoke(u, mine.id)
		}
	}
	msg(w, "connection deleted")
}

func (s *Server) addRelationship(w http.ResponseWriter, r *http.Request, c *caller) {
	rel := customerapi.Relationship(r.PathValue("relationship"))
	if !rel.Valid() {
		refhttpFieldErrs(w, http.StatusBadRequest, "validation failed",
			fieldErrs{{Field: "relationship", Message: "must be one of trading, storage, carrier, organiser"}})
		return
	}
	_, cn := s.myConnection(w, r, c)
	if cn == nil {
		return
	}
	if slices.Contains(cn.relationships, string(rel)) {
		writeErr(w, http.StatusConflict, "relationship already present")
		return
	}
	cn.relationships = append(cn.relationships, string(rel))
	msg(w, "relationship added")
}

func (s *Server) contactOf(w http.ResponseWriter, r *http.Request, c *caller) (*org, *connection, *user) {
	mine, cn := s.myConnection(w, r, c)
	if cn == nil {
		return nil, nil, nil
	}
	u := s.st.users[r.PathValue("userId")]
	if u == nil {
		writeErr(w, http.StatusNotFound, "user not found")
		return nil, nil, nil
	}
	if u.orgID != cn.orgID && !slices.Contains(cn.contacts, u.id) {
		forbidden(w, "user is not a contact of this connection")
		return nil, nil, nil
	}
	return mine, cn, u
}

func (s *Server) connectContact(w http.ResponseWriter, r *http.Request, c *caller) {
	mine, cn, u := s.contactOf(w, r, c)
	if u == nil {
		return
	}
	if !slices.Contains(cn.contacts, u.id) {
		cn.contacts = append(cn.contacts, u.id)
	}
	if !slices.ContainsFunc(u.u.Profiles, func(p customerapi.UserProfileEntry) bool { return p.OrganisationID == mine.id }) {
		u.u.Profiles = append(u.u.Profiles, customerapi.UserProfileEntry{OrganisationID: mine.id, BusinessUnits: []string{}, Roles: []string{"contact"}})
	}
	ok(w, s.st.userView(u))
}

func revoke(u *user, orgID string) {
	u.u.Profiles = slices.DeleteFunc(u.u.Profiles, func(p customerapi.UserProfileEntry) bool {
		return p.OrganisationID == orgID && p.OrganisationID != u.orgID
	})
}

func (s *Server) disconnectContact(w http.ResponseWriter, r *http.Request, c *caller) {
	mine, _, u := s.contactOf(w, r, c)
	if u == nil {
		return
	}
	revoke(u, mine.id)
	ok(w, s.st.userView(u))
}
