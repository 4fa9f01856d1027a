package mapping

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/contract"
)

// TestCustomerAPIRoundTripThroughReferenceServer sends customers to the
// reference Customer API over real HTTP with the real client (create the
// organisation, create the farm business unit, read both back, then patch
// the organisation and read it again), every exchange checked against the
// contract, and checks that what comes back maps to the same canonical
// customer on every field the Customer API carries. The platform attaches
// the Red Tractor certificate of a farm's holding number by itself.
func TestCustomerAPIRoundTripThroughReferenceServer(t *testing.T) {
	ref := customerapitest.NewServer(customerapitest.Options{
		Users: map[string]string{"integrator@example.com": "Integr8tor-pass"}, Seed: 3,
	})
	srv := httptest.NewServer(ref)
	t.Cleanup(srv.Close)
	v, err := contract.New(customerapi.OpenAPISpec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range v.Problems() {
			t.Errorf("contract violation: %v", p)
		}
	})
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	cl, err := customerapi.New(customerapi.Options{
		BaseURL:     srv.URL,
		Credentials: customerapi.Credentials{Username: "integrator@example.com", Password: "Integr8tor-pass"},
		HTTPClient:  &http.Client{Transport: v.Transport(transport, true)},
		Timeout:     10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	certs := ref.Certificates()
	if len(certs) == 0 {
		t.Fatal("reference server seeded no certificates")
	}
	ctx := context.Background()

	read := func(t *rapid.T, orgID, name string) Customer {
		org, err := cl.GetOrganisation(ctx, orgID)
		if err != nil {
			t.Fatalf("get organisation: %v", err)
		}
		units, err := cl.BusinessUnits(ctx, orgID, nil)
		if err != nil {
			t.Fatalf("business units: %v", err)
		}
		return FromCustomerAPI(*org, FarmBusinessUnit(units.BusinessUnits, name))
	}
	// expect is the projection plus the certificate the platform attaches:
	// the first seeded certificate of the farm's holding number, for an RT
	// or unnamed scheme.
	expect := func(c Customer, orgID string) Customer {
		want := capiProjection(c, orgID)
		if HasFarm(c) && c.Farm.HoldingNumber != "" && c.Farm.AssuranceScheme != "SQC" {
			for _, cert := range certs {
				if ApplyCertificate(&want, cert) {
					break
				}
			}
		}
		return want
	}

	n := 0
	certified := 0
	rapid.Check(t, func(t *rapid.T) {
		c := genCAPICustomer(t)
		n++
		// Organisation names (with company numbers) and owner e-mails are unique on the platform.
		c.Name = fmt.Sprintf("%s %d", c.Name, n)
		c.Admin.Email = fmt.Sprintf("u%d.%s", n, c.Admin.Email)
		if rapid.Bool().Draw(t, "certified holding?") {
			cert := certs[rapid.IntRange(0, len(certs)-1).Draw(t, "cert")]
			c.Farm.HoldingNumber = cert.CertifiedSites[0].SiteIdentifiers.Identifier
		}
		if err := ValidateCustomerAPI(c); err != nil {
			t.Fatalf("ValidateCustomerAPI: %v", err)
		}
		org, err := cl.CreateOrganisation(ctx, ToCustomerAPIOrganisation(c))
		if err != nil {
			t.Fatalf("create organisation: %v", err)
		}
		c.PlatformIDs.CustomerAPI = org.ID
		if req, ok := ToCustomerAPIFarm(c); ok {
			if _, err := cl.CreateBusinessUnit(ctx, req); err != nil {
				t.Fatalf("create business unit: %v", err)
			}
		}
		got := read(t, org.ID, c.Name)
		want := expect(c, org.ID)
		if want.Farm.CertificateStatus != "" {
			certified++
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip through the reference server:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
		if h1, _ := HashCustomerAPI(c); func() bool { h2, _ := HashCustomerAPI(got); return h1 != h2 }() {
			t.Fatalf("the echo hashes differently from what was sent")
		}

		// An ERP change goes out as a patch; removed values are removed.
		d := c.Clone()
		d.Name += " Renamed"
		d.VATID, d.CompanyNumber = "", ""
		d.Billing.City, d.Billing.Line2 = "Newtown", ""
		d.Admin.Name = "Pat " + d.Admin.Name
		if _, err := cl.UpdateOrganisation(ctx, org.ID, ToCustomerAPIOrganisationPatch(d)); err != nil {
			t.Fatalf("update organisation: %v", err)
		}
		if req, ok := ToCustomerAPIFarmPatch(d); ok {
			units, err := cl.BusinessUnits(ctx, org.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			unit := FarmBusinessUnit(units.BusinessUnits, c.Name)
			if unit == nil {
				t.Fatalf("farm business unit not found")
			}
			if _, err := cl.UpdateBusinessUnit(ctx, unit.ID, req); err != nil {
				t.Fatalf("update business unit: %v", err)
			}
		}
		got = read(t, org.ID, d.Name)
		if want := expect(d, org.ID); !reflect.DeepEqual(got, want) {
			t.Fatalf("after the patch:\n got %s\nwant %s", mustJSON(got), mustJSON(want))
		}
	})
	if certified == 0 {
		t.Errorf("no customer came back with a certificate in %d runs", n)
	}
}
