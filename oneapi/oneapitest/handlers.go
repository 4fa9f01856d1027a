package oneapitest

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/internal/refhttp"
	"github.com/erpconnector/erpconnector/oneapi"
)

func writeFieldErrs(w http.ResponseWriter, status int, msg string, fields []apierr.FieldError) {
	refhttp.WriteFieldErrors(w, status, msg, fields)
}

type apiHandler func(w http.ResponseWriter, r *http.Request, t *tenant)

// handle registers an API operation: counted and faulted as op, authenticated.
func (s *Server) handle(pattern, op string, h apiHandler) {
	s.mux.Handle(pattern, s.faults.Wrap(op, writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t, status, msg := s.authenticate(r)
		s.mu.Unlock()
		if t == nil {
			writeErr(w, status, msg)
			return
		}
		h(w, r, t)
	})))
}

func (s *Server) routes() {
	b := BasePath
	s.handle("GET "+b+"/clients", "listClients", s.listClients)
	s.handle("POST "+b+"/clients", "createClient", s.createClient)
	s.handle("GET "+b+"/clients/synchronization", "getClientSyncFeed", s.syncFeed)
	s.handle("GET "+b+"/clients/{clientId}", "getClient", readOne(s, s.getClient))
	s.handle("PUT "+b+"/clients/{clientId}", "updateClient", partial(s, s.updateClient))
	s.handle("DELETE "+b+"/clients/{clientId}", "deleteClient", s.deleteClient)
	s.handle("GET "+b+"/clients/{clientId}/additional-data", "getClientAdditionalData", readOne(s, s.getAdditional))
	s.handle("PUT "+b+"/clients/{clientId}/additional-data", "updateClientAdditionalData", partial(s, s.additionalLocked))
	s.handle("PUT "+b+"/clients/{clientId}/advanced-data", "updateClientAdvancedData", partial(s, s.advancedLocked))
	s.handle("PUT "+b+"/clients/{clientId}/basic-data", "updateClientBasicData", partial(s, s.basicLocked))
	s.handle("PUT "+b+"/clients/{clientId}/finance-data", "updateClientFinanceData", partial(s, s.financeLocked))
	s.handle("GET "+b+"/clients/{clientId}/first-user", "getClientFirstUser", readOne(s, s.getFirstUser))
	s.handle("GET "+b+"/users", "listUsers", s.listUsers)
	s.controlRoutes()
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request, t *tenant) {
	var in oneapi.ClientWrite
	if be := refhttp.Decode(w, r, &in); be != nil {
		be.Write(w)
		return
	}
	s.mu.Lock()
	resp, err := s.createLocked(t, in, oneapi.ContextIntegrations, true)
	s.mu.Unlock()
	if err != nil {
		err.write(w)
		return
	}
	refhttp.WriteJSON(w, http.StatusOK, resp)
}

// readOne builds the handler of a GET on one client.
func readOne[T any](s *Server, get func(t *tenant, c *client) (T, *OpError)) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, t *tenant) {
		s.mu.Lock()
		c, err := s.lookupLocked(t, r.PathValue("clientId"))
		var out T
		if err == nil {
			out, err = get(t, c)
		}
		s.mu.Unlock()
		if err != nil {
			err.write(w)
			return
		}
		refhttp.WriteJSON(w, http.StatusOK, out)
	}
}

