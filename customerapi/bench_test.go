package customerapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/benchhttp"
	"github.com/erpconnector/erpconnector/internal/cputime"
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

// The hot path per request: one call through the typed client, one at a
// time, over real keep-alive HTTP on loopback. "ref" answers from the
// reference server (its own work included); "canned" replays the reference
// server's answers without doing that work, so the client's cost stands out;
// "inproc" replays them in memory, without a socket: the client's work alone.

type answer struct {
	status int
	header http.Header
	body   []byte
}

// recording wraps h and keeps the last answer it gave to each method and path.
type recording struct {
	h       http.Handler
	answers map[string]answer
}

func newRecording(h http.Handler) *recording {
	return &recording{h: h, answers: map[string]answer{}}
}

func (rc *recording) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	rc.h.ServeHTTP(rec, r)
	a := answer{rec.Code, rec.Header().Clone(), bytes.Clone(rec.Body.Bytes())}
	rc.answers[r.Method+" "+r.URL.Path] = a
	a.write(w)
}

func (a answer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// replay answers every request with the answer recorded for its method and path.
func (rc *recording) replay(b *testing.B) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil { // nil when served in memory (inproc)
			_, _ = io.Copy(io.Discard, r.Body)
		}
		a, ok := rc.answers[r.Method+" "+r.URL.Path]
		if !ok {
			b.Errorf("no recorded answer for %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotImplemented)
			return
		}
		a.write(w)
	})
}

// benchClient returns a client of h over a keep-alive loopback server.
func benchClient(b *testing.B, h http.Handler) *customerapi.Client {
	b.Helper()
	ts := httptest.NewServer(h)
	b.Cleanup(ts.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(tr.CloseIdleConnections)
	return benchClientOver(b, ts.URL, tr)
}

func benchClientOver(b *testing.B, base string, rt http.RoundTripper) *customerapi.Client {
	b.Helper()
	c, err := customerapi.New(customerapi.Options{BaseURL: base, Credentials: customerapi.Credentials{Username: ownerEmail, Password: ownerPass},
		HTTPClient: &http.Client{Transport: rt}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// replayed returns a client of rc's recorded answers: over loopback
// ("canned") or in memory ("inproc").
func replayed(b *testing.B, rc *recording, mode string) *customerapi.Client {
	if mode == "inproc" {
		return benchClientOver(b, "http://customers.invalid", benchhttp.InProcess{Handler: rc.replay(b)})
	}
	return benchClient(b, rc.replay(b))
}

func benchRef() *recording {
	return newRecording(customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{ownerEmail: ownerPass}}))
}

// BenchmarkLogin measures login (POST /v1/auth/login, no bearer token), one request per op.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	req := customerapi.LoginRequest{Username: ownerEmail, Password: ownerPass}
	run := func(b *testing.B, c *customerapi.Client) {
		cputime.Measure(b, func(int) error {
			_, err := c.Login(ctx, req)
			return err
		})
	}
	b.Run("ref", func(b *testing.B) { run(b, benchClient(b, benchRef())) })
	for _, mode := range []string{"canned", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			rc := benchRef()
			if _, err := benchClient(b, rc).Login(ctx, req); err != nil {
				b.Fatal(err)
			}
			run(b, replayed(b, rc, mode))
		})
	}
}

func benchOrganisation(i int) customerapi.CreateOrganisationRequest {
	return customerapi.CreateOrganisationRequest{
		Location: &customerapi.Location{Address: &customerapi.Address{Line1: "Hill Farm", Postcode: "YO62 5JE", CountryISO: "GB"}},
		Company:  &customerapi.Company{Number: "SC123456"},
		Name:     fmt.Sprint("Farm B", i), CountryISO: "GB",
		OwnerContact: &customerapi.ContactInput{Email: fmt.Sprintf("b%d@farm.test", i), GivenName: "Hil", FamilyName: "Farmer", Phone: "+44 7700 900321"},
		Billing:      &customerapi.Billing{Amount: 0, Currency: "GBP", Period: "month"},
		Modules:      []customerapi.Module{},
	}
}

// BenchmarkCreateOrganisation measures createOrganisation (POST
// /v1/organisations with a bearer token), one request per op; the login
// happens before the timer starts.
func BenchmarkCreateOrganisation(b *testing.B) {
	ctx := context.Background()
	b.Run("ref", func(b *testing.B) {
		c := benchClient(b, benchRef())
		if _, err := c.Tokens().Token(ctx); err != nil {
			b.Fatal(err)
		}
		cputime.Measure(b, func(i int) error {
			_, err := c.CreateOrganisation(ctx, benchOrganisation(i))
			return err
		})
	})
	for _, mode := range []string{"canned", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			rc := benchRef()
			if _, err := benchClient(b, rc).CreateOrganisation(ctx, benchOrganisation(0)); err != nil {
				b.Fatal(err)
			}
			c := replayed(b, rc, mode)
			if _, err := c.Tokens().Token(ctx); err != nil {
				b.Fatal(err)
			}
			w := benchOrganisation(1)
			cputime.Measure(b, func(int) error {
				_, err := c.CreateOrganisation(ctx, w)
				return err
			})
		})
	}
}
