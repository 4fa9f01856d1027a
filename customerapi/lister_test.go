package customerapi_test

import (
	"context"
	"testing"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/fault"
)

func TestAllOrganisationsStreamsPages(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	ids := f.srv.AddOrganisations(ownerEmail, 250)
	c := f.owner()
	ctx := context.Background()
	seen := map[string]bool{}
	for o, err := range c.AllOrganisations(ctx, customerapi.OrganisationQuery{Limit: 40}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[o.ID] {
			t.Fatalf("duplicate %s", o.ID)
		}
		seen[o.ID] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("missing %s", id)
		}
	}
	if len(seen) != 251 { // 250 managed + own
		t.Fatalf("streamed %d, want 251", len(seen))
	}
	if got := f.count("listOrganisations"); got != 7 { // ceil(251/40) = 7 pages, the last short
		t.Fatalf("pages = %d, want 7", got)
	}

	// Stopping early fetches no further page.
	f.srv.Faults().ResetCounts()
	n := 0
	for _, err := range c.AllOrganisations(ctx, customerapi.OrganisationQuery{Limit: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if got := f.count("listOrganisations"); got != 2 {
		t.Fatalf("pages after break = %d, want 2", got)
	}
}

func TestAllOrganisationsStopsAtError(t *testing.T) {
	f := newFixture(t, false, customerapitest.Options{})
	f.srv.AddOrganisations(ownerEmail, 30)
	c := f.owner()
	if _, err := f.srv.Faults().Add(fault.Rule{Operation: "listOrganisations", Status: 500}); err != nil {
		t.Fatal(err)
	}
	var errs, items int
	for _, err := range c.AllOrganisations(context.Background(), customerapi.OrganisationQuery{Limit: 10}) {
		if err != nil {
			errs++
			if apierr.Classify(err) != apierr.Retryable {
				t.Fatalf("class = %v", apierr.Classify(err))
			}
			continue
		}
		items++
	}
	if errs != 1 || items != 0 {
		t.Fatalf("errs %d items %d", errs, items)
	}
}

func TestAllUsers(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{})
	org := f.srv.OrganisationID(ownerEmail)
	for i := 0; i < 12; i++ {
		if _, _, err := f.srv.AddUser(customerapitest.UserSpec{Email: "u" + string(rune('a'+i)) + "@example.com", Password: "Passw0rd!", OrganisationID: org}); err != nil {
			t.Fatal(err)
		}
	}
	c := f.owner()
	n := 0
	for u, err := range c.AllUsers(context.Background(), customerapi.UserQuery{Limit: 5, OrganisationID: org}) {
		if err != nil {
			t.Fatal(err)
		}
		if u.OrganisationID != org {
			t.Fatalf("user of %s", u.OrganisationID)
		}
		n++
	}
	if n != 13 {
		t.Fatalf("users = %d, want 13", n)
	}
}
