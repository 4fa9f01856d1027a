package connector_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
)

// A resync with nothing changed reads listing pages and ERP pages only: what
// the connector creates or updates is remembered as the platform's listing
// will show it, so no record is read one by one to find out it is unchanged.
// A change made on the platform afterwards is still seen and taken in.

// TestResyncAfterMigrationReadsNoRecord: right after a migration, and again
// in steady state, a resync fetches no record and queues nothing; a record
// renamed on the platform afterwards is the one resync pull, and once it is
// repaired a resync is quiet again.
func TestResyncAfterMigrationReadsNoRecord(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 40})
		w.sync() // the migration: every flagged customer created
		valid := h.valid(w)
		if len(valid) < 10 {
			t.Fatalf("only %d valid customers", len(valid))
		}
		// ONe answers a create with ids only: what it fills in on a new
		// client (its payer, an account manager) is read back once.
		if n, most := h.fetches(w), map[string]int64{"one": 2}[h.name]; n > most {
			t.Fatalf("the migration read %d records one by one, want at most %d: %+v\n%s", n, most, h.faults(w).Counts(), w.logLines())
		}
		exactlyOnce(t, w, h)
		quiet := func(when string, enriched bool) {
			t.Helper()
			h.faults(w).ResetCounts()
			w.erp.mapped.Store(0)
			w.erp.known.Store(0)
			rep := w.resync(h.platform)
			// Every customer on the platform maps to what it holds
			// (Binding.RowHash, kept by the creates): none is mapped again;
			// only the rows not for this platform (unflagged, invalid) are.
			// Right after a Customer API migration the certificate
			// enrichment may have written to any of the rows since their
			// create: those are mapped once.
			m, k := w.erp.mapped.Load(), w.erp.known.Load()
			some := enriched && h.platform == capiHarness.platform
			if some && m+k != int64(rep.ERPRecords) || !some && (k != int64(len(valid)) || m+k != int64(rep.ERPRecords)) {
				t.Fatalf("%s: of %d ERP rows the resync mapped %d and left %d known, want %d known\n%s",
					when, rep.ERPRecords, m, k, len(valid), w.logLines())
			}
			if rep.PlatformRecords < len(valid) {
				t.Fatalf("%s: the resync listed %d records, want at least %d", when, rep.PlatformRecords, len(valid))
			}
			if rep.Queued != 0 || h.fetches(w) != 0 {
				t.Fatalf("%s: a resync with nothing changed queued %d jobs and fetched %d records: %+v\n%s",
					when, rep.Queued, h.fetches(w), h.faults(w).Counts(), w.logLines())
			}
			if n := h.writes(w); n != 0 {
				t.Fatalf("%s: a resync with nothing changed wrote %d times", when, n)
			}
		}
		quiet("after the migration", true)
		quiet("in steady state", false)

		// Renamed on the platform, the change source left out: the resync
		// pulls that one record and puts the ERP's name back.
		r := valid[len(valid)/2]
		id := h.id(w, r.Key)
		h.rename(w, id, "Renamed On The Platform Ltd")
		if h.platform == oneHarness.platform {
			skipFeed(t, w)
		}
		h.faults(w).ResetCounts()
		rep := w.resync(h.platform)
		// The pull, and the push the ERP walk may find once the pull took
		// the platform's view in (it is the same push the pull asks for).
		if rep.Queued < 1 || rep.Queued > 2 {
			t.Fatalf("a resync after one rename queued %d jobs, want the one pull\n%s", rep.Queued, w.logLines())
		}
		// One record read: by its pull, and before the full write that
		// repairs it.
		if got, want := h.fetches(w), int64(2*len(h.fetchOps)); got != want {
			t.Fatalf("a resync after one rename read %d times, want %d: %+v", got, want, h.faults(w).Counts())
		}
		if got, _ := h.record(w, id); got.Name != w.get(r.Key).Customer.Name {
			t.Fatalf("the rename was not repaired: platform %q, ERP %q", got.Name, w.get(r.Key).Customer.Name)
		}
		quiet("after the repair", false)
	})
}

