package oneapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

var storefrontContexts = []oneapi.Context{oneapi.ContextApplication, oneapi.ContextBackoffice, oneapi.ContextInternal}

func drain(t *testing.T, api *oneapi.API, start int64, contexts []oneapi.Context) ([]oneapi.SyncEvent, []int, int64) {
	t.Helper()
	var events []oneapi.SyncEvent
	var sizes []int
	next := start
	for b, err := range api.Feed(context.Background(), start, contexts) {
		if err != nil {
			t.Fatal(err)
		}
		if b.StartID != next {
			t.Fatalf("batch read from %d, want the previous nextId %d", b.StartID, next)
		}
		events = append(events, b.Events...)
		sizes = append(sizes, len(b.Events))
		next = b.NextID
	}
	return events, sizes, next
}

func TestFeedOrderAndContexts(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()

	// API writes are INTEGRATIONS; storefront and back office via the control surface.
	c1, err := e.api.CreateClient(ctx, company("F1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.api.UpdateClient(ctx, c1.ClientID, company("F1")); err != nil {
		t.Fatal(err)
	}
	sf := company("")
	sf.ExternalID = "" // a storefront registration has no ERP key
	c2, err := e.srv.StorefrontCreate(tenantA, oneapi.ContextApplication, sf)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.StorefrontUpdate(tenantA, oneapi.ContextBackoffice, c2.ClientID, sf); err != nil {
		t.Fatal(err)
	}
	if err := e.api.DeleteClient(ctx, c1.ClientID); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.StorefrontDelete(tenantA, oneapi.ContextBackoffice, c2.ClientID); err != nil {
		t.Fatal(err)
	}

	all, _, next := drain(t, e.api, 1, nil)
	want := []oneapi.SyncEvent{
		{ClientID: c1.ClientID, Type: oneapi.EventCreate}, {ClientID: c1.ClientID, Type: oneapi.EventUpdate},
		{ClientID: c2.ClientID, Type: oneapi.EventCreate}, {ClientID: c2.ClientID, Type: oneapi.EventUpdate},
		{ClientID: c1.ClientID, Type: oneapi.EventDelete}, {ClientID: c2.ClientID, Type: oneapi.EventDelete},
	}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("all contexts:\n got %v\nwant %v", all, want)
	}
	if next != 7 {
		t.Fatalf("nextId after 6 events = %d, want 7", next)
	}

	// The connector's default leaves INTEGRATIONS out: only storefront/back office changes.
	own, _, next := drain(t, e.api, 1, storefrontContexts)
	if fmt.Sprint(own) != fmt.Sprint([]oneapi.SyncEvent{want[2], want[3], want[5]}) {
		t.Fatalf("without INTEGRATIONS: %v", own)
	}
	if next != 7 {
		t.Fatalf("nextId must pass the skipped events: %d", next)
	}
	only, _, _ := drain(t, e.api, 1, []oneapi.Context{oneapi.ContextIntegrations})
	if fmt.Sprint(only) != fmt.Sprint([]oneapi.SyncEvent{want[0], want[1], want[4]}) {
		t.Fatalf("INTEGRATIONS only: %v", only)
	}

	// startId is inclusive.
	f, err := e.api.SyncFeed(ctx, 5, nil)
	if err != nil || len(f.Events) != 2 || f.Events[0] != want[4] || f.NextID != 7 {
		t.Fatalf("from 5: %+v %v", f, err)
	}
	// An empty page returns the current position; a cursor past the end stays.
	f, _ = e.api.SyncFeed(ctx, 7, nil)
	if len(f.Events) != 0 || f.NextID != 7 {
		t.Fatalf("at the end: %+v", f)
	}
	f, _ = e.api.SyncFeed(ctx, 50, nil)
	if len(f.Events) != 0 || f.NextID != 50 {
		t.Fatalf("past the end: %+v", f)
	}
	e.noProblems(t)
}

func TestFeedContextEncodings(t *testing.T) {
	e := newEnv(t, false)
	sf := company("S1")
	if _, err := e.srv.StorefrontCreate(tenantA, oneapi.ContextApplication, sf); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.CreateClient(context.Background(), company("S2")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		want  int
		code  int
	}{
		{"contexts=APPLICATION", 1, 200},
		{"contexts=APP", 1, 200},                               // legacy alias
		{"contexts=INTEGRATION", 1, 200},                       // legacy alias
		{"contexts=APPLICATION,INTEGRATIONS", 2, 200},          // comma list
		{"contexts=APPLICATION&contexts=INTEGRATIONS", 2, 200}, // repeated
		{"contexts=BACKOFFICE", 0, 200},
		{"", 2, 200},
		{"contexts=NOPE", 0, 400},
		{"startId=-1", 0, 400},
		{"startId=abc", 0, 400},
	}
	for _, c := range cases {
		st, _, body := e.raw(t, http.MethodGet, oneapitest.BasePath+"/clients/synchronization?"+c.query, "", nil)
		if st != c.code {
			t.Errorf("%s: status %d, want %d (%s)", c.query, st, c.code, body)
			continue
		}
		if st != 200 {
			continue
		}
		var f oneapi.SyncFeed
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Events) != c.want {
			t.Errorf("%s: %d events, want %d", c.query, len(f.Events), c.want)
		}
	}
	e.noProblems(t)
}

