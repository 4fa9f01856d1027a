package oneapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/erpconnector/erpconnector/internal/contract"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

func newServer(t testing.TB, opts oneapitest.Options) *oneapitest.Server {
	t.Helper()
	if opts.Tenants == nil {
		opts.Tenants = map[string]string{"demo": "secret"}
	}
	s, err := oneapitest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sample(ext string) oneapi.ClientWrite {
	return oneapi.ClientWrite{CustomerType: oneapi.CustomerCompany, ExternalID: ext, Tin: "123", Name: "N " + ext,
		Address: &oneapi.Address{City: "C", Country: "Polska", ExternalID: "a", Name: "n", Phone: "1", Street: "s", ZipCode: "z"}}
}

// TestStatePersists checks a server restarted on the same state file has the
// same clients, feed and id sequence continuation (no id reuse).
func TestStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.json")
	s1 := newServer(t, oneapitest.Options{StatePath: path, Seed: 1})
	r, err := s1.StorefrontCreate("demo", oneapi.ContextApplication, sample("K1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newServer(t, oneapitest.Options{StatePath: path, Seed: 1})
	defer s2.Close()
	c, ok := s2.Client("demo", r.ClientID)
	if !ok || c.ExternalID != "K1" {
		t.Fatalf("client not restored: %+v %v", c, ok)
	}
	if s2.FeedLength("demo") != 1 {
		t.Fatalf("feed length %d", s2.FeedLength("demo"))
	}
	r2, err := s2.StorefrontCreate("demo", oneapi.ContextApplication, sample("K2"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.ClientID == r.ClientID || r2.AddressID == r.AddressID {
		t.Fatal("ids repeat after restart")
	}
	if _, err := s2.StorefrontCreate("demo", oneapi.ContextApplication, sample("K1")); err == nil {
		t.Fatal("externalId index not restored: duplicate accepted")
	}
}

// FuzzCreateRequest feeds arbitrary bodies to createClient: the server must
// answer 200, 400, 409 or 413 (never 5xx, never panic), and every answer must
// fit the contract; an accepted client must be readable.
func FuzzCreateRequest(f *testing.F) {
	seeds := []string{
		`{"customerType":"COMPANY","externalId":"1","tin":"1","address":{"city":"c","country":"c","externalId":"e","name":"n","phone":"p","street":"s","zipCode":"z"}}`,
		`{"customerType":"INDIVIDUAL","externalId":"2","address":{"city":"c","country":"c","externalId":"e","name":"n","phone":"p","street":"s","zipCode":"z"},"additionalFields":{"a":{"name":"a","value":1}}}`,
		`{"customerType":"COMPANY"}`, `{`, `[]`, `null`, `{"additionalFields":{"x":{"name":"x","value":{}}}}`,
		`{"customerType":"COMPANY","externalId":"3","tin":"1","currency":"XXX","tinCode":"GR","accountType":["BOSS"],"address":{}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	v, err := contract.New(oneapi.OpenAPISpec)
	if err != nil {
		f.Fatal(err)
	}
	srv := newServer(f, oneapitest.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, oneapitest.BasePath+"/clients", bytes.NewReader(body))
		req.Header.Set("one-tenant", "demo")
		req.Header.Set("ApiAuth", "secret")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 409, 413:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		vreq := httptest.NewRequest(http.MethodPost, oneapitest.BasePath+"/clients", nil)
		if err := v.ValidateResponse(vreq, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("answer breaks the contract: %v", err)
		}
		if rec.Code != 200 {
			return
		}
		var out oneapi.CreateClientResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		get := httptest.NewRequest(http.MethodGet, oneapitest.BasePath+"/clients/"+oneapi.EscapeID(out.ClientID), nil)
		get.Header.Set("one-tenant", "demo")
		get.Header.Set("ApiAuth", "secret")
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, get)
		if rec.Code != 200 {
			t.Fatalf("accepted client not readable: %d", rec.Code)
		}
		if err := v.ValidateResponse(get, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("read model breaks the contract: %v", err)
		}
	})
}

// FuzzFeedQuery feeds arbitrary query strings to the feed: 200 or 400 only.
func FuzzFeedQuery(f *testing.F) {
	for _, s := range []string{"startId=1", "contexts=APP,INTEGRATION&startId=0", "startId=-5", "contexts=%00", "startId=99999999999999999999"} {
		f.Add(s)
	}
	srv := newServer(f, oneapitest.Options{})
	if _, err := srv.StorefrontCreate("demo", oneapi.ContextApplication, sample("F")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://x"+oneapitest.BasePath+"/clients/synchronization?"+q, nil)
		if err != nil {
			return
		}
		req.Header.Set("one-tenant", "demo")
		req.Header.Set("ApiAuth", "secret")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("status %d for %q", rec.Code, q)
		}
		if rec.Code == 200 {
			var feed oneapi.SyncFeed
			if err := json.Unmarshal(rec.Body.Bytes(), &feed); err != nil || len(feed.Events) > oneapitest.MaxFeedPage || feed.NextID < 1 {
				t.Fatalf("feed %s: %v", rec.Body.Bytes(), err)
			}
		}
	})
}
