package connector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/queue"
)

// The end-to-end scenarios, each run on every platform (forEach): the SQLite
// ERP, the platform's reference server on a real socket, the whole
// connector in-process.

// deadLetters returns the platform's dead letters.
func deadLetters(t *testing.T, w *world, h harness) []queue.Job {
	t.Helper()
	dead, _, err := w.conn.Store().DeadLetters(context.Background(), queue.DeadFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []queue.Job
	for _, d := range dead {
		if strings.HasPrefix(d.Key, h.prefix+":") {
			out = append(out, d)
		}
	}
	return out
}

// converged checks that two more cycles write nothing anywhere, and that
// the second reads no record again (the change source shows nothing new;
// the first may read back what the last writes changed).
func converged(t *testing.T, w *world, h harness) {
	t.Helper()
	h.faults(w).ResetCounts()
	erpWrites := w.erp.writes.Load()
	w.sync()
	fetched := h.fetches(w)
	w.sync()
	if n := h.writes(w); n != 0 {
		t.Fatalf("%d platform writes after convergence: %+v\n%s", n, h.faults(w).Counts(), w.logLines())
	}
	if n := h.fetches(w) - fetched; n != 0 {
		t.Fatalf("%d records read again in a quiet cycle: %+v", n, h.faults(w).Counts())
	}
	if n := w.erp.writes.Load() - erpWrites; n != 0 {
		t.Fatalf("%d ERP writes after convergence\n%s", n, w.logLines())
	}
}

// TestERPToPlatform covers create with write-back, invalid rows in the dead
// letters with their field reasons, an ERP update sent with only the writes
// it needs, zero writes once converged, and no secret in logs or status.
func TestERPToPlatform(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 40, invalidEvery: 6, kinds: []erpgen.Invalid{h.invalid}})
		w.sync()
		exactlyOnce(t, w, h)
		for _, r := range h.valid(w) {
			it := w.get(r.Key)
			got, _ := h.record(w, h.id(w, r.Key))
			if got.Name != it.Customer.Name {
				t.Fatalf("%s: name on the platform %q, ERP %q", r.Key, got.Name, it.Customer.Name)
			}
		}
		invalid := map[string]erpgen.Invalid{}
		for _, r := range w.recs {
			if h.wants(r) && !r.Deleted && r.Invalid != "" {
				invalid[r.Key] = r.Invalid
			}
		}
		dead := deadLetters(t, w, h)
		if len(dead) != len(invalid) || len(invalid) == 0 {
			t.Fatalf("%d dead letters, want %d", len(dead), len(invalid))
		}
		for _, d := range dead {
			key := strings.TrimPrefix(d.Key, h.prefix+":push:")
			if kind, ok := invalid[key]; !ok || !strings.Contains(d.LastError, kind.Field()) {
				t.Errorf("dead letter %s: reason %q does not name %s", key, d.LastError, kind.Field())
			}
			if h.id(w, key) != "" {
				t.Errorf("invalid customer %s got a platform id", key)
			}
		}

		// Converge (a first listing may take records in while they are being
		// created), then an update in the ERP reaches the platform with only
		// the writes it needs: the record's body (and a farm's business unit,
		// which carries the name too), not the finance data.
		w.sync()
		h.faults(w).ResetCounts()
		upd := h.firstValid(t, w)
		upd.Set("name", "Renamed Customer Holdings Ltd")
		w.clock = time.Now() // the connector's own ERP writes moved the change cursor
		w.put(upd)
		w.sync()
		want := int64(1)
		if h.platform == capiHarness.platform && upd.Value("holding_number") != "" {
			want = 2
		}
		if n := h.writes(w); n != want {
			t.Fatalf("%d writes for one rename, want %d: %+v", n, want, h.faults(w).Counts())
		}
		if got, _ := h.record(w, h.id(w, upd.Key)); got.Name != "Renamed Customer Holdings Ltd" {
			t.Fatalf("name on the platform %q", got.Name)
		}
		converged(t, w, h)

		st, err := w.conn.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Bindings[string(h.platform)] != len(h.valid(w)) {
			t.Fatalf("status bindings %+v, want %d for %s", st.Bindings, len(h.valid(w)), h.platform)
		}
		for _, s := range append(statusStrings(st), w.logs.String()) {
			if strings.Contains(s, apiKey) || strings.Contains(s, capiPass) {
				t.Fatal("a secret appears in the status or the logs")
			}
		}
		w.noContractProblems()
	})
}

