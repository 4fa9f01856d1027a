package customerapitest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
)

type state struct {
	now      func() time.Time
	src      *rand.PCG // the source of rng, kept to save its position
	rng      *rand.Rand
	seq      int
	tokenTTL time.Duration

	orgs     map[string]*org
	orgOrder []*org
	users    map[string]*user
	userList []*user
	bus      map[string]*bu
	biz      map[string]*customerapi.Business

	sessions  map[string]*session // access token → session
	refreshes map[string]*session // refresh token → session
	apiTokens map[string]*apiToken
	magic     map[string]string // lookup id → user id

	certs  []customerapi.Certificate
	outbox []Code

	// Indexes (see index.go); rebuilt on restore, never saved.
	orgsByKey map[orgKey][]*org             // dupKey(name, company number) → organisations
	byEmail   map[string][]*user            // foldKey(email) → users, in userList order
	byPhone   map[customerapi.Phone][]*user // phone → users, in userList order
	byAuthID  map[string][]*user            // AuthPlatformID → users, in userList order
	orgUsers  map[string][]*user            // organisation id → its users, in userList order
	busByOrg  map[string][]*bu              // organisation id → its business units, by ordinal
	certIdx   certIndex
	userOrd   int // the ord of the last user added

	logLevel, logFilter string
	fullAccountRequests []map[string]string
}

type org struct {
	id        string
	seq       int
	created   time.Time
	o         customerapi.Organisation // stored fields; views fill the rest
	ownerID   string
	managedBy string
	connID    string
	conns     []*connection
	advance   *customerapi.AdvancePay
	finmid    string
	tagGroups []customerapi.TagGroup
	syncs     int

	key     orgKey // the key of state.orgsByKey o is filed under, when indexed
	indexed bool
	connTo  map[string]*connection // organisation id → first connection of conns to it
}

type connection struct {
	orgID         string
	relationships []string
	contacts      []string
}

type user struct {
	id        string
	orgID     string
	u         customerapi.User
	password  string
	temporary bool
	pending   bool // signup not yet confirmed
	newEmail  string
	attrCode  string
	resetCode string
	signup    string // pending signup confirmation code
	swapped   bool

	ord          int // position in creation order: userList is in ascending ord
	emailKey     string
	emailIndexed bool // filed in state.byEmail under emailKey
	phoneKey     customerapi.Phone
	phoneIndexed bool // filed in state.byPhone under phoneKey
}

type bu struct {
	id      string
	orgID   string
	ordinal int
	name    string
	typ     customerapi.BusinessUnitType
	tags    []string
	bizID   string
	region  string
}

type session struct {
	userID  string
	roles   []string
	expires time.Time
}

type apiToken struct {
	userID  string
	roles   []string
	expires time.Time
}

func (s *Server) seed() *state {
	st := newState(s.now, newPCG(s.opts.Seed), s.opts.TokenTTL)
	st.setCerts(seedCertificates(s.opts.Seed, s.opts.Certificates, s.now()))
	s.seedUsers(st, false)
	return st
}

// newState returns an empty state drawing ids from src.
func newState(now func() time.Time, src *rand.PCG, ttl time.Duration) *state {
	return &state{
		now: now, src: src, rng: rand.New(src), tokenTTL: ttl,
		orgs: map[string]*org{}, users: map[string]*user{}, bus: map[string]*bu{},
		biz: map[string]*customerapi.Business{}, sessions: map[string]*session{},
		refreshes: map[string]*session{}, apiTokens: map[string]*apiToken{}, magic: map[string]string{},
		orgsByKey: map[orgKey][]*org{}, byEmail: map[string][]*user{}, byPhone: map[customerapi.Phone][]*user{},
		byAuthID: map[string][]*user{}, orgUsers: map[string][]*user{}, busByOrg: map[string][]*bu{},
		certIdx: certIndex{byHolding: map[string][]int{}, byPostcode: map[string][]int{}, byID: map[string]int{}},
	}
}