// mutateOne applies a change to one client and answers 200 with no body.
func (s *Server) mutateOne(w http.ResponseWriter, r *http.Request, t *tenant, apply func(t *tenant, c *client) *OpError) {
	s.mu.Lock()
	c, err := s.lookupLocked(t, r.PathValue("clientId"))
	if err == nil {
		err = apply(t, c)
	}
	s.mu.Unlock()
	if err != nil {
		err.write(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// partial builds the handler of an update whose body decodes into In.
func partial[In any](s *Server, apply func(t *tenant, c *client, in In) *OpError) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, t *tenant) {
		var in In
		if be := refhttp.Decode(w, r, &in); be != nil {
			be.Write(w)
			return
		}
		s.mutateOne(w, r, t, func(t *tenant, c *client) *OpError { return apply(t, c, in) })
	}
}

func (s *Server) getClient(t *tenant, c *client) (oneapi.Client, *OpError) { return t.render(c), nil }

func (s *Server) updateClient(t *tenant, c *client, in oneapi.ClientWrite) *OpError {
	return s.updateLocked(t, c, in, oneapi.ContextIntegrations, true)
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request, t *tenant) {
	s.mutateOne(w, r, t, func(t *tenant, c *client) *OpError {
		s.deleteLocked(t, c, oneapi.ContextIntegrations)
		return nil
	})
}

func (s *Server) getAdditional(t *tenant, c *client) (oneapi.AdditionalData, *OpError) {
	return oneapi.AdditionalData{ID: c.ID, AdditionalFields: t.render(c).AdditionalFields}, nil
}

func (s *Server) getFirstUser(t *tenant, c *client) (oneapi.FirstUser, *OpError) {
	u := t.Users[c.FirstUserID]
	if u == nil {
		return oneapi.FirstUser{}, notFound("first user")
	}
	return oneapi.FirstUser{UserID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone}, nil
}

// paging reads pageNumber (default 1) and pageSize (default 20).
func paging(r *http.Request) (int, int, *OpError) {
	var p problems
	read := func(name string, def, maxV int) int {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxV {
			p.add(name, "must be an integer from 1 to %d", maxV)
			return def
		}
		return n
	}
	number := read("pageNumber", 1, 1<<31-1)
	size := read("pageSize", 20, MaxPageSize)
	return number, size, invalid(p)
}

func pageOf[T any](all func(from, to int) []T, total, number, size int) oneapi.Page[T] {
	from := (number - 1) * size
	if from > total || from < 0 {
		from = total
	}
	to := min(from+size, total)
	items := all(from, to)
	if items == nil {
		items = []T{}
	}
	pages := (total + size - 1) / size
	p := oneapi.Page[T]{
		ListElement: items, TotalElement: int64(total), Items: items, TotalItems: int64(total),
		PageNumber: int32(number), TotalPages: int32(pages), PageSize: int32(size),
	}
	if number < pages {
		next := int32(number + 1)
		p.NextPage = &next
	}
	return p
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request, t *tenant) {
	number, size, err := paging(r)
	if err != nil {
		err.write(w)
		return
	}
	s.mu.Lock()
	page := pageOf(func(from, to int) []oneapi.Client {
		out := make([]oneapi.Client, 0, to-from)
		for _, id := range t.Order[from:to] {
			out = append(out, t.render(t.Clients[id]))
		}
		return out
	}, len(t.Order), number, size)
	s.mu.Unlock()
	refhttp.WriteJSON(w, http.StatusOK, page)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, t *tenant) {
	number, size, err := paging(r)
	if err != nil {
		err.write(w)
		return
	}
	s.mu.Lock()
	page := pageOf(func(from, to int) []oneapi.User {
		out := make([]oneapi.User, 0, to-from)
		for _, id := range t.UserOrder[from:to] {
			out = append(out, *t.Users[id])
		}
		return out
	}, len(t.UserOrder), number, size)
	s.mu.Unlock()
	refhttp.WriteJSON(w, http.StatusOK, page)
}

// parseContexts reads the contexts parameter: repeated, comma-separated or
// both; legacy aliases map to their current names; absent means all.
func parseContexts(values []string) (map[oneapi.Context]bool, *OpError) {
	set := map[oneapi.Context]bool{}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			c, ok := oneapi.Context(part).Canonical()
			if !ok {
				return nil, invalid([]apierr.FieldError{{Field: "contexts",
					Message: "unknown context " + strconv.Quote(part) + " (want APPLICATION, BACKOFFICE, INTERNAL, INTEGRATIONS)"}})
			}
			set[c] = true
		}
	}
	if len(set) == 0 {
		for _, c := range oneapi.AllContexts {
			set[c] = true
		}
	}
	return set, nil
}

func (s *Server) syncFeed(w http.ResponseWriter, r *http.Request, t *tenant) {
	q := r.URL.Query()
	contexts, err := parseContexts(q["contexts"])
	if err != nil {
		err.write(w)
		return
	}
	start := int64(1)
	if v := q.Get("startId"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			invalid([]apierr.FieldError{{Field: "startId", Message: "must be a non-negative integer"}}).write(w)
			return
		}
		start = n
	}
	applied := fault.FromContext(r.Context())
	limit := MaxFeedPage
	if applied.Duplicate {
		limit = MaxFeedPage / 2
	}
	s.mu.Lock()
	feed := t.feedLocked(start, contexts, limit)
	s.mu.Unlock()
	if applied.Duplicate {
		dup := make([]oneapi.SyncEvent, 0, 2*len(feed.Events))
		for _, e := range feed.Events {
			dup = append(dup, e, e)
		}
		feed.Events = dup
	}
	if applied.Reorder {
		rng := rand.New(rand.NewPCG(uint64(applied.Seed), 1))
		rng.Shuffle(len(feed.Events), func(i, j int) { feed.Events[i], feed.Events[j] = feed.Events[j], feed.Events[i] })
	}
	refhttp.WriteJSON(w, http.StatusOK, feed)
}

// jsonOK is used by control routes.
func jsonOK(w http.ResponseWriter, v any) {
	if v == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	refhttp.WriteJSON(w, http.StatusOK, v)
}
