package oneapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/erpconnector/erpconnector/internal/benchhttp"
	"github.com/erpconnector/erpconnector/internal/cputime"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// The hot path per request: one call through the typed client, one at a
// time, over real keep-alive HTTP on loopback. "ref" answers from the
// reference server (its own work included); "canned" replays the reference
// server's answer without doing that work, so the client's cost stands out;
// "inproc" replays it in memory, without a socket: the client's work alone.

type answer struct {
	status int
	header http.Header
	body   []byte
}

// recording wraps h and keeps the last answer it gave.
type recording struct {
	h    http.Handler
	last answer
}

func (rc *recording) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	rc.h.ServeHTTP(rec, r)
	rc.last = answer{rec.Code, rec.Header().Clone(), bytes.Clone(rec.Body.Bytes())}
	rc.last.write(w)
}

func (a answer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// replay answers every request with the recorded answer.
func (rc *recording) replay() http.Handler {
	a := rc.last
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil { // nil when served in memory (inproc)
			_, _ = io.Copy(io.Discard, r.Body)
		}
		a.write(w)
	})
}

// benchServers starts the reference server behind a recorder, and a client of it.
func benchServers(b *testing.B) (*oneapi.API, *recording) {
	b.Helper()
	srv, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{tenantA: keyA}, Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	rc := &recording{h: srv}
	hs := httptest.NewServer(rc)
	b.Cleanup(hs.Close)
	api, err := oneapi.New(oneapi.Config{BaseURL: hs.URL, Tenant: tenantA, APIKey: keyA})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(api.CloseIdleConnections)
	return api, rc
}

// cannedAPI serves the recorded answer and returns a client of that server.
func cannedAPI(b *testing.B, rc *recording) *oneapi.API {
	b.Helper()
	hs := httptest.NewServer(rc.replay())
	b.Cleanup(hs.Close)
	api, err := oneapi.New(oneapi.Config{BaseURL: hs.URL, Tenant: tenantA, APIKey: keyA})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(api.CloseIdleConnections)
	return api
}

// inprocAPI returns a client answered in memory with the recorded answer.
func inprocAPI(b *testing.B, rc *recording) *oneapi.API {
	b.Helper()
	api, err := oneapi.New(oneapi.Config{BaseURL: "http://one.invalid", Tenant: tenantA, APIKey: keyA, Transport: benchhttp.InProcess{Handler: rc.replay()}})
	if err != nil {
		b.Fatal(err)
	}
	return api
}

// BenchmarkCreateClient measures createClient (POST /clients), one request per op.
func BenchmarkCreateClient(b *testing.B) {
	ctx := context.Background()
	b.Run("ref", func(b *testing.B) {
		api, _ := benchServers(b)
		cputime.Measure(b, func(i int) error {
			_, err := api.CreateClient(ctx, company(fmt.Sprint("B-", i)))
			return err
		})
	})
	for _, mode := range []string{"canned", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			api, rc := benchServers(b)
			if _, err := api.CreateClient(ctx, company("B-0")); err != nil {
				b.Fatal(err)
			}
			if mode == "canned" {
				api = cannedAPI(b, rc)
			} else {
				api = inprocAPI(b, rc)
			}
			w := company("B-1")
			cputime.Measure(b, func(int) error {
				_, err := api.CreateClient(ctx, w)
				return err
			})
		})
	}
}

// BenchmarkGetClient measures getClient (GET /clients/{id}), one request per op.
func BenchmarkGetClient(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B) (*oneapi.API, *recording, string) {
		api, rc := benchServers(b)
		w := company("G-1")
		w.Admin = &oneapi.Admin{Email: "boss@firma.pl", Name: "Szef", Phone: "+48 600 000 000"}
		w.Invoice = &oneapi.Invoice{Email: "fv@firma.pl", AdditionalEmails: []string{"ksiegowosc@firma.pl"}}
		w.AdditionalFields = map[string]oneapi.AdditionalField{"regon": {Name: "regon", Label: "Regon", Value: "999999999"}}
		created, err := api.CreateClient(ctx, w)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := api.GetClient(ctx, created.ClientID); err != nil {
			b.Fatal(err)
		}
		return api, rc, created.ClientID
	}
	b.Run("ref", func(b *testing.B) {
		api, _, id := setup(b)
		cputime.Measure(b, func(int) error {
			_, err := api.GetClient(ctx, id)
			return err
		})
	})
	for _, mode := range []string{"canned", "inproc"} {
		b.Run(mode, func(b *testing.B) {
			_, rc, id := setup(b)
			api := cannedAPI(b, rc)
			if mode == "inproc" {
				api = inprocAPI(b, rc)
			}
			cputime.Measure(b, func(int) error {
				_, err := api.GetClient(ctx, id)
				return err
			})
		})
	}
}