// seedUsers adds the users and administrators of the options (sorted by
// email, so ids are deterministic) that st lacks; each owns a new
// organisation. With restored (st was loaded from the state file), a
// configured user st already has gets its configured password back, as a
// permanent one. It reports whether it changed st.
func (s *Server) seedUsers(st *state, restored bool) bool {
	changed := false
	for _, m := range []struct {
		users map[string]string
		roles []string
	}{{s.opts.Users, []string{"owner"}}, {s.opts.Admins, []string{"admin", "owner"}}} {
		emails := make([]string, 0, len(m.users))
		for e := range m.users {
			emails = append(emails, e)
		}
		sort.Strings(emails)
		for _, e := range emails {
			if u := st.userByEmail(e); u != nil && restored {
				if u.password != m.users[e] || u.temporary {
					u.password, u.temporary = m.users[e], false
					changed = true
				}
				continue
			}
			if _, _, err := st.addUser(UserSpec{Email: e, Password: m.users[e], Roles: m.roles}); err != nil {
				s.log.Error("seed user", "email", e, "err", err)
				continue
			}
			changed = true
		}
	}
	return changed
}

func (st *state) id(prefix string) string {
	st.seq++
	return fmt.Sprintf("%s%08x-%04x-4%03x-%04x-%012x", prefix, st.rng.Uint32(), st.rng.Uint32()&0xffff,
		st.rng.Uint32()&0xfff, 0x8000|st.rng.Uint32()&0x3fff, st.rng.Uint64()&0xffffffffffff)
}

func (st *state) secret(prefix string) string {
	return fmt.Sprintf("%s%016x%016x", prefix, st.rng.Uint64(), st.rng.Uint64())
}

func (st *state) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + st.rng.IntN(10))
	}
	return string(b)
}

func (st *state) send(to, kind, code, text string) {
	st.outbox = append(st.outbox, Code{To: to, Kind: kind, Code: code, Text: text, At: st.now().UTC()})
}

func (st *state) newOrg(name, country, companyNumber string) *org {
	id := st.id("")
	now := st.now().UTC()
	o := &org{id: id, seq: st.seq, created: now, connID: st.id("")}
	o.o = customerapi.Organisation{ID: id, Name: name, CountryISO: country, CompanyNumber: companyNumber,
		Status: "active", CreatedAtUTC: now.Format(time.RFC3339Nano)}
	st.orgs[id] = o
	st.orgOrder = append(st.orgOrder, o)
	st.indexOrg(o)
	return o
}

func (st *state) newUser(orgID, email, given, family string, roles []string) *user {
	id := st.id("")
	u := &user{id: id, orgID: orgID}
	u.u = customerapi.User{ID: id, GivenName: given, FamilyName: family, Email: email, Type: "internal",
		CountryISO: "GB", Roles: roles, Status: "active", AuthPlatformID: st.id(""),
		Settings: &customerapi.UserSettings{}, NotificationsEnabled: true,
		Profiles: []customerapi.UserProfileEntry{{OrganisationID: orgID, BusinessUnits: []string{}, Roles: roles}}}
	st.addUserRecord(u)
	return u
}

func (st *state) addUser(spec UserSpec) (string, string, error) {
	if spec.Email == "" || spec.Password == "" {
		return "", "", fmt.Errorf("customerapitest: add user: email and password are required")
	}
	if st.userByEmail(spec.Email) != nil {
		return "", "", fmt.Errorf("customerapitest: add user: %s already exists", spec.Email)
	}
	orgID := spec.OrganisationID
	roles := spec.Roles
	var o *org
	if orgID == "" {
		local, _, _ := strings.Cut(spec.Email, "@")
		o = st.newOrg(titleCase(local)+" Farms Ltd", "GB", "")
		orgID = o.id
		if len(roles) == 0 {
			roles = []string{"owner"}
		}
	} else if st.orgs[orgID] == nil {
		return "", "", fmt.Errorf("customerapitest: add user: no organisation %s", orgID)
	} else if len(roles) == 0 {
		roles = []string{"member"}
	}
	local, _, _ := strings.Cut(spec.Email, "@")
	u := st.newUser(orgID, spec.Email, titleCase(local), "User", slices.Clone(roles))
	u.password = spec.Password
	u.temporary = spec.Temporary
	u.u.Profiles[0].BusinessUnits = append([]string{}, spec.BusinessUnits...)
	if o != nil {
		o.ownerID = u.id
	}
	return u.id, orgID, nil
}