// TestFieldOwnership: a platform change to an ERP-owned field is put back;
// to a platform-owned field it is taken into the ERP; either way the two
// sides then stay quiet.
func TestFieldOwnership(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		for _, owner := range []string{connector.OwnerERP, connector.OwnerPlatform} {
			t.Run("master_"+owner, func(t *testing.T) {
				w := h.world(t, worldOpts{records: 8, configure: func(c *connector.Config) {
					c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: owner}}
				}})
				w.sync()
				w.sync()
				r := h.firstValid(t, w)
				erpName := w.get(r.Key).Customer.Name
				id := h.id(w, r.Key)
				h.rename(w, id, "Changed On The Platform Ltd")
				w.sync()
				w.sync()
				wantName := erpName
				if owner == connector.OwnerPlatform {
					wantName = "Changed On The Platform Ltd"
				}
				if got := w.get(r.Key).Customer.Name; got != wantName {
					t.Fatalf("ERP name %q, want %q\n%s", got, wantName, w.logLines())
				}
				if got, _ := h.record(w, id); got.Name != wantName {
					t.Fatalf("platform name %q, want %q", got.Name, wantName)
				}
				if owner == connector.OwnerPlatform {
					// The customer's trail tells which fields came in.
					pulled := false
					for _, e := range traceOf(t, w, h, r.Key).History {
						pulled = pulled || e.Outcome == "pulled" && e.ID == id && strings.HasSuffix(e.Reason, "into the ERP: name")
					}
					if !pulled {
						t.Fatalf("no pulled event in the trail: %+v", traceOf(t, w, h, r.Key).History)
					}
				}
				converged(t, w, h)
			})
		}
	})
}

// TestPlatformOwnedFieldChangedInTheERP: an ERP change to a field the
// platform owns does not reach the platform; the platform's value comes
// back into the ERP, and the two sides then stay quiet.
func TestPlatformOwnedFieldChangedInTheERP(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 8, configure: func(c *connector.Config) {
			c.Ownership = []connector.Ownership{{Group: connector.GroupMaster, Owner: connector.OwnerPlatform}}
		}})
		w.sync()
		w.sync()
		r := h.firstValid(t, w)
		id := h.id(w, r.Key)
		platName := w.get(r.Key).Customer.Name
		r.Set("name", "Renamed In The ERP Ltd")
		w.clock = time.Now()
		w.put(r)
		w.sync()
		w.sync()
		if got, _ := h.record(w, id); got.Name != platName {
			t.Fatalf("an ERP change to a platform-owned field reached the platform: %q", got.Name)
		}
		if got := w.get(r.Key).Customer.Name; got != platName {
			t.Fatalf("the platform's value did not come back into the ERP: %q\n%s", got, w.logLines())
		}
		converged(t, w, h)
	})
}

