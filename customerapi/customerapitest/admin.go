package customerapitest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/customerapi"
)

// Errors of the platform-administrator actions; test them with errors.Is.
var (
	// ErrNotFound: the organisation (or other record) does not exist.
	ErrNotFound = errors.New("customerapitest: not found")
	// ErrInvalid: an argument is not acceptable (e.g. an unknown status).
	ErrInvalid = errors.New("customerapitest: invalid argument")
)

// orgStatuses are the statuses an organisation may be given (through
// updateOrganisation or SetOrganisationStatus). The platform itself also
// gives "shell" to organisations it creates for business connections to
// companies that are not customers.
var orgStatuses = []string{"active", "inactive", "pending", "suspended"}

// SetOrganisationStatus sets an organisation's status as a platform
// administrator would (no e-mail is sent): one of active, inactive, pending,
// suspended. It fails with ErrNotFound for an unknown id and ErrInvalid for
// another status. The status is data only: users of an inactive or suspended
// organisation still log in and work, as with updateOrganisation.
func (s *Server) SetOrganisationStatus(id, status string) error {
	_, err := s.setOrganisationStatus(id, status)
	return err
}

func (s *Server) setOrganisationStatus(id, status string) (customerapi.Organisation, error) {
	if !slices.Contains(orgStatuses, status) {
		return customerapi.Organisation{}, fmt.Errorf("%w: status %q must be one of %s", ErrInvalid, status, strings.Join(orgStatuses, ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orgs[id]
	if o == nil {
		return customerapi.Organisation{}, fmt.Errorf("%w: organisation %s", ErrNotFound, id)
	}
	o.o.Status = status
	s.dirty = true
	return s.st.orgView(o), nil
}

// deletionSummary is what deleteOrganisation removed (the answer of
// DELETE /_reference/organisations/{id}).
type deletionSummary struct {
	OrganisationID string   `json:"organisationId"`
	BusinessUnits  []string `json:"businessUnits"`
	Businesses     []string `json:"businesses"`
	Users          []string `json:"users"`
}

// DeleteOrganisation removes an organisation as a platform administrator
// would. It fails with ErrNotFound for an unknown id.
//
// It removes, consistently:
//   - the organisation (GET answers 404; listings and by-ids look-ups leave
//     it out), its business units and their businesses;
//   - every user whose home organisation it is (its owner included), with
//     their sessions, refresh tokens, ApiTokens and magic links. Users are
//     deleted rather than detached because a user cannot exist without a home
//     organisation here; in particular the owner's e-mail address becomes free
//     for a new organisation or user;
//   - the business connections of other organisations to it and its own
//     connections, and the access (profile entries) that users of other
//     organisations held through those connections, as deleteBusinessConnection
//     does.
//
// Organisations it managed (created) stay, no longer managed by anyone (only
// their own users and platform administrators see them). Codes already sent
// stay in the outbox.
func (s *Server) DeleteOrganisation(id string) error {
	_, err := s.deleteOrganisation(id)
	return err
}

func (s *Server) deleteOrganisation(id string) (deletionSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	o := st.orgs[id]
	if o == nil {
		return deletionSummary{}, fmt.Errorf("%w: organisation %s", ErrNotFound, id)
	}
	sum := deletionSummary{OrganisationID: id, BusinessUnits: []string{}, Businesses: []string{}, Users: []string{}}

	// Business units and businesses.
	for _, b := range st.busOf(id) {
		delete(st.bus, b.id)
		sum.BusinessUnits = append(sum.BusinessUnits, b.id)
		if b.bizID != "" && st.biz[b.bizID] != nil {
			delete(st.biz, b.bizID)
			sum.Businesses = append(sum.Businesses, b.bizID)
		}
	}
	delete(st.busByOrg, id)
	for bid, bz := range st.biz {
		if bz.OrganisationID == id {
			delete(st.biz, bid)
			sum.Businesses = append(sum.Businesses, bid)
		}
	}

	// Users of the organisation, with everything that authenticates them.
	gone := map[string]bool{}
	for _, u := range st.orgUsers[id] {
		gone[u.id] = true
		sum.Users = append(sum.Users, u.id)
	}
	st.deleteUsers(gone)
	for k, v := range st.sessions {
		if gone[v.userID] {
			delete(st.sessions, k)
		}
	}
	for k, v := range st.refreshes {
		if gone[v.userID] {
			delete(st.refreshes, k)
		}
	}
	for k, v := range st.apiTokens {
		if gone[v.userID] {
			delete(st.apiTokens, k)
		}
	}
	for k, uid := range st.magic {
		if gone[uid] {
			delete(st.magic, k)
		}
	}

	// Business connections to and from the organisation.
	for _, other := range st.orgOrder {
		if other.id == id {
			continue
		}
		if other.managedBy == id {
			other.managedBy = ""
		}
		if gone[other.ownerID] {
			other.ownerID = ""
		}
		if other.conn(id) != nil {
			other.conns = slices.DeleteFunc(other.conns, func(c *connection) bool {
				if c.orgID != id {
					return false
				}
				for _, uid := range c.contacts {
					if u := st.users[uid]; u != nil {
						revoke(u, other.id)
					}
				}
				return true
			})
			other.indexConns()
		}
		for _, c := range other.conns {
			c.contacts = slices.DeleteFunc(c.contacts, func(uid string) bool { return gone[uid] })
		}
	}
	for _, u := range st.userList {
		revoke(u, id)
	}

	delete(st.orgs, id)
	st.unindexOrg(o)
	st.orgOrder = slices.DeleteFunc(st.orgOrder, func(x *org) bool { return x == o })
	s.dirty = true
	return sum, nil
}

// adminControlRoutes serves the platform-administrator actions of the
// control surface.
func (s *Server) adminControlRoutes() {
	s.mux.HandleFunc("PUT /_reference/organisations/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Status string `json:"status"`
		}
		if !decode(w, r, &body) {
			return
		}
		v, err := s.setOrganisationStatus(r.PathValue("id"), body.Status)
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		ok(w, v)
	})
	s.mux.HandleFunc("DELETE /_reference/organisations/{id}", func(w http.ResponseWriter, r *http.Request) {
		sum, err := s.deleteOrganisation(r.PathValue("id"))
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		ok(w, sum)
	})
}

// writeAdminErr answers 404 for ErrNotFound, 400 for ErrInvalid and 500 otherwise.
func writeAdminErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		refhttpFieldErrs(w, http.StatusBadRequest, "validation failed",
			fieldErrs{{Field: "status", Message: "must be one of " + strings.Join(orgStatuses, ", ")}})
	default:
		writeErr(w, http.StatusInternalServerError, err.Error())
	}
}
