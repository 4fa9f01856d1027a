package customerapitest

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/refhttp"
)

type authMode int

const (
	authRequired authMode = iota
	// authOptional operations are open in the contract; a valid bearer, if
	// sent, identifies the caller.
	authOptional
)

type caller struct {
	u     *user
	orgID string
	roles []string
}

func (c *caller) has(roles ...string) bool {
	if c == nil {
		return false
	}
	for _, r := range roles {
		if slices.Contains(c.roles, r) {
			return true
		}
	}
	return false
}

func (c *caller) admin() bool    { return c.has("admin") }
func (c *caller) canWrite() bool { return c.has("owner", "member", "admin") }
func (c *caller) owner() bool    { return c.has("owner", "admin") }

type handler func(w http.ResponseWriter, r *http.Request, c *caller)

type route struct {
	op, method, path string
	auth             authMode
	h                handler
}

func (s *Server) routes() {
	s.ops = s.operations()
	for _, rt := range s.ops {
		rt := rt
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveOp(w, r, rt) })
		s.mux.Handle(rt.method+" "+rt.path, s.faults.Wrap(rt.op, writeErr, h))
	}
	s.faults.RegisterControl(s.mux, "/_reference", writeErr)
	s.controlRoutes()
	s.adminControlRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
}

func (s *Server) serveOp(w http.ResponseWriter, r *http.Request, rt route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, status, msg := s.authenticate(r)
	if rt.auth == authRequired && c == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="customer-api"`)
		writeErr(w, status, msg)
		return
	}
	s.log.Debug("request", "op", rt.op, "method", r.Method, "path", r.URL.Path)
	rt.h(w, r, c)
	// Reads change nothing; any other operation may have (a login stores a
	// session), so the state file is written again soon.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.dirty = true
	}
}

// authenticate reads the bearer token; it never logs or echoes the token.
func (s *Server) authenticate(r *http.Request) (*caller, int, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, http.StatusUnauthorized, "missing bearer token"
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, http.StatusUnauthorized, "authorization must be a bearer token"
	}
	sess := s.st.sessions[strings.TrimSpace(tok)]
	if sess == nil {
		return nil, http.StatusUnauthorized, "invalid token"
	}
	if !s.now().Before(sess.expires) {
		return nil, http.StatusUnauthorized, "token expired"
	}
	u := s.st.users[sess.userID]
	if u == nil {
		return nil, http.StatusUnauthorized, "invalid token"
	}
	return &caller{u: u, orgID: u.orgID, roles: sess.roles}, 0, ""
}

// issue creates a session for u.
func (st *state) issue(u *user, roles []string) customerapi.Tokens {
	now := st.now()
	access := st.secret("at_")
	refresh := st.secret("rt_")
	sess := &session{userID: u.id, roles: slices.Clone(roles), expires: now.Add(st.tokenTTL)}
	st.sessions[access] = sess
	st.refreshes[refresh] = &session{userID: u.id, roles: slices.Clone(roles), expires: now.Add(30 * 24 * time.Hour)}
	// Drop expired sessions now and then so long runs do not grow without bound.
	if len(st.sessions) > 4096 {
		for k, v := range st.sessions {
			if !now.Before(v.expires) {
				delete(st.sessions, k)
			}
		}
	}
	return customerapi.Tokens{ID: st.secret("id_"), Access: access, Refresh: refresh, ExpiresIn: st.tokenTTL.Seconds()}
}

// Helpers shared by the handlers.

type fieldErrs []apierr.FieldError

func (f *fieldErrs) add(field, msg string) {
	*f = append(*f, apierr.FieldError{Field: field, Message: msg})
}

func (f *fieldErrs) required(field, v string) {
	if strings.TrimSpace(v) == "" {
		f.add(field, "is required")
	}
}

// write answers 400 with the collected errors and reports whether there were any.
func (f fieldErrs) write(w http.ResponseWriter) bool {
	if len(f) == 0 {
		return false
	}
	refhttp.WriteFieldErrors(w, http.StatusBadRequest, "validation failed", f)
	return true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if be := refhttp.Decode(w, r, v); be != nil {
		be.Write(w)
		return false
	}
	return true
}

func ok(w http.ResponseWriter, v any) { refhttp.WriteJSON(w, http.StatusOK, v) }

func msg(w http.ResponseWriter, text string) {
	ok(w, customerapi.Message{Message: text, Status: "ok"})
}

func forbidden(w http.ResponseWriter, why string) { writeErr(w, http.StatusForbidden, why) }

func (s *Server) visible(c *caller, o *org) bool {
	if c == nil {
		return false
	}
	return c.admin() || o.id == c.orgID || o.managedBy == c.orgID || s.st.connected(c.orgID, o.id)
}

// orgFor finds an organisation the caller may reach: 404 unknown, 403 outside its reach.
func (s *Server) orgFor(w http.ResponseWriter, c *caller, id string) *org {
	o := s.st.orgs[id]
	if o == nil {
		writeErr(w, http.StatusNotFound, "organisation not found")
		return nil
	}
	if !s.visible(c, o) {
		forbidden(w, "organisation belongs to another customer")
		return nil
	}
	return o
}

func (s *Server) userVisible(c *caller, u *user) bool {
	if c == nil {
		return false
	}
	if c.admin() || u.orgID == c.orgID {
		return true
	}
	if o := s.st.orgs[u.orgID]; o != nil && s.visible(c, o) {
		return true
	}
	for _, p := range u.u.Profiles {
		if p.OrganisationID == c.orgID {
			return true
		}
	}
	return false
}

func (s *Server) userFor(w http.ResponseWriter, c *caller, id string) *user {
	u := s.st.users[id]
	if u == nil {
		writeErr(w, http.StatusNotFound, "user not found")
		return nil
	}
	if !s.userVisible(c, u) {
		forbidden(w, "user belongs to another customer")
		return nil
	}
	return u
}

func splitIDs(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func requireIDs(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	ids := splitIDs(r.URL.Query().Get("ids"))
	if len(ids) == 0 {
		refhttp.WriteFieldErrors(w, http.StatusBadRequest, "validation failed", []apierr.FieldError{{Field: "ids", Message: "is required (comma-separated ids)"}})
		return nil, false
	}
	if len(ids) > 500 {
		refhttp.WriteFieldErrors(w, http.StatusBadRequest, "validation failed", []apierr.FieldError{{Field: "ids", Message: "at most 500 ids"}})
		return nil, false
	}
	return ids, true
}

// Control surface.

func (s *Server) controlRoutes() {
	s.mux.HandleFunc("POST /_reference/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusOK)
	})
	s.mux.HandleFunc("GET /_reference/codes", func(w http.ResponseWriter, r *http.Request) {
		email := r.URL.Query().Get("email")
		if email == "" {
			writeErr(w, http.StatusBadRequest, "email is required")
			return
		}
		ok(w, nonNil(s.ReadCodes(email)))
	})
	s.mux.HandleFunc("POST /_reference/users", func(w http.ResponseWriter, r *http.Request) {
		var spec UserSpec
		if !decode(w, r, &spec) {
			return
		}
		uid, oid, err := s.AddUser(spec)
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		ok(w, map[string]string{"id": uid, "organisationId": oid})
	})
	s.mux.HandleFunc("PUT /_reference/token-ttl", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TTL string `json:"ttl"`
		}
		if !decode(w, r, &body) {
			return
		}
		d, err := time.ParseDuration(body.TTL)
		if err != nil || d <= 0 {
			writeErr(w, http.StatusBadRequest, "ttl must be a positive duration such as \"30s\"")
			return
		}
		s.SetTokenTTL(d)
		w.WriteHeader(http.StatusOK)
	})
	s.mux.HandleFunc("GET /_reference/certificates", func(w http.ResponseWriter, r *http.Request) {
		ok(w, s.Certificates())
	})
	s.mux.HandleFunc("GET /_reference/operations", func(w http.ResponseWriter, r *http.Request) {
		ok(w, s.Operations())
	})
}