// TestDeadLetterReplayAfterFix: a record our validation rejects and a
// record the platform refuses both go to the dead letters with their
// reasons; replayed unfixed they come back; fixed in the ERP and replayed
// (no scan in between), each is read again and delivered.
func TestDeadLetterReplayAfterFix(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		var bad, refused erpgen.Record
		w := h.world(t, worldOpts{records: 12, edit: func(recs []erpgen.Record) {
			for i := range recs {
				r := &recs[i]
				if !h.wants(*r) || r.Invalid != "" || r.Deleted {
					continue
				}
				switch {
				case bad.Key == "":
					bad = *r
				case refused.Key == "":
					h.refuse(r)
					refused = *r
				}
			}
		}})
		// Spoil the first with our validation's defect.
		spoiled := erpgen.New(erpgen.Options{Seed: 6, InvalidEvery: 1, Kinds: []erpgen.Invalid{h.invalid}}).Records(1)[0]
		spoiled.Key = bad.Key
		spoiled.SyncONe, spoiled.SyncCustomerAPI = bad.SyncONe, bad.SyncCustomerAPI
		uniqueOnPlatform([]erpgen.Record{spoiled})
		w.put(spoiled)
		w.sync()
		ctx := context.Background()
		dead := deadLetters(t, w, h)
		if len(dead) != 2 {
			t.Fatalf("dead letters %+v, want 2\n%s", dead, w.logLines())
		}
		// Replayed while still broken: back in the dead letters.
		if _, err := w.conn.Store().Replay(ctx, queue.DeadFilter{}); err != nil {
			t.Fatal(err)
		}
		w.idle()
		if dead = deadLetters(t, w, h); len(dead) != 2 || h.id(w, bad.Key) != "" || h.id(w, refused.Key) != "" {
			t.Fatalf("replay of unfixed records: dead %d", len(dead))
		}
		// Fixed in the ERP, then replayed with no scan in between.
		h.fix(&refused)
		w.put(bad, refused)
		if _, err := w.conn.Store().Replay(ctx, queue.DeadFilter{}); err != nil {
			t.Fatal(err)
		}
		w.idle()
		for _, k := range []string{bad.Key, refused.Key} {
			if h.id(w, k) == "" {
				t.Fatalf("replayed, fixed record %s not delivered\n%s", k, w.logLines())
			}
		}
		if dead = deadLetters(t, w, h); len(dead) != 0 {
			t.Fatalf("%d dead letters left: %+v", len(dead), dead)
		}
	})
}

// TestUnflagPolicy: a customer unflagged in the ERP is removed on the
// platform (ONe: deleted; the Customer API: deactivated) or only unbound;
// either way the ERP link goes and a later change writes nothing; flagged
// again, it is back on the platform as one record.
func TestUnflagPolicy(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		for _, policy := range []string{"unbind", h.removePolicy} {
			t.Run(policy, func(t *testing.T) {
				w := h.world(t, worldOpts{records: 6, configure: func(c *connector.Config) { h.policy(c, policy, "") }})
				w.sync()
				r := h.firstValid(t, w)
				id := h.id(w, r.Key)
				before := h.count(w)
				flag := func(v bool) {
					h.flag(&r, v)
					w.clock = time.Now()
					w.put(r)
					w.sync()
				}
				flag(false)
				_, still := h.record(w, id)
				if policy == h.removePolicy && (still || h.count(w) != before-1) {
					t.Fatalf("unflagged customer not removed (%s) on the platform: still %v, %d records, was %d\n%s", policy, still, h.count(w), before, w.logLines())
				}
				if policy == "unbind" && !still {
					t.Fatal("unbind policy removed the record")
				}
				if got := h.id(w, r.Key); got != "" {
					t.Fatalf("ERP still links %q", got)
				}
				h.faults(w).ResetCounts()
				r.Set("name", "Still Unflagged Ltd")
				w.clock = time.Now()
				w.put(r)
				w.sync()
				if n := h.writes(w); n != 0 {
					t.Fatalf("%d writes for an unflagged customer", n)
				}
				// Flagged again: the same record comes back (adopted, and made
				// active again where it was deactivated), never a second one.
				flag(true)
				if got := h.id(w, r.Key); got != id && policy != h.removePolicy {
					t.Fatalf("flagged again: bound to %q, want the record %q back\n%s", got, id, w.logLines())
				}
				if _, ok := h.record(w, h.id(w, r.Key)); !ok || h.count(w) != before {
					t.Fatalf("flagged again: record there %v, %d records, want %d\n%s", ok, h.count(w), before, w.logLines())
				}
				// Each step is logged with its ids and in the customer's trail.
				outcome := map[string]string{"unbind": "unbound", "delete": "deleted", "deactivate": "deactivated"}[policy]
				successLine(t, w, h, "the ERP no longer sends the customer; "+outcome, r.Key, id, r)
				if policy == "unbind" {
					successLine(t, w, h, "adopted on the platform", r.Key, id, r)
					p := traceOf(t, w, h, r.Key)
					if got := outcomes(p); len(got) != 3 || got[0] != "created" || got[1] != "unbound" || got[2] != "adopted" ||
						!strings.Contains(p.History[2].Reason, "before it was unflagged") || p.PlatformID != id {
						t.Fatalf("trail after unbind and flag: %+v", p)
					}
				}
			})
		}
	})
}