func TestFeedPagesPast100(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	for i := range 250 {
		if _, err := e.api.CreateClient(ctx, company(fmt.Sprintf("P%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	events, sizes, next := drain(t, e.api, 1, nil)
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("batch sizes %v", sizes)
	}
	if len(events) != 250 || next != 251 {
		t.Fatalf("%d events, next %d", len(events), next)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Type != oneapi.EventCreate || seen[ev.ClientID] {
			t.Fatalf("unexpected event %v", ev)
		}
		seen[ev.ClientID] = true
	}
	// Exactly 100 remaining: the reader asks once more and gets an empty page.
	_, sizes, next = drain(t, e.api, 151, nil)
	if fmt.Sprint(sizes) != "[100 0]" || next != 251 {
		t.Fatalf("from 151: sizes %v next %d", sizes, next)
	}
	e.noProblems(t)
}

func TestFeedDuplicateAndReorderFaults(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	var ids []string
	for i := range 10 {
		c, err := e.api.CreateClient(ctx, company(fmt.Sprintf("D%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ClientID)
	}
	rid, _ := e.srv.Faults().Add(fault.Rule{Operation: "getClientSyncFeed", Duplicate: true, Reorder: true, Count: 1})
	defer e.srv.Faults().Remove(rid)
	f, err := e.api.SyncFeed(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) != 20 || f.NextID != 11 {
		t.Fatalf("duplicated page: %d events next %d", len(f.Events), f.NextID)
	}
	count := map[string]int{}
	inOrder := true
	for i, ev := range f.Events {
		count[ev.ClientID]++
		if i%2 == 0 && ev.ClientID != ids[i/2] {
			inOrder = false
		}
	}
	for _, id := range ids {
		if count[id] != 2 {
			t.Fatalf("client %s appears %d times", id, count[id])
		}
	}
	if inOrder {
		t.Fatal("reorder fault left the events in order")
	}
}

func TestControlSurfaceHTTP(t *testing.T) {
	e := newEnv(t, false)
	body := `{"customerType":"INDIVIDUAL","name":"Anna Nowak","address":{"city":"Gdańsk","country":"Polska","externalId":"a1","name":"Dom","phone":"500","street":"Morska 1","zipCode":"80-001"}}`
	req, _ := http.NewRequest(http.MethodPost, e.hs.URL+oneapitest.ControlPrefix+"/tenants/"+tenantA+"/clients?context=BACKOFFICE", stringsReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created oneapi.CreateClientResponse
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != 200 || created.ClientID[:4] != "ind:" {
		t.Fatalf("control create: %d %+v", resp.StatusCode, created)
	}
	f, err := e.api.SyncFeed(context.Background(), 1, []oneapi.Context{oneapi.ContextBackoffice})
	if err != nil || len(f.Events) != 1 || f.Events[0].ClientID != created.ClientID {
		t.Fatalf("back-office event: %+v %v", f, err)
	}
	// A wrong context for the control surface is refused.
	req, _ = http.NewRequest(http.MethodDelete, e.hs.URL+oneapitest.ControlPrefix+"/tenants/"+tenantA+"/clients/"+url.PathEscape(created.ClientID)+"?context=INTEGRATIONS", nil)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("control delete as INTEGRATIONS: %d", resp.StatusCode)
	}
	// Counters count API calls per operation; control calls are not counted.
	resp, _ = http.Get(e.hs.URL + oneapitest.ControlPrefix + "/counters")
	var counts map[string]fault.OpCount
	_ = json.NewDecoder(resp.Body).Decode(&counts)
	resp.Body.Close()
	if counts["getClientSyncFeed"].Total != 1 || counts["getClientSyncFeed"].ByStatus[200] != 1 || len(counts) != 1 {
		t.Fatalf("counters %+v", counts)
	}
	// Faults over HTTP.
	resp, _ = http.Post(e.hs.URL+oneapitest.ControlPrefix+"/faults", "application/json", stringsReader(`{"operation":"listClients","status":500,"count":1}`))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("add fault: %d", resp.StatusCode)
	}
	if _, err := e.api.ListClients(context.Background(), 1, 10); err == nil {
		t.Fatal("fault added over HTTP did not fire")
	}
	resp, _ = http.Post(e.hs.URL+oneapitest.ControlPrefix+"/faults", "application/json", stringsReader(`{"probability":2}`))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("invalid fault accepted: %d", resp.StatusCode)
	}
	// Reset forgets clients and counters.
	resp, _ = http.Post(e.hs.URL+oneapitest.ControlPrefix+"/reset", "", nil)
	resp.Body.Close()
	if n := e.srv.ClientCount(tenantA); n != 0 {
		t.Fatalf("after reset %d clients", n)
	}
	if len(e.srv.Faults().Counts()) != 0 {
		t.Fatal("counters survived reset")
	}
}
