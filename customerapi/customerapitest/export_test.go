package customerapitest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
)

// PopulateFarms adds, for benchmarks, n organisations managed by the
// organisation of managerEmail's user, each with an owner user and a farm
// business unit whose business has holding(i) as its holding number.
func (s *Server) PopulateFarms(managerEmail string, n int, holding func(int) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	mgr := st.userByEmail(managerEmail)
	for i := 0; i < n; i++ {
		o := st.newOrg(fmt.Sprintf("Held Farm %06d", i), "GB", fmt.Sprintf("HF%06d", i))
		o.managedBy = mgr.orgID
		u := st.newUser(o.id, fmt.Sprintf("held%06d@farms.test", i), "Held", "Farmer", []string{"owner"})
		o.ownerID = u.id
		b := st.newBU(o.id, "Home", customerapi.BusinessUnitFarm)
		st.applyBusiness(b, &customerapi.BusinessInput{HoldingNumber: holding(i)}, nil)
	}
	s.dirty = true
}

// CheckIndexes reports every way the state's indexes differ from the
// records: an entry filed under a key its record no longer has, a record
// missing from an index, or a look-up answering other than the scan over
// every record that the server made before it had indexes. Where records
// are many, the look-ups are probed for a sample of them (every record is
// still checked to be filed under its current values).
func (s *Server) CheckIndexes() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	step := 1 + (len(st.userList)+len(st.orgOrder)+len(st.certs))/64

	// Users: each filed under exactly its current values, in userList order.
	for i, u := range st.userList {
		if i > 0 && st.userList[i-1].ord >= u.ord {
			bad("userList not in ord order at %d", i)
		}
		if st.users[u.id] != u {
			bad("user %s in userList but not in users", u.id)
		}
	}
	if len(st.users) != len(st.userList) {
		bad("%d users, %d in userList", len(st.users), len(st.userList))
	}
	checkFiled := func(name string, n int, lists map[string][]*user, key func(*user) (string, bool)) {
		filed := 0
		for k, l := range lists {
			if len(l) == 0 {
				bad("%s: empty list under %q", name, k)
			}
			for i, u := range l {
				filed++
				if st.users[u.id] != u {
					bad("%s: deleted user %s still filed under %q", name, u.id, k)
				}
				if want, has := key(u); !has || want != k {
					bad("%s: user %s filed under %q, its value is %q", name, u.id, k, want)
				}
				if i > 0 && l[i-1].ord >= u.ord {
					bad("%s: users under %q not in userList order", name, k)
				}
			}
		}
		if filed != n {
			bad("%s: %d users filed, want %d", name, filed, n)
		}
	}
	withPhone := 0
	phones := map[string][]*user{}
	for p, l := range st.byPhone {
		phones[p.String()+"|"+p.CallingCode] = l
	}
	for _, u := range st.userList {
		if u.u.Phone != nil {
			withPhone++
		}
	}
	checkFiled("byEmail", len(st.userList), st.byEmail, func(u *user) (string, bool) { return foldKey(u.u.Email), true })
	checkFiled("byAuthID", len(st.userList), st.byAuthID, func(u *user) (string, bool) { return u.u.AuthPlatformID, true })
	checkFiled("orgUsers", len(st.userList), st.orgUsers, func(u *user) (string, bool) { return u.orgID, true })
	checkFiled("byPhone", withPhone, phones, func(u *user) (string, bool) {
		if u.u.Phone == nil {
			return "", false
		}
		return u.u.Phone.String() + "|" + u.u.Phone.CallingCode, true
	})
	for i := 0; i < len(st.userList); i += step {
		u := st.userList[i]
		for _, e := range []string{u.u.Email, strings.ToUpper(u.u.Email), strings.ToLower(u.u.Email), u.newEmail} {
			if got, want := st.userByEmail(e), scanUserByEmail(st, e); got != want {
				bad("userByEmail(%q) = %v, the scan finds %v", e, idOf(got), idOf(want))
			}
		}
		if u.u.Phone != nil {
			if got, want := st.userByPhone(*u.u.Phone), scanUserByPhone(st, *u.u.Phone); got != want {
				bad("userByPhone(%v) = %v, the scan finds %v", *u.u.Phone, idOf(got), idOf(want))
			}
		}
		for _, name := range []string{u.u.AuthPlatformID, u.id, " " + u.u.Email + " "} {
			if got, want := st.findLogin(name), scanFindLogin(st, name); got != want {
				bad("findLogin(%q) = %v, the scan finds %v", name, idOf(got), idOf(want))
			}
		}
	}

	// Organisations: filed under their current name and number; their
	// connections and business units.
	filed := 0
	for k, l := range st.orgsByKey {
		if len(l) == 0 {
			bad("orgsByKey: empty list under %v", k)
		}
		for _, o := range l {
			filed++
			if st.orgs[o.id] != o {
				bad("orgsByKey: deleted organisation %s still filed", o.id)
			}
			if cur := dupKey(o.o.Name, o.companyNumber()); cur != k || !o.indexed || o.key != k {
				bad("orgsByKey: organisation %s filed under %v, its name and number are %v", o.id, k, cur)
			}
		}
	}
	if filed != len(st.orgOrder) || len(st.orgs) != len(st.orgOrder) {
		bad("orgsByKey: %d organisations filed, %d in orgOrder, %d in orgs", filed, len(st.orgOrder), len(st.orgs))
	}
	for i := 0; i < len(st.orgOrder); i += step {
		o := st.orgOrder[i]
		name, number := o.o.Name, o.companyNumber()
		for _, q := range [][2]string{{name, number}, {" " + strings.ToUpper(name) + "\t", strings.ToLower(number)}, {name + "x", number}, {name, number + "x"}} {
			for _, except := range []string{"", o.id} {
				if got, want := s.duplicateOrg(q[0], q[1], except), scanDuplicateOrg(st, q[0], q[1], except); got != want {
					bad("duplicateOrg(%q, %q, %q) = %v, the scan says %v", q[0], q[1], except, got, want)
				}
			}
		}
		if len(o.connTo) > len(o.conns) {
			bad("organisation %s: %d connections indexed, %d held", o.id, len(o.connTo), len(o.conns))
		}
		for _, c := range o.conns {
			if got, want := o.conn(c.orgID), scanConn(o, c.orgID); got != want {
				bad("organisation %s: conn(%s) differs from the scan", o.id, c.orgID)
			}
		}
		for id := range o.connTo {
			if scanConn(o, id) == nil {
				bad("organisation %s: connection to %s indexed but not held", o.id, id)
			}
		}
		if got, want := st.busOf(o.id), scanBusOf(st, o.id); !slices.Equal(got, want) {
			bad("busOf(%s) = %v, the scan finds %v", o.id, buIDs(got), buIDs(want))
		}
	}
	units := 0
	for id, l := range st.busByOrg {
		if len(l) == 0 {
			bad("busByOrg: empty list under %s", id)
		}
		for i, b := range l {
			units++
			if st.bus[b.id] != b || b.orgID != id {
				bad("busByOrg: unit %s under %s is not that organisation's", b.id, id)
			}
			if i > 0 && l[i-1].ordinal > b.ordinal {
				bad("busByOrg: units of %s not by ordinal", id)
			}
		}
	}
	if units != len(st.bus) {
		bad("busByOrg: %d units filed, %d held", units, len(st.bus))
	}

	// Certificates.
	lastAt := map[string]int{}
	for i, c := range st.certs {
		if c.CertificateIdentifier != "" {
			lastAt[c.CertificateIdentifier] = i
		}
	}
	if len(lastAt) != len(st.certIdx.byID) {
		bad("certificates: %d identifiers indexed, %d held", len(st.certIdx.byID), len(lastAt))
	}
	for id, i := range lastAt {
		if j, found := st.certIdx.byID[id]; !found || j != i {
			bad("certificate %s indexed at %d, last held at %d", id, j, i)
		}
	}
	entries, want := 0, 0
	for i, c := range st.certs {
		hs, pcs := certKeys(c)
		want += len(hs) + len(pcs)
		for _, h := range hs {
			if !slices.Contains(st.certIdx.byHolding[h], i) {
				bad("certificate %d not filed under its holding %q", i, h)
			}
		}
		for _, pc := range pcs {
			if !slices.Contains(st.certIdx.byPostcode[pc], i) {
				bad("certificate %d not filed under its postcode %q", i, pc)
			}
		}
	}
	for _, m := range []map[string][]int{st.certIdx.byHolding, st.certIdx.byPostcode} {
		for _, l := range m {
			entries += len(l)
		}
	}
	if entries != want {
		bad("certificate index: %d entries, the certificates' sites give %d", entries, want)
	}
	for _, m := range []map[string][]int{st.certIdx.byHolding, st.certIdx.byPostcode} {
		for k, l := range m {
			if len(l) == 0 || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
				bad("certificate index: positions under %q empty, unsorted or repeated: %v", k, l)
			}
			for _, i := range l {
				if i >= len(st.certs) {
					bad("certificate index: position %d of %d", i, len(st.certs))
				}
			}
		}
	}
	for i := 0; i < len(st.certs); i += step {
		for _, site := range st.certs[i].CertifiedSites {
			h := ""
			if site.SiteIdentifiers != nil {
				h = site.SiteIdentifiers.Identifier
			}
			pc := strings.ToLower(site.SitePostcode)
			for _, q := range [][3]string{{"GBR", "", h}, {"gbr", pc, ""}, {"GBR", pc, " " + h}, {"GBR", "", h + "0"}, {"FRA", pc, h}} {
				got, want := st.findCerts(q[0], q[1], q[2]), scanFindCerts(st, q[0], q[1], q[2])
				if !slices.EqualFunc(got, want, func(a, b customerapi.Certificate) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
					bad("findCerts(%q, %q, %q): %d certificates, the scan finds %d", q[0], q[1], q[2], len(got), len(want))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func idOf(u *user) string {
	if u == nil {
		return "<none>"
	}
	return u.id
}

func buIDs(l []*bu) []string {
	out := make([]string, len(l))
	for i, b := range l {
		out[i] = fmt.Sprintf("%s#%d", b.id, b.ordinal)
	}
	return out
}

// The scans the server made before it had indexes.

func scanUserByEmail(st *state, email string) *user {
	for _, u := range st.userList {
		if strings.EqualFold(u.u.Email, email) {
			return u
		}
	}
	return nil
}

func scanUserByPhone(st *state, p customerapi.Phone) *user {
	for _, u := range st.userList {
		if u.u.Phone != nil && *u.u.Phone == p {
			return u
		}
	}
	return nil
}

func scanFindLogin(st *state, username string) *user {
	username = strings.TrimSpace(username)
	if u := scanUserByEmail(st, username); u != nil {
		return u
	}
	for _, u := range st.userList {
		if u.u.AuthPlatformID == username || u.id == username {
			return u
		}
	}
	if p, err := customerapi.ParsePhone(username, ""); err == nil {
		return scanUserByPhone(st, p)
	}
	return nil
}

func scanDuplicateOrg(st *state, name, number, except string) bool {
	for _, o := range st.orgOrder {
		if o.id == except {
			continue
		}
		on := ""
		if o.o.Company != nil {
			on = o.o.Company.Number
		}
		if on == "" {
			on = o.o.CompanyNumber
		}
		if strings.EqualFold(strings.TrimSpace(o.o.Name), strings.TrimSpace(name)) && strings.EqualFold(on, number) {
			return true
		}
	}
	return false
}

func scanConn(o *org, orgID string) *connection {
	for _, c := range o.conns {
		if c.orgID == orgID {
			return c
		}
	}
	return nil
}

// scanBusOf sorts by ordinal, and (where the scan's order was that of map
// iteration) by id among equal ordinals, as restoreState files them.
func scanBusOf(st *state, orgID string) []*bu {
	var out []*bu
	for _, b := range st.bus {
		if b.orgID == orgID {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ordinal != out[j].ordinal {
			return out[i].ordinal < out[j].ordinal
		}
		return out[i].id < out[j].id
	})
	return out
}

func scanFindCerts(st *state, country, postcode, holding string) []customerapi.Certificate {
	out := []customerapi.Certificate{}
	if !strings.EqualFold(country, "GBR") {
		return out
	}
	pc := normPostcode(postcode)
	hn := strings.TrimSpace(holding)
	for _, c := range st.certs {
		if certMatches(c, pc, hn) {
			out = append(out, c)
		}
	}
	return out
}
