package customerapitest

import (
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/refhttp"
)

// csvRow is one data row with its 1-based line number (the header is line 1).
type csvRow struct {
	line int
	get  func(col string) string
}

// readCSVForm parses the multipart form and every file in "file". It
// answers 4xx itself and returns ok=false then.
func readCSVForm(w http.ResponseWriter, r *http.Request, required []string) (form map[string]string, rows []csvRow, good bool) {
	r.Body = http.MaxBytesReader(w, r.Body, refhttp.MaxBody)
	if err := r.ParseMultipartForm(refhttp.MaxBody); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, "request body too large")
			return nil, nil, false
		}
		writeErr(w, http.StatusBadRequest, "body must be multipart/form-data with a file field")
		return nil, nil, false
	}
	form = map[string]string{}
	for k, v := range r.MultipartForm.Value {
		if len(v) > 0 {
			form[k] = v[0]
		}
	}
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		refhttpFieldErrs(w, http.StatusBadRequest, "validation failed", fieldErrs{{Field: "file", Message: "is required"}})
		return nil, nil, false
	}
	for _, fh := range files {
		f, err := fh.Open()
		if err != nil {
			writeErr(w, http.StatusBadRequest, "cannot read file "+fh.Filename)
			return nil, nil, false
		}
		cr := csv.NewReader(f)
		cr.FieldsPerRecord = -1
		cr.TrimLeadingSpace = true
		header, err := cr.Read()
		if err != nil {
			f.Close()
			refhttpFieldErrs(w, http.StatusBadRequest, "validation failed", fieldErrs{{Field: "file", Message: fh.Filename + ": missing CSV header"}})
			return nil, nil, false
		}
		idx := map[string]int{}
		for i, h := range header {
			idx[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
		}
		var missing fieldErrs
		for _, col := range required {
			if _, found := idx[col]; !found {
				missing.add("file", fh.Filename+": missing column "+col)
			}
		}
		if len(missing) > 0 {
			f.Close()
			missing.write(w)
			return nil, nil, false
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				line := 0
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.StartLine
				}
				// A malformed line is reported as that row's error.
				msg := err.Error()
				rows = append(rows, csvRow{line: line, get: func(string) string { return "\x00" + msg }})
				continue
			}
			line, _ := cr.FieldPos(0)
			rows = append(rows, csvRow{line: line, get: func(col string) string {
				if i, found := idx[col]; found && i < len(rec) {
					return strings.TrimSpace(rec[i])
				}
				return ""
			}})
		}
		f.Close()
	}
	return form, rows, true
}

type importer struct{ res customerapi.ImportResult }

func (im *importer) ok(row csvRow, id, ref string) {
	im.res.Success++
	im.res.Results = append(im.res.Results, customerapi.ImportRowResult{Rows: strconv.Itoa(row.line), Status: "success",
		Message: []string{}, ID: id, Reference: ref, Summary: "imported"})
}

func (im *importer) invalid(row csvRow, ref string, msgs []string) {
	im.res.Validation++
	im.res.Results = append(im.res.Results, customerapi.ImportRowResult{Rows: strconv.Itoa(row.line), Status: "validation",
		Message: msgs, Reference: ref, Summary: "validation failed"})
}

func (im *importer) failed(row csvRow, ref, msg string) {
	im.res.Errors++
	im.res.Results = append(im.res.Results, customerapi.ImportRowResult{Rows: strconv.Itoa(row.line), Status: "error",
		Message: []string{msg}, Reference: ref, Summary: "not imported"})
}

// broken reports a row the CSV reader could not parse.
func broken(row csvRow) (string, bool) {
	v := row.get("")
	if strings.HasPrefix(v, "\x00") {
		return v[1:], true
	}
	return "", false
}

func (f fieldErrs) messages() []string {
	out := make([]string, len(f))
	for i, e := range f {
		out[i] = e.Field + ": " + e.Message
	}
	return out
}

