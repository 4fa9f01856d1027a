package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// traceOf reads the trail of key on the harness's platform.
func traceOf(t *testing.T, w *world, h harness, key string) connector.PlatformTrace {
	t.Helper()
	tr, err := w.conn.Trace(context.Background(), key)
	if err != nil {
		t.Fatalf("trace %s: %v", key, err)
	}
	for _, p := range tr.Platforms {
		if p.Platform == h.platform {
			return p
		}
	}
	t.Fatalf("trace %s: no %s entry: %+v", key, h.name, tr)
	return connector.PlatformTrace{}
}

func outcomes(p connector.PlatformTrace) []string {
	var out []string
	for _, e := range p.History {
		out = append(out, e.Outcome)
	}
	return out
}

// TestTraceTellsWhatHappened: after a create, an update, a refusal and an
// unflag, the trail of the record shows them in order with their reasons,
// its binding with the times of the last push, its dead letter while it
// lasts, and the tombstone once unbound; the state file tells the same
// with the connector stopped. An unknown key has no record.
func TestTraceTellsWhatHappened(t *testing.T) {
	forEach(t, func(t *testing.T, h harness) {
		w := h.world(t, worldOpts{records: 8, configure: func(c *connector.Config) { h.policy(c, h.removePolicy, "") }})
		w.sync()
		r := h.firstValid(t, w)
		id := h.id(w, r.Key)
		p := traceOf(t, w, h, r.Key)
		if !p.Bound || p.PlatformID != id || !p.Configured || p.PushedHash == "" || p.PushedAt.IsZero() || p.Version == 0 {
			t.Fatalf("after the create: %+v", p)
		}
		if got := outcomes(p); len(got) != 1 || got[0] != "created" || p.History[0].ID != id {
			t.Fatalf("history after the create: %+v", p.History)
		}
		if h.platform == mapping.PlatformCustomerAPI && p.ExtraIDs["businessUnitId"] == "" {
			t.Errorf("the farm business unit id is missing: %+v", p.ExtraIDs)
		}
		created := p.PushedAt

		r.Set("name", "Traced And Renamed "+r.Key+" Ltd")
		w.put(r)
		w.sync()
		p = traceOf(t, w, h, r.Key)
		if got := outcomes(p); len(got) != 2 || got[1] != "updated" {
			t.Fatalf("history after the update: %+v", p.History)
		}
		if !p.PushedAt.After(created) && !p.PushedAt.Equal(created) {
			t.Errorf("pushed at %v, before the create at %v", p.PushedAt, created)
		}

		// A defect the connector's checks refuse for this platform.
		refused := erpgen.New(erpgen.Options{Seed: 6, InvalidEvery: 1, Kinds: []erpgen.Invalid{h.invalid}}).Records(1)[0]
		refused.Key, refused.SyncONe, refused.SyncCustomerAPI = r.Key, r.SyncONe, r.SyncCustomerAPI
		uniqueOnPlatform([]erpgen.Record{refused})
		w.put(refused)
		w.sync()
		p = traceOf(t, w, h, r.Key)
		// The refusal follows the create and the update (a forced pull of
		// what the platform holds in fields the defect emptied may follow
		// it: the ERP takes it, since it brings no problem of its own).
		got := outcomes(p)
		refusal := slices.Index(got, "refused")
		if len(got) < 3 || got[0] != "created" || got[1] != "updated" || refusal < 2 || slices.ContainsFunc(got[refusal+1:], func(o string) bool { return o != "pulled" }) {
			t.Fatalf("history after the refusal: %+v", p.History)
		}
		// The record's push dead letter (a forced pull of a platform-owned
		// field the defect touched may fail on the row too: keyed by the
		// platform record, it is not the ERP key's).
		var dead []queue.Job
		for _, j := range deadLetters(t, w, h) {
			if strings.HasSuffix(j.Key, ":push:"+r.Key) {
				dead = append(dead, j)
			}
		}
		// The trace shows it (and, if there is one, the pull's: the
		// record's dead letters are all of its keys').
		pushDead := slices.IndexFunc(p.DeadLetters, func(d connector.DeadLetter) bool { return len(dead) == 1 && d.ID == dead[0].ID })
		if len(dead) != 1 || pushDead < 0 {
			t.Fatalf("trace dead letters %+v, queue's %+v", p.DeadLetters, dead)
		}
		if reason := p.History[refusal].Reason; reason == "" || reason != strings.TrimSpace(reason) ||
			!strings.Contains(dead[0].LastError, reason[:min(len(reason), 40)]) {
			t.Errorf("refusal reason %q, dead letter's %q", reason, dead[0].LastError)
		}
		if d := p.DeadLetters[pushDead]; len(d.History) == 0 || d.Payload != nil {
			t.Errorf("dead letter in the trace: %+v (want its history, not its payload)", d)
		}

		h.flag(&r, false)
		w.put(r)
		w.sync()
		p = traceOf(t, w, h, r.Key)
		got = outcomes(p)
		if last := got[len(got)-1]; p.Bound || p.UnboundID != id || last != map[string]string{"delete": "deleted", "deactivate": "deactivated"}[h.removePolicy] {
			t.Fatalf("after the unflag: bound %v, unbound id %q, history %v", p.Bound, p.UnboundID, got)
		}
		if _, err := w.conn.Trace(context.Background(), "NO-SUCH-KEY"); !errors.Is(err, connector.ErrNoRecord) {
			t.Fatalf("unknown key: err = %v", err)
		}

		// The state file tells the same with the connector stopped (the ERP
		// is not opened).
		w.stop()
		tr, err := connector.TraceFile(context.Background(), w.cfg.StatePath, r.Key, []mapping.Platform{h.platform}, time.Second)
		if err != nil || len(tr.Platforms) != 1 || len(tr.Platforms[0].History) != len(p.History) {
			t.Fatalf("trace from the file: %+v, %v", tr, err)
		}
		if _, err := connector.TraceFile(context.Background(), filepath.Join(t.TempDir(), "none.db"), r.Key, nil, time.Second); !errors.Is(err, connector.ErrNoRecord) {
			t.Fatalf("missing state file: err = %v", err)
		}
		successLinesCarryIDsOnly(t, w, h, r, refused)
	})
}

