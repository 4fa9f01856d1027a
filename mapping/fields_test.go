package mapping

import (
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// base is a bound customer as the ERP holds it.
func base() Customer {
	c := Customer{ERPKey: "C1", Type: Company, Name: "Agrorex Sp. z o.o.", TIN: "5260250995", TINCode: "PL",
		Billing: Address{Street: "ul. Polna 1", Line2: "lok. 4", Postcode: "00-001", City: "Warszawa", CountryName: "Polska",
			CountryISO2: "PL"},
		Phone: "+48 600 100 200", WarehouseID: "central_01", AccountManagerID: "4e37e1e",
		Admin:            Contact{Name: "Jan Kowalski", Email: "jan@agrorex.pl"},
		AdditionalFields: []AdditionalField{{Name: "regon", Value: "123"}},
		PlatformIDs:      PlatformIDs{ONe: "org:1"}}
	c.Normalize()
	return c
}

// TestCarrierOwnership pins who wins, field by field, in the views that
// decide echo suppression, the merges that take platform changes in and the
// overlays that full writes send.
func TestCarrierOwnership(t *testing.T) {
	erpRec := base()
	plat := base()
	plat.ERPKey = "C1"
	plat.Name = "Platform Name"                                                                               // master
	plat.WarehouseID = "north_02"                                                                             // commercial
	plat.Admin.Name = "Anna Nowak"                                                                            // contact
	plat.AdditionalFields = []AdditionalField{{Name: "regon", Value: "999"}, {Name: "favourite", Value: "x"}} // additional
	plat.Billing.Street, plat.Billing.Line2 = "ul. Polna 1, lok. 4", ""                                       // one street line
	plat.PayerID = "org:1"                                                                                    // ONe's default payer
	platformOwnsCommercial := Terms{Own: Ownership{GroupCommercial: OwnerPlatform}, Held: HoldsAll()}
	onlySomeHeld := Terms{Own: Ownership{}, Held: HeldFields([]string{"name", "billing.street", "warehouse_id",
		"admin.name", "admin.email", "additional.regon"})}

	for _, tc := range []struct {
		name  string
		got   func() Customer
		check func(t *testing.T, c Customer)
	}{
		{"view takes every held field from the platform", func() Customer {
			return ONeCarrier.View(erpRec, plat, false, platformOwnsCommercial)
		}, func(t *testing.T, c Customer) {
			if c.Name != "Platform Name" || c.WarehouseID != "north_02" || c.Admin.Name != "Anna Nowak" {
				t.Errorf("view %+v", c)
			}
			if c.PayerID != "" {
				t.Errorf("the platform's default payer counts as drift: %q", c.PayerID)
			}
			if c.Billing.Street != "ul. Polna 1" || c.Billing.Line2 != "lok. 4" {
				t.Errorf("a street that joins to the same line is drift: %+v", c.Billing)
			}
			if c.ERPKey != "C1" {
				t.Errorf("external id %q", c.ERPKey)
			}
		}},
		{"view of a client without the ERP key as external id differs", func() Customer {
			p := plat
			p.ERPKey = ""
			return ONeCarrier.View(erpRec, p, false, platformOwnsCommercial)
		}, func(t *testing.T, c Customer) {
			v, _ := DigestONe(c)
			e, _ := DigestONe(ONeCarrier.View(erpRec, plat, false, platformOwnsCommercial))
			if c.ERPKey != "" || v == e {
				t.Errorf("a client lacking its external id looks like one holding it: %q", c.ERPKey)
			}
		}},
		{"view leaves what the ERP does not hold as the ERP has it", func() Customer {
			return ONeCarrier.View(erpRec, plat, false, onlySomeHeld)
		}, func(t *testing.T, c Customer) {
			if len(c.AdditionalFields) != 1 || c.AdditionalFields[0].Value != "999" {
				t.Errorf("additional fields %+v: want only the held one, from the platform", c.AdditionalFields)
			}
			if c.Phone != erpRec.Phone {
				t.Errorf("an unheld field came from the platform: %q", c.Phone)
			}
		}},
		{"merge takes only platform-owned groups", func() Customer {
			return ONeCarrier.Merge(erpRec, plat, false, platformOwnsCommercial)
		}, func(t *testing.T, c Customer) {
			if c.WarehouseID != "north_02" || c.Name != erpRec.Name || c.Admin.Name != "Anna Nowak" {
				t.Errorf("merge %+v", c)
			}
		}},
		{"overlay keeps the ERP's owned, held values and carries the rest", func() Customer {
			return ONeCarrier.Overlay(erpRec, plat, false, onlySomeHeld)
		}, func(t *testing.T, c Customer) {
			if c.Name != erpRec.Name || c.WarehouseID != erpRec.WarehouseID {
				t.Errorf("overlay lost the ERP's values: %+v", c)
			}
			if c.Phone != plat.Phone || c.Admin.Name != "Anna Nowak" {
				t.Errorf("overlay did not carry over the unheld or platform-owned values: %+v", c)
			}
			names := []string{}
			for _, f := range c.AdditionalFields {
				names = append(names, f.Name+"="+f.Value.(string))
			}
			if !slices.Equal(names, []string{"favourite=x", "regon=123"}) {
				t.Errorf("additional fields %v: the ERP's held one and the platform's other", names)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, tc.got()) })
	}
	if ONeCarrier.CarriesOver(Terms{Own: Ownership{GroupContact: OwnerERP}, Held: HoldsAll()}) {
		t.Error("an ERP that holds and owns everything needs no read before a full write")
	}
	if !ONeCarrier.CarriesOver(onlySomeHeld) {
		t.Error("an ERP that does not hold every field needs a read before a full write")
	}
}

// TestCustomerAPIMergeKeepsTheERPsNotation: a value the platform holds in
// another notation (a phone) does not rewrite the ERP; a partial record
// (no farm business unit) leaves the farm's own fields alone; the
// certificate is always the platform's.
func TestCustomerAPIMergeKeepsTheERPsNotation(t *testing.T) {
	lat := 54.1
	erpRec := Customer{ERPKey: "F1", Type: Company, Name: "Hill Farms Ltd", Phone: "01439 770000", Email: "a@hill.co.uk",
		Billing: Address{CountryISO2: "GB", Postcode: "YO62 5AB"}, Farm: Farm{HoldingNumber: "11/111/1111", What3Words: "a.b.c", Latitude: &lat}}
	plat := erpRec.Clone()
	plat.Phone = "+441439770000"
	plat.Farm.What3Words, plat.Farm.Latitude = "", nil
	plat.Farm.CertificateStatus, plat.Farm.CertificateIdentifier, plat.Farm.CertificateExpiry = "Valid", "X.Y", "2027-01-31"
	own := Terms{Own: Ownership{GroupMaster: OwnerPlatform, GroupFarm: OwnerPlatform}, Held: HoldsAll()}

	m := CustomerAPICarrier.Merge(erpRec, plat, true, own)
	if m.Phone != "01439 770000" {
		t.Errorf("the same phone in another notation rewrote the ERP: %q", m.Phone)
	}
	if m.Farm.What3Words != "a.b.c" || m.Farm.Latitude == nil {
		t.Errorf("a record without a farm business unit cleared the farm's own fields: %+v", m.Farm)
	}
	if Certificate(m) != [3]string{"Valid", "X.Y", "2027-01-31"} {
		t.Errorf("certificate %v", Certificate(m))
	}
	whole := CustomerAPICarrier.Merge(erpRec, plat, false, own)
	if whole.Farm.What3Words != "" {
		t.Errorf("a record with its farm did not bring the farm's fields: %+v", whole.Farm)
	}
	if diff := CustomerAPICarrier.Differences(erpRec, whole); !slices.Contains(diff, "farm.what3words") {
		t.Errorf("differences %v", diff)
	}
}

// TestDigestParts: a digest has one part per write; Changed names the parts
// that differ; With records the parts a partly failed write did send.
func TestDigestParts(t *testing.T) {
	c := base()
	d1, err := DigestONe(c)
	if err != nil {
		t.Fatal(err)
	}
	if parts := d1.Parts(); len(parts) != 2 || !strings.HasPrefix(string(d1), DigestPrefix) {
		t.Fatalf("digest %q", d1)
	}
	credit := 5000.0
	c2 := c.Clone()
	c2.TradeCreditLimit = &credit
	d2, _ := DigestONe(c2)
	if got := d2.Changed(d1); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("a finance change: changed parts %v, want only the finance part", got)
	}
	c3 := c.Clone()
	c3.Name = "Renamed"
	d3, _ := DigestONe(c3)
	if got := d3.Changed(d1); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("a rename: changed parts %v, want only the client part", got)
	}
	c3.Farm.HoldingNumber = "11/111/1111" // ONe never receives farm data
	if d4, _ := DigestONe(c3); d4 != d3 {
		t.Error("a field ONe never receives changed its digest")
	}
	if got := d1.Changed("sha256:0123"); !slices.Equal(got, []bool{true, true}) {
		t.Errorf("against a digest of unknown parts: %v, want every part changed", got)
	}
	partly := Digest("").With(d3, 0)
	if got := d3.Changed(partly); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("after sending the client part only: %v", got)
	}
	if partly.With(d3, 1) != d3 {
		t.Error("both parts sent: want the whole digest")
	}
}

// TestDigestsLeaveOutPlatformIDsAndUpdatedAt: what a platform receives does
// not depend on the platform ids or the ERP's change time of the customer,
// so a row read again after its id was written back, or after its cursor
// moved, maps to the same digest (the connector's resync leaves such rows
// known by a digest taken without those columns, erp.Item.Digest).
func TestDigestsLeaveOutPlatformIDsAndUpdatedAt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gen    func(*rapid.T) Customer
		digest func(Customer) (Digest, error)
	}{
		{"one", genCustomer, DigestONe},
		{"customerapi", genCAPICustomer, DigestCustomerAPI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				c := tc.gen(rt)
				d1, err1 := tc.digest(c)
				c.PlatformIDs = PlatformIDs{ONe: genID.Draw(rt, "one"), CustomerAPI: genID.Draw(rt, "capi")}
				c.UpdatedAt = time.Unix(rapid.Int64Range(0, 1<<33).Draw(rt, "at"), 0)
				d2, err2 := tc.digest(c)
				if d1 != d2 || (err1 == nil) != (err2 == nil) {
					rt.Fatalf("digest %s (%v) became %s (%v)", d1, err1, d2, err2)
				}
			})
		})
	}
}
