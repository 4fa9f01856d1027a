package customerapitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/atomicfile"
)

// saveInterval is how often changed state is written to the state file.
const saveInterval = 500 * time.Millisecond

// stateVersion is the version of the state file format.
const stateVersion = 1

// stateFile is the JSON document of the state file. It is written from the
// server's private model through these explicit records (the model itself
// has no JSON form), so the format is stable and reviewable: organisations
// and users in creation order, everything else sorted by id.
type stateFile struct {
	Version int `json:"version"`
	// RNG is the position of the id and token generator (math/rand/v2 PCG
	// binary form) and Seq the sequence counter of created records: restored,
	// they keep ids and tokens from repeating after a restart.
	RNG                 []byte                    `json:"rng"`
	Seq                 int                       `json:"seq"`
	Organisations       []orgRecord               `json:"organisations"`
	Users               []userRecord              `json:"users"`
	BusinessUnits       []buRecord                `json:"businessUnits"`
	Businesses          []customerapi.Business    `json:"businesses"`
	Sessions            map[string]tokenRecord    `json:"sessions"`      // access token → session
	RefreshTokens       map[string]tokenRecord    `json:"refreshTokens"` // refresh token → session
	APITokens           map[string]tokenRecord    `json:"apiTokens"`     // ApiToken → grant
	MagicLinks          map[string]string         `json:"magicLinks"`    // lookup id → user id
	Certificates        []customerapi.Certificate `json:"certificates"`
	Outbox              []Code                    `json:"outbox"`
	LogLevel            string                    `json:"logLevel,omitempty"`
	LogFilter           string                    `json:"logFilter,omitempty"`
	FullAccountRequests []map[string]string       `json:"fullAccountRequests,omitempty"`
}

type orgRecord struct {
	ID           string                   `json:"id"`
	Seq          int                      `json:"seq"`
	Created      time.Time                `json:"created"`
	Organisation customerapi.Organisation `json:"organisation"`
	OwnerID      string                   `json:"ownerId,omitempty"`
	ManagedBy    string                   `json:"managedBy,omitempty"`
	ConnectionID string                   `json:"connectionsId"`
	Connections  []connectionRecord       `json:"connections,omitempty"`
	AdvancePay   *customerapi.AdvancePay  `json:"advancePay,omitempty"`
	Finmid       string                   `json:"finmid,omitempty"`
	TagGroups    []customerapi.TagGroup   `json:"tagGroups,omitempty"`
	Syncs        int                      `json:"syncs,omitempty"`
}

type connectionRecord struct {
	OrganisationID string   `json:"organisationId"`
	Relationships  []string `json:"relationships"`
	Contacts       []string `json:"contacts"`
}

type userRecord struct {
	ID             string           `json:"id"`
	OrganisationID string           `json:"organisationId"`
	User           customerapi.User `json:"user"`
	Password       string           `json:"password"`
	Temporary      bool             `json:"temporary,omitempty"`
	Pending        bool             `json:"pending,omitempty"`
	NewEmail       string           `json:"newEmail,omitempty"`
	AttributeCode  string           `json:"attributeCode,omitempty"`
	ResetCode      string           `json:"resetCode,omitempty"`
	SignupCode     string           `json:"signupCode,omitempty"`
	Swapped        bool             `json:"swapped,omitempty"`
}

type buRecord struct {
	ID             string                       `json:"id"`
	OrganisationID string                       `json:"organisationId"`
	Ordinal        int                          `json:"ordinal"`
	Name           string                       `json:"name"`
	Type           customerapi.BusinessUnitType `json:"type"`
	Tags           []string                     `json:"tags"`
	BusinessID     string                       `json:"businessId,omitempty"`
	Region         string                       `json:"region,omitempty"`
}

type tokenRecord struct {
	UserID  string    `json:"userId"`
	Roles   []string  `json:"roles"`
	Expires time.Time `json:"expires"`
}

