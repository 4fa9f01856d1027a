package connector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// harness is what the end-to-end suite needs to know of one platform to
// run the same scenarios on each: how to read, count and change its
// records as a platform user would, and the names of its operations.
type harness struct {
	name     string
	platform mapping.Platform
	// prefix starts the platform's job keys ("one:push:…").
	prefix string
	// createOp is the operation that creates a record.
	createOp string
	// removePolicy is the unflag policy that removes the record (delete or
	// deactivate).
	removePolicy string
	// invalid is a defect our validation rejects for this platform.
	invalid erpgen.Invalid
	// refuse changes a valid record so that the platform refuses it (our
	// validation does not); fix undoes that.
	refuse, fix func(r *erpgen.Record)
	// wants reports whether a generated record is flagged for the platform.
	wants func(r erpgen.Record) bool
	// faults is the platform's fault injector and counters.
	faults func(w *world) *fault.Injector
	// writes counts the write operations the platform received.
	writes func(w *world) int64
	// count counts the active records the connector may have created (the
	// connector's own Customer API organisation left out).
	count func(w *world) int
	// record reads a record as canonical data (ok false when it is gone or
	// deactivated).
	record func(w *world, id string) (mapping.Customer, bool)
	// rename renames a record as a platform user would.
	rename func(w *world, id, name string)
	// remove deletes a record as the platform's administrator would.
	remove func(w *world, id string)
	// policy sets the platform's unflag and delete policies.
	policy func(c *connector.Config, onUnflag, onDelete string)
	// fetchOps are the read operations of fetching one record.
	fetchOps []string
	// changesOp is the operation the change source reads (the feed, the
	// listing).
	changesOp string
	// listOp is the operation of the platform's listing (the resync's
	// platform walk).
	listOp string
}

// flag sets the record's flag for the platform (and the other platform's
// flag the other way, so the ERP's change scan still returns the row).
func (h harness) flag(r *erpgen.Record, v bool) {
	if h.platform == mapping.PlatformONe {
		r.SyncONe, r.SyncCustomerAPI = v, !v
	} else {
		r.SyncCustomerAPI, r.SyncONe = v, !v
	}
}

func (h harness) id(w *world, key string) string {
	return w.get(key).Customer.PlatformIDs.Get(h.platform)
}

// valid returns the generated records that should reach the platform.
func (h harness) valid(w *world) []erpgen.Record {
	var out []erpgen.Record
	for _, r := range w.recs {
		if h.wants(r) && !r.Deleted && r.Invalid == "" {
			out = append(out, r)
		}
	}
	return out
}

func (h harness) validKeys(w *world) map[string]bool {
	out := map[string]bool{}
	for _, r := range h.valid(w) {
		out[r.Key] = true
	}
	return out
}

// world starts a world configured for this platform only.
func (h harness) world(t *testing.T, o worldOpts) *world {
	t.Helper()
	o.platforms = []mapping.Platform{h.platform}
	return newWorld(t, o)
}

// fetches counts the reads of single records the platform answered.
func (h harness) fetches(w *world) int64 {
	var n int64
	c := h.faults(w).Counts()
	for _, op := range h.fetchOps {
		n += c[op].Total
	}
	return n
}

var oneHarness = harness{
	name: "one", platform: mapping.PlatformONe, prefix: "one", createOp: "createClient", removePolicy: "delete",
	invalid: erpgen.BadEmail,
	refuse:  func(r *erpgen.Record) { r.Set("account_manager", "no-such-manager") },
	fix:     func(r *erpgen.Record) { r.Set("account_manager", "4e37e1e") },
	wants:   func(r erpgen.Record) bool { return r.SyncONe },
	faults:  func(w *world) *fault.Injector { return w.one.Faults() },
	writes:  func(w *world) int64 { return w.writes() },
	count:   func(w *world) int { return w.one.ClientCount(tenant) },
	record: func(w *world, id string) (mapping.Customer, bool) {
		cl, ok := w.one.Client(tenant, id)
		if !ok {
			return mapping.Customer{}, false
		}
		return mapping.FromONe(cl), true
	},
	rename: func(w *world, id, name string) {
		w.t.Helper()
		cl, _ := w.one.Client(tenant, id)
		wr := mapping.ToONeWrite(mapping.FromONe(cl))
		wr.Name = name
		if err := w.one.StorefrontUpdate(tenant, oneapi.ContextBackoffice, id, wr); err != nil {
			w.t.Fatal(err)
		}
	},
	remove: func(w *world, id string) {
		w.t.Helper()
		if err := w.one.StorefrontDelete(tenant, oneapi.ContextBackoffice, id); err != nil {
			w.t.Fatal(err)
		}
	},
	policy: func(c *connector.Config, onUnflag, onDelete string) {
		c.ONe.OnUnflag, c.ONe.OnDelete = onUnflag, onDelete
	},
	fetchOps:  []string{"getClient"},
	changesOp: "getClientSyncFeed",
	listOp:    "listClients",
}

