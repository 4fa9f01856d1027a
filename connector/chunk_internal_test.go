package connector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
	bolt "go.etcd.io/bbolt"
)

// putRecords puts n generated customers (each with its own owner e-mail
// and name) into the ERP; edit, when set, changes each first.
func (iw *internalWorld) putRecords(t *testing.T, seed uint64, n int, edit ...func(*erpgen.Record)) []erpgen.Record {
	t.Helper()
	recs := erpgen.New(erpgen.Options{Seed: seed}).Records(n)
	for i := range recs {
		for _, e := range edit {
			e(&recs[i])
		}
		k := strings.ToLower(recs[i].Key)
		recs[i].Key = recs[i].Key + "-" + string(rune('a'+seed))
		recs[i].Set("admin_email", k+"-"+string(rune('a'+seed))+"@owners.example.co.uk")
		recs[i].Set("name", recs[i].Value("name")+" "+recs[i].Key)
	}
	if err := sqlerp.InsertDemoRecords(context.Background(), iw.tab.DB(), iw.tab.Dialect(), sqlerp.DemoTable, recs, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	return recs
}

// creates counts, per site, the records of the ERP's flagged rows that
// the new-customer scan would create.
func (iw *internalWorld) creates(t *testing.T, keys map[string]bool) map[*site][]string {
	t.Helper()
	page, err := iw.tab.Changes(context.Background(), "", 5000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[*site][]string{}
	for _, s := range iw.c.sites {
		for _, it := range page.Items {
			if !keys[it.Key] {
				continue
			}
			if p, err := classify(s, it); err == nil && p.Op == opUpsert {
				out[s] = append(out[s], it.Key)
			}
		}
	}
	return out
}

func keySet(recs []erpgen.Record) map[string]bool {
	m := map[string]bool{}
	for _, r := range recs {
		m[r.Key] = true
	}
	return m
}

// TestNewCustomersGoInChunks, on both platforms: the new-customer scan
// queues a page's new customers in chunk jobs of up to maxChunk (no push
// job of their own); a job queued later for a member's key takes it out of
// its chunk, so the chunk never sends the copy it carries (here: a row
// deleted after the scan is not created); every other member is created
// exactly once and bound, with nothing left in the queue.
func TestNewCustomersGoInChunks(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	want := iw.queueNew(t, 1, 160)
	st, err := c.store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var members int
	if err := c.state.View(ctx, func(tx *state.Tx) error { members = tx.ChunkMembers(); return nil }); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range c.sites {
		n := len(want[s])
		if n <= maxChunk {
			t.Fatalf("%s: only %d creates generated", s.name, n)
		}
		total += n
		if got, wantChunks := st.ByType[s.chunkType()].Total(), (n+maxChunk-1)/maxChunk; got != wantChunks {
			t.Errorf("%s: %d chunk jobs for %d new customers, want %d (%+v)", s.name, got, n, wantChunks, st.ByType)
		}
	}
	if members != total {
		t.Fatalf("%d chunk members, want %d", members, total)
	}
	// The trail of a member names the chunk job that carries it.
	tr, err := c.Trace(ctx, want[c.sites[0]][0])
	if err != nil {
		t.Fatal(err)
	}
	if q := tr.Platforms[0].Queued; len(q) != 1 || q[0].Type != c.sites[0].chunkType() || q[0].State != "ready" {
		t.Fatalf("trail of a chunk member: queued %+v", q)
	}

	// A row deleted after the scan, with a job of its own queued for it on
	// every platform: the chunks must not create it.
	gone := want[c.sites[0]][3]
	if _, err := iw.tab.DB().ExecContext(ctx, "DELETE FROM "+sqlerp.DemoTable+" WHERE erp_key = ?", gone); err != nil {
		t.Fatal(err)
	}
	if err := c.state.Update(ctx, func(tx *state.Tx) error {
		for _, s := range c.sites {
			j, err := s.pushJob(pushPayload{Op: opReread, Customer: mapping.Customer{ERPKey: gone}}, queue.LaneLive)
			if err != nil {
				return err
			}
			if err := tx.Enqueue(j); err != nil {
				return err
			}
			if tx.ChunkOf(s.pushKey(gone)) != "" {
				t.Errorf("%s: %s is still a chunk member after a job of its own was queued", s.name, gone)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A member whose payload in the state file is unreadable is read
	// from the ERP again and created all the same.
	broken := want[c.sites[0]][5]
	if err := c.state.Update(ctx, func(tx *state.Tx) error {
		mk := c.sites[0].pushKey(broken)
		return tx.PutChunkMember(mk, tx.ChunkOf(mk), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	c.handoff = handoff{} // as after a restart: every payload is read from the file

	iw.settle(t, func(context.Context) error { return c.Start(ctx) })
	for _, s := range c.sites {
		for _, k := range want[s] {
			b, bound, err := c.binding(ctx, s, k)
			switch {
			case err != nil:
				t.Fatal(err)
			case k == gone && bound:
				t.Errorf("%s: the deleted row %s was created as %s from its chunk's copy", s.name, k, b.ID)
			case k != gone && !bound:
				t.Errorf("%s: %s was not created", s.name, k)
			}
		}
	}
	iw.noneLeft(t)
	if n := iw.one.Faults().Counts()["createClient"].Total; n != int64(len(want[c.site("one")])-1) {
		t.Errorf("ONe saw %d creates, want %d (each new customer once)", n, len(want[c.site("one")])-1)
	}
}

// TestChunkMemberFailuresGoOnAlone, on both platforms: a member the
// platform refuses gets a dead letter of its own with the platform's
// answer while the others are created; after a failure the breaker
// counts (a 500), the failed member and the rest go on in push jobs of
// their own and are all created.
func TestChunkMemberFailuresGoOnAlone(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for round, status := range []int{422, 500} {
		for _, s := range c.sites {
			if _, err := iw.faults(s).Add(fault.Rule{Operation: createOp(s), Status: status, Count: 1}); err != nil {
				t.Fatal(err)
			}
		}
		recs := iw.putRecords(t, uint64(2+round), 70)
		want := iw.creates(t, keySet(recs))
		iw.settle(t, c.SyncOnce)
		dead, _, err := c.store.DeadLetters(ctx, queue.DeadFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.sites {
			var mine []queue.Job
			for _, d := range dead {
				if d.Type == s.pushType() && keySet(recs)[strings.TrimPrefix(d.Key, s.prefix+":push:")] {
					mine = append(mine, d)
				}
			}
			created := 0
			for _, k := range want[s] {
				if _, bound, err := c.binding(ctx, s, k); err != nil {
					t.Fatal(err)
				} else if bound {
					created++
				}
			}
			switch status {
			case 422:
				if len(mine) != 1 || !strings.Contains(mine[0].LastError, "status 422") || created != len(want[s])-1 {
					t.Errorf("%s, one create refused: %d of %d created, dead letters %+v", s.name, created, len(want[s]), mine)
				}
			case 500:
				if len(mine) != 0 || created != len(want[s]) {
					t.Errorf("%s, one create failed with 500: %d of %d created, dead letters %+v", s.name, created, len(want[s]), mine)
				}
			}
		}
		iw.noneLeft(t)
	}
}

// faults is the fault injector of a site's reference server.
func (iw *internalWorld) faults(s *site) *fault.Injector {
	if s.name == mapping.PlatformONe {
		return iw.one.Faults()
	}
	return iw.capi.Faults()
}

// createOp is the operation that creates a record on a site's platform.
func createOp(s *site) string {
	if s.name == mapping.PlatformONe {
		return "createClient"
	}
	return "createOrganisation"
}

// slowCreates makes every platform take d to answer a create.
func (iw *internalWorld) slowCreates(t *testing.T, d time.Duration) {
	t.Helper()
	for _, s := range iw.c.sites {
		if _, err := iw.faults(s).Add(fault.Rule{Operation: createOp(s), Latency: fault.Duration(d)}); err != nil {
			t.Fatal(err)
		}
	}
}

// queueNew puts n generated customers into the ERP and runs the
// new-customer scan (the pools do not run yet); it returns, per site, the
// customers the scan queued to be created.
func (iw *internalWorld) queueNew(t *testing.T, seed uint64, n int) map[*site][]string {
	t.Helper()
	want := iw.creates(t, keySet(iw.putRecords(t, seed, n)))
	if _, err := iw.c.scanERP(context.Background(), scanNew); err != nil {
		t.Fatal(err)
	}
	return want
}

// noneLeft fails the test when the queue holds a job or a chunk member.
func (iw *internalWorld) noneLeft(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	held, err := iw.c.held(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("the queue holds %d jobs and chunk members after the deliveries", held)
	}
}

// TestChunkSize: chunks of maxChunk, fewer when the upstream's rate per
// worker would make a chunk's requests outlast a quarter of the lease,
// none (1) when not even two fit.
func TestChunkSize(t *testing.T) {
	for _, tc := range []struct {
		u     Upstream
		lease time.Duration
		want  int
	}{
		{Upstream{Workers: 4}, 2 * time.Minute, maxChunk},            // no rate limit
		{Upstream{Rate: 200, Workers: 4}, 2 * time.Minute, maxChunk}, // 50/s a worker
		{Upstream{Rate: 4, Workers: 4}, 2 * time.Minute, 10},         // 1/s a worker: 30 s for 10 creates of 3 requests
		{Upstream{Rate: 1, Workers: 8}, 2 * time.Minute, 1},          // not even one create in 30 s
		{Upstream{Rate: 10, Workers: 1}, 12 * time.Second, 10},       // 3 s: 30 requests
		{Upstream{Rate: 10, Workers: 1}, 2 * time.Second, 1},         // 0.5 s: 5 requests
	} {
		if got := chunkSize(tc.u, tc.lease); got != tc.want {
			t.Errorf("chunkSize(%+v, %s) = %d, want %d", tc.u, tc.lease, got, tc.want)
		}
	}
}

// TestChunkGivesTheRestBackOnStop, on both platforms: a stop does not wait
// for a chunk to finish; its delivery ends between two members, so every
// record the platform created is bound, the rest stay members of their
// chunk for the next start, and nothing is dead-lettered. (Each customer
// is flagged for one platform: a chunk holds its members' locks until it
// settles, so the other platform's chunk of the same customers would
// start only after it.)
func TestChunkGivesTheRestBackOnStop(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	iw.slowCreates(t, 100*time.Millisecond)
	odd := false
	recs := iw.putRecords(t, 4, 200, func(r *erpgen.Record) {
		if r.SyncONe && r.SyncCustomerAPI {
			odd = !odd
			r.SyncONe, r.SyncCustomerAPI = odd, !odd
		}
	})
	want := iw.creates(t, keySet(recs))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.sites {
		for iw.faults(s).Counts()[createOp(s)].Total == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	// The state file as the next start finds it.
	q, err := queue.Open(c.cfg.StatePath, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	qs, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.sites {
		if qs.ByType[s.chunkType()].Total() == 0 {
			t.Errorf("%s: no chunk job left for the next start: %+v", s.name, qs.ByType)
		}
	}
	sf, err := state.Open(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	var members int
	bound := map[mapping.Platform]int{}
	if err := sf.View(ctx, func(tx *state.Tx) error {
		members = tx.ChunkMembers()
		for _, s := range c.sites {
			for _, k := range want[s] {
				if _, ok, err := tx.Binding(s.name, k); err != nil {
					return err
				} else if ok {
					bound[s.name]++
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range c.sites {
		bound := bound[s.name]
		total += len(want[s]) - bound
		created := iw.faults(s).Counts()[createOp(s)].Total
		if int64(bound) != created || bound == len(want[s]) {
			t.Errorf("%s: %d records created, %d bound, of %d: want every created record bound and some left", s.name, created, bound, len(want[s]))
		}
	}
	if members != total {
		t.Errorf("%d chunk members left, want the %d records not created", members, total)
	}
	if dead, _, err := q.DeadLetters(ctx, queue.DeadFilter{Limit: 10}); err != nil || len(dead) != 0 {
		for _, d := range dead {
			t.Errorf("dead letter after the stop: %s: %s", d.Key, d.LastError)
		}
		t.Errorf("dead letters after the stop: %v %d", err, len(dead))
	}
}

// TestKeyLockGivesUpWithTheContext: a wait for a key's lock ends with the
// context's error when the context ends first, and leaves nothing behind;
// the lock is taken once it is free.
func TestKeyLockGivesUpWithTheContext(t *testing.T) {
	var l keyLocks
	unlock := l.lock("K1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lockCtx(ctx, "K1"); err == nil {
		t.Fatal("a held key was locked again")
	}
	got := make(chan func(), 1)
	go func() {
		u, err := l.lockCtx(context.Background(), "K1")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	unlock()
	(<-got)()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) != 0 {
		t.Fatalf("locks left behind: %v", l.m)
	}
}

// TestSlowChunkHandsTheRestOver, on both platforms: when a chunk's members
// go slowly (here 40 ms a create against a lease of 600 ms), no member
// starts after the first quarter of the lease; the rest go on in push jobs
// of their own, and every customer is created exactly once.
func TestSlowChunkHandsTheRestOver(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t, func(c *Config) { c.Queue.LeaseTimeout = 600 * time.Millisecond })
	c := iw.c
	iw.slowCreates(t, 40*time.Millisecond)
	want := iw.queueNew(t, 5, 120)
	var chunkJobs int
	st, err := c.store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.sites {
		chunkJobs += st.ByType[s.chunkType()].Total()
	}
	if chunkJobs == 0 {
		t.Fatal("no chunk jobs queued")
	}
	iw.settle(t, func(context.Context) error { return c.Start(ctx) })
	for _, s := range c.sites {
		for _, k := range want[s] {
			if _, bound, err := c.binding(ctx, s, k); err != nil || !bound {
				t.Errorf("%s: %s not created (%v)", s.name, k, err)
			}
		}
		if n := iw.faults(s).Counts()[createOp(s)].Total; n != int64(len(want[s])) {
			t.Errorf("%s: %d creates for %d new customers", s.name, n, len(want[s]))
		}
	}
	// The hand-overs were push jobs of their own: job ids past the chunks'.
	var last uint64
	if err := c.store.View(ctx, func(tx *bolt.Tx) error {
		last = tx.Bucket([]byte("queue.jobs")).Sequence()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if last <= uint64(chunkJobs) {
		t.Errorf("job sequence %d: no member went on in a job of its own after %d chunk jobs", last, chunkJobs)
	}
	iw.noneLeft(t)
}

// TestStartedChunkLooksFirst, on both platforms: a chunk found marked
// started (its process died mid-chunk) looks for each member's record
// before creating it, so the record that attempt created is adopted, with
// no create refused as a duplicate; the other members are created once.
func TestStartedChunkLooksFirst(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	c := iw.c
	want := iw.queueNew(t, 6, 120)
	// What the dead process did: marked a chunk started and created its
	// first member, whose binding never committed.
	created := map[mapping.Platform]string{}
	for _, s := range c.sites {
		k := want[s][0]
		created[s.name] = iw.createOnPlatform(t, s, k)
		if err := c.state.Update(ctx, func(tx *state.Tx) error {
			chunk := tx.ChunkOf(s.pushKey(k))
			if chunk == "" {
				t.Fatalf("%s: %s is in no chunk", s.name, k)
			}
			return tx.MarkChunkStarted(chunk)
		}); err != nil {
			t.Fatal(err)
		}
	}
	iw.settle(t, func(context.Context) error { return c.Start(ctx) })
	for _, s := range c.sites {
		b, bound, err := c.binding(ctx, s, want[s][0])
		if err != nil || !bound || b.ID != created[s.name] {
			t.Errorf("%s: %s bound to %q (%v), want the record the dead attempt created, %s", s.name, want[s][0], b.ID, err, created[s.name])
		}
		counts := iw.faults(s).Counts()[createOp(s)]
		if counts.ByStatus[409] != 0 || counts.Total != int64(len(want[s])) {
			t.Errorf("%s: %d creates (%d refused as duplicates) for %d customers, one created before", s.name, counts.Total, counts.ByStatus[409], len(want[s]))
		}
	}
	iw.noneLeft(t)
}

// createOnPlatform creates the platform record of ERP customer k on s's
// platform, behind the connector's back (as an attempt that died before
// its binding committed did); it returns the record's id.
func (iw *internalWorld) createOnPlatform(t *testing.T, s *site, k string) string {
	t.Helper()
	ctx := context.Background()
	it, err := iw.tab.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	cust := it.Customer
	cust.ERPKey = k
	wr, err := s.p.Create(ctx, cust, "")
	if err != nil {
		t.Fatal(err)
	}
	return wr.Ref.ID
}

// restart stops the connector and opens a new one on the same state file
// and ERP, as a process started after the first one ended.
func (iw *internalWorld) restart(t *testing.T) {
	t.Helper()
	if err := iw.c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: iw.conf, ERP: iw.tab})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	iw.c = c
}

// TestAbandonedCreateLooksFirst: a push job a dead process held (on every
// platform) may have created its record and died before the binding
// committed; the process after it finds and binds that record instead of
// sending a second create, which a platform that does not refuse
// duplicates would accept.
func TestAbandonedCreateLooksFirst(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t)
	// One new customer, for every platform: a push job of its own on each.
	picked := false
	recs := iw.putRecords(t, 7, 40, func(r *erpgen.Record) {
		both := r.SyncONe && r.SyncCustomerAPI && !r.InvalidFor(mapping.PlatformONe) && !r.InvalidFor(mapping.PlatformCustomerAPI)
		if picked || !both {
			r.SyncONe, r.SyncCustomerAPI = false, false
		}
		picked = picked || both
	})
	want := iw.creates(t, keySet(recs))
	if _, err := iw.c.scanERP(ctx, scanNew); err != nil {
		t.Fatal(err)
	}
	created := map[mapping.Platform]string{}
	keys := map[mapping.Platform]string{}
	for _, s := range iw.c.sites {
		if len(want[s]) != 1 {
			t.Fatalf("%s: %d customers to create, want 1", s.name, len(want[s]))
		}
		k := want[s][0]
		jobs, err := iw.c.store.Lease(ctx, 1, s.pushType())
		if err != nil || len(jobs) != 1 || jobs[0].Key != s.pushKey(k) {
			t.Fatalf("%s: leased %v (%v), want the push job of %s", s.name, jobs, err, k)
		}
		// What the dead process's attempt did before it died.
		created[s.name], keys[s.name] = iw.createOnPlatform(t, s, k), k
		// The first look-up after the restart fails: the attempt after it
		// must still look, not create.
		if _, err := iw.faults(s).Add(fault.Rule{Operation: lookupOp(s), Status: 503, Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	iw.restart(t)
	iw.settle(t, func(context.Context) error { return iw.c.Start(ctx) })
	for _, s := range iw.c.sites {
		b, bound, err := iw.c.binding(ctx, s, keys[s.name])
		if err != nil || !bound || b.ID != created[s.name] {
			t.Errorf("%s: %s bound to %q (%v), want the record the dead attempt created, %s", s.name, keys[s.name], b.ID, err, created[s.name])
		}
		counts := iw.faults(s).Counts()[createOp(s)]
		if counts.ByStatus[409] != 0 || counts.Total != 1 {
			t.Errorf("%s: %d creates (%d refused as duplicates), want only the dead attempt's", s.name, counts.Total, counts.ByStatus[409])
		}
		if looks := iw.faults(s).Counts()[lookupOp(s)]; looks.ByStatus[503] != 1 {
			t.Errorf("%s: %d look-ups failed, want the one the fault failed", s.name, looks.ByStatus[503])
		}
	}
	iw.noneLeft(t)
}

// lookupOp is the operation a site's look-up for a record it may have
// created reads.
func lookupOp(s *site) string {
	if s.name == mapping.PlatformONe {
		return "listClients"
	}
	return "listOrganisations"
}

// TestUnstartedChunkCreatesAsItIs: the members of chunks a dead process
// had leased but never started are created as they are, also those that
// go on in jobs of their own (a slow chunk hands the rest over): none of
// them looks for a record first, on any platform.
func TestUnstartedChunkCreatesAsItIs(t *testing.T) {
	ctx := context.Background()
	iw := newInternalWorld(t, func(c *Config) { c.Queue.LeaseTimeout = 600 * time.Millisecond })
	want := map[mapping.Platform][]string{}
	for s, keys := range iw.queueNew(t, 8, 120) {
		want[s.name] = keys
	}
	for _, s := range iw.c.sites {
		jobs, err := iw.c.store.Lease(ctx, 100, s.chunkType())
		if err != nil || len(jobs) == 0 {
			t.Fatalf("%s: leased %d chunk jobs (%v)", s.name, len(jobs), err)
		}
	}
	iw.restart(t)
	iw.slowCreates(t, 40*time.Millisecond)
	iw.settle(t, func(context.Context) error { return iw.c.Start(ctx) })
	for _, s := range iw.c.sites {
		for _, k := range want[s.name] {
			if _, bound, err := iw.c.binding(ctx, s, k); err != nil || !bound {
				t.Errorf("%s: %s not created (%v)", s.name, k, err)
			}
		}
		counts := iw.faults(s).Counts()
		if n := counts[createOp(s)].Total; n != int64(len(want[s.name])) {
			t.Errorf("%s: %d creates for %d new customers", s.name, n, len(want[s.name]))
		}
		if n := counts[lookupOp(s)].Total; n != 0 {
			t.Errorf("%s: %d look-ups, want none: nothing of these customers was sent before", s.name, n)
		}
	}
	iw.noneLeft(t)
}
