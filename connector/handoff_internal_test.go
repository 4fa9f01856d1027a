package connector

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/queue"
)

// TestHandedPayloadIsTheDecodedOne: what a scan hands its deliveries
// undecoded (an upsert's payload) is exactly what decoding the queued JSON
// gives, for every valid record of the generator on both platforms, so a
// delivery does the same whichever way its payload came. (The other
// pushes read the ERP again; an invalid record's JSON may differ.)
func TestHandedPayloadIsTheDecodedOne(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	recs := erpgen.New(erpgen.Options{Seed: 11, InvalidEvery: 5}).Records(300)
	if err := sqlerp.InsertDemoRecords(ctx, iw.tab.DB(), iw.tab.Dialect(), sqlerp.DemoTable, recs, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	page, err := iw.tab.Changes(ctx, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, s := range iw.c.sites {
		for _, it := range page.Items {
			p, err := classify(s, it)
			if err != nil {
				t.Fatal(err)
			}
			p.Run = 7
			j, err := s.pushJob(p, queue.LaneLive)
			if err != nil {
				t.Fatal(err)
			}
			jobs := []queue.Job{j}
			stampRun(withRun(ctx, 7), jobs)
			ops[p.Op]++
			if p.Op != opUpsert {
				continue
			}
			var decoded pushPayload
			if err := json.Unmarshal(jobs[0].Payload, &decoded); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(decoded, p) {
				t.Fatalf("%s %s: the queued JSON decodes to\n%+v\nthe scan holds\n%+v", s.name, it.Key, decoded, p)
			}
		}
	}
	if ops[opUpsert] == 0 || ops[opInvalid] == 0 {
		t.Fatalf("the records did not cover upserts and invalid records: %v", ops)
	}
}

// TestHandoffHandsOnlyTheQueuedBytes: a payload is handed once, and only
// to a job carrying the bytes queued; a job queued again for the key (a
// newer payload) or by an earlier process is decoded.
func TestHandoffHandsOnlyTheQueuedBytes(t *testing.T) {
	var h handoff
	a := queue.Job{Key: "one:push:A", Payload: []byte(`{"run":1,"op":"upsert"}`)}
	b := queue.Job{Key: "one:push:B", Payload: []byte(`{"op":"upsert"}`)}
	c := queue.Job{Key: "one:push:C", Payload: []byte(`{"op":"invalid"}`)}
	h.keep([]queue.Job{a, b, c}, []pushPayload{{Run: 1, Op: opUpsert, Hash: "a"}, {Op: opUpsert, Hash: "b"}, {Op: opInvalid}})
	if _, ok := h.take(c); ok {
		t.Fatal("an invalid record's payload handed (it is read again)")
	}
	if p, ok := h.take(a); !ok || p.Hash != "a" {
		t.Fatalf("take(A) = %+v, %v", p, ok)
	}
	if _, ok := h.take(a); ok {
		t.Fatal("A handed twice")
	}
	newer := queue.Job{Key: b.Key, Payload: []byte(`{"op":"unflag"}`)}
	if _, ok := h.take(newer); ok {
		t.Fatal("B's payload handed to a job with other bytes")
	}
	if _, ok := h.take(b); ok {
		t.Fatal("B handed after a mismatch forgot it")
	}
	// The bound: past it the kept payloads start again.
	many := make([]queue.Job, maxHandoff)
	ps := make([]pushPayload, maxHandoff)
	for i := range ps {
		ps[i].Op = opUpsert
	}
	for i := range many {
		many[i] = queue.Job{Key: string(rune('a'+i%26)) + string(rune(i)), Payload: []byte("{}")}
	}
	h.keep(many, ps)
	h.keep([]queue.Job{a}, []pushPayload{{Op: opUpsert, Hash: "a"}})
	if len(h.m) != 1 {
		t.Fatalf("%d payloads kept past the bound", len(h.m))
	}
}
