package customerapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// BenchmarkAllOrganisations streams 2,000 organisations page by page (200
// per page) over keep-alive HTTP from the reference server.
func BenchmarkAllOrganisations(b *testing.B) {
	const total = 2000
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{ownerEmail: ownerPass}})
	srv.AddOrganisations(ownerEmail, total-1)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c, err := customerapi.New(customerapi.Options{BaseURL: ts.URL, Credentials: customerapi.Credentials{Username: ownerEmail, Password: ownerPass},
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		for _, err := range c.AllOrganisations(ctx, customerapi.OrganisationQuery{Limit: 200}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != total {
			b.Fatalf("streamed %d, want %d", n, total)
		}
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "orgs/s")
}