// successLinesCarryIDsOnly: every create, update, adopt and removal is an
// info line with the platform, the ERP key and the platform id, and none
// carries the customer's name, e-mail or phone.
func successLinesCarryIDsOnly(t *testing.T, w *world, h harness, r erpgen.Record, more ...erpgen.Record) {
	t.Helper()
	want := map[string]bool{"created on the platform": false, "updated on the platform": false,
		"the ERP no longer sends the customer; " + map[string]string{"delete": "deleted", "deactivate": "deactivated"}[h.removePolicy]: false}
	success := map[string]bool{"adopted on the platform": true}
	for m := range want {
		success[m] = true
	}
	personal := personalData(w, append(more, r)...)
	for _, line := range strings.Split(w.logs.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		msg, _ := e["msg"].(string)
		if !success[msg] {
			continue
		}
		if e["level"] != "INFO" || e["platform"] != string(h.platform) || e["erp_key"] == "" || e["erp_key"] == nil || e["platform_id"] == "" || e["platform_id"] == nil {
			t.Errorf("success line without its level, platform, key or id: %s", line)
		}
		if e["erp_key"] == r.Key {
			want[msg] = true
		}
		for _, v := range personal {
			if strings.Contains(line, v) {
				t.Errorf("success line carries personal data %q: %s", v, line)
			}
		}
	}
	for m, seen := range want {
		if !seen {
			t.Errorf("no %q line for %s", m, r.Key)
		}
	}
}

// personalData are the names, e-mails and phones of the world's records
// and of more.
func personalData(w *world, more ...erpgen.Record) []string {
	var out []string
	for _, rec := range append(more, w.recs...) {
		for _, col := range []string{"name", "email", "phone", "admin_name", "admin_email", "admin_phone"} {
			if v := rec.Value(col); len(v) > 3 {
				out = append(out, v)
			}
		}
	}
	return out
}

// successLine checks the log holds an info line msg for key on the
// harness's platform naming the platform id, and no personal data.
func successLine(t *testing.T, w *world, h harness, msg, key, id string, more ...erpgen.Record) {
	t.Helper()
	for _, line := range strings.Split(w.logs.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["msg"] != msg || e["erp_key"] != key {
			continue
		}
		if e["level"] != "INFO" || e["platform"] != string(h.platform) || e["platform_id"] != id {
			t.Errorf("%q line without its level, platform or platform id %s: %s", msg, id, line)
		}
		for _, v := range personalData(w, more...) {
			if strings.Contains(line, v) {
				t.Errorf("%q line carries personal data %q: %s", msg, v, line)
			}
		}
		return
	}
	t.Errorf("no %q line for %s\n%s", msg, key, w.logLines())
}

// TestTraceFileShowsQueuedWork: a job waiting for the customer and a
// platform id waiting to be written back are in its trail.
func TestTraceFileShowsQueuedWork(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx *state.Tx) error {
		if err := tx.Enqueue(queue.Job{Type: "capi.push", Key: "capi:push:K1", Payload: []byte(`{"op":"reread"}`)}); err != nil {
			return err
		}
		return tx.PutWriteBack(mapping.PlatformCustomerAPI, "K1", "org-1")
	}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	tr, err := connector.TraceFile(ctx, path, "K1", []mapping.Platform{mapping.PlatformONe}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// ONe is configured (shown, with nothing); the Customer API is not,
	// but holds something of K1.
	if len(tr.Platforms) != 2 || !tr.Platforms[0].Configured || tr.Platforms[0].Bound || tr.Platforms[1].Configured {
		t.Fatalf("platforms: %+v", tr.Platforms)
	}
	p := tr.Platforms[1]
	if p.WriteBack != "org-1" || len(p.Queued) != 1 || p.Queued[0].Key != "capi:push:K1" || p.Queued[0].State != "ready" {
		t.Fatalf("customer API trail: %+v", p)
	}
}