var capiHarness = harness{
	name: "customerapi", platform: mapping.PlatformCustomerAPI, prefix: "capi", createOp: "createOrganisation",
	removePolicy: "deactivate", invalid: erpgen.BadISO2,
	// The platform refuses a second user with the same e-mail; our
	// validation cannot know that address is taken.
	refuse: func(r *erpgen.Record) { r.Set("admin_email", capiUser) },
	fix:    func(r *erpgen.Record) { r.Set("admin_email", strings.ToLower(r.Key)+"@owners.example.co.uk") },
	wants:  func(r erpgen.Record) bool { return r.SyncCustomerAPI },
	faults: func(w *world) *fault.Injector { return w.srv.Faults() },
	writes: func(w *world) int64 { return w.capiWrites() },
	count: func(w *world) int {
		own := w.srv.OrganisationID(capiUser)
		n := 0
		for _, o := range organisations(w) {
			if o.ID != own && !strings.EqualFold(o.Status, "inactive") {
				n++
			}
		}
		return n
	},
	record: func(w *world, id string) (mapping.Customer, bool) {
		org, err := w.cl.GetOrganisation(context.Background(), id)
		if err != nil || strings.EqualFold(org.Status, "inactive") {
			return mapping.Customer{}, false
		}
		units, err := w.cl.BusinessUnits(context.Background(), id, nil)
		if err != nil {
			w.t.Fatal(err)
		}
		return mapping.FromCustomerAPI(*org, mapping.FarmBusinessUnit(units.BusinessUnits, org.Name)), true
	},
	rename: func(w *world, id, name string) {
		w.t.Helper()
		if _, err := w.cl.UpdateOrganisation(context.Background(), id, customerapi.UpdateOrganisationRequest{Name: &name}); err != nil {
			w.t.Fatal(err)
		}
	},
	remove: func(w *world, id string) {
		w.t.Helper()
		if err := w.srv.DeleteOrganisation(id); err != nil {
			w.t.Fatal(err)
		}
	},
	policy: func(c *connector.Config, onUnflag, onDelete string) {
		c.CustomerAPI.OnUnflag, c.CustomerAPI.OnDelete = onUnflag, onDelete
	},
	fetchOps:  []string{"getOrganisation", "getOrganisationBusinessUnits"},
	changesOp: "listOrganisations",
	listOp:    "listOrganisations",
}

// harnesses are the platforms every scenario runs on.
var harnesses = []harness{oneHarness, capiHarness}

// forEach runs a scenario as a subtest per platform.
func forEach(t *testing.T, scenario func(t *testing.T, h harness)) {
	for _, h := range harnesses {
		t.Run(h.name, func(t *testing.T) { scenario(t, h) })
	}
}

// organisations lists every organisation the connector's user can see.
func organisations(w *world) []customerapi.Organisation {
	w.t.Helper()
	var out []customerapi.Organisation
	for o, err := range w.cl.AllOrganisations(context.Background(), customerapi.OrganisationQuery{Limit: 100}) {
		if err != nil {
			w.t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// exactlyOnce checks the platform holds exactly one record per flagged
// valid ERP customer, each written back.
func exactlyOnce(t *testing.T, w *world, h harness) {
	t.Helper()
	want := h.validKeys(w)
	ids := map[string]bool{}
	for k := range want {
		id := h.id(w, k)
		if id == "" {
			t.Errorf("%s: %s id not written back", k, h.name)
			continue
		}
		if ids[id] {
			t.Errorf("%s: id %s written back to two customers", k, id)
		}
		ids[id] = true
		if _, ok := h.record(w, id); !ok {
			t.Errorf("%s: record %s missing on %s", k, id, h.name)
		}
	}
	if got := h.count(w); got != len(want) {
		t.Errorf("%d records on %s, want %d (one per valid customer)", got, h.name, len(want))
	}
}

// firstValid returns the key of the first record that should reach the platform.
func (h harness) firstValid(t *testing.T, w *world) erpgen.Record {
	t.Helper()
	v := h.valid(w)
	if len(v) == 0 {
		t.Fatalf("no valid %s records generated", h.name)
	}
	return v[0]
}