// TestPlatformChangeAfterCreateIsTakenIn: a rename on the platform right
// after the connector created the record reaches the ERP through the live
// change source (ONe's feed, the Customer API's listing) and, with that
// source left out, through a resync.
func TestPlatformChangeAfterCreateIsTakenIn(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 12, configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: connector.OwnerPlatform}}
		}})
		w.sync()
		valid := h.valid(w)
		live, resynced := valid[0], valid[1]
		h.rename(w, h.id(w, live.Key), "Renamed Live Ltd")
		w.sync()
		if got := w.get(live.Key).Customer.Name; got != "Renamed Live Ltd" {
			t.Fatalf("the live change source missed a rename after the create: ERP name %q\n%s", got, w.logLines())
		}
		h.rename(w, h.id(w, resynced.Key), "Renamed Resynced Ltd")
		if h.platform == oneHarness.platform {
			skipFeed(t, w)
		}
		w.resync(h.platform)
		if got := w.get(resynced.Key).Customer.Name; got != "Renamed Resynced Ltd" {
			t.Fatalf("the resync missed a rename after the create: ERP name %q\n%s", got, w.logLines())
		}
		converged(t, w, h)
	})
}

// TestCustomerAPIFarmEditAfterCreateIsTakenIn: a farm's business edited on
// the platform after the connector created it reaches the ERP (the platform
// owns the farm group), through the live listing walk (reading that one
// record) and through a resync.
func TestCustomerAPIFarmEditAfterCreateIsTakenIn(t *testing.T) {
	w := capiHarness.world(t, worldOpts{records: 12, configure: func(c *connector.Config) {
		c.Ownership = []connector.Ownership{{Group: connector.GroupFarm, Owner: connector.OwnerPlatform}}
	}})
	w.sync() // the migration
	capiHarness.faults(w).ResetCounts()
	w.sync() // certificates reach the ERP; the listing finds every record unchanged
	if n := capiHarness.fetches(w); n != 0 {
		t.Fatalf("a sync after the migration read %d records one by one", n)
	}
	r := firstFarm(t, w)
	id := capiHarness.id(w, r.Key)
	editFarm(t, w, id)
	capiHarness.faults(w).ResetCounts()
	w.sync()
	if got := w.get(r.Key).Customer.Farm; got.HoldingNumber != "99/888/7777" || got.SQCNumber != "SQC55555" {
		t.Fatalf("the live listing missed the farm edit: %+v\n%s", got, w.logLines())
	}
	if n := capiHarness.fetches(w); n != 2 {
		t.Fatalf("the live listing read %d times after one farm edit, want the one record's two reads: %+v", n, capiHarness.faults(w).Counts())
	}

	holding(t, w, id, "12/345/6789")
	capiHarness.faults(w).ResetCounts()
	w.resync(capiHarness.platform)
	if got := w.get(r.Key).Customer.Farm.HoldingNumber; got != "12/345/6789" {
		t.Fatalf("the resync missed the farm edit: %q\n%s", got, w.logLines())
	}
	// The pull reads the record; the ERP walk may read the ERP before the
	// pull took the edit in and push that copy (a read first, and the
	// platform's own values carried over and taken in again: two reads).
	if n := capiHarness.fetches(w); n < 2 || n > 6 {
		t.Fatalf("a resync after one farm edit read %d times, want one record's reads: %+v", n, capiHarness.faults(w).Counts())
	}
	converged(t, w, capiHarness)
}

// holding sets the holding number of an organisation's farm on the platform.
func holding(t *testing.T, w *world, orgID, number string) {
	t.Helper()
	farms := farmsOf(w, orgID)
	if len(farms) != 1 {
		t.Fatalf("%d farms", len(farms))
	}
	in := customerapi.BusinessInput{HoldingNumber: number}
	if _, err := w.cl.UpdateBusinessUnit(context.Background(), farms[0].ID, customerapi.UpdateBusinessUnitRequest{Business: &in}); err != nil {
		t.Fatal(err)
	}
}