// snapshot renders st as a state file. Expired sessions, refresh tokens and
// ApiTokens are left out. Callers hold s.mu.
func (st *state) snapshot() (*stateFile, error) {
	rng, err := st.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	now := st.now()
	f := &stateFile{Version: stateVersion, RNG: rng, Seq: st.seq,
		Organisations: make([]orgRecord, 0, len(st.orgOrder)), Users: make([]userRecord, 0, len(st.userList)),
		BusinessUnits: make([]buRecord, 0, len(st.bus)), Businesses: make([]customerapi.Business, 0, len(st.biz)),
		Sessions: map[string]tokenRecord{}, RefreshTokens: map[string]tokenRecord{}, APITokens: map[string]tokenRecord{},
		MagicLinks: st.magic, Certificates: st.certs, Outbox: st.outbox,
		LogLevel: st.logLevel, LogFilter: st.logFilter, FullAccountRequests: st.fullAccountRequests}
	for _, o := range st.orgOrder {
		r := orgRecord{ID: o.id, Seq: o.seq, Created: o.created, Organisation: o.o, OwnerID: o.ownerID, ManagedBy: o.managedBy,
			ConnectionID: o.connID, AdvancePay: o.advance, Finmid: o.finmid, TagGroups: o.tagGroups, Syncs: o.syncs}
		for _, c := range o.conns {
			r.Connections = append(r.Connections, connectionRecord{OrganisationID: c.orgID, Relationships: c.relationships, Contacts: c.contacts})
		}
		f.Organisations = append(f.Organisations, r)
	}
	for _, u := range st.userList {
		f.Users = append(f.Users, userRecord{ID: u.id, OrganisationID: u.orgID, User: u.u, Password: u.password,
			Temporary: u.temporary, Pending: u.pending, NewEmail: u.newEmail, AttributeCode: u.attrCode,
			ResetCode: u.resetCode, SignupCode: u.signup, Swapped: u.swapped})
	}
	for _, b := range st.bus {
		f.BusinessUnits = append(f.BusinessUnits, buRecord{ID: b.id, OrganisationID: b.orgID, Ordinal: b.ordinal, Name: b.name,
			Type: b.typ, Tags: b.tags, BusinessID: b.bizID, Region: b.region})
	}
	sort.Slice(f.BusinessUnits, func(i, j int) bool { return f.BusinessUnits[i].ID < f.BusinessUnits[j].ID })
	for _, b := range st.biz {
		f.Businesses = append(f.Businesses, *b)
	}
	sort.Slice(f.Businesses, func(i, j int) bool { return f.Businesses[i].ID < f.Businesses[j].ID })
	for k, v := range st.sessions {
		if now.Before(v.expires) {
			f.Sessions[k] = tokenRecord{UserID: v.userID, Roles: v.roles, Expires: v.expires}
		}
	}
	for k, v := range st.refreshes {
		if now.Before(v.expires) {
			f.RefreshTokens[k] = tokenRecord{UserID: v.userID, Roles: v.roles, Expires: v.expires}
		}
	}
	for k, v := range st.apiTokens {
		if now.Before(v.expires) {
			f.APITokens[k] = tokenRecord{UserID: v.userID, Roles: v.roles, Expires: v.expires}
		}
	}
	return f, nil
}

