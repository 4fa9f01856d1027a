package oneapi_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

const (
	tenantA = "demo"
	keyA    = "3f1c0a5e9b7d4c2a8e6f0b1d3c5a7e9f:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
	tenantB = "other"
	keyB    = "other-secret-key"
)

type env struct {
	srv *oneapitest.Server
	hs  *httptest.Server
	api *oneapi.API
	v   *contract.Validator
}

// newEnv starts a reference server on loopback and a client whose every
// exchange is validated against the contract (requests too when checkRequests).
func newEnv(t testing.TB, checkRequests bool) *env {
	t.Helper()
	srv, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{tenantA: keyA, tenantB: keyB}, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	v, err := contract.New(oneapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	api := newAPI(t, hs.URL, tenantA, keyA, v.Transport(http.DefaultTransport, checkRequests))
	return &env{srv: srv, hs: hs, api: api, v: v}
}

func newAPI(t testing.TB, base, tenant, key string, rt http.RoundTripper) *oneapi.API {
	t.Helper()
	api, err := oneapi.New(oneapi.Config{BaseURL: base, Tenant: tenant, APIKey: key, Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// noProblems fails the test when any exchange broke the contract.
func (e *env) noProblems(t testing.TB) {
	t.Helper()
	for _, p := range e.v.Problems() {
		t.Errorf("contract: %v", p)
	}
}

func vendorBody(t testing.TB, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vendor", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(replace...).Replace(string(b))
}

// raw sends one request with the tenant's headers through the validating transport.
func (e *env) raw(t testing.TB, method, path, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, e.hs.URL+path, rd)
	} else {
		req, err = http.NewRequest(method, e.hs.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("accept", "*/*")
	req.Header.Set("one-tenant", tenantA)
	req.Header.Set("ApiAuth", keyA)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := (&http.Client{Transport: e.v.Transport(http.DefaultTransport, false)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		b.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, []byte(b.String())
}

func company(ext string) oneapi.ClientWrite {
	return oneapi.ClientWrite{
		CustomerType: oneapi.CustomerCompany,
		ExternalID:   ext,
		Name:         "Firma " + ext,
		Tin:          "5260250995",
		TinCode:      "PL",
		Address: &oneapi.Address{City: "Wrocław", Country: "Polska", ExternalID: "A-" + ext, Name: "Siedziba",
			Phone: "+48 71 000 00 00", Street: "Międzyleska 4", ZipCode: "50-045"},
	}
}