// TestLostCreatesResyncQuietly: every create commits on the platform and
// loses its answer; the records are found and adopted (each read once
// then), and a resync afterwards reads none of them.
func TestLostCreatesResyncQuietly(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 16, noStart: true, configure: func(c *connector.Config) {
			// Every create fails alike: let the breaker probe again quickly.
			if c.ONe != nil {
				c.ONe.Upstream.BreakerOpen = 50 * time.Millisecond
			}
			if c.CustomerAPI != nil {
				c.CustomerAPI.Upstream.BreakerOpen = 50 * time.Millisecond
			}
		}})
		n := len(h.valid(w))
		if _, err := h.faults(w).Add(fault.Rule{Operation: h.createOp, DropAfterCommit: true, Count: n}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.sync()
		exactlyOnce(t, w, h)
		if got := h.faults(w).Counts()[h.createOp].ByStatus[0]; got != int64(n) {
			t.Fatalf("%d creates lost their answer, want %d", got, n)
		}
		h.faults(w).ResetCounts()
		if rep := w.resync(h.platform); rep.Queued != 0 || h.fetches(w) != 0 {
			t.Fatalf("a resync after the adoptions queued %d jobs and read %d records: %+v\n%s",
				rep.Queued, h.fetches(w), h.faults(w).Counts(), w.logLines())
		}
	})
}

// TestScansLeaveUnchangedRowsUnmapped: an ERP change scan maps only the
// rows it may have something to do for. Rows whose change cursor moved
// with nothing else changed are read, but the new-customer scan maps only
// the rows not bound to the platform and the update scan none (their row
// hash says they map to what the platform holds): nothing is queued or
// written. A row renamed afterwards is mapped and its update sent.
func TestScansLeaveUnchangedRowsUnmapped(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 40})
		w.sync() // the migration
		// Rows the connector wrote to (ids, certificates) settle: until a
		// sync writes nothing to the ERP, the next scans read them again
		// (under load a certificate look-up can land a pass later).
		for i := 0; ; i++ {
			before := w.erp.writes.Load()
			w.sync()
			if w.erp.writes.Load() == before {
				break
			}
			if i == 5 {
				t.Fatal("six syncs in a row wrote to the ERP")
			}
		}
		valid := h.valid(w)
		exactlyOnce(t, w, h)
		ctx := context.Background()
		touch := func(set string, args ...any) {
			t.Helper()
			w.clock = w.clock.Add(time.Minute)
			if now := time.Now(); now.After(w.clock) {
				w.clock = now
			}
			args = append([]any{w.clock.UTC()}, args...)
			q := fmt.Sprintf("UPDATE %s SET %s = ?%s", sqlerp.DemoTable, erpgen.UpdatedAtColumn, set)
			if _, err := w.tab.DB().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		touch("") // every row's cursor moves; nothing else changes
		w.erp.changesMapped.Store(0)
		w.erp.changesKnown.Store(0)
		writes := h.writes(w)
		w.sync()
		rows := int64(w.rows())
		if m, k := w.erp.changesMapped.Load(), w.erp.changesKnown.Load(); m != rows-int64(len(valid)) || m+k != 2*rows {
			t.Fatalf("the scans mapped %d rows and left %d of %d (%d bound): want the %d unbound ones mapped once\n%s",
				m, k, 2*rows, len(valid), rows-int64(len(valid)), w.logLines())
		}
		if n := h.writes(w) - writes; n != 0 {
			t.Fatalf("a sync of touched rows wrote %d times", n)
		}
		st, err := w.conn.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Queue.Dead != 0 {
			t.Fatalf("dead letters after the sync: %+v", st.Queue)
		}

		// A renamed row is mapped by the update scan and sent.
		r := valid[len(valid)/2]
		touch(", name = ? WHERE "+erpgen.KeyColumn+" = ?", "Renamed In The ERP Ltd", r.Key)
		w.erp.changesMapped.Store(0)
		w.sync()
		if m := w.erp.changesMapped.Load(); m != 1 {
			t.Fatalf("the scans mapped %d rows after one was renamed, want 1 (the update scan's)", m)
		}
		if c, ok := h.record(w, h.id(w, r.Key)); !ok || c.Name != "Renamed In The ERP Ltd" {
			t.Fatalf("the renamed row did not reach the platform: %+v", c)
		}
	})
}