// restore rebuilds a state from a state file.
func restoreState(f *stateFile, now func() time.Time, ttl time.Duration) (*state, error) {
	if f.Version != stateVersion {
		return nil, fmt.Errorf("unsupported version %d (want %d)", f.Version, stateVersion)
	}
	if len(f.RNG) == 0 {
		return nil, errors.New("no generator position (rng)")
	}
	src := &rand.PCG{}
	if err := src.UnmarshalBinary(f.RNG); err != nil {
		return nil, fmt.Errorf("rng: %w", err)
	}
	st := newState(now, src, ttl)
	st.seq = f.Seq
	for _, r := range f.Organisations {
		if r.ID == "" || st.orgs[r.ID] != nil {
			return nil, fmt.Errorf("organisation %q: empty or repeated id", r.ID)
		}
		o := &org{id: r.ID, seq: r.Seq, created: r.Created, o: r.Organisation, ownerID: r.OwnerID, managedBy: r.ManagedBy,
			connID: r.ConnectionID, advance: r.AdvancePay, finmid: r.Finmid, tagGroups: r.TagGroups, syncs: r.Syncs}
		o.o.ID = r.ID
		for _, c := range r.Connections {
			o.conns = append(o.conns, &connection{orgID: c.OrganisationID, relationships: nonNil(c.Relationships), contacts: c.Contacts})
		}
		o.indexConns()
		st.orgs[o.id] = o
		st.orgOrder = append(st.orgOrder, o)
		st.indexOrg(o)
	}
	for _, r := range f.Users {
		if r.ID == "" || st.users[r.ID] != nil {
			return nil, fmt.Errorf("user %q: empty or repeated id", r.ID)
		}
		u := &user{id: r.ID, orgID: r.OrganisationID, u: r.User, password: r.Password, temporary: r.Temporary,
			pending: r.Pending, newEmail: r.NewEmail, attrCode: r.AttributeCode, resetCode: r.ResetCode,
			signup: r.SignupCode, swapped: r.Swapped}
		u.u.ID = r.ID
		// The handlers rely on a first profile for the user's own organisation
		// and on settings being present.
		if len(u.u.Profiles) == 0 {
			u.u.Profiles = []customerapi.UserProfileEntry{{OrganisationID: u.orgID, BusinessUnits: []string{}, Roles: u.u.Roles}}
		}
		if u.u.Settings == nil {
			u.u.Settings = &customerapi.UserSettings{}
		}
		st.addUserRecord(u)
	}
	for _, r := range f.BusinessUnits {
		b := &bu{id: r.ID, orgID: r.OrganisationID, ordinal: r.Ordinal, name: r.Name, typ: r.Type,
			tags: nonNil(r.Tags), bizID: r.BusinessID, region: r.Region}
		st.bus[r.ID] = b
		st.addBU(b)
	}
	for i := range f.Businesses {
		b := f.Businesses[i]
		st.biz[b.ID] = &b
	}
	for k, v := range f.Sessions {
		st.sessions[k] = &session{userID: v.UserID, roles: v.Roles, expires: v.Expires}
	}
	for k, v := range f.RefreshTokens {
		st.refreshes[k] = &session{userID: v.UserID, roles: v.Roles, expires: v.Expires}
	}
	for k, v := range f.APITokens {
		st.apiTokens[k] = &apiToken{userID: v.UserID, roles: v.Roles, expires: v.Expires}
	}
	for k, v := range f.MagicLinks {
		st.magic[k] = v
	}
	st.setCerts(f.Certificates)
	st.outbox = f.Outbox
	st.logLevel, st.logFilter, st.fullAccountRequests = f.LogLevel, f.LogFilter, f.FullAccountRequests
	return st, nil
}

// Save writes the state file now (temp file, fsync, rename). It fails
// without Options.StatePath.
func (s *Server) Save() error {
	if s.opts.StatePath == "" {
		return errors.New("customerapitest: no state file configured")
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	f, err := s.st.snapshot()
	var b []byte
	if err == nil {
		b, err = json.MarshalIndent(f, "", "\t")
	}
	if err == nil {
		s.dirty = false
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("customerapitest: save: %w", err)
	}
	if err := atomicfile.Write(s.opts.StatePath, append(b, '\n')); err != nil {
		s.mu.Lock()
		s.dirty = true // try again on the next tick
		s.mu.Unlock()
		return err
	}
	return nil
}

// load replaces the seeded state with the state file's; a missing file
// leaves the seeded state. Users and Admins of the options are then applied
// on top (see Options.StatePath).
func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("customerapitest: load state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("customerapitest: load state %s: %w", path, err)
	}
	st, err := restoreState(&f, s.now, s.opts.TokenTTL)
	if err != nil {
		return fmt.Errorf("customerapitest: load state %s: %w", path, err)
	}
	changed := s.seedUsers(st, true)
	s.mu.Lock()
	s.st = st
	s.dirty = changed
	s.mu.Unlock()
	return nil
}
