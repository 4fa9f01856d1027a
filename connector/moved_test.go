package connector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/oneapi"
)

// renumber moves an ERP row to a new key, as an ERP does when it takes an
// inbound customer into its main numbering; copy instead leaves the old
// row and adds a second one with the same values (platform ids included).
func renumber(t *testing.T, w *world, from, to string, copy bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := w.tab.DB().BeginTx(ctx, nil) // one connection: the temporary table lives on it
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	tab, key, upd := sqlerp.DemoTable, erpgen.KeyColumn, erpgen.UpdatedAtColumn
	stmts := []string{fmt.Sprintf("UPDATE %s SET %s = ?, %s = ? WHERE %s = ?", tab, key, upd, key)}
	if copy {
		stmts = []string{
			fmt.Sprintf("CREATE TEMP TABLE moved AS SELECT * FROM %s WHERE %s = ?", tab, key),
			fmt.Sprintf("UPDATE moved SET %s = ?, %s = ?", key, upd),
			fmt.Sprintf("INSERT INTO %s SELECT * FROM moved", tab),
			"DROP TABLE moved",
		}
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000")
	args := [][]any{{to, now, from}}
	if copy {
		args = [][]any{{from}, {to, now}, nil, nil}
	}
	for i, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, args[i]...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestERPMovesCustomerToNewKey: the ERP renumbers a bound customer (the row
// keeps its platform id): the binding follows the new key, no second
// record is created, and the old key's absence removes nothing on the
// platform, even under the removing policy and a resync. When the ERP
// holds two rows linking one platform record, nothing is created: the
// record fails naming both keys.
func TestERPMovesCustomerToNewKey(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 10, configure: func(c *connector.Config) { h.policy(c, h.removePolicy, "") }})
		w.sync()
		valid := h.valid(w)
		moved, doubled := valid[0], valid[1]
		id := h.id(w, moved.Key)
		before := h.count(w)
		renumber(t, w, moved.Key, "N-"+moved.Key, false)
		w.sync()
		w.resync()
		w.sync()
		if got := h.id(w, "N-"+moved.Key); got != id {
			t.Fatalf("renumbered customer linked to %q, want %q\n%s", got, id, w.logLines())
		}
		if _, ok := h.record(w, id); !ok || h.count(w) != before {
			t.Fatalf("after the renumbering: record there %v, %d records, want %d\n%s", ok, h.count(w), before, w.logLines())
		}
		if !strings.Contains(w.logs.String(), "the ERP moved this customer to a new key") {
			t.Fatal("the move was not logged")
		}

		// Two ERP rows linking one record: no create, one dead letter naming both.
		doubledID := h.id(w, doubled.Key)
		renumber(t, w, doubled.Key, "D-"+doubled.Key, true)
		w.sync()
		if h.count(w) != before {
			t.Fatalf("%d records, want %d: a doubled ERP row created another\n%s", h.count(w), before, w.logLines())
		}
		var found bool
		for _, d := range deadLetters(t, w, h) {
			if strings.Contains(d.LastError, doubled.Key) && strings.Contains(d.LastError, "D-"+doubled.Key) && strings.Contains(d.LastError, doubledID) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no dead letter names both keys: %+v", deadLetters(t, w, h))
		}
	})
}

// clashingERP gives every new customer the key of an existing one (an ERP
// whose numbering collides), writing nothing.
type clashingERP struct {
	*countingERP
	key string
}

func (c *clashingERP) Upsert(ctx context.Context, cu mapping.Customer) (string, error) {
	if cu.ERPKey == "" {
		return c.key, nil
	}
	return c.countingERP.Upsert(ctx, cu)
}

// TestImportIntoTakenKeyRefused: a platform record taken in under a key
// that names a customer already bound to another record is refused with
// the reason; the bound customer keeps its record.
func TestImportIntoTakenKeyRefused(t *testing.T) {
	w := newWorld(t, worldOpts{records: 6, noStart: true})
	clash := &clashingERP{countingERP: w.erp}
	w.erpOverride = clash
	w.start()
	w.sync()
	h := oneHarness
	taken := h.firstValid(t, w).Key
	id := h.id(w, taken)
	clash.key = taken
	created, err := w.one.StorefrontCreate(tenant, oneapi.ContextApplication, storefrontRegistration)
	if err != nil {
		t.Fatal(err)
	}
	w.sync()
	if got := h.id(w, taken); got != id {
		t.Fatalf("customer %s now linked to %q, want its own %q", taken, got, id)
	}
	var refused bool
	for _, d := range deadLetters(t, w, h) {
		refused = refused || strings.Contains(d.Key, created.ClientID) && strings.Contains(d.LastError, "names a customer bound to another record")
	}
	if !refused {
		t.Fatalf("no dead letter for the clashing import: %+v", deadLetters(t, w, h))
	}
	st, _ := w.conn.Status(context.Background())
	if st.Bindings["one"] != len(h.valid(w)) {
		t.Fatalf("%d bindings, want %d", st.Bindings["one"], len(h.valid(w)))
	}
}
