package oneapitest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

func benchAPI(b *testing.B) (*oneapi.API, *oneapitest.Server) {
	srv := newServer(b, oneapitest.Options{})
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	api, err := oneapi.New(oneapi.Config{BaseURL: hs.URL, Tenant: "demo", APIKey: "secret", Transport: t})
	if err != nil {
		b.Fatal(err)
	}
	return api, srv
}

// BenchmarkServerCreate measures createClient over real keep-alive HTTP on
// loopback, through the typed client, with parallel callers.
func BenchmarkServerCreate(b *testing.B) {
	api, _ := benchAPI(b)
	var n atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := api.CreateClient(ctx, sample(fmt.Sprint(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkServerGet measures getClient over real keep-alive HTTP.
func BenchmarkServerGet(b *testing.B) {
	api, _ := benchAPI(b)
	ctx := context.Background()
	var ids []string
	for i := range 1000 {
		r, err := api.CreateClient(ctx, sample(fmt.Sprint("g", i)))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, r.ClientID)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := api.GetClient(ctx, ids[int(n.Add(1))%len(ids)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