func (s *Server) importOrganisations(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.canWrite() {
		forbidden(w, "token may not import organisations")
		return
	}
	_, rows, good := readCSVForm(w, r, []string{"name", "countryISO", "ownerEmail", "ownerGivenName", "ownerFamilyName"})
	if !good {
		return
	}
	im := &importer{res: customerapi.ImportResult{Results: []customerapi.ImportRowResult{}}}
	for _, row := range rows {
		if m, bad := broken(row); bad {
			im.failed(row, "", m)
			continue
		}
		name, country := row.get("name"), row.get("countryISO")
		var f fieldErrs
		f.required("name", name)
		checkCountry(&f, "countryISO", country, true)
		contact := customerapi.ContactInput{Email: row.get("ownerEmail"), GivenName: row.get("ownerGivenName"),
			FamilyName: row.get("ownerFamilyName"), Phone: row.get("ownerPhone")}
		phone := checkContact(&f, "owner", &contact, country)
		if len(f) > 0 {
			im.invalid(row, name, f.messages())
			continue
		}
		number := row.get("companyNumber")
		if s.duplicateOrg(name, number, "") {
			im.failed(row, name, "an organisation with this name and company number already exists")
			continue
		}
		if s.st.userByEmail(contact.Email) != nil {
			im.failed(row, name, "a user with email "+contact.Email+" already exists")
			continue
		}
		o := s.st.newOrg(name, country, number)
		o.managedBy, o.o.Status = c.orgID, "pending"
		if number != "" {
			o.o.Company = &customerapi.Company{Number: number}
		}
		s.st.indexOrg(o)
		if pc := row.get("postcode"); pc != "" {
			o.o.Location = &customerapi.Location{Address: &customerapi.Address{Line1: row.get("line1"), City: row.get("city"),
				Postcode: pc, CountryISO: country}}
		}
		owner := s.st.newUser(o.id, contact.Email, contact.GivenName, contact.FamilyName, []string{"owner"})
		s.st.setPhone(owner, phone)
		owner.password, owner.temporary = "Tmp"+s.st.digits(6)+"x", true
		s.st.send(owner.u.Email, "temporary-password", owner.password, "Welcome: your temporary password")
		o.ownerID = owner.id
		im.ok(row, o.id, name)
	}
	ok(w, im.res)
}

func (s *Server) importBusinessUnits(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.canWrite() {
		forbidden(w, "token may not import business units")
		return
	}
	form, rows, good := readCSVForm(w, r, []string{"name", "type"})
	if !good {
		return
	}
	orgID := form["organisationId"]
	if orgID == "" && form["organisationName"] != "" {
		for _, o := range s.st.orgOrder {
			if strings.EqualFold(o.o.Name, form["organisationName"]) && s.visible(c, o) {
				orgID = o.id
				break
			}
		}
		if orgID == "" {
			writeErr(w, http.StatusNotFound, "organisation not found")
			return
		}
	}
	if orgID == "" {
		orgID = c.orgID
	}
	o := s.orgFor(w, c, orgID)
	if o == nil {
		return
	}
	im := &importer{res: customerapi.ImportResult{Results: []customerapi.ImportRowResult{}}}
	for _, row := range rows {
		if m, bad := broken(row); bad {
			im.failed(row, "", m)
			continue
		}
		name := row.get("name")
		typ := customerapi.BusinessUnitType(row.get("type"))
		in := &customerapi.BusinessInput{HoldingNumber: row.get("holdingNumber"),
			AssuranceScheme: customerapi.AssuranceScheme(row.get("assuranceScheme")), PhoneNumber: row.get("phone"), Email: row.get("email")}
		if pc := row.get("postcode"); pc != "" {
			in.Location = &customerapi.Location{Address: &customerapi.Address{Postcode: pc, CountryISO: o.o.CountryISO}}
		}
		var f fieldErrs
		f.required("name", name)
		if !typ.Valid() {
			f.add("type", "must be one of farm, stores, region")
		}
		phone := checkBusinessInput(&f, in)
		if len(f) > 0 {
			im.invalid(row, name, f.messages())
			continue
		}
		if slices.ContainsFunc(s.st.busOf(o.id), func(b *bu) bool { return strings.EqualFold(b.name, name) }) {
			im.failed(row, name, "a business unit with this name already exists")
			continue
		}
		b := s.st.newBU(o.id, name, typ)
		if in.HoldingNumber != "" || in.Location != nil || phone != nil || in.Email != "" || in.AssuranceScheme != "" {
			s.st.applyBusiness(b, in, phone)
		}
		im.ok(row, b.id, name)
	}
	ok(w, im.res)
}

