package oneapitest

import (
	"net/http"

	"github.com/erpconnector/erpconnector/internal/refhttp"
	"github.com/erpconnector/erpconnector/oneapi"
)

// Origins a change can be made from through the control surface (the API
// itself always records INTEGRATIONS).
var controlOrigins = map[oneapi.Context]bool{
	oneapi.ContextApplication: true, oneapi.ContextBackoffice: true, oneapi.ContextInternal: true,
}

// StorefrontCreate creates a client as the storefront (APPLICATION), the back
// office (BACKOFFICE) or the platform (INTERNAL) would: externalId may be
// empty, and the feed event carries that context.
func (s *Server) StorefrontCreate(tenantName string, origin oneapi.Context, d oneapi.ClientWrite) (oneapi.CreateClientResponse, error) {
	var resp oneapi.CreateClientResponse
	err := s.control(tenantName, origin, func(t *tenant, origin oneapi.Context) *OpError {
		var e *OpError
		resp, e = s.createLocked(t, d, origin, false)
		return e
	})
	return resp, err
}

// StorefrontUpdate replaces a client's data as the storefront or back office
// would. An empty externalId keeps the current one.
func (s *Server) StorefrontUpdate(tenantName string, origin oneapi.Context, id string, d oneapi.ClientWrite) error {
	return s.control(tenantName, origin, func(t *tenant, origin oneapi.Context) *OpError {
		c, e := s.lookupLocked(t, id)
		if e != nil {
			return e
		}
		return s.updateLocked(t, c, d, origin, false)
	})
}

// StorefrontDelete deletes a client as the storefront or back office would.
func (s *Server) StorefrontDelete(tenantName string, origin oneapi.Context, id string) error {
	return s.control(tenantName, origin, func(t *tenant, origin oneapi.Context) *OpError {
		c, e := s.lookupLocked(t, id)
		if e != nil {
			return e
		}
		s.deleteLocked(t, c, origin)
		return nil
	})
}

func (s *Server) control(tenantName string, origin oneapi.Context, fn func(t *tenant, origin oneapi.Context) *OpError) error {
	canon, ok := origin.Canonical()
	if !ok || !controlOrigins[canon] {
		return &OpError{Status: http.StatusBadRequest, Message: "context must be APPLICATION, BACKOFFICE or INTERNAL"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[tenantName]
	if t == nil {
		return notFound("tenant")
	}
	if e := fn(t, canon); e != nil {
		return e
	}
	return nil
}

// controlRoutes serves the test-only control surface:
//
//	POST   /_reference/tenants/{tenant}/clients?context=APPLICATION   create as the storefront
//	PUT    /_reference/tenants/{tenant}/clients/{clientId}?context=…  update as the storefront
//	DELETE /_reference/tenants/{tenant}/clients/{clientId}?context=…  delete as the storefront
//	GET    /_reference/tenants/{tenant}/clients                       every client (read model)
//	POST   /_reference/reset                                          forget all data, faults, counters
//	…/faults and …/counters                                           see fault.RegisterControl
func (s *Server) controlRoutes() {
	p := ControlPrefix
	s.faults.RegisterControl(s.mux, p, writeErr)
	origin := func(r *http.Request) oneapi.Context {
		if c := r.URL.Query().Get("context"); c != "" {
			return oneapi.Context(c)
		}
		return oneapi.ContextApplication
	}
	s.mux.HandleFunc("POST "+p+"/tenants/{tenant}/clients", func(w http.ResponseWriter, r *http.Request) {
		var in oneapi.ClientWrite
		if be := refhttp.Decode(w, r, &in); be != nil {
			be.Write(w)
			return
		}
		resp, err := s.StorefrontCreate(r.PathValue("tenant"), origin(r), in)
		if writeControlErr(w, err) {
			return
		}
		jsonOK(w, resp)
	})
	s.mux.HandleFunc("PUT "+p+"/tenants/{tenant}/clients/{clientId}", func(w http.ResponseWriter, r *http.Request) {
		var in oneapi.ClientWrite
		if be := refhttp.Decode(w, r, &in); be != nil {
			be.Write(w)
			return
		}
		err := s.StorefrontUpdate(r.PathValue("tenant"), origin(r), r.PathValue("clientId"), in)
		if writeControlErr(w, err) {
			return
		}
		jsonOK(w, nil)
	})
	s.mux.HandleFunc("DELETE "+p+"/tenants/{tenant}/clients/{clientId}", func(w http.ResponseWriter, r *http.Request) {
		err := s.StorefrontDelete(r.PathValue("tenant"), origin(r), r.PathValue("clientId"))
		if writeControlErr(w, err) {
			return
		}
		jsonOK(w, nil)
	})
	s.mux.HandleFunc("GET "+p+"/tenants/{tenant}/clients", func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, s.Clients(r.PathValue("tenant")))
	})
	s.mux.HandleFunc("POST "+p+"/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		jsonOK(w, nil)
	})
}

func writeControlErr(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	if oe, ok := err.(*OpError); ok {
		oe.write(w)
		return true
	}
	writeErr(w, http.StatusInternalServerError, err.Error())
	return true
}
