package customerapitest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