func titleCase(s string) string {
	s = strings.NewReplacer(".", " ", "_", " ", "-", " ", "+", " ").Replace(s)
	f := strings.Fields(s)
	for i, w := range f {
		f[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	if len(f) == 0 {
		return "User"
	}
	return strings.Join(f, " ")
}

// addUserRecord adds u to the users (last in userList) and indexes it.
func (st *state) addUserRecord(u *user) {
	st.userOrd++
	u.ord = st.userOrd
	st.users[u.id] = u
	st.userList = append(st.userList, u)
	st.indexUser(u)
}

// userByEmail returns the first user (in userList order) whose e-mail
// address equals email but for case (strings.EqualFold).
func (st *state) userByEmail(email string) *user {
	for _, u := range st.byEmail[foldKey(email)] {
		if strings.EqualFold(u.u.Email, email) {
			return u
		}
	}
	return nil
}

// userByPhone returns the first user (in userList order) with phone p.
func (st *state) userByPhone(p customerapi.Phone) *user {
	for _, u := range st.byPhone[p] {
		if u.u.Phone != nil && *u.u.Phone == p {
			return u
		}
	}
	return nil
}

// deleteUsers deletes the users whose ids gone holds, in one pass over userList.
func (st *state) deleteUsers(gone map[string]bool) {
	for id := range gone {
		if u := st.users[id]; u != nil {
			st.unindexUser(u)
			delete(st.users, id)
		}
	}
	st.userList = slices.DeleteFunc(st.userList, func(x *user) bool { return gone[x.id] })
}

// connected reports whether a has a connection to b or b to a.
func (st *state) connected(a, b string) bool {
	if oa := st.orgs[a]; oa != nil && oa.conn(b) != nil {
		return true
	}
	if ob := st.orgs[b]; ob != nil && ob.conn(a) != nil {
		return true
	}
	return false
}

// conn returns o's (first) connection to orgID, or nil.
func (o *org) conn(orgID string) *connection {
	return o.connTo[orgID]
}

// Views.

func (st *state) ownerContact(o *org) *customerapi.OwnerContact {
	u := st.users[o.ownerID]
	if u == nil {
		return nil
	}
	return &customerapi.OwnerContact{ID: u.id, Email: u.u.Email, Phone: u.u.Phone, FamilyName: u.u.FamilyName,
		GivenName: u.u.GivenName, AuthPlatformID: u.u.AuthPlatformID}
}

func (st *state) buRefs(orgID string, only []string) []customerapi.BusinessUnitRef {
	refs := []customerapi.BusinessUnitRef{}
	for _, b := range st.busOf(orgID) {
		if len(only) > 0 && !slices.Contains(only, b.id) {
			continue
		}
		refs = append(refs, customerapi.BusinessUnitRef{ID: b.id, Name: b.name, Type: string(b.typ), Business: b.bizID,
			Region: b.region, Tags: nonNil(b.tags)})
	}
	return refs
}

// busOf returns the business units of an organisation by ordinal. The
// slice is the index's own: callers must not change it.
func (st *state) busOf(orgID string) []*bu {
	return st.busByOrg[orgID]
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (st *state) orgView(o *org) customerapi.Organisation {
	v := o.o
	v.OwnerContact = st.ownerContact(o)
	v.BusinessUnits = st.buRefs(o.id, nil)
	v.BusinessConnections = st.connectedOrgs(o, 0, -1)
	return v
}

func (st *state) connectedOrgs(o *org, offset, limit int) []customerapi.ConnectedOrganisation {
	out := []customerapi.ConnectedOrganisation{}
	for i, c := range o.conns {
		if i < offset {
			continue
		}
		if limit >= 0 && len(out) >= limit {
			break
		}
		t := st.orgs[c.orgID]
		if t == nil {
			continue
		}
		co := customerapi.ConnectedOrganisation{OrganisationID: t.id, OrganisationName: t.o.Name,
			Relationship: nonNil(slices.Clone(c.relationships)), Contacts: []customerapi.ConnectionContact{},
			Location: t.o.Location, CountryISO: t.o.CountryISO}
		if oc := st.ownerContact(t); oc != nil {
			co.OwnerContact = &customerapi.OwnerContact{ID: oc.ID, Email: oc.Email, FamilyName: oc.FamilyName, GivenName: oc.GivenName, Phone: oc.Phone}
		}
		for _, uid := range c.contacts {
			if u := st.users[uid]; u != nil {
				co.Contacts = append(co.Contacts, customerapi.ConnectionContact{ID: u.id, GivenName: u.u.GivenName,
					FamilyName: u.u.FamilyName, Email: u.u.Email, Phone: u.u.Phone, AuthPlatformID: u.u.AuthPlatformID})
			}
		}
		out = append(out, co)
	}
	return out
}

func (st *state) orgRecord(o *org) customerapi.OrganisationRecord {
	r := customerapi.OrganisationRecord{ID: o.id, Name: o.o.Name, Location: o.o.Location, CountryISO: o.o.CountryISO,
		Status: o.o.Status, Billing: o.o.Billing, SettlementContacts: o.o.SettlementContacts, Modules: o.o.Modules,
		Vetted: o.o.Vetted, IsMerchant: o.o.IsMerchant, AdvancePay: o.advance}
	if c := o.o.Company; c != nil {
		r.CompanyID, r.CompanyHoldingNumber, r.Bio, r.Sqc, r.AssuranceScheme = c.ID, c.HoldingNumber, c.Bio, c.Sqc, c.AssuranceScheme
		if c.Logo != nil {
			r.Logo = &customerapi.FileRecord{ID: c.Logo.ID, URL: c.Logo.URL}
		}
	}
	if u := st.users[o.ownerID]; u != nil {
		r.OwnerContact = &customerapi.OwnerContact{ID: u.id, Email: u.u.Email, FamilyName: u.u.FamilyName, GivenName: u.u.GivenName,
			AuthPlatformID: u.u.AuthPlatformID, OrganisationID: u.orgID, CountryISO: u.u.CountryISO, Phone: u.u.Phone, PushToken: u.u.PushToken}
	}
	return r
}

func (st *state) userView(u *user) customerapi.User {
	v := u.u
	v.ID = u.id
	v.OrganisationID = u.orgID
	v.Name = strings.TrimSpace(u.u.GivenName + " " + u.u.FamilyName)
	if o := st.orgs[u.orgID]; o != nil {
		v.OrganisationName = o.o.Name
	}
	v.Roles = nonNil(slices.Clone(u.u.Roles))
	v.Profiles = slices.Clone(u.u.Profiles)
	v.BusinessUnits = st.buRefs(u.orgID, u.u.Profiles[0].BusinessUnits)
	v.Tokens = nil
	return v
}

func (st *state) userSummary(u *user) customerapi.UserSummary {
	s := customerapi.UserSummary{ID: u.id, GivenName: u.u.GivenName, FamilyName: u.u.FamilyName, CountryISO: u.u.CountryISO,
		OrganisationID: u.orgID, Email: u.u.Email, Phone: u.u.Phone, PushToken: u.u.PushToken, Settings: u.u.Settings,
		AuthPlatformID: u.u.AuthPlatformID, Preferences: u.u.Preferences}
	if o := st.orgs[u.orgID]; o != nil {
		s.OrganisationName = o.o.Name
		s.Organisation = &customerapi.UserSummaryOrganisation{ID: o.id, Name: o.o.Name, Location: o.o.Location, Modules: o.o.Modules}
		if o.o.Company != nil {
			s.Organisation.Bio = o.o.Company.Bio
			s.Organisation.Logo = o.o.Company.Logo
		}
	}
	return s
}

func (st *state) businessView(b *customerapi.Business) customerapi.Business {
	v := *b
	v.Assurance = nil
	if b.HoldingNumber != "" && (b.AssuranceScheme == "" || b.AssuranceScheme == customerapi.SchemeRT) {
		if cs := st.findCerts("GBR", "", b.HoldingNumber); len(cs) > 0 {
			c := cs[0]
			v.Assurance = &c
		}
	}
	return v
}

func (st *state) buView(b *bu) customerapi.BusinessUnit {
	v := customerapi.BusinessUnit{Ordinal: b.ordinal, ID: b.id, Name: b.name, Type: b.typ, Tags: nonNil(b.tags)}
	if bz := st.biz[b.bizID]; bz != nil {
		bv := st.businessView(bz)
		v.Business = &bv
	}
	return v
}
