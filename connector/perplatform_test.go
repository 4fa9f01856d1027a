package connector_test

import (
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
)

// TestAFieldBlocksOnlyThePlatformThatReceivesIt: a malformed top-level
// email (ONe never receives it) does not keep a customer from ONe, and a
// UK farm with a GB tin code (ONe's EU-tin rule) flagged for the Customer
// API only reaches the Customer API, while the same farm flagged for both
// is dead-lettered for ONe on tin_code and still reaches the Customer API.
// A rule's field error counts the same way: a phone that is no number
// (the phone transform's error) does not keep a UK organisation that is no
// farm from the Customer API (which receives the phone with a farm only),
// and keeps it from ONe.
func TestAFieldBlocksOnlyThePlatformThatReceivesIt(t *testing.T) {
	var pl, farmCAPI, farmBoth, noFarm string
	w := newWorld(t, worldOpts{records: 30, seed: 5, platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI},
		edit: func(recs []erpgen.Record) {
			for i := range recs {
				r := &recs[i]
				switch {
				case pl == "" && r.Value("country_iso2") == "PL" && r.Value("customer_type") == "C":
					pl = r.Key
					r.Set("email", "biuro(at)example.pl")
					r.SyncONe, r.SyncCustomerAPI = true, false
				case farmCAPI == "" && r.Value("holding_number") != "":
					farmCAPI = r.Key
					r.Set("tin_code", "GB")
					r.SyncONe, r.SyncCustomerAPI = false, true
				case farmBoth == "" && r.Value("holding_number") != "":
					farmBoth = r.Key
					r.Set("tin_code", "GB")
					r.SyncONe, r.SyncCustomerAPI = true, true
				case noFarm == "" && r.Value("holding_number") != "":
					noFarm = r.Key
					for _, col := range []string{"holding_number", "assurance_scheme", "sqc_number", "sqc_assured",
						"what3words", "latitude", "longitude", "cert_status", "cert_id", "cert_expiry"} {
						r.Set(col, "")
					}
					r.Set("phone", "call the office")
					r.SyncONe, r.SyncCustomerAPI = true, true
				}
			}
		}})
	if pl == "" || farmCAPI == "" || farmBoth == "" || noFarm == "" {
		t.Fatalf("the generated rows lack a Polish company or three UK farms: %q %q %q %q", pl, farmCAPI, farmBoth, noFarm)
	}
	w.sync()
	w.sync()
	if id := oneHarness.id(w, pl); id == "" {
		t.Errorf("%s with a malformed email did not reach ONe", pl)
	}
	if id := capiHarness.id(w, farmCAPI); id == "" {
		t.Errorf("UK farm %s with a GB tin code did not reach the Customer API", farmCAPI)
	}
	if id := capiHarness.id(w, farmBoth); id == "" {
		t.Errorf("UK farm %s flagged for both did not reach the Customer API", farmBoth)
	}
	if id := oneHarness.id(w, farmBoth); id != "" {
		t.Errorf("UK farm %s with a GB tin code reached ONe as %s", farmBoth, id)
	}
	if id := capiHarness.id(w, noFarm); id == "" {
		t.Errorf("UK organisation %s with a phone that is no number did not reach the Customer API", noFarm)
	}
	if id := oneHarness.id(w, noFarm); id != "" {
		t.Errorf("UK organisation %s with a phone that is no number reached ONe as %s", noFarm, id)
	}
	oneDead := map[string]string{}
	for _, d := range deadLetters(t, w, oneHarness) {
		oneDead[strings.TrimPrefix(d.Key, oneHarness.prefix+":push:")] = d.LastError
	}
	if reason, ok := oneDead[farmBoth]; !ok || !strings.Contains(reason, "tin_code") {
		t.Errorf("ONe dead letter of %s: %q, want one naming tin_code (all: %v)", farmBoth, reason, oneDead)
	}
	if reason, ok := oneDead[noFarm]; !ok || !strings.Contains(reason, "phone") {
		t.Errorf("ONe dead letter of %s: %q, want one naming phone", noFarm, reason)
	}
	if reason, ok := oneDead[pl]; ok {
		t.Errorf("%s dead-lettered for ONe: %s", pl, reason)
	}
	for _, d := range deadLetters(t, w, capiHarness) {
		if k := strings.TrimPrefix(d.Key, capiHarness.prefix+":push:"); k == farmCAPI || k == farmBoth || k == noFarm {
			t.Errorf("%s dead-lettered for the Customer API: %s", k, d.LastError)
		}
	}
}

// TestAPlatformChangeIsNotBlockedByAnotherPlatformsRule: a UK farm flagged
// for both platforms whose tin code ONe refuses (dead-lettered for ONe)
// still takes a farm change made on the Customer API into the ERP: the
// ERP's write checks what the change brings, not the value the ERP holds.
func TestAPlatformChangeIsNotBlockedByAnotherPlatformsRule(t *testing.T) {
	var farm string
	w := newWorld(t, worldOpts{records: 20, seed: 5, platforms: []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI},
		configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupFarm, Owner: connector.OwnerPlatform}}
		},
		edit: func(recs []erpgen.Record) {
			for i := range recs {
				if r := &recs[i]; farm == "" && r.Value("holding_number") != "" && r.Invalid == "" {
					farm = r.Key
					r.Set("tin_code", "GR")
					r.SyncONe, r.SyncCustomerAPI = true, true
				}
			}
		}})
	if farm == "" {
		t.Fatal("no UK farm generated")
	}
	w.sync()
	w.sync()
	id := capiHarness.id(w, farm)
	if id == "" || oneHarness.id(w, farm) != "" {
		t.Fatalf("farm %s: Customer API id %q, ONe id %q; want only the Customer API", farm, id, oneHarness.id(w, farm))
	}
	editFarm(t, w, id)
	w.sync()
	w.sync()
	if got := w.get(farm).Customer.Farm.HoldingNumber; got != "99/888/7777" {
		t.Errorf("the farm change did not reach the ERP: holding %q\n%s", got, w.logLines())
	}
	for _, d := range deadLetters(t, w, capiHarness) {
		t.Errorf("Customer API dead letter %s: %s", d.Key, d.LastError)
	}
}