// importPreferences imports buyer preferences (email, commodity, grades,
// regions; lists separated by ';'). With replace, a user's preferences are
// replaced by the rows of the file instead of added to.
func (s *Server) importPreferences(replace bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *caller) {
		if !c.canWrite() {
			forbidden(w, "token may not import preferences")
			return
		}
		_, rows, good := readCSVForm(w, r, []string{"email", "commodity"})
		if !good {
			return
		}
		im := &importer{res: customerapi.ImportResult{Results: []customerapi.ImportRowResult{}}}
		cleared := map[string]bool{}
		for _, row := range rows {
			if m, bad := broken(row); bad {
				im.failed(row, "", m)
				continue
			}
			email := row.get("email")
			var f fieldErrs
			commodity, err := strconv.ParseFloat(row.get("commodity"), 64)
			if err != nil {
				f.add("commodity", "must be a number")
			}
			var grades []float64
			for _, g := range splitList(row.get("grades")) {
				n, err := strconv.ParseFloat(g, 64)
				if err != nil {
					f.add("grades", "must be numbers separated by ';'")
					break
				}
				grades = append(grades, n)
			}
			if !emailRE.MatchString(email) {
				f.add("email", "must be an email address")
			}
			if len(f) > 0 {
				im.invalid(row, email, f.messages())
				continue
			}
			u := s.st.userByEmail(email)
			if u == nil || !s.userVisible(c, u) {
				im.failed(row, email, "no such user")
				continue
			}
			if replace && !cleared[u.id] {
				u.u.Preferences, cleared[u.id] = nil, true
			}
			enabled := true
			u.u.Preferences = append(u.u.Preferences, customerapi.Preference{Commodity: commodity,
				Grades: nonNil(grades), Regions: nonNil(splitList(row.get("regions"))), Enabled: &enabled})
			im.ok(row, u.id, email)
		}
		ok(w, im.res)
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var finmidStatuses = []string{"active", "pending", "rejected", "inactive"}

// importFinmid imports FinMid account statuses (organisationId, status); administrators only.
func (s *Server) importFinmid(w http.ResponseWriter, r *http.Request, c *caller) {
	if !c.admin() {
		forbidden(w, "administrators only")
		return
	}
	_, rows, good := readCSVForm(w, r, []string{"organisationId", "status"})
	if !good {
		return
	}
	im := &importer{res: customerapi.ImportResult{Results: []customerapi.ImportRowResult{}}}
	for _, row := range rows {
		if m, bad := broken(row); bad {
			im.failed(row, "", m)
			continue
		}
		id, status := row.get("organisationId"), row.get("status")
		if !slices.Contains(finmidStatuses, status) {
			im.invalid(row, id, []string{"status: must be one of " + strings.Join(finmidStatuses, ", ")})
			continue
		}
		o := s.st.orgs[id]
		if o == nil {
			im.failed(row, id, "no such organisation")
			continue
		}
		o.finmid = status
		im.ok(row, id, id)
	}
	ok(w, im.res)
}

// FinmidStatus returns the FinMid account status last imported for an organisation.
func (s *Server) FinmidStatus(organisationID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.st.orgs[organisationID]; o != nil {
		return o.finmid
	}
	return ""
}
