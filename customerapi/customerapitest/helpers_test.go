package customerapitest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/contract"
)

const (
	ownerEmail = "owner@example.com"
	ownerPass  = "Passw0rd!"
	adminEmail = "admin@example.com"
	adminPass  = "Adm1nPass!"
	otherEmail = "other@example.org"
	otherPass  = "0therPass!"
)

// env is a server on a real socket and an HTTP client whose traffic is
// validated against the contract.
type env struct {
	t   *testing.T
	srv *customerapitest.Server
	ts  *httptest.Server
	v   *contract.Validator
	hc  *http.Client
}

func newEnv(t *testing.T, opts customerapitest.Options) *env {
	t.Helper()
	return envFor(t, customerapitest.NewServer(defaultOptions(opts)))
}

// defaultOptions fills in the users, administrator and seed tests expect.
func defaultOptions(opts customerapitest.Options) customerapitest.Options {
	if opts.Users == nil {
		opts.Users = map[string]string{ownerEmail: ownerPass, otherEmail: otherPass}
	}
	if opts.Admins == nil {
		opts.Admins = map[string]string{adminEmail: adminPass}
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	return opts
}

// envFor serves srv on a real socket (closed at the end of the test).
func envFor(t *testing.T, srv *customerapitest.Server) *env {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	v, err := contract.New(customerapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: v.Transport(http.DefaultTransport, true), Timeout: 10 * time.Second}
	e := &env{t: t, srv: srv, ts: ts, v: v, hc: hc}
	t.Cleanup(func() {
		for _, p := range v.Problems() {
			t.Errorf("contract violation: %v", p)
		}
		// Whatever the test did, every indexed look-up still answers as a
		// scan over the records would.
		if err := srv.CheckIndexes(); err != nil {
			t.Errorf("indexes: %v", err)
		}
	})
	return e
}

// do sends a JSON request and returns status and body.
func (e *env) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) (int, []byte) {
	e.t.Helper()
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// must sends a request that must answer want and decodes the body into out.
func (e *env) must(want int, method, path, token string, body, out any) {
	e.t.Helper()
	status, b := e.do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
}

func (e *env) upload(want int, path, token string, fields map[string]string, csv string, out any) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("file", "data.csv")
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = fw.Write([]byte(csv))
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, &buf)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	status, b := e.send(req)
	if status != want {
		e.t.Fatalf("upload %s: status %d, want %d: %s", path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("upload %s: decode: %v", path, err)
		}
	}
}

func (e *env) login(email, password string) customerapi.Tokens {
	e.t.Helper()
	var lr customerapi.LoginResponse
	e.must(200, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: email, Password: password}, &lr)
	if lr.Tokens == nil || lr.Tokens.Access == "" {
		e.t.Fatalf("login %s: no tokens", email)
	}
	return *lr.Tokens
}

// client returns a customerapi.Client whose traffic is validated too.
func (e *env) client(creds customerapi.Credentials) *customerapi.Client {
	e.t.Helper()
	c, err := customerapi.New(customerapi.Options{BaseURL: e.ts.URL, Credentials: creds, HTTPClient: e.hc, Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// control sends a request to the control surface (which is outside the
// contract, so not validated) and returns status and body.
func (e *env) control(method, path, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// newFarm creates, with token, an organisation owned by a new user with
// ownerEmail (so managed by the token's organisation) and a farm business
// unit with a business holding number.
func (e *env) newFarm(token, name, ownerEmail string) (customerapi.Organisation, customerapi.BusinessUnit) {
	e.t.Helper()
	var org customerapi.Organisation
	e.must(200, "POST", "/v1/organisations", token, customerapi.CreateOrganisationRequest{
		Location:     &customerapi.Location{Address: &customerapi.Address{Line1: name, Postcode: "YO17 9AB", CountryISO: "GB"}},
		Name:         name,
		CountryISO:   "GB",
		OwnerContact: &customerapi.ContactInput{Email: ownerEmail, GivenName: "Jo", FamilyName: "Farmer"},
		Billing:      &customerapi.Billing{Amount: 10, Currency: "GBP", Period: "month"},
		Modules:      []customerapi.Module{{ID: "trading", Name: "Trading"}},
	}, &org)
	var bu customerapi.BusinessUnit
	e.must(200, "POST", "/v1/business-units", token, customerapi.CreateBusinessUnitRequest{OrganisationID: org.ID, Name: name + " Home",
		Type: customerapi.BusinessUnitFarm, Business: &customerapi.BusinessInput{Name: name, HoldingNumber: "12/345/6789", AssuranceScheme: customerapi.SchemeRT}}, &bu)
	if bu.Business == nil || bu.Business.ID == "" {
		e.t.Fatalf("business unit without business: %+v", bu)
	}
	return org, bu
}