// TestHardDeletedRowNotResurrected: an ERP row deleted outright (no deleted
// column) follows the unflag policy, whether a platform change or the
// resync finds it first, and is never created again from the platform side.
func TestHardDeletedRowNotResurrected(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		for _, policy := range []string{"unbind", h.removePolicy} {
			t.Run(policy, func(t *testing.T) {
				w := h.world(t, worldOpts{records: 10, configure: func(c *connector.Config) { h.policy(c, policy, "") }})
				w.sync()
				valid := h.valid(w)
				if len(valid) < 2 {
					t.Fatal("too few valid records")
				}
				byChange, byResync := valid[0], valid[1]
				idChange, idResync := h.id(w, byChange.Key), h.id(w, byResync.Key)
				w.hardDelete(byChange.Key)
				w.hardDelete(byResync.Key)
				rows := w.rows()

				// A platform change to the first one reaches the connector; the
				// resync finds the second.
				h.rename(w, idChange, "Renamed After The ERP Deleted It")
				w.sync()
				w.resync()
				for _, id := range []string{idChange, idResync} {
					_, there := h.record(w, id)
					if there != (policy == "unbind") {
						t.Fatalf("record %s on the platform: %v, under policy %s\n%s", id, there, policy, w.logLines())
					}
				}
				st, _ := w.conn.Status(context.Background())
				if got := st.Bindings[string(h.platform)]; got != len(valid)-2 {
					t.Fatalf("%d bindings, want %d", got, len(valid)-2)
				}
				// More platform changes, syncs and a resync: nothing comes back.
				if policy == "unbind" {
					h.rename(w, idChange, "Renamed Again")
					h.rename(w, idResync, "Renamed Too")
				}
				w.sync()
				w.resync()
				if after := w.rows(); after != rows {
					t.Fatalf("%d ERP rows, was %d: a deleted customer came back\n%s", after, rows, w.logLines())
				}
				for _, k := range []string{byChange.Key, byResync.Key} {
					if _, err := w.tab.Get(context.Background(), k); err == nil {
						t.Fatalf("the hard-deleted ERP row %s came back", k)
					}
				}
			})
		}
	})
}

// TestStateLost: after the state file is lost, the connector takes back
// the records the ERP links instead of creating them again, and writes
// nothing where the platform already agrees.
func TestStateLost(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 10})
		w.sync()
		w.sync()
		before := h.count(w)
		w.stop()
		w.cfg.StatePath = w.cfg.StatePath + ".fresh"
		w.start()
		h.faults(w).ResetCounts()
		erpWrites := w.erp.writes.Load()
		w.sync()
		w.sync()
		if n := h.writes(w); n != 0 {
			t.Fatalf("%d platform writes after the state was lost: %+v\n%s", n, h.faults(w).Counts(), w.logLines())
		}
		if n := w.erp.writes.Load() - erpWrites; n != 0 {
			t.Fatalf("%d ERP writes after the state was lost", n)
		}
		if got := h.count(w); got != before {
			t.Fatalf("%d records, was %d", got, before)
		}
		st, err := w.conn.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Bindings[string(h.platform)]; got != len(h.valid(w)) {
			t.Fatalf("%d bindings rebuilt, want %d", got, len(h.valid(w)))
		}
	})
}

// TestScheduleNextRuns: each run reports its own next time.
func TestScheduleNextRuns(t *testing.T) {
	w := newWorld(t, worldOpts{configure: func(c *connectorConfig) {
		// Listed in the opposite order of their next times.
		c.Schedules = connector.Schedules{NewCustomers: "0 0 0 1 3 *", Updates: "0 0 0 1 2 *", Feed: "0 0 0 1 1 *", TimeZone: "UTC"}
	}})
	next := w.conn.NextRuns()
	for run, month := range map[string]time.Month{"new_customers": time.March, "updates": time.February, "feed": time.January} {
		if got := next[run]; got.Month() != month || got.Day() != 1 {
			t.Errorf("%s next run %v, want the 1st of %v", run, got, month)
		}
	}
	if _, ok := next["resync"]; ok {
		t.Error("a run without a schedule has a next time")
	}
}
