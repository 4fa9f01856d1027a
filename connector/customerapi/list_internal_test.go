package customerapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/platform"
	capi "github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/fault"
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

// TestListReadsFarmBusinessesSideBySide: a listing page whose known farms
// need several reads of businesses has them in flight together (at most
// businessReads), gives every farm its business, and fails whole when one
// read fails.
func TestListReadsFarmBusinessesSideBySide(t *testing.T) {
	const owner, pass = "owner@example.com", "owner-pass-1"
	const farms = 3*businessBatch + 7 // four reads
	srv := customerapitest.NewServer(customerapitest.Options{Seed: 1, Users: map[string]string{owner: pass}})
	ids := srv.AddOrganisations(owner, farms)
	var inFlight, most atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/businesses" {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond) // a platform's latency
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	api, err := capi.New(capi.Options{BaseURL: ts.URL, Credentials: capi.Credentials{Username: owner, Password: pass}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, id := range ids {
		name := fmt.Sprintf("Farm %05d", i)
		if _, err := api.CreateBusinessUnit(ctx, capi.CreateBusinessUnitRequest{OrganisationID: id, Name: name, Type: capi.BusinessUnitFarm,
			Business: &capi.BusinessInput{Name: name, HoldingNumber: fmt.Sprintf("12/%03d/%04d", i%1000, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	p := New(api, Options{PageSize: farms + 10})
	known := func(id string) (platform.Ref, bool) { return platform.Ref{ID: id}, true }
	page, err := p.List(ctx, "", known)
	if err != nil {
		t.Fatal(err)
	}
	withFarm := 0
	for _, r := range page.Records {
		if r.Seen == "" {
			t.Fatalf("organisation %s listed without its farm read", r.Ref.ID)
		}
		if r.Customer.Farm.HoldingNumber != "" {
			withFarm++
		}
	}
	if withFarm != farms {
		t.Fatalf("%d of %d farms listed with their business", withFarm, farms)
	}
	if m := most.Load(); m < 2 || m > businessReads {
		t.Fatalf("%d reads of businesses in flight at once, want 2 to %d", m, businessReads)
	}

	// One refused read fails the page (its error kept for the caller).
	if _, err := srv.Faults().Add(fault.Rule{Operation: "getBusinessesByBusinessUnitIds", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.List(ctx, "", known); err == nil || !strings.Contains(err.Error(), "read the businesses of listed farms") {
		t.Fatalf("a page whose read of businesses failed: %v", err)
	}
}
