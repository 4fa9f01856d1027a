package customerapi

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/erpconnector/erpconnector/connector/platform"
	capi "github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
)

// TestListAsksAboutEachOrganisationOnce: a listing page asks the state
// about each organisation it lists once, though both the farms' read and
// the records need the answer (each ask is a read of the state file).
func TestListAsksAboutEachOrganisationOnce(t *testing.T) {
	const owner, pass = "owner@example.com", "owner-pass-1"
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{owner: pass}})
	srv.AddOrganisations(owner, 12)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	api, err := capi.New(capi.Options{BaseURL: ts.URL, Credentials: capi.Credentials{Username: owner, Password: pass}})
	if err != nil {
		t.Fatal(err)
	}
	p := New(api, Options{PageSize: 5})
	asked := map[string]int{}
	known := func(id string) (platform.Ref, bool) {
		asked[id]++
		return platform.Ref{ID: id}, true
	}
	listed := 0
	for cursor := ""; ; {
		page, err := p.List(context.Background(), cursor, known)
		if err != nil {
			t.Fatal(err)
		}
		listed += len(page.Records)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if listed < 12 || len(asked) != listed {
		t.Fatalf("%d organisations listed, %d asked about", listed, len(asked))
	}
	for id, n := range asked {
		if n != 1 {
			t.Errorf("organisation %s asked about %d times", id, n)
		}
	}
}
