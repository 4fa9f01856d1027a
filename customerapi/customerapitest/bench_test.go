package customerapitest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// BenchmarkListOrganisations pages through 10,000 organisations (100 per
// page, offsets cycling) over a keep-alive HTTP connection.
func BenchmarkListOrganisations(b *testing.B) {
	const total, limit = 10000, 100
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{ownerEmail: ownerPass}})
	srv.AddOrganisations(ownerEmail, total-1)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	resp, err := hc.Post(ts.URL+"/v1/auth/login", "application/json", bytes.NewReader([]byte(`{"username":"`+ownerEmail+`","password":"`+ownerPass+`"}`)))
	if err != nil {
		b.Fatal(err)
	}
	var lr customerapi.LoginResponse
	_ = json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/organisations?limit=%d&offset=%d", ts.URL, limit, (i*limit)%total), nil)
		req.Header.Set("Authorization", "Bearer "+lr.Tokens.Access)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 1000 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
	b.ReportMetric(float64(limit*b.N)/b.Elapsed().Seconds(), "orgs/s")
}

// benchHolding is the holding number of the i-th benchmark farm.
func benchHolding(i int) string {
	return fmt.Sprintf("%02d/%03d/%04d", i/10000000%100, i/10000%1000, i%10000)
}

func benchCert(i int) customerapi.Certificate {
	pc := fmt.Sprintf("BN%d %dAB", i%97, i%10)
	return customerapi.Certificate{CertificateStatus: customerapi.CertificateValid, CertificateIdentifier: fmt.Sprintf("BENCH%09d", i),
		CertificateEnterprises: []customerapi.CertificateEnterprise{{EnterpriseIdentifier: "ENT1", Enterprise: "Dairy"}},
		CertificateExpiryDate:  "2030-01-31T00:00:00.000+00:00",
		CertifiedSites: []customerapi.CertifiedSite{{SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: benchHolding(i)},
			IsPrimary: true, SiteCountry: "GBR", SitePostcode: pc, SiteName: "Bench Farm"}}}
}

// serveJSON sends a request straight to the server's handler and fails
// unless it answers 200.
func serveJSON(b *testing.B, h http.Handler, method, path, token string, body any) []byte {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.Bytes())
	}
	return rec.Body.Bytes()
}

// BenchmarkCreateOrganisationWithFarm measures what a migration does per
// customer: create an organisation (name and company number checked
// for duplicates, the owner's e-mail for uniqueness), create its farm
// business unit with a business holding number (its Red Tractor
// certificate looked up for the answer) and look the certificate up by
// holding number, against a server that already holds 1,000 or 50,000
// such organisations (with owners, farms and certificates). The cost per
// operation must not grow with the records held.
func BenchmarkCreateOrganisationWithFarm(b *testing.B) {
	for _, held := range []int{1000, 50000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{ownerEmail: ownerPass}})
			certs := make([]customerapi.Certificate, 0, held+b.N)
			for i := 0; i < held+b.N; i++ {
				certs = append(certs, benchCert(i))
			}
			srv.AddCertificates(certs...)
			srv.PopulateFarms(ownerEmail, held, benchHolding)
			var lr customerapi.LoginResponse
			if err := json.Unmarshal(serveJSON(b, srv, "POST", "/v1/auth/login", "", customerapi.LoginRequest{Username: ownerEmail, Password: ownerPass}), &lr); err != nil || lr.Tokens == nil {
				b.Fatalf("login: %v", err)
			}
			tok := lr.Tokens.Access
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := held + i
				name := fmt.Sprintf("New Farm %07d", n)
				var org customerapi.Organisation
				if err := json.Unmarshal(serveJSON(b, srv, "POST", "/v1/organisations", tok, customerapi.CreateOrganisationRequest{
					Location:     &customerapi.Location{Address: &customerapi.Address{Line1: name, Postcode: "YO17 9AB", CountryISO: "GB"}},
					Company:      &customerapi.Company{Number: fmt.Sprintf("NF%07d", n)},
					Name:         name,
					CountryISO:   "GB",
					OwnerContact: &customerapi.ContactInput{Email: fmt.Sprintf("new%07d@farms.test", n), GivenName: "Jo", FamilyName: "Farmer"},
					Billing:      &customerapi.Billing{Amount: 10, Currency: "GBP", Period: "month"},
					Modules:      []customerapi.Module{{ID: "trading", Name: "Trading"}},
				}), &org); err != nil {
					b.Fatal(err)
				}
				var unit customerapi.BusinessUnit
				if err := json.Unmarshal(serveJSON(b, srv, "POST", "/v1/business-units", tok, customerapi.CreateBusinessUnitRequest{
					OrganisationID: org.ID, Name: name + " Home", Type: customerapi.BusinessUnitFarm,
					Business: &customerapi.BusinessInput{Name: name, HoldingNumber: benchHolding(n), AssuranceScheme: customerapi.SchemeRT},
				}), &unit); err != nil {
					b.Fatal(err)
				}
				if unit.Business == nil || unit.Business.Assurance == nil {
					b.Fatalf("farm %d: no certificate found for its business: %+v", n, unit.Business)
				}
				var found []customerapi.Certificate
				if err := json.Unmarshal(serveJSON(b, srv, "GET", "/v1/red-tractor/certificates?country=GBR&holdingNumber="+url.QueryEscape(benchHolding(n)), tok, nil), &found); err != nil || len(found) != 1 {
					b.Fatalf("certificates of farm %d: %d, %v", n, len(found), err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "farms/s")
		})
	}
}
